package inventory

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"time"

	"github.com/gobwas/glob"
	"go.yaml.in/yaml/v3"
)

// Broker is the inventory's broker: section: the workload identity issuers
// the broker trusts, its request-time policy and the roles workloads may
// ask leases of. See docs/broker.md.
type Broker struct {
	Issuers []BrokerIssuer
	// Policy is a file: reference to a Rego policy; zero means rekey's
	// default policy.
	Policy Ref
	Roles  []BrokerRole
	Pos    Pos
}

// BrokerIssuer is one identity issuer: an OIDC issuer (Issuer set) or a
// SPIFFE trust domain (TrustDomain set).
type BrokerIssuer struct {
	Name string
	// Issuer is the OIDC iss its tokens carry.
	Issuer string
	// JWKS is a file: reference to its key set, for air-gapped sites;
	// JWKSURL a URL of it. With neither, keys are found by discovery.
	JWKS    Ref
	JWKSURL string
	// Discovery overrides where the discovery document is read from.
	Discovery string
	// TrustDomain is a SPIFFE trust domain; Bundle its JWT bundle file.
	TrustDomain string
	Bundle      Ref
	// Audience must be in every token's aud.
	Audience string
	Pos      Pos
}

// BrokerRole is what a workload may ask a lease of: a login shaped like
// an existing identity, for a bounded time, for the workloads it names.
type BrokerRole struct {
	Name   string
	System string
	// Like names the identity in System a lease copies (its privileges
	// minus the risky ones it does not keep).
	Like string
	// TTL is a lease's default lifetime; MaxTTL how long renewals may
	// make it live (TTL when not given).
	TTL    time.Duration
	MaxTTL time.Duration
	// Issuers names the issuers whose workloads may ask; empty means any.
	Issuers []string
	// Subjects are globs a workload's subject must match one of; Claims
	// maps claim paths ("/" between levels: kubernetes.io/namespace) to
	// globs the claim must match. At least one of them is required, so a
	// role is never open to every workload of a trusted issuer.
	Subjects []string
	Claims   map[string]string
	Pos      Pos
}

// Identity is the role's template identity in inv, or nil.
func (r *BrokerRole) Identity(inv *Inventory) *Identity {
	return inv.IdentityByName(r.System + "/" + r.Like)
}

// RoleByName returns the broker role with this name, or nil.
func (b *Broker) RoleByName(name string) *BrokerRole {
	if b == nil {
		return nil
	}
	for i := range b.Roles {
		if b.Roles[i].Name == name {
			return &b.Roles[i]
		}
	}
	return nil
}

var (
	brokerKeys       = []string{"issuers", "policy", "roles"}
	brokerIssuerKeys = []string{"name", "issuer", "jwks", "discovery", "spiffe_trust_domain", "bundle", "audience"}
	brokerRoleKeys   = []string{"name", "system", "like", "ttl", "max_ttl", "issuers", "subjects", "claims"}
	trustDomainRe    = regexp.MustCompile(`^[a-z0-9._-]+$`)
)

// maxLeaseTTL bounds a role's lifetimes: a lease is meant to live minutes.
const maxLeaseTTL = 24 * time.Hour

func (p *parser) broker(v *yaml.Node, inv *Inventory) *Broker {
	o := p.object(v, "broker", "broker")
	if o == nil {
		return nil
	}
	o.only(brokerKeys...)
	b := &Broker{Pos: p.pos(o.node)}
	names, issuerIDs := map[string]Pos{}, map[string]Pos{}
	for i, n := range o.list("issuers") {
		is, ok := p.brokerIssuer(n, i)
		if !ok {
			continue
		}
		if !p.once(names, is.Name, is.Pos, n, "issuer") {
			continue
		}
		id := is.Issuer + is.TrustDomain
		if first, dup := issuerIDs[id]; dup && id != "" {
			p.errorf(n, "issuer %q: %s is already configured (at %d:%d): a token must lead to one issuer", is.Name, id, first.Line, first.Column)
			continue
		}
		issuerIDs[id] = is.Pos
		b.Issuers = append(b.Issuers, is)
	}
	if pv := o.vals["policy"]; pv != nil && !isNull(pv) {
		if s, ok := p.scalar(pv, "broker: policy"); ok {
			ref, err := ParseRef(s)
			switch {
			case err != nil || ref.Scheme != RefFile:
				p.errorf(pv, "broker: policy: want file:PATH, the Rego policy file (omit it for the default policy)")
			default:
				ref.Dir, ref.Pos = p.dir, p.pos(pv)
				b.Policy = ref
			}
		}
	}
	seen := map[string]Pos{}
	for i, n := range o.list("roles") {
		r, ok := p.brokerRole(n, i, inv, names)
		if !ok {
			continue
		}
		if !p.once(seen, r.Name, r.Pos, n, "role") {
			continue
		}
		b.Roles = append(b.Roles, r)
	}
	return b
}

