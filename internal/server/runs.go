package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/engine"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/events"
	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/remediate"
	"github.com/rekeyhq/rekey/internal/store"
)

// runs are the incident operations this server executes on its own
// goroutines, so that they outlive the request that started them: runs,
// rollbacks and remediations. One at a time per incident: a map answers
// for this process, the incident's claim (package claim) for every
// process sharing the store.
type runs struct {
	ctx    context.Context // ends at Shutdown
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	active map[string]activeRun
}

type activeRun struct {
	what, by string
	since    time.Time
	done     chan struct{} // closed at release
}

func newRuns() *runs {
	ctx, cancel := context.WithCancel(context.Background())
	return &runs{ctx: ctx, cancel: cancel, active: map[string]activeRun{}}
}

// reserve marks incident id as worked on by `by` doing what, or says who
// already is.
func (rs *runs) reserve(id, what, by string, now time.Time) error {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if a, ok := rs.active[id]; ok {
		return errs.New("", errs.Conflict, "", fmt.Sprintf("incident %s: a %s started by %s at %s is in progress", id, a.what, a.by, a.since.UTC().Format(time.RFC3339)))
	}
	if rs.ctx.Err() != nil {
		return &apiError{Status: http.StatusServiceUnavailable, Kind: "unavailable", Message: "the server is shutting down"}
	}
	rs.active[id] = activeRun{what: what, by: by, since: now, done: make(chan struct{})}
	rs.wg.Add(1)
	return nil
}

