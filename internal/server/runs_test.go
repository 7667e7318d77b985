package server

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rekeyhq/rekey/internal/audit"
	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/engine"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/notify"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/postgres"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/source/git/gittest"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/open"
	"github.com/rekeyhq/rekey/internal/testutil"
	"github.com/rekeyhq/rekey/internal/token"
)

// people are the tokens each world creates in its store: the tests name
// them "tok-NAME", the requests carry the real token.
var people = map[string]auth.Role{"alice": auth.Responder, "bob": auth.Approver, "vera": auth.Viewer}

// world is an incident on a real PostgreSQL (the package's scram
// cluster): its identity a login with the leaked password and no
// consumer, so that the graceful plan is revoke (waiting for an
// approval, as the policy asks) then terminate sessions.
type world struct {
	t        *testing.T
	c        *testutil.PGCluster
	dir      string
	st       store.Store
	role     string
	password string
	inc      store.Incident
	hook     *hookReceiver
	notifier *notify.Notifier
	// gate, when set, is where every step waits before its side effect.
	gate func(step, phase string)
	// noAdmin hides the system's admin credential (a preflight problem).
	noAdmin bool
	keys    struct{ seal, fp []byte }
	// tokens maps "tok-NAME" to NAME's real token.
	tokens map[string]string
}

func newWorld(t *testing.T, storeSpec string) *world { return newWorldWith(t, storeSpec, "") }

