package review

import (
	"cmp"
	"time"

	"github.com/rekeyhq/rekey/internal/logs"
)

// Evidence is one log record behind a finding: where it is and what it
// says, never a secret (events carry none).
type Evidence struct {
	File        string    `json:"file"`
	Line        int       `json:"line"`
	Offset      int64     `json:"offset,omitempty"`
	Time        time.Time `json:"time"`
	Source      string    `json:"source"`
	Action      string    `json:"action"`
	Credential  string    `json:"credential"`
	Outcome     string    `json:"outcome"`
	UserAgent   string    `json:"user_agent,omitempty"`
	Application string    `json:"application,omitempty"`
	// declared is whether a declared consumer's sources match the event;
	// evidence of undeclared use is kept first.
	declared bool
}

func evidenceOf(e *logs.Event, declared bool) Evidence {
	return Evidence{File: e.File, Line: e.Line, Offset: e.Offset, Time: e.Time, Source: e.Source, Action: e.Action,
		Credential: e.Credential, Outcome: string(e.Outcome), UserAgent: e.UserAgent, Application: e.Application, declared: declared}
}

// before orders evidence: undeclared use first, then by time, then by
// position, so that the kept sample does not depend on the order files
// were read in.
func before(a, b *Evidence) bool {
	if a.declared != b.declared {
		return !a.declared
	}
	if !a.Time.Equal(b.Time) {
		return a.Time.Before(b.Time)
	}
	if c := cmp.Compare(a.File, b.File); c != 0 {
		return c < 0
	}
	if a.Line != b.Line {
		return a.Line < b.Line
	}
	return a.Offset < b.Offset
}

// sample keeps the k first events (in before's order) of an unordered
// stream: memory is k whatever the stream's length.
type sample struct {
	items []Evidence
}

// wants reports whether an event would be kept, before paying for its
// conversion.
func (s *sample) wants(k int, e *logs.Event, declared bool) bool {
	if k == 0 {
		return false
	}
	if len(s.items) < k {
		return true
	}
	last := &s.items[len(s.items)-1]
	c := Evidence{Time: e.Time, File: e.File, Line: e.Line, Offset: e.Offset, declared: declared}
	return before(&c, last)
}

func (s *sample) add(k int, e *logs.Event, declared bool) {
	if !s.wants(k, e, declared) {
		return
	}
	s.insert(k, evidenceOf(e, declared))
}

func (s *sample) insert(k int, ev Evidence) {
	if len(s.items) < k {
		s.items = append(s.items, ev)
	} else {
		s.items[len(s.items)-1] = ev
	}
	for i := len(s.items) - 1; i > 0 && before(&s.items[i], &s.items[i-1]); i-- {
		s.items[i], s.items[i-1] = s.items[i-1], s.items[i]
	}
}

// entry is what is kept for one key (a source, an action…) in one window.
type entry struct {
	n, fail, ok, undeclared int
	first, last             time.Time
	consumer                string // a declared consumer that matched one of its events
	sensitive               bool   // an action classify lists
	ev                      sample
}

func (en *entry) count(e *logs.Event, consumer string) {
	en.n++
	switch e.Outcome {
	case logs.Failure:
		en.fail++
	case logs.Success:
		en.ok++
	}
	if consumer == "" {
		en.undeclared++
	} else if en.consumer == "" {
		en.consumer = consumer
	}
	if en.first.IsZero() || e.Time.Before(en.first) {
		en.first = e.Time
	}
	if e.Time.After(en.last) {
		en.last = e.Time
	}
}

// counter counts events per key, keeping at most max keys: past that, an
// event with a new key is counted in overflow only. Memory grows with the
// number of distinct keys, never with the number of events.
type counter struct {
	m        map[string]*entry
	max      int
	k        int // evidence kept per key
	overflow int
}

func newCounter(max, k int) *counter { return &counter{m: map[string]*entry{}, max: max, k: k} }

func (c *counter) add(key string, e *logs.Event, consumer string) *entry {
	en := c.m[key]
	if en == nil {
		if len(c.m) >= c.max {
			c.overflow++
			return nil
		}
		en = &entry{}
		c.m[key] = en
	}
	en.count(e, consumer)
	en.ev.add(c.k, e, consumer != "")
	return en
}

func (c *counter) has(key string) bool { _, ok := c.m[key]; return ok }

// buckets counts events per time bucket (an hour, ten minutes), keeping
// at most max buckets and k evidence events in each.
type buckets struct {
	size     time.Duration
	m        map[int64]*entry
	max, k   int
	overflow int
}

func newBuckets(size time.Duration, max, k int) *buckets {
	return &buckets{size: size, m: map[int64]*entry{}, max: max, k: k}
}

func (b *buckets) add(e *logs.Event, consumer string) {
	key := e.Time.UnixNano() / int64(b.size)
	en := b.m[key]
	if en == nil {
		if len(b.m) >= b.max {
			b.overflow++
			return
		}
		en = &entry{}
		b.m[key] = en
	}
	en.count(e, consumer)
	en.ev.add(b.k, e, consumer != "")
}

// peak returns the bucket with the most events (the earliest on a tie).
func (b *buckets) peak() (start time.Time, en *entry) {
	var best int64
	for key, e := range b.m {
		if en == nil || e.n > en.n || e.n == en.n && key < best {
			best, en = key, e
		}
	}
	if en == nil {
		return time.Time{}, nil
	}
	return time.Unix(0, best*int64(b.size)).UTC(), en
}
