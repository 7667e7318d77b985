package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/open"
	"github.com/rekeyhq/rekey/internal/testutil"
	"github.com/rekeyhq/rekey/internal/token"
)

type createdToken struct {
	Name, Role, Token string
	ExpiresAt         string `json:"expires_at"`
}

func createToken(t *testing.T, env map[string]string, args ...string) createdToken {
	t.Helper()
	r := run(t, env, "", append([]string{"token", "create", "--format", "json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("token create %v: exit %d: %s", args, r.code, r.stderr)
	}
	var c createdToken
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	return c
}

// tokenFile writes tok into a private file and returns its path.
func tokenFile(t *testing.T, tok string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// auditActions is the store's audit log, one "actor action" a line.
func auditActions(t *testing.T, env map[string]string) string {
	t.Helper()
	spec := env["REKEY_STORE"]
	if spec == "" {
		spec = filepath.Join(env["REKEY_HOME"], store.DBFile)
	}
	st, err := open.Open(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log, err := st.AuditLog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range log {
		fmt.Fprintf(&b, "%s %s %s\n", e.Actor, e.Action, e.Detail)
	}
	return b.String()
}

func TestTokenCreateListRevoke(t *testing.T) {
	env := map[string]string{"REKEY_HOME": t.TempDir(), "REKEY_ACTOR": "root"}
	c := createToken(t, env, "--name", "CI Bot", "--role", "responder", "--ttl", "48h")
	if c.Name != "CI Bot" || c.Role != "responder" || c.ExpiresAt == "" || !token.Valid([]byte(c.Token)) {
		t.Fatalf("created %+v", c)
	}
	// The table form prints the token alone on stdout, the rest on stderr.
	r := run(t, env, "", "token", "create", "--name", "ops", "--role", "admin")
	if r.code != 0 || !token.Valid([]byte(strings.TrimSpace(r.stdout))) || !strings.Contains(r.stderr, "shown once") {
		t.Fatalf("create (table): %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := run(t, env, "", "token", "create", "--name", "ci bot", "--role", "viewer"); r.code != 2 || !strings.Contains(r.stderr, "exists already") {
		t.Errorf("a second ci bot: %d %s", r.code, r.stderr)
	}
	for _, args := range [][]string{{"--name", "x", "--role", "root"}, {"--role", "viewer"}, {"--name", "x", "--role", "viewer", "--ttl", "0s"}} {
		if r := run(t, env, "", append([]string{"token", "create"}, args...)...); r.code != 2 {
			t.Errorf("create %v: exit %d %s", args, r.code, r.stderr)
		}
	}

	r = run(t, env, "", "token", "list", "--format", "json")
	var rows []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != 2 {
		t.Fatalf("list: %v %s", err, r.stdout)
	}
	if rows[0]["name"] != "CI Bot" || rows[0]["state"] != "active" || rows[0]["created_by"] != "root" {
		t.Errorf("list row %v", rows[0])
	}
	if strings.Contains(r.stdout, c.Token) || strings.Contains(r.stdout, token.Hash([]byte(c.Token))) {
		t.Fatal("token list shows a token or its hash")
	}

	if r := run(t, env, "", "token", "revoke", "ci bot"); r.code != 0 || !strings.Contains(r.stdout, "CI Bot revoked") {
		t.Fatalf("revoke: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, env, "", "token", "revoke", "nobody"); r.code != 2 {
		t.Errorf("revoking an unknown token: %d %s", r.code, r.stderr)
	}
	r = run(t, env, "", "token", "list")
	if !strings.Contains(r.stdout, "revoked") || strings.Contains(r.stdout, c.Token) {
		t.Errorf("list after revoke:\n%s", r.stdout)
	}
	log := auditActions(t, env)
	for _, want := range []string{"token.create", "token.revoke"} {
		if !strings.Contains(log, want) {
			t.Errorf("the audit log lacks %s", want)
		}
	}
	if strings.Contains(log, c.Token) {
		t.Fatal("the audit log holds a token")
	}
}

// A shared store: the first token must be an admin's, and once it holds
// one, managing tokens needs an admin token. The SQLite store stays open
// to its file's owner (TestTokenCreateListRevoke creates without one).
func TestTokenManagementNeedsAdminOnSharedStore(t *testing.T) {
	env := map[string]string{"REKEY_HOME": t.TempDir(), "REKEY_ACTOR": "root", "REKEY_STORE": testutil.PostgresDB(t)}
	if r := run(t, env, "", "token", "create", "--name", "first", "--role", "viewer"); r.code != 2 || !strings.Contains(r.stderr, "must be an admin") {
		t.Fatalf("a viewer first: %d %s", r.code, r.stderr)
	}
	admin := createToken(t, env, "--name", "admin", "--role", "admin")
	if r := run(t, env, "", "token", "create", "--name", "bob", "--role", "approver"); r.code != 2 || !strings.Contains(r.stderr, "needs an admin token") {
		t.Fatalf("create without a token: %d %s", r.code, r.stderr)
	}
	env["REKEY_TOKEN"] = admin.Token
	bob := createToken(t, env, "--name", "bob", "--role", "approver")
	env["REKEY_TOKEN"] = bob.Token
	if r := run(t, env, "", "token", "revoke", "admin"); r.code != 2 || !strings.Contains(r.stderr, "cannot manage tokens") {
		t.Errorf("an approver revoking: %d %s", r.code, r.stderr)
	}
	delete(env, "REKEY_TOKEN")
	if r := run(t, env, "", "--token-file", tokenFile(t, admin.Token), "token", "revoke", "bob"); r.code != 0 {
		t.Fatalf("revoke with the admin's token file: %d %s", r.code, r.stderr)
	}
	if !strings.Contains(auditActions(t, env), "admin token.revoke") {
		t.Error("the audit log does not name the admin token as the actor")
	}
}

func TestTokenFileMustBePrivate(t *testing.T) {
	env := map[string]string{"REKEY_HOME": t.TempDir(), "REKEY_ACTOR": "root"}
	c := createToken(t, env, "--name", "alice", "--role", "responder")
	p := tokenFile(t, c.Token)
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, env, "", "--token-file", p, "incident", "close", "INC-x", "--reason", "r")
	if r.code != 2 || !strings.Contains(r.stderr, "chmod 600") || strings.Contains(r.stderr, c.Token) {
		t.Fatalf("a world-readable token file: %d %s", r.code, r.stderr)
	}
}

// Once the store holds a token, commands that change an incident take
// their actor from it and refuse --as; reading keeps working; the opener
// (a token's name now) cannot approve.
func TestTokensReplaceAs(t *testing.T) {
	env := map[string]string{"REKEY_HOME": t.TempDir(), "REKEY_ACTOR": "root", "LEAKED": "s3cr3t-Tk4wLz2pRt6yXn4Q"}
	id := bareIncident(t, env, "LEAKED")
	alice := createToken(t, env, "--name", "alice", "--role", "responder")
	bob := createToken(t, env, "--name", "bob", "--role", "approver")
	viewer := createToken(t, env, "--name", "val", "--role", "viewer")
	old := createToken(t, env, "--name", "old", "--role", "admin", "--ttl", "1h")
	if r := run(t, env, "", "token", "revoke", "old"); r.code != 0 {
		t.Fatal(r.stderr)
	}

	for _, tc := range []struct {
		what string
		args []string
		want string
	}{
		{"--as", []string{"--as", "bob", "incident", "close", id, "--reason", "r"}, "--as is refused"},
		{"no token", []string{"incident", "close", id, "--reason", "r"}, "needs yours"},
		{"a viewer", []string{"--token-file", tokenFile(t, viewer.Token), "incident", "close", id, "--reason", "r"}, "viewer cannot respond"},
		{"an approver closing", []string{"--token-file", tokenFile(t, bob.Token), "incident", "close", id, "--reason", "r"}, "approver cannot respond"},
		{"a responder approving", []string{"--token-file", tokenFile(t, alice.Token), "incident", "approve", id, "revoke:x"}, "responder cannot approve"},
		{"a revoked token", []string{"--token-file", tokenFile(t, old.Token), "incident", "close", id, "--reason", "r"}, "not valid here"},
		{"renewing a lease without a token", []string{"leases", "renew", "L-1"}, "needs yours"},
		{"a responder renewing a lease", []string{"--token-file", tokenFile(t, alice.Token), "leases", "renew", "L-1"}, "responder cannot manage"},
		{"a mistyped token", []string{"--token-file", tokenFile(t, alice.Token[:20]+"x"+alice.Token[21:]), "incident", "close", id, "--reason", "r"}, "not valid here"},
	} {
		r := run(t, env, "", tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%s: exit %d %q, want one line with %q", tc.what, r.code, r.stderr, tc.want)
		}
	}
	if r := run(t, env, "", "incident", "list"); r.code != 0 || !strings.Contains(r.stdout, id) {
		t.Errorf("reading with tokens in the store: %d %s", r.code, r.stderr)
	}

	// alice opens an incident with her token; she cannot approve it even
	// with an admin's role, bob's token is refused nothing by separation.
	env["LEAKED2"] = "an0ther-Hb5cNm7jKs2dQw9Z"
	env["REKEY_TOKEN"] = alice.Token
	id2 := bareIncident(t, env, "LEAKED2")
	if !strings.Contains(auditActions(t, env), "alice incident.open") {
		t.Error("the incident opened with alice's token is not alice's in the audit log")
	}
	delete(env, "REKEY_TOKEN")
	env["REKEY_TOKEN"] = bob.Token
	if r := run(t, env, "", "incident", "approve", id2, "rewrite-history:shop"); r.code != 2 || strings.Contains(r.stderr, "cannot also approve") {
		t.Errorf("bob approving: %d %s; want refused for the step, not for who he is", r.code, r.stderr)
	}
	// carol, an admin, opens an incident and cannot approve its steps.
	delete(env, "REKEY_TOKEN")
	carol := createToken(t, env, "--name", "carol", "--role", "admin")
	env["REKEY_TOKEN"], env["LEAKED3"] = carol.Token, "th1rd-Lp3xQw8vNc5mZr2T"
	id3 := bareIncident(t, env, "LEAKED3")
	if r := run(t, env, "", "incident", "approve", id3, "rewrite-history:shop"); r.code != 2 || !strings.Contains(r.stderr, "carol opened this incident and cannot also approve") {
		t.Errorf("the opener approving with her token: %d %s", r.code, r.stderr)
	}
	env["REKEY_TOKEN"] = alice.Token
	if r := run(t, env, "", "incident", "close", id2, "--reason", "contained"); r.code != 0 {
		t.Errorf("alice closing with her token: %d %s", r.code, r.stderr)
	}
}
