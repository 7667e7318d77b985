package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/report"
	"github.com/rekeyhq/rekey/internal/scope"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
)

func (s *Server) incidentRoutes() {
	s.handle("POST", "/api/v1/incidents", auth.Respond, "Open (or find) the incident for a leaked secret, with the server's inventory.", s.openIncident)
	s.describe("POST", "/api/v1/incidents", Doc{Request: openRequest{}, Response: incident.OpenView{}, Status: http.StatusCreated,
		Also: map[int]string{http.StatusOK: "the incident already open for this secret (existing: true)"}})
	// With sources, it answers once they are queued: one job each traces
	// the secret through one and joins its copies (tracing: {pending,
	// done} in this answer and in GET /api/v1/incidents/{id}).

	s.handle("GET", "/api/v1/incidents", auth.Read, "List incidents with their state, identity and risk.", s.listIncidents)
	s.describe("GET", "/api/v1/incidents", Doc{Response: []incident.Summary{},
		Query: []Param{{Name: "state", Description: "which incidents (default open)", Enum: []string{"open", "closed", "all"}}}})

	s.handle("GET", "/api/v1/incidents/{id}", auth.Read, "One incident, with its run's state once it has a plan.", s.getIncident)
	s.describe("GET", "/api/v1/incidents/{id}", Doc{Response: incidentDetail{}})

	s.handle("GET", "/api/v1/incidents/{id}/scope", auth.Read, "The blast radius of the incident's secret.", s.getScope)
	s.describe("GET", "/api/v1/incidents/{id}/scope", Doc{Response: scope.Scope{}})

	s.handle("POST", "/api/v1/incidents/{id}/plan", auth.Respond, "Plan the containment and replacement (stored for the run).", s.planIncident)
	s.describe("POST", "/api/v1/incidents/{id}/plan", Doc{Request: planRequest{}, Response: plan.Plan{}})

	s.handle("POST", "/api/v1/incidents/{id}/approvals", auth.Approve, "Approve a step that waits for a person; never its opener's or runner's.", s.approve)
	s.describe("POST", "/api/v1/incidents/{id}/approvals", Doc{Request: approveRequest{}, Response: approval{}})

	s.handle("POST", "/api/v1/incidents/{id}/review", auth.Respond, "Review what the identity did, from the logs (the server's files).", s.reviewIncident)
	s.describe("POST", "/api/v1/incidents/{id}/review", Doc{Request: reviewRequest{}, Response: incident.ReviewView{}})

	s.handle("POST", "/api/v1/incidents/{id}/close", auth.Respond, "Close the incident, with the reason.", s.closeIncident)
	s.describe("POST", "/api/v1/incidents/{id}/close", Doc{Request: closeRequest{}, Response: incident.Summary{}})

	s.handle("GET", "/api/v1/incidents/{id}/report", auth.Read, "The incident's report (markdown, self-contained HTML or JSON).", s.getReport)
	s.describe("GET", "/api/v1/incidents/{id}/report", Doc{Response: report.Incident{},
		Query:   []Param{{Name: "format", Description: "md (default), html or json", Enum: reportFormats}},
		Content: []string{"text/markdown", "text/html"}})
}

// openRequest is POST /api/v1/incidents. Secret is held in memory for the
// request only: it is never stored, logged or sent back.
type openRequest struct {
	Secret string `json:"secret"`
	// LeakedAt is RFC 3339; a string so that a bad one is named.
	LeakedAt string   `json:"leaked_at,omitempty"`
	Logs     []string `json:"logs,omitempty"`
	// Sources are traced besides the inventory's, in the background:
	// one job per source (many repositories answer at once).
	Sources []traceSource `json:"sources,omitempty"`
	// UseLeaked is the CLI's --use-leaked: identify may prove the secret
	// with one request made with it where no other way exists (AWS
	// sts:GetCallerIdentity); audited as identify.use-leaked.
	UseLeaked bool `json:"use_leaked,omitempty"`
}

// traceSource is a source given to POST /api/v1/incidents: a path on
// the server (relative to the inventory's directory), of a type the
// tracing takes (incident.TraceSourceTypes).
type traceSource struct {
	Type    string `json:"type"`
	Path    string `json:"path"`
	History bool   `json:"history,omitempty"`
}

