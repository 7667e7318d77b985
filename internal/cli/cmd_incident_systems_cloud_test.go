package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/keys/keytest"
	"github.com/rekeyhq/rekey/internal/provider/awsiam/awsiamtest"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
)

// openJSON runs incident open with the secret in $LEAKED and returns what
// it found.
func openJSON(t *testing.T, env map[string]string, inv string) (openResult, result) {
	t.Helper()
	r := run(t, env, "", "incident", "open", "--secret-env", "LEAKED", "--inventory", inv, "--format", "json")
	if r.code != 0 {
		t.Fatalf("open: exit %d: %s", r.code, r.stderr)
	}
	var o openResult
	if err := json.Unmarshal([]byte(r.stdout), &o); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	return o, r
}

// certIncident opens an incident about a leaked key whose certificate an
// x509 system's places hold (a system without an administrator): the
// directory, the key's file, the environment (REKEY_HOME under dir) and
// what open said.
func certIncident(t *testing.T) (dir, leaked string, env map[string]string, o openResult, r result) {
	t.Helper()
	dir = t.TempDir()
	leaked = keytest.GenKey(t, dir, "leaked.pem", keytest.ECSEC1)
	keytest.SelfSigned(t, leaked, "api.example.org", []string{"api.example.org"}, filepath.Join(dir, "api.pem"))
	inv := filepath.Join(dir, "inventory.yml")
	keytest.WriteFile(t, inv, []byte("version: 1\nsystems:\n  - {name: api-tls, type: x509, certs: [\"api.pem\"]}\n"), 0o644)
	pem, err := os.ReadFile(leaked)
	if err != nil {
		t.Fatal(err)
	}
	env = map[string]string{"LEAKED": string(pem), "REKEY_HOME": filepath.Join(dir, "home")}
	o, r = openJSON(t, env, inv)
	return dir, leaked, env, o, r
}

// An x509 system has no administrator: open reads its places from the
// inventory entry and names the leaked key's certificate.
func TestIncidentOpenIdentifiesACertificatesKey(t *testing.T) {
	_, leaked, env, o, r := certIncident(t)
	want := "sha256:" + keytest.SPKISHA256(t, leaked, false)
	if o.Identity == nil || o.Identity.System != "api-tls" || o.Identity.Name != want || len(o.NotSearched) != 0 {
		t.Fatalf("identity %+v, not searched %+v; want api-tls/%s", o.Identity, o.NotSearched, want)
	}
	s := run(t, env, "", "incident", "scope", o.ID, "--format", "json")
	if s.code != 0 || !strings.Contains(s.stdout, "api.example.org") {
		t.Errorf("scope (exit %d) does not name the certificate:\n%s%s", s.code, s.stdout, s.stderr)
	}
	noKeyMaterial(t, leaked, r.stdout+r.stderr+s.stdout+s.stderr)
}

// An AWS key pair is identified by its key id, asked by the administrator
// at the system's endpoint: the leaked key signs nothing.
func TestIncidentOpenIdentifiesAnAWSKeyByItsID(t *testing.T) {
	srv := awsiamtest.New()
	t.Cleanup(srv.Close)
	srv.CreateUser("deploy-bot")
	keyID, keySecret := srv.CreateKey("deploy-bot")
	adminID, adminSecret := srv.AdminKey()
	dir := t.TempDir()
	inv := filepath.Join(dir, "inventory.yml")
	keytest.WriteFile(t, inv, []byte(fmt.Sprintf(`version: 1
systems:
  - {name: aws-prod, type: aws-iam, admin: env:AWS_ADMIN, endpoint: %q, region: eu-west-1}
`, srv.URL)), 0o644)
	env := map[string]string{
		"LEAKED":     keyID + ":" + keySecret,
		"AWS_ADMIN":  fmt.Sprintf(`{"AccessKeyId":%q,"SecretAccessKey":%q}`, adminID, adminSecret),
		"REKEY_HOME": filepath.Join(dir, "home"),
	}
	o, r := openJSON(t, env, inv)
	if o.Identity == nil || o.Identity.System != "aws-prod" || o.Identity.Name != "deploy-bot" || len(o.NotSearched) != 0 {
		t.Fatalf("identity %+v, not searched %+v; want aws-prod/deploy-bot\n%s", o.Identity, o.NotSearched, r.stderr)
	}
	if n := srv.Signed(keyID); n != 0 {
		t.Errorf("%d request(s) signed with the leaked key; identify must ask by its id", n)
	}
	if strings.Contains(r.stdout+r.stderr, keySecret) || strings.Contains(r.stdout+r.stderr, adminSecret) {
		t.Error("a secret access key is printed")
	}
	if useLeaked := auditEntries(t, env["REKEY_HOME"], "identify.use-leaked"); len(useLeaked) != 0 {
		t.Errorf("audited %v without --use-leaked", useLeaked)
	}

	// --use-leaked: one sts:GetCallerIdentity signed with the key proves
	// it, and the audit log names who allowed it, and where.
	u := run(t, env, "", "incident", "open", "--secret-env", "LEAKED", "--inventory", inv, "--use-leaked", "--as", "alice")
	if u.code != 0 {
		t.Fatalf("open --use-leaked: exit %d: %s", u.code, u.stderr)
	}
	if n := srv.Signed(keyID); n != 1 {
		t.Errorf("%d request(s) signed with the leaked key under --use-leaked, want the one that proves it", n)
	}
	if got := auditEntries(t, env["REKEY_HOME"], "identify.use-leaked"); len(got) != 1 || !strings.Contains(got[0], "alice") || !strings.Contains(got[0], "aws-prod") {
		t.Errorf("audit of --use-leaked: %v, want one entry by alice naming aws-prod", got)
	}
}

// auditEntries returns "actor detail" of the audit entries of action.
func auditEntries(t *testing.T, home, action string) []string {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(home, store.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.DB().Query("SELECT actor || ' ' || detail FROM audit_log WHERE action = ? ORDER BY seq", action)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}
