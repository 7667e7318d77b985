// Package authlog follows the refusals a system keeps itself instead of
// writing them to a log file (Redis: ACL LOG), by reading them every
// poll, and hands new ones to a watch.Handler as events: a refused login
// is an "auth" failure, a refused command, key or channel a failure of
// that action, by the login named.
//
// The system folds repeats into one entry with a count, so what is new
// is an entry not seen before or a count that grew; each new repeat is
// one event (at most MaxRepeats per entry and read). Across restarts the
// store keeps the time of the last refusal handed over (in watch_offsets,
// under a key no file's hash can take, with a head length follow never
// matches short files against): an entry whose
// last repeat is not later is taken as seen. An entry repeated after that
// time is handed over with its whole count when its earlier count is not
// known (at least once).
package authlog

import (
	"context"
	"net"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/logs"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/watch"
	"github.com/rekeyhq/rekey/internal/watch/follow"
)

// Defaults.
const (
	DefaultPoll = time.Second
	// MaxRepeats bounds the events one entry yields in one read.
	MaxRepeats = 100
)

// Config says what to read.
type Config struct {
	// System is the inventory's system name, for evidence and the
	// stored position.
	System string
	// Open returns the system's reader (a provider, opened as its
	// administrator); it is opened again after an error.
	Open  func(ctx context.Context) (provider.AuthLogReader, func(), error)
	Store store.Watch
	// Poll is how often it reads (DefaultPoll).
	Poll time.Duration
	// Warn is told why a read failed (once per distinct reason); the
	// follower goes on trying.
	Warn func(string)
}

// Follower reads one system's kept refusals.
type Follower struct {
	cfg    Config
	seen   map[string]int // entry key → count handed over
	since  time.Time      // the last refusal handed over (stored)
	counts watch.Counts
	warned string
}

var _ watch.Follower = (*Follower)(nil)

// New returns a Follower.
func New(cfg Config) *Follower {
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	return &Follower{cfg: cfg, seen: map[string]int{}}
}

// Source is what the evidence of the system's refusals names as its file.
func Source(system string) string { return "authlog:" + system }

func (fl *Follower) key() string { return "authlog\x00" + fl.cfg.System }

// Stats implements watch.Follower.
func (fl *Follower) Stats() map[string]logs.Stats { return fl.counts.Snapshot() }

// Follow implements watch.Follower: it returns when ctx ends, or when h or
// the store fails; a system it cannot read is warned about and read
// again at the next poll.
func (fl *Follower) Follow(ctx context.Context, h watch.Handler) error {
	if o, ok, err := fl.cfg.Store.Offset(ctx, fl.key()); err != nil {
		return err
	} else if ok {
		fl.since = time.Unix(0, o.Bytes)
	}
	var (
		r     provider.AuthLogReader
		close func()
	)
	defer func() {
		if close != nil {
			close()
		}
	}()
	t := time.NewTicker(fl.cfg.Poll)
	defer t.Stop()
	for {
		if r == nil {
			var err error
			if r, close, err = fl.cfg.Open(ctx); err != nil {
				r, close = nil, nil
				fl.warn(ctx, err)
			}
		}
		if r != nil {
			entries, err := r.AuthLog(ctx)
			if err != nil {
				fl.warn(ctx, err)
				close()
				r, close = nil, nil
			} else if err := fl.pass(ctx, entries, h); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (fl *Follower) warn(ctx context.Context, err error) {
	if fl.cfg.Warn == nil || ctx.Err() != nil {
		return
	}
	msg := strings.Join(strings.Fields(err.Error()), " ")
	if msg != fl.warned {
		fl.warned = msg
		fl.cfg.Warn("watch: " + Source(fl.cfg.System) + ": " + msg + " (tried again every poll)")
	}
}

// pass hands over what entries hold that was not handed over before.
func (fl *Follower) pass(ctx context.Context, entries []provider.AuthLogEntry, h watch.Handler) error {
	src := Source(fl.cfg.System)
	b := watch.Batch{Source: src}
	next := map[string]int{}
	last := fl.since
	for _, e := range entries {
		next[e.Key] = e.Count
		prev, known := fl.seen[e.Key]
		n := e.Count - prev
		if !known && !e.Last.After(fl.since) {
			n = 0 // handed over before a restart
		}
		n = min(n, MaxRepeats)
		for i := 0; i < n; i++ {
			b.Events = append(b.Events, event(e, src))
		}
		if n > 0 && e.Last.After(last) {
			last = e.Last
		}
	}
	b.Stats.Records, b.Stats.Events = len(b.Events), len(b.Events)
	if len(b.Events) > 0 {
		if err := h(ctx, b); err != nil {
			return err
		}
		fl.counts.Add(src, b.Stats)
		if err := fl.cfg.Store.PutOffset(context.WithoutCancel(ctx), store.Offset{Key: fl.key(), HeadLen: follow.HeadLen, Bytes: last.UnixNano(),
			Path: src, Updated: time.Now().UTC()}, ""); err != nil {
			return err
		}
		fl.since = last
	}
	fl.seen = next // entries the system dropped are forgotten
	return nil
}

func event(e provider.AuthLogEntry, src string) logs.Event {
	host := e.Client
	if h, _, err := net.SplitHostPort(e.Client); err == nil {
		host = h
	}
	action := strings.ToLower(e.Object)
	if e.Reason == "auth" {
		action = "auth"
	}
	return logs.Event{Time: e.Last, Credential: e.Login, Identity: e.Login, Source: host, Action: action, Outcome: logs.Failure,
		Detail: map[string]string{"reason": e.Reason}, File: src}
}
