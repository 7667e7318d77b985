package cli

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/deliver/dsn"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
)

// setCommand gives consumer name another health command, or a reload
// command (kind "health" or "reload").
func (w *rotationWorld) setCommand(name, kind, line string) {
	w.t.Helper()
	inv := filepath.Join(w.dir, "rekey.yml")
	b, err := os.ReadFile(inv)
	if err != nil {
		w.t.Fatal(err)
	}
	old := `health: "grep -q '^ok' ` + name + `/status"`
	repl := "health: " + yamlQuote(line)
	if kind == "reload" {
		repl = old + "\n    reload: " + yamlQuote(line)
	}
	text := strings.Replace(string(b), old, repl, 1)
	if text == string(b) {
		w.t.Fatalf("no health check of %s to replace", name)
	}
	if err := os.WriteFile(inv, []byte(text), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

func yamlQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// TestConsumerCommandOutputIsMasked: a reload command that prints the
// consumer's config — the new password — and, beside it, the leaked one,
// the consumer's previous one and the admin password, leaves none of them
// in the stored step error, the audit log or what rekey prints
// (issue 10.3). The leaked password is in no file rekey reads at the
// verify: rekey knows it by its fingerprint.
func TestConsumerCommandOutputIsMasked(t *testing.T) {
	w := newRotationWorld(t, false)
	previous := "Previous-Pw-4e1Zk9"
	env := filepath.Join(w.dir, "reports", ".env")
	b, err := os.ReadFile(env)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(env, []byte(strings.ReplaceAll(string(b), url.UserPassword("x", w.password).String()[2:], url.UserPassword("x", previous).String()[2:])), 0o640)
	if b2, _ := os.ReadFile(env); !strings.Contains(string(b2), previous) {
		t.Fatalf("the reports config does not hold the previous password:\n%s", b2)
	}
	// What the check prints comes from a file of the test's, not from the
	// inventory or any file rekey reads.
	hints := filepath.Join(w.dir, "hints")
	os.WriteFile(hints, []byte("leaked="+w.password+" previous="+previous+" admin="+w.pg.AdminPassword()), 0o600)
	w.setCommand("reports", "reload", `echo "$(grep DATABASE_URL reports/.env) $(cat `+hints+`)"; exit 1`)

	r := run(t, w.env, "", "incident", "run", w.id, "--yes", "--format", "json")
	if r.code != 1 {
		t.Fatalf("run: exit %d, want 1 (reports' reload fails)\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	b, _ = os.ReadFile(env)
	fresh := dsn.Parse(strings.TrimPrefix(grepLine(string(b), "DATABASE_URL="), "DATABASE_URL=")).Password
	if fresh == "" || fresh == previous {
		t.Fatalf("reports got no new password:\n%s", b)
	}

	st, err := sqlite.Open(context.Background(), filepath.Join(w.env["REKEY_HOME"], store.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	steps, _ := st.Steps(context.Background(), w.id)
	var stepErr string
	for _, s := range steps {
		if s.StepID == "deliver:reports" {
			stepErr = s.Error
		}
	}
	if !strings.Contains(stepErr, "leaked=[REDACTED]") || !strings.Contains(stepErr, "DATABASE_URL=") {
		t.Fatalf("the step error does not show the masked output: %q", stepErr)
	}
	var audit strings.Builder
	log, _ := st.AuditLog(context.Background())
	for _, e := range log {
		audit.Write(e.Detail)
	}
	places := map[string]string{"step error": stepErr, "audit log": audit.String(), "output": r.stdout + r.stderr}
	for what, secret := range map[string]string{"leaked": w.password, "previous": previous, "new": fresh, "admin": w.pg.AdminPassword()} {
		for where, text := range places {
			for _, form := range []string{secret, url.QueryEscape(secret)} {
				if strings.Contains(text, form) {
					t.Errorf("the %s password is in the %s", what, where)
				}
			}
		}
	}
}

func grepLine(text, prefix string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// TestRespondKeepsTheSecretVariableFromCommands: the variable respond read
// the leaked secret from (--secret-env) is not in a consumer's command's
// environment, under whatever name (issue 10.3).
func TestRespondKeepsTheSecretVariableFromCommands(t *testing.T) {
	w := newRotationWorld(t, false)
	t.Setenv("INCIDENT_INPUT", w.password) // inherited by commands, as in a shell
	w.env["INCIDENT_INPUT"] = w.password
	dump := filepath.Join(w.dir, "reports", "env.txt")
	w.setCommand("reports", "health", "env > "+dump+"; grep -q '^ok' reports/status")
	r := run(t, w.env, "", "respond", "--secret-env", "INCIDENT_INPUT", "--inventory", filepath.Join(w.dir, "rekey.yml"), "--yes")
	if r.code != 0 {
		t.Fatalf("respond: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	b, err := os.ReadFile(dump)
	if err != nil {
		t.Fatalf("the health check did not run: %v", err)
	}
	// Only the offending names are shown: the environment is the machine's.
	for _, kv := range strings.Split(string(b), "\n") {
		if name, _, _ := strings.Cut(kv, "="); name == "INCIDENT_INPUT" || strings.Contains(kv, w.password) {
			t.Errorf("%s reached the health check", name)
		}
	}
	if !strings.Contains(string(b), "PATH=") {
		t.Error("the health check lost its ordinary environment (no PATH)")
	}
}