// once records name, defined at pos, in seen and reports a second
// definition at n.
func (p *parser) once(seen map[string]Pos, name string, pos Pos, n *yaml.Node, noun string) bool {
	if first, dup := seen[name]; dup && name != "" {
		p.errorf(n, "%s %q defined twice (first at %d:%d)", noun, name, first.Line, first.Column)
		return false
	}
	seen[name] = pos
	return true
}

func (p *parser) brokerIssuer(n *yaml.Node, i int) (BrokerIssuer, bool) {
	o, nm := p.item(n, "broker: issuers", "issuer", i, true)
	if o == nil {
		return BrokerIssuer{}, false
	}
	o.only(brokerIssuerKeys...)
	p.checkName(o, nm)
	is := BrokerIssuer{Name: nm, Pos: p.pos(o.node)}
	is.Audience = o.str("audience", true)
	is.Issuer = o.str("issuer", false)
	is.TrustDomain = o.str("spiffe_trust_domain", false)
	fileRef := func(key string) Ref {
		v := o.vals[key]
		s, ok := p.scalar(v, o.prefix(key))
		if !ok {
			return Ref{}
		}
		ref, err := ParseRef(s)
		if err != nil || ref.Scheme != RefFile {
			return Ref{}
		}
		ref.Dir, ref.Pos = p.dir, p.pos(v)
		return ref
	}
	switch {
	case is.Issuer != "" && is.TrustDomain != "":
		p.errorf(o.at("spiffe_trust_domain"), "%s: issuer (OIDC) and spiffe_trust_domain (SPIFFE) exclude each other: write two issuers", o.where())
	case is.TrustDomain != "":
		if !trustDomainRe.MatchString(is.TrustDomain) {
			p.errorf(o.at("spiffe_trust_domain"), "%s: spiffe_trust_domain %s: want a trust domain name like prod.example.org (lower case, no spiffe://)", o.where(), quote(is.TrustDomain))
		}
		for _, k := range []string{"jwks", "discovery"} {
			if v := o.vals[k]; v != nil && !isNull(v) {
				p.errorf(o.keys[k], "%s: %s is for OIDC issuers; a SPIFFE trust domain has a bundle", o.where(), k)
			}
		}
		if v := o.vals["bundle"]; v == nil || isNull(v) {
			p.errorf(o.at("bundle"), "%s: missing bundle: the trust domain's JWT bundle, as file:PATH", o.where())
		} else if is.Bundle = fileRef("bundle"); is.Bundle.IsZero() {
			p.errorf(v, "%s: bundle: want file:PATH", o.where())
		}
	case is.Issuer != "":
		if err := fetchURL(is.Issuer); err != nil {
			p.errorf(o.at("issuer"), "%s: issuer: %v", o.where(), err)
		}
		if v := o.vals["bundle"]; v != nil && !isNull(v) {
			p.errorf(o.keys["bundle"], "%s: bundle is for SPIFFE trust domains; an OIDC issuer has jwks", o.where())
		}
		if v := o.vals["jwks"]; v != nil && !isNull(v) {
			if s, ok := p.scalar(v, o.prefix("jwks")); ok {
				if ref, err := ParseRef(s); err == nil && ref.Scheme == RefFile {
					is.JWKS = fileRef("jwks")
				} else if err := fetchURL(s); err != nil {
					p.errorf(v, "%s: jwks: want file:PATH or the key set's URL: %v", o.where(), err)
				} else {
					is.JWKSURL = s
				}
			}
		}
		if is.Discovery = o.str("discovery", false); is.Discovery != "" {
			if err := fetchURL(is.Discovery); err != nil {
				p.errorf(o.at("discovery"), "%s: discovery: %v", o.where(), err)
			}
		}
	default:
		p.errorf(o.node, "%s: want issuer (an OIDC issuer URL) or spiffe_trust_domain", o.where())
	}
	return is, true
}

// fetchURL checks a URL the broker fetches keys from: https, or http to
// this machine only.
func fetchURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("%s is not an https URL", quote(s))
	}
	if u.Scheme == "http" {
		ip := net.ParseIP(u.Hostname())
		if u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("%s: keys are fetched over https only (http only to this machine)", quote(s))
		}
	}
	return nil
}

