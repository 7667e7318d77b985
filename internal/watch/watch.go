// Package watch follows the logs rekey already parses, as they are
// written, and judges each credential's use against the baseline it keeps
// in the store: the review's findings (new source, new user agent, new
// action, sensitive action, failed-auth burst, off-hours, volume, use
// after revocation) one event at a time, plus canary-use.
//
// Following is done by the sub-packages — watch/follow for files
// (inotify, polling, rotation, offsets keyed by content) and watch/stream
// for NATS JetStream (a durable consumer) — which parse records with the
// review's parsers and hand them over in Batches. A Judge turns events
// into Findings. Acting on findings (incidents, containment,
// notifications) is the caller's.
package watch

import (
	"context"
	"sort"
	"sync"

	"github.com/rekeyhq/rekey/internal/logs"
)

// Batch is consecutive records of one source, parsed.
type Batch struct {
	// Source names what was followed: a file's path, or
	// "nats:STREAM/SUBJECT".
	Source string
	// Events in the order their records were written. Each carries its
	// evidence: File and Line (and Offset) in the file, or for a stream
	// File "nats:STREAM/SUBJECT" and Line the stream sequence.
	Events []logs.Event
	// Stats counts this batch's records, events and malformed records.
	Stats logs.Stats
}

// Handler takes one batch. When it returns nil the follower records the
// batch as consumed (stores the file offset, acks the messages): a
// handler stores the batch's effect (findings, baselines) before it
// returns, so that a crash never loses it. An error stops the follower
// with the position unrecorded: the batch is read again after a restart.
type Handler func(ctx context.Context, b Batch) error

// Follower follows sources and hands their records to a Handler.
type Follower interface {
	// Follow runs until ctx ends (then it returns nil) or h fails (then it
	// returns h's error). A record that does not parse is counted in
	// Stats, never fatal.
	Follow(ctx context.Context, h Handler) error
	// Stats returns what was consumed so far, per source.
	Stats() map[string]logs.Stats
}

// Counts sums logs.Stats per source; safe for concurrent use.
type Counts struct {
	mu sync.Mutex
	m  map[string]*logs.Stats
}

// Add adds a batch's stats to its source's.
func (c *Counts) Add(source string, s logs.Stats) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*logs.Stats{}
	}
	t := c.m[source]
	if t == nil {
		t = &logs.Stats{}
		c.m[source] = t
	}
	t.Records += s.Records
	t.Events += s.Events
	for _, p := range s.Malformed {
		t.AddMalformed(p)
	}
	t.MalformedCount += s.MalformedCount - len(s.Malformed)
}

// Snapshot returns a copy of the sums.
func (c *Counts) Snapshot() map[string]logs.Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]logs.Stats, len(c.m))
	for k, v := range c.m {
		s := *v
		s.Malformed = append([]logs.Position(nil), v.Malformed...)
		out[k] = s
	}
	return out
}

// Sources returns the sources seen, sorted.
func (c *Counts) Sources() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.m))
	for k := range c.m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
