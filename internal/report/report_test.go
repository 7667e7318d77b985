package report

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/audit"
	"github.com/rekeyhq/rekey/internal/store"
)

func momentWith(r *Incident, source, action, actor, text string) *Moment {
	for i, m := range r.Timeline {
		if m.Source == source && m.Action == action && (actor == "" || m.Actor == actor) && strings.Contains(m.Summary, text) {
			return &r.Timeline[i]
		}
	}
	return nil
}

// finishedSteps lists the report's steps that finished.
func finishedSteps(r *Incident) []string {
	var out []string
	for _, s := range r.Response.Steps {
		if s.Finished != nil {
			out = append(out, s.ID)
		}
	}
	return out
}

func TestReportSections(t *testing.T) {
	w := newWorld(t, worldOpts{})
	r := w.build(t)

	// Key facts.
	if r.Facts.LeakedAt == nil || !r.Facts.LeakedAt.Equal(leak) {
		t.Errorf("leaked at %v, want %v", r.Facts.LeakedAt, leak)
	}
	if r.Facts.RevokedAt == nil || !r.Facts.RevokedAt.Equal(rotated) {
		t.Errorf("revoked at %v, want %v", r.Facts.RevokedAt, rotated)
	}
	if f := r.Facts.FirstUnexplainedUse; f == nil || !f.Equal(leak.Add(20*time.Hour)) || r.Facts.UnexplainedSource != attacker {
		t.Errorf("first unexplained use %v from %q", f, r.Facts.UnexplainedSource)
	}
	if r.Facts.Exposure != rotated.Sub(leak).String() {
		t.Errorf("exposure %q", r.Facts.Exposure)
	}

	// Timeline: the audit log's actions with who did them, merged with the facts, in order.
	for _, c := range []struct{ source, action, actor, text string }{
		{"audit", "incident.open", "alice", "Opened the incident"},
		{"fact", "scope", "", "risk"},
		{"audit", "incident.plan", "alice", "split"},
		{"audit", "step.approved", "bob", "approved step revoke"},
		{"step", "step", "alice", "done by the test world"},
		{"audit", "credential.revealed", "alice", "shop-db/orders_svc_acme"},
		{"audit", "incident.review", "alice", "exposure phase"},
		{"audit", "incident.review", "alice", "after phase"},
		{"audit", "lease.renew", "alice", "L-orders_svc_billing"},
		{"fact", "leaked", "", "first exposed"},
		{"fact", "first-unexplained-use", "", attacker},
		{"fact", "revoked", "", "stopped working"},
		{"fact", "derived-credential", "", "backup_admin"},
	} {
		if momentWith(r, c.source, c.action, c.actor, c.text) == nil {
			t.Errorf("timeline lacks %s %s by %q with %q", c.source, c.action, c.actor, c.text)
		}
	}
	if !slices.IsSortedFunc(r.Timeline, func(a, b Moment) int { return a.Time.Compare(b.Time) }) {
		t.Error("timeline is not in time order")
	}
	// One row per step (its started and done entries folded), with its
	// start, end, duration and outcome; the approval stays its own row.
	perStep := map[string]int{}
	for _, m := range r.Timeline {
		if strings.HasPrefix(m.Action, "step.") && m.Action != "step.approved" {
			t.Errorf("a step's audit entry has a row of its own: %+v", m)
		}
		if m.Source != "step" {
			continue
		}
		perStep[m.Step]++
		if m.Outcome != "done" || m.Started == nil || m.Finished == nil || m.Finished.Sub(*m.Started) != 20*time.Second ||
			m.Duration != "20s" || m.Entries != 2 || !strings.Contains(m.Summary, "done at "+ts(*m.Finished)+" after 20s") {
			t.Errorf("step row %+v", m)
		}
	}
	if len(perStep) != len(finishedSteps(r)) {
		t.Errorf("%d step rows for %d finished steps", len(perStep), len(finishedSteps(r)))
	}
	for id, n := range perStep {
		if n != 1 {
			t.Errorf("step %s has %d rows", id, n)
		}
	}
	if m := momentWith(r, "fact", "leaked", "", ""); m != nil && m.Time != r.Timeline[0].Time {
		t.Errorf("the leak (%v) is not the first moment (%v)", m.Time, r.Timeline[0].Time)
	}

	// Scope.
	sc := r.Scope
	if sc.Identity.Name != "orders_svc" || !slices.ContainsFunc(sc.Identity.Privileges, func(p scopePrivilege) bool { return p.Name == "CREATEROLE" }) {
		t.Errorf("identity: %+v", sc.Identity)
	}
	wantClasses := map[string]int{"config": 1, "history": 1, "ci": 1, "chat": 1, "ticket": 1}
	for c, n := range wantClasses {
		if r.Copies.ByClass[c] != n {
			t.Errorf("copies by class: %v, want %v", r.Copies.ByClass, wantClasses)
		}
	}
	if !slices.ContainsFunc(sc.Consumers, func(c scopeConsumer) bool { return c.Name == "acme-partner" && c.ThirdParty }) {
		t.Errorf("consumers: %+v", sc.Consumers)
	}
	if len(sc.Reuse) != 1 || sc.Reuse[0].System != "shop-db-staging" || !sc.Flags.Agent || !sc.Flags.OverPrivileged || sc.Risk.Score == 0 {
		t.Errorf("reuse %v, flags %+v, risk %+v", sc.Reuse, sc.Flags, sc.Risk)
	}

	// What was revoked, issued, delivered, verified, approved.
	rs := r.Response
	if rs.Strategy != "split" || rs.RunState != store.RunDone {
		t.Errorf("strategy %q, run %q", rs.Strategy, rs.RunState)
	}
	kinds := func(steps []Step) []string {
		var out []string
		for _, s := range steps {
			out = append(out, s.Kind)
		}
		return out
	}
	if k := kinds(rs.Revoked); !slices.Contains(k, "revoke") || !slices.Contains(k, "terminate-sessions") {
		t.Errorf("revoked: %v", k)
	}
	if len(rs.Issued) != 3 || rs.Issued[0].Expires == nil {
		t.Errorf("issued: %+v", rs.Issued)
	}
	if len(rs.Delivered) == 0 || len(rs.Verified) != 3 {
		t.Errorf("delivered %v, verified %v", kinds(rs.Delivered), kinds(rs.Verified))
	}
	if len(rs.Approvals) == 0 || rs.Approvals[0].By != "bob" {
		t.Errorf("approvals: %+v", rs.Approvals)
	}

	// Reviews, both phases, with evidence.
	if len(r.Reviews) != 2 || r.Reviews[0].Phase != "exposure" || r.Reviews[1].Phase != "after" {
		t.Fatalf("reviews: %d", len(r.Reviews))
	}
	var derived, after bool
	for _, f := range r.Reviews[0].Review.Findings {
		if f.Kind == "derived-credential" && strings.Contains(evidenceList(f.Evidence), "postgresql-2026-03.csv:") {
			derived = true
		}
	}
	for _, f := range r.Reviews[1].Review.Findings {
		after = after || f.Kind == "use-after-revocation" && strings.Contains(evidenceList(f.Evidence), "postgresql-2026-03-04.csv:90")
	}
	if !derived || !after {
		t.Errorf("findings with evidence: derived %v, use after revocation %v", derived, after)
	}

	// Copies remaining, with their tasks; the fixed working tree is not one.
	rem := map[string]Copy{}
	for _, c := range r.Copies.Remaining {
		rem[c.Class] = c
	}
	if _, ok := rem["config"]; ok {
		t.Error("the .env copy whose task is done is listed as remaining")
	}
	if c := rem["chat"]; len(c.Tasks) != 1 || c.Tasks[0].Kind != "chat" {
		t.Errorf("chat copy: %+v", c)
	}
	if c := rem["ticket"]; len(c.Tasks) != 1 || c.Tasks[0].Kind != "ticket" {
		t.Errorf("ticket copy: %+v", c)
	}
	if c := rem["history"]; len(c.Tasks) != 1 || c.Tasks[0].ID != "history:shop" {
		t.Errorf("history copy: %+v", c)
	}
	if c, ok := rem["ci"]; ok {
		t.Errorf("the CI copy the re-trace no longer found is listed as remaining: %+v", c)
	}

	// Remaining risk.
	var risks []string
	for _, x := range r.Remaining {
		risks = append(risks, x.Kind)
	}
	for _, want := range []string{"derived-not-revoked", "copies-remaining", "history-not-rewritten"} {
		if !slices.Contains(risks, want) {
			t.Errorf("remaining risk lacks %s: %v", want, risks)
		}
	}
	for _, not := range []string{"old-credential-active", "consumers-unverified", "audit-broken", "not-reviewed"} {
		if slices.Contains(risks, not) {
			t.Errorf("remaining risk has %s, which this incident does not show: %v", not, risks)
		}
	}
	if r.Remaining[0].Severity != "critical" {
		t.Errorf("remaining risk not most severe first: %+v", r.Remaining)
	}

	if !r.Audit.Intact || r.Audit.IncidentEntries == 0 {
		t.Errorf("audit: %+v", r.Audit)
	}

	// The usage chart: hours before the leak, the exposure, and after.
	var base, expo int
	for _, b := range r.Usage.Bars {
		base += b.Baseline
		expo += b.Exposure
	}
	if r.Usage.Bucket != "hour" || base != 72 || expo == 0 || len(r.Usage.Windows) != 3 {
		t.Errorf("usage: bucket %s, baseline %d, exposure %d, windows %+v", r.Usage.Bucket, base, expo, r.Usage.Windows)
	}
	if after := r.Usage.Windows[2]; after.Name != "after" || after.Failures != 3 {
		t.Errorf("after window: %+v", after)
	}
}

