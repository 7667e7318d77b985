package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/audit"
	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/provider/all"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/open"
	"github.com/rekeyhq/rekey/internal/testutil"
	"github.com/rekeyhq/rekey/internal/token"
)

// apiWorld is a server over a real store, with an inventory whose one
// source holds the leaked secret, and a principal per role.
//
// Requests name principals by alias ("tok-approver"); withRealTokens
// swaps in the real token of that principal.
type apiWorld struct {
	h      http.Handler
	st     store.Store
	log    *bytes.Buffer
	audit  *audit.Log
	leaked string
	dir    string
	srv    *Server
}

const leakedValue = "Zq8-leaked-Passw0rd-for-orders"

func newAPIWorld(t *testing.T, spec string) *apiWorld {
	t.Helper()
	return newAPIWorldWith(t, spec, "version: 1\nsources:\n  - {type: dir, path: src}\n", nil)
}

// newAPIWorldWith is newAPIWorld with its own inventory and environment
// (the inventory's env: references).
func newAPIWorldWith(t *testing.T, spec, inventoryText string, env map[string]string, opts ...func(*Config)) *apiWorld {
	t.Helper()
	ctx := context.Background()
	st, err := open.Open(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "src", "app.env"), []byte("DB_PASSWORD="+leakedValue+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	invPath := filepath.Join(dir, "rekey.yml")
	body := []byte(inventoryText)
	if err := os.WriteFile(invPath, body, 0o644); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	al := audit.New(st, filepath.Join(dir, "witness")).WithKey(filepath.Join(dir, "audit.key"), true)
	getenv := func(k string) string { return env[k] }
	var log bytes.Buffer
	s := New(Config{Version: "test", Log: &log, InventoryPath: invPath, Inventory: body,
		Auth: &token.Authenticator{Store: st},
		Deps: func(ctx context.Context, p auth.Principal) (incident.Deps, error) {
			d := incident.Deps{Store: st, Audit: al, Registry: all.Registry(), Getenv: getenv,
				Fingerprinter: func() (*secret.Fingerprinter, error) { return secret.NewFingerprinter(key) },
				Claim:         incident.StoreClaim(st, p.Name)}
			d.LoadInventory = func(path string) (*inventory.Inventory, error) {
				opts, err := d.InventoryOptions()
				if err != nil {
					return nil, err
				}
				data, err := os.ReadFile(path)
				if err != nil {
					return nil, err
				}
				return incident.ParseInventoryStrict(path, data, opts)
			}
			return d, nil
		}})
	for _, o := range opts {
		o(&s.cfg)
	}
	return &apiWorld{h: withRealTokens(t, st, validated(t, s)), st: st, log: &log, audit: al, leaked: leakedValue, dir: dir, srv: s}
}

// withRealTokens creates a real token in st for each principal the tests
// name ("tok-viewer" …) and hands h requests that carry the real token
// instead of the alias: every request of these tests is authenticated by
// package token over the store, as rekey serve does.
func withRealTokens(t *testing.T, st store.Store, h http.Handler) http.Handler {
	t.Helper()
	real := map[string]string{}
	for alias, p := range map[string]auth.Principal{
		"tok-viewer":    {Name: "vera", Role: auth.Viewer},
		"tok-responder": {Name: "rita", Role: auth.Responder},
		"tok-runner":    {Name: "rob", Role: auth.Admin},
		"tok-approver":  {Name: "abe", Role: auth.Approver},
		"tok-admin":     {Name: "ada", Role: auth.Admin},
	} {
		tok, _, err := token.Create(context.Background(), st, p.Name, p.Role, time.Hour, "test", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		real[alias] = string(tok.Reveal())
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if alias, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			if tok, ok := real[alias]; ok {
				r.Header.Set("Authorization", "Bearer "+tok)
			}
		}
		h.ServeHTTP(w, r)
	})
}

// stores runs f on SQLite and on PostgreSQL.
func stores(t *testing.T, f func(t *testing.T, w *apiWorld)) {
	t.Run("sqlite", func(t *testing.T) { f(t, newAPIWorld(t, filepath.Join(t.TempDir(), "rekey.db"))) })
	t.Run("postgres", func(t *testing.T) { f(t, newAPIWorld(t, testutil.PostgresDB(t))) })
}

func decodeJSON[T any](t *testing.T, body []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return v
}

func (w *apiWorld) open(t *testing.T) incident.OpenView { return w.openAs(t, "tok-responder") }

func (w *apiWorld) openAs(t *testing.T, token string) incident.OpenView {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"secret": w.leaked, "leaked_at": "2026-12-01T10:00:00Z"})
	rec := do(t, w.h, "POST", "/api/v1/incidents", token, string(b))
	if rec.Code != http.StatusCreated {
		t.Fatalf("open: %d %s", rec.Code, rec.Body)
	}
	return decodeJSON[incident.OpenView](t, rec.Body.Bytes())
}

