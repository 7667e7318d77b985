// Package watcher is the acting part of watch: it follows the inventory's
// logs: files and watch.nats subjects, judges every record (watch.Judge),
// and acts on the findings the inventory's watch: section names. A
// finding of a watch.trigger kind opens an incident for the identity it
// names (opened by the actor "watch", keyed by the identity since the
// watcher never holds the secret: incident.OpenForIdentity), or joins the
// open one of that identity, with the finding as its evidence; a finding
// of a watch.auto_contain kind also runs the emergency plan at once,
// audited as an automatic containment. Run is what `rekey watch` and
// `rekey serve --watch` call.
//
// Only identities rekey can answer for open incidents: those the
// inventory declares, canary logins and logins rekey revoked. A finding
// about any other login (the systems' administrators, the logins rekey
// issued) is counted and reported, never acted on.
package watcher

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/logs"
	logsall "github.com/rekeyhq/rekey/internal/logs/all"
	"github.com/rekeyhq/rekey/internal/logs/jsonl"
	"github.com/rekeyhq/rekey/internal/logs/postgres"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/watch"
	"github.com/rekeyhq/rekey/internal/watch/authlog"
	"github.com/rekeyhq/rekey/internal/watch/follow"
	"github.com/rekeyhq/rekey/internal/watch/stream"
)

// Config is what Run needs.
type Config struct {
	// Deps is what incidents are opened, planned and run through (the
	// caller's store, audit log, providers, sealer, claim). Its Actor is
	// replaced by incident.WatchActor.
	Deps incident.Deps
	// Inventory is the inventory to watch (its logs:, watch: and
	// consumers), and InventoryBody its bytes as read, kept with each
	// incident opened.
	Inventory     *inventory.Inventory
	InventoryBody []byte
	// Parsers are the log formats known (logs/all.Parsers() when nil).
	Parsers []logs.Parser
	// Notify is told of each incident opened and each automatic action;
	// nil tells nobody. An error is reported through Warn, never fatal.
	Notify func(ctx context.Context, e Event) error
	// Say reports progress to a person watching; Warn gets one line per
	// thing they should know (a finding about an identity nobody
	// declares, a failed notification). Nil is quiet.
	Say  func(format string, a ...any)
	Warn func(line string)
	// Poll is the files' rescan interval and NoNotify turns inotify off
	// (follow.Config); Learn is how long baselines learn (watch.JudgeConfig).
	Poll     time.Duration
	NoNotify bool
	Learn    time.Duration
	// Refresh is how often canaries and revoked logins are reloaded from
	// the store (DefaultRefresh).
	Refresh time.Duration
}

// DefaultRefresh is how often a watcher reloads canaries and revoked
// logins.
const DefaultRefresh = 10 * time.Second

// Event is what Notify is told. It names the owner and never a secret.
type Event struct {
	// Kind is EventOpened, EventContained or EventContainFailed.
	Kind     string            `json:"kind"`
	Incident string            `json:"incident"`
	Identity store.IdentityRef `json:"identity"`
	// Owner is the identity's team and contact, as the inventory says.
	Owner   string        `json:"owner,omitempty"`
	Finding watch.Finding `json:"finding"`
	// Detail says how a containment ended (the run's state, its error).
	Detail string `json:"detail,omitempty"`
}

// Event kinds.
const (
	EventOpened        = "incident-opened"
	EventContained     = "contained"
	EventContainFailed = "contain-failed"
)

