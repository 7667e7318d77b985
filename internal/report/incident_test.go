package report

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/audit"
	"github.com/rekeyhq/rekey/internal/engine"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/logs"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/review"
	"github.com/rekeyhq/rekey/internal/scope"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
)

// The incident every test starts from: the orders service's PostgreSQL
// password leaked on 2 March (a commit, then pasted in Slack and in a
// Jira comment). An attacker used it from 203.0.113.50 and created a role
// with it; three consumers share it, one of them a partner.
var (
	leak    = time.Date(2026, 3, 2, 9, 41, 0, 0, time.UTC)
	opened  = time.Date(2026, 3, 4, 8, 0, 0, 0, time.UTC)
	rotated = time.Date(2026, 3, 4, 10, 30, 0, 0, time.UTC)
	now     = time.Date(2026, 3, 5, 12, 0, 0, 0, time.UTC)
)

const attacker = "203.0.113.50"

// world is a hand-built incident in a real SQLite store. drop names facts
// to leave out, so that a test can show a control disappears with its
// fact.
type world struct {
	st  store.Store
	id  string
	inv *inventory.Inventory
}

type worldOpts struct {
	drop map[string]bool
}

func newWorld(t *testing.T, o worldOpts) *world {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, store.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	drop := o.drop
	if drop == nil {
		drop = map[string]bool{}
	}
	w := &world{st: st}

	// The inventory, as an operator writes it.
	kind := "    kind: agent\n"
	if drop["agent"] {
		kind = ""
	}
	consumers := `  - name: orders-api
    identity: orders_svc
    deliver: { type: file, path: /srv/orders/.env, format: dotenv, key: DATABASE_URL }
    sources: ["10.0.4.0/24"]
`
	if !drop["shared"] {
		consumers += `  - name: billing
    identity: orders_svc
    deliver: { type: file, path: /srv/billing/config.yaml, format: yaml, key: db.password, user_key: db.user }
    sources: ["10.0.5.0/24"]
`
	}
	if !drop["partner"] {
		consumers += `  - name: acme-partner
    identity: orders_svc
    third_party: true
    change_window: "daily 00:00-24:00 UTC"
`
	}
	invText := `version: 1
systems:
  - name: shop-db
    type: postgres
    admin: env:SHOP_DB_ADMIN_DSN
  - name: shop-db-staging
    type: postgres
    admin: env:STAGING_DB_ADMIN_DSN
identities:
  - name: orders_svc
    system: shop-db
    owner: { team: orders, contact: "#orders-oncall" }
` + kind + "consumers:\n" + consumers
	invPath := filepath.Join(dir, "rekey.yml")
	if err := os.WriteFile(invPath, []byte(invText), 0o644); err != nil {
		t.Fatal(err)
	}
	inv, rep, err := inventory.Load(invPath, inventory.Options{SkipLocal: true})
	if err != nil || len(rep.Errors) > 0 {
		t.Fatalf("inventory: %v %v", err, rep.Errors)
	}
	w.inv = inv

	fp := secret.Fingerprint(strings.Repeat("ab", 32))
	l := leak
	inc, _, err := st.OpenIncident(ctx, store.Incident{Fingerprint: fp, Preview: "Qz7v…T4m", Kind: "postgres password", Created: opened, LeakedAt: &l, Inventory: invPath})
	if err != nil {
		t.Fatal(err)
	}
	w.id = inc.ID
	inc.Identity = store.IdentityRef{System: "shop-db", Name: "orders_svc"}
	if err := st.UpdateIncident(ctx, inc); err != nil {
		t.Fatal(err)
	}
	al := audit.New(st, "")
	// Entries carry the time they were appended; the story needs its own
	// times, so they are rewritten at the end and the chain re-hashed as
	// the store would have made it.
	times := map[int64]time.Time{}
	log := func(at time.Time, actor, action string, detail any) {
		if drop["audit"] {
			return
		}
		e, err := al.Append(ctx, actor, action, w.id, detail)
		if err != nil {
			t.Fatal(err)
		}
		times[e.Seq] = at
	}
	defer w.retime(t, times)
	log(opened, "alice", "incident.open", map[string]string{"fingerprint": string(fp), "inventory": invPath})

	// Copies: working tree, history, CI, chat, ticket.
	var occ []store.Occurrence
	add := func(class, path string, line int, commit, ref string, atHead bool) {
		occ = append(occ, store.Occurrence{Fingerprint: fp, Preview: "Qz7v…T4m", Rule: "trace", Path: path, Line: line, Column: 30,
			Commit: commit, AtHead: atHead, Class: class, Encoding: "plain", Ref: ref, Match: "exact"})
	}
	if !drop["files"] {
		add("config", "/src/shop/.env", 2, "", "", true)
		add("history", "/src/shop/config/database.yml", 7, "4f1c2a9e8b7d6c5f4e3d2c1b0a99887766554433", "", false)
		add("ci", "/src/shop/.github/workflows/deploy.yml", 31, "", "", true)
	}
	if !drop["chat"] {
		add("chat", "/exports/slack/ops/2026-03-02.json", 12, "", "#ops@1772444460.000100", true)
		add("ticket", "/exports/jira.json", 40, "", "OPS-12#comment-10001", true)
	}
	if err := st.PutOccurrences(ctx, w.id, occ); err != nil {
		t.Fatal(err)
	}

	// The identity: CREATEROLE, an md5 verifier, no expiry.
	priv := []store.Privilege{{Name: "SELECT ON orders", Risk: "low"}}
	if !drop["createrole"] {
		priv = append(priv, store.Privilege{Name: "CREATEROLE", Risk: "critical", CreatesCredentials: true})
	}
	method := "md5"
	if drop["md5"] {
		method = "scram-sha-256"
	}
	ident := store.Identity{System: "shop-db", Name: "orders_svc", Method: method, Inspected: true, Exists: true, CanLogin: true,
		Privileges: priv, Sessions: []store.Session{{ID: "4121", Client: "10.0.4.7:51544", Application: "orders-api", Started: opened.Add(-time.Hour)}}}
	if drop["long-lived"] {
		soon := now.Add(10 * 24 * time.Hour)
		ident.ValidUntil = &soon
	}
	if err := st.PutIdentity(ctx, w.id, ident); err != nil {
		t.Fatal(err)
	}
	if !drop["reuse"] {
		if err := st.PutIdentity(ctx, w.id, store.Identity{System: "shop-db-staging", Name: "orders_svc", Method: "scram-sha-256", Inspected: true, Exists: true}); err != nil {
			t.Fatal(err)
		}
	}

	// Uses read from the logs at open: the consumers every hour before
	// the leak, the attacker after it.
	var evs []store.Event
	var revEvents []logs.Event
	use := func(at time.Time, src, action, outcome string, line int, detail map[string]string) {
		evs = append(evs, store.Event{Time: at, Credential: "orders_svc", Identity: "orders_svc", Source: src, Action: action, Outcome: outcome,
			File: "/var/log/postgresql/postgresql-2026-03.csv", Line: line, Detail: detail})
		revEvents = append(revEvents, logs.Event{Time: at, Credential: "orders_svc", Identity: "orders_svc", Source: src, Action: action,
			Outcome: logs.Outcome(outcome), File: "/var/log/postgresql/postgresql-2026-03.csv", Line: line, Detail: detail})
	}
	line := 1
	for h := leak.Add(-72 * time.Hour); h.Before(leak.Add(40 * time.Hour)); h = h.Add(time.Hour) {
		use(h, "10.0.4.7", "connect", "success", line, nil)
		line++
	}
	if !drop["unexplained"] {
		use(leak.Add(20*time.Hour), attacker, "connect", "success", line, nil)
		line++
		use(leak.Add(20*time.Hour+2*time.Minute), attacker, "SELECT", "success", line, nil)
		line++
	}
	if !drop["derived"] {
		use(leak.Add(20*time.Hour+5*time.Minute), attacker, "CREATE ROLE", "success", line,
			map[string]string{"derived": "true", "statement": "CREATE ROLE backup_admin LOGIN PASSWORD '[redacted]'"})
	}
	if err := st.AddEvents(ctx, w.id, evs); err != nil {
		t.Fatal(err)
	}

	sc := scope.Compute(scope.Input{Incident: inc, Occurrences: occ, Identities: []store.Identity{ident}, Events: evs, Inventory: inv, Now: opened})
	var cons []store.Consumer
	for _, c := range sc.Consumers {
		cons = append(cons, store.Consumer{Name: c.Name, Identity: "orders_svc", Declared: c.Declared, Observed: c.Observed, Sources: c.Sources, ThirdParty: c.ThirdParty})
	}
	if err := st.PutConsumers(ctx, w.id, cons); err != nil {
		t.Fatal(err)
	}

	// The exposure review, then the plan and its run.
	consumersOf := inv.ConsumersOf(inv.IdentityByName("shop-db/orders_svc"))
	if !drop["review"] {
		rv := review.New(review.Config{Credential: "orders_svc", LeakedAt: leak, Consumers: consumersOf, Now: opened})
		for _, e := range revEvents {
			rv.Add(e)
		}
		w.putReview(t, "exposure", opened.Add(10*time.Minute), rv.Result())
		log(opened.Add(10*time.Minute), "alice", "incident.review", map[string]any{"phase": "exposure", "findings": len(rv.Result().Findings)})
	}

	// Every delivery here holds a DSN, so each consumer can get its own login.
	p, err := plan.Build(plan.Input{Scope: sc, Inventory: inv, Strategy: plan.Split, Now: opened.Add(15 * time.Minute),
		CanChangeLogin: func(c *inventory.Consumer) bool { return c.Deliver != nil }})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(p)
	if err := st.PutPlan(ctx, w.id, store.Plan{Strategy: string(p.Strategy), Created: opened.Add(15 * time.Minute), Body: body}); err != nil {
		t.Fatal(err)
	}
	log(opened.Add(15*time.Minute), "alice", "incident.plan", map[string]any{"strategy": p.Strategy, "requested": p.Requested, "steps": len(p.Steps)})
	log(opened.Add(20*time.Minute), "alice", "run.start", map[string]string{"strategy": string(p.Strategy)})
	at := opened.Add(20 * time.Minute)
	for _, ps := range p.Steps {
		at = at.Add(time.Minute)
		done := true
		switch ps.Kind {
		case plan.Revoke, plan.TerminateSessions, plan.Isolate:
			done = !drop["revoked"]
		}
		if ps.Kind == plan.Issue && !drop["revoked"] && ps.Login != "" {
			exp := at.Add(720 * time.Hour)
			if err := st.PutLease(ctx, store.Lease{ID: "L-" + ps.Login, IncidentID: w.id, System: ps.System, Login: ps.Login, Consumer: ps.Consumer,
				Issued: at, Expires: &exp, Enforced: true, State: store.LeaseActive}); err != nil {
				t.Fatal(err)
			}
		}
		s := store.Step{StepID: ps.ID, State: engine.Pending}
		if ps.Approval != "" && done {
			a := at
			s.ApprovedBy, s.ApprovedAt = "bob", &a
			log(at, "bob", "step.approved", map[string]string{"step": ps.ID, "reason": ps.Approval})
		}
		if done {
			start, fin := at, at.Add(20*time.Second)
			if ps.Kind == plan.Revoke {
				start, fin = rotated.Add(-20*time.Second), rotated
			}
			s.State, s.Started, s.Finished, s.Attempts = engine.Done, &start, &fin, 1
			s.Result = json.RawMessage(`{"detail":"done by the test world"}`)
			log(start, "alice", "step.running", map[string]any{"step": ps.ID, "kind": ps.Kind, "target": ps.Target, "attempt": 1})
			log(fin, "alice", "step.done", map[string]any{"step": ps.ID, "result": map[string]string{"detail": "done by the test world"}})
		}
		if err := st.PutStep(ctx, w.id, s); err != nil {
			t.Fatal(err)
		}
	}
	if !drop["revoked"] {
		if err := st.SetRunState(ctx, w.id, store.RunDone); err != nil {
			t.Fatal(err)
		}
		log(rotated.Add(time.Minute), "alice", "credential.revealed", map[string]string{"system": "shop-db", "login": "orders_svc_acme"})
		log(rotated.Add(2*time.Minute), "alice", "lease.renew", map[string]string{"lease": "L-orders_svc_billing", "until": "2026-04-20T00:00:00Z"})
		log(rotated.Add(3*time.Minute), "alice", "run.done", nil)
	}

	// The review after rotation: the attacker keeps trying.
	if !drop["review"] && !drop["revoked"] {
		rv := review.New(review.Config{Credential: "orders_svc", LeakedAt: leak, RotatedAt: rotated, Consumers: consumersOf, Now: now})
		for _, e := range revEvents {
			rv.Add(e)
		}
		for i := range 3 {
			rv.Add(logs.Event{Time: rotated.Add(time.Duration(10+i) * time.Minute), Credential: "orders_svc", Identity: "orders_svc", Source: attacker,
				Action: "connect", Outcome: logs.Failure, File: "/var/log/postgresql/postgresql-2026-03-04.csv", Line: 900 + i})
		}
		w.putReview(t, "after", now.Add(-time.Hour), rv.Result())
		log(now.Add(-time.Hour), "alice", "incident.review", map[string]any{"phase": "after", "findings": len(rv.Result().Findings)})
	}

	if !drop["tasks"] {
		// As remediation leaves them: the re-trace no longer finds the CI
		// copy (no task), the .env is fixed, the rest is for people.
		tasks := []store.Task{
			{ID: "file:/src/shop/.env", Kind: "working-tree", Location: "/src/shop/.env:2", Action: "removed", State: store.TaskDone},
			{ID: "chat:#ops@1772444460.000100", Kind: "chat", Location: "#ops@1772444460.000100 (/exports/slack/ops/2026-03-02.json)",
				Action: "delete or edit the message in #ops at ts 1772444460.000100", State: store.TaskOpen},
			{ID: "ticket:OPS-12#comment-10001", Kind: "ticket", Location: "OPS-12#comment-10001 (/exports/jira.json)",
				Action: "remove the secret from comment 10001 of OPS-12", State: store.TaskOpen},
			{ID: "history:shop", Kind: "history", Location: "/src/shop", Action: "rewrite the history", State: store.TaskOpen},
		}
		if err := st.PutTasks(ctx, w.id, tasks); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func (w *world) putReview(t *testing.T, phase string, at time.Time, rep review.Report) {
	t.Helper()
	body, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.st.PutReview(context.Background(), w.id, store.Review{Phase: phase, Created: at, Body: body}); err != nil {
		t.Fatal(err)
	}
}

// retime gives audit entries the times of the story and re-hashes the
// chain, as if each had been appended then.
func (w *world) retime(t *testing.T, times map[int64]time.Time) {
	t.Helper()
	db := w.st.(store.Raw).DB()
	entries, err := w.st.AuditLog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	prev := ""
	for _, e := range entries {
		if at, ok := times[e.Seq]; ok {
			e.Time = at
		}
		e.PrevHash = prev
		e.Hash = audit.Hash(e)
		if _, err := db.Exec(`UPDATE audit_log SET at_time = $1, prev_hash = $2, hash = $3 WHERE seq = $4`, store.FormatTime(e.Time), e.PrevHash, e.Hash, e.Seq); err != nil {
			t.Fatal(err)
		}
		prev = e.Hash
	}
}

func (w *world) build(t *testing.T) *Incident {
	t.Helper()
	r, err := Build(context.Background(), Input{Store: w.st, Incident: w.id, Inventory: w.inv, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type (
	scopePrivilege = scope.Privilege
	scopeConsumer  = scope.Consumer
)
