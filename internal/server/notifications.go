package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/events"
	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/notify"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
)

// audience is who an incident's notifications go to and what they say
// of it, worked out once per run.
type audience struct {
	targets []notify.Target
	base    notify.Event
	mask    *secret.Masker
}

// audienceOf reads incident id's notify: targets and owners from the
// inventory it was opened with, and its identity and risk. Problems are
// warned about; an incident nobody can be told about has no targets.
func (s *Server) audienceOf(ctx context.Context, d incident.Deps, id string) audience {
	a := audience{base: notify.Event{Incident: id}, mask: s.maskFor(d, id)}
	if s.cfg.Notifier == nil {
		return a
	}
	inc, err := d.Store.GetIncident(ctx, id)
	if err != nil {
		s.warn("notify " + id + ": " + oneLine(err.Error()))
		return a
	}
	d.Warn = func(line string) { s.warn("notify " + id + ": " + line) }
	inv := d.RecordedInventory(ctx, inc, "nobody is notified")
	targets, problems := notify.Targets(inv, d.Getenv)
	for _, p := range problems {
		s.warn("notify " + id + ": " + oneLine(p.Error()))
	}
	a.targets = targets
	a.base.Owners = notify.Owners(inv, inc.Identity.System, inc.Identity.Name)
	if sum, err := incident.Show(ctx, d, id); err == nil {
		a.base.Identity, a.base.Risk = sum.Identity, strconv.Itoa(sum.Risk)
	}
	if s.cfg.PublicURL != "" {
		a.base.Link = strings.TrimRight(s.cfg.PublicURL, "/") + "/incidents/" + id
	}
	return a
}

// maskFor is a masker for what is said about incident id: the secrets
// the caller holds and the incident's fingerprint (the leaked secret
// masked even where its value is not at hand).
func (s *Server) maskFor(d incident.Deps, id string) *secret.Masker {
	var fp *secret.Fingerprinter
	if d.Fingerprinter != nil {
		fp, _ = d.Fingerprinter()
	}
	m := secret.NewMasker(fp)
	m.Add(d.Held...)
	if inc, err := d.Store.GetIncident(context.Background(), id); err == nil {
		m.AddFingerprint(inc.Fingerprint)
	}
	return m
}

func (a audience) send(n *notify.Notifier, kind notify.Kind, step, message string) {
	ev := a.base
	ev.Kind, ev.Step, ev.Message = kind, step, message
	n.Notify(a.targets, ev, a.mask)
}

// notifyOpened tells the incident's audience it was opened. The handler
// that opens incidents calls it once the incident is stored.
func (s *Server) notifyOpened(ctx context.Context, d incident.Deps, id string) {
	if s.cfg.Notifier == nil {
		return
	}
	a := s.audienceOf(ctx, d, id)
	msg := "opened by " + d.Actor
	if a.base.Identity != "" {
		msg += ": the leaked secret authenticates as " + a.base.Identity
	}
	a.send(s.cfg.Notifier, notify.IncidentOpened, "", msg)
}

// follower notifies as a run in this server moves: a step that waits for
// an approval or failed, and the run's end. It reads the audit log, the
// record of every transition, from where the run began; the engine's
// progress lines wake it (the Hub) so that it reads as they happen.
type follower struct {
	done chan struct{}
	end  chan struct{}
}

// stop waits until the follower has read everything the run wrote.
func (f *follower) stop() {
	close(f.end)
	<-f.done
}

func (s *Server) follow(ctx context.Context, d incident.Deps, id string) *follower {
	f := &follower{done: make(chan struct{}), end: make(chan struct{})}
	if s.cfg.Notifier == nil {
		close(f.done)
		return f
	}
	// Where the incident's log is now: only what this run appends is
	// notified.
	var head int64
	if log, err := d.Store.IncidentAudit(ctx, id); err == nil && len(log) > 0 {
		head = log[len(log)-1].Seq
	}
	go func() {
		defer close(f.done)
		a := s.audienceOf(ctx, d, id)
		read := func() {
			entries, err := d.Store.AuditFrom(ctx, head+1)
			if err != nil {
				return
			}
			for _, e := range entries {
				head = max(head, e.Seq)
				if e.IncidentID == id {
					s.notifyEntry(a, e)
				}
			}
		}
		t := time.NewTicker(eventPoll(s.cfg.EventPoll))
		defer t.Stop()
		for {
			wake := s.hub.Changed()
			read()
			select {
			case <-f.end:
				read()
				return
			case <-ctx.Done():
				return
			case <-wake:
			case <-t.C:
			}
		}
	}()
	return f
}

// notifyEntry sends what audit entry e asks of people, if anything.
func (s *Server) notifyEntry(a audience, e store.AuditEntry) {
	n := s.cfg.Notifier
	if st, ok := events.StepOf(e); ok {
		switch st.State {
		case "waiting-approval":
			a.send(n, notify.ApprovalNeeded, st.Step, fmt.Sprintf("step %s waits for an approval (%s) by an approver who neither opened the incident nor started its run", st.Step, st.Reason))
		case "failed":
			a.send(n, notify.StepFailed, st.Step, fmt.Sprintf("step %s failed: %s", st.Step, st.Error))
		}
		return
	}
	state, ok := strings.CutPrefix(e.Action, "run.")
	if !ok || state == "start" {
		return
	}
	msg := "the run ended: " + state
	switch state {
	case store.RunDone:
		msg = "the run is done: every step finished"
	case store.RunFailed:
		msg = "the run stopped: a step failed (continue it with POST …/run once fixed)"
	case store.RunWaiting:
		msg = "the run waits: a step needs an approval or its change window"
	}
	a.send(n, notify.RunDone, "", msg)
}

// warn writes one line the operator should read into the server's log,
// as JSON like the request lines.
func (s *Server) warn(line string) {
	if s.cfg.Log == nil {
		return
	}
	b, _ := json.Marshal(map[string]string{"time": s.now().UTC().Format(time.RFC3339Nano), "warning": line})
	s.logMu.Lock()
	defer s.logMu.Unlock()
	_, _ = s.cfg.Log.Write(append(b, '\n'))
}

func eventPoll(d time.Duration) time.Duration {
	if d <= 0 {
		return events.DefaultPoll
	}
	return d
}