// Run follows, judges and acts until ctx ends (then it returns nil, once
// the containments it started have finished) or a follower fails.
func Run(ctx context.Context, cfg Config) error {
	const op = "watch"
	inv := cfg.Inventory
	if inv == nil {
		return errs.New(op, errs.Invalid, "", "no inventory")
	}
	if cfg.Parsers == nil {
		cfg.Parsers = logsall.Parsers()
	}
	cfg.Deps.Actor = incident.WatchActor
	var consumers []*inventory.Consumer
	for i := range inv.Consumers {
		consumers = append(consumers, &inv.Consumers[i])
	}
	j, err := watch.NewJudge(ctx, watch.JudgeConfig{Store: cfg.Deps.Store, Consumers: consumers, Learn: cfg.Learn})
	if err != nil {
		return err
	}
	a := newActor(cfg, j)
	type source struct {
		fl     watch.Follower
		format string
	}
	var sources []source
	for _, l := range inv.Logs {
		p, err := parserOf(l, cfg.Parsers)
		if err != nil {
			return err
		}
		fc := follow.Config{Paths: []string{inv.Abs(l.Path)}, Parsers: cfg.Parsers, Store: cfg.Deps.Store, Poll: cfg.Poll, NoNotify: cfg.NoNotify}
		if p != nil {
			fc.Format, fc.Parsers = p.Name(), []logs.Parser{p}
		}
		fl, err := follow.New(fc)
		if err != nil {
			return err
		}
		sources = append(sources, source{fl, l.Type})
	}
	if inv.Watch != nil {
		for _, n := range inv.Watch.NATS {
			fl, err := stream.New(stream.Config{URL: n.URL, Subject: n.Subject, Type: n.Type, Durable: n.Durable, Parsers: cfg.Parsers})
			if err != nil {
				return err
			}
			sources = append(sources, source{fl, n.Type})
		}
	}
	for _, sys := range inv.Systems {
		if !authLogTypes[sys.Type] {
			continue
		}
		systems := cfg.Deps.Systems(inv)
		fl := authlog.New(authlog.Config{System: sys.Name, Store: cfg.Deps.Store, Poll: cfg.Poll, Warn: a.warn,
			Open: func(ctx context.Context) (provider.AuthLogReader, func(), error) {
				p, err := systems.Open(ctx, sys.Name)
				if err != nil {
					return nil, nil, err
				}
				r, ok := p.(provider.AuthLogReader)
				if !ok {
					p.Close()
					return nil, nil, errs.New("watch", errs.Unsupported, sys.Name, "this build's "+sys.Type+" provider keeps no refusals to read")
				}
				return r, func() { p.Close() }, nil
			}})
		sources = append(sources, source{fl, ""})
	}
	if len(sources) == 0 {
		return errs.New(op, errs.Invalid, inv.File, "nothing to follow: the inventory has no logs:, no watch: nats: and no redis system")
	}
	a.say("following %d log source(s); triggers %v, contained at once %v", len(sources), kinds(inv.Watch, false), kinds(inv.Watch, true))
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	followers := make([]watch.Follower, len(sources))
	for i, s := range sources {
		followers[i] = s.fl
	}
	unparsed := &malformed{said: map[string]int{}}
	var wg sync.WaitGroup
	for _, s := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := j.Handler(a.handler(s.format))
			// A batch handed over is handled to its end, even when ctx
			// ends meanwhile: a stop then leaves nothing half done that a
			// restart would repeat.
			whole := func(ctx context.Context, b watch.Batch) error { return h(context.WithoutCancel(ctx), b) }
			if err := s.fl.Follow(ctx, whole); err != nil {
				cancel(err)
			}
		}()
	}
	// Canaries made and logins revoked elsewhere (another rekey, a
	// person's run) are learnt without a restart.
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(cmp.Or(cfg.Refresh, DefaultRefresh))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := j.Refresh(ctx); err != nil && ctx.Err() == nil {
					a.warn("watch: reloading canaries and revoked logins: " + oneLine(err))
				}
				unparsed.report(followers, a.warn)
			}
		}
	}()
	wg.Wait()
	a.wait()
	unparsed.report(followers, a.warn)
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// malformed reports the records the followers could not parse: never
// fatal, and never silent either. Each report names what is new since
// the last one, per source.
type malformed struct {
	mu   sync.Mutex
	said map[string]int // malformed records reported, by source
}

// report warns once per source that has unparsed records not reported
// yet: how many, how many in all, and where the first new one is (when
// it is among the positions the follower keeps).
func (m *malformed) report(fls []watch.Follower, warn func(string)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, fl := range fls {
		stats := fl.Stats()
		for _, src := range slices.Sorted(maps.Keys(stats)) {
			st := stats[src]
			n := st.MalformedCount - m.said[src]
			if n <= 0 {
				continue
			}
			line := fmt.Sprintf("watch: %s: %d record(s) not parsed, %d in all; they are not judged", src, n, st.MalformedCount)
			if i := m.said[src]; i < len(st.Malformed) {
				p := st.Malformed[i]
				at := p.File
				if p.Line > 0 {
					at = fmt.Sprintf("%s:%d", p.File, p.Line)
				}
				line += fmt.Sprintf(" (first at %s: %s)", at, p.Reason)
			}
			m.said[src] = st.MalformedCount
			warn(line)
		}
	}
}

// authLogTypes are the system types that write no authentication log
// but keep their refusals (provider.AuthLogReader): each such system of
// the inventory is read every poll.
var authLogTypes = map[string]bool{"redis": true}

func kinds(w *inventory.Watch, contain bool) []string {
	switch {
	case w == nil:
		return []string{}
	case contain:
		return w.AutoContain
	}
	return w.Trigger
}

// parserOf is the parser a logs: entry's settings make (a log_line_prefix,
// a jsonl field mapping, a format by name), nil to detect each file's.
func parserOf(l inventory.Log, parsers []logs.Parser) (logs.Parser, error) {
	switch {
	case l.Prefix != "":
		p, err := postgres.NewStderr(l.Prefix)
		if err != nil {
			return nil, errs.E("watch", errs.Invalid, l.Path, fmt.Errorf("log_line_prefix %q: %w", l.Prefix, err))
		}
		return p, nil
	case l.Fields != nil:
		m := l.Fields
		p, err := jsonl.New(jsonl.Mapping{Time: m.Time, TimeFormat: m.TimeFormat, Credential: m.Credential, Identity: m.Identity,
			Source: m.Source, UserAgent: m.UserAgent, Application: m.Application, Action: m.Action, Outcome: m.Outcome, Failure: m.Failure})
		if err != nil {
			return nil, errs.E("watch", errs.Invalid, l.Path, fmt.Errorf("jsonl fields: %w", err))
		}
		return p, nil
	case l.Type != "":
		if p := logsall.ByName(parsers, l.Type); p != nil {
			return p, nil
		}
		return nil, errs.New("watch", errs.Invalid, l.Path, fmt.Sprintf("log format %q: not one rekey reads", l.Type))
	}
	return nil, nil
}
