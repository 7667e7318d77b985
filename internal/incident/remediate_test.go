package incident

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
)

// Remediate works only with the secret the incident was opened for: any
// other is refused before anything is recorded. With the right one and
// no copy left to remove, it is done with nothing open.
func TestRemediateChecksTheSecret(t *testing.T) {
	ctx := context.Background()
	d, opened := planned(t)
	fp, err := secret.NewFingerprinter(randomKey(t))
	if err != nil {
		t.Fatal(err)
	}
	d.Fingerprinter = func() (*secret.Fingerprinter, error) { return fp, nil }
	d.Home = t.TempDir()
	leaked := secret.FromString("s3cr3t-the-leaked-one")
	inc := openTest(t, d, string(fp.Of(leaked)), d.now())
	inc.Inventory = opened.Inventory
	if err := d.Store.UpdateIncident(ctx, inc); err != nil {
		t.Fatal(err)
	}
	before, _ := d.Store.AuditLog(ctx)
	_, err = Remediate(ctx, d, inc.ID, RemediateOptions{Secret: secret.FromString("another-secret")})
	if errs.KindOf(err) != errs.Invalid || !strings.Contains(err.Error(), "fingerprint differs") || strings.Contains(err.Error(), "another-secret") {
		t.Fatalf("wrong secret: %v", err)
	}
	if after, _ := d.Store.AuditLog(ctx); len(after) != len(before) {
		t.Errorf("a refused remediation was audited: %d entries, were %d", len(after), len(before))
	}
	res, err := Remediate(ctx, d, inc.ID, RemediateOptions{Secret: leaked})
	if err != nil || res == nil || res.Incident != inc.ID || res.Open != 0 {
		t.Fatalf("remediate: %+v %v", res, err)
	}
}

// The report of an incident whose inventory file is gone is built from
// the copy kept at open, and names the incident's state.
func TestReportUsesTheRecordedInventory(t *testing.T) {
	ctx := context.Background()
	d, inc := planned(t)
	body := must(os.ReadFile(inc.Inventory))
	if err := d.Store.PutInventory(ctx, inc.ID, store.InventoryCopy{Path: inc.Inventory, Body: body}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(inc.Inventory); err != nil {
		t.Fatal(err)
	}
	var warned []string
	d.Warn = func(l string) { warned = append(warned, l) }
	r, err := Report(ctx, d, inc.ID)
	if err != nil || r.Incident != inc.ID || r.State != string(store.Open) {
		t.Fatalf("report: %+v %v", r, err)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], filepath.Base(inc.Inventory)) || !strings.Contains(warned[0], "copy kept") {
		t.Errorf("warned %q", warned)
	}
}

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
