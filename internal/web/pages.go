package web

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/rekeyhq/rekey/internal/audit"
	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/engine"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/remediate"
	"github.com/rekeyhq/rekey/internal/report"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
)

func (h *Handler) deps(ctx context.Context, s session) (incident.Deps, error) {
	if h.cfg.Deps == nil {
		return incident.Deps{}, errs.New("web", errs.Unsupported, "", "this server has no incident workflow configured")
	}
	d, err := h.cfg.Deps(ctx, s.principal)
	if err != nil {
		return d, err
	}
	d.Actor = s.principal.Name
	if d.Audit == nil {
		d.Audit = audit.New(d.Store, "")
	}
	if d.Now == nil {
		d.Now = h.now
	}
	return d, nil
}

type listRow struct {
	incident.Summary
	Age string
}

type listPage struct {
	State  string
	States []string
	Rows   []listRow
}

func (h *Handler) incidents(w http.ResponseWriter, r *http.Request, s session) {
	state := cmp.Or(r.URL.Query().Get("state"), "open")
	d, err := h.deps(r.Context(), s)
	if err != nil {
		h.fail(w, r, &s, err)
		return
	}
	sums, err := incident.List(r.Context(), d, store.State(state))
	if err != nil {
		h.fail(w, r, &s, err)
		return
	}
	slices.Reverse(sums) // newest first: the one being worked on is on top
	pg := listPage{State: state, States: []string{"open", "closed", "all"}, Rows: []listRow{}}
	for _, sum := range sums {
		pg.Rows = append(pg.Rows, listRow{Summary: sum, Age: age(h.now().Sub(sum.OpenedAt))})
	}
	h.render(w, r, http.StatusOK, "incidents", &s, "Incidents", pg)
}

// age says how long ago, to the unit a person reads at a glance.
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour")
	}
	return plural(int(d/(24*time.Hour)), "day")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// stepView is one plan step as the incident page shows it.
type stepView struct {
	ID, Kind, Summary, Target string
	State                     string
	Approval                  string // why it waits for a person
	ApprovedBy                string
	Error                     string
	// CanApprove shows the Approve button: the step waits for an
	// approval nobody gave yet and the viewer may give it.
	CanApprove bool
	// NotYou says why the viewer may not approve, when the step needs it.
	NotYou string
	// Supply: the step waits for a new secret a person created (a
	// supply-secret step), handed in with its approval.
	Supply bool
}

// taskView is one remediation task. A history rewrite waits for a
// person's approval like a plan step, and is approved the same way.
type taskView struct {
	ID, Kind, Location, Action, State string
	ApprovedBy                        string
	Approvable                        bool // a task that waits for an approval
	CanApprove                        bool
	NotYou                            string
}

type planView struct {
	Strategy, Reason, RunState string
	Notes                      []string
	Steps                      []stepView
}

type incidentPage struct {
	Summary incident.Summary
	R       *report.Incident
	Graph   graph
	Plan    *planView
	Tasks   []taskView
	// Events and StepsURL are what the live script follows ("" without
	// an event stream).
	Events, StepsURL string
	// CSRF is the token of the approve forms.
	CSRF string
	// Tracing is the progress of the incident's fanned-out tracing, nil
	// without one.
	Tracing *tracingView
}

// tracingView is the incident page's "tracing 37/200" line.
type tracingView struct {
	incident.Tracing
	Total int
	// Events and URL are what the live script follows and reads ("" when
	// there is no event stream: the page says to reload).
	Events, URL string
}

func newTracingView(tr *incident.Tracing) *tracingView {
	return &tracingView{Tracing: *tr, Total: tr.Done + tr.Pending}
}

// Line is the tracing's line, the same rendered and read live.
func (t *tracingView) Line() string {
	line := fmt.Sprintf("tracing %d/%d sources, %d copies found", t.Done, t.Total, t.Copies)
	if t.Failed > 0 {
		line += fmt.Sprintf(", %d failed", t.Failed)
	}
	return line
}

// reportOf builds incident id's report as s's principal.
func (h *Handler) reportOf(ctx context.Context, s session, id string) (incident.Deps, *report.Incident, error) {
	d, err := h.deps(ctx, s)
	if err != nil {
		return d, nil, err
	}
	d.AuditVerifier = h.verifierOf(d.Audit)
	rep, err := incident.Report(ctx, d, id)
	return d, rep, err
}

