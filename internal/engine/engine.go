// Package engine executes a plan against real systems, durably: each
// step's state is written to the store before its side effect and again
// after it, and every step is idempotent, so a run killed at any point
// and started again with --resume finishes the plan without a second
// credential, an orphaned login or a lost secret. A new secret is sealed
// (AES-256-GCM) in the store before the system sees it and wiped once
// every consumer that needs it is verified.
//
// The state machine of one step:
//
//	pending ──▶ running ──▶ done
//	   │           └──────▶ failed ──(resume)──▶ running
//	   ├──▶ waiting-approval ──(approve)──▶ pending
//	   └──▶ waiting-window ──(window opens)──▶ running
//	skipped: a dry run, or rolled back before it ran
//
// A step runs only when every step it needs is done. A failed verify
// therefore holds back the revoke that needs it: in graceful and split
// plans the old credential keeps working until every consumer is proven
// on its replacement. Steps on other branches still run, and steps whose
// needs are done run side by side (Deps.Parallel), so consumers are
// replaced together rather than one after another.
//
// Everything the engine does is appended to the audit log with the actor.
package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	actorpkg "github.com/rekeyhq/rekey/internal/actor"
	"github.com/rekeyhq/rekey/internal/audit"
	"github.com/rekeyhq/rekey/internal/deliver"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/logs"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
)

// Step states (DESIGN's run JSON).
const (
	Pending         = "pending"
	Running         = "running"
	WaitingApproval = "waiting-approval"
	WaitingWindow   = "waiting-window"
	Done            = "done"
	Failed          = "failed"
	Skipped         = "skipped"
)

// Deps is what the engine acts through. The CLI builds them from the
// inventory; tests build them on real servers.
type Deps struct {
	Store     store.Store
	Audit     *audit.Log
	Inventory *inventory.Inventory
	Sealer    *secret.Sealer
	// Provider returns the (cached) provider for an inventory system.
	Provider func(ctx context.Context, system string) (provider.Provider, error)
	// Target returns the delivery target of a consumer with a delivery.
	Target func(c *inventory.Consumer) (deliver.Target, error)
	Actor  string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Out receives one line per step event, for a person watching; nil
	// is quiet.
	Out io.Writer
	// Generate makes a new secret (secret.Generate(32) when nil).
	Generate func() (secret.Secret, error)
	// SeenTimeout bounds how long verify waits for the system to show a
	// session of the new login (default 20s); HealthRetry bounds the
	// consumer's health check.
	SeenTimeout time.Duration
	HealthRetry deliver.Retry
	// Logins, when set, returns the successful logins of login (a user
	// name) on system recorded at or after since in the system's
	// connection logs (the inventory's logs:), for verifying consumers
	// that hold no session open.
	Logins func(ctx context.Context, system, login string, since time.Time) ([]logs.Event, error)
	// Parallel bounds how many independent steps run at once (default 8;
	// 1 runs them one after the other, in plan order).
	Parallel int
	// Failpoint, when set, is called at each step boundary ("before" and
	// "after" the side effect). Crash tests use it to kill the process at
	// an exact point; it is nil in normal runs.
	Failpoint func(stepID, phase string)
	// Masker cleans everything the engine stores, audits or prints, and
	// the output of consumers' commands. The caller registers what it
	// holds (admin credentials, the leaked secret when it was given);
	// the engine adds the incident's fingerprint (so the leaked secret is
	// masked even when its value is not at hand), what the consumers'
	// targets hold, and each new and previous secret as it meets them.
	// Nil: a Masker without fingerprints.
	Masker *secret.Masker
	// DropEnv names variables the consumers' commands must not inherit
	// (the one --secret-env read the leaked secret from).
	DropEnv []string
	// Leases returns the broker's leases, for the revoke-leases and
	// move-to-lease steps; nil when the inventory has no broker.
	Leases func(ctx context.Context) (Leases, error)
	// Leaked is the leaked secret when the caller holds it (respond is
	// given it): a system that revokes some credentials only by their
	// value (provider.SecretRevoker: a GitHub personal token of someone
	// else) is given it by the revoke step. Zero otherwise.
	Leaked secret.Secret
}

