package cli

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
)

// partnerWorld is the rotation world plus a partner consumer that rekey
// cannot write to, whose change window is open all day.
func partnerWorld(t *testing.T) *rotationWorld {
	w := newRotationWorld(t, false)
	inv := filepath.Join(w.dir, "rekey.yml")
	b, err := os.ReadFile(inv)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b) + fmt.Sprintf("  - name: acme-partner\n    identity: %s\n    third_party: true\n    change_window: \"daily 00:00-24:00 UTC\"\n", w.role)
	if err := os.WriteFile(inv, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return w
}

func TestPartnerHandoverApprovalAndLeases(t *testing.T) {
	w := partnerWorld(t)
	r := run(t, w.env, "", "incident", "plan", w.id, "--strategy", "split", "--format", "json")
	if r.code != 0 {
		t.Fatalf("plan: %s", r.stderr)
	}
	var p struct {
		Steps []struct{ ID, Kind, Login, Approval string }
	}
	json.Unmarshal([]byte(r.stdout), &p)
	var partnerLogin, verify, revoke string
	for _, s := range p.Steps {
		switch {
		case s.ID == "verify:acme-partner":
			verify, partnerLogin = s.ID, s.Login
		case s.Kind == "revoke":
			revoke = s.ID
			if s.Approval != "third-party" {
				t.Errorf("revoking what a partner uses: approval %q", s.Approval)
			}
		}
	}
	r = run(t, w.env, "", "incident", "run", w.id, "--yes")
	if r.code != 3 || !strings.Contains(r.stderr, verify) {
		t.Fatalf("run: %d, want 3 waiting for %s\n%s%s", r.code, verify, r.stdout, r.stderr)
	}
	if !w.oldPasswordWorks() {
		t.Fatal("the old password stopped working while the partner waits")
	}

	// The partner's password: a preview by default, the value with
	// --reveal, which the audit log records.
	r = run(t, w.env, "", "incident", "credential", w.id, partnerLogin)
	if r.code != 0 || strings.Contains(r.stdout, "--reveal prints it") == false {
		t.Fatalf("credential: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = run(t, w.env, "", "incident", "credential", w.id, partnerLogin, "--reveal")
	pw := strings.TrimSpace(r.stdout)
	if r.code != 0 || len(pw) != 32 {
		t.Fatalf("credential --reveal: %d %q %s", r.code, r.stdout, r.stderr)
	}
	if err := loginPG(w, partnerLogin, pw); err != nil {
		t.Fatalf("the partner's new login does not work: %v", err)
	}

	// alice opened the incident: she cannot approve. bob can.
	r = run(t, w.env, "", "--as", "alice", "incident", "approve", w.id, verify)
	if r.code != 2 || !strings.Contains(r.stderr, "cannot also approve") {
		t.Errorf("the opener approving: %d %s", r.code, r.stderr)
	}
	for _, step := range []string{verify, revoke} {
		r = run(t, w.env, "", "--as", "bob", "incident", "approve", w.id, step)
		if r.code != 0 {
			t.Fatalf("approve %s: %d %s", step, r.code, r.stderr)
		}
	}
	r = run(t, w.env, "", "incident", "run", w.id, "--resume", "--yes")
	if r.code != 0 {
		t.Fatalf("resume after approvals: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if w.oldPasswordWorks() {
		t.Error("the leaked password still works")
	}
	r = run(t, w.env, "", "incident", "credential", w.id, partnerLogin, "--reveal")
	if r.code != 2 || strings.Contains(r.stdout, pw) {
		t.Errorf("the partner's password is still there after the run: %d %s", r.code, r.stdout)
	}

	// Leases: the partner's is temporary, the others follow the policy.
	r = run(t, w.env, "", "leases", "--expiring", "72h", "--format", "json")
	var soon []store.Lease
	if err := json.Unmarshal([]byte(r.stdout), &soon); err != nil || len(soon) != 1 || soon[0].Login != partnerLogin {
		t.Fatalf("leases expiring within 72h: %s %v", r.stdout, err)
	}
	if r.code != 1 {
		t.Errorf("leases --expiring matched a lease: exit %d, want 1 (something to act on)", r.code)
	}
	r = run(t, w.env, "", "leases", "renew", soon[0].ID, "--ttl", "240h")
	if r.code != 0 {
		t.Fatalf("renew: %d %s", r.code, r.stderr)
	}
	var until time.Time
	conn := w.pg.Connect(t, "postgres", w.pg.AdminPassword(), "check")
	if err := conn.QueryRow(context.Background(), "SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1", partnerLogin).Scan(&until); err != nil {
		t.Fatal(err)
	}
	if d := time.Until(until); d < 239*time.Hour || d > 241*time.Hour {
		t.Errorf("VALID UNTIL after renew is %s away, want 240h", d)
	}
	r = run(t, w.env, "", "leases", "--expiring", "72h", "--format", "json")
	if strings.Contains(r.stdout, partnerLogin) || r.code != 0 {
		t.Errorf("the renewed lease still expires within 72h: exit %d %s", r.code, r.stdout)
	}
	r = run(t, w.env, "", "leases", "renew", "no-such-lease")
	if r.code != 2 {
		t.Errorf("renewing an unknown lease: %d %s", r.code, r.stderr)
	}

	// Every approval, reveal and renewal is in the chain, which verifies;
	// an edit made directly in the database is found.
	r = run(t, w.env, "", "audit", "verify", "--format", "json")
	if r.code != 0 {
		t.Fatalf("audit verify: %d %s %s", r.code, r.stdout, r.stderr)
	}
	db := openRawStore(t, w)
	var actions []string
	rows, _ := db.Query("SELECT actor || ' ' || action FROM audit_log ORDER BY seq")
	for rows.Next() {
		var a string
		rows.Scan(&a)
		actions = append(actions, a)
	}
	rows.Close()
	joined := strings.Join(actions, "\n")
	for _, want := range []string{"alice incident.open", "bob step.approved", "alice credential.revealed", "alice lease.renew"} {
		if !strings.Contains(joined, want) {
			t.Errorf("audit log lacks %q:\n%s", want, joined)
		}
	}
	if _, err := db.Exec("UPDATE audit_log SET actor = 'mallory' WHERE action = 'step.approved'"); err != nil {
		t.Fatal(err)
	}
	r = run(t, w.env, "", "audit", "verify")
	if r.code != 1 || !strings.Contains(r.stdout, "edited") {
		t.Errorf("audit verify after an edit: %d %s", r.code, r.stdout)
	}
}

func loginPG(w *rotationWorld, user, pw string) error {
	cfg := w.pg.URL(user, pw, "postgres")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := pgxConnect(ctx, cfg)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

func openRawStore(t *testing.T, w *rotationWorld) *sql.DB {
	s, err := sqlite.Open(context.Background(), filepath.Join(w.env["REKEY_HOME"], store.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.DB()
}