func (h *Handler) incident(w http.ResponseWriter, r *http.Request, s session) {
	ctx, id := r.Context(), r.PathValue("id")
	d, rep, err := h.reportOf(ctx, s, id)
	if err != nil {
		h.fail(w, r, &s, err)
		return
	}
	sum, err := incident.Show(ctx, d, id)
	if err != nil {
		h.fail(w, r, &s, err)
		return
	}
	why, err := refusal(ctx, d, id, s.principal)
	if err != nil {
		h.fail(w, r, &s, err)
		return
	}
	pv, err := planOf(ctx, d.Store, id, why)
	if err != nil {
		h.fail(w, r, &s, err)
		return
	}
	tr, err := incident.TracingOf(ctx, d.Store, id)
	if err != nil {
		h.fail(w, r, &s, err)
		return
	}
	pg := incidentPage{Summary: sum, R: rep, Graph: scopeGraph(rep.Scope), Plan: pv, Tasks: tasks(rep.Copies.Tasks, why), CSRF: csrfToken(s.id, labelCSRF)}
	events := ""
	if h.cfg.Events != nil {
		events = "/incidents/" + id + "/events"
	}
	if tr != nil {
		pg.Tracing = newTracingView(tr)
		pg.Tracing.Events, pg.Tracing.URL = events, "/incidents/"+id+"/tracing"
	}
	if events != "" && pv != nil {
		pg.Events, pg.StepsURL = events, "/incidents/"+id+"/steps"
	}
	h.render(w, r, http.StatusOK, "incident", &s, "Incident "+id, pg)
}

// planOf reads the stored plan with its step states (nil when none); the
// viewer may approve its waiting steps unless notYou says why not.
func planOf(ctx context.Context, st store.Store, id, notYou string) (*planView, error) {
	sp, ok, err := st.GetPlan(ctx, id)
	if err != nil || !ok {
		return nil, err
	}
	var pl plan.Plan
	if err := json.Unmarshal(sp.Body, &pl); err != nil {
		return nil, errs.E("web: plan", errs.Invalid, id, err)
	}
	states, err := stepStates(ctx, st, id)
	if err != nil {
		return nil, err
	}
	pv := &planView{Strategy: string(pl.Strategy), Reason: pl.Reason, RunState: cmp.Or(sp.RunState, store.RunPlanned), Notes: pl.Notes}
	for _, ps := range pl.Steps {
		cur := states[ps.ID]
		sv := stepView{ID: ps.ID, Kind: string(ps.Kind), Summary: ps.Summary, Target: ps.Target, State: cmp.Or(cur.State, engine.Pending),
			Approval: ps.Approval, ApprovedBy: cur.ApprovedBy, Error: cur.Error, Supply: ps.Kind == plan.Supply}
		if sv.Approval != "" && sv.ApprovedBy == "" {
			sv.CanApprove, sv.NotYou = notYou == "", notYou
		}
		pv.Steps = append(pv.Steps, sv)
	}
	return pv, nil
}

func tasks(ts []store.Task, notYou string) []taskView {
	out := make([]taskView, 0, len(ts))
	for _, t := range ts {
		tv := taskView{ID: t.ID, Kind: t.Kind, Location: t.Location, Action: t.Action, State: t.State,
			Approvable: remediate.Approvable(t)}
		var d struct {
			ApprovedBy string `json:"approved_by"`
		}
		if json.Unmarshal(t.Detail, &d) == nil {
			tv.ApprovedBy = d.ApprovedBy
		}
		if tv.Approvable && tv.ApprovedBy == "" && t.State == store.TaskOpen {
			tv.CanApprove, tv.NotYou = notYou == "", notYou
		}
		out = append(out, tv)
	}
	return out
}

func stepStates(ctx context.Context, st store.Store, id string) (map[string]store.Step, error) {
	ss, err := st.Steps(ctx, id)
	if err != nil {
		return nil, err
	}
	m := make(map[string]store.Step, len(ss))
	for _, s := range ss {
		m[s.StepID] = s
	}
	return m, nil
}

// refusal says why p may not approve in incident id, "" when they may:
// approvals come from the approver and admin roles only, a closed
// incident takes no more, and separation of duties is package
// incident's one rule (not the opener, not whoever started its run).
func refusal(ctx context.Context, d incident.Deps, id string, p auth.Principal) (string, error) {
	if !p.Can(auth.Approve) {
		return "role " + string(p.Role) + " cannot approve", nil
	}
	inc, err := d.Store.GetIncident(ctx, id)
	if err != nil {
		return "", err
	}
	if inc.State == store.Closed {
		return "the incident is closed", nil
	}
	d.Actor = p.Name
	err = incident.MayApprove(ctx, d, id)
	var e *errs.Error
	if errs.KindOf(err) == errs.Permission && errors.As(err, &e) && e.Err != nil {
		return oneLine(e.Err.Error()), nil // without "approve: ID: "
	}
	return "", err
}