// StepResult is one step in the run JSON.
type StepResult struct {
	ID       string     `json:"id"`
	Kind     plan.Kind  `json:"kind"`
	Target   string     `json:"target"`
	State    string     `json:"state"`
	Started  *time.Time `json:"started,omitempty"`
	Finished *time.Time `json:"finished,omitempty"`
	Error    string     `json:"error,omitempty"`
	// Detail says what the step did or is waiting for.
	Detail string `json:"detail,omitempty"`
}

// Result is the run JSON: {state, steps}.
type Result struct {
	Incident string       `json:"incident"`
	Strategy string       `json:"strategy"`
	State    string       `json:"state"`
	Steps    []StepResult `json:"steps"`
}

// Engine runs one incident's plan.
type Engine struct {
	d   Deps
	inc store.Incident
	p   *plan.Plan
}

// New loads the incident's stored plan.
func New(ctx context.Context, d Deps, incident string) (*Engine, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Generate == nil {
		d.Generate = func() (secret.Secret, error) { return secret.Generate(32) }
	}
	if d.SeenTimeout == 0 {
		d.SeenTimeout = 20 * time.Second
	}
	if d.Out == nil {
		d.Out = io.Discard
	}
	if d.Masker == nil {
		d.Masker = secret.NewMasker(nil)
	}
	inc, err := d.Store.GetIncident(ctx, incident)
	if err != nil {
		return nil, err
	}
	d.Masker.AddFingerprint(inc.Fingerprint)
	sp, ok, err := d.Store.GetPlan(ctx, incident)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errs.New("run", errs.NotFound, incident, "the incident has no plan; run `rekey incident plan "+incident+"` first")
	}
	var p plan.Plan
	if err := json.Unmarshal(sp.Body, &p); err != nil {
		return nil, errs.E("run", errs.Invalid, incident, fmt.Errorf("stored plan: %w", err))
	}
	if err := p.Validate(); err != nil {
		return nil, errs.E("run", errs.Invalid, incident, err)
	}
	return &Engine{d: d, inc: inc, p: &p}, nil
}

// Plan is the plan the engine runs.
func (e *Engine) Plan() *plan.Plan { return e.p }

func (e *Engine) audit(ctx context.Context, action string, detail any) error {
	if e.d.Audit == nil {
		return nil
	}
	_, err := e.d.Audit.Append(ctx, e.d.Actor, action, e.inc.ID, e.maskJSON(detail))
	return err
}

// maskJSON is v as JSON with every secret the Masker knows masked: step
// errors and results quote what consumers' commands and systems said.
func (e *Engine) maskJSON(v any) json.RawMessage {
	b := resultJSON(v)
	if m := e.d.Masker.Mask(string(b)); m != string(b) && json.Valid([]byte(m)) {
		return json.RawMessage(m)
	}
	return b
}

func (e *Engine) say(format string, a ...any) {
	fmt.Fprint(e.d.Out, e.d.Masker.Mask(fmt.Sprintf("rekey: "+format+"\n", a...)))
}

// learn registers with the Masker what every consumer's target holds now:
// the leaked secret, or a previous one, that a consumer's command may
// print. A target that cannot be read is the steps' concern, not this.
func (e *Engine) learn(ctx context.Context) {
	if e.d.Inventory == nil || e.d.Target == nil {
		return
	}
	for i := range e.d.Inventory.Consumers {
		c := &e.d.Inventory.Consumers[i]
		if c.Deliver == nil {
			continue
		}
		if t, err := e.d.Target(c); err == nil {
			if cur, err := t.Current(ctx); err == nil {
				e.d.Masker.Add(cur.Secret)
			}
		}
	}
}

// states reads the stored step states, pending for those never written.
func (e *Engine) states(ctx context.Context) (map[string]store.Step, error) {
	stored, err := e.d.Store.Steps(ctx, e.inc.ID)
	if err != nil {
		return nil, err
	}
	out := map[string]store.Step{}
	for _, st := range stored {
		out[st.StepID] = st
	}
	for _, st := range e.p.Steps {
		if _, ok := out[st.ID]; !ok {
			out[st.ID] = store.Step{StepID: st.ID, State: Pending}
		}
	}
	return out, nil
}