func (p *parser) brokerRole(n *yaml.Node, i int, inv *Inventory, issuers map[string]Pos) (BrokerRole, bool) {
	o, nm := p.item(n, "broker: roles", "role", i, true)
	if o == nil {
		return BrokerRole{}, false
	}
	o.only(brokerRoleKeys...)
	p.checkName(o, nm)
	r := BrokerRole{Name: nm, Pos: p.pos(o.node)}
	if r.System = o.str("system", true); r.System != "" && inv.SystemByName(r.System) == nil {
		p.errorf(o.at("system"), "%s: system %s is not defined", o.where(), quote(r.System))
	}
	if r.Like = o.str("like", true); r.Like != "" && r.System != "" && inv.SystemByName(r.System) != nil && r.Identity(inv) == nil {
		p.errorf(o.at("like"), "%s: like: identity %s is not defined in system %s", o.where(), quote(r.Like), quote(r.System))
	}
	ttl := func(key string, required bool) time.Duration {
		s := o.str(key, required)
		if s == "" {
			return 0
		}
		d, err := ParseTTL(s)
		switch {
		case err != nil:
			p.errorf(o.at(key), "%s: %v", o.prefix(key), err)
		case d > maxLeaseTTL:
			p.errorf(o.at(key), "%s: %s is longer than %s: a lease is meant to live minutes", o.prefix(key), quote(s), maxLeaseTTL)
		case d < time.Second:
			p.errorf(o.at(key), "%s: %s is shorter than a second", o.prefix(key), quote(s))
		}
		return d
	}
	r.TTL = ttl("ttl", true)
	if r.MaxTTL = ttl("max_ttl", false); r.MaxTTL != 0 && r.TTL != 0 && r.MaxTTL < r.TTL {
		p.errorf(o.at("max_ttl"), "%s: max_ttl is shorter than ttl", o.where())
	}
	var nodes []*yaml.Node
	r.Issuers, nodes = o.strings("issuers")
	for j, name := range r.Issuers {
		if _, ok := issuers[name]; !ok {
			p.errorf(nodes[j], "%s: issuers: %s is not a broker issuer", o.where(), quote(name))
		}
	}
	r.Subjects, nodes = o.strings("subjects")
	for j, pat := range r.Subjects {
		p.checkGlob(nodes[j], o.prefix("subjects"), pat)
	}
	if v := o.vals["claims"]; v != nil && !isNull(v) {
		if co := p.object(v, o.prefix("claims"), o.prefix("claims")); co != nil {
			r.Claims = map[string]string{}
			for _, k := range co.order {
				cv := deref(co.vals[k])
				if k == "" || cv == nil || cv.Kind != yaml.ScalarNode || isNull(cv) {
					p.errorf(co.keys[k], "%s: claim %s: want a value (a string, glob, number or boolean)", o.prefix("claims"), quote(k))
					continue
				}
				p.checkGlob(cv, o.prefix("claims")+": "+k, cv.Value)
				r.Claims[k] = cv.Value
			}
		}
	}
	if len(r.Subjects) == 0 && len(r.Claims) == 0 {
		p.errorf(o.node, "%s: want subjects or claims: which workloads may ask for this role (a role open to every workload of a trusted issuer is refused)", o.where())
	}
	return r, true
}

// checkGlob checks a pattern as the broker's policy will match it: with
// gobwas/glob (what OPA's glob.match uses) and no delimiters.
func (p *parser) checkGlob(n *yaml.Node, what, pat string) {
	if _, err := glob.Compile(pat); err != nil {
		p.errorf(n, "%s: %s is not a valid glob: %v", what, quote(pat), err)
	}
}

// brokerLocal warns about broker files this machine does not have.
func (p *parser) brokerLocal(inv *Inventory) {
	if inv.Broker == nil {
		return
	}
	check := func(ref Ref, what string) {
		if ref.IsZero() {
			return
		}
		if _, err := os.Stat(ref.Path()); errors.Is(err, os.ErrNotExist) {
			p.warnf(ref.Pos, "broker: %s %s does not exist here", what, ref)
		}
	}
	for _, is := range inv.Broker.Issuers {
		check(is.JWKS, fmt.Sprintf("issuer %s: jwks", quote(is.Name)))
		check(is.Bundle, fmt.Sprintf("issuer %s: bundle", quote(is.Name)))
	}
	check(inv.Broker.Policy, "policy")
}
