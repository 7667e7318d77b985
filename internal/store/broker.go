package store

import (
	"context"
	"time"
)

// Broker lease states. A lease moves issuing → active → revoked | reaped;
// issuing → reaped when its process died before the login was made.
const (
	BrokerIssuing = "issuing"
	BrokerActive  = "active"
	BrokerRevoked = "revoked"
	BrokerReaped  = "reaped"
)

// BrokerLease is a login the broker issued to a workload. It never holds
// the login's secret.
type BrokerLease struct {
	ID       string `json:"lease_id"`
	Role     string `json:"role"`
	System   string `json:"system"`
	Identity string `json:"identity"` // the template identity (the role's like)
	Login    string `json:"login"`
	// Holder is the workload, ISSUER:SUBJECT.
	Holder    string    `json:"holder"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// MaxExpiresAt is as far as renewals may take ExpiresAt.
	MaxExpiresAt time.Time `json:"max_expires_at"`
	State        string    `json:"state"`
	Updated      time.Time `json:"updated"`
}

// BrokerLeaseFilter selects broker leases; zero fields match everything.
type BrokerLeaseFilter struct {
	ID, Role, System, Identity, Holder string
	// States keeps leases in one of these states.
	States []string
	// ExpiresBefore keeps leases whose ExpiresAt is before it.
	ExpiresBefore time.Time
}

// BrokerLeases is the part of the store the broker writes.
type BrokerLeases interface {
	// CreateBrokerLease inserts l. A lease id or a (system, login) that
	// exists already is errs.Conflict and changes nothing.
	CreateBrokerLease(ctx context.Context, l BrokerLease) error
	// BrokerLeases returns the leases matching f by expiry, then id.
	BrokerLeases(ctx context.Context, f BrokerLeaseFilter) ([]BrokerLease, error)
	// UpdateBrokerLease sets lease id's state and expiry (a zero
	// expiresAt keeps it) when its state is one of from, and reports
	// whether it did: two processes moving one lease do it once. A
	// missing id is errs.NotFound.
	UpdateBrokerLease(ctx context.Context, id string, from []string, state string, expiresAt time.Time) (bool, error)
	// WriteBrokerLeases inserts creates and applies updates in one
	// transaction (one commit for the rows of many concurrent issues),
	// and reports per create whether it was inserted (false: its id or
	// (system, login) exists already, as CreateBrokerLease's Conflict) and
	// per update whether it moved the lease (false also for a missing id).
	// An invalid create or update fails the call and writes nothing.
	WriteBrokerLeases(ctx context.Context, creates []BrokerLease, updates []BrokerLeaseUpdate) (created, updated []bool, err error)
}

// AuditedLeaseWriter is a store that writes lease rows and audit entries
// in one transaction: a lease's move to active and the audit entry of its
// issue were two commits (two fsyncs on SQLite) on every issue.
type AuditedLeaseWriter interface {
	// AppendAuditsWithLeases appends es as Responder.AppendAudits does
	// and applies updates as WriteBrokerLeases does (reporting per update
	// whether it moved the lease), in one transaction: both are written
	// or neither is. An invalid entry or update fails the call.
	AppendAuditsWithLeases(ctx context.Context, es []AuditEntry, sign func(AuditEntry) (hash, mac string), updates []BrokerLeaseUpdate) ([]AuditEntry, []bool, error)
}

// BrokerLeaseUpdate is one UpdateBrokerLease of a WriteBrokerLeases.
type BrokerLeaseUpdate struct {
	ID    string
	From  []string
	State string
	// ExpiresAt, when not zero, becomes the lease's expiry.
	ExpiresAt time.Time
}