// newWorldWith is newWorld whose identity has one consumer, api, that
// gets its DSN in a dotenv file and whose health check is health.
func newWorldWith(t *testing.T, storeSpec, health string) *world {
	t.Helper()
	c := testutil.SharedPostgres(t)
	w := &world{t: t, c: c, dir: t.TempDir(), role: testutil.RandomName("srv_"), password: "Leaked-" + testutil.RandomName("pw")}
	c.CreateRole(t, w.role, w.password, "")
	t.Cleanup(func() {
		// Logins a run issued are members of the identity: dropped first.
		for _, r := range rolesLike(t, c, w.role) {
			c.Exec(t, "DROP OWNED BY "+testutil.QuoteIdent(r)+"; DROP ROLE IF EXISTS "+testutil.QuoteIdent(r))
		}
	})
	w.keys.seal, w.keys.fp = randomKey(t), randomKey(t)
	w.hook = newHookReceiver(t)
	inv := filepath.Join(w.dir, "rekey.yml")
	yml := "version: 1\nsystems:\n  - {name: db, type: postgres, admin: env:DB_ADMIN}\nidentities:\n" +
		"  - {name: " + w.role + ", system: db, owner: {team: orders, contact: \"#orders-oncall\"}}\n" +
		"policy:\n  approve: [revoke]\nnotify:\n  - {type: webhook, url: env:HOOK_URL}\n  - {type: slack, url: env:SLACK_URL}\n"
	if health != "" {
		env := filepath.Join(w.dir, "api.env")
		if err := os.WriteFile(env, []byte("DATABASE_URL="+c.URL(w.role, w.password, "postgres")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		yml += "consumers:\n  - {name: api, identity: " + w.role + ", deliver: {type: file, path: " + env +
			", format: dotenv, key: DATABASE_URL}, health: " + strconv.Quote(health) + "}\n"
	}
	if err := os.WriteFile(inv, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	if storeSpec == "" {
		storeSpec = filepath.Join(w.dir, "rekey.db")
	}
	st, err := open.Open(context.Background(), storeSpec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w.st = st
	ctx := context.Background()
	fp, _ := secret.NewFingerprinter(w.keys.fp)
	w.inc, _, err = st.OpenIncident(ctx, store.Incident{Fingerprint: fp.Of(secret.FromString(w.password)), Preview: "Le…",
		Inventory: inv, Identity: store.IdentityRef{System: "db", Name: w.role}})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutIdentity(ctx, w.inc.ID, store.Identity{System: "db", Name: w.role, Method: "scram-sha-256",
		Inspected: true, Exists: true, CanLogin: true, Flags: []string{}}); err != nil {
		t.Fatal(err)
	}
	d := w.deps(auth.Principal{Name: "olga"}, false)
	if _, err := d.Audit.Append(ctx, "olga", "incident.open", w.inc.ID, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	if _, err := incident.Plan(ctx, d, w.inc.ID, plan.Graceful); err != nil {
		t.Fatal(err)
	}
	w.tokens = map[string]string{}
	for name, role := range people {
		tok, _, err := token.Create(ctx, st, name, role, time.Hour, "test", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		w.tokens["tok-"+name] = string(tok.Reveal())
	}
	w.notifier = notify.New(notify.Options{Backoff: time.Millisecond, MaxBackoff: time.Millisecond})
	t.Cleanup(func() { w.notifier.Close(context.Background()) })
	return w
}

// rolesLike are the roles whose names start with prefix, longest first
// (an issued login's name extends the identity's).
func rolesLike(t *testing.T, c *testutil.PGCluster, prefix string) []string {
	t.Helper()
	rows, err := c.Pool(t).Query(context.Background(), "SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1) ORDER BY length(rolname) DESC", prefix)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func randomKey(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func (w *world) getenv(k string) string {
	if k == "DB_ADMIN" && w.noAdmin {
		return ""
	}
	return map[string]string{"DB_ADMIN": w.c.AdminURL(), "HOOK_URL": w.hook.srv.URL + "/hook/webhooksecret0123",
		"SLACK_URL": w.hook.srv.URL + "/slack/T1/B1/slacksecret0123"}[k]
}

// deps is what `rekey serve` gives the workflow for p, with claims on
// the store when asked (what a server needs; approving needs none).
func (w *world) deps(p auth.Principal, claims bool) incident.Deps {
	reg := provider.NewRegistry()
	reg.Register("postgres", postgres.New)
	d := incident.Deps{
		Store: w.st, Actor: p.Name,
		Audit: audit.New(w.st, filepath.Join(w.dir, "witness")).WithKey(filepath.Join(w.dir, "audit.key"), true),
		LoadInventory: func(path string) (*inventory.Inventory, error) {
			inv, rep, err := inventory.Load(path, inventory.Options{SkipLocal: true})
			if err == nil && !rep.OK() {
				return nil, errs.New("inventory", errs.Invalid, path, "invalid")
			}
			return inv, err
		},
		Registry: reg, Getenv: w.getenv, Home: w.dir, SeenTimeout: 5 * time.Second,
		Sealer: func(id string) (*secret.Sealer, error) {
			s, err := secret.NewSealer(w.keys.seal)
			if err != nil {
				return nil, err
			}
			return s.ForRun(filepath.Join(w.dir, "runs"), id), nil
		},
		Fingerprinter: func() (*secret.Fingerprinter, error) { return secret.NewFingerprinter(w.keys.fp) },
		Failpoint:     w.gate,
	}
	if claims {
		d.Claim = incident.StoreClaim(w.st, p.Name)
	}
	return d
}

// server is one `rekey serve` over the world's store, with its own
// claimer as a separate process would have.
func (w *world) server() (*Server, *httptest.Server) {
	w.t.Helper()
	s := New(Config{Store: w.st, Auth: &token.Authenticator{Store: w.st}, Version: "test", Notifier: w.notifier, PublicURL: "https://rekey.example/",
		EventPoll: 50 * time.Millisecond,
		Deps: func(ctx context.Context, p auth.Principal) (incident.Deps, error) {
			return w.deps(p, true), nil
		}})
	// Every answer is checked against the OpenAPI document, but for the
	// event stream, which the check would have to wait for the end of.
	checked, direct := validated(w.t, s), s.Handler()
	hs := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/events") {
			direct.ServeHTTP(rw, r)
			return
		}
		checked.ServeHTTP(rw, r)
	}))
	w.t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			w.t.Errorf("shutdown: %v", err)
		}
	})
	return s, hs
}

// call sends a request as who ("tok-NAME", "" for no token).
func (w *world) call(hs *httptest.Server, method, path, who, body string) (int, []byte) {
	t := w.t
	t.Helper()
	req, err := http.NewRequest(method, hs.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if who != "" {
		req.Header.Set("Authorization", "Bearer "+w.tokens[who])
	}
	resp, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// idle waits until s executes nothing.
func idle(t *testing.T, s *Server) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s.runs.mu.Lock()
		n := len(s.runs.active)
		s.runs.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d operations still running", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitRun polls GET /run until the run is in one of states.
func (w *world) waitRun(hs *httptest.Server, states ...string) engine.Result {
	w.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, b := w.call(hs, "GET", "/api/v1/incidents/"+w.inc.ID+"/run", "tok-vera", "")
		var res engine.Result
		if code != 200 || json.Unmarshal(b, &res) != nil {
			w.t.Fatalf("GET run: %d %s", code, b)
		}
		for _, s := range states {
			if res.State == s {
				return res
			}
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("the run is %s, not %v: %s", res.State, states, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// canLogIn connects as the identity with the leaked password, out of
// band.
func (w *world) canLogIn() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, w.c.URL(w.role, w.password, "postgres"))
	if err != nil {
		return false
	}
	conn.Close(ctx)
	return true
}

// hookReceiver records what the notify: targets receive.
type hookReceiver struct {
	// block, when set, holds every request until it is closed.
	block chan struct{}
	mu    sync.Mutex
	got   []string // "path kind-or-text"
	body  []string
	srv   *httptest.Server
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if h.block != nil {
			<-h.block
		}
		h.mu.Lock()
		h.got = append(h.got, r.URL.Path+" "+r.Header.Get("X-Rekey-Event"))
		h.body = append(h.body, string(b))
		h.mu.Unlock()
		io.WriteString(w, "ok")
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) bodies() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.body...)
}

// A run started through the API: 202 once its preflight passed, then it
// goes on in the server after the response. It stops at the revoke that
// waits for an approval; its starter cannot approve, another person can;
// started again it finishes and the leaked password no longer logs in.
// The notify: targets hear of the approval needed and the run's ends,
// naming the owners, never holding the leaked secret.
func TestRunThroughTheAPI(t *testing.T) {
	w := newWorld(t, "")
	s, hs := w.server()
	id := w.inc.ID

	if code, b := w.call(hs, "POST", "/api/v1/incidents/"+id+"/run", "tok-vera", ""); code != 403 {
		t.Fatalf("a viewer started a run: %d %s", code, b)
	}
	code, b := w.call(hs, "POST", "/api/v1/incidents/"+id+"/run", "tok-alice", `{"dry_run":true}`)
	if code != 200 || !strings.Contains(string(b), `"dry_run":true`) || !strings.Contains(string(b), "revoke:db/"+w.role) {
		t.Fatalf("dry run: %d %s", code, b)
	}
	code, b = w.call(hs, "POST", "/api/v1/incidents/"+id+"/run", "tok-alice", `{}`)
	if code != 202 || !strings.Contains(string(b), `"incident":"`+id+`"`) {
		t.Fatalf("run: %d %s", code, b)
	}
	res := w.waitRun(hs, store.RunWaiting)
	if res.Steps[0].State != engine.WaitingApproval {
		t.Fatalf("run: %+v", res)
	}
	if !w.canLogIn() {
		t.Fatal("the leaked password stopped working before the revoke was approved")
	}

	ctx := context.Background()
	starter := w.deps(auth.Principal{Name: "alice"}, false)
	if err := incident.Approve(ctx, starter, id, res.Steps[0].ID); errs.KindOf(err) != errs.Permission {
		t.Fatalf("the run's starter approved: %v", err)
	}
	if err := incident.Approve(ctx, w.deps(auth.Principal{Name: "bob"}, false), id, res.Steps[0].ID); err != nil {
		t.Fatalf("bob approves: %v", err)
	}
	if code, b := w.call(hs, "POST", "/api/v1/incidents/"+id+"/run", "tok-alice", ""); code != 202 {
		t.Fatalf("run again: %d %s", code, b)
	}
	res = w.waitRun(hs, store.RunDone, store.RunFailed)
	if res.State != store.RunDone {
		t.Fatalf("run: %+v", res)
	}
	if w.canLogIn() {
		t.Error("the leaked password still logs in after the run")
	}

	// Notifications are sent in the background: close to wait for them.
	idle(t, s)
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	w.notifier.Close(cctx)
	w.hook.mu.Lock()
	got := strings.Join(w.hook.got, "\n")
	w.hook.mu.Unlock()
	for _, want := range []string{
		"/hook/webhooksecret0123 approval-needed", "/slack/T1/B1/slacksecret0123 approval-needed",
		"/hook/webhooksecret0123 run-done",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q among the notifications:\n%s", want, got)
		}
	}
	var approval notify.Event
	for _, body := range w.hook.bodies() {
		if strings.Contains(body, w.password) {
			t.Errorf("a notification holds the leaked password: %s", body)
		}
		var ev notify.Event
		if json.Unmarshal([]byte(body), &ev) == nil && ev.Kind == notify.ApprovalNeeded {
			approval = ev
		}
	}
	if approval.Step != res.Steps[0].ID || approval.Identity != "db/"+w.role || strings.Join(approval.Owners, ",") != "#orders-oncall" ||
		approval.Link != "https://rekey.example/incidents/"+id {
		t.Errorf("approval-needed event: %+v", approval)
	}
}

// sse reads Server-Sent Events from the incident's stream.
type sse struct {
	resp *http.Response
	r    *bufio.Reader
}

type sseEvent struct {
	name, id, data string
}

func (w *world) openEvents(hs *httptest.Server, id, who, lastID string) *sse {
	t := w.t
	t.Helper()
	req, _ := http.NewRequest("GET", hs.URL+"/api/v1/incidents/"+id+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+w.tokens[who])
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("events: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return &sse{resp: resp, r: bufio.NewReader(resp.Body)}
}

// next returns the next event, skipping comments and retry lines.
func (s *sse) next(t *testing.T) sseEvent {
	t.Helper()
	var ev sseEvent
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			t.Fatalf("event stream: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "":
			if ev.name != "" {
				return ev
			}
		case strings.HasPrefix(line, "event: "):
			ev.name = line[len("event: "):]
		case strings.HasPrefix(line, "id: "):
			ev.id = line[len("id: "):]
		case strings.HasPrefix(line, "data: "):
			ev.data = line[len("data: "):]
		}
	}
}

// until reads events until one satisfies stop, returning them all.
func (s *sse) until(t *testing.T, stop func(sseEvent) bool) []sseEvent {
	t.Helper()
	var out []sseEvent
	for {
		ev := s.next(t)
		out = append(out, ev)
		if stop(ev) {
			return out
		}
	}
}

func stepIs(step, state string) func(sseEvent) bool {
	return func(ev sseEvent) bool {
		return ev.name == "step" && strings.Contains(ev.data, `"step":"`+step+`"`) && strings.Contains(ev.data, `"state":"`+state+`"`)
	}
}

// The event stream delivers the run's step transitions and audit entries
// as they happen, each with its audit sequence as id; a client that
// reconnects with Last-Event-ID gets what followed, nothing twice.
func TestEventsStreamAndResume(t *testing.T) {
	w := newWorld(t, "")
	_, hs := w.server()
	id := w.inc.ID
	if code, _ := w.call(hs, "GET", "/api/v1/incidents/nope/events", "tok-vera", ""); code != 404 {
		t.Errorf("events of an unknown incident: %d", code)
	}
	if code, _ := w.call(hs, "GET", "/api/v1/incidents/"+id+"/events", "", ""); code != 401 {
		t.Errorf("events without a token: %d", code)
	}
	first := w.openEvents(hs, id, "tok-vera", "")
	opened := first.next(t)
	if opened.name != "audit" || !strings.Contains(opened.data, `"action":"incident.open"`) || opened.id == "" {
		t.Fatalf("first event: %+v", opened)
	}
	if code, b := w.call(hs, "POST", "/api/v1/incidents/"+id+"/run", "tok-alice", ""); code != 202 {
		t.Fatalf("run: %d %s", code, b)
	}
	revoke := "revoke:db/" + w.role
	seen := first.until(t, stepIs(revoke, engine.WaitingApproval))
	last := seen[len(seen)-1]
	var sawStart bool
	for _, ev := range seen {
		sawStart = sawStart || ev.name == "audit" && strings.Contains(ev.data, `"action":"run.start"`)
	}
	if !sawStart || last.id == "" {
		t.Fatalf("events up to the wait: %+v", seen)
	}
	first.resp.Body.Close() // the client goes

	if err := incident.Approve(context.Background(), w.deps(auth.Principal{Name: "bob"}, false), id, revoke); err != nil {
		t.Fatal(err)
	}
	if code, b := w.call(hs, "POST", "/api/v1/incidents/"+id+"/run", "tok-alice", ""); code != 202 {
		t.Fatalf("run again: %d %s", code, b)
	}
	again := w.openEvents(hs, id, "tok-vera", last.id)
	rest := again.until(t, func(ev sseEvent) bool {
		return ev.name == "audit" && strings.Contains(ev.data, `"action":"run.done"`)
	})
	ids := map[string]bool{}
	var sawApproved, sawDone bool
	for _, ev := range append(seen, rest...) {
		if ev.name == "audit" {
			if ids[ev.id] {
				t.Errorf("audit event %s delivered twice", ev.id)
			}
			ids[ev.id] = true
		}
	}
	for _, ev := range rest {
		sawApproved = sawApproved || stepIs(revoke, engine.Pending)(ev) && strings.Contains(ev.data, `"approved_by":"bob"`)
		sawDone = sawDone || stepIs(revoke, engine.Done)(ev)
		if ev.id <= last.id && len(ev.id) == len(last.id) {
			t.Errorf("resumed after %s but got %s", last.id, ev.id)
		}
	}
	if !sawApproved || !sawDone {
		t.Errorf("after resuming: approved %v, revoke done %v: %+v", sawApproved, sawDone, rest)
	}
}

// Opening an incident is announced to its notify: targets with its
// identity and owners (the open handler calls notifyOpened).
func TestNotifyOpened(t *testing.T) {
	w := newWorld(t, "")
	s, _ := w.server()
	s.notifyOpened(context.Background(), w.deps(auth.Principal{Name: "olga"}, false), w.inc.ID)
	w.notifier.Close(context.Background())
	bodies := w.hook.bodies()
	if len(bodies) != 2 {
		t.Fatalf("%d notifications, want one per target: %q", len(bodies), bodies)
	}
	var ev notify.Event
	for _, b := range bodies {
		if json.Unmarshal([]byte(b), &ev) == nil && ev.Kind != "" {
			break
		}
	}
	if ev.Kind != notify.IncidentOpened || ev.Incident != w.inc.ID || !strings.Contains(ev.Message, "opened by olga") ||
		strings.Join(ev.Owners, ",") != "#orders-oncall" || ev.Identity != "db/"+w.role {
		t.Errorf("event: %+v", ev)
	}
	if slack := bodies[0] + bodies[1]; !strings.Contains(slack, `"text":"*Incident `+w.inc.ID+` opened*`) {
		t.Errorf("no Slack message among %q", bodies)
	}
}

// One run at a time per incident: while a run is in a step, a second
// start is 409 from the same server (its own map) and from another
// server sharing the store (the incident's claim), on SQLite and on
// PostgreSQL; a rollback too. The first run then finishes.
func TestSecondRunIsAConflict(t *testing.T) {
	for name, spec := range map[string]func(t *testing.T) string{
		"sqlite":   func(*testing.T) string { return "" },
		"postgres": func(t *testing.T) string { return testutil.PostgresDB(t) },
	} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t, spec(t))
			id, revoke := w.inc.ID, "revoke:db/"+w.role
			entered, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			w.gate = func(step, phase string) {
				if step == revoke && phase == "before" {
					once.Do(func() { close(entered) })
					<-release
				}
			}
			defer func() {
				select {
				case <-release:
				default:
					close(release)
				}
			}()
			if err := incident.Approve(context.Background(), w.deps(auth.Principal{Name: "bob"}, false), id, revoke); err != nil {
				t.Fatal(err)
			}
			_, one := w.server()
			_, other := w.server()
			if code, b := w.call(one, "POST", "/api/v1/incidents/"+id+"/run", "tok-alice", ""); code != 202 {
				t.Fatalf("run: %d %s", code, b)
			}
			<-entered // the run is inside the revoke, after the response
			for _, c := range []struct {
				name, path string
				hs         *httptest.Server
				want       string
			}{
				{"same server", "/run", one, "a run started by alice"},
				{"other server", "/run", other, "is being worked on by alice"},
				{"rollback", "/rollback", one, "a run started by alice"},
				{"rollback, other server", "/rollback", other, "is being worked on by alice"},
			} {
				code, b := w.call(c.hs, "POST", "/api/v1/incidents/"+id+c.path, "tok-alice", "")
				var e envelope
				_ = json.Unmarshal(b, &e)
				if code != 409 || e.Error.Kind != "conflict" || !strings.Contains(e.Error.Message, c.want) {
					t.Errorf("%s: %d %s, want 409 %q", c.name, code, b, c.want)
				}
			}
			close(release)
			if res := w.waitRun(one, store.RunDone, store.RunFailed); res.State != store.RunDone {
				t.Fatalf("the first run: %+v", res)
			}
			// Once it is done, the incident is free again, for either server.
			if code, b := w.call(other, "POST", "/api/v1/incidents/"+id+"/run", "tok-alice", ""); code != 202 {
				t.Errorf("run after the first finished: %d %s", code, b)
			}
			w.waitRun(other, store.RunDone, store.RunFailed)
		})
	}
}

