package web

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/store"
)

// The incident page verifies the audit log incrementally: an edit at or
// after the last entry it verified shows on the next load; one of an
// older entry shows at the next full verification (fullVerifyEvery).
func TestIncidentPageAuditVerification(t *testing.T) {
	f := newFixture(t, false)
	var mu sync.Mutex
	now := f.now
	f.h.cfg.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	db := f.st.(store.Raw).DB()
	exec := func(q string) {
		t.Helper()
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	var head int64
	if err := db.QueryRow(`SELECT MAX(seq) FROM audit_log`).Scan(&head); err != nil || head < 2 {
		t.Fatalf("audit log head %d: %v", head, err)
	}
	c := newClient(t, serve(t, f))
	c.signIn(tokViewer)
	broken := func() bool {
		t.Helper()
		resp, body := c.get("/incidents/" + f.id)
		if resp.StatusCode != 200 {
			t.Fatalf("incident page: %d\n%s", resp.StatusCode, body)
		}
		return strings.Contains(body, `<strong class="bad">broken</strong>`)
	}
	if broken() {
		t.Fatal("the seeded log shows broken")
	}

	// The kept head edited: seen on the next load.
	var actor string
	if err := db.QueryRow(`SELECT actor FROM audit_log WHERE seq = $1`, head).Scan(&actor); err != nil {
		t.Fatal(err)
	}
	exec(`UPDATE audit_log SET actor = 'mallory' WHERE seq = (SELECT MAX(seq) FROM audit_log)`)
	if !broken() {
		t.Fatal("an edit of the last verified entry was not seen on the next load")
	}
	if _, err := db.Exec(`UPDATE audit_log SET actor = $1 WHERE seq = $2`, actor, head); err != nil {
		t.Fatal(err)
	}
	if broken() {
		t.Fatal("the restored log shows broken")
	}

	// The first entry edited after a verified load: not read by the
	// incremental check; the full verification due after fullVerifyEvery
	// sees it.
	exec(`UPDATE audit_log SET actor = 'mallory' WHERE seq = 1`)
	if broken() {
		t.Fatal("an old entry's edit was seen before the full verification: the page did not verify incrementally")
	}
	advance(fullVerifyEvery)
	if !broken() {
		t.Fatal("an old entry's edit was not seen by the full verification")
	}
}