type stepState struct {
	ID         string `json:"id"`
	State      string `json:"state"`
	ApprovedBy string `json:"approved_by,omitempty"`
	Error      string `json:"error,omitempty"`
}

// steps is the plan's step states as JSON: what the live script reads
// when the event stream says something changed.
func (h *Handler) steps(w http.ResponseWriter, r *http.Request, s session) {
	ctx, id := r.Context(), r.PathValue("id")
	if _, err := h.cfg.Store.GetIncident(ctx, id); err != nil {
		h.fail(w, r, &s, err)
		return
	}
	pv, err := planOf(ctx, h.cfg.Store, id, "")
	if err != nil {
		h.fail(w, r, &s, err)
		return
	}
	out := struct {
		RunState string      `json:"run_state,omitempty"`
		Steps    []stepState `json:"steps"`
	}{Steps: []stepState{}}
	if pv != nil {
		out.RunState = pv.RunState
		for _, sv := range pv.Steps {
			out.Steps = append(out.Steps, stepState{ID: sv.ID, State: sv.State, ApprovedBy: sv.ApprovedBy, Error: sv.Error})
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// tracingJSON is the incident's tracing as the live script reads it
// when the event stream says it moved: the line as the page renders it,
// and the failed sources.
type tracingJSON struct {
	Line     string                  `json:"line"`
	Pending  int                     `json:"pending"`
	Failures []incident.TraceFailure `json:"failures"`
}

// tracing is the incident's tracing as JSON (404 when it has none).
func (h *Handler) tracing(w http.ResponseWriter, r *http.Request, s session) {
	ctx, id := r.Context(), r.PathValue("id")
	tr, err := incident.TracingOf(ctx, h.cfg.Store, id)
	if err != nil {
		h.fail(w, r, &s, err)
		return
	}
	if tr == nil {
		h.error(w, r, &s, http.StatusNotFound, "this incident has no tracing")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(tracingJSON{Line: newTracingView(tr).Line(), Pending: tr.Pending, Failures: tr.Failures})
}

func (h *Handler) events(w http.ResponseWriter, r *http.Request, s session) {
	id := r.PathValue("id")
	if _, err := h.cfg.Store.GetIncident(r.Context(), id); err != nil {
		h.fail(w, r, &s, err)
		return
	}
	// A stream outlives no session: it ends at the session's absolute
	// expiry, and when a periodic check finds the session ended (signed
	// out, its token revoked); the browser reconnects and is refused.
	// The check also keeps the session from idling out while its page
	// is open and following.
	ctx, cancel := context.WithDeadline(r.Context(), s.expires)
	defer cancel()
	r = r.WithContext(ctx)
	go func() {
		t := time.NewTicker(h.recheck())
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, ok, err := h.session(r); err == nil && !ok {
					cancel()
					return
				}
			}
		}
	}()
	h.cfg.Events(w, r, id)
}

// approver returns the workflow's dependencies when s's principal may
// approve in incident id; otherwise it has answered why not.
func (h *Handler) approver(w http.ResponseWriter, r *http.Request, s session, id string) (incident.Deps, bool) {
	d, err := h.deps(r.Context(), s)
	if err != nil {
		h.fail(w, r, &s, err)
		return d, false
	}
	why, err := refusal(r.Context(), d, id, s.principal)
	if err != nil {
		h.fail(w, r, &s, err)
		return d, false
	}
	if why != "" {
		h.error(w, r, &s, http.StatusForbidden, why)
		return d, false
	}
	return d, true
}

func (h *Handler) approve(w http.ResponseWriter, r *http.Request, s session) {
	ctx, id, step := r.Context(), r.PathValue("id"), r.PostFormValue("step")
	d, ok := h.approver(w, r, s, id)
	if !ok {
		return
	}
	if err := incident.Approve(ctx, d, id, step); err != nil {
		h.fail(w, r, &s, err)
		return
	}
	http.Redirect(w, r, "/incidents/"+id+"#plan", http.StatusSeeOther)
}

// supply approves a supply-secret step with the new secret a person
// created where no API can (a GitHub personal access token): pasted or
// chosen as a file, the way `incident approve ID STEP --secret-file F`
// takes it. The secret is sealed by the workflow at once; it is not put
// in the answer, the page, an error or a log, and the parsed form is
// dropped when the request ends.
func (h *Handler) supply(w http.ResponseWriter, r *http.Request, s session) {
	defer func() {
		if r.MultipartForm != nil {
			_ = r.MultipartForm.RemoveAll()
		}
	}()
	ctx, id, step := r.Context(), r.PathValue("id"), r.PostFormValue("step")
	d, ok := h.approver(w, r, s, id)
	if !ok {
		return
	}
	sec, msg := suppliedSecret(r)
	if msg != "" {
		h.error(w, r, &s, http.StatusBadRequest, msg)
		return
	}
	err := incident.ApproveSecret(ctx, d, id, step, sec)
	sec.Wipe()
	if err != nil {
		h.fail(w, r, &s, err)
		return
	}
	http.Redirect(w, r, "/incidents/"+id+"#plan", http.StatusSeeOther)
}

// suppliedSecret reads the form's secret: the pasted text or the chosen
// file, not both, without one trailing line break (as --secret-file
// drops it). msg says what is wrong, never with the value.
func suppliedSecret(r *http.Request) (secret.Secret, string) {
	raw := []byte(r.PostFormValue("secret"))
	if f, _, err := r.FormFile("secret_file"); err == nil {
		b, err := io.ReadAll(f)
		f.Close()
		switch {
		case err != nil:
			return secret.Secret{}, "the chosen file could not be read"
		case len(b) > 0 && len(raw) > 0:
			clear(b)
			return secret.Secret{}, "paste the new secret or choose the file holding it, not both"
		case len(b) > 0:
			raw = b
		}
	}
	raw = bytes.TrimSuffix(raw, []byte("\n"))
	raw = bytes.TrimSuffix(raw, []byte("\r"))
	if len(raw) == 0 {
		return secret.Secret{}, "no new secret: paste it or choose the file holding it"
	}
	sec := secret.New(raw)
	clear(raw)
	return sec, ""
}

// styleRE finds the report's one style block.
var styleRE = regexp.MustCompile(`(?s)<style>(.*?)</style>`)

// report serves the incident's HTML report. The report is a file of its
// own, styled inline so that it reads anywhere; here its one style block
// is allowed by its hash, and still no script at all.
func (h *Handler) report(w http.ResponseWriter, r *http.Request, s session) {
	_, rep, err := h.reportOf(r.Context(), s, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, &s, err)
		return
	}
	var buf bytes.Buffer
	if err := rep.WriteHTML(&buf); err != nil {
		h.fail(w, r, &s, err)
		return
	}
	csp := "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; script-src 'none'"
	if m := styleRE.FindSubmatch(buf.Bytes()); m != nil {
		sum := sha256.Sum256(m[1])
		csp += "; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	w.Header().Set("Content-Security-Policy", csp)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

type leasesPage struct {
	Leases []store.Lease
	Broker []store.BrokerLease
}

func (h *Handler) leases(w http.ResponseWriter, r *http.Request, s session) {
	ctx := r.Context()
	ls, err := h.cfg.Store.Leases(ctx, store.LeaseFilter{})
	if err != nil {
		h.fail(w, r, &s, err)
		return
	}
	bs, err := h.cfg.Store.BrokerLeases(ctx, store.BrokerLeaseFilter{})
	if err != nil {
		h.fail(w, r, &s, err)
		return
	}
	h.render(w, r, http.StatusOK, "leases", &s, "Leases", leasesPage{Leases: ls, Broker: bs})
}

type auditPage struct {
	Report audit.Report
	Recent []store.AuditEntry
}

// recentAudit is how many of the newest audit entries the page lists.
const recentAudit = 25

func (h *Handler) audit(w http.ResponseWriter, r *http.Request, s session) {
	ctx := r.Context()
	d, err := h.deps(ctx, s)
	if err != nil {
		h.fail(w, r, &s, err)
		return
	}
	rep, err := d.Audit.Verify(ctx)
	if err != nil {
		h.fail(w, r, &s, err)
		return
	}
	log, err := d.Store.AuditLog(ctx)
	if err != nil {
		h.fail(w, r, &s, err)
		return
	}
	recent := log[max(0, len(log)-recentAudit):]
	slices.Reverse(recent)
	h.render(w, r, http.StatusOK, "audit", &s, "Audit log", auditPage{Report: rep, Recent: recent})
}