// Status returns the run as stored, without running anything.
func (e *Engine) Status(ctx context.Context) (Result, error) {
	states, err := e.states(ctx)
	if err != nil {
		return Result{}, err
	}
	sp, _, err := e.d.Store.GetPlan(ctx, e.inc.ID)
	if err != nil {
		return Result{}, err
	}
	return e.result(states, sp.RunState), nil
}

// StatusOf is Status for a caller that has read the incident and its
// stored plan already (GET /incidents/{id}, from its snapshot): only
// the steps are read, where New and Status would read the incident once
// and the plan twice again.
func StatusOf(ctx context.Context, st store.Store, inc store.Incident, sp store.Plan) (Result, error) {
	var p plan.Plan
	if err := json.Unmarshal(sp.Body, &p); err != nil {
		return Result{}, errs.E("run", errs.Invalid, inc.ID, fmt.Errorf("stored plan: %w", err))
	}
	if err := p.Validate(); err != nil {
		return Result{}, errs.E("run", errs.Invalid, inc.ID, err)
	}
	e := &Engine{d: Deps{Store: st}, inc: inc, p: &p}
	states, err := e.states(ctx)
	if err != nil {
		return Result{}, err
	}
	return e.result(states, sp.RunState), nil
}

func (e *Engine) result(states map[string]store.Step, runState string) Result {
	r := Result{Incident: e.inc.ID, Strategy: string(e.p.Strategy), State: runState, Steps: []StepResult{}}
	for _, st := range e.p.Steps {
		s := states[st.ID]
		sr := StepResult{ID: st.ID, Kind: st.Kind, Target: st.Target, State: s.State, Started: s.Started, Finished: s.Finished, Error: s.Error}
		var res map[string]any
		if json.Unmarshal(s.Result, &res) == nil {
			if d, ok := res["detail"].(string); ok {
				sr.Detail = d
			}
		}
		r.Steps = append(r.Steps, sr)
	}
	return r
}

// ErrWaiting is returned (wrapped) by Run when the run stopped to wait
// for an approval or a change window: exit status 3.
var ErrWaiting = errors.New("waiting")

// ErrStepFailed is returned (wrapped) when a step failed: exit status 1.
var ErrStepFailed = errors.New("a step failed")

// Run executes every step whose needs are done, in plan order, until
// nothing more can run. It returns the run and, when the run is not
// done, an error wrapping ErrWaiting or ErrStepFailed that names the
// steps holding it up.
func (e *Engine) Run(ctx context.Context) (Result, error) {
	e.learn(ctx)
	if err := e.audit(ctx, "run.start", map[string]string{"strategy": string(e.p.Strategy)}); err != nil {
		return Result{}, err
	}
	if err := e.d.Store.SetRunState(ctx, e.inc.ID, store.RunRunning); err != nil {
		return Result{}, err
	}
	states, err := e.states(ctx)
	if err != nil {
		return Result{}, err
	}
	// A step that failed is tried again by the next run (--resume after
	// the fix), but once only in this one.
	tried := map[string]bool{}
	for {
		// A wave is every step whose needs are done: independent branches
		// (each consumer's issue, deliver, verify) run side by side, so the
		// last consumer of an emergency run waits for the others no longer.
		var wave []int
		for i := range e.p.Steps {
			st := &e.p.Steps[i]
			cur := states[st.ID]
			if cur.State == Done || cur.State == Skipped || tried[st.ID] && cur.State == Failed {
				continue
			}
			if e.ready(st, states) {
				tried[st.ID] = true
				wave = append(wave, i)
			}
		}
		if len(wave) == 0 {
			break
		}
		next, err := e.runWave(ctx, wave, states)
		if err != nil {
			return Result{}, err // the store or the audit log failed: stop at once
		}
		progressed := false
		for k, i := range wave {
			id := e.p.Steps[i].ID
			if next[k].State == Done && states[id].State != Done {
				progressed = true
			}
			states[id] = next[k]
		}
		if !progressed {
			break
		}
	}
	return e.finish(ctx, states)
}