// incidentDetail is GET /api/v1/incidents/{id}: the incident, with its
// tracing's progress when it has one.
type incidentDetail struct {
	incident.Detail
	Tracing *incident.Tracing `json:"tracing,omitempty"`
}

// decodeOpen decodes POST /api/v1/incidents. A body that is not JSON is
// refused without the decoder's message, which quotes from the body (the
// secret); other problems (an unknown field, a wrong type) name only the
// field.
func decodeOpen(r *http.Request) (openRequest, error) {
	var req openRequest
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	defer clear(body)
	if err != nil {
		return req, invalid("bad JSON body: %s", oneLine(err.Error()))
	}
	if len(body) > 0 && !json.Valid(body) {
		return req, invalid(`bad JSON body: not JSON; want {"secret": "…", "leaked_at"?: "RFC 3339 time", "logs"?: ["glob"], "use_leaked"?: true}`)
	}
	r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	if err := decode(r, &req); err != nil {
		return req, err
	}
	return req, nil
}

func (s *Server) openIncident(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	req, err := decodeOpen(r)
	if err != nil {
		return err
	}
	raw := req.Secret
	req.Secret = ""
	if raw == "" {
		return invalid("secret is required")
	}
	var leakedAt *time.Time
	if req.LeakedAt != "" {
		t, err := time.Parse(time.RFC3339, req.LeakedAt)
		if err != nil {
			return invalid("leaked_at %q: want RFC 3339, such as 2026-11-25T22:10:00Z", req.LeakedAt)
		}
		leakedAt = &t
	}
	if s.cfg.Inventory == nil {
		return invalid("this server has no inventory (rekey serve --inventory FILE): it cannot open incidents")
	}
	srcs, err := s.traceSources(req.Sources)
	if err != nil {
		return err
	}
	leaked, err := incident.ParseLeaked([]byte(raw))
	if err != nil {
		return masked(err, raw)
	}
	d, err := s.deps(r.Context(), p)
	if err != nil {
		return err
	}
	d.Held = append(d.Held, leaked.Secret)
	res, err := incident.Open(r.Context(), d, incident.OpenOptions{Secret: leaked.Secret, KeyID: leaked.KeyID, UseLeaked: req.UseLeaked, LeakedAt: leakedAt,
		Logs: req.Logs, InventoryPath: s.cfg.InventoryPath, InventoryBody: s.cfg.Inventory})
	if err != nil {
		return masked(err, raw)
	}
	if len(srcs) > 0 {
		if res.View.Tracing, err = s.startTracing(r.Context(), d, p, res.View.ID, leaked.Secret, srcs); err != nil {
			return masked(err, raw)
		}
	}
	status := http.StatusCreated
	if res.View.Existing {
		status = http.StatusOK
	} else {
		s.notifyOpened(r.Context(), d, res.View.ID)
	}
	writeJSON(w, status, res.View)
	return nil
}

// masked is err with every copy of the secret replaced by a mark: the
// providers' errors are sanitised where they are opened, and this is the
// last line before a message reaches the log or the client.
func masked(err error, raw string) error {
	ae := asAPIError(err)
	if raw == "" || !strings.Contains(ae.Message, raw) {
		return err
	}
	return &apiError{Status: ae.Status, Kind: ae.Kind, Message: strings.ReplaceAll(ae.Message, raw, "[secret]"), Reasons: ae.Reasons}
}

