package store

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/secret"
)

// State is an incident's lifecycle state.
type State string

const (
	Open   State = "open"
	Closed State = "closed"
)

// IdentityRef names a principal in one system. Zero means not yet known.
type IdentityRef struct {
	System string `json:"system"`
	Name   string `json:"name"`
}

// IsZero reports whether the identity is unknown.
func (r IdentityRef) IsZero() bool { return r.System == "" && r.Name == "" }

// Incident is the response to one leaked secret.
type Incident struct {
	// ID is short, typable and sorts by creation day: INC-20261126-3f9a.
	ID          string             `json:"id"`
	Fingerprint secret.Fingerprint `json:"fingerprint"`
	Preview     string             `json:"preview"`
	// Kind is what the secret is (the detection rule or provider that
	// recognised it: "postgres-dsn", "github-pat"), empty when unknown.
	Kind     string     `json:"kind"`
	State    State      `json:"state"`
	Created  time.Time  `json:"created"`
	ClosedAt *time.Time `json:"closed_at,omitempty"`
	// LeakedAt is when the secret was first exposed, when known.
	LeakedAt *time.Time `json:"leaked_at,omitempty"`
	// Inventory is the path of the inventory file the incident was opened with.
	Inventory string      `json:"inventory"`
	Identity  IdentityRef `json:"identity"`
	Notes     string      `json:"notes,omitempty"`
}

// Occurrence is one copy of the secret at one place, as scan and trace
// report it (see scan.Finding; the field names follow its JSON shape).
type Occurrence struct {
	IncidentID  string             `json:"incident"`
	Fingerprint secret.Fingerprint `json:"fingerprint"`
	Preview     string             `json:"preview"`
	Rule        string             `json:"rule"`
	Provider    string             `json:"provider"`
	Severity    string             `json:"severity"`
	Path        string             `json:"path"`
	Line        int                `json:"line"`
	Column      int                `json:"column"`
	Commit      string             `json:"commit"`
	AtHead      bool               `json:"at_head"`
	Class       string             `json:"location_class"`
	Encoding    string             `json:"encoding"`
	Ref         string             `json:"ref"`
	Match       string             `json:"match,omitempty"`
	FirstSeen   time.Time          `json:"first_seen"`
	LastSeen    time.Time          `json:"last_seen"`
}

// Identity is a principal the secret authenticates as, and what
// inspecting it found. Inspected is false when inspection was not done or
// failed (InspectError says why); the other findings are then empty.
type Identity struct {
	IncidentID   string     `json:"incident"`
	System       string     `json:"system"`
	Name         string     `json:"name"`
	Method       string     `json:"method,omitempty"` // how the match was proven: "scram-sha-256"…
	Inspected    bool       `json:"inspected"`
	InspectError string     `json:"inspect_error,omitempty"`
	InspectedAt  *time.Time `json:"inspected_at,omitempty"`
	Exists       bool       `json:"exists"`
	CanLogin     bool       `json:"can_login"`
	ValidUntil   *time.Time `json:"valid_until,omitempty"`
	// Flags: "shared", "third-party", "long-lived", "over-privileged", "agent".
	Flags      []string    `json:"flags"`
	Privileges []Privilege `json:"privileges"`
	Sessions   []Session   `json:"sessions"`
	Related    []Related   `json:"related"`
}

// Privilege is one thing an identity may do.
type Privilege struct {
	IncidentID         string `json:"-"`
	System             string `json:"-"`
	Identity           string `json:"-"`
	Name               string `json:"name"`
	Risk               string `json:"risk"` // critical | high | medium | low
	Via                string `json:"via,omitempty"`
	CreatesCredentials bool   `json:"creates_credentials,omitempty"`
}

// Session is a connection that was open under an identity when inspected.
type Session struct {
	IncidentID  string    `json:"-"`
	System      string    `json:"-"`
	Identity    string    `json:"-"`
	ID          string    `json:"id"`
	Client      string    `json:"client"`
	Application string    `json:"application,omitempty"`
	Started     time.Time `json:"started"`
	Database    string    `json:"database,omitempty"`
}