// A run its preflight refuses is a 400 whose reasons name each problem,
// and changes nothing; a bad body is a 400 too.
func TestRunRefusedByPreflight(t *testing.T) {
	w := newWorld(t, "")
	w.noAdmin = true
	_, hs := w.server()
	code, b := w.call(hs, "POST", "/api/v1/incidents/"+w.inc.ID+"/run", "tok-alice", "")
	var e envelope
	if json.Unmarshal(b, &e) != nil || code != 400 || e.Error.Kind != "invalid" || len(e.Error.Reasons) != 1 ||
		!strings.Contains(e.Error.Reasons[0], "system db") || !strings.Contains(e.Error.Reasons[0], "DB_ADMIN") {
		t.Fatalf("run: %d %s", code, b)
	}
	if steps, _ := w.st.Steps(context.Background(), w.inc.ID); len(steps) != 0 {
		t.Errorf("steps recorded: %+v", steps)
	}
	if code, b := w.call(hs, "POST", "/api/v1/incidents/"+w.inc.ID+"/run", "tok-alice", `{"dryrun":true}`); code != 400 || !strings.Contains(string(b), `unknown field \"dryrun\"`) {
		t.Errorf("bad body: %d %s", code, b)
	}
	// The refused run holds nothing: the next one is not a conflict.
	w.noAdmin = false
	if code, b := w.call(hs, "POST", "/api/v1/incidents/"+w.inc.ID+"/run", "tok-alice", ""); code != 202 {
		t.Errorf("run once fixed: %d %s", code, b)
	}
	w.waitRun(hs, store.RunWaiting)
}

