package mysql

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/providertest"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/testutil"
)

func preflightAs(t *testing.T, s *server, grants ...string) []string {
	t.Helper()
	name, pw := testutil.RandomName("rk_pf_"), testutil.RandomName("pw")
	s.createUser(t, name, "%", "IDENTIFIED BY ?", pw)
	for _, g := range grants {
		s.exec(t, g, name)
	}
	return providertest.PreflightProblems(t, New, provider.Config{System: testSystem, Admin: secret.FromString(fmt.Sprintf("%s:%s@tcp(%s)/", name, pw, s.cfg.Addr))})
}

func TestPreflight(t *testing.T) {
	s := testServer(t)
	if got := preflightAs(t, s, "GRANT CREATE USER, PROCESS, CONNECTION ADMIN ON *.* TO ?@'%' WITH GRANT OPTION"); len(got) != 0 {
		t.Errorf("the documented admin: %q", got)
	}
	got := preflightAs(t, s, "GRANT CREATE USER ON *.* TO ?@'%'")
	want := []string{"GRANT OPTION", "PROCESS", "CONNECTION ADMIN"}
	if len(got) != len(want) {
		t.Fatalf("CREATE USER alone: %q", got)
	}
	for i, w := range want {
		if !strings.Contains(got[i], w) {
			t.Errorf("problem %d %q, want %s", i, got[i], w)
		}
	}
	if got := preflightAs(t, s); len(got) != 4 || !strings.Contains(got[0], "CREATE USER") {
		t.Errorf("no grant: %q", got)
	}
	if got := providertest.PreflightProblems(t, New, adminConfig(s)); len(got) != 0 {
		t.Errorf("root: %q", got)
	}
}
