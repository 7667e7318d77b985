// Package store keeps rekey's state: incidents and everything learnt about
// them (occurrences of the leaked secret, the identity it authenticates as
// with its privileges, sessions and related credentials, consumers, usage
// events). It defines the Store interface, the record types, and the one
// schema (embedded, versioned migrations) that every implementation uses.
//
// Implementations live beside it: store/sqlite (the default, pure Go,
// $REKEY_HOME/rekey.db) and store/postgres (for teams), both thin wrappers
// around the database/sql code in store/sqlstore. store/open picks one
// from a --store value; it is a package of its own because it imports both
// implementations, which import this package. store/storetest is the
// conformance suite every implementation passes.
//
// Two promises hold for every implementation:
//   - every write is one transaction: a reader sees all of it or none;
//   - no secret is stored in clear. A secret is a Fingerprint (keyed
//     HMAC-SHA256, checked to be 64 hex digits on the way in, so a clear
//     value passed by mistake is refused) and a redacted preview.
//
// This package is a base layer: it imports only the standard library and
// other base packages (secret, errs). Callers map provider and scan types
// onto the record types here.
package store

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/rekeyhq/rekey/internal/secret"
)

// Store is rekey's state. Every method taking an incident id returns an
// error of kind errs.NotFound when no such incident exists. Record fields
// naming the incident (IncidentID, and System/Identity on an identity's
// parts) are filled on reads and ignored on writes, where the arguments
// say which incident and identity a record belongs to.
type Store interface {
	// OpenIncident returns the open incident for inc.Fingerprint, with
	// existing=true, or creates one from inc (state open, a new ID, Created
	// now unless set) with existing=false. It is race-free: callers opening
	// the same fingerprint at once, from any number of processes, get one
	// incident. inc.ID and inc.State are ignored.
	OpenIncident(ctx context.Context, inc Incident) (Incident, bool, error)
	// GetIncident returns one incident.
	GetIncident(ctx context.Context, id string) (Incident, error)
	// ListIncidents returns the incidents matching f, oldest first.
	ListIncidents(ctx context.Context, f Filter) ([]Incident, error)
	// UpdateIncident rewrites what may change in an incident after it is
	// opened: Preview, Kind, LeakedAt, Inventory, Identity and Notes. The
	// id, fingerprint, creation time and state stay.
	UpdateIncident(ctx context.Context, inc Incident) error
	// SetIncidentSecret gives the open incident id, opened without its
	// secret and keyed by from (watch keys such incidents by their
	// identity), the secret's fingerprint and preview, so that the next
	// OpenIncident of that secret finds it. It fails with errs.Conflict
	// when the incident is no longer open under from (closed, or given
	// its secret meanwhile) or another open incident has that
	// fingerprint.
	SetIncidentSecret(ctx context.Context, id string, from, to secret.Fingerprint, preview string) error
	// CloseIncident marks an incident closed at the given time (now when
	// zero), so that the next OpenIncident for its secret starts a new one.
	// Closing a closed incident does nothing.
	CloseIncident(ctx context.Context, id string, at time.Time) error

	// PutInventory keeps the inventory the incident was opened with (its
	// bytes as read), replacing an earlier copy.
	PutInventory(ctx context.Context, id string, inv InventoryCopy) error
	// GetInventory returns the copy, ok=false when none was kept (an
	// incident opened before copies were).
	GetInventory(ctx context.Context, id string) (inv InventoryCopy, ok bool, err error)

	// PutOccurrences records copies of the secret. A copy is keyed by
	// (fingerprint, path, line, column, commit, ref, encoding): putting the
	// same place again updates it (LastSeen moves forward, FirstSeen stays)
	// instead of adding a row. Zero FirstSeen/LastSeen mean now.
	PutOccurrences(ctx context.Context, id string, occ []Occurrence) error
	// Occurrences returns an incident's copies ordered by path, line,
	// column, commit, ref and encoding.
	Occurrences(ctx context.Context, id string) ([]Occurrence, error)

	// PutIdentity replaces everything stored about one identity of an
	// incident (keyed by System and Name), with its privileges, sessions
	// and related credentials, in one transaction.
	PutIdentity(ctx context.Context, id string, ident Identity) error
	// Identities returns an incident's identities ordered by system and
	// name, each with its parts in the order they were put.
	Identities(ctx context.Context, id string) ([]Identity, error)

	// PutConsumers replaces an incident's consumers with cs (names unique).
	PutConsumers(ctx context.Context, id string, cs []Consumer) error
	// Consumers returns an incident's consumers ordered by name.
	Consumers(ctx context.Context, id string) ([]Consumer, error)

	// AddEvents appends usage events. An event equal to a stored one in
	// file, line, time, action, source and credential is the same log
	// record read again and is skipped, so re-reading a log adds nothing.
	AddEvents(ctx context.Context, id string, evs []Event) error
	// Events returns an incident's events by time; events of the same
	// instant keep the order they were added in.
	Events(ctx context.Context, id string) ([]Event, error)

	// Snapshot returns incident id with its copies, identities,
	// consumers, events and reviews, in the order the methods reading
	// each return them, and with WithRun its opener's audit entry and
	// its stored plan, with WithInventory its kept inventory copy, read
	// in one transaction: one consistent view, at the cost of one read
	// instead of six, or eight (the API computes a scope per request).
	// An implementation may keep snapshots and serve one again while
	// nothing of the incident has changed since; each caller gets its own
	// lists (Snapshot.Clone), whose records it must not change.
	Snapshot(ctx context.Context, id string, with ...SnapshotPart) (Snapshot, error)

	// Responder: plans, steps, sealed credentials, leases, audit log.
	Responder
	// Remediation: reviews and remediation tasks.
	Remediation
	// Watch: followed logs' offsets, baselines, canaries.
	Watch
	// BrokerLeases: the broker's leases of workloads.
	BrokerLeases
	// Tokens: the service's API tokens, hashed.
	Tokens
	// WebSessions: the web UI's sign-in sessions.
	WebSessions
	// Tracing: tracing fanned out as jobs.
	Tracing

	// Close releases the database.
	Close() error
}

var (
	// ErrNotFound is the cause of every errs.NotFound error for a missing
	// incident.
	ErrNotFound = errors.New("no such incident")
	// ErrSchemaTooNew is why a database written by a newer rekey is
	// refused: its schema has migrations this binary does not know.
	ErrSchemaTooNew = errors.New("database schema is newer than this rekey")
)

// Filter selects incidents; zero fields match everything.
type Filter struct {
	State       State
	Fingerprint secret.Fingerprint
}

// Raw is implemented by the SQL stores. It exposes the database beneath
// the interface for the conformance suite (which reads every table to
// prove no secret is stored in clear), for read-only inspection, and for
// internal/claim, which owns the claims table; other code that writes
// through it bypasses the store's promises.
type Raw interface {
	DB() *sql.DB
	// DialectName is "sqlite" or "postgres".
	DialectName() string
}

// DBFile is the store's file name inside $REKEY_HOME.
const DBFile = "rekey.db"

// DefaultPath is where the default SQLite store lives: $REKEY_HOME/rekey.db.
func DefaultPath() (string, error) {
	home, err := secret.Home(os.Getenv)
	if err != nil {
		return "", err
	}
	return filepath.Join(home, DBFile), nil
}
