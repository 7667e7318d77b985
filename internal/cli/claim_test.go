package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
)

// TestClaimIsSharedWithinACommandAndLostClaimStops: a command nested in
// another (respond → run) uses the outer claim; another worker is
// refused; a holder whose claim is taken over has its context cancelled.
func TestClaimIsSharedWithinACommandAndLostClaimStops(t *testing.T) {
	home := t.TempDir()
	var stderr bytes.Buffer
	g := &globals{env: Env{Stderr: &stderr, Getenv: func(k string) string {
		return map[string]string{"REKEY_HOME": home, "REKEY_ACTOR": "alice"}[k]
	}}}
	st, err := sqlite.Open(context.Background(), filepath.Join(home, store.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx, release, err := g.claim(context.Background(), st, "INC-1")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if _, inner, err := g.claim(ctx, st, "INC-1"); err != nil {
		t.Fatalf("a nested command was refused its own process's claim: %v", err)
	} else {
		inner() // does not release the outer claim
	}
	other := &globals{env: g.env}
	if _, _, err := other.claim(context.Background(), st, "INC-1"); errs.KindOf(err) != errs.Conflict ||
		!strings.Contains(err.Error(), "incident INC-1 is being worked on by alice (pid ") {
		t.Fatalf("another worker: %v", err)
	}
	// Another worker takes the row over (as after a stale heartbeat).
	if _, err := st.DB().Exec(`UPDATE claims SET token = 'someone-else' WHERE incident_id = 'INC-1'`); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(time.Minute):
		t.Fatal("the command went on after losing its claim")
	}
	if cause := context.Cause(ctx); errs.KindOf(cause) != errs.Conflict {
		t.Errorf("cause %v", cause)
	}
	if !strings.Contains(stderr.String(), "lost the claim on INC-1") {
		t.Errorf("stderr %q", stderr.String())
	}
}
