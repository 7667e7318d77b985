package watcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/rekeyhq/rekey/internal/engine"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/review"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/watch"
)

// ReviewPhase is the phase the watcher's findings are stored under, with
// the incident's other reviews (so the report shows them).
const ReviewPhase = "watch"

// maxStoredFindings bounds the findings kept in an incident's watch
// review; later ones are counted in its notes.
const maxStoredFindings = 200

type actor struct {
	cfg   Config
	d     incident.Deps
	judge *watch.Judge

	mu        sync.Mutex
	contained map[string]bool // incidents whose containment this process began
	unknown   map[string]bool // credentials already warned about
	wg        sync.WaitGroup
}

func newActor(cfg Config, j *watch.Judge) *actor {
	return &actor{cfg: cfg, d: cfg.Deps, judge: j, contained: map[string]bool{}, unknown: map[string]bool{}}
}

func (a *actor) say(format string, args ...any) {
	if a.cfg.Say != nil {
		a.cfg.Say(format, args...)
	}
}

func (a *actor) warn(line string) {
	if a.cfg.Warn != nil {
		a.cfg.Warn(line)
	}
}

// wait waits for the containments started.
func (a *actor) wait() { a.wg.Wait() }

// handler acts on the findings of a source of the given log format ("" when
// each file's format is detected). It returns once every finding that
// opens or joins an incident is stored with it: only then is the batch
// recorded as consumed. A containment is decided and audited before it
// returns, and runs on after it.
func (a *actor) handler(format string) func(ctx context.Context, b watch.Batch, fs []watch.Finding) error {
	return func(ctx context.Context, b watch.Batch, fs []watch.Finding) error {
		w := a.cfg.Inventory.Watch
		for _, f := range fs {
			if !w.Triggers(f.Kind) {
				continue
			}
			ref, ok := a.identity(f, format)
			if !ok {
				continue
			}
			if err := a.act(ctx, ref, f, w.Contains(f.Kind)); err != nil {
				return err
			}
		}
		return nil
	}
}

// identity is whom a finding is about, when rekey can answer for it: the
// canary or revoked login the finding names, or the inventory identity of
// that name (in the system the log's format belongs to when the name is
// in several).
func (a *actor) identity(f watch.Finding, format string) (store.IdentityRef, bool) {
	switch {
	case f.Canary != nil:
		return store.IdentityRef{System: f.Canary.System, Name: f.Canary.Login}, true
	case f.Revoked != nil:
		return store.IdentityRef{System: f.Revoked.System, Name: f.Revoked.Login}, true
	}
	inv := a.cfg.Inventory
	var found []*inventory.Identity
	for _, name := range []string{f.Credential, f.Identity, userOf(f.Credential)} {
		if name == "" {
			continue
		}
		for i := range inv.Identities {
			id := &inv.Identities[i]
			if id.Name == name && !contains(found, id) {
				found = append(found, id)
			}
		}
		if len(found) > 0 {
			break
		}
	}
	if len(found) > 1 && format != "" {
		var same []*inventory.Identity
		for _, id := range found {
			if sys := inv.SystemByName(id.System); sys != nil && systemOfFormat(format) == sys.Type {
				same = append(same, id)
			}
		}
		found = same
	}
	if len(found) == 1 {
		return store.IdentityRef{System: found[0].System, Name: found[0].Name}, true
	}
	a.mu.Lock()
	first := !a.unknown[f.Credential]
	a.unknown[f.Credential] = true
	a.mu.Unlock()
	if first {
		why := "no identity of the inventory has that name"
		if len(found) > 1 {
			why = "several systems of the inventory have an identity of that name"
		}
		a.warn(fmt.Sprintf("watch: %s finding about %s not acted on: %s (%s)", f.Kind, f.Credential, why, f.Summary))
	}
	return store.IdentityRef{}, false
}

func contains(ids []*inventory.Identity, id *inventory.Identity) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// userOf is the user of a MySQL user@host.
func userOf(login string) string {
	u, _, _ := strings.Cut(login, "@")
	return u
}

// systemOfFormat is the system type whose logs a format is.
func systemOfFormat(format string) string {
	switch {
	case strings.HasPrefix(format, "postgres-"):
		return "postgres"
	case format == "mysql-general" || format == "mariadb-audit":
		return "mysql"
	case format == "cloudtrail":
		return inventory.TypeAWSIAM
	case format == "vault-audit":
		return inventory.TypeVault
	case format == "github-audit":
		return "github"
	case format == "k8s-audit":
		return "kubernetes"
	}
	return ""
}

