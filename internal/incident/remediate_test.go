package incident

import (
	"context"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/store"
)

// TestLeakedKeyID: remediation replaces the key id an aws-iam system
// identified as the leaked key's (its this-key), else the one given with
// the secret; a vault token's accessor, which no consumer presents beside
// the token, is never one; a given id other than the identified one is
// refused rather than replaced.
func TestLeakedKeyID(t *testing.T) {
	ctx := context.Background()
	d, _ := testDeps(t)
	inv := &inventory.Inventory{Systems: []inventory.System{{Name: "aws", Type: "aws-iam"}, {Name: "vault", Type: "vault"}}}
	vaultOnly := openTest(t, d, "aa00000000000000000000000000000000000000000000000000000000000000", d.now())
	if err := d.Store.PutIdentity(ctx, vaultOnly.ID, store.Identity{System: "vault", Name: "ci", Related: []store.Related{{Kind: "this-key", Name: "hmac-accessor-1"}}}); err != nil {
		t.Fatal(err)
	}
	if got, err := leakedKeyID(ctx, d.Store, vaultOnly.ID, inv, ""); got != "" || err != nil {
		t.Errorf("a vault accessor: %q, %v; want none", got, err)
	}
	if got, err := leakedKeyID(ctx, d.Store, vaultOnly.ID, inv, "AKIA3EXAMPLE7DEPLOY1"); got != "AKIA3EXAMPLE7DEPLOY1" || err != nil {
		t.Errorf("given, nothing identified: %q, %v", got, err)
	}

	aws := openTest(t, d, "bb00000000000000000000000000000000000000000000000000000000000000", d.now())
	if err := d.Store.PutIdentity(ctx, aws.ID, store.Identity{System: "aws", Name: "deploy-bot", Related: []store.Related{
		{Kind: "other-key", Name: "AKIA3EXAMPLE7OTHER02"}, {Kind: "this-key", Name: "AKIA3EXAMPLE7DEPLOY1"}}}); err != nil {
		t.Fatal(err)
	}
	for _, given := range []string{"", "AKIA3EXAMPLE7DEPLOY1"} {
		if got, err := leakedKeyID(ctx, d.Store, aws.ID, inv, given); got != "AKIA3EXAMPLE7DEPLOY1" || err != nil {
			t.Errorf("identified, given %q: %q, %v", given, got, err)
		}
	}
	_, err := leakedKeyID(ctx, d.Store, aws.ID, inv, "AKIA3EXAMPLE7OTHER02")
	if errs.KindOf(err) != errs.Invalid || !strings.Contains(err.Error(), "AKIA3EXAMPLE7OTHER02") || !strings.Contains(err.Error(), "AKIA3EXAMPLE7DEPLOY1") {
		t.Errorf("another key's id given: %v", err)
	}
}
