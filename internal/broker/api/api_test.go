package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-cmp/cmp"

	"github.com/rekeyhq/rekey/internal/broker"
	"github.com/rekeyhq/rekey/internal/broker/api"
	"github.com/rekeyhq/rekey/internal/broker/brokertest"
	"github.com/rekeyhq/rekey/internal/broker/leasetest"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.PostgresMain(m)) }

// call sends one request with a workload token and returns the status
// and body.
func call(t *testing.T, e *leasetest.Env, method, path, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.Server.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("%s %s: Cache-Control %q", method, path, resp.Header.Get("Cache-Control"))
	}
	return resp.StatusCode, b
}

func envelope(t *testing.T, b []byte) api.ErrorBody {
	t.Helper()
	var env api.Envelope
	if err := json.Unmarshal(b, &env); err != nil || env.Error.Kind == "" {
		t.Fatalf("not an error envelope: %s", b)
	}
	return env.Error
}

func auditEntries(t *testing.T, e *leasetest.Env, action string) []store.AuditEntry {
	t.Helper()
	all, err := e.Store.AuditLog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []store.AuditEntry
	for _, en := range all {
		if en.Action == action {
			out = append(out, en)
		}
	}
	return out
}

// A workload gets a real login, uses it, renews it and gives it back;
// every step is audited with the workload as actor.
func TestCredentialsRenewRevoke(t *testing.T) {
	e := leasetest.New(t, "")
	ctx := context.Background()
	tok := e.Token(t, leasetest.Subject)
	status, b := call(t, e, "POST", "/broker/v1/credentials", tok, map[string]any{"role": "rw", "ttl": 600})
	if status != http.StatusCreated {
		t.Fatalf("credentials: %d %s", status, b)
	}
	var c api.Credentials
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if c.LeaseID == "" || !strings.HasPrefix(c.Login, e.Template+"_l") || c.Secret == "" || !c.Renewable ||
		time.Until(c.ExpiresAt) > 601*time.Second || time.Until(c.ExpiresAt) < 500*time.Second {
		t.Fatalf("credentials: %s", b)
	}
	conn, err := e.Connect(ctx, c.Login, c.Secret)
	if err != nil {
		t.Fatalf("the lease does not log in: %v", err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT n FROM "+e.Table).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the lease cannot read its template's table: %v", err)
	}

	// A duration string works as well as seconds.
	status, b = call(t, e, "POST", "/broker/v1/leases/"+c.LeaseID+"/renew", tok, map[string]any{"ttl": "20m"})
	if status != http.StatusOK {
		t.Fatalf("renew: %d %s", status, b)
	}
	var rn api.Renewed
	if err := json.Unmarshal(b, &rn); err != nil || !rn.ExpiresAt.After(c.ExpiresAt) {
		t.Fatalf("renew: %s (was %s)", b, c.ExpiresAt)
	}

	// Another workload of the same issuer sees nothing of the lease.
	other := e.Token(t, "system:serviceaccount:orders:worker")
	for _, r := range []struct{ method, path string }{{"POST", "/broker/v1/leases/" + c.LeaseID + "/renew"}, {"DELETE", "/broker/v1/leases/" + c.LeaseID}} {
		status, b = call(t, e, r.method, r.path, other, nil)
		if status != http.StatusNotFound || envelope(t, b).Kind != "not-found" {
			t.Fatalf("%s by another workload: %d %s", r.method, status, b)
		}
	}
	if len(e.Active(t)) != 1 {
		t.Fatal("another workload's request ended the lease")
	}

	status, b = call(t, e, "DELETE", "/broker/v1/leases/"+c.LeaseID, tok, nil)
	if status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", status, b)
	}
	if _, err := e.Connect(ctx, c.Login, c.Secret); err == nil {
		t.Fatal("the revoked lease still logs in")
	}
	if len(e.Active(t)) != 0 {
		t.Fatal("the lease is still active")
	}
	holder := e.Issuer.URL + ":" + leasetest.Subject
	for _, action := range []string{broker.ActionIssue, broker.ActionRenew, broker.ActionRevoke} {
		got := auditEntries(t, e, action)
		if len(got) != 1 || got[0].Actor != holder {
			t.Errorf("%s: %+v", action, got)
		}
	}
	all, _ := e.Store.AuditLog(ctx)
	js, _ := json.Marshal(all)
	if strings.Contains(string(js), c.Secret) || strings.Contains(string(js), tok) {
		t.Fatal("the audit log holds the secret or the token")
	}
}

// Tokens that prove nothing are 401 with their reason, audited without
// the token; nothing is issued.
func TestCredentialsRefusedToken(t *testing.T) {
	e := leasetest.New(t, "")
	claims := func(aud string, exp time.Duration) jwt.Claims {
		c := brokertest.Claims(e.Issuer.URL, leasetest.Subject, aud)
		c.Expiry = jwt.NewNumericDate(time.Now().Add(exp))
		return c
	}
	valid := e.Token(t, leasetest.Subject)
	parts := strings.Split(valid, ".")
	none := "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + parts[1] + "."
	cases := []struct {
		name, token, reason string
	}{
		{"wrong audience", brokertest.Mint(t, e.Key, claims("vault", 5*time.Minute), nil), "wrong-audience"},
		{"expired", brokertest.Mint(t, e.Key, claims("rekey", -10*time.Minute), nil), "expired"},
		{"alg none", none, "alg-none"},
		{"other key", brokertest.Mint(t, brokertest.ECKey(t, "k1"), claims("rekey", 5*time.Minute), nil), "bad-signature"},
		{"no token", "", "malformed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, b := call(t, e, "POST", "/broker/v1/credentials", c.token, map[string]any{"role": "rw"})
			got := envelope(t, b)
			if status != http.StatusUnauthorized || got.Kind != "unauthorized" || !cmp.Equal(got.Reasons, []string{c.reason}) {
				t.Fatalf("%d %s", status, b)
			}
			if c.token != "" && strings.Contains(string(b), c.token) {
				t.Fatal("the response echoes the token")
			}
		})
	}
	if n := len(e.Active(t)); n != 0 {
		t.Fatalf("%d leases issued", n)
	}
	refused := auditEntries(t, e, api.ActionRefuse)
	if len(refused) != len(cases)-1 {
		t.Fatalf("%d refusals audited, want %d", len(refused), len(cases)-1)
	}
	for _, en := range refused {
		if en.Actor != api.ActorUnverified || !strings.Contains(string(en.Detail), `"reason"`) {
			t.Errorf("refusal entry: %+v", en)
		}
		for _, c := range cases {
			if c.token != "" && strings.Contains(string(en.Detail), c.token) {
				t.Fatal("the audit log holds a token")
			}
		}
	}
}

