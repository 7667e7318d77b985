package store

import (
	"context"
	"time"
)

// Tracing is the part of the store that tracing fanned out as jobs works
// through: the sources of an incident to trace its secret through, each
// pending until one job records its outcome, and the secret they are
// traced for, sealed, kept only while a source is pending.
type Tracing interface {
	// StartTrace adds sources (pending, Type, Path and History read) to
	// incident id's tracing, numbered after the ones it has, and keeps
	// sealed (the secret, sealed by the caller) until none is pending,
	// unless a sealed secret is kept already (a tracing in progress: the
	// new sources join it and that one stays; TraceSource says which is
	// kept). It returns the new sources' Seq.
	StartTrace(ctx context.Context, id string, sealed []byte, sources []TraceSource) ([]int, error)
	// TraceSource returns one source of id's tracing (errs.NotFound when
	// there is none of that seq) and the sealed secret; sealed is nil
	// once no source is pending.
	TraceSource(ctx context.Context, id string, seq int) (src TraceSource, sealed []byte, err error)
	// FinishTrace records the outcome of a pending source (State done or
	// failed, Copies, Error, ExposedAt) and adds occ to the incident's
	// copies (as PutOccurrences), in one transaction. A source no longer
	// pending is left as it is and occ is not added: changed is false (a
	// job run twice). left is how many sources are still pending after;
	// the sealed secret is removed with the last.
	FinishTrace(ctx context.Context, id string, out TraceSource, occ []Occurrence) (changed bool, left int, err error)
	// TraceSources returns id's sources by Seq, only those in state when
	// it is not "".
	TraceSources(ctx context.Context, id string, state string) ([]TraceSource, error)
	// TraceCounts counts id's sources by state.
	TraceCounts(ctx context.Context, id string) (TraceCounts, error)
}

// TraceSource states.
const (
	TracePending = "pending"
	TraceDone    = "done"
	TraceFailed  = "failed"
)

// TraceSource is one source of a tracing.
type TraceSource struct {
	Seq     int    `json:"seq"`
	Type    string `json:"type"`
	Path    string `json:"path"`
	History bool   `json:"history,omitempty"`
	State   string `json:"state"`
	// Copies is how many copies the source held.
	Copies int `json:"copies"`
	// Error is why a failed source could not be traced, on one line.
	Error string `json:"error,omitempty"`
	// ExposedAt is when its earliest copy came to be, where known.
	ExposedAt *time.Time `json:"exposed_at,omitempty"`
	Updated   time.Time  `json:"updated"`
}

// TraceCounts are an incident's sources by state.
type TraceCounts struct {
	Pending, Done, Failed int
	// Copies is the sum of the finished sources' copies.
	Copies int
}
