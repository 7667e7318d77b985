package cli

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/audit"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
)

// auditWorld is a $REKEY_HOME whose store holds an incident with one
// lease rekey need not reach a system to renew: `leases renew` is an
// appending command that runs anywhere.
type auditWorld struct {
	env   map[string]string
	db    *sql.DB
	lease string
}

func newAuditWorld(t *testing.T) auditWorld {
	t.Helper()
	home := t.TempDir()
	s, err := sqlite.Open(context.Background(), filepath.Join(home, store.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	inc, _, err := s.OpenIncident(context.Background(), store.Incident{Fingerprint: secret.Fingerprint(strings.Repeat("f0", 32))})
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	l := store.Lease{ID: "lease-1", IncidentID: inc.ID, System: "shop-db", Login: "orders_svc_b", Expires: &exp, State: store.LeaseActive}
	if err := s.PutLease(context.Background(), l); err != nil {
		t.Fatal(err)
	}
	return auditWorld{env: map[string]string{"REKEY_HOME": home, "REKEY_ACTOR": "alice"}, db: s.DB(), lease: l.ID}
}

func (w auditWorld) exec(t *testing.T, q string) {
	t.Helper()
	if _, err := w.db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// renew runs `leases renew` n times, each appending to the audit log.
func (w auditWorld) renew(t *testing.T, n int, args ...string) {
	t.Helper()
	for range n {
		if r := run(t, w.env, "", append(args, "leases", "renew", w.lease)...); r.code != 0 {
			t.Fatalf("renew: %d %s", r.code, r.stderr)
		}
	}
}

func (w auditWorld) witness() string {
	return audit.WitnessPath(w.env["REKEY_HOME"], filepath.Join(w.env["REKEY_HOME"], store.DBFile))
}

func TestAuditCutTailThenAppendStaysBroken(t *testing.T) {
	w := newAuditWorld(t)
	w.renew(t, 4)
	if r := run(t, w.env, "", "audit", "verify"); r.code != 0 || !strings.Contains(r.stdout, "4 MAC(s) checked") {
		t.Fatalf("verify: %d %s %s", r.code, r.stdout, r.stderr)
	}
	w.exec(t, `DELETE FROM audit_log WHERE seq >= 3`)
	w.exec(t, `UPDATE leases SET expires = '2030-01-01T00:00:00.000000000Z'`)
	r := run(t, w.env, "", "leases", "renew", w.lease)
	if r.code != 2 || !strings.Contains(r.stderr, "refusing to append") || !strings.Contains(r.stderr, "entries were deleted") {
		t.Errorf("renew after a cut tail: %d %q", r.code, r.stderr)
	}
	// Refused before it acted: nothing done goes unaudited.
	var exp string
	if err := w.db.QueryRow(`SELECT expires FROM leases`).Scan(&exp); err != nil || exp != "2030-01-01T00:00:00.000000000Z" {
		t.Errorf("the refused renew changed the lease: %q %v", exp, err)
	}
	if r := run(t, w.env, "", "audit", "verify"); r.code != 1 || !strings.Contains(r.stdout, "entries were deleted") {
		t.Errorf("verify after a cut tail and an append: %d %s", r.code, r.stdout)
	}
}

func TestAuditMissingWitnessAndReanchor(t *testing.T) {
	w := newAuditWorld(t)
	w.renew(t, 2)
	if err := os.Remove(w.witness()); err != nil {
		t.Fatal(err)
	}
	if r := run(t, w.env, "", "audit", "verify"); r.code != 1 || !strings.Contains(r.stdout, "no witness") || !strings.Contains(r.stdout, "reanchor") {
		t.Fatalf("verify without witness: %d %s", r.code, r.stdout)
	}
	if r := run(t, w.env, "", "leases", "renew", w.lease); r.code != 2 || !strings.Contains(r.stderr, "reanchor") {
		t.Fatalf("renew without witness: %d %s", r.code, r.stderr)
	}
	// Not a terminal and no --yes: refused, nothing written.
	if r := run(t, w.env, "", "audit", "reanchor"); r.code != 2 || !strings.Contains(r.stderr, "--yes") {
		t.Fatalf("reanchor without --yes: %d %s", r.code, r.stderr)
	}
	if _, err := os.Stat(w.witness()); !os.IsNotExist(err) {
		t.Fatalf("reanchor without --yes wrote a witness: %v", err)
	}
	r := run(t, w.env, "", "--as", "bob", "audit", "reanchor", "--yes")
	if r.code != 0 || !regexp.MustCompile(`^re-anchored at 3:[0-9a-f]{64}\n$`).MatchString(r.stdout) {
		t.Fatalf("reanchor: %d %q %s", r.code, r.stdout, r.stderr)
	}
	var actor, detail string
	if err := w.db.QueryRow(`SELECT actor, detail FROM audit_log WHERE seq = 3 AND action = 'audit.reanchor'`).Scan(&actor, &detail); err != nil || actor != "bob" || !strings.Contains(detail, `"previous_witness":"none"`) {
		t.Fatalf("reanchor entry: %q %q %v", actor, detail, err)
	}
	if r := run(t, w.env, "", "audit", "verify"); r.code != 0 {
		t.Fatalf("verify after reanchor: %d %s", r.code, r.stdout)
	}
}

func TestAuditHeadDetectsAReplacedHome(t *testing.T) {
	w := newAuditWorld(t)
	w.renew(t, 3)
	h := run(t, w.env, "", "audit", "head")
	head := strings.TrimSpace(h.stdout)
	if h.code != 0 || !regexp.MustCompile(`^3:[0-9a-f]{64}$`).MatchString(head) {
		t.Fatalf("head: %d %q %s", h.code, h.stdout, h.stderr)
	}
	if r := run(t, w.env, "", "audit", "verify", "--head", head); r.code != 0 || !strings.Contains(r.stdout, "1 anchor(s) checked") {
		t.Fatalf("verify --head on the intact log: %d %s", r.code, r.stdout)
	}
	// Whoever holds the whole home replaces the log and the witness: the
	// new log verifies on this machine, but not against the kept head.
	w.exec(t, `DELETE FROM audit_log`)
	os.Remove(w.witness())
	w.renew(t, 4, "--as", "mallory")
	if r := run(t, w.env, "", "audit", "verify"); r.code != 0 {
		t.Fatalf("the replaced log should verify without the anchor (else the test proves nothing): %d %s", r.code, r.stdout)
	}
	r := run(t, w.env, "", "audit", "verify", "--head", head)
	if r.code != 1 || !strings.Contains(r.stdout, "entry 3: differs from what was written (anchor 3:") {
		t.Errorf("verify --head on a replaced log: %d %s", r.code, r.stdout)
	}
	if r := run(t, w.env, "", "audit", "verify", "--head", "3:abc"); r.code != 2 || !strings.Contains(r.stderr, "SEQ:HASH") {
		t.Errorf("malformed --head: %d %s", r.code, r.stderr)
	}
	// A broken log has no head to hand out.
	w.exec(t, `UPDATE audit_log SET actor = 'nobody' WHERE seq = 2`)
	if r := run(t, w.env, "", "audit", "head"); r.code != 1 || r.stdout != "" {
		t.Errorf("head of a broken log: %d %q %s", r.code, r.stdout, r.stderr)
	}
}

// The MAC key can live outside $REKEY_HOME (--audit-key, $REKEY_AUDIT_KEY):
// a copy of the home without it can still verify the chain but reports the
// MACs it cannot check, and an entry forged in the store without the key
// is found.
func TestAuditKeyElsewhere(t *testing.T) {
	w := newAuditWorld(t)
	keyDir := t.TempDir()
	missing := filepath.Join(keyDir, "audit.key")
	if r := run(t, w.env, "", "--audit-key", missing, "leases", "renew", w.lease); r.code != 2 || !strings.Contains(r.stderr, missing) {
		t.Fatalf("a named key that does not exist must not be created: %d %s", r.code, r.stderr)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("created %s", missing)
	}
	// The installation's own key, moved out of the home.
	if r := run(t, w.env, "", "leases", "renew", w.lease); r.code != 0 {
		t.Fatalf("renew: %d %s", r.code, r.stderr)
	}
	if err := os.Rename(filepath.Join(w.env["REKEY_HOME"], audit.KeyFile), missing); err != nil {
		t.Fatal(err)
	}
	w.env["REKEY_AUDIT_KEY"] = missing
	if r := run(t, w.env, "", "leases", "renew", w.lease); r.code != 0 {
		t.Fatalf("renew with $REKEY_AUDIT_KEY: %d %s", r.code, r.stderr)
	}
	if r := run(t, w.env, "", "audit", "verify"); r.code != 0 || !strings.Contains(r.stdout, "2 MAC(s) checked") {
		t.Fatalf("verify with $REKEY_AUDIT_KEY: %d %s", r.code, r.stdout)
	}
	delete(w.env, "REKEY_AUDIT_KEY")
	if r := run(t, w.env, "", "audit", "verify"); r.code != 1 || !strings.Contains(r.stdout, "no audit key") {
		t.Fatalf("verify without the key: %d %s", r.code, r.stdout)
	}
	w.env["REKEY_AUDIT_KEY"] = missing
	// A forged entry: right chain, no key.
	var prev string
	if err := w.db.QueryRow(`SELECT hash FROM audit_log WHERE seq = 2`).Scan(&prev); err != nil {
		t.Fatal(err)
	}
	e := store.AuditEntry{Seq: 3, Time: time.Now(), Actor: "mallory", Action: "step.approved", Detail: []byte(`{}`), PrevHash: prev}
	e.Hash = audit.Hash(e)
	if _, err := w.db.Exec(`INSERT INTO audit_log (seq, at_time, actor, action, incident_id, detail, prev_hash, hash, mac) VALUES (3, $1, $2, $3, '', '{}', $4, $5, $6)`,
		store.FormatTime(e.Time), e.Actor, e.Action, e.PrevHash, e.Hash, strings.Repeat("ab", 32)); err != nil {
		t.Fatal(err)
	}
	if r := run(t, w.env, "", "audit", "verify"); r.code != 1 || !strings.Contains(r.stdout, "entry 3: MAC does not match") {
		t.Errorf("verify a forged entry: %d %s", r.code, r.stdout)
	}
}