// A role whose identity is under incident is refused by the default
// policy, with its reason, at issue and at renewal; ending a lease is
// still allowed.
func TestUnderIncidentRefused(t *testing.T) {
	e := leasetest.New(t, "")
	tok := e.Token(t, leasetest.Subject)
	status, b := call(t, e, "POST", "/broker/v1/credentials", tok, map[string]any{"role": "rw"})
	if status != http.StatusCreated {
		t.Fatalf("credentials: %d %s", status, b)
	}
	var c api.Credentials
	_ = json.Unmarshal(b, &c)

	e.State.Set("shop-db/"+e.Template, true)
	status, b = call(t, e, "POST", "/broker/v1/credentials", tok, map[string]any{"role": "rw"})
	if got := envelope(t, b); status != http.StatusForbidden || got.Kind != "forbidden" || !cmp.Equal(got.Reasons, []string{"under-incident"}) {
		t.Fatalf("under incident: %d %s", status, b)
	}
	status, b = call(t, e, "POST", "/broker/v1/leases/"+c.LeaseID+"/renew", tok, nil)
	if got := envelope(t, b); status != http.StatusForbidden || !cmp.Equal(got.Reasons, []string{"under-incident"}) {
		t.Fatalf("renew under incident: %d %s", status, b)
	}
	refused := auditEntries(t, e, api.ActionRefuse)
	if len(refused) != 2 || refused[0].Actor != e.Issuer.URL+":"+leasetest.Subject || !strings.Contains(string(refused[1].Detail), c.LeaseID) ||
		!strings.Contains(string(refused[0].Detail), "under-incident") {
		t.Fatalf("refusals: %+v", refused)
	}
	if status, b = call(t, e, "DELETE", "/broker/v1/leases/"+c.LeaseID, tok, nil); status != http.StatusNoContent {
		t.Fatalf("revoke under incident: %d %s", status, b)
	}
	e.State.Set("shop-db/"+e.Template, false)
	if status, b = call(t, e, "POST", "/broker/v1/credentials", tok, map[string]any{"role": "rw"}); status != http.StatusCreated {
		t.Fatalf("after the incident: %d %s", status, b)
	}
}

// Requests the handler cannot take are 400 or 404 in the envelope, and
// decisions for an agent's identity are kept with the claims.
func TestBadRequestsAndAgentDecisions(t *testing.T) {
	e := leasetest.New(t, "")
	tok := e.Token(t, leasetest.Subject)
	for _, c := range []struct {
		method, path string
		body         any
		status       int
	}{
		{"POST", "/broker/v1/credentials", map[string]any{}, http.StatusBadRequest},
		{"POST", "/broker/v1/credentials", map[string]any{"role": "rw", "extra": 1}, http.StatusBadRequest},
		{"POST", "/broker/v1/credentials", map[string]any{"role": "rw", "ttl": "soon"}, http.StatusBadRequest},
		{"POST", "/broker/v1/credentials", map[string]any{"role": "rw", "ttl": -5}, http.StatusBadRequest},
		{"POST", "/broker/v1/leases/nope/renew", nil, http.StatusNotFound},
		{"GET", "/broker/v1/credentials", nil, http.StatusNotFound},
		{"GET", "/broker/v1/whatever", nil, http.StatusNotFound},
	} {
		status, b := call(t, e, c.method, c.path, tok, c.body)
		if status != c.status {
			t.Errorf("%s %s %v: %d %s", c.method, c.path, c.body, status, b)
		}
		envelope(t, b)
	}

	bot := brokertest.Mint(t, e.Key, brokertest.Claims(e.Issuer.URL, "system:serviceaccount:support:bot", "rekey"), map[string]any{"team": "support"})
	status, b := call(t, e, "POST", "/broker/v1/credentials", bot, map[string]any{"role": "bot"})
	if status != http.StatusCreated {
		t.Fatalf("agent: %d %s", status, b)
	}
	var c api.Credentials
	_ = json.Unmarshal(b, &c)
	if got := time.Until(c.ExpiresAt); got > 5*time.Minute+time.Second {
		t.Fatalf("an agent's lease lives %s, beyond the default policy's 5 min cap", got)
	}
	kept := auditEntries(t, e, api.ActionDecision)
	if len(kept) != 1 || !strings.Contains(string(kept[0].Detail), `"team":"support"`) {
		t.Fatalf("agent decision: %+v", kept)
	}
	if status, b := call(t, e, "POST", "/broker/v1/credentials", bot, map[string]any{"role": "rw"}); status != http.StatusForbidden ||
		!cmp.Equal(envelope(t, b).Reasons, []string{"subject-not-permitted"}) {
		t.Fatalf("another role: %d %s", status, b)
	}
}
