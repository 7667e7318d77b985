package redis

import (
	"net/url"
	"testing"

	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/providertest"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/testutil"
)

// adminRules are the ACL rules docs/privileges.md gives rekey's Redis
// administrator, password aside.
var adminRules = []string{"on", "resetkeys", "resetchannels", "-@all",
	"+ping", "+client|id", "+client|list", "+client|kill",
	"+acl|users", "+acl|getuser", "+acl|setuser", "+acl|deluser", "+acl|save"}

// TestRotateSuiteWithTheDocumentedAdmin proves docs/privileges.md: the
// whole rotation suite (identify, issue, verify, revoke, end sessions,
// drop, dual passwords, drop privileges) passes with an administrator
// allowed exactly the documented commands and no key.
func TestRotateSuiteWithTheDocumentedAdmin(t *testing.T) {
	testutil.NeedService(t, "redis", testAddr)
	name, pw := newUserName(), "adm-"+randomHex(12)
	createUser(t, name, append(adminRules, ">"+pw)...)
	u := url.URL{Scheme: "redis", User: url.UserPassword(name, pw), Host: testAddr, Path: "/0"}
	admin := provider.Config{System: testSystem, Admin: secret.FromString(u.String())}
	providertest.RunRotate(t, providertest.WithAdmin(rotateHarness{}, admin))
}