// Rollback through the API answers with the run JSON, and a rolled-back
// run is refused until planned again.
func TestRollbackThroughTheAPI(t *testing.T) {
	w := newWorld(t, "")
	_, hs := w.server()
	id := w.inc.ID
	if code, b := w.call(hs, "POST", "/api/v1/incidents/"+id+"/run", "tok-alice", ""); code != 202 {
		t.Fatalf("run: %d %s", code, b)
	}
	w.waitRun(hs, store.RunWaiting)
	if code, _ := w.call(hs, "POST", "/api/v1/incidents/"+id+"/rollback", "tok-bob", ""); code != 403 {
		t.Errorf("an approver rolled back: %d", code)
	}
	code, b := w.call(hs, "POST", "/api/v1/incidents/"+id+"/rollback", "tok-alice", "")
	var res engine.Result
	if code != 200 || json.Unmarshal(b, &res) != nil || res.State != store.RunRolledBack {
		t.Fatalf("rollback: %d %s", code, b)
	}
	code, b = w.call(hs, "POST", "/api/v1/incidents/"+id+"/run", "tok-alice", "")
	if code != 400 || !strings.Contains(string(b), "rolled back; plan again") {
		t.Errorf("run after rollback: %d %s", code, b)
	}
	if !w.canLogIn() {
		t.Error("the rollback left the identity unable to log in")
	}
}

