package redis

import (
	"net/url"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/providertest"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/testutil"
)

func preflightAs(t *testing.T, rules ...string) []string {
	t.Helper()
	testutil.NeedService(t, "redis", testAddr)
	name, pw := newUserName(), "adm-"+randomHex(12)
	createUser(t, name, append(rules, ">"+pw)...)
	u := url.URL{Scheme: "redis", User: url.UserPassword(name, pw), Host: testAddr, Path: "/0"}
	return providertest.PreflightProblems(t, New, provider.Config{System: testSystem, Admin: secret.FromString(u.String())})
}

func TestPreflight(t *testing.T) {
	if got := preflightAs(t, adminRules...); len(got) != 0 {
		t.Errorf("the documented admin: %q", got)
	}
	// Rotation commands but no CLIENT: terminating sessions is refused.
	got := preflightAs(t, "on", "resetkeys", "-@all", "+ping", "+client|id", "+acl|users", "+acl|getuser", "+acl|setuser", "+acl|deluser")
	if len(got) != 2 || !strings.Contains(got[0], "client|list") || !strings.Contains(got[1], "client|kill") {
		t.Errorf("without +client|list and +client|kill: %q", got)
	}
	// +@all minus one subcommand.
	got = preflightAs(t, "on", "~*", "+@all", "-acl|deluser")
	if len(got) != 1 || !strings.Contains(got[0], "acl|deluser") {
		t.Errorf("+@all -acl|deluser: %q", got)
	}
	// A category.
	if got := preflightAs(t, "on", "resetkeys", "-@all", "+@admin", "+@connection"); len(got) != 0 {
		t.Errorf("+@admin: %q", got)
	}
	// Not even its own rules.
	got = preflightAs(t, "on", "resetkeys", "-@all", "+ping", "+client|id")
	if len(got) != 1 || !strings.Contains(got[0], "ACL GETUSER") {
		t.Errorf("no ACL at all: %q", got)
	}
	testutil.NeedService(t, "redis", testAddr)
	if got := providertest.PreflightProblems(t, New, adminConfig()); len(got) != 0 {
		t.Errorf("the default admin: %q", got)
	}
}