// stop cancels what rs executes and waits for it until ctx ends.
func (rs *runs) stop(ctx context.Context) error {
	rs.cancel()
	done := make(chan struct{})
	go func() { rs.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (rs *runs) release(id string) {
	rs.mu.Lock()
	if a, ok := rs.active[id]; ok {
		close(a.done)
	}
	delete(rs.active, id)
	rs.mu.Unlock()
	rs.wg.Done()
}

// settleWait bounds how long a start waits for an operation that has
// recorded its outcome but not yet let go of the incident.
const settleWait = 5 * time.Second

// settling reports whether incident id's run has recorded an outcome
// (waiting, done, failed): an operation still holding the incident then
// is finishing (notifications, releasing the claim), not working, and a
// start that finds it is worth a short wait rather than a 409 the client
// could do nothing about — GET …/run already said the run was over.
func (s *Server) settling(ctx context.Context, id string) bool {
	res, err := runStatus(ctx, s.cfg.Store, id)
	return err == nil && res.State != "" && res.State != store.RunRunning
}

// reserveSettled is runs.reserve that waits (up to settleWait) for an
// operation of this process that is only finishing.
func (s *Server) reserveSettled(ctx context.Context, id, what, by string) error {
	deadline := time.Now().Add(settleWait)
	for {
		err := s.runs.reserve(id, what, by, s.now())
		if err == nil || !isConflict(err) || time.Now().After(deadline) || !s.settling(ctx, id) {
			return err
		}
		s.runs.mu.Lock()
		a, ok := s.runs.active[id]
		s.runs.mu.Unlock()
		if !ok {
			continue
		}
		select {
		case <-a.done:
		case <-time.After(time.Until(deadline)):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// claimSettled takes the incident's claim, waiting (up to settleWait)
// while another process's operation that recorded its outcome lets go.
func (s *Server) claimSettled(ctx, base context.Context, d incident.Deps, id string) (context.Context, func(), error) {
	deadline := time.Now().Add(settleWait)
	for {
		cctx, release, err := d.Claim(base, id)
		if err == nil || !isConflict(err) || time.Now().After(deadline) || !s.settling(ctx, id) {
			return cctx, release, err
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

func isConflict(err error) bool { return asAPIError(err).Status == http.StatusConflict }

// registerRuns adds the routes that act on systems and the event stream.
func (s *Server) registerRuns() {
	s.runs = newRuns()
	s.hub = events.NewHub()
	if s.cfg.Runner != nil {
		s.runner = s.cfg.Runner(s.runFuncs())
	} else {
		s.runner = serverRunner{s: s, t: newLocalTracer(s.traceFunc())}
	}
	s.handle("POST", "/api/v1/incidents/{id}/run", auth.Respond,
		"Start (or continue) the incident's run; it goes on in the server after the response (202). A dry run answers with what each step would do.", s.startRun)
	s.handle("GET", "/api/v1/incidents/{id}/run", auth.Read, "The run: its state and each step's.", s.getRun)
	s.handle("POST", "/api/v1/incidents/{id}/rollback", auth.Respond,
		"Undo the run before its revoke: consumers' files back, issued logins removed.", s.rollback)
	s.handle("POST", "/api/v1/incidents/{id}/remediate", auth.Respond,
		"Remove the copies of the secret (the secret is held in memory for this request only).", s.remediate)
	s.handle("GET", "/api/v1/incidents/{id}/events", auth.Read,
		"Server-Sent Events: `audit`, `step` (a step of the run moved) and `tracing` (the fanned-out tracing started, finished a source, ended), each with id: the audit sequence; Last-Event-ID resumes.", s.events)
	s.describe("POST", "/api/v1/incidents/{id}/run", Doc{Request: runRequest{}, Response: runAnswer{}, Status: http.StatusAccepted,
		Also: map[int]string{http.StatusOK: "a dry run: what each step would do ({dry_run: true, steps: [...]})"}})
	s.describe("GET", "/api/v1/incidents/{id}/run", Doc{Response: engine.Result{}})
	s.describe("POST", "/api/v1/incidents/{id}/rollback", Doc{Response: engine.Result{}})
	s.describe("POST", "/api/v1/incidents/{id}/remediate", Doc{Request: remediateRequest{}, Response: remediate.Result{}})
	s.describe("GET", "/api/v1/incidents/{id}/events", Doc{Response: events.Step{}, Content: []string{"text/event-stream"},
		Query: []Param{{Name: "after", Description: "the audit sequence to resume after, for a first connection (Last-Event-ID wins)"}}})
}

// Shutdown cancels the runs this server executes and its event streams,
// and waits for the runs' goroutines until ctx ends. A run cut off
// mid-step is continued later with resume, as after a crash. Call it as
// the HTTP server shuts down (http.Server.RegisterOnShutdown), whose
// Shutdown would otherwise wait for the streams, which never end alone.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.runs == nil {
		return nil
	}
	s.runs.cancel()
	err := s.runner.Stop(ctx)
	if serr := s.runs.stop(ctx); err == nil {
		err = serr
	}
	return err
}

type runRequest struct {
	DryRun bool `json:"dry_run"`
	// Resume continues a run whose step was cut off mid-way (a crash, a
	// server shut down during a step).
	Resume bool `json:"resume"`
}

// runAnswer documents POST …/run's two answers in the one schema the
// OpenAPI document gives a route: the run JSON (202, engine.Result), or
// a dry run's (200, dryRunJSON), whose steps are engine.Actions.
type runAnswer struct {
	Incident string            `json:"incident,omitempty"`
	Strategy string            `json:"strategy,omitempty"`
	State    string            `json:"state,omitempty"`
	DryRun   bool              `json:"dry_run,omitempty"`
	Steps    []json.RawMessage `json:"steps"`
}

type dryRunJSON struct {
	DryRun bool            `json:"dry_run"`
	Steps  []engine.Action `json:"steps"`
}

func (s *Server) startRun(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	id := r.PathValue("id")
	var req runRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.DryRun {
		// Changes nothing and claims nothing: answered in the request.
		d, err := s.deps(r.Context(), p)
		if err != nil {
			return err
		}
		out, err := incident.Run(r.Context(), d, id, incident.RunOptions{DryRun: true})
		if err != nil {
			return runError(err)
		}
		writeJSON(w, http.StatusOK, dryRunJSON{DryRun: true, Steps: out.DryRun})
		return nil
	}
	// The run goes on after the response and after the client goes: on
	// this server's goroutines, or as a job of any replica's.
	if err := s.runner.Start(r.Context(), RunJob{Incident: id, By: p, Resume: req.Resume}); err != nil {
		return runError(err)
	}
	res, err := runStatus(r.Context(), s.cfg.Store, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, res)
	return nil
}

// detached runs op for incident id on its own goroutine with the
// server's context, the incident reserved in this process and claimed in
// the store, and waits until op calls started (the answer is then nil)
// or returns first (its error). Whatever the request does afterwards, op
// goes on until it is done or the server shuts down.
func (s *Server) detached(rctx context.Context, id, what string, p auth.Principal, op func(ctx context.Context, d incident.Deps, started func()) error) error {
	if err := s.reserveSettled(rctx, id, what, p.Name); err != nil {
		return err
	}
	reserved := true
	defer func() {
		if reserved {
			s.runs.release(id)
		}
	}()
	d, err := s.deps(s.runs.ctx, p)
	if err != nil {
		return err
	}
	if d.Claim == nil {
		return errors.New("the server was built without claims")
	}
	// Claimed here, before answering, so that a run held by another
	// process is a 409 now rather than a failure nobody reads.
	ctx, releaseClaim, err := s.claimSettled(rctx, s.runs.ctx, d, id)
	if err != nil {
		return err
	}
	d.Claim = func(ctx context.Context, _ string) (context.Context, func(), error) { return ctx, func() {}, nil }
	d.Progress = s.hub
	reserved = false // the goroutine releases it
	return handOff(rctx, func(started func()) error { return op(ctx, d, started) }, func() {
		releaseClaim()
		s.runs.release(id)
		s.hub.Poke()
	})
}

// handOff runs op on a goroutine of its own and waits until op calls
// started (the answer is then nil) or returns first (its error), or rctx
// ends. free runs once op returns, before its answer: the caller's next
// request must not find its own finished operation in the way.
func handOff(rctx context.Context, op func(started func()) error, free func()) error {
	answer := make(chan error, 1)
	var once sync.Once
	started := func() { once.Do(func() { answer <- nil }) }
	go func() {
		err := op(started)
		free()
		once.Do(func() { answer <- err })
	}()
	select {
	case err := <-answer:
		return err
	case <-rctx.Done():
		return rctx.Err()
	}
}

// execRun is one run in the server: Confirm (called once the preflight
// passed and before the first change) answers the request; the people
// concerned are notified of what the run asks of them as it goes.
func (s *Server) execRun(ctx context.Context, d incident.Deps, id string, resume bool, started func()) error {
	n := s.follow(ctx, d, id)
	began := false
	_, err := incident.Run(ctx, d, id, incident.RunOptions{
		Resume: resume,
		Confirm: func(context.Context, *plan.Plan) error {
			began = true
			started()
			return nil
		},
	})
	n.stop()
	switch {
	case err == nil, errors.Is(err, engine.ErrWaiting), errors.Is(err, engine.ErrStepFailed):
		return nil
	}
	if began {
		// Nobody waits for this answer any more: the log is where an
		// operator learns why a run stopped short (the store failed, the
		// claim was lost, the server shut down).
		s.warn("run " + id + ": " + oneLine(s.maskFor(d, id).Mask(err.Error())))
	}
	return err
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	res, err := runStatus(r.Context(), s.cfg.Store, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// runStatus is the run JSON as stored.
func runStatus(ctx context.Context, st store.Store, id string) (engine.Result, error) {
	e, err := engine.New(ctx, engine.Deps{Store: st}, id)
	if err != nil {
		return engine.Result{}, err
	}
	return e.Status(ctx)
}

func (s *Server) rollback(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	id := r.PathValue("id")
	if err := decode(r, &struct{}{}); err != nil {
		return err
	}
	var res engine.Result
	err := s.detached(r.Context(), id, "rollback", p, func(ctx context.Context, d incident.Deps, started func()) error {
		var err error
		res, err = incident.Rollback(ctx, d, id, nil)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

type remediateRequest struct {
	// Secret is the leaked secret, as incident open takes it: an AWS key
	// pair as KEY_ID:SECRET (or a credentials file's block) gives the key
	// id too, which the fix branch replaces beside the secret.
	Secret         string `json:"secret"`
	RewriteHistory bool   `json:"rewrite_history"`
}

func (s *Server) remediate(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	id := r.PathValue("id")
	var req remediateRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Secret == "" {
		return invalid("remediate needs the leaked secret: {\"secret\": \"…\"}")
	}
	raw := req.Secret
	req.Secret = ""
	leaked, err := incident.ParseLeaked([]byte(raw))
	if err != nil {
		return masked(err, raw)
	}
	held := leaked.Secret
	// Wiped by whoever is last to hold it: the remediation once it
	// started (it may outlive this request), else this handler.
	var began atomic.Bool
	var res *remediate.Result
	var runErr error
	err = s.detached(r.Context(), id, "remediation", p, func(ctx context.Context, d incident.Deps, started func()) error {
		began.Store(true)
		defer held.Wipe()
		d.Held = append(d.Held, held)
		res, runErr = incident.Remediate(ctx, d, id, incident.RemediateOptions{Secret: held, KeyID: leaked.KeyID, RewriteHistory: req.RewriteHistory})
		if res == nil {
			return runErr
		}
		return nil
	})
	if !began.Load() {
		held.Wipe()
	}
	if err != nil {
		return err
	}
	// A rewrite waiting for its approval is in the result (its task).
	writeJSON(w, http.StatusOK, res)
	return nil
}

// runError maps a refused run: a preflight's problems become the
// envelope's reasons, and the CLI's --resume is said as the API's.
func runError(err error) error {
	var pe *incident.PreflightError
	if errors.As(err, &pe) {
		return &apiError{Status: http.StatusBadRequest, Kind: "invalid",
			Message: "the preflight found problems; nothing was changed", Reasons: pe.Problems}
	}
	if ae := asAPIError(err); ae.Status == http.StatusBadRequest && strings.Contains(ae.Message, "--resume") {
		ae.Message = strings.ReplaceAll(ae.Message, "with --resume", `with {"resume": true}`)
		return ae
	}
	return err
}

func (s *Server) events(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	after, err := events.LastEventID(r)
	if err != nil {
		return err
	}
	return s.stream(w, r, r.PathValue("id"), after)
}

// StreamEvents streams incident id's events from where the client's
// Last-Event-ID (or ?after=) says, as web.Config.Events wants it: the
// caller has already checked that the request may read the incident.
func (s *Server) StreamEvents(w http.ResponseWriter, r *http.Request, id string) {
	after, err := events.LastEventID(r)
	if err == nil {
		err = s.stream(w, r, id, after)
	}
	if err != nil {
		ae := asAPIError(err)
		http.Error(w, ae.Message, ae.Status)
	}
}

// stream ends when its client goes or the server shuts down.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, id string, after int64) error {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.runs.ctx, cancel)
	defer stop()
	return s.Events().Stream(w, r.WithContext(ctx), id, after)
}

// Events is the server's event streamer, woken by its runs: the web UI's
// live step states stream through it as the API's do.
func (s *Server) Events() *events.Streamer {
	return &events.Streamer{Store: s.cfg.Store, Hub: s.hub, Poll: s.cfg.EventPoll}
}