// act opens or joins the identity's incident, stores the finding as its
// evidence, and starts the containment when asked.
func (a *actor) act(ctx context.Context, ref store.IdentityRef, f watch.Finding, contain bool) error {
	inv := a.cfg.Inventory
	inc, opened, err := incident.OpenForIdentity(ctx, a.d, incident.Watched{Identity: ref, Inventory: inv, InventoryBody: a.cfg.InventoryBody,
		Why: f.Summary, Kind: f.Kind, Key: keyOf(f)})
	if err != nil {
		return err
	}
	if err := a.record(ctx, inc.ID, f); err != nil {
		return err
	}
	ev := Event{Incident: inc.ID, Identity: ref, Owner: owner(inv, ref), Finding: f}
	if opened {
		a.say("incident %s opened for %s/%s: %s (%s)", inc.ID, ref.System, ref.Name, f.Kind, f.Severity)
		ev.Kind = EventOpened
		a.notify(ctx, ev)
	} else {
		a.say("incident %s (%s/%s): %s (%s)", inc.ID, ref.System, ref.Name, f.Kind, f.Severity)
	}
	if contain {
		return a.contain(ctx, inc.ID, ev)
	}
	return nil
}

// accessKeyID is a long-term AWS access key id, the only kind a plan
// revokes (an ASIA… key is a session's and ends with it).
var accessKeyID = regexp.MustCompile(`^AKIA[A-Z0-9]{16}$`)

// keyOf is the key a finding names, when its identity's credentials are
// keys: a key canary's, or the access key id a CloudTrail record names.
func keyOf(f watch.Finding) string {
	switch {
	case f.Canary != nil:
		return f.Canary.KeyID
	case accessKeyID.MatchString(f.Credential):
		return f.Credential
	}
	return ""
}

func owner(inv *inventory.Inventory, ref store.IdentityRef) string {
	id := inv.IdentityByName(ref.System + "/" + ref.Name)
	if id == nil {
		return ""
	}
	return strings.TrimSpace(id.Owner.Team + " " + id.Owner.Contact)
}

// record stores the finding with the incident: the finding in the
// incident's watch review, its evidence as events, and a line in the
// audit log. The review is appended to in one store transaction
// (Store.UpdateReview), so two watchers recording at once lose neither
// finding; a finding already there (the same kind and evidence, recorded
// by another watcher following the same log, or by this one before a
// crash) is not recorded again.
func (a *actor) record(ctx context.Context, id string, f watch.Finding) error {
	st := a.d.Store
	fresh := true
	err := st.UpdateReview(ctx, id, ReviewPhase, func(cur json.RawMessage) (json.RawMessage, error) {
		rep := review.Report{Credential: f.Credential, Findings: []review.Finding{}, Related: []review.Related{}, Timeline: []review.Moment{}, Notes: []string{}}
		if cur != nil {
			if err := json.Unmarshal(cur, &rep); err != nil {
				return nil, errs.E("watch", errs.Invalid, id, fmt.Errorf("stored watch review: %w", err))
			}
		}
		fresh = true
		for _, g := range rep.Findings {
			if sameFinding(g, f.Finding) {
				fresh = false
				return nil, nil
			}
		}
		rep.Events++
		if len(rep.Findings) < maxStoredFindings {
			rep.Findings = append(rep.Findings, f.Finding)
		} else {
			rep.Notes = []string{fmt.Sprintf("%d later findings are not kept here (the first %d are)", rep.Events-maxStoredFindings, maxStoredFindings)}
		}
		return json.Marshal(rep)
	})
	if err != nil || !fresh {
		return err
	}
	var evs []store.Event
	for _, e := range f.Evidence {
		evs = append(evs, store.Event{Time: e.Time, Credential: e.Credential, Source: e.Source, UserAgent: e.UserAgent, Application: e.Application,
			Action: e.Action, Outcome: e.Outcome, File: e.File, Line: e.Line})
	}
	if err := st.AddEvents(ctx, id, evs); err != nil {
		return err
	}
	var ev review.Evidence
	if len(f.Evidence) > 0 {
		ev = f.Evidence[0]
	}
	_, err = a.d.Audit.Append(ctx, a.d.Actor, "watch.finding", id, map[string]any{
		"kind": f.Kind, "severity": f.Severity, "credential": f.Credential, "source": ev.Source, "file": ev.File, "line": ev.Line})
	return err
}

// sameFinding reports whether a and b are one finding about one record:
// the same kind and subject, and the same evidence (file, line and
// offset, time, source). Evidence without a position (Redis's ACL LOG,
// whose folded repeats are alike in everything) never matches: each
// repeat is a use of its own.
func sameFinding(a, b review.Finding) bool {
	if a.Kind != b.Kind || a.Subject != b.Subject || len(a.Evidence) != len(b.Evidence) || len(a.Evidence) == 0 {
		return false
	}
	for i := range a.Evidence {
		x, y := a.Evidence[i], b.Evidence[i]
		if x.Line == 0 && x.Offset == 0 {
			return false
		}
		if x.File != y.File || x.Line != y.Line || x.Offset != y.Offset || !x.Time.Equal(y.Time) || x.Source != y.Source || x.Credential != y.Credential {
			return false
		}
	}
	return true
}

