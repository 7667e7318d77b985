package incident

import (
	"context"
	"testing"

	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
)

// The engine is given the leaked secret only when the caller holds the
// secret with the incident's fingerprint (respond); another held secret
// (an approval's, an admin's) is not taken for it.
func TestEngineGetsTheLeakedSecretOnlyWhenHeld(t *testing.T) {
	ctx := context.Background()
	d, planned, _ := runnable(t, nil)
	key := randomKey(t)
	d.Fingerprinter = func() (*secret.Fingerprinter, error) { return secret.NewFingerprinter(key) }
	fp, _ := d.Fingerprinter()
	leaked := secret.FromString("ghp_leakedTokenOfSomeoneElse0123456789")
	inc, _, err := d.Store.OpenIncident(ctx, store.Incident{Fingerprint: fp.Of(leaked), Preview: "gh…"})
	if err != nil {
		t.Fatal(err)
	}
	inc.Inventory, inc.Identity = planned.Inventory, planned.Identity
	if err := d.Store.UpdateIncident(ctx, inc); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		held []secret.Secret
		want bool
	}{
		{nil, false},
		{[]secret.Secret{secret.FromString("another-secret-value")}, false},
		{[]secret.Secret{secret.FromString("another-secret-value"), leaked}, true},
	} {
		d.Held = c.held
		ed, done, err := d.engineDeps(ctx, inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		done()
		if got := !ed.Leaked.IsZero() && string(ed.Leaked.Reveal()) == string(leaked.Reveal()); got != c.want {
			t.Errorf("held %d secret(s): engine given the leaked one %v, want %v", len(c.held), got, c.want)
		}
	}
}
