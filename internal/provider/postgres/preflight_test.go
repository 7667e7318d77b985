package postgres

import (
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/providertest"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/testutil"
)

func preflightAs(t *testing.T, c *testutil.PGCluster, attrs string, grants ...string) []string {
	t.Helper()
	name, pw := testutil.RandomName("rekey_pf_"), testutil.RandomName("pw")
	c.CreateRole(t, name, pw, attrs)
	for _, g := range grants {
		c.Exec(t, "GRANT "+g+" TO "+name)
	}
	return providertest.PreflightProblems(t, New, provider.Config{System: testSystem, Admin: secret.FromString(c.URL(name, pw, "postgres"))})
}

func TestPreflight(t *testing.T) {
	c := testutil.SharedPostgres(t)
	if got := preflightAs(t, c, "CREATEROLE", "pg_signal_backend"); len(got) != 0 {
		t.Errorf("the documented admin: %q", got)
	}
	got := preflightAs(t, c, "")
	if len(got) != 2 || !strings.Contains(got[0], "neither SUPERUSER nor CREATEROLE") ||
		!strings.Contains(got[1], "pg_signal_backend") || !strings.HasSuffix(got[1], "(steps terminate-sessions:x)") {
		t.Errorf("a plain login: %q", got)
	}
	if got := preflightAs(t, c, "CREATEROLE"); len(got) != 1 || !strings.Contains(got[0], "pg_signal_backend") {
		t.Errorf("CREATEROLE alone: %q", got)
	}
	if got := providertest.PreflightProblems(t, New, adminConfig(c)); len(got) != 0 {
		t.Errorf("a superuser: %q", got)
	}
}