func TestEveryCopyRemainsBeforeRemediation(t *testing.T) {
	r := newWorld(t, worldOpts{drop: map[string]bool{"tasks": true}}).build(t)
	if len(r.Copies.Remaining) != r.Copies.Total || r.Copies.Total != 5 {
		t.Errorf("without remediation %d of %d copies remain", len(r.Copies.Remaining), r.Copies.Total)
	}
}

func TestRemediationInTheTimeline(t *testing.T) {
	w := newWorld(t, worldOpts{})
	al := audit.New(w.st, "")
	ctx := context.Background()
	if _, err := al.Append(ctx, "alice", "remediate.tasks", w.id, map[string]int{"open": 3, "remaining": 0, "done": 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := al.Append(ctx, "carol", "remediate.approved", w.id, map[string]string{"task": "history:shop"}); err != nil {
		t.Fatal(err)
	}
	if _, err := al.Append(ctx, "alice", "remediate.future-thing", w.id, map[string]any{"repo": "/src/shop", "n": 2}); err != nil {
		t.Fatal(err)
	}
	r, err := Build(ctx, Input{Store: w.st, Incident: w.id, Inventory: w.inv, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ action, actor, text string }{
		{"remediate.tasks", "alice", "3 tasks open"},
		{"remediate.approved", "carol", "carol approved remediation task history:shop"},
		{"remediate.future-thing", "alice", "n=2, repo=/src/shop"},
	} {
		if momentWith(r, "audit", c.action, c.actor, c.text) == nil {
			t.Errorf("timeline lacks %s by %s saying %q", c.action, c.actor, c.text)
		}
	}
}

func TestReportJSONShape(t *testing.T) {
	r := newWorld(t, worldOpts{}).build(t)
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	// The documented top-level keys (docs/formats.md).
	for _, k := range []string{"version", "incident", "generated", "state", "opened", "facts", "timeline", "scope", "copies", "response",
		"reviews", "remaining_risk", "standards", "audit", "usage"} {
		if _, ok := m[k]; !ok {
			t.Errorf("report JSON lacks %q", k)
		}
	}
	facts := m["facts"].(map[string]any)
	for _, k := range []string{"leaked_at", "first_unexplained_use", "revoked_at"} {
		if _, ok := facts[k]; !ok {
			t.Errorf("facts lack %q", k)
		}
	}
	std := m["standards"].([]any)[0].(map[string]any)
	for _, k := range []string{"framework", "id", "name", "trigger"} {
		if _, ok := std[k]; !ok {
			t.Errorf("a standards entry lacks %q", k)
		}
	}
}

// TestStandardsOnlyWhatHappened removes one fact at a time and checks that
// exactly the controls it triggers disappear, and every other stays.
func TestStandardsOnlyWhatHappened(t *testing.T) {
	full := ids(newWorld(t, worldOpts{}).build(t))
	all := []string{"NHI1:2025", "NHI2:2025", "NHI3:2025", "NHI4:2025", "NHI5:2025", "NHI7:2025", "NHI8:2025", "NHI9:2025",
		"PR.AA-01", "PR.AA-05", "DE.CM-03", "RS.AN-03", "RS.AN-06", "RS.AN-07", "RS.AN-08", "RS.MI-01", "RS.MI-02", "GV.SC-08",
		"GOVERN 1.6", "GOVERN 1.7", "MANAGE 2.4", "T1552.001", "T1552.008", "T1078", "T1136"}
	for _, id := range all {
		if !slices.Contains(full, id) {
			t.Errorf("the full incident does not map %s: %v", id, full)
		}
	}
	// A PostgreSQL role the leaked one created is a new database account,
	// not additional cloud credentials.
	for _, never := range []string{"NHI6:2025", "NHI10:2025", "T1078.004", "T1528", "T1098.001", "T1136.003"} {
		if slices.Contains(full, never) {
			t.Errorf("%s is mapped without its fact", never)
		}
	}
	cases := []struct {
		drop []string
		gone []string
	}{
		{[]string{"chat"}, []string{"T1552.008"}},
		{[]string{"files"}, []string{"T1552.001"}},
		{[]string{"files", "chat"}, []string{"NHI2:2025", "T1552.001", "T1552.008"}},
		{[]string{"createrole"}, []string{"NHI5:2025", "PR.AA-05"}},
		{[]string{"md5"}, []string{"NHI4:2025"}},
		{[]string{"long-lived"}, []string{"NHI7:2025"}},
		{[]string{"partner"}, []string{"NHI3:2025", "GV.SC-08"}},
		{[]string{"reuse"}, []string{"NHI8:2025"}},
		{[]string{"reuse", "shared", "partner"}, []string{"NHI8:2025", "NHI9:2025", "NHI3:2025", "GV.SC-08"}},
		{[]string{"derived"}, []string{"NHI1:2025", "T1136"}},
		{[]string{"agent"}, []string{"GOVERN 1.6", "GOVERN 1.7", "MANAGE 2.4"}},
		{[]string{"revoked"}, []string{"RS.MI-01", "GOVERN 1.7", "MANAGE 2.4", "PR.AA-01"}},
		{[]string{"tasks"}, []string{"RS.MI-02"}},
		{[]string{"audit"}, []string{"RS.AN-06"}},
		{[]string{"unexplained", "derived"}, []string{"T1078", "NHI1:2025", "T1136"}},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.drop, "+"), func(t *testing.T) {
			drop := map[string]bool{}
			for _, d := range c.drop {
				drop[d] = true
			}
			got := ids(newWorld(t, worldOpts{drop: drop}).build(t))
			for _, id := range all {
				gone := slices.Contains(c.gone, id)
				if has := slices.Contains(got, id); has == gone {
					t.Errorf("without %v: %s mapped=%v, want %v", c.drop, id, has, !gone)
				}
			}
		})
	}
}

func TestStandardsReviewAndEradication(t *testing.T) {
	// Without a review: no analysis, no finding-based monitoring, no
	// derived credential (the review finds it).
	got := ids(newWorld(t, worldOpts{drop: map[string]bool{"review": true}}).build(t))
	for _, id := range []string{"RS.AN-03", "NHI1:2025", "T1136"} {
		if slices.Contains(got, id) {
			t.Errorf("mapped %s without a review", id)
		}
	}
	// The attacker's use is in the scope even without a review.
	if !slices.Contains(got, "DE.CM-03") || !slices.Contains(got, "T1078") {
		t.Errorf("unexplained use in the scope is not mapped: %v", got)
	}
	// Eradication needs a finished revoke-related step or a done task.
	got = ids(newWorld(t, worldOpts{drop: map[string]bool{"tasks": true, "derived": true}}).build(t))
	if slices.Contains(got, "RS.MI-02") {
		t.Errorf("RS.MI-02 without anything eradicated: %v", got)
	}
}

func TestControlTriggersNameTheFact(t *testing.T) {
	r := newWorld(t, worldOpts{})
	rep := r.build(t)
	want := map[string]string{
		"NHI2:2025": "chat 1", "NHI5:2025": "CREATEROLE", "PR.AA-05": "CREATEROLE", "T1552.008": "chat 1, ticket 1",
		"NHI3:2025": "acme-partner", "NHI8:2025": "shop-db-staging/orders_svc", "T1136": "role backup_admin",
		"RS.AN-06": "intact", "GOVERN 1.6": "kind: agent", "T1078": attacker, "NHI4:2025": "md5",
	}
	for _, c := range rep.Standards {
		if w, ok := want[c.ID]; ok && !strings.Contains(c.Trigger, w) {
			t.Errorf("%s trigger %q does not name %q", c.ID, c.Trigger, w)
		}
		if c.ID == "PR.AA-05" && !strings.Contains(c.Note, "PR.AC-4") {
			t.Errorf("PR.AA-05 does not say it was PR.AC-4 in CSF 1.1: %+v", c)
		}
	}
}

func TestRemainingRiskBeforeRevocation(t *testing.T) {
	r := newWorld(t, worldOpts{drop: map[string]bool{"revoked": true}}).build(t)
	var kinds []string
	for _, x := range r.Remaining {
		kinds = append(kinds, x.Kind)
	}
	if !slices.Contains(kinds, "old-credential-active") || r.Remaining[0].Kind != "old-credential-active" {
		t.Errorf("remaining risk without a revoke: %v", kinds)
	}
	if r.Facts.RevokedAt != nil {
		t.Errorf("revoked at %v with no revoke done", r.Facts.RevokedAt)
	}
	if !strings.HasPrefix(r.Facts.Exposure, now.Sub(leak).String()[:3]) {
		t.Errorf("exposure of a secret still working runs to now: %q", r.Facts.Exposure)
	}
}

func TestRemainingRiskUnverifiedConsumer(t *testing.T) {
	w := newWorld(t, worldOpts{})
	ctx := context.Background()
	steps, _ := w.st.Steps(ctx, w.id)
	for _, s := range steps {
		if s.StepID == "verify:acme-partner" {
			s.State, s.Finished = "waiting-approval", nil
			if err := w.st.PutStep(ctx, w.id, s); err != nil {
				t.Fatal(err)
			}
		}
	}
	r := w.build(t)
	found := false
	for _, x := range r.Remaining {
		found = found || x.Kind == "consumers-unverified" && strings.Contains(x.Summary, "acme-partner")
	}
	if !found {
		t.Errorf("an unverified partner is not a remaining risk: %+v", r.Remaining)
	}
}

func TestTamperedAuditLog(t *testing.T) {
	w := newWorld(t, worldOpts{})
	db := w.st.(store.Raw).DB()
	if _, err := db.Exec(`UPDATE audit_log SET actor = 'mallory' WHERE action = 'step.approved'`); err != nil {
		t.Fatal(err)
	}
	r := w.build(t)
	if r.Audit.Intact || len(r.Audit.Breaks) == 0 {
		t.Fatalf("audit: %+v", r.Audit)
	}
	var broken, mapped bool
	for _, x := range r.Remaining {
		broken = broken || x.Kind == "audit-broken"
	}
	for _, c := range r.Standards {
		mapped = mapped || c.ID == "RS.AN-06" && strings.Contains(c.Trigger, "BROKEN")
	}
	if !broken || !mapped {
		t.Errorf("a broken chain: remaining %v, RS.AN-06 says broken %v", broken, mapped)
	}
}

func TestAppTokenAndCloudAccount(t *testing.T) {
	s := signals{copies: map[string]int{"code": 1}, appToken: "github-oauth-token", unexplained: []string{attacker}, systemType: "aws-iam", identity: "aws/deploy"}
	got := ids(&Incident{Standards: mapControls(s)})
	if !slices.Contains(got, "T1528") || !slices.Contains(got, "T1078.004") || slices.Contains(got, "T1078") {
		t.Errorf("an OAuth token of a cloud account used by an attacker: %v", got)
	}
	if appToken("postgres password") || appToken("github-pat-classic") || !appToken("slack-bot-token") || !appToken("github-server-to-server-token") {
		t.Error("appToken misjudges a kind")
	}
}

func ids(r *Incident) []string {
	var out []string
	for _, c := range r.Standards {
		out = append(out, c.ID)
	}
	return out
}

// html/template writes every "<" of data as "&lt;", so each "<" left in
// the output opens a real tag; the attributes checked are those tags'.
var (
	tagRE    = regexp.MustCompile(`<[a-zA-Z][^>]*>`)
	attrURL  = regexp.MustCompile(`(?i)\s(?:src|href|xlink:href|action|formaction|poster|data|srcset)\s*=\s*["']?\s*(?:https?:)?//`)
	cssURL   = regexp.MustCompile(`(?i)url\s*\(|@import`)
	scriptRE = regexp.MustCompile(`(?i)<script`)
)

func TestHTMLSelfContainedAndEscaped(t *testing.T) {
	w := newWorld(t, worldOpts{})
	// A consumer name from a recorded session (no inventory to check it
	// against) carrying markup and a remote image.
	evil := `orders"><script src="https://evil.example/x.js"></script><img src=https://evil.example/p.png onerror=alert(1)>`
	ctx := context.Background()
	cons, _ := w.st.Consumers(ctx, w.id)
	cons = append(cons, store.Consumer{Name: evil, Identity: "orders_svc", Observed: true, Sources: []string{evil}})
	if err := w.st.PutConsumers(ctx, w.id, cons); err != nil {
		t.Fatal(err)
	}
	r, err := Build(ctx, Input{Store: w.st, Incident: w.id, Inventory: nil, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.HasPrefix(out, "<!DOCTYPE html>") || !strings.Contains(out, "</html>") {
		t.Error("not a whole HTML document")
	}
	tags := tagRE.FindAllString(out, -1)
	if len(tags) < 50 {
		t.Fatalf("only %d tags found", len(tags))
	}
	for _, tag := range tags {
		if attrURL.MatchString(tag) {
			t.Errorf("the HTML reaches the network: %q", tag)
		}
		for _, bad := range []string{"<script", "<img", "<link", "<iframe", "<object", "<embed", "<image"} {
			if strings.HasPrefix(strings.ToLower(tag), bad) {
				t.Errorf("the HTML holds a %s tag: %q", bad, tag)
			}
		}
	}
	if scriptRE.MatchString(out) || cssURL.MatchString(out) {
		t.Error("the HTML holds a script, a CSS url() or an @import")
	}
	if !strings.Contains(out, "orders&#34;&gt;&lt;script src=&#34;https://evil.example/x.js&#34;&gt;") {
		t.Error("the consumer's name is not shown, escaped")
	}
	// The timeline and the before/after chart are there.
	for _, want := range []string{"<h2>Timeline</h2>", "<svg", `class="w-baseline"`, `class="w-exposure"`, "Before and after", "m-revoke", "bob"} {
		if !strings.Contains(out, want) {
			t.Errorf("the HTML lacks %q", want)
		}
	}
}

func TestMarkdownForATicket(t *testing.T) {
	w, out := markdownWithConsumer(t, store.Consumer{Name: "a|b <img src=x>", Identity: "orders_svc", Observed: true})
	for _, want := range []string{"# Incident " + w.id, "## Key facts", "## Timeline", "## Scope", "`CREATEROLE`", "## Response", "approved by **bob**",
		"## Review", "postgresql-2026-03.csv:", "## Copies remaining", "(#ops@1772444460.000100)`", "history:shop (history, open)", "## Remaining risk",
		"## Standards", "NHI2:2025", "PR.AA-05 (PR.AC-4 in CSF 1.1)", "## Audit log", "Intact"} {
		if !strings.Contains(out, want) {
			t.Errorf("the Markdown lacks %q", want)
		}
	}
	if !strings.Contains(out, `a\|b &lt;img src=x&gt;`) || strings.Contains(out, "<img") {
		t.Error("a consumer's name breaks the Markdown table or carries HTML")
	}
}

// TestDerivedCredentialTechniquesFitTheSystem: ATT&CK's technique for
// what the leaked credential made depends on what it is and where: a
// database role is Create Account (the parent: T1136.001 is an operating
// system's local account), a changed password or grant is Account
// Manipulation, a cloud access key is Additional Cloud Credentials and a
// cloud user Create Account: Cloud Account; T1078.004 only for cloud.
func TestDerivedCredentialTechniquesFitTheSystem(t *testing.T) {
	for _, c := range []struct {
		system string
		by     map[string][]string
		want   []string
		never  []string
	}{
		{"postgres", map[string][]string{"role": {"backup_admin"}}, []string{"T1136", "T1078"}, []string{"T1098.001", "T1136.003", "T1136.001", "T1078.004", "T1098"}},
		{"mysql", map[string][]string{"password": {"app@%"}, "grant": {"app@%"}}, []string{"T1098"}, []string{"T1098.001", "T1136"}},
		{"redis", map[string][]string{"credential": {"svc"}}, []string{"T1098"}, []string{"T1098.001"}},
		{"aws-iam", map[string][]string{"access-key": {"AKIAEXAMPLEDERIVED01"}, "role": {"backdoor"}}, []string{"T1098.001", "T1136.003", "T1078.004"},
			[]string{"T1136", "T1098", "T1078"}},
	} {
		t.Run(c.system, func(t *testing.T) {
			s := signals{systemType: c.system, identity: c.system + "/svc", unexplained: []string{attacker}, derivedBy: c.by}
			for k, v := range c.by {
				for _, n := range v {
					s.derived = append(s.derived, k+" "+n)
				}
			}
			got := ids(&Incident{Standards: mapControls(s)})
			for _, id := range c.want {
				if !slices.Contains(got, id) {
					t.Errorf("%s: %s not mapped: %v", c.system, id, got)
				}
			}
			for _, id := range c.never {
				if slices.Contains(got, id) {
					t.Errorf("%s: %s mapped: %v", c.system, id, got)
				}
			}
		})
	}
}

// A name with a newline or a terminal escape must not start a row of the
// report's tables (or repaint the terminal it is read in).
func TestMarkdownEscapesControlCharacters(t *testing.T) {
	_, out := markdownWithConsumer(t, store.Consumer{Name: "a\nHIGH fake-row\x1b[2J", Identity: "orders_svc", Observed: true, Sources: []string{"10.0.0.9\r| forged"}})
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "HIGH fake-row") || strings.ContainsAny(line, "\r\x1b") {
			t.Errorf("a consumer's name forged a line: %q", line)
		}
	}
	if !strings.Contains(out, `a\\nHIGH fake-row\\x1b\[2J`) || !strings.Contains(out, `10.0.0.9\\r\| forged`) {
		t.Errorf("the name is not shown escaped:\n%s", out)
	}
}

// markdownWithConsumer is the report's Markdown for an incident with one
// more consumer, named by whoever wrote the inventory.
func markdownWithConsumer(t *testing.T, c store.Consumer) (*world, string) {
	t.Helper()
	w := newWorld(t, worldOpts{})
	ctx := context.Background()
	cons, _ := w.st.Consumers(ctx, w.id)
	if err := w.st.PutConsumers(ctx, w.id, append(cons, c)); err != nil {
		t.Fatal(err)
	}
	r, err := Build(ctx, Input{Store: w.st, Incident: w.id, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.WriteMarkdown(&buf); err != nil {
		t.Fatal(err)
	}
	return w, buf.String()
}
