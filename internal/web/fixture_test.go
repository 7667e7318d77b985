package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/audit"
	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/engine"
	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/review"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
)

// tokens is an Authenticator over a table, standing in for package
// token (which lands on another branch) in these tests. Revoking a token
// deletes its row.
type tokens struct {
	mu sync.Mutex
	m  map[string]auth.Principal
	// down, when set, is the error of a store that cannot be read.
	down error
}

func (t *tokens) Authenticate(_ context.Context, bearer string) (auth.Principal, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.down != nil {
		return auth.Principal{}, t.down
	}
	if p, ok := t.m[bearer]; ok {
		p.Via = "token"
		return p, nil
	}
	return auth.Principal{}, auth.ErrUnauthenticated
}

func (t *tokens) revoke(bearer string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, bearer)
}

// The tokens of the fixture: olga (an admin) opened the incident and
// ravi (an approver) started its run, so neither may approve its steps;
// alice and ada may; vera only reads.
const (
	tokOpener    = "rekey_test_olga_admin"
	tokStarter   = "rekey_test_ravi_approver"
	tokApprover  = "rekey_test_alice_approver"
	tokAdmin     = "rekey_test_ada_admin"
	tokViewer    = "rekey_test_vera_viewer"
	leakedSecret = "pg-leaked-Sup3rS3cret-value"
)

// hub is a stand-in for the runs helper's event stream: a test calls
// send after changing a step, and every open stream gets `event: step`.
type hub struct {
	mu   sync.Mutex
	subs map[chan string]bool
}

func (h *hub) send(event string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.subs {
		select {
		case c <- event:
		default:
		}
	}
}

func (h *hub) listeners() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

func (h *hub) serve(w http.ResponseWriter, r *http.Request, id string) {
	c := make(chan string, 8)
	h.mu.Lock()
	h.subs[c] = true
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.subs, c)
		h.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	seq := 0
	for {
		select {
		case <-r.Context().Done():
			return
		case ev := <-c:
			seq++
			fmt.Fprintf(w, "event: %s\nid: %d\ndata: {\"incident\":%q}\n\n", ev, seq, id)
			_ = rc.Flush()
		}
	}
}

type fixture struct {
	st     store.Store
	al     *audit.Log
	tokens *tokens
	events *hub
	h      *Handler
	id     string
	now    time.Time
	// approval is the id of the step that waits for a person.
	approval string
}

func newFixture(t *testing.T, secure bool) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "rekey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{st: st, al: audit.New(st, filepath.Join(dir, "witness")), now: time.Now().UTC(),
		events: &hub{subs: map[chan string]bool{}},
		tokens: &tokens{m: map[string]auth.Principal{
			tokOpener:   {Name: "olga", Role: auth.Admin},
			tokStarter:  {Name: "ravi", Role: auth.Approver},
			tokApprover: {Name: "alice", Role: auth.Approver},
			tokAdmin:    {Name: "ada", Role: auth.Admin},
			tokViewer:   {Name: "vera", Role: auth.Viewer},
		}}}
	f.seed(t)
	f.h = New(Config{Store: st, Auth: f.tokens, Secure: secure, Events: f.events.serve,
		Deps: func(ctx context.Context, p auth.Principal) (incident.Deps, error) {
			return incident.Deps{Store: st, Audit: f.al, Actor: p.Name}, nil
		}})
	return f
}