// Remediate takes the secret in the body, refuses another one without
// echoing it, and never answers with it.
func TestRemediateThroughTheAPI(t *testing.T) {
	w := newWorld(t, "")
	_, hs := w.server()
	path := "/api/v1/incidents/" + w.inc.ID + "/remediate"
	code, b := w.call(hs, "POST", path, "tok-alice", `{"secret":"Not-the-leaked-one-42"}`)
	if code != 400 || !strings.Contains(string(b), "fingerprint differs") || strings.Contains(string(b), "Not-the-leaked") {
		t.Errorf("wrong secret: %d %s", code, b)
	}
	if code, b := w.call(hs, "POST", path, "tok-alice", `{}`); code != 400 || !strings.Contains(string(b), "needs the leaked secret") {
		t.Errorf("no secret: %d %s", code, b)
	}
	code, b = w.call(hs, "POST", path, "tok-alice", `{"secret":"`+w.password+`"}`)
	if code != 200 || !strings.Contains(string(b), `"incident":"`+w.inc.ID+`"`) || strings.Contains(string(b), w.password) {
		t.Errorf("remediate: %d %s", code, b)
	}
}

// A receiver that never answers does not hold up a run: the run waits
// for its approval as it would, and what did not fit the queue is
// dropped and counted.
func TestNotificationsNeverBlockARun(t *testing.T) {
	w := newWorld(t, "")
	w.hook.block = make(chan struct{})
	w.notifier = notify.New(notify.Options{Queue: 1, Workers: 1, Attempts: 1, Timeout: time.Hour})
	defer func() {
		close(w.hook.block)
		w.notifier.Close(context.Background())
	}()
	_, hs := w.server()
	if code, b := w.call(hs, "POST", "/api/v1/incidents/"+w.inc.ID+"/run", "tok-alice", ""); code != 202 {
		t.Fatalf("run: %d %s", code, b)
	}
	w.waitRun(hs, store.RunWaiting)
	// The run's end is notified once the follower has read it, before the
	// run lets go of the incident: a run started now is no conflict.
	if code, b := w.call(hs, "POST", "/api/v1/incidents/"+w.inc.ID+"/run", "tok-alice", ""); code != 202 {
		t.Fatalf("run again: %d %s", code, b)
	}
	w.waitRun(hs, store.RunWaiting)
	if s := w.notifier.Stats(); s.Dropped == 0 {
		t.Errorf("nothing was dropped with the receiver stuck: %+v", s)
	}
}

