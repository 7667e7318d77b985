package store

import (
	"context"
	"encoding/json"
	"time"
)

// Responder is the part of the store that responding to an incident
// writes: the plan and its steps' states, sealed credentials, leases and
// the audit log. Every Store implements it; it is a separate interface so
// that code that only reads scope facts does not depend on it.
type Responder interface {
	// PutPlan stores the incident's plan, replacing the previous one and
	// forgetting the previous plan's step states, in one transaction.
	PutPlan(ctx context.Context, id string, p Plan) error
	// GetPlan returns the stored plan; ok is false when there is none.
	GetPlan(ctx context.Context, id string) (p Plan, ok bool, err error)
	// SetRunState records the state of the plan's run.
	SetRunState(ctx context.Context, id, state string) error

	// PutStep writes one step's state (keyed by StepID), replacing what
	// was stored for it.
	PutStep(ctx context.Context, id string, s Step) error
	// Steps returns the stored step states, ordered by step id.
	Steps(ctx context.Context, id string) ([]Step, error)

	// SealOnce stores blob under name unless something is stored there
	// already, and returns what is stored: the engine seals a generated
	// secret before using it, and after a crash gets the first one back
	// instead of making a second.
	SealOnce(ctx context.Context, id, name string, blob []byte) ([]byte, error)
	// Sealed returns the blob stored under name; ok is false when none is.
	Sealed(ctx context.Context, id, name string) (blob []byte, ok bool, err error)
	// Wipe removes the blob stored under name; a missing one is fine.
	Wipe(ctx context.Context, id, name string) error
	// SealedNames lists the names holding a blob, sorted.
	SealedNames(ctx context.Context, id string) ([]string, error)

	// PutLease creates or updates a lease (keyed by ID; one lease per
	// incident, system and login).
	PutLease(ctx context.Context, l Lease) error
	// Leases returns leases matching f, by expiry (leases without one
	// last), then id.
	Leases(ctx context.Context, f LeaseFilter) ([]Lease, error)

	// AppendAudit appends e to the audit log. In one transaction that
	// excludes other appenders it sets e.Seq to the next number and
	// e.PrevHash to the last entry's hash ("" for the first), then
	// e.Hash, e.MAC = sign(e), and inserts it.
	AppendAudit(ctx context.Context, e AuditEntry, sign func(AuditEntry) (hash, mac string)) (AuditEntry, error)
	// AppendAudits appends es, in order, in one transaction as
	// AppendAudit appends one: one commit for many entries (the audit
	// log's group commit). An invalid entry fails them all; none is
	// appended then.
	AppendAudits(ctx context.Context, es []AuditEntry, sign func(AuditEntry) (hash, mac string)) ([]AuditEntry, error)
	// AuditLog returns the audit log in stored order (by seq).
	AuditLog(ctx context.Context) ([]AuditEntry, error)
	// AuditFrom returns the entries numbered seq and after, by seq.
	AuditFrom(ctx context.Context, seq int64) ([]AuditEntry, error)
	// IncidentAudit returns the entries of one incident, by seq: what a
	// request about that incident reads, instead of the whole log.
	IncidentAudit(ctx context.Context, incident string) ([]AuditEntry, error)
}

// Run states of a plan (DESIGN's run JSON).
const (
	RunPlanned    = "planned"
	RunRunning    = "running"
	RunWaiting    = "waiting"
	RunDone       = "done"
	RunFailed     = "failed"
	RunRolledBack = "rolled-back"
)

// Plan is a stored plan: its body is internal/plan's JSON.
type Plan struct {
	IncidentID string          `json:"incident"`
	Strategy   string          `json:"strategy"`
	Created    time.Time       `json:"created"`
	Body       json.RawMessage `json:"body"`
	RunState   string          `json:"run_state"`
	Updated    time.Time       `json:"updated"`
}

// Step is the recorded state of one plan step.
type Step struct {
	IncidentID string     `json:"-"`
	StepID     string     `json:"id"`
	State      string     `json:"state"`
	Attempts   int        `json:"attempts"`
	Started    *time.Time `json:"started,omitempty"`
	Finished   *time.Time `json:"finished,omitempty"`
	Error      string     `json:"error,omitempty"`
	// Result is what the step left for later steps and for rollback (the
	// login it issued, how many sessions it ended), as JSON; never a
	// secret.
	Result     json.RawMessage `json:"result,omitempty"`
	ApprovedBy string          `json:"approved_by,omitempty"`
	ApprovedAt *time.Time      `json:"approved_at,omitempty"`
}