func TestOpenListShowScopeClose(t *testing.T) {
	stores(t, func(t *testing.T, w *apiWorld) {
		v := w.open(t)
		if v.ID == "" || v.Existing || v.Occurrences != 1 || v.LeakedAt == nil {
			t.Fatalf("opened %+v", v)
		}
		rec := do(t, w.h, "POST", "/api/v1/incidents", "tok-responder", `{"secret":"`+w.leaked+`"}`)
		if again := decodeJSON[incident.OpenView](t, rec.Body.Bytes()); rec.Code != 200 || !again.Existing || again.ID != v.ID {
			t.Fatalf("open again: %d %s", rec.Code, rec.Body)
		}

		rec = do(t, w.h, "GET", "/api/v1/incidents", "tok-viewer", "")
		list := decodeJSON[[]incident.Summary](t, rec.Body.Bytes())
		if rec.Code != 200 || len(list) != 1 || list[0].ID != v.ID || list[0].OpenedBy != "rita" {
			t.Fatalf("list: %d %s", rec.Code, rec.Body)
		}
		rec = do(t, w.h, "GET", "/api/v1/incidents/"+v.ID, "tok-viewer", "")
		if det := decodeJSON[incident.Detail](t, rec.Body.Bytes()); rec.Code != 200 || det.ID != v.ID || det.Run != nil {
			t.Fatalf("show: %d %s", rec.Code, rec.Body)
		}
		rec = do(t, w.h, "GET", "/api/v1/incidents/"+v.ID+"/scope", "tok-viewer", "")
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"occurrences"`) || !strings.Contains(rec.Body.String(), "app.env") {
			t.Fatalf("scope: %d %s", rec.Code, rec.Body)
		}
		for _, f := range []string{"md", "html", "json"} {
			rec = do(t, w.h, "GET", "/api/v1/incidents/"+v.ID+"/report?format="+f, "tok-viewer", "")
			if rec.Code != 200 || !strings.Contains(rec.Body.String(), v.ID) {
				t.Fatalf("report %s: %d %s", f, rec.Code, rec.Body)
			}
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("json report Content-Type %q", ct)
		}
		// The HTML report's inline style renders; nothing else may load.
		rec = do(t, w.h, "GET", "/api/v1/incidents/"+v.ID+"/report?format=html", "tok-viewer", "")
		if csp := rec.Header().Get("Content-Security-Policy"); csp != reportCSP || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
			t.Errorf("html report: CSP %q, Content-Type %q", csp, rec.Header().Get("Content-Type"))
		}

		rec = do(t, w.h, "POST", "/api/v1/incidents/"+v.ID+"/close", "tok-responder", `{"reason":"rotated by hand"}`)
		if sum := decodeJSON[incident.Summary](t, rec.Body.Bytes()); rec.Code != 200 || sum.State != store.Closed {
			t.Fatalf("close: %d %s", rec.Code, rec.Body)
		}
		rec = do(t, w.h, "GET", "/api/v1/incidents?state=closed", "tok-viewer", "")
		if list := decodeJSON[[]incident.Summary](t, rec.Body.Bytes()); len(list) != 1 {
			t.Fatalf("closed list: %s", rec.Body)
		}
		rec = do(t, w.h, "GET", "/api/v1/audit/verify", "tok-viewer", "")
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"ok":true`) {
			t.Fatalf("audit verify: %d %s", rec.Code, rec.Body)
		}
		w.noSecretIn(t)
	})
}

// noSecretIn checks the request log and the store's audit log.
func (w *apiWorld) noSecretIn(t *testing.T) {
	t.Helper()
	if strings.Contains(w.log.String(), w.leaked) {
		t.Fatalf("the request log holds the secret:\n%s", w.log)
	}
	entries, err := w.st.AuditLog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(string(e.Detail), w.leaked) {
			t.Fatalf("the audit log holds the secret: %s", e.Detail)
		}
	}
}

func TestErrorsOfTheIncidentAPI(t *testing.T) {
	stores(t, func(t *testing.T, w *apiWorld) {
		v := w.open(t)
		cases := []struct {
			name, method, path, token, body string
			status                          int
			want                            string
		}{
			{"no token", "GET", "/api/v1/incidents", "", "", 401, "bearer"},
			{"viewer opens", "POST", "/api/v1/incidents", "tok-viewer", `{"secret":"x"}`, 403, "viewer cannot respond"},
			{"unknown incident", "GET", "/api/v1/incidents/INC-20990101-0000", "tok-viewer", "", 404, ""},
			{"unknown incident scope", "GET", "/api/v1/incidents/INC-20990101-0000/scope", "tok-viewer", "", 404, ""},
			{"bad strategy", "POST", "/api/v1/incidents/" + v.ID + "/plan", "tok-responder", `{"strategy":"yolo"}`, 400, `unknown strategy "yolo"`},
			{"bad JSON", "POST", "/api/v1/incidents/" + v.ID + "/plan", "tok-responder", `{"strategy":`, 400, "bad JSON body"},
			{"unknown field", "POST", "/api/v1/incidents/" + v.ID + "/close", "tok-responder", `{"raeson":"x"}`, 400, `unknown field "raeson"`},
			{"no reason", "POST", "/api/v1/incidents/" + v.ID + "/close", "tok-responder", `{}`, 400, "reason is required"},
			{"no secret", "POST", "/api/v1/incidents", "tok-responder", `{"leaked_at":"2026-12-01T10:00:00Z"}`, 400, "secret is required"},
			{"bad leak time", "POST", "/api/v1/incidents", "tok-responder", `{"secret":"x","leaked_at":"yesterday"}`, 400, `leaked_at "yesterday": want RFC 3339`},
			{"unknown open field", "POST", "/api/v1/incidents", "tok-responder", `{"secret":"x","leaked":"2026"}`, 400, `unknown field "leaked"`},
			{"bad state", "GET", "/api/v1/incidents?state=gone", "tok-viewer", "", 400, `state "gone"`},
			{"bad report format", "GET", "/api/v1/incidents/" + v.ID + "/report?format=pdf", "tok-viewer", "", 400, `format "pdf"`},
			{"viewer approves", "POST", "/api/v1/incidents/" + v.ID + "/approvals", "tok-viewer", `{"step":"revoke:db/app"}`, 403, "viewer cannot approve"},
			{"responder approves", "POST", "/api/v1/incidents/" + v.ID + "/approvals", "tok-responder", `{"step":"revoke:db/app"}`, 403, "responder cannot approve"},
			{"viewer revokes leases", "POST", "/api/v1/leases/revoke", "tok-viewer", `{"role":"r"}`, 403, "viewer cannot manage"},
			{"two lease selectors", "POST", "/api/v1/leases/revoke", "tok-admin", `{"role":"r","holder":"a:b"}`, 400, "exactly one"},
			{"no broker", "POST", "/api/v1/leases/revoke", "tok-admin", `{"role":"r"}`, 503, "no broker"},
		}
		for _, c := range cases {
			rec := do(t, w.h, c.method, c.path, c.token, c.body)
			e := errorOf(t, rec)
			if rec.Code != c.status || !strings.Contains(e.Message, c.want) {
				t.Errorf("%s: %d %+v, want %d %q", c.name, rec.Code, e, c.status, c.want)
			}
		}
		// A body that does not parse is refused without quoting it: it
		// holds the secret.
		rec := do(t, w.h, "POST", "/api/v1/incidents", "tok-responder", `{"secret":"`+w.leaked+`" "x"}`)
		if rec.Code != 400 || strings.Contains(rec.Body.String(), w.leaked) {
			t.Fatalf("bad open body: %d %s", rec.Code, rec.Body)
		}
		w.noSecretIn(t)
	})
}

// The opener and whoever started a run cannot approve (403); an approver
// who is neither gets past separation of duties to the plan's own checks.
func TestApprovalsSeparationOfDuties(t *testing.T) {
	stores(t, func(t *testing.T, w *apiWorld) {
		// ada opens it; rob starts its run (the audit entry the engine
		// writes when a run starts).
		v := w.openAs(t, "tok-admin")
		if _, err := w.audit.Append(context.Background(), "rob", "run.start", v.ID, map[string]string{"strategy": "graceful"}); err != nil {
			t.Fatal(err)
		}
		for tok, want := range map[string]string{"tok-admin": "opened this incident", "tok-runner": "started this incident's run"} {
			rec := do(t, w.h, "POST", "/api/v1/incidents/"+v.ID+"/approvals", tok, `{"step":"revoke:db/app"}`)
			if e := errorOf(t, rec); rec.Code != 403 || e.Kind != "forbidden" || !strings.Contains(e.Message, want) {
				t.Errorf("%s approving: %d %s", tok, rec.Code, rec.Body)
			}
		}
		rec := do(t, w.h, "POST", "/api/v1/incidents/"+v.ID+"/approvals", "tok-approver", `{"step":"revoke:db/app"}`)
		if rec.Code == 403 || rec.Code == 200 {
			t.Errorf("approver on an incident without a plan: %d %s", rec.Code, rec.Body)
		}
	})
}