func (s *Server) listIncidents(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	state := r.URL.Query().Get("state")
	if state == "" {
		state = "open"
	}
	if state != "open" && state != "closed" && state != "all" {
		return invalid("state %q: want open, closed or all", state)
	}
	d, err := s.deps(r.Context(), p)
	if err != nil {
		return err
	}
	list, err := incident.List(r.Context(), d, store.State(state))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

func (s *Server) getIncident(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	d, err := s.deps(r.Context(), p)
	if err != nil {
		return err
	}
	det, err := incident.ShowDetail(r.Context(), d, r.PathValue("id"))
	if err != nil {
		return err
	}
	tr, err := incident.TracingOf(r.Context(), d.Store, det.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, incidentDetail{Detail: det, Tracing: tr})
	return nil
}

func (s *Server) getScope(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	d, err := s.deps(r.Context(), p)
	if err != nil {
		return err
	}
	// One read for the incident and all its scope needs, the kept
	// inventory copy included (read when the file is gone).
	snap, err := d.Store.Snapshot(r.Context(), r.PathValue("id"), store.WithInventory)
	if err != nil {
		return err
	}
	inv := d.SnapshotInventory(snap, "consumers are shown as recorded at open")
	writeJSON(w, http.StatusOK, incident.ScopeOf(snap, inv, s.now()))
	return nil
}

type planRequest struct {
	Strategy plan.Strategy `json:"strategy,omitempty"`
}

func (s *Server) planIncident(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req planRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Strategy == "" {
		req.Strategy = plan.Auto
	}
	if !slices.Contains(plan.Strategies, req.Strategy) {
		names := make([]string, len(plan.Strategies))
		for i, st := range plan.Strategies {
			names[i] = string(st)
		}
		return invalid("unknown strategy %q (want %s)", req.Strategy, strings.Join(names, ", "))
	}
	d, err := s.deps(r.Context(), p)
	if err != nil {
		return err
	}
	pl, err := incident.Plan(r.Context(), d, r.PathValue("id"), req.Strategy)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pl)
	return nil
}

type approveRequest struct {
	Step string `json:"step"`
	// Secret is the new secret a person created for a supply-secret step
	// (one no API can mint, such as a GitHub personal access token): it
	// is sealed at once and never returned, logged or audited.
	Secret *string `json:"secret,omitempty"`
}

type approval struct {
	Step       string `json:"step"`
	ApprovedBy string `json:"approved_by"`
}

func (s *Server) approve(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req approveRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Step) == "" {
		return invalid("step is required (a step id of the plan, or rewrite-history:REPO)")
	}
	d, err := s.deps(r.Context(), p)
	if err != nil {
		return err
	}
	if req.Secret != nil {
		sec := secret.FromString(*req.Secret)
		req.Secret = nil
		err = incident.ApproveSecret(r.Context(), d, r.PathValue("id"), req.Step, sec)
		sec.Wipe()
	} else {
		err = incident.Approve(r.Context(), d, r.PathValue("id"), req.Step)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, approval{Step: req.Step, ApprovedBy: p.Name})
	return nil
}

type reviewRequest struct {
	// Logs are globs of files on the server, read besides the
	// inventory's logs:.
	Logs []string `json:"logs,omitempty"`
}

func (s *Server) reviewIncident(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req reviewRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	d, err := s.deps(r.Context(), p)
	if err != nil {
		return err
	}
	res, err := incident.Review(r.Context(), d, r.PathValue("id"), incident.ReviewOptions{Logs: req.Logs})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res.View())
	return nil
}

type closeRequest struct {
	Reason string `json:"reason"`
}

func (s *Server) closeIncident(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req closeRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Reason) == "" {
		return invalid("reason is required: the report and the audit log keep it")
	}
	d, err := s.deps(r.Context(), p)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if _, err := incident.Close(r.Context(), d, id, req.Reason); err != nil {
		return err
	}
	sum, err := incident.Show(r.Context(), d, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sum)
	return nil
}

var reportFormats = []string{"md", "html", "json"}

// reportCSP lets the HTML report's inline style and SVG render and
// nothing else: it is one self-contained file, with no script.
const reportCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

func (s *Server) getReport(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "md"
	}
	if !slices.Contains(reportFormats, format) {
		return invalid("format %q: want md, html or json", format)
	}
	d, err := s.deps(r.Context(), p)
	if err != nil {
		return err
	}
	rep, err := incident.Report(r.Context(), d, r.PathValue("id"))
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	ctype := "text/markdown; charset=utf-8"
	switch format {
	case "json":
		ctype = "application/json"
		err = rep.WriteJSON(&buf)
	case "html":
		ctype = "text/html; charset=utf-8"
		w.Header().Set("Content-Security-Policy", reportCSP)
		err = rep.WriteHTML(&buf)
	default:
		err = rep.WriteMarkdown(&buf)
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", ctype)
	_, err = w.Write(buf.Bytes())
	return err
}