// A failed step is notified with its error, masked: a system that echoed
// the secret the caller holds does not pass it on. An entry that asks
// nothing of anyone is not notified.
func TestStepFailedIsNotifiedMasked(t *testing.T) {
	w := newWorld(t, "")
	s, _ := w.server()
	d := w.deps(auth.Principal{Name: "alice"}, false)
	d.Held = []secret.Secret{secret.FromString(w.password)}
	a := s.audienceOf(context.Background(), d, w.inc.ID)
	at := time.Now()
	s.notifyEntry(a, store.AuditEntry{Seq: 9, Time: at, Actor: "alice", Action: "step.running", IncidentID: w.inc.ID,
		Detail: json.RawMessage(`{"step":"revoke:db/x"}`)})
	s.notifyEntry(a, store.AuditEntry{Seq: 10, Time: at, Actor: "alice", Action: "step.failed", IncidentID: w.inc.ID,
		Detail: json.RawMessage(`{"step":"revoke:db/x","error":"password authentication failed: ` + w.password + `"}`)})
	w.notifier.Close(context.Background())
	bodies := w.hook.bodies()
	if len(bodies) != 2 {
		t.Fatalf("%d notifications, want the failure to each target: %q", len(bodies), bodies)
	}
	for _, b := range bodies {
		if strings.Contains(b, w.password) || !strings.Contains(b, "step-failed") && !strings.Contains(b, "a step failed") ||
			!strings.Contains(b, "password authentication failed: "+secret.Redacted) {
			t.Errorf("notification: %s", b)
		}
	}
}

