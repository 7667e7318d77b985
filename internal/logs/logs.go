// Package logs turns log files of the systems a credential is used against
// into one normalised stream of events: who used which credential, from
// where, doing what, with what outcome, and the file and line that prove
// it. One sub-package per format; every parser streams (constant memory),
// keeps each event's position as evidence, and counts malformed records
// instead of failing on them.
package logs

import (
	"context"
	"io"
	"time"
)

// Outcome of the attempt an event records.
type Outcome string

const (
	Success Outcome = "success"
	Failure Outcome = "failure" // refused: bad password, access denied
	Unknown Outcome = "unknown"
)

// Event is one use (or attempted use) of a credential.
type Event struct {
	Time time.Time `json:"time"`
	// Credential is what identifies the credential in this log: an access
	// key id, a role or user name, a token accessor. Never a secret value.
	Credential string `json:"credential"`
	// Identity is the principal (ARN, role, user@host) when the log names it.
	Identity    string `json:"identity,omitempty"`
	Source      string `json:"source"` // client IP or host
	UserAgent   string `json:"user_agent,omitempty"`
	Application string `json:"application,omitempty"`
	// Action is what was done: "connect", "disconnect", an API call name
	// ("iam:CreateAccessKey"), a statement kind ("CREATE ROLE").
	Action  string  `json:"action"`
	Outcome Outcome `json:"outcome"`
	// Detail carries format-specific facts a review rule may use (an error
	// code, a session duration, a new key id), redacted of secrets.
	Detail map[string]string `json:"detail,omitempty"`
	// File and Line (1-based; or Offset for formats without lines) are the
	// evidence: where the record is.
	File   string `json:"file"`
	Line   int    `json:"line,omitempty"`
	Offset int64  `json:"offset,omitempty"`
}

// Parser reads one log format.
type Parser interface {
	// Name is the format's name as the CLI and inventory spell it
	// (cloudtrail, postgres-csv…).
	Name() string
	// Parse reads r (the content of file, already decompressed) and calls
	// emit for each event in order. A malformed record is counted in the
	// returned Stats with its position, never fatal; Parse fails only when
	// r fails or emit returns an error (which it returns unchanged).
	Parse(ctx context.Context, file string, r io.Reader, emit func(Event) error) (Stats, error)
	// Sniff reports whether head (the first bytes of a file) looks like
	// this format, for detection when no format is given.
	Sniff(head []byte) bool
}

// Stats is what a parse saw besides events.
type Stats struct {
	Records   int        `json:"records"`
	Events    int        `json:"events"`
	Malformed []Position `json:"malformed,omitempty"` // at most MaxMalformed kept
	// MalformedCount counts every malformed record, kept or not.
	MalformedCount int `json:"malformed_count"`
}

// MaxMalformed bounds how many malformed positions Stats keeps.
const MaxMalformed = 100

// Position is where a record is, for errors and evidence.
type Position struct {
	File   string `json:"file"`
	Line   int    `json:"line,omitempty"`
	Offset int64  `json:"offset,omitempty"`
	Reason string `json:"reason"`
}

// AddMalformed records a malformed record, keeping the first MaxMalformed.
func (s *Stats) AddMalformed(p Position) {
	s.MalformedCount++
	if len(s.Malformed) < MaxMalformed {
		s.Malformed = append(s.Malformed, p)
	}
}
