// Package source defines where scanned bytes come from: a Source walks one
// kind of place (a directory tree, git history, a chat or ticket export) and
// emits chunks of bytes, each labelled with the location a finding in it must
// report. Each kind lives in its own sub-package.
package source

import (
	"context"
	"errors"
	"time"
)

// Class is the kind of place a copy of a secret lives in; it drives both the
// blast-radius weighting and how a copy is remediated.
type Class string

const (
	ClassCode    Class = "code"
	ClassConfig  Class = "config"
	ClassCI      Class = "ci"
	ClassIaC     Class = "iac"
	ClassHistory Class = "history"
	ClassChat    Class = "chat"
	ClassTicket  Class = "ticket"
)

// Location says where a chunk's first byte is. Findings add their own
// offset within the chunk to Line and Column.
type Location struct {
	// Path is the real file: for a git blob, its path in the tree; for an
	// export, the export file itself.
	Path string
	// Line and Column (1-based) of the chunk's first byte in Path. A chunk
	// that starts mid-line (a long line split for bounded memory) has
	// Column > 1.
	Line   int
	Column int
	// Commit is the full id of the commit that introduced this blob at Path
	// (history only).
	Commit string
	// AtHead is true when the copy is still present now: a working-tree
	// file or an export, or (history) the same blob is at Path in HEAD.
	AtHead bool
	Class  Class
	// Ref is the export's own reference: "#channel@ts" for chat,
	// "KEY-1#comment-10001" for tickets.
	Ref string
	// Flat means the chunk's bytes were decoded from a single field (a JSON
	// string in an export) so offsets inside it do not map to file
	// positions: every finding reports Line and Column as given.
	Flat bool
	// Encoding, when the source decoded the bytes itself before emitting
	// them (a Kubernetes Secret's base64 data), names that encoding.
	Encoding string
	// Time is when this copy came to be, where the place records it: the
	// commit's time in history, the message's timestamp in a chat export.
	// Zero when unknown.
	Time time.Time
	// Seq orders history locations: a commit with a lower Seq is older
	// (no later than its descendants). Zero when unordered.
	Seq int
	// Blob is the git object id of the content, for sources that scan each
	// distinct content once (git history).
	Blob string
	// Also lists the other places holding the same bytes (the same blob at
	// other paths or introduced by other commits). The chunk is emitted
	// once; a finding in it is reported at Loc and at each entry of Also,
	// with the Line and Column computed from Loc. Entries carry Path,
	// Commit, AtHead, Class and Blob only, and are shared between the
	// chunks of one blob: treat them as read-only.
	Also []Location
}

// Chunk is a run of bytes from one place. Tail is the number of trailing
// bytes repeated at the start of the next chunk of the same file (so that a
// match across the split is seen whole); findings that start inside the
// tail belong to the next chunk and are dropped from this one.
type Chunk struct {
	Data []byte
	Loc  Location
	Tail int
	// Release, when set, hands Data back to the source for another file:
	// the consumer calls it once nothing refers to Data any more (findings
	// copy what they keep). A consumer that never calls it only makes the
	// source allocate anew.
	Release func()
}

// Source walks one kind of place. Walk calls emit for every chunk, in any
// order and possibly from several goroutines at once (emit must be safe for
// that), and stops at the first error emit returns. Errors that affect one
// file only (unreadable, malformed) are reported through the Walker's
// OnError, and the walk goes on; Walk itself fails only when the place as a
// whole cannot be read.
type Source interface {
	Walk(ctx context.Context, emit func(Chunk) error) error
}

// FileError is a problem with one file that did not stop the walk.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// ErrorFunc receives per-file problems; sources call it instead of failing.
type ErrorFunc func(*FileError)

// Stop carries an error that must end a walk (one emit returned, or the
// context's) out of a file's parser, so that it is not mistaken for a
// problem with that file.
type Stop struct{ Err error }

func (e Stop) Error() string { return e.Err.Error() }
func (e Stop) Unwrap() error { return e.Err }

// FileDone sorts the outcome of reading one file: a Stop ends the walk with
// its error; any other error is that file's problem, reported to onErr, and
// the walk goes on.
func FileDone(path string, err error, onErr ErrorFunc) error {
	var st Stop
	switch {
	case err == nil:
		return nil
	case errors.As(err, &st):
		return st.Err
	}
	onErr(&FileError{Path: path, Err: err})
	return nil
}

// Probe runs what a scan looks for on ch and returns where in ch.Data each
// thing found starts (byte offsets; several may be equal). It must have no
// side effects: a Prober runs it on text it then never emits.
type Probe func(ch Chunk) []int

// Prober is a Source that can skip, cheaply, the places where probe finds
// nothing: WalkProbed emits what Walk would emit, less chunks in which
// probe finds nothing. It may call probe from several goroutines at once.
type Prober interface {
	Source
	WalkProbed(ctx context.Context, probe Probe, emit func(Chunk) error) error
}