// contain decides the automatic containment of incident id and runs it in
// the background: the emergency plan, planned and run as the watcher.
// The decision is taken under the incident's claim, which is held until
// the run has ended: a second watcher (or a person) is refused the claim
// and leaves the incident alone, and one that gets the claim afterwards
// finds the first one's decision in the audit log. An incident is
// contained once: not when a watcher decided it before (whatever came of
// it), nor when a run of it has begun (whoever began it; a failed or
// waiting run is a person's to finish). The decision is audited before
// this returns; how it ended is audited and notified after.
func (a *actor) contain(ctx context.Context, id string, ev Event) error {
	a.mu.Lock()
	done := a.contained[id]
	a.mu.Unlock()
	if done {
		return nil
	}
	// The claim outlives this call (the run goes on in the background)
	// and a stopped watcher still finishes a containment it began.
	cctx, release, err := a.d.Claim(context.WithoutCancel(ctx), id)
	if errs.KindOf(err) == errs.Conflict {
		a.say("incident %s: held by another rekey, which contains it: %s", id, oneLine(err))
		return nil
	}
	if err != nil {
		return err
	}
	decided, err := a.decided(cctx, id)
	if err != nil || decided {
		release()
		if decided {
			a.mu.Lock()
			a.contained[id] = true
			a.mu.Unlock()
		}
		return err
	}
	f := ev.Finding
	if _, err := a.d.Audit.Append(cctx, a.d.Actor, "watch.contain", id, map[string]any{
		"automatic": true, "strategy": plan.Emergency, "reason": f.Kind, "severity": f.Severity, "summary": f.Summary}); err != nil {
		release() // not decided: the batch is read again
		return err
	}
	a.mu.Lock()
	a.contained[id] = true
	a.mu.Unlock()
	a.say("incident %s: containing %s/%s at once (%s is in watch.auto_contain)", id, ev.Identity.System, ev.Identity.Name, f.Kind)
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		state, err := a.runEmergency(cctx, id)
		release()
		ev.Detail = state
		ev.Kind = EventContained
		if err != nil {
			ev.Kind = EventContainFailed
			ev.Detail = strings.TrimSpace(state + ": " + oneLine(err))
			a.warn(fmt.Sprintf("watch: incident %s: automatic containment %s", id, ev.Detail))
		} else {
			a.say("incident %s: contained (run %s)", id, state)
		}
		bg := context.WithoutCancel(ctx)
		if err := a.judge.Refresh(bg); err != nil {
			a.warn("watch: reloading revoked logins: " + oneLine(err))
		}
		if _, err := a.d.Audit.Append(bg, a.d.Actor, "watch.contained", id, map[string]any{"automatic": true, "state": state, "ok": err == nil}); err != nil {
			a.warn("watch: audit: " + oneLine(err))
		}
		a.notify(bg, ev)
	}()
	return nil
}

// decided reports, under the incident's claim, whether its containment
// is not this watcher's to begin: a watcher decided it already (the
// audit log's watch.contain), or a run of it has begun.
func (a *actor) decided(ctx context.Context, id string) (bool, error) {
	sp, ok, err := a.d.Store.GetPlan(ctx, id)
	if err != nil {
		return false, err
	}
	if ok && sp.RunState != "" && sp.RunState != store.RunPlanned && sp.RunState != store.RunRolledBack {
		return true, nil
	}
	log, err := a.d.Store.IncidentAudit(ctx, id)
	if err != nil {
		return false, err
	}
	for _, e := range log {
		if e.Action == "watch.contain" {
			return true, nil
		}
	}
	return false, nil
}

// runEmergency plans and runs the emergency strategy, under the claim
// its caller holds; it returns the run's state.
func (a *actor) runEmergency(ctx context.Context, id string) (string, error) {
	// The caller holds the incident's claim: the run is given it.
	d := a.d
	d.Claim = func(ctx context.Context, _ string) (context.Context, func(), error) { return ctx, func() {}, nil }
	if _, err := incident.Plan(ctx, d, id, plan.Emergency); err != nil {
		return "not planned", err
	}
	out, err := incident.Run(ctx, d, id, incident.RunOptions{})
	state := out.Result.State
	switch {
	case errors.Is(err, engine.ErrWaiting):
		return state, fmt.Errorf("waits for a person: %w", err)
	case err != nil && state == "":
		return "not run", err
	}
	return state, err
}

func (a *actor) notify(ctx context.Context, ev Event) {
	if a.cfg.Notify == nil {
		return
	}
	if err := a.cfg.Notify(ctx, ev); err != nil {
		a.warn(fmt.Sprintf("watch: notifying %s of incident %s: %s", ev.Kind, ev.Incident, oneLine(err)))
	}
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }
