package report

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/audit"
	"github.com/rekeyhq/rekey/internal/engine"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/review"
	"github.com/rekeyhq/rekey/internal/scope"
	"github.com/rekeyhq/rekey/internal/store"
)

// Version is the version of the incident report's JSON shape
// (docs/formats.md). It changes only when a field is renamed or removed.
const Version = 1

// Incident is the report of one incident: everything rekey recorded about
// it, put in the order a reader asks for it. Its JSON is the contract of
// `rekey incident report --format json`. Every value in it was already
// secret-free in the store (previews, fingerprints, file:line evidence);
// building it adds nothing that could hold a secret.
type Incident struct {
	Version   int        `json:"version"`
	Incident  string     `json:"incident"`
	Generated time.Time  `json:"generated"`
	State     string     `json:"state"`
	Opened    time.Time  `json:"opened"`
	Closed    *time.Time `json:"closed,omitempty"`
	// ClosedBy and CloseReason say who closed the incident and why
	// (incident close --reason), from the audit log.
	ClosedBy    string `json:"closed_by,omitempty"`
	CloseReason string `json:"close_reason,omitempty"`
	// Facts are the moments that frame the incident.
	Facts     Facts           `json:"facts"`
	Timeline  []Moment        `json:"timeline"`
	Scope     scope.Scope     `json:"scope"`
	Copies    Copies          `json:"copies"`
	Response  Response        `json:"response"`
	Reviews   []ReviewPhase   `json:"reviews"`
	Remaining []RemainingRisk `json:"remaining_risk"`
	Standards []Control       `json:"standards"`
	Audit     AuditState      `json:"audit"`
	Usage     Usage           `json:"usage"`
}

// Facts are the key times of the incident; nil when not established.
type Facts struct {
	// LeakedAt is when the secret was first exposed.
	LeakedAt *time.Time `json:"leaked_at"`
	// FirstUnexplainedUse is the earliest use from a source no consumer
	// declares, in the scope or the reviews.
	FirstUnexplainedUse *time.Time `json:"first_unexplained_use"`
	UnexplainedSource   string     `json:"unexplained_source,omitempty"`
	// RevokedAt is when the leaked secret stopped working (the first
	// finished revoke, or in-place replacement of its password).
	RevokedAt *time.Time `json:"revoked_at"`
	// Exposure is RevokedAt − LeakedAt (or now − LeakedAt while the
	// secret still works), as Go duration text; empty without a leak time.
	Exposure string `json:"exposure,omitempty"`
}

// Moment is one line of the timeline: an audit entry (Source "audit",
// with its sequence number and actor) or a fact of the incident (Source
// "fact").
//
// A plan step's audit entries (started, waiting, retried, done or failed)
// are one moment, Source "step" and Action "step": Time and Started are
// its first entry's, Finished its last's when it ended, with its Outcome
// and Entries, the number of audit entries it stands for (Seq is the
// first's). Approvals stay moments of their own: a person's act.
type Moment struct {
	Time    time.Time `json:"time"`
	Source  string    `json:"source"`
	Seq     int64     `json:"seq,omitempty"`
	Actor   string    `json:"actor,omitempty"`
	Action  string    `json:"action"`
	Summary string    `json:"summary"`

	Step     string     `json:"step,omitempty"`
	Started  *time.Time `json:"started,omitempty"`
	Finished *time.Time `json:"finished,omitempty"`
	Duration string     `json:"duration,omitempty"`
	Outcome  string     `json:"outcome,omitempty"`
	Entries  int        `json:"entries,omitempty"`
}

// Copies are the places the secret was found, with their remediation.
type Copies struct {
	Total   int            `json:"total"`
	ByClass map[string]int `json:"by_class"`
	// Remaining are the copies still there (see copies), each with its
	// tasks.
	Remaining []Copy       `json:"remaining"`
	Tasks     []store.Task `json:"tasks"`
}

// Copy is one occurrence of the secret and the tasks about it.
type Copy struct {
	Location string       `json:"location"` // path:line, with the export's ref
	Class    string       `json:"class"`
	Commit   string       `json:"commit,omitempty"`
	AtHead   bool         `json:"at_head"`
	Preview  string       `json:"preview"`
	Tasks    []store.Task `json:"tasks"`
}

// Response is what the run did.
type Response struct {
	Planned  bool   `json:"planned"`
	Strategy string `json:"strategy,omitempty"`
	Reason   string `json:"reason,omitempty"`
	RunState string `json:"run_state,omitempty"`
	Steps    []Step `json:"steps"`
	// Revoked are the finished steps that took access away: revoke,
	// revoke-related, terminate-sessions, isolate.
	Revoked   []Step     `json:"revoked"`
	Issued    []Issued   `json:"issued"`
	Delivered []Step     `json:"delivered"`
	Verified  []Step     `json:"verified"`
	Approvals []Approval `json:"approvals"`
}

// Step is one plan step with its recorded state.
type Step struct {
	ID       string     `json:"id"`
	Kind     string     `json:"kind"`
	Target   string     `json:"target"`
	Consumer string     `json:"consumer,omitempty"`
	Login    string     `json:"login,omitempty"`
	State    string     `json:"state"`
	Started  *time.Time `json:"started,omitempty"`
	Finished *time.Time `json:"finished,omitempty"`
	Error    string     `json:"error,omitempty"`
	Detail   string     `json:"detail,omitempty"`
}

// Issued is a credential the run issued, with its lease.
type Issued struct {
	Lease    string     `json:"lease"`
	System   string     `json:"system"`
	Login    string     `json:"login"`
	Consumer string     `json:"consumer,omitempty"`
	Issued   time.Time  `json:"issued"`
	Expires  *time.Time `json:"expires"`
	Enforced bool       `json:"enforced"`
	State    string     `json:"state"`
}

// Approval is who let a waiting step go, and when.
type Approval struct {
	Step   string     `json:"step"`
	By     string     `json:"by"`
	At     *time.Time `json:"at"`
	Reason string     `json:"reason,omitempty"`
}

// ReviewPhase is one stored review.
type ReviewPhase struct {
	Phase   string        `json:"phase"`
	Created time.Time     `json:"created"`
	Review  review.Report `json:"review"`
}

// RemainingRisk is something still to act on after the response.
type RemainingRisk struct {
	Kind     string `json:"kind"`
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
}

// AuditState is what verifying the audit log found.
type AuditState struct {
	Intact bool `json:"intact"`
	// Entries is the whole log's length; IncidentEntries this incident's.
	Entries         int           `json:"entries"`
	IncidentEntries int           `json:"incident_entries"`
	Head            string        `json:"head"`
	Witnessed       bool          `json:"witnessed"`
	Breaks          []audit.Break `json:"breaks"`
}

// Input is what a report is built from.
type Input struct {
	Store    store.Store
	Incident string
	// Inventory is the inventory the incident was opened with, nil when
	// it is no longer readable (the scope then keeps what open recorded).
	Inventory *inventory.Inventory
	// Audit verifies the log (audit.New(Store, "") when nil: the chain
	// only, without this installation's witness).
	Audit *audit.Log
	// Verifier, when set, verifies instead of Audit: a page loaded again
	// and again verifies incrementally (audit.Verifier).
	Verifier *audit.Verifier
	Now      time.Time
}

// Build reads everything the store holds about the incident and makes
// its report. It changes nothing.
func Build(ctx context.Context, in Input) (*Incident, error) {
	const op = "report"
	if in.Now.IsZero() {
		in.Now = time.Now()
	}
	st, id := in.Store, in.Incident
	// One read for the incident and its records, kept by the store
	// between reads (the web UI builds a report per page load).
	snap, err := st.Snapshot(ctx, id)
	if err != nil {
		return nil, err
	}
	inc, occ, idents, cons, events, revs := snap.Incident, snap.Occurrences, snap.Identities, snap.Consumers, snap.Events, snap.Reviews
	r := &Incident{Version: Version, Incident: inc.ID, Generated: in.Now.UTC(), State: string(inc.State), Opened: inc.Created, Closed: inc.ClosedAt,
		Timeline: []Moment{}, Reviews: []ReviewPhase{}, Remaining: []RemainingRisk{}, Standards: []Control{}}
	r.Scope = scope.Compute(scope.Input{Incident: inc, Occurrences: occ, Identities: idents, Consumers: cons, Events: events, Inventory: in.Inventory, Now: in.Now,
		NoBaseline: scope.ExposureWithoutBaseline(revs)})

	p, steps, err := loadRun(ctx, st, id)
	if err != nil {
		return nil, errs.E(op, errs.Invalid, id, err)
	}
	leases, err := st.Leases(ctx, store.LeaseFilter{IncidentID: id})
	if err != nil {
		return nil, err
	}
	r.Response = response(p, steps, leases)

	for _, rv := range revs {
		var rep review.Report
		if err := json.Unmarshal(rv.Body, &rep); err != nil {
			return nil, errs.E(op, errs.Invalid, id, fmt.Errorf("stored %s review: %w", rv.Phase, err))
		}
		r.Reviews = append(r.Reviews, ReviewPhase{Phase: rv.Phase, Created: rv.Created, Review: rep})
	}
	slices.SortStableFunc(r.Reviews, func(a, b ReviewPhase) int { return phaseRank(a.Phase) - phaseRank(b.Phase) })

	tasks, err := st.Tasks(ctx, id)
	if err != nil {
		return nil, err
	}
	r.Copies = copies(occ, tasks)

	al := in.Audit
	if al == nil {
		al = audit.New(st, "")
	}
	var vr audit.Report
	if in.Verifier != nil {
		vr, err = in.Verifier.Verify(ctx)
	} else {
		vr, err = al.Verify(ctx)
	}
	if err != nil {
		return nil, err
	}
	// This incident's entries through their index, not the whole log
	// again (Verify has read it once).
	mine, err := st.IncidentAudit(ctx, id)
	if err != nil {
		return nil, err
	}
	r.Audit = AuditState{Intact: vr.OK(), Entries: vr.Entries, Head: vr.Head, Witnessed: vr.Witnessed, Breaks: orEmpty(vr.Breaks)}
	r.Audit.IncidentEntries = len(mine)

	rotated, err := engine.RotatedAt(ctx, st, id)
	if err != nil {
		return nil, err
	}
	r.Facts = facts(inc, r.Scope, r.Reviews, rotated, in.Now)
	r.Timeline = timeline(mine, r, p)
	r.Usage = usage(events, r.Reviews, r.Facts, in.Now)
	f := gather(r, in.Inventory)
	r.Remaining = remaining(f, r)
	r.Standards = mapControls(f)
	return r, nil
}

func phaseRank(p string) int {
	switch p {
	case "exposure":
		return 0
	case "after":
		return 1
	}
	return 2
}

// loadRun reads the stored plan (nil when there is none) and its steps.
func loadRun(ctx context.Context, st store.Store, id string) (*storedRun, map[string]store.Step, error) {
	sp, ok, err := st.GetPlan(ctx, id)
	if err != nil || !ok {
		return nil, nil, err
	}
	var p plan.Plan
	if err := json.Unmarshal(sp.Body, &p); err != nil {
		return nil, nil, fmt.Errorf("stored plan: %w", err)
	}
	ss, err := st.Steps(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	steps := map[string]store.Step{}
	for _, s := range ss {
		steps[s.StepID] = s
	}
	return &storedRun{plan: &p, runState: sp.RunState}, steps, nil
}

type storedRun struct {
	plan     *plan.Plan
	runState string
}

func response(run *storedRun, states map[string]store.Step, leases []store.Lease) Response {
	out := Response{Steps: []Step{}, Revoked: []Step{}, Issued: []Issued{}, Delivered: []Step{}, Verified: []Step{}, Approvals: []Approval{}}
	for _, l := range leases {
		out.Issued = append(out.Issued, Issued{Lease: l.ID, System: l.System, Login: l.Login, Consumer: l.Consumer, Issued: l.Issued,
			Expires: l.Expires, Enforced: l.Enforced, State: l.State})
	}
	if run == nil {
		return out
	}
	p := run.plan
	out.Planned, out.Strategy, out.Reason, out.RunState = true, string(p.Strategy), p.Reason, cmp.Or(run.runState, store.RunPlanned)
	for _, ps := range p.Steps {
		s := states[ps.ID]
		st := Step{ID: ps.ID, Kind: string(ps.Kind), Target: ps.Target, Consumer: ps.Consumer, Login: ps.Login,
			State: cmp.Or(s.State, engine.Pending), Started: s.Started, Finished: s.Finished, Error: s.Error, Detail: detailOf(s.Result)}
		out.Steps = append(out.Steps, st)
		if s.ApprovedBy != "" {
			out.Approvals = append(out.Approvals, Approval{Step: ps.ID, By: s.ApprovedBy, At: s.ApprovedAt, Reason: ps.Approval})
		}
		if st.State != engine.Done {
			continue
		}
		switch ps.Kind {
		case plan.Revoke, plan.RevokeRelated, plan.TerminateSessions, plan.Isolate:
			out.Revoked = append(out.Revoked, st)
		case plan.Issue:
			// A new password on the old login, or a key rotated in one
			// call: the leaked one is dead. A key generated beside the
			// leaked one kills nothing: its revoke step does.
			if ps.Login == ps.Identity && (!ps.Generated || ps.Rotate) {
				out.Revoked = append(out.Revoked, st)
			}
		case plan.Deliver, plan.Notify:
			out.Delivered = append(out.Delivered, st)
		case plan.Verify:
			out.Verified = append(out.Verified, st)
		}
	}
	return out
}

func detailOf(raw json.RawMessage) string {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return ""
	}
	d, _ := m["detail"].(string)
	return d
}