// Lease states.
const (
	LeaseActive  = "active"
	LeaseRevoked = "revoked"
	LeaseDropped = "dropped"
)

// Lease is a credential rekey issued.
type Lease struct {
	ID         string `json:"id"`
	IncidentID string `json:"incident"`
	System     string `json:"system"`
	Login      string `json:"login"`
	// KeyID is the public id of the credential, when its system
	// generated it (an AWS access key id): the login's user may hold
	// another key. Never the secret.
	KeyID    string     `json:"key_id,omitempty"`
	Consumer string     `json:"consumer,omitempty"`
	Issued   time.Time  `json:"issued"`
	Expires  *time.Time `json:"expires,omitempty"`
	// Enforced is true when the system itself refuses the login after
	// Expires (PostgreSQL VALID UNTIL); otherwise rekey must revoke it.
	Enforced bool      `json:"enforced"`
	State    string    `json:"state"`
	Updated  time.Time `json:"updated"`
}

// LeaseFilter selects leases; zero fields match everything.
type LeaseFilter struct {
	IncidentID string
	ID         string
	State      string
	// ExpiresBefore keeps leases expiring before it (leases without an
	// expiry never match).
	ExpiresBefore time.Time
}

// AuditEntry is one row of the audit log.
type AuditEntry struct {
	Seq        int64     `json:"seq"`
	Time       time.Time `json:"time"`
	Actor      string    `json:"actor"`
	Action     string    `json:"action"`
	IncidentID string    `json:"incident,omitempty"`
	// Detail is a JSON object; never a secret.
	Detail   json.RawMessage `json:"detail"`
	PrevHash string          `json:"prev_hash"`
	Hash     string          `json:"hash"`
	// MAC is an HMAC of Hash under a key kept outside the store; "" for
	// an entry written without one.
	MAC string `json:"mac,omitempty"`
}

// Review is a stored review of the credential's use.
type Review struct {
	IncidentID string `json:"incident"`
	// Phase is "exposure" (before rotation) or "after" (after it).
	Phase   string          `json:"phase"`
	Created time.Time       `json:"created"`
	Body    json.RawMessage `json:"body"`
}

// Task states.
const (
	TaskOpen      = "open"      // to be done by a person (redact a message, merge a branch)
	TaskDone      = "done"      // rekey did it, or a person confirmed it
	TaskRemaining = "remaining" // the copy is still there after the re-trace
)

// Task is the remediation of one copy of the secret.
type Task struct {
	IncidentID string `json:"incident"`
	ID         string `json:"id"`
	// Kind is working-tree, history, chat or ticket.
	Kind     string `json:"kind"`
	Location string `json:"location"` // file:line, channel@ts, issue#comment
	Action   string `json:"action"`   // what to do / what was done, for a person
	State    string `json:"state"`
	// Detail holds kind-specific facts (branch, commit, expressions file);
	// never a secret.
	Detail  json.RawMessage `json:"detail,omitempty"`
	Updated time.Time       `json:"updated"`
}

// Remediation is the part of the store the last stages of a response
// write: reviews and remediation tasks.
type Remediation interface {
	// PutReview stores the review of one phase, replacing the previous.
	PutReview(ctx context.Context, id string, r Review) error
	// UpdateReview replaces the review of one phase with what fn makes of
	// the stored body (nil when there is none), in one transaction that
	// holds the incident: two writers appending to the same review (two
	// watchers) take turns, and neither's addition is lost. When fn
	// returns a nil body the review is left as it was.
	UpdateReview(ctx context.Context, id, phase string, fn func(body json.RawMessage) (json.RawMessage, error)) error
	// Reviews returns the stored reviews, by phase.
	Reviews(ctx context.Context, id string) ([]Review, error)
	// PutTasks creates or updates tasks (keyed by ID).
	PutTasks(ctx context.Context, id string, ts []Task) error
	// Tasks returns the incident's tasks by id.
	Tasks(ctx context.Context, id string) ([]Task, error)
}
