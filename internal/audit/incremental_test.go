package audit

import (
	"context"
	"testing"
	"time"
)

func TestVerifierIncremental(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	v := f.log.Verifier(5*time.Minute, func() time.Time { return now })
	verify := func() Report {
		t.Helper()
		r, err := v.Verify(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := verify(); !r.OK() || r.Entries != 5 || r.Signed != 5 {
		t.Fatalf("first verify: %+v", r)
	}

	// Entries appended after: checked, and counted as a full Verify does.
	for range 2 {
		if _, err := f.log.Append(ctx, "bob", "incident.note", "INC-1", nil); err != nil {
			t.Fatal(err)
		}
	}
	got, want := verify(), f.verify(t)
	if !got.OK() || got.Entries != want.Entries || got.Signed != want.Signed || got.Unsigned != want.Unsigned ||
		got.HeadSeq != want.HeadSeq || got.Head != want.Head || got.Witnessed != want.Witnessed || got.MACChecked != want.MACChecked {
		t.Fatalf("after two appends: %+v, a full Verify says %+v", got, want)
	}

	// An entry after the kept head edited: seen on the next Verify.
	if _, err := f.log.Append(ctx, "bob", "incident.note", "INC-1", nil); err != nil {
		t.Fatal(err)
	}
	f.exec(t, `UPDATE audit_log SET actor = 'mallory' WHERE seq = 8`)
	if r := verify(); r.OK() || !hasBreak(r, 8, "content does not match") {
		t.Fatalf("an edit after the kept head was not seen: %+v", r)
	}
	f.exec(t, `UPDATE audit_log SET actor = 'bob' WHERE seq = 8`)
	if r := verify(); !r.OK() {
		t.Fatalf("restored: %+v", r)
	}

	// An old entry edited, the kept head as it was: not read until the
	// next full Verify, which every (5 minutes here) brings.
	f.exec(t, `UPDATE audit_log SET actor = 'mallory' WHERE seq = 2`)
	if r := verify(); !r.OK() {
		t.Fatalf("an old entry's edit is not looked for before the next full Verify: %+v", r)
	}
	now = now.Add(5 * time.Minute)
	if r := verify(); r.OK() || !hasBreak(r, 2, "content does not match") {
		t.Fatalf("the full Verify did not see the old entry's edit: %+v", r)
	}
	// A broken log is verified in full every time.
	if r := verify(); r.OK() {
		t.Fatalf("a broken log verified: %+v", r)
	}
	f.exec(t, `UPDATE audit_log SET actor = 'alice' WHERE seq = 2`)
	if r := verify(); !r.OK() {
		t.Fatalf("restored: %+v", r)
	}

	// The chain rewritten from an old entry on (hashes recomputed, as
	// someone with the database can): the kept head's hash changed, so
	// the next Verify is a full one and sees it.
	f.exec(t, `UPDATE audit_log SET actor = 'mallory' WHERE seq = 3`)
	f.rehash(t)
	if r := verify(); r.OK() {
		t.Fatalf("a rewritten chain verified: %+v", r)
	}
}

// The end of the log cut back to before the kept head: seen at once.
func TestVerifierSeesACut(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	v := f.log.Verifier(time.Hour, nil)
	if r, err := v.Verify(ctx); err != nil || !r.OK() {
		t.Fatalf("first verify: %+v %v", r, err)
	}
	f.exec(t, `DELETE FROM audit_log WHERE seq = 5`)
	r, err := v.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.OK() {
		t.Fatalf("a cut log verified: %+v", r)
	}
}