// Related is something tied to an identity that survives rotating its
// secret: a role it granted, an object it owns, another key.
type Related struct {
	IncidentID string `json:"-"`
	System     string `json:"-"`
	Identity   string `json:"-"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Detail     string `json:"detail"`
}

// Consumer is a workload that uses the secret.
type Consumer struct {
	IncidentID string   `json:"incident"`
	Name       string   `json:"name"`
	Identity   string   `json:"identity"`
	Declared   bool     `json:"declared"` // named in the inventory
	Observed   bool     `json:"observed"` // seen in sessions or logs
	Sources    []string `json:"sources"`
	ThirdParty bool     `json:"third_party"`
}

// Event is one normalised log record of the credential being used.
type Event struct {
	IncidentID  string    `json:"incident"`
	Time        time.Time `json:"time"`
	Credential  string    `json:"credential"` // key id, role name: never the secret
	Identity    string    `json:"identity"`
	Source      string    `json:"source"` // IP or host
	UserAgent   string    `json:"user_agent,omitempty"`
	Application string    `json:"application,omitempty"`
	Action      string    `json:"action"`
	Outcome     string    `json:"outcome"`
	File        string    `json:"file"`
	Line        int       `json:"line"`
	// Detail holds format-specific facts (an error code, a derived key
	// id), as logs.Event carries them; never a secret.
	Detail map[string]string `json:"detail,omitempty"`
}

var fingerprintRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// CheckFingerprint refuses anything that is not a fingerprint as
// secret.Fingerprinter makes them (64 lowercase hex digits). It is the
// store's guard against a clear value reaching a fingerprint column.
func CheckFingerprint(op string, f secret.Fingerprint) error {
	if !fingerprintRE.MatchString(string(f)) {
		// Never echo the value: it may be the secret itself.
		return errs.New(op, errs.Invalid, "", fmt.Sprintf("not a fingerprint (%d bytes; want 64 hex digits)", len(f)))
	}
	return nil
}

var idRE = regexp.MustCompile(`^INC-[0-9]{8}-[0-9a-f]{4,16}$`)

// ValidID reports whether id has the shape NewID gives ids.
func ValidID(id string) bool { return idRE.MatchString(id) }

// NewID returns an incident id for an incident created at t:
// "INC-" + the UTC day + "-" + n random hex digits (4 ≤ n ≤ 16). Stores
// check uniqueness and draw again, longer, on a collision.
func NewID(t time.Time, n int) string {
	n = min(max(n, 4), 16)
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return "INC-" + t.UTC().Format("20060102") + "-" + hex.EncodeToString(b)[:n]
}

// InventoryCopy is the inventory an incident was opened with.
type InventoryCopy struct {
	// Path is where it was read from, as given.
	Path string `json:"path"`
	// Body is the file as read: references, never what they resolve to.
	Body  []byte    `json:"-"`
	Saved time.Time `json:"saved"`
}

// SnapshotPart is what a Snapshot reads beyond what a scope needs.
type SnapshotPart int

// WithRun adds the incident's opener and stored plan (GET
// /incidents/{id}); a scope alone does without those two queries.
const WithRun SnapshotPart = 1

// WithInventory adds the copy of the inventory kept when the incident
// was opened (GET /scope falls back to it when the file is gone).
const WithInventory SnapshotPart = 2

// Snapshot is an incident with what it recorded that its scope is
// computed from, as read at one instant (Store.Snapshot).
type Snapshot struct {
	Incident    Incident
	Occurrences []Occurrence
	Identities  []Identity
	Consumers   []Consumer
	Events      []Event
	Reviews     []Review
	// Opener is the incident's first incident.open audit entry, nil
	// without one or without WithRun.
	Opener *AuditEntry
	// Plan is the stored plan, nil before one is made or without
	// WithRun.
	Plan *Plan
	// Inventory is the kept inventory copy, nil without one or without
	// WithInventory.
	Inventory *InventoryCopy
}

// Clone returns s with its own copies of its lists and of the opener's
// and plan's structs, so that a caller who sorts or changes them does not
// change what another reader (the store's snapshot cache) holds. The
// records' own lists and bodies are shared: readers do not change them.
func (s Snapshot) Clone() Snapshot {
	s.Occurrences = slices.Clone(s.Occurrences)
	s.Identities = slices.Clone(s.Identities)
	s.Consumers = slices.Clone(s.Consumers)
	s.Events = slices.Clone(s.Events)
	s.Reviews = slices.Clone(s.Reviews)
	if s.Opener != nil {
		o := *s.Opener
		s.Opener = &o
	}
	if s.Plan != nil {
		p := *s.Plan
		s.Plan = &p
	}
	if s.Inventory != nil {
		c := *s.Inventory
		s.Inventory = &c
	}
	return s
}
