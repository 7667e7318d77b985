package report

import (
	"strings"

	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/scope"
)

// keySignals says whether the leaked secret is a private key (the systems
// that carry or trust it, x509 and ssh, identified it) and which
// certificates carry it: the facts of ATT&CK T1552.004 and T1588.004.
func keySignals(sc scope.Scope, inv *inventory.Inventory) (where []string, certs []string) {
	if inv == nil || sc.Identity.Status != "identified" {
		return nil, nil
	}
	ids := []scope.Identity{sc.Identity}
	for _, r := range sc.Reuse {
		ids = append(ids, scope.Identity{System: r.System, Name: r.Name})
	}
	for _, id := range ids {
		sys := inv.SystemByName(id.System)
		if sys == nil || sys.Type != inventory.TypeX509 && sys.Type != inventory.TypeSSH {
			continue
		}
		where = appendNew(where, sys.Type+" system "+sys.Name)
		if sys.Type != inventory.TypeX509 {
			continue
		}
		n := len(certs)
		for _, p := range id.Privileges {
			if strings.Contains(p.Name, " certificate ") {
				certs = append(certs, p.Name)
			}
		}
		if len(certs) == n {
			// An x509 system identifies a key only by a certificate
			// carrying it; a reused identity's are not in the scope.
			certs = append(certs, "those of system "+sys.Name+" that carry it (not listed in the scope)")
		}
	}
	return where, certs
}

// keyControls maps a leaked private key: the key itself (T1552.004), and
// the certificates it makes its holder able to present (T1588.004: the
// adversary obtained them with the key).
func keyControls(s signals) []Control {
	var out []Control
	if len(s.keyPlaces) > 0 {
		out = append(out, Control{Framework: ATTACK, ID: "T1552.004", Name: "Unsecured Credentials: Private Keys",
			Trigger: "the leaked secret is a private key, identified by its public key in " + list(s.keyPlaces)})
	}
	if len(s.certificates) > 0 {
		out = append(out, Control{Framework: ATTACK, ID: "T1588.004", Name: "Obtain Capabilities: Digital Certificates",
			Trigger: "with the key, whoever holds it can present the certificates carrying it until they are revoked: " + list(s.certificates)})
	}
	return out
}
