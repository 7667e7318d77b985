package plan

import (
	"strings"

	"github.com/rekeyhq/rekey/internal/scope"
)

// boundToken reads a leaked Kubernetes bound token's key, as the
// provider's Inspect lists it (pod/NAME/UID, secret/NAME/UID or
// serviceaccount/UID: what the token dies with), and says what revoking
// it does. Its revoke names that key and waits for a person: deleting the
// pod restarts it, and recreating the service account breaks the tokens
// of every pod running as it. key is "" for anything else.
func (b *builder) boundToken(sysType string, id scope.Identity) (key, summary string) {
	if sysType != "kubernetes" || id.Name != b.in.Scope.Identity.Name {
		return "", ""
	}
	leaked, _ := scopeKeys(b.in.Scope)
	kind, rest, ok := strings.Cut(leaked, "/")
	if !ok {
		return "", ""
	}
	name, _, _ := strings.Cut(rest, "/")
	switch kind {
	case "pod":
		return leaked, "delete pod " + name + ", to which the leaked token of " + id.Name + " is bound: the token stops working, and the pod's controller starts another (a person approves: the pod restarts)"
	case "secret":
		return leaked, "delete Secret " + name + ", to which the leaked token of " + id.Name + " is bound: the token stops working (a person approves: whatever reads that Secret loses it)"
	case "serviceaccount":
		return leaked, "delete and recreate service account " + id.Name + " (same name, a new uid): the leaked token, bound to the account alone, stops working, and so do the tokens of every pod running as the account until each pod is restarted, and its token Secrets " +
			"(a person approves: it disrupts every pod of the account)"
	}
	return "", ""
}
