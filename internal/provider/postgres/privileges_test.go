package postgres

import (
	"testing"

	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/providertest"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/testutil"
)

// TestRotateSuiteWithTheDocumentedAdmin proves docs/privileges.md: the
// whole rotation suite (issue, converging retries, verify, revoke, end
// sessions, drop, expiry, drop privileges) passes with an administrator
// that has CREATEROLE, pg_signal_backend and pg_read_all_stats and
// nothing else. Identify needs a superuser (pg_authid): the suite checks
// that it fails with a permission error instead.
func TestRotateSuiteWithTheDocumentedAdmin(t *testing.T) {
	c := testutil.SharedPostgres(t)
	name, pw := testutil.RandomName("rekey_admin_"), testutil.RandomName("pw")
	// The grant, as docs/privileges.md writes it.
	c.CreateRole(t, name, pw, "CREATEROLE")
	c.Exec(t, "GRANT pg_signal_backend, pg_read_all_stats TO "+name)
	admin := provider.Config{System: testSystem, Admin: secret.FromString(c.URL(name, pw, "postgres"))}
	providertest.RunRotate(t, providertest.WithAdmin(harness{c}, admin, providertest.FeatureIdentify))
}
