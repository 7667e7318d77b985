package events

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/store"
)

// Streamer writes incidents' events as Server-Sent Events.
type Streamer struct {
	Store store.Store
	// Hub, when set, wakes streams as soon as this process's runs move.
	Hub *Hub
	// Poll is how often the log is read without a wake (DefaultPoll);
	// Heartbeat how often a comment line keeps an idle stream alive
	// through proxies (15 s).
	Poll, Heartbeat time.Duration
}

// LastEventID is where a client resumes: the Last-Event-ID header a
// reconnecting EventSource sends, else the `after` query parameter (a
// first connection cannot set headers), else 0 (from the beginning).
func LastEventID(r *http.Request) (int64, error) {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v = r.URL.Query().Get("after")
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return 0, errs.New("events", errs.Invalid, "", "Last-Event-ID (or after) must be an audit sequence number")
	}
	return n, nil
}

// Stream writes incident's events numbered after `after` to w, then every
// new one as it is appended, until the client goes. Each audit entry is
// an `audit` event, a step transition also a `step` event, and a move of
// the incident's tracing also a `tracing` event; all carry `id:` the
// entry's sequence number and are written together, so a client resuming
// with Last-Event-ID gets each exactly once. Its error is only ever one from before anything was
// written (an unknown incident: the caller answers 404); a store failing
// later ends the stream with an `error` event.
func (s *Streamer) Stream(w http.ResponseWriter, r *http.Request, incident string, after int64) error {
	ctx := r.Context()
	if _, err := s.Store.GetIncident(ctx, incident); err != nil {
		return err
	}
	rc := http.NewResponseController(w)
	// A server's write timeout is for requests, not for a stream.
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, "retry: 2000\n: rekey events of "+incident+"\n\n"); err != nil {
		return nil
	}
	if err := rc.Flush(); err != nil {
		return nil
	}
	beat := s.Heartbeat
	if beat <= 0 {
		beat = 15 * time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Heartbeats come from their own goroutine, so the writes are
	// serialized by a channel to the one writer below.
	out := make(chan []byte)
	go func() {
		t := time.NewTicker(beat)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				select {
				case out <- []byte(": heartbeat\n\n"):
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	werr := make(chan error, 1)
	go func() {
		defer cancel()
		for {
			select {
			case <-ctx.Done():
				werr <- nil
				return
			case b := <-out:
				if _, err := w.Write(b); err != nil {
					werr <- nil // the client went
					return
				}
				if err := rc.Flush(); err != nil {
					werr <- nil
					return
				}
			}
		}
	}()
	err := Follow(ctx, s.Store, incident, after, s.Hub, s.Poll, func(e store.AuditEntry) error {
		b, err := s.frame(ctx, e)
		if err != nil {
			return err
		}
		select {
		case out <- b:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	gone := ctx.Err() != nil
	if !gone && err != nil {
		// The headers are gone: the client learns of the failure as an
		// event (not its text, which may name internals) and reconnects.
		select {
		case out <- []byte("event: error\ndata: {\"message\":\"the event stream failed; reconnect to resume\"}\n\n"):
		case <-ctx.Done():
		}
	}
	cancel()
	<-werr
	return nil
}

// frame is the events of one audit entry, written as one chunk.
func (s *Streamer) frame(ctx context.Context, e store.AuditEntry) ([]byte, error) {
	var b bytes.Buffer
	if err := event(&b, "audit", e.Seq, AuditOf(e)); err != nil {
		return nil, err
	}
	steps, err := s.stepsOf(ctx, e)
	if err != nil {
		return nil, err
	}
	for _, st := range steps {
		if err := event(&b, "step", e.Seq, st); err != nil {
			return nil, err
		}
	}
	if tr, ok := TracingOf(e); ok {
		if err := event(&b, "tracing", e.Seq, tr); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

// stepsOf are the step transitions an entry records. A rollback marks
// every step it undid skipped in one go, audited as run.rolled-back.
func (s *Streamer) stepsOf(ctx context.Context, e store.AuditEntry) ([]Step, error) {
	if st, ok := StepOf(e); ok {
		return []Step{st}, nil
	}
	if e.Action != "run.rolled-back" {
		return nil, nil
	}
	stored, err := s.Store.Steps(ctx, e.IncidentID)
	if err != nil {
		return nil, err
	}
	var out []Step
	for _, st := range stored {
		if st.State == "skipped" {
			out = append(out, Step{Seq: e.Seq, Time: e.Time, Step: st.StepID, State: st.State, Actor: e.Actor})
		}
	}
	return out, nil
}

// event writes one SSE event. JSON has no raw newlines, so data is one
// line.
func event(b *bytes.Buffer, name string, id int64, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	fmt.Fprintf(b, "event: %s\nid: %d\ndata: %s\n\n", name, id, data)
	return nil
}
