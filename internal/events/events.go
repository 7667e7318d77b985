// Package events follows what happens to an incident, from the store, so
// that a client sees a run progress wherever it runs: in this server, in
// another replica, or in a CLI on another machine sharing the store.
//
// The audit log is the source. Every step transition is audited by the
// engine (step.running, step.done, step.failed, step.waiting-approval,
// step.waiting-window, step.approved), so following the log from a
// sequence number gives every change in order and resumes exactly where
// a client left off. Follow polls the log and wakes early when a Hub is
// poked (this process's runs poke it as their steps move); Stream writes
// what Follow finds as Server-Sent Events for the API and the web UI.
package events

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rekeyhq/rekey/internal/store"
)

// Hub wakes followers early: Poke after something was appended to the
// audit log, and every follower looks now instead of at its next poll.
// The nil Hub never wakes anyone (polling alone still works).
type Hub struct {
	mu sync.Mutex
	ch chan struct{}
}

// NewHub returns a Hub.
func NewHub() *Hub { return &Hub{ch: make(chan struct{})} }

// Poke wakes every follower waiting now.
func (h *Hub) Poke() {
	if h == nil {
		return
	}
	h.mu.Lock()
	close(h.ch)
	h.ch = make(chan struct{})
	h.mu.Unlock()
}

// Changed is closed by the next Poke.
func (h *Hub) Changed() <-chan struct{} {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ch
}

// Write implements io.Writer so that a Hub can be a run's progress
// output (incident.Deps.Progress): the engine writes a line per step
// event, after recording it.
func (h *Hub) Write(p []byte) (int, error) {
	h.Poke()
	return len(p), nil
}

// DefaultPoll is how often Follow reads the log when nothing wakes it.
const DefaultPoll = time.Second

// Follow calls fn with every audit entry of incident numbered after
// `after`, in order, as they are appended, until ctx ends (its error is
// returned then) or fn fails. tick, when not nil, is called at every
// wait; a streamer writes its heartbeats there.
func Follow(ctx context.Context, st store.Store, incident string, after int64, hub *Hub, poll time.Duration, fn func(store.AuditEntry) error) error {
	if poll <= 0 {
		poll = DefaultPoll
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	// The first read is the incident's own entries (indexed), not the
	// whole log since `after`; from then on only the log's tail is read.
	read := func(after int64) ([]store.AuditEntry, error) {
		all, err := st.IncidentAudit(ctx, incident)
		n := 0
		for _, e := range all {
			if e.Seq > after {
				all[n] = e
				n++
			}
		}
		return all[:n], err
	}
	for {
		wake := hub.Changed() // before reading, so that a Poke during the read is not missed
		entries, err := read(after)
		if err != nil {
			return err
		}
		read = func(after int64) ([]store.AuditEntry, error) { return st.AuditFrom(ctx, after+1) }
		for _, e := range entries {
			after = max(after, e.Seq)
			if e.IncidentID != incident {
				continue
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		case <-t.C:
		}
	}
}

// Audit is the data of an `audit` event: one entry of the log, without
// the chain's internals a client has no use for (its hash is kept, to be
// matched with `rekey audit verify`).
type Audit struct {
	Seq    int64           `json:"seq"`
	Time   time.Time       `json:"time"`
	Actor  string          `json:"actor"`
	Action string          `json:"action"`
	Detail json.RawMessage `json:"detail"`
	Hash   string          `json:"hash"`
}

// AuditOf is e as an audit event.
func AuditOf(e store.AuditEntry) Audit {
	d := e.Detail
	if len(d) == 0 {
		d = json.RawMessage("{}")
	}
	return Audit{Seq: e.Seq, Time: e.Time, Actor: e.Actor, Action: e.Action, Detail: d, Hash: e.Hash}
}

// Step is the data of a `step` event: a step of the plan entered State.
type Step struct {
	Seq   int64     `json:"seq"`
	Time  time.Time `json:"time"`
	Step  string    `json:"step"`
	State string    `json:"state"`
	// Actor is who moved it: the run's starter, or the approver.
	Actor      string `json:"actor"`
	Error      string `json:"error,omitempty"`
	Reason     string `json:"reason,omitempty"`
	ApprovedBy string `json:"approved_by,omitempty"`
	Attempt    int    `json:"attempt,omitempty"`
}

// StepOf reads a step transition out of an audit entry; ok is false for
// entries that are not one. An approval puts its step back to pending
// (the engine's state machine), approved.
func StepOf(e store.AuditEntry) (Step, bool) {
	state, ok := strings.CutPrefix(e.Action, "step.")
	if !ok {
		return Step{}, false
	}
	var d struct {
		Step    string `json:"step"`
		Error   string `json:"error"`
		Reason  string `json:"reason"`
		Attempt int    `json:"attempt"`
	}
	if json.Unmarshal(e.Detail, &d) != nil || d.Step == "" {
		return Step{}, false
	}
	s := Step{Seq: e.Seq, Time: e.Time, Step: d.Step, State: state, Actor: e.Actor, Error: d.Error, Reason: d.Reason, Attempt: d.Attempt}
	if state == "approved" {
		s.State, s.ApprovedBy = "pending", e.Actor
	}
	return s, true
}

// Tracing is the data of a `tracing` event: the incident's fanned-out
// tracing moved (incident.trace.start, then one incident.trace per
// source finished, on whichever replica's job, then incident.trace.done).
// It carries what the entry says, not the totals: a client reads those
// again (GET /api/v1/incidents/{id}: `tracing`), once however many
// events came at once.
type Tracing struct {
	Seq  int64     `json:"seq"`
	Time time.Time `json:"time"`
	// What is start, source or done.
	What string `json:"what"`
	// Source ("git /srv/shop"), State (done or failed), Copies and Error
	// are the finished source's.
	Source string `json:"source,omitempty"`
	State  string `json:"state,omitempty"`
	Copies int    `json:"copies,omitempty"`
	Error  string `json:"error,omitempty"`
}

// TracingOf reads a tracing event out of an audit entry; ok is false for
// entries that are not one.
func TracingOf(e store.AuditEntry) (Tracing, bool) {
	what, ok := map[string]string{"incident.trace.start": "start", "incident.trace": "source", "incident.trace.done": "done"}[e.Action]
	if !ok {
		return Tracing{}, false
	}
	var d struct {
		Source string `json:"source"`
		State  string `json:"state"`
		Copies string `json:"copies"`
		Error  string `json:"error"`
	}
	_ = json.Unmarshal(e.Detail, &d) // a detail of another shape still says the tracing moved
	t := Tracing{Seq: e.Seq, Time: e.Time, What: what}
	if what == "source" {
		t.Source, t.State, t.Error = d.Source, d.State, d.Error
		t.Copies, _ = strconv.Atoi(d.Copies)
	}
	return t, true
}
