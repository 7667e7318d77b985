package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/jackc/pgx/v5"

	"github.com/rekeyhq/rekey/internal/broker/api"
	"github.com/rekeyhq/rekey/internal/broker/brokertest"
	"github.com/rekeyhq/rekey/internal/broker/leasetest"
	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/testutil"
)

// TestServeIssuesBrokerLeases is the broker through rekey serve: a
// workload proves itself with its token at /broker/v1/credentials and
// gets a real PostgreSQL login, which works, which the API lists under
// /api/v1/leases, and which it gives back with DELETE.
func TestServeIssuesBrokerLeases(t *testing.T) {
	e := leasetest.New(t, "")
	s := startServeEnv(t, map[string]string{"SHOP_DB_ADMIN_DSN": e.Cluster.AdminURL()},
		"--listen", "127.0.0.1:0", "--inventory", e.InventoryPath)
	base := "http://" + s.addr

	req, _ := http.NewRequest("POST", base+"/broker/v1/credentials", strings.NewReader(`{"role":"rw","ttl":"10m"}`))
	req.Header.Set("Authorization", "Bearer "+e.Token(t, leasetest.Subject))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var lease struct {
		LeaseID   string    `json:"lease_id"`
		Login     string    `json:"login"`
		Secret    string    `json:"secret"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	err = json.NewDecoder(resp.Body).Decode(&lease)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated || lease.Login == "" || lease.Secret == "" {
		t.Fatalf("credentials: %d %+v %v", resp.StatusCode, lease, err)
	}
	conn, err := e.Connect(t.Context(), lease.Login, lease.Secret)
	if err != nil {
		t.Fatalf("the leased login does not log in: %v", err)
	}
	conn.Close(t.Context())

	// A workload token is not a rekey token, and a rekey request without
	// one is refused: the two doors do not open each other.
	req, _ = http.NewRequest("GET", base+"/api/v1/leases", nil)
	req.Header.Set("Authorization", "Bearer "+e.Token(t, leasetest.Subject))
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a workload token on /api/v1: %d, want 401", resp.StatusCode)
	}

	req, _ = http.NewRequest("DELETE", base+"/broker/v1/leases/"+lease.LeaseID, nil)
	req.Header.Set("Authorization", "Bearer "+e.Token(t, leasetest.Subject))
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE lease: %d, want 204", resp.StatusCode)
	}
	if conn, err := e.Connect(t.Context(), lease.Login, lease.Secret); err == nil {
		conn.Close(t.Context())
		t.Fatal("the login still logs in after its lease was given back")
	}
}

// TestBrokerEndToEnd is the broker as it is deployed: rekey serve with the
// inventory's broker: section, a local OIDC issuer whose JWKS the test
// serves, and two rekey agent processes keeping two consumers' configs on
// leases of a password-auth PostgreSQL cluster. Leases are issued and
// used; tokens that prove nothing and a role under a real incident are
// refused with their reasons; a 2 s lease's session is ended by the
// reaper; revoking a holder's leases through the API and through the CLI
// ends their sessions.
func TestBrokerEndToEnd(t *testing.T) {
	dir := t.TempDir()
	envFiles := map[string]string{"orders": filepath.Join(dir, "orders.env"), "billing": filepath.Join(dir, "billing.env")}
	consumers := "consumers:\n"
	for _, name := range []string{"orders", "billing"} {
		consumers += fmt.Sprintf("  - { name: %s, identity: TEMPLATE, jit: { role: rw }, deliver: { type: file, path: %s, format: dotenv, key: DATABASE_URL } }\n", name, envFiles[name])
		if err := os.WriteFile(envFiles[name], []byte("DATABASE_URL=postgres://old:old@127.0.0.1:5432/postgres\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e := leasetest.New(t, consumers)
	env := map[string]string{"REKEY_HOME": e.Dir, "SHOP_DB_ADMIN_DSN": e.Cluster.AdminURL()}
	admin := createToken(t, env, "--name", "admin-e2e", "--role", "admin")
	s := startServeEnv(t, env, "--listen", "127.0.0.1:0", "--inventory", e.InventoryPath)
	var serveLog lockedBuffer
	go func() {
		for l := range s.lines {
			fmt.Fprintln(&serveLog, l)
		}
	}()
	base := "http://" + s.addr
	ctx := t.Context()

	// post sends body to path with the bearer token and returns the status
	// and the body.
	post := func(path, token, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, b
	}
	// within polls cond for up to 60 s: the test waits on what happens,
	// never on how long it takes.
	within := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 60 s\nserve: %s", what, serveLog.String())
			}
		}
	}
	alive := func(c *pgx.Conn) bool {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return c.Ping(pctx) == nil
	}
	// use logs in as login and reads the table the template may read, as
	// the workload would.
	use := func(login, password string) *pgx.Conn {
		t.Helper()
		conn, err := e.Connect(ctx, login, password)
		if err != nil {
			t.Fatalf("%s does not log in: %v", login, err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		var n int
		if err := conn.QueryRow(ctx, "SELECT n FROM "+e.Table).Scan(&n); err != nil || n != 1 {
			t.Fatalf("%s reads %s: %d %v", login, e.Table, n, err)
		}
		return conn
	}

	// Two agents, two consumers, two workloads.
	type agentRun struct {
		holder string
		stderr *lockedBuffer
		conn   *pgx.Conn
	}
	agents := map[string]*agentRun{}
	for name, sub := range map[string]string{"orders": leasetest.Subject, "billing": "system:serviceaccount:orders:billing"} {
		jwt := filepath.Join(dir, name+".jwt")
		if err := os.WriteFile(jwt, []byte(e.Token(t, sub)), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "agent", "--server", base, "--jwt-file", jwt, "--role", "rw", "--inventory", e.InventoryPath, "--consumer", name)
		cmd.Env = append(os.Environ(), "REKEY_TEST_AS_REKEY=1", "REKEY_HOME="+t.TempDir(), "SHOP_DB_ADMIN_DSN=")
		a := &agentRun{holder: e.Issuer.URL + ":" + sub, stderr: &lockedBuffer{}}
		cmd.Stderr = a.stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
			}
		})
		agents[name] = a
	}
	for name, a := range agents {
		var login, password string
		within(name+"'s agent delivers a lease", func() bool {
			b, _ := os.ReadFile(envFiles[name])
			v, _ := strings.CutPrefix(strings.TrimSpace(string(b)), "DATABASE_URL=")
			u, err := url.Parse(v)
			if err != nil || !strings.HasPrefix(u.User.Username(), e.Template+"_l") {
				return false
			}
			login = u.User.Username()
			password, _ = u.User.Password()
			return true
		})
		a.conn = use(login, password)
	}
	holders := map[string]bool{}
	for _, l := range e.Active(t) {
		holders[l.Holder] = true
	}
	if len(holders) != 2 || !holders[agents["orders"].holder] || !holders[agents["billing"].holder] {
		t.Fatalf("active leases' holders: %v", holders)
	}

	// Tokens that prove nothing, each refused with its reason.
	claims := func(aud string, exp time.Duration) jwt.Claims {
		c := brokertest.Claims(e.Issuer.URL, leasetest.Subject, aud)
		c.Expiry = jwt.NewNumericDate(time.Now().Add(exp))
		return c
	}
	parts := strings.Split(e.Token(t, leasetest.Subject), ".")
	refused := []struct{ name, token, reason string }{
		{"wrong audience", brokertest.Mint(t, e.Key, claims("vault", 5*time.Minute), nil), "wrong-audience"},
		{"expired", brokertest.Mint(t, e.Key, claims("rekey", -10*time.Minute), nil), "expired"},
		{"alg none", "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + parts[1] + ".", "alg-none"},
	}
	for _, c := range refused {
		status, b := post("/broker/v1/credentials", c.token, `{"role":"rw"}`)
		var got api.Envelope
		_ = json.Unmarshal(b, &got)
		if status != http.StatusUnauthorized || !slices.Equal(got.Error.Reasons, []string{c.reason}) || strings.Contains(string(b), c.token) {
			t.Errorf("%s: %d %s", c.name, status, b)
		}
	}

	// A 2 s lease: its session is ended by serve's reaper after expiry.
	status, b := post("/broker/v1/credentials", e.Token(t, "system:serviceaccount:orders:cron"), `{"role":"brief","ttl":"2s"}`)
	var brief api.Credentials
	if err := json.Unmarshal(b, &brief); err != nil || status != http.StatusCreated {
		t.Fatalf("2 s lease: %d %s", status, b)
	}
	briefConn := use(brief.Login, brief.Secret)
	within("the 2 s lease's session ends", func() bool { return !alive(briefConn) })
	within("the 2 s lease is recorded as reaped", func() bool {
		ls, err := e.Leases.List(ctx, store.BrokerLeaseFilter{States: []string{store.BrokerReaped}})
		return err == nil && len(ls) == 1 && ls[0].ID == brief.LeaseID
	})

	// Revoking a holder's leases ends their sessions: through the API with
	// an administrator's token, and with rekey leases revoke.
	body, _ := json.Marshal(map[string]string{"holder": agents["orders"].holder})
	if status, b := post("/api/v1/leases/revoke", admin.Token, string(body)); status != http.StatusOK || !strings.Contains(string(b), `"revoked":1`) {
		t.Fatalf("POST /api/v1/leases/revoke: %d %s", status, b)
	}
	within("the orders lease's session ends", func() bool { return !alive(agents["orders"].conn) })
	if !alive(agents["billing"].conn) {
		t.Fatal("revoking one holder's leases ended another's session")
	}
	r := run(t, env, "", "leases", "revoke", "--holder", agents["billing"].holder, "--inventory", e.InventoryPath, "--token-file", tokenFile(t, admin.Token))
	if r.code != 0 || !strings.Contains(r.stdout, "1 lease(s) revoked") {
		t.Fatalf("leases revoke --holder: %d %s %s", r.code, r.stdout, r.stderr)
	}
	within("the billing lease's session ends", func() bool { return !alive(agents["billing"].conn) })

	// A real incident on the template identity: the leaked password opens
	// it through the API, and the default policy refuses new leases.
	leaked := testutil.RandomName("leaked")
	e.Cluster.Exec(t, fmt.Sprintf("ALTER ROLE %s PASSWORD '%s'", e.Template, leaked))
	body, _ = json.Marshal(map[string]string{"secret": leaked})
	status, b = post("/api/v1/incidents", admin.Token, string(body))
	var opened incident.OpenView
	if err := json.Unmarshal(b, &opened); err != nil || status != http.StatusCreated || opened.IdentityString() != "shop-db/"+e.Template {
		t.Fatalf("POST /api/v1/incidents: %d %s", status, b)
	}
	status, b = post("/broker/v1/credentials", e.Token(t, leasetest.Subject), `{"role":"rw"}`)
	var denied api.Envelope
	_ = json.Unmarshal(b, &denied)
	if status != http.StatusForbidden || !slices.Equal(denied.Error.Reasons, []string{"under-incident"}) {
		t.Fatalf("a role under incident: %d %s", status, b)
	}
	log, err := e.Store.AuditLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]bool{}
	for _, en := range log {
		if en.Action != api.ActionRefuse {
			continue
		}
		for _, c := range refused {
			if strings.Contains(string(en.Detail), c.token) {
				t.Fatal("the audit log holds a refused token")
			}
		}
		for _, why := range []string{"wrong-audience", "expired", "alg-none", "under-incident"} {
			if strings.Contains(string(en.Detail), `"`+why+`"`) {
				reasons[why] = true
			}
		}
	}
	if len(reasons) != 4 {
		t.Fatalf("refusals audited with their reasons: %v", reasons)
	}
}