func TestLeasesListsIncidentAndBrokerLeases(t *testing.T) {
	stores(t, func(t *testing.T, w *apiWorld) {
		ctx := context.Background()
		v := w.open(t)
		now := time.Now().UTC().Truncate(time.Second)
		exp := now.Add(time.Hour)
		if err := w.st.PutLease(ctx, store.Lease{ID: v.ID + ":db/app_l1", IncidentID: v.ID, System: "db", Login: "app_l1", Issued: now, Expires: &exp, State: store.LeaseActive, Updated: now}); err != nil {
			t.Fatal(err)
		}
		if err := w.st.CreateBrokerLease(ctx, store.BrokerLease{ID: "bl-1", Role: "orders-rw", System: "db", Identity: "app", Login: "app_lb1",
			Holder: "ci:repo:x", IssuedAt: now, ExpiresAt: now.Add(30 * time.Minute), MaxExpiresAt: now.Add(time.Hour), State: store.BrokerActive, Updated: now}); err != nil {
			t.Fatal(err)
		}
		// A generated key's lease names the key (its user may hold two).
		if err := w.st.PutLease(ctx, store.Lease{ID: v.ID + ":aws/deploy-bot", IncidentID: v.ID, System: "aws", Login: "deploy-bot", KeyID: "AKIAEXAMPLENEWKEY001", Issued: now, State: store.LeaseActive, Updated: now}); err != nil {
			t.Fatal(err)
		}
		rec := do(t, w.h, "GET", "/api/v1/leases", "tok-viewer", "")
		ls := decodeJSON[[]leaseView](t, rec.Body.Bytes())
		if rec.Code != 200 || len(ls) != 3 || ls[0].ID != "bl-1" || ls[0].Holder != "ci:repo:x" || !ls[0].Renewable || ls[1].IncidentID != v.ID {
			t.Fatalf("leases: %d %s", rec.Code, rec.Body)
		}
		if ls[2].KeyID != "AKIAEXAMPLENEWKEY001" || ls[1].KeyID != "" {
			t.Errorf("lease key ids %q, %q; want the key's and none for a password", ls[2].KeyID, ls[1].KeyID)
		}
	})
}

// Responders opening the same leaked secret at once get one incident: one
// 201, the others 200 with existing true.
func TestConcurrentOpensMakeOneIncident(t *testing.T) {
	stores(t, func(t *testing.T, w *apiWorld) {
		const n = 6
		type result struct {
			code int
			v    incident.OpenView
		}
		results := make(chan result, n)
		body, _ := json.Marshal(map[string]string{"secret": w.leaked})
		for range n {
			go func() {
				req := httptest.NewRequest("POST", "/api/v1/incidents", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer tok-responder")
				rec := httptest.NewRecorder()
				w.h.ServeHTTP(rec, req)
				var v incident.OpenView
				_ = json.Unmarshal(rec.Body.Bytes(), &v)
				results <- result{rec.Code, v}
			}()
		}
		created, ids := 0, map[string]bool{}
		for range n {
			r := <-results
			switch {
			case r.code == http.StatusCreated && !r.v.Existing:
				created++
			case r.code == http.StatusOK && r.v.Existing:
			default:
				t.Errorf("open: %d %+v", r.code, r.v)
			}
			ids[r.v.ID] = true
		}
		if created != 1 || len(ids) != 1 {
			t.Fatalf("%d created, ids %v", created, ids)
		}
	})
}

// TestTokenRefusals is the contract: no token is 401, a token
// that is not one of ours is 401, and a real token that was revoked is
// 403 — the holder learns it was known, nobody else learns anything.
func TestTokenRefusals(t *testing.T) {
	w := newAPIWorld(t, filepath.Join(t.TempDir(), "rekey.db"))
	if rec := do(t, w.h, "GET", "/api/v1/incidents", "tok-viewer", ""); rec.Code != http.StatusOK {
		t.Fatalf("a live viewer token: %d %s", rec.Code, rec.Body)
	}
	if rec := do(t, w.h, "GET", "/api/v1/incidents", "", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", rec.Code)
	}
	forged, err := token.New()
	if err != nil {
		t.Fatal(err)
	}
	if rec := do(t, w.h, "GET", "/api/v1/incidents", string(forged.Reveal()), ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("a well-formed token the store never issued: %d, want 401", rec.Code)
	}
	if _, err := token.Revoke(context.Background(), w.st, "vera", time.Now()); err != nil {
		t.Fatal(err)
	}
	rec := do(t, w.h, "GET", "/api/v1/incidents", "tok-viewer", "")
	if e := errorOf(t, rec); rec.Code != http.StatusForbidden || !strings.Contains(e.Message, "revoked") {
		t.Errorf("a revoked token: %d %+v, want 403 saying revoked", rec.Code, e)
	}
}