// seed stores an incident as `incident open`, `plan` and `review` leave
// it: a PostgreSQL password of shop-db/orders_svc with two privileges,
// two consumers (one undeclared), a copy in a repository, a review with
// a finding, and a plan whose revoke step waits for an approval, with
// its run started by ravi.
func (f *fixture) seed(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	fpr, err := secret.NewFingerprinter(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	fp := fpr.OfBytes([]byte(leakedSecret))
	opened := f.now.Add(-3 * time.Hour)
	inc, _, err := f.st.OpenIncident(ctx, store.Incident{Fingerprint: fp, Preview: secret.Preview([]byte(leakedSecret)), Kind: "postgres-password",
		Created: opened, Identity: store.IdentityRef{System: "shop-db", Name: "orders_svc"}})
	if err != nil {
		t.Fatal(err)
	}
	f.id = inc.ID
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = f.al.Append(ctx, "olga", "incident.open", inc.ID, map[string]string{})
	must(err)
	must(f.st.PutIdentity(ctx, inc.ID, store.Identity{System: "shop-db", Name: "orders_svc", Method: "scram-sha-256", Inspected: true, Exists: true, CanLogin: true,
		Flags:      []string{"over-privileged"},
		Privileges: []store.Privilege{{Name: "SUPERUSER", Risk: "critical", CreatesCredentials: true}, {Name: "SELECT, INSERT ON orders", Risk: "medium"}}}))
	must(f.st.PutConsumers(ctx, inc.ID, []store.Consumer{
		{Name: "orders-api", Identity: "orders_svc", Declared: true, Observed: true, Sources: []string{"10.0.4.7"}},
		{Name: "reporting-cron", Identity: "orders_svc", Observed: true, Sources: []string{"203.0.113.9"}},
	}))
	must(f.st.PutOccurrences(ctx, inc.ID, []store.Occurrence{{Fingerprint: fp, Preview: secret.Preview([]byte(leakedSecret)), Rule: "postgres-password",
		Severity: "high", Path: "deploy/orders.env", Line: 3, Column: 18, Commit: "9f1c2e3d4b5a69788796a5b4c3d2e1f0a9b8c7d6", Class: "repository", Encoding: "plain"}}))
	rep := review.Report{Credential: "orders_svc", HasBaseline: true, Events: 42, Notes: []string{},
		Findings: []review.Finding{{Kind: "new-source", Severity: "high", Summary: "orders_svc was used from 203.0.113.9, a source never seen before the leak",
			Window: "exposure", Subject: "203.0.113.9", Count: 3,
			Evidence: []review.Evidence{{File: "/var/log/postgresql/pg.json", Line: 118, Time: opened.Add(time.Hour), Source: "203.0.113.9", Action: "login", Credential: "orders_svc", Outcome: "success"}}}}}
	body, err := json.Marshal(rep)
	must(err)
	must(f.st.PutReview(ctx, inc.ID, store.Review{Phase: "exposure", Created: opened.Add(2 * time.Hour), Body: body}))

	p := plan.Plan{Incident: inc.ID, Strategy: plan.Graceful, Requested: "auto", Reason: "every consumer can take a new login.", Created: opened.Add(2 * time.Hour),
		Steps: []plan.Step{
			{ID: "issue-orders-api", Kind: plan.Issue, Target: "shop-db", System: "shop-db", Identity: "orders_svc", Login: "orders_svc_2", Consumer: "orders-api", Summary: "create orders_svc_2 with orders_svc's privileges"},
			{ID: "deliver-orders-api", Kind: plan.Deliver, Target: "orders-api", Needs: []string{"issue-orders-api"}, Consumer: "orders-api", Summary: "write the new login into deploy/orders.env"},
			{ID: "revoke-orders_svc", Kind: plan.Revoke, Target: "shop-db", System: "shop-db", Identity: "orders_svc", Needs: []string{"deliver-orders-api"},
				Approval: "an undeclared consumer still uses orders_svc", Summary: "revoke orders_svc's password"},
		}}
	f.approval = "revoke-orders_svc"
	pb, err := json.Marshal(p)
	must(err)
	must(f.st.PutPlan(ctx, inc.ID, store.Plan{Strategy: string(p.Strategy), Created: p.Created, Body: pb}))
	_, err = f.al.Append(ctx, "ravi", "run.start", inc.ID, map[string]string{"strategy": "graceful"})
	must(err)
	started := opened.Add(150 * time.Minute)
	must(f.st.SetRunState(ctx, inc.ID, store.RunWaiting))
	must(f.st.PutStep(ctx, inc.ID, store.Step{StepID: "issue-orders-api", State: engine.Done, Started: &started, Finished: &started}))
	must(f.st.PutStep(ctx, inc.ID, store.Step{StepID: "deliver-orders-api", State: engine.Running, Started: &started}))
	must(f.st.PutStep(ctx, inc.ID, store.Step{StepID: "revoke-orders_svc", State: engine.WaitingApproval}))
	must(f.st.PutTasks(ctx, inc.ID, []store.Task{
		{ID: "branch:shop", Kind: "working-tree", Location: "deploy/orders.env:3", Action: "merge branch rekey/" + inc.ID + ", which reads the password from the environment", State: store.TaskOpen},
		{ID: "rewrite-history:shop", Kind: "history", Location: "shop (1 commit)", Action: "rewrite the history of a mirror with git filter-repo, then force-push", State: store.TaskOpen},
	}))
	expires := f.now.Add(30 * 24 * time.Hour)
	must(f.st.PutLease(ctx, store.Lease{ID: inc.ID + ":shop-db/orders_svc_2", IncidentID: inc.ID, System: "shop-db", Login: "orders_svc_2", Consumer: "orders-api",
		Issued: started, Expires: &expires, Enforced: true, State: store.LeaseActive}))
	must(f.st.CreateBrokerLease(ctx, store.BrokerLease{ID: "lease-7c1f", Role: "orders-rw", System: "shop-db", Identity: "orders_svc", Login: "rk_orders_rw_7c1f",
		Holder: "https://token.actions.githubusercontent.com:repo:shop/orders:ref:refs/heads/main", IssuedAt: f.now.Add(-5 * time.Minute),
		ExpiresAt: f.now.Add(10 * time.Minute), MaxExpiresAt: f.now.Add(time.Hour), State: store.BrokerActive}))
}