// copyLocation is how a copy is named in the report and matched to its
// remediation tasks: path:line, and the export's ref when there is one.
func copyLocation(o store.Occurrence) string {
	loc := fmt.Sprintf("%s:%d", o.Path, o.Line)
	if o.Ref != "" {
		loc += " (" + o.Ref + ")"
	}
	if o.Commit != "" && !o.AtHead {
		loc += " @" + shortCommit(o.Commit)
	}
	return loc
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

// taskFor reports whether a remediation task is about this copy: its
// location names the copy's file and line or its export reference, or,
// for a copy only in history, the repository that holds it (one history
// task covers a repository).
func taskFor(t store.Task, o store.Occurrence) bool {
	loc := t.Location
	if o.Ref != "" && strings.Contains(loc, o.Ref) {
		return true
	}
	if t.Kind == "history" {
		repo := strings.TrimSuffix(loc, "/")
		return o.Commit != "" && !o.AtHead && repo != "" && (o.Path == repo || strings.HasPrefix(o.Path, repo+"/"))
	}
	return strings.Contains(loc, fmt.Sprintf("%s:%d", o.Path, o.Line))
}

// copies lists the copies and which remain. Before any remediation every
// copy remains. Remediation traces again and keeps a task for each copy
// it still finds (marking done those it no longer finds), so afterwards a
// copy remains while a task about it is not done.
func copies(occ []store.Occurrence, tasks []store.Task) Copies {
	c := Copies{Total: len(occ), ByClass: map[string]int{}, Remaining: []Copy{}, Tasks: orEmpty(tasks)}
	for _, o := range occ {
		c.ByClass[o.Class]++
		cp := Copy{Location: copyLocation(o), Class: o.Class, Commit: o.Commit, AtHead: o.AtHead, Preview: o.Preview, Tasks: []store.Task{}}
		remains := len(tasks) == 0
		for _, t := range tasks {
			if taskFor(t, o) {
				cp.Tasks = append(cp.Tasks, t)
				remains = remains || t.State != store.TaskDone
			}
		}
		if remains {
			c.Remaining = append(c.Remaining, cp)
		}
	}
	return c
}

func facts(inc store.Incident, sc scope.Scope, revs []ReviewPhase, rotated, now time.Time) Facts {
	f := Facts{LeakedAt: inc.LeakedAt}
	consider := func(t time.Time, src string) {
		if t.IsZero() || inc.LeakedAt != nil && t.Before(*inc.LeakedAt) {
			return
		}
		if f.FirstUnexplainedUse == nil || t.Before(*f.FirstUnexplainedUse) {
			f.FirstUnexplainedUse, f.UnexplainedSource = &t, src
		}
	}
	for _, u := range sc.Unexplained {
		consider(u.FirstSeen, u.Source)
	}
	for _, rv := range revs {
		for _, fd := range rv.Review.Findings {
			if fd.Kind != review.KindNewSource {
				continue
			}
			for _, e := range fd.Evidence {
				consider(e.Time, e.Source)
			}
		}
	}
	if !rotated.IsZero() {
		f.RevokedAt = &rotated
	}
	if inc.LeakedAt != nil {
		end := now
		if f.RevokedAt != nil {
			end = *f.RevokedAt
		}
		f.Exposure = end.Sub(*inc.LeakedAt).Round(time.Second).String()
	}
	return f
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