// A server shutting down ends its event streams and takes no new run.
func TestShutdownRefusesNewRuns(t *testing.T) {
	w := newWorld(t, "")
	s, hs := w.server()
	stream := w.openEvents(hs, w.inc.ID, "tok-vera", "")
	stream.next(t)
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(stream.r); err != nil {
		t.Errorf("the stream did not end cleanly: %v", err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code, b := w.call(hs, "POST", "/api/v1/incidents/"+w.inc.ID+"/run", "tok-alice", ""); code != 503 || !strings.Contains(string(b), "shutting down") {
		t.Errorf("run after shutdown: %d %s", code, b)
	}
}

// Shutting the server down cancels a run in the middle of a step; the
// step is left running, as after a crash, and a new server continues it
// only when asked to resume.
func TestShutdownCutsARunThatResumes(t *testing.T) {
	w := newWorld(t, "")
	id, revoke := w.inc.ID, "revoke:db/"+w.role
	if err := incident.Approve(context.Background(), w.deps(auth.Principal{Name: "bob"}, false), id, revoke); err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	w.gate = func(step, phase string) {
		if step == revoke && phase == "before" {
			once.Do(func() { close(entered) })
			<-release
		}
	}
	s, hs := w.server()
	if code, b := w.call(hs, "POST", "/api/v1/incidents/"+id+"/run", "tok-alice", ""); code != 202 {
		t.Fatalf("run: %d %s", code, b)
	}
	<-entered
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	<-s.runs.ctx.Done() // cancelled before Shutdown waits
	w.gate = nil
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	_, again := w.server()
	code, b := w.call(again, "POST", "/api/v1/incidents/"+id+"/run", "tok-alice", "")
	if code != 400 || !strings.Contains(string(b), "was running when its run stopped") || !strings.Contains(string(b), `with {\"resume\": true}`) {
		t.Fatalf("run without resume: %d %s", code, b)
	}
	if code, b := w.call(again, "POST", "/api/v1/incidents/"+id+"/run", "tok-alice", `{"resume":true}`); code != 202 {
		t.Fatalf("resume: %d %s", code, b)
	}
	if res := w.waitRun(again, store.RunDone, store.RunFailed); res.State != store.RunDone {
		t.Fatalf("resumed run: %+v", res)
	}
	if w.canLogIn() {
		t.Error("the leaked password still logs in after the resumed run")
	}
}

// StreamEvents is what the web UI mounts: it resumes from Last-Event-ID
// as the API does, and answers a bad one with 400.
func TestStreamEventsForTheWebUI(t *testing.T) {
	w := newWorld(t, "")
	s, _ := w.server()
	ui := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		s.StreamEvents(rw, r, w.inc.ID)
	}))
	defer ui.Close()
	req, _ := http.NewRequest("GET", ui.URL, nil)
	req.Header.Set("Last-Event-ID", "zero")
	if resp, err := ui.Client().Do(req); err != nil || resp.StatusCode != 400 {
		t.Fatalf("bad Last-Event-ID: %v %v", resp, err)
	}
	req.Header.Set("Last-Event-ID", "0")
	resp, err := ui.Client().Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stream: %v %v", resp, err)
	}
	defer resp.Body.Close()
	ev := (&sse{resp: resp, r: bufio.NewReader(resp.Body)}).next(t)
	if ev.name != "audit" || !strings.Contains(ev.data, "incident.open") {
		t.Errorf("first event: %+v", ev)
	}
}

// A step that fails in a run started through the API is notified with
// its error, and so is the run's end; the run JSON says which step. The
// consumer is healthy but never connects, so its verify finds no session
// of its new login within SeenTimeout.
func TestFailedStepIsNotified(t *testing.T) {
	w := newWorldWith(t, "", "true")
	s, hs := w.server()
	if code, b := w.call(hs, "POST", "/api/v1/incidents/"+w.inc.ID+"/run", "tok-alice", ""); code != 202 {
		t.Fatalf("run: %d %s", code, b)
	}
	res := w.waitRun(hs, store.RunFailed, store.RunDone)
	var failed string
	for _, st := range res.Steps {
		if st.State == engine.Failed {
			failed = st.ID
		}
	}
	if res.State != store.RunFailed || failed == "" {
		t.Fatalf("run: %+v", res)
	}
	idle(t, s) // the run's end is notified before it lets go
	w.notifier.Close(context.Background())
	var kinds []string
	for _, b := range w.hook.bodies() {
		var ev notify.Event
		if json.Unmarshal([]byte(b), &ev) != nil || ev.Kind == "" {
			continue // Slack's
		}
		kinds = append(kinds, string(ev.Kind))
		if ev.Kind == notify.StepFailed && (ev.Step != failed || !strings.Contains(ev.Message, "step "+failed+" failed")) {
			t.Errorf("step-failed event: %+v", ev)
		}
		if strings.Contains(b, w.password) {
			t.Errorf("a notification holds the leaked password: %s", b)
		}
	}
	if got := strings.Join(kinds, ","); got != "step-failed,run-done" {
		t.Errorf("webhook events %s, want step-failed,run-done", got)
	}
}

