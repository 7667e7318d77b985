package report

import (
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/scope"
	"github.com/rekeyhq/rekey/internal/store"
)

// A leaked private key maps to T1552.004, and to T1588.004 when a
// certificate carries it (named when the scope inspected it, the x509
// system otherwise); a password maps to neither.
func TestKeyControls(t *testing.T) {
	inv := &inventory.Inventory{Systems: []inventory.System{
		{Name: "web-tls", Type: inventory.TypeX509}, {Name: "bastion", Type: inventory.TypeSSH}, {Name: "shop-db", Type: "postgres"}}}
	ids := func(c []Control) string {
		var out []string
		for _, x := range c {
			out = append(out, x.ID+": "+x.Trigger)
		}
		return strings.Join(out, "\n")
	}
	sc := scope.Scope{Identity: scope.Identity{Status: "identified", System: "bastion", Name: "SHA256:x", Privileges: []scope.Privilege{{Name: "login as root"}}},
		Reuse: []store.IdentityRef{{System: "web-tls", Name: "sha256:y"}}}
	s := signals{}
	s.keyPlaces, s.certificates = keySignals(sc, inv)
	got := ids(keyControls(s))
	if !strings.Contains(got, "T1552.004: the leaked secret is a private key, identified by its public key in ssh system bastion, x509 system web-tls") ||
		!strings.Contains(got, "T1588.004: with the key, whoever holds it can present the certificates carrying it until they are revoked: those of system web-tls that carry it (not listed in the scope)") {
		t.Errorf("ssh and x509:\n%s", got)
	}

	sc = scope.Scope{Identity: scope.Identity{Status: "identified", System: "web-tls", Name: "sha256:y",
		Privileges: []scope.Privilege{{Name: "server certificate CN=shop serial 10 (issuer CN=CA, valid until 2027-01-01)"}}}}
	s.keyPlaces, s.certificates = keySignals(sc, inv)
	if got := ids(keyControls(s)); !strings.Contains(got, "carrying it until they are revoked: server certificate CN=shop serial 10") {
		t.Errorf("x509 alone:\n%s", got)
	}

	sc = scope.Scope{Identity: scope.Identity{Status: "identified", System: "shop-db", Name: "orders"}}
	s.keyPlaces, s.certificates = keySignals(sc, inv)
	if got := keyControls(s); len(got) != 0 {
		t.Errorf("a password: %+v", got)
	}
}
