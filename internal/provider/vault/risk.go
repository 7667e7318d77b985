package vault

import (
	"slices"
	"strings"

	"github.com/hashicorp/hcl"

	"github.com/rekeyhq/rekey/internal/provider"
)

// aclPolicy is the part of an ACL policy (HCL or JSON) grading reads.
type aclPolicy struct {
	Path map[string]struct {
		Capabilities []string `hcl:"capabilities"`
	} `hcl:"path"`
}

func parsePolicy(text string) (aclPolicy, error) {
	var p aclPolicy
	err := hcl.Decode(&p, text)
	return p, err
}

// covers reports whether a policy path pattern grants on path: "+" is one
// segment, a trailing "*" any suffix.
func covers(pattern, path string) bool {
	glob := strings.HasSuffix(pattern, "*")
	ps := strings.Split(strings.TrimSuffix(pattern, "*"), "/")
	xs := strings.Split(path, "/")
	if len(xs) < len(ps) || !glob && len(xs) != len(ps) {
		return false
	}
	for i, seg := range ps {
		switch {
		case seg == "+":
		case i == len(ps)-1 && glob:
			if !strings.HasPrefix(xs[i], seg) {
				return false
			}
		case seg != xs[i]:
			return false
		}
	}
	return true
}

var writeCaps = []string{"create", "update", "patch", "sudo"}

// grade returns a policy's risk, whether it lets its holder mint
// credentials, and why:
//   - critical: sys/ or everything ("*", "+/*") writable, policies
//     writable (the holder grants itself anything), or token creation with
//     sudo (tokens with any policy, orphans);
//   - high: token creation (auth/token/create*), or writes under auth/
//     (an auth method's roles and secret ids, userpass passwords);
//   - medium: reads on a whole mount or more ("secret/*", "*");
//   - low: anything else.
func grade(p aclPolicy) (risk provider.Risk, creates bool, reasons []string) {
	risk = provider.RiskLow
	raise := func(r provider.Risk, c bool, why string) {
		risk = provider.MaxRisk(risk, r)
		creates = creates || c
		reasons = append(reasons, why)
	}
	for pattern, rule := range p.Path {
		caps := rule.Capabilities
		// A token's own paths (lookup-self, renew-self, revoke-self,
		// capabilities-self) and its cubbyhole reach nothing beyond the
		// token: Vault's default policy grants them to every token.
		if slices.Contains(caps, "deny") || strings.HasSuffix(pattern, "-self") || strings.HasPrefix(pattern, "cubbyhole/") {
			continue
		}
		writes := slices.ContainsFunc(caps, func(c string) bool { return slices.Contains(writeCaps, c) })
		sudo := slices.Contains(caps, "sudo")
		broad := pattern == "*" || pattern == "+/*" || pattern == "+*"
		switch {
		case writes && (broad || covers(pattern, "sys/mounts/x") || covers(pattern, "sys/auth/x")):
			raise(provider.RiskCritical, true, pattern+" writable")
		case writes && (covers(pattern, "sys/policies/acl/x") || covers(pattern, "sys/policy/x")):
			raise(provider.RiskCritical, true, pattern+" (policies) writable")
		case sudo && (covers(pattern, "auth/token/create") || covers(pattern, "auth/token/create-orphan")):
			raise(provider.RiskCritical, true, pattern+" with sudo")
		case writes && (covers(pattern, "auth/token/create") || covers(pattern, "auth/token/create-orphan")):
			raise(provider.RiskHigh, true, pattern+" creates tokens")
		case writes && strings.HasPrefix(pattern, "auth/"):
			raise(provider.RiskHigh, true, pattern+" writable")
		case slices.Contains(caps, "read") && (broad || strings.Count(strings.TrimSuffix(pattern, "/*"), "/") == 0 && strings.HasSuffix(pattern, "*") ||
			strings.HasSuffix(pattern, "/data/*") && strings.Count(pattern, "/") == 2):
			raise(provider.RiskMedium, false, pattern+" readable")
		}
	}
	return risk, creates, reasons
}