// POST /incidents announces a new incident to the inventory's notify:
// targets once (opening it again finds it and says nothing), without the
// secret the request carried.
func TestOpeningAnIncidentNotifies(t *testing.T) {
	hook := newHookReceiver(t)
	n := notify.New(notify.Options{})
	env := map[string]string{"HOOK_URL": hook.srv.URL + "/hook/opensecret0123"}
	w := newAPIWorldWith(t, filepath.Join(t.TempDir(), "rekey.db"),
		"version: 1\nsources:\n  - {type: dir, path: src}\nnotify:\n  - {type: webhook, url: env:HOOK_URL}\n", env,
		func(c *Config) { c.Notifier = n })
	v := w.open(t)
	b, _ := json.Marshal(map[string]string{"secret": w.leaked})
	if rec := do(t, w.h, "POST", "/api/v1/incidents", "tok-responder", string(b)); rec.Code != http.StatusOK {
		t.Fatalf("open again: %d %s", rec.Code, rec.Body)
	}
	n.Close(context.Background())
	bodies := hook.bodies()
	if len(bodies) != 1 {
		t.Fatalf("%d notifications, want 1: %q", len(bodies), bodies)
	}
	var ev notify.Event
	if err := json.Unmarshal([]byte(bodies[0]), &ev); err != nil || ev.Kind != notify.IncidentOpened || ev.Incident != v.ID ||
		!strings.Contains(ev.Message, "opened by rita") {
		t.Errorf("event: %+v %v", ev, err)
	}
	if strings.Contains(bodies[0], w.leaked) {
		t.Errorf("the notification holds the secret: %s", bodies[0])
	}
}

// An AWS key pair given to remediate as KEY_ID:SECRET, as incident open
// takes it, has its key id replaced beside the secret on the fix branch,
// as the CLI's remediate does; another key's id stays.
func TestRemediateThroughTheAPIReplacesTheKeyID(t *testing.T) {
	const id, other, key = "AKIA3EXAMPLE7DEPLOY1", "AKIA3EXAMPLE7STAGIN2", "wJalrXUtnFEMI/K7MDENG/bPxRfiCY3EXAMPLE1"
	repo := filepath.Join(t.TempDir(), "shop")
	workflow := "name: deploy\non: push\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    env:\n      AWS_ACCESS_KEY_ID: " + id + "\n      AWS_SECRET_ACCESS_KEY: " + key +
		"\n    steps:\n      - run: aws s3 sync public s3://shop-assets\n  staging:\n    runs-on: ubuntu-latest\n    env:\n      AWS_ACCESS_KEY_ID: " + other + "\n    steps:\n      - run: aws s3 ls\n"
	gittest.BuildRepo(t, repo, []gittest.Commit{{Files: map[string]string{".github/workflows/deploy.yml": workflow}, Message: "deploy from CI"}})
	home := t.TempDir() // the history rewrite's expressions file goes there
	w := newAPIWorldWith(t, filepath.Join(t.TempDir(), "rekey.db"), "version: 1\nsources:\n  - { type: git, path: "+repo+" }\n", nil,
		func(c *Config) {
			inner := c.Deps
			c.Deps = func(ctx context.Context, p auth.Principal) (incident.Deps, error) {
				d, err := inner(ctx, p)
				d.Home = home
				return d, err
			}
		})
	pair := `{"secret":"` + id + `:` + key + `"}`
	rec := do(t, w.h, "POST", "/api/v1/incidents", "tok-responder", pair)
	if rec.Code != http.StatusCreated {
		t.Fatalf("open: %d %s", rec.Code, rec.Body)
	}
	inc := decodeJSON[incident.OpenView](t, rec.Body.Bytes()).ID
	rec = do(t, w.h, "POST", "/api/v1/incidents/"+inc+"/remediate", "tok-responder", pair)
	if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), key) {
		t.Fatalf("remediate: %d (or the secret in the answer) %s", rec.Code, rec.Body)
	}
	if !strings.Contains(rec.Body.String(), "AWS_ACCESS_KEY_ID") {
		t.Errorf("the answer does not list the key id's change: %s", rec.Body)
	}
	got := gittest.Git(t, repo, "show", "rekey/"+inc+":.github/workflows/deploy.yml")
	if strings.Contains(got, id) || strings.Contains(got, key) || !strings.Contains(got, "AWS_ACCESS_KEY_ID: ${{ secrets.AWS_ACCESS_KEY_ID }}") ||
		!strings.Contains(got, "AWS_ACCESS_KEY_ID: "+other) {
		t.Errorf("the workflow on the branch:\n%s", got)
	}
}