// runWave runs the steps of a wave concurrently (at most Deps.Parallel at
// once) and returns their new states in wave order. A panic in a step (a
// crash test's failpoint) is raised again here once the others are done,
// as the crash of the whole process it stands for.
func (e *Engine) runWave(ctx context.Context, wave []int, states map[string]store.Step) ([]store.Step, error) {
	out := make([]store.Step, len(wave))
	errs := make([]error, len(wave))
	limit := e.d.Parallel
	if limit <= 0 {
		limit = 8
	}
	sem := make(chan struct{}, limit)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		panicked any
	)
	for k, i := range wave {
		st := &e.p.Steps[i]
		cur := states[st.ID]
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			defer func() {
				if r := recover(); r != nil {
					mu.Lock()
					if panicked == nil {
						panicked = r
					}
					mu.Unlock()
				}
			}()
			out[k], errs[k] = e.step(ctx, st, cur)
		}()
	}
	wg.Wait()
	if panicked != nil {
		panic(panicked)
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (e *Engine) ready(st *plan.Step, states map[string]store.Step) bool {
	for _, n := range st.Needs {
		if states[n].State != Done {
			return false
		}
	}
	return true
}

func (e *Engine) finish(ctx context.Context, states map[string]store.Step) (Result, error) {
	if err := e.sweep(ctx, states); err != nil {
		return Result{}, err
	}
	if err := e.forgetRunKey(ctx); err != nil {
		return Result{}, err
	}
	var failed, waiting []string
	done := true
	for _, st := range e.p.Steps {
		switch states[st.ID].State {
		case Failed:
			failed = append(failed, st.ID+": "+states[st.ID].Error)
		case WaitingApproval, WaitingWindow:
			waiting = append(waiting, st.ID+" ("+states[st.ID].State+")")
		}
		if s := states[st.ID].State; s != Done && s != Skipped {
			done = false
		}
	}
	runState := store.RunDone
	var err error
	switch {
	case len(failed) > 0:
		runState = store.RunFailed
		err = fmt.Errorf("%w: %s", ErrStepFailed, strings.Join(failed, "; "))
	case len(waiting) > 0:
		runState = store.RunWaiting
		err = fmt.Errorf("%w for %s", ErrWaiting, strings.Join(waiting, ", "))
	case !done:
		runState = store.RunFailed
		err = fmt.Errorf("%w: some steps could not run", ErrStepFailed)
	}
	if serr := e.d.Store.SetRunState(ctx, e.inc.ID, runState); serr != nil {
		return Result{}, serr
	}
	if aerr := e.audit(ctx, "run."+runState, nil); aerr != nil {
		return Result{}, aerr
	}
	return e.result(states, runState), err
}

// step takes one step as far as it can go now. Its returned error is
// only for the store or the audit log failing; a failing side effect is
// a Failed state.
func (e *Engine) step(ctx context.Context, st *plan.Step, cur store.Step) (store.Step, error) {
	if st.Approval != "" && cur.ApprovedBy == "" {
		if cur.State != WaitingApproval {
			cur.State = WaitingApproval
			cur.Result = resultJSON(map[string]any{"detail": "waiting for `rekey incident approve " + e.inc.ID + " " + st.ID + "` (" + st.Approval + ")"})
			if err := e.put(ctx, cur, "step.waiting-approval", map[string]string{"step": st.ID, "reason": st.Approval}); err != nil {
				return cur, err
			}
			e.say("%s waits for an approval (%s)", st.ID, st.Approval)
		}
		return cur, nil
	}
	if st.Kind == plan.WaitWindow {
		if w, open := e.windowOpen(st); !open {
			if cur.State != WaitingWindow {
				start, _ := w.Next(e.d.Now())
				cur.State = WaitingWindow
				cur.Result = resultJSON(map[string]any{"detail": "next window opens " + start.Format(time.RFC3339)})
				if err := e.put(ctx, cur, "step.waiting-window", map[string]string{"step": st.ID, "opens": start.Format(time.RFC3339)}); err != nil {
					return cur, err
				}
				e.say("%s waits for the change window %s (opens %s)", st.ID, st.Window, start.Format(time.RFC3339))
			}
			return cur, nil
		}
	}
	// Write ahead: the step is running before anything is touched, so a
	// crash from here on leaves a step that --resume runs again.
	now := e.d.Now()
	cur.State, cur.Error, cur.Finished = Running, "", nil
	cur.Attempts++
	cur.Started = &now
	// When an issue first began, kept by every retry: a system that
	// generates secrets removes what it created since then and rekey
	// never sealed (see generate).
	if st.Kind == plan.Issue && beganAt(cur).IsZero() {
		cur.Result = resultJSON(map[string]any{"began": now})
	}
	if err := e.put(ctx, cur, "step.running", map[string]any{"step": st.ID, "kind": st.Kind, "target": st.Target, "attempt": cur.Attempts}); err != nil {
		return cur, err
	}
	e.say("%s: %s", st.ID, st.Summary)
	e.failpoint(st.ID, "before")
	res, err := e.do(ctx, st, cur)
	e.failpoint(st.ID, "after")
	fin := e.d.Now()
	cur.Finished = &fin
	if err != nil {
		cur.State, cur.Error = Failed, e.d.Masker.Mask(err.Error())
		if perr := e.put(ctx, cur, "step.failed", map[string]string{"step": st.ID, "error": cur.Error}); perr != nil {
			return cur, perr
		}
		e.say("%s failed: %s", st.ID, cur.Error)
		return cur, nil
	}
	cur.State, cur.Result = Done, e.maskJSON(res)
	if perr := e.put(ctx, cur, "step.done", map[string]any{"step": st.ID, "result": res}); perr != nil {
		return cur, perr
	}
	if st.Kind == plan.Verify {
		states, err := e.states(ctx)
		if err != nil {
			return cur, err
		}
		return cur, e.sweep(ctx, states)
	}
	return cur, nil
}

func (e *Engine) failpoint(id, phase string) {
	if e.d.Failpoint != nil {
		e.d.Failpoint(id, phase)
	}
}

func (e *Engine) put(ctx context.Context, s store.Step, action string, detail any) error {
	if err := e.d.Store.PutStep(ctx, e.inc.ID, s); err != nil {
		return err
	}
	return e.audit(ctx, action, detail)
}

func resultJSON(v any) json.RawMessage {
	if v == nil {
		return json.RawMessage("{}")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("{}")
	}
	return b
}

func (e *Engine) windowOpen(st *plan.Step) (*inventory.Window, bool) {
	w, err := inventory.ParseWindow(st.Window)
	if err != nil {
		return nil, true // validated when the inventory was loaded
	}
	return w, w.Contains(e.d.Now())
}

// Approve records that actor approved step. The actor must not be the
// one who opened the incident (separation of duties). A supply-secret
// step is approved only with its secret (ApproveSecret).
func (e *Engine) Approve(ctx context.Context, stepID, actor, opener string) error {
	return e.approve(ctx, stepID, actor, opener, nil)
}

// ApproveSecret records actor's approval of a supply-secret step with the
// new secret they created, which is sealed before the approval is
// recorded (the first secret handed in wins: a second approval keeps it).
func (e *Engine) ApproveSecret(ctx context.Context, stepID, actor, opener string, s secret.Secret) error {
	if s.IsZero() {
		return errs.New("approve", errs.Invalid, e.inc.ID, "the new secret is empty")
	}
	return e.approve(ctx, stepID, actor, opener, &s)
}

func (e *Engine) approve(ctx context.Context, stepID, actor, opener string, supplied *secret.Secret) error {
	st := e.p.Step(stepID)
	if st == nil {
		return errs.New("approve", errs.NotFound, e.inc.ID, "the plan has no step "+stepID)
	}
	if st.Approval == "" {
		return errs.New("approve", errs.Invalid, e.inc.ID, "step "+stepID+" does not wait for an approval")
	}
	switch {
	case st.Kind == plan.Supply && supplied == nil:
		return errs.New("approve", errs.Invalid, e.inc.ID, "step "+stepID+" waits for the new secret a person created: approve it with --secret-file F or --secret-stdin")
	case st.Kind != plan.Supply && supplied != nil:
		return errs.New("approve", errs.Invalid, e.inc.ID, "step "+stepID+" takes no secret: only a supply-secret step does")
	}
	if actor == "" {
		return errs.New("approve", errs.Invalid, e.inc.ID, "an approval needs a name (--as NAME)")
	}
	// Compared by key, stored as given: "alice " and "Alice" are alice.
	if _, err := actorpkg.Key(actor); err != nil {
		return errs.E("approve", errs.Invalid, e.inc.ID, err)
	}
	if actorpkg.Same(actor, opener) {
		return errs.New("approve", errs.Permission, e.inc.ID,
			fmt.Sprintf("%s opened this incident and cannot also approve its steps; another person must (--as NAME)", actor))
	}
	if supplied != nil {
		if e.d.Sealer == nil {
			return errs.New("approve", errs.Invalid, e.inc.ID, "no sealing key to keep the new secret with")
		}
		if _, err := e.sealOnce(ctx, loginSlot(st.System, st.Login), func() (secret.Secret, error) { return *supplied, nil }); err != nil {
			return err
		}
	}
	states, err := e.states(ctx)
	if err != nil {
		return err
	}
	cur := states[stepID]
	if cur.ApprovedBy != "" {
		return nil
	}
	now := e.d.Now()
	cur.ApprovedBy, cur.ApprovedAt = actor, &now
	if cur.State == WaitingApproval {
		cur.State = Pending
	}
	if err := e.d.Store.PutStep(ctx, e.inc.ID, cur); err != nil {
		return err
	}
	if e.d.Audit != nil {
		_, err = e.d.Audit.Append(ctx, actor, "step.approved", e.inc.ID, map[string]string{"step": stepID, "reason": st.Approval})
	}
	return err
}

// Rollback removes what the run issued and puts each consumer's target
// back as it was, as long as the leaked credential has not been revoked:
// after that, going back would leave consumers with a dead secret, and
// the way out is forward (--resume). Steps that never ran are skipped.
func (e *Engine) Rollback(ctx context.Context) (Result, error) {
	const op = "rollback"
	e.learn(ctx)
	states, err := e.states(ctx)
	if err != nil {
		return Result{}, err
	}
	for _, st := range e.p.Steps {
		if st.Kind == plan.Revoke && states[st.ID].State != Pending && states[st.ID].State != WaitingApproval {
			return Result{}, errs.New(op, errs.Invalid, e.inc.ID, fmt.Sprintf(
				"step %s has run: the leaked credential is revoked, so rolling back would leave consumers without a working one; finish with `rekey incident run %s --resume`", st.ID, e.inc.ID))
		}
	}
	if err := e.audit(ctx, "rollback.start", nil); err != nil {
		return Result{}, err
	}
	attempted := func(id string) bool {
		s := states[id].State
		return s == Running || s == Done || s == Failed
	}
	// Consumers first, newest first: each gets its original back before
	// the login it was moved to disappears.
	for i := len(e.p.Steps) - 1; i >= 0; i-- {
		st := &e.p.Steps[i]
		if st.Kind != plan.Deliver || !attempted(st.ID) {
			continue
		}
		if err := e.restore(ctx, st); err != nil {
			return Result{}, fmt.Errorf("rollback %s: %w", st.ID, err)
		}
		if err := e.audit(ctx, "rollback.restored", map[string]string{"step": st.ID, "consumer": st.Consumer}); err != nil {
			return Result{}, err
		}
	}
	for i := len(e.p.Steps) - 1; i >= 0; i-- {
		st := &e.p.Steps[i]
		if st.Kind != plan.Issue || !attempted(st.ID) {
			continue
		}
		if err := e.unissue(ctx, st); err != nil {
			return Result{}, fmt.Errorf("rollback %s: %w", st.ID, err)
		}
		if err := e.audit(ctx, "rollback.removed", map[string]string{"step": st.ID, "login": st.Login}); err != nil {
			return Result{}, err
		}
	}
	names, err := e.d.Store.SealedNames(ctx, e.inc.ID)
	if err != nil {
		return Result{}, err
	}
	for _, n := range names {
		if err := e.d.Store.Wipe(ctx, e.inc.ID, n); err != nil {
			return Result{}, err
		}
	}
	if err := e.forgetRunKey(ctx); err != nil {
		return Result{}, err
	}
	for _, st := range e.p.Steps {
		cur := states[st.ID]
		if cur.State != Done {
			cur.State = Skipped
			if err := e.d.Store.PutStep(ctx, e.inc.ID, cur); err != nil {
				return Result{}, err
			}
			states[st.ID] = cur
		}
	}
	if err := e.d.Store.SetRunState(ctx, e.inc.ID, store.RunRolledBack); err != nil {
		return Result{}, err
	}
	if err := e.audit(ctx, "run.rolled-back", nil); err != nil {
		return Result{}, err
	}
	return e.result(states, store.RunRolledBack), nil
}

// Action is what a dry run says one step would do.
type Action struct {
	Step   string    `json:"step"`
	Kind   plan.Kind `json:"kind"`
	State  string    `json:"state"`
	System string    `json:"system,omitempty"`
	Target string    `json:"target"`
	// What is the step's summary; Change, for a delivery, the exact edits
	// (file:line, key, which parts), free of secrets.
	What     string `json:"what"`
	Change   string `json:"change,omitempty"`
	Approval string `json:"approval,omitempty"`
}

// DryRun says what Run would do to which system and file, reading the
// targets but changing nothing: not the systems, not the files, not the
// store.
func (e *Engine) DryRun(ctx context.Context) ([]Action, error) {
	states, err := e.states(ctx)
	if err != nil {
		return nil, err
	}
	// A stand-in value: Plan compares it with what the target holds to
	// say which parts change; it is never written.
	placeholder := secret.FromString("rekey-dry-run-placeholder")
	var out []Action
	for _, st := range e.p.Steps {
		a := Action{Step: st.ID, Kind: st.Kind, State: states[st.ID].State, System: st.System, Target: st.Target,
			What: st.Summary, Approval: st.Approval}
		if a.State == Done || a.State == Skipped {
			out = append(out, a)
			continue
		}
		if st.Kind == plan.Deliver {
			c, err := e.consumer(&st)
			if err != nil {
				return nil, err
			}
			t, err := e.d.Target(c)
			if err != nil {
				return nil, err
			}
			v := deliver.Value{Secret: placeholder}
			switch {
			case st.Generated:
				v.User = "rekey-dry-run-new-key-id" // the system names the new key when it makes it
			case st.Login != st.Identity:
				v.User = userPart(st.Login)
			}
			ch, err := t.Plan(ctx, v)
			if err != nil {
				return nil, fmt.Errorf("dry run %s: %w", st.ID, err)
			}
			a.Change = ch.String()
			if c.Reload != "" {
				a.Change += "\nthen run: " + c.Reload
			}
		}
		if st.Kind == plan.Verify {
			if c := e.d.Inventory.ConsumerByName(st.Consumer); c != nil && c.Health != "" {
				a.Change = "health check: " + c.Health
			}
		}
		out = append(out, a)
	}
	return out, nil
}

// RotatedAt is when the incident's leaked secret stopped working: the
// earliest finished revoke of the identity, or of an in-place issue that
// replaced its password. Zero when neither has run.
func RotatedAt(ctx context.Context, s store.Store, incident string) (time.Time, error) {
	sp, ok, err := s.GetPlan(ctx, incident)
	if err != nil || !ok {
		return time.Time{}, err
	}
	var p plan.Plan
	if err := json.Unmarshal(sp.Body, &p); err != nil {
		return time.Time{}, errs.E("rotated at", errs.Invalid, incident, err)
	}
	steps, err := s.Steps(ctx, incident)
	if err != nil {
		return time.Time{}, err
	}
	done := map[string]time.Time{}
	for _, st := range steps {
		if st.State == Done && st.Finished != nil {
			done[st.StepID] = *st.Finished
		}
	}
	var at time.Time
	for _, st := range p.Steps {
		// A generated key added in place leaves the leaked one working.
		kills := st.Kind == plan.Revoke || st.Kind == plan.Issue && st.Login == st.Identity && !st.Generated
		if t, ok := done[st.ID]; kills && ok && (at.IsZero() || t.Before(at)) {
			at = t
		}
	}
	return at, nil
}
