package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestIncidentReportAfterARealRun walks a partner handover to the end
// (split plan, a reveal, approvals by another person, a lease renewal, a
// review after rotation) and checks the report in its three formats.
func TestIncidentReportAfterARealRun(t *testing.T) {
	w := partnerWorld(t)
	// The inventory also lists where copies may live: the orders service's
	// directory, whose .env holds the leaked DSN. Opening again finds the
	// open incident and records the copy.
	inv := filepath.Join(w.dir, "rekey.yml")
	b, _ := os.ReadFile(inv)
	if err := os.WriteFile(inv, append(b, []byte("sources:\n  - { type: dir, path: "+filepath.Join(w.dir, "orders-api")+" }\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, w.env, "", "incident", "open", "--secret-env", "LEAKED", "--inventory", inv, "--format", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"existing": true`) {
		t.Fatalf("open again: %d %s %s", r.code, r.stdout, r.stderr)
	}

	// Before anything ran: the report says the secret still works.
	r = run(t, w.env, "", "incident", "report", w.id, "--format", "json")
	if r.code != 0 {
		t.Fatalf("report before the run: %d %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, `"old-credential-active"`) {
		t.Errorf("the report before the run does not say the leaked secret still works")
	}

	if r = run(t, w.env, "", "incident", "plan", w.id, "--strategy", "split"); r.code != 0 {
		t.Fatalf("plan: %s", r.stderr)
	}
	if r = run(t, w.env, "", "incident", "run", w.id, "--yes"); r.code != 3 {
		t.Fatalf("run: %d %s", r.code, r.stderr)
	}
	// Mid-run, the report shows the steps waiting for an approval.
	r = run(t, w.env, "", "incident", "report", w.id, "--format", "json")
	var mid struct {
		Response struct {
			Steps []struct{ ID, Kind, Login, State string }
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &mid); err != nil {
		t.Fatal(err)
	}
	var waiting []string
	partnerLogin := ""
	for _, s := range mid.Response.Steps {
		if s.ID == "verify:acme-partner" {
			partnerLogin = s.Login
		}
		if s.State == "waiting-approval" || s.Kind == "revoke" {
			waiting = append(waiting, s.ID)
		}
	}
	if partnerLogin == "" || len(waiting) == 0 {
		t.Fatalf("steps mid-run: %+v", mid.Response.Steps)
	}
	if r = run(t, w.env, "", "incident", "credential", w.id, partnerLogin, "--reveal"); r.code != 0 {
		t.Fatalf("reveal: %d %s", r.code, r.stderr)
	}
	for _, step := range waiting {
		if r = run(t, w.env, "", "--as", "bob", "incident", "approve", w.id, step); r.code != 0 {
			t.Fatalf("approve %s: %d %s", step, r.code, r.stderr)
		}
	}
	if r = run(t, w.env, "", "incident", "run", w.id, "--resume", "--yes"); r.code != 0 {
		t.Fatalf("resume: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = run(t, w.env, "", "leases", "--format", "json")
	var leases []struct{ ID, Login string }
	if err := json.Unmarshal([]byte(r.stdout), &leases); err != nil || len(leases) == 0 {
		t.Fatalf("leases: %s %v", r.stdout, err)
	}
	if r = run(t, w.env, "", "leases", "renew", leases[0].ID, "--ttl", "240h"); r.code != 0 {
		t.Fatalf("renew: %d %s", r.code, r.stderr)
	}
	w.pg.LogRecords(t)
	if r = run(t, w.env, "", "incident", "review", w.id, "--logs", filepath.Join(w.pg.LogDir, "*.csv")); r.code != 0 {
		t.Fatalf("review: %d %s", r.code, r.stderr)
	}

	// JSON: the contract.
	r = run(t, w.env, "", "incident", "report", w.id, "--format", "json")
	if r.code != 0 {
		t.Fatalf("report json: %d %s", r.code, r.stderr)
	}
	var rep struct {
		Incident string
		Facts    struct {
			RevokedAt *string `json:"revoked_at"`
		}
		Timeline []struct{ Actor, Action, Summary string }
		Response struct {
			RunState string `json:"run_state"`
			Issued   []struct {
				Login   string
				Expires *string
			}
			Verified  []struct{ ID string }
			Revoked   []struct{ Kind string }
			Approvals []struct{ Step, By string }
		}
		Copies struct {
			Total     int
			Remaining []struct{ Location, Class string }
		}
		Reviews   []struct{ Phase string }
		Standards []struct{ ID, Trigger string }
		Audit     struct{ Intact bool }
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("report JSON: %v\n%s", err, r.stdout)
	}
	if rep.Incident != w.id || rep.Facts.RevokedAt == nil || rep.Response.RunState != "done" || !rep.Audit.Intact {
		t.Errorf("report: id %s, revoked %v, run %s, audit intact %v", rep.Incident, rep.Facts.RevokedAt, rep.Response.RunState, rep.Audit.Intact)
	}
	if n := len(consumerNames) + 1; len(rep.Response.Issued) != n || rep.Response.Issued[0].Expires == nil || len(rep.Response.Verified) != n {
		t.Errorf("issued %+v, verified %+v", rep.Response.Issued, rep.Response.Verified)
	}
	if !slices.ContainsFunc(rep.Response.Approvals, func(a struct{ Step, By string }) bool { return a.By == "bob" }) {
		t.Errorf("approvals: %+v", rep.Response.Approvals)
	}
	if rep.Copies.Total != 1 || len(rep.Copies.Remaining) != 1 || rep.Copies.Remaining[0].Class != "config" {
		t.Errorf("copies: %+v", rep.Copies)
	}
	if len(rep.Reviews) != 1 || rep.Reviews[0].Phase != "after" {
		t.Errorf("reviews: %+v", rep.Reviews)
	}
	actions := map[string]string{}
	for _, m := range rep.Timeline {
		actions[m.Action] = m.Actor
	}
	for action, actor := range map[string]string{"incident.open": "alice", "incident.plan": "alice", "step.approved": "bob",
		"credential.revealed": "alice", "lease.renew": "alice", "incident.review": "alice", "step": "alice", "revoked": ""} {
		if got, ok := actions[action]; !ok || got != actor {
			t.Errorf("timeline: %s by %q, want by %q", action, got, actor)
		}
	}
	var std []string
	for _, c := range rep.Standards {
		std = append(std, c.ID)
	}
	for _, want := range []string{"NHI2:2025", "NHI3:2025", "NHI7:2025", "NHI9:2025", "PR.AA-01", "RS.AN-03", "RS.AN-06", "RS.AN-07", "RS.AN-08",
		"RS.MI-01", "GV.SC-08", "T1552.001"} {
		if !slices.Contains(std, want) {
			t.Errorf("standards lack %s: %v", want, std)
		}
	}
	for _, not := range []string{"GOVERN 1.6", "T1552.008", "NHI5:2025", "T1098.001"} {
		if slices.Contains(std, not) {
			t.Errorf("standards map %s, which this incident did not show: %v", not, std)
		}
	}

	// Markdown and HTML.
	md := run(t, w.env, "", "incident", "report", w.id)
	if md.code != 0 || !strings.Contains(md.stdout, "# Incident "+w.id) || !strings.Contains(md.stdout, "approved by **bob**") {
		t.Errorf("report md: %d %s %s", md.code, md.stdout, md.stderr)
	}
	html := run(t, w.env, "", "incident", "report", w.id, "--format", "html")
	if html.code != 0 || !strings.HasPrefix(html.stdout, "<!DOCTYPE html>") || !strings.Contains(html.stdout, "<svg") {
		t.Errorf("report html: %d %s", html.code, html.stderr)
	}
	ext := regexp.MustCompile(`(?i)<[a-z][^>]*\s(?:src|href)\s*=\s*["']?(?:https?:)?//`)
	if m := ext.FindString(html.stdout); m != "" {
		t.Errorf("the HTML report reaches the network: %s", m)
	}
	for name, out := range map[string]string{"json": r.stdout, "md": md.stdout, "html": html.stdout} {
		if strings.Contains(out, w.password) {
			t.Errorf("the %s report holds the leaked password", name)
		}
	}

	// Bad input.
	if r = run(t, w.env, "", "incident", "report", w.id, "--format", "pdf"); r.code != 2 {
		t.Errorf("--format pdf: %d", r.code)
	}
	if r = run(t, w.env, "", "incident", "report", "INC-20260101-dead"); r.code != 2 {
		t.Errorf("an unknown incident: %d %s", r.code, r.stderr)
	}
}
