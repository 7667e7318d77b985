package inventory

import (
	"fmt"
	"strings"
)

// TypeVault is the system type of a Vault (or OpenBao) server.
const TypeVault = "vault"

// DeliverVaultKV is the delivery type writing into a Vault KV version 2
// secret.
const DeliverVaultKV = "vault-kv"

var vaultKVKeys = []string{"type", "system", "mount", "path", "key", "user_key"}

// vaultKV reads a vault-kv delivery: which vault system, the KV v2 mount,
// the secret's path under it, and the keys of its data.
func (p *parser) vaultKV(o *obj, d *Delivery, what string, inv *Inventory) {
	o.only(vaultKVKeys...)
	d.Mount = o.str("mount", true)
	d.Path = o.str("path", true)
	d.Key = o.str("key", true)
	d.UserKey = o.str("user_key", false)
	for _, f := range []struct{ name, val string }{{"mount", d.Mount}, {"path", d.Path}} {
		if err := checkVaultPath(f.val); f.val != "" && err != nil {
			p.errorf(o.at(f.name), "%s: %v", o.prefix(f.name), err)
		}
	}
	for _, k := range []struct{ name, val string }{{"key", d.Key}, {"user_key", d.UserKey}} {
		if k.val != "" && (strings.TrimSpace(k.val) != k.val || strings.ContainsAny(k.val, "\n\r\x00")) {
			p.errorf(o.at(k.name), "%s: has surrounding spaces or control characters", o.prefix(k.name))
		}
	}
	if d.Key != "" && d.Key == d.UserKey {
		p.errorf(o.at("user_key"), "%s: user_key is the same as key", what)
	}
	d.System = o.str("system", false)
	var vaults []string
	for _, s := range inv.Systems {
		if s.Type == TypeVault {
			vaults = append(vaults, s.Name)
		}
	}
	switch {
	case d.System != "":
		s := inv.SystemByName(d.System)
		switch {
		case s == nil:
			p.errorf(o.at("system"), "%s: system %s is not defined", what, quote(d.System))
		case s.Type != TypeVault:
			p.errorf(o.at("system"), "%s: system %s is of type %s; a vault-kv delivery writes to a system of type vault", what, quote(d.System), s.Type)
		}
	case len(vaults) == 1:
		d.System = vaults[0]
	case len(vaults) == 0:
		p.errorf(o.node, "%s: a vault-kv delivery writes to a system of type vault, and the inventory defines none", what)
	default:
		p.errorf(o.node, "%s: the inventory defines several vault systems (%s): say which with system:", what, strings.Join(vaults, ", "))
	}
}

// checkVaultPath checks a KV mount or secret path: segments separated by
// '/', none empty, none "." or "..", no leading or trailing '/'.
func checkVaultPath(s string) error {
	if strings.TrimSpace(s) != s || strings.ContainsAny(s, "\n\r\x00?#") {
		return fmt.Errorf("%s has spaces around it, control characters, '?' or '#'", quote(s))
	}
	for _, seg := range strings.Split(s, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%s: want segments separated by single '/', none empty, '.' or '..', and no '/' at either end", quote(s))
		}
	}
	return nil
}

// revokePrefix checks an identity's revoke_prefix: a vault identity's,
// a lease path of a secrets engine. Token leases (auth/) end with the
// token's revocation, and sys/ holds none.
func (p *parser) revokePrefix(o *obj, id Identity, inv *Inventory) {
	at, what := o.at("revoke_prefix"), o.prefix("revoke_prefix")
	if s := inv.SystemByName(id.System); s != nil && s.Type != TypeVault {
		p.errorf(at, "%s: system %s is of type %s; revoke_prefix names leases of a system of type vault", what, quote(id.System), s.Type)
		return
	}
	if err := checkVaultPath(id.RevokePrefix); err != nil {
		p.errorf(at, "%s: %v", what, err)
		return
	}
	if mount, _, _ := strings.Cut(id.RevokePrefix, "/"); mount == "auth" || mount == "sys" {
		p.errorf(at, "%s: %s is not a secrets engine's lease path (want e.g. database/creds/app): tokens end with the leaked token's revocation", what, quote(id.RevokePrefix))
	}
}
