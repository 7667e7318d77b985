package mysql

import (
	"fmt"
	"testing"

	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/providertest"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/testutil"
)

// TestRotateSuiteWithTheDocumentedAdmin proves docs/privileges.md: the
// whole rotation suite (identify, issue with the grants copied, verify,
// revoke, end sessions, drop, drop privileges) passes with an
// administrator holding the documented grant and nothing else.
func TestRotateSuiteWithTheDocumentedAdmin(t *testing.T) {
	s := testServer(t)
	db := fixtureDB(t, s) // the database the suite's identities are granted on
	name, pw := testutil.RandomName("rekey_admin_"), testutil.RandomName("pw")
	s.createUser(t, name, "%", "IDENTIFIED BY ?", pw)
	// The grant, as docs/privileges.md writes it.
	for _, g := range []string{
		"GRANT CREATE USER, PROCESS, CONNECTION ADMIN ON *.* TO ?@'%' WITH GRANT OPTION",
		"GRANT SELECT ON mysql.* TO ?@'%'",
		"GRANT SELECT ON `" + db + "`.* TO ?@'%'",
	} {
		s.exec(t, g, name)
	}
	dsn := fmt.Sprintf("%s:%s@tcp(%s)/", name, pw, s.cfg.Addr)
	admin := provider.Config{System: testSystem, Admin: secret.FromString(dsn)}
	providertest.RunRotate(t, providertest.WithAdmin(rotateHarness{harness{s}}, admin))
}
