package vault

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/provider"
)

// Inspect describes a principal's tokens, or the one token ref.Key names:
// each policy graded for risk (token policies directly, identity policies
// via the entity), the token under inspection as "this-key" and the
// principal's other live tokens as "other-key", and its identity entity.
// Finding the other tokens lists every accessor (auth/token/accessors,
// list and sudo). Vault offers no way to list a token's children or the
// leases it created: they are revoked with it (see Revoke), and are not
// listed here. Vault tokens have no sessions. It has no side effects.
func (p *Provider) Inspect(ctx context.Context, ref provider.IdentityRef) (*provider.Identity, error) {
	id := &provider.Identity{Ref: ref, Privileges: []provider.Privilege{}, Sessions: []provider.Session{}, Related: []provider.Related{}}
	var toks []tokenInfo
	if ref.Key != "" {
		t, found, err := p.lookupAccessor(ctx, "inspect", ref.Key)
		if err != nil || !found {
			return id, err
		}
		toks = append(toks, t)
	}
	all, err := p.principalTokens(ctx, "inspect", ref.Name)
	if err != nil {
		return nil, err
	}
	for _, t := range all {
		if t.Accessor != ref.Key {
			toks = append(toks, t)
		}
	}
	if len(toks) == 0 {
		return id, nil
	}
	id.Exists, id.CanLogin = true, true
	graded := map[string]bool{}
	for i, t := range toks {
		kind := "other-key"
		if t.Accessor == ref.Key {
			kind = "this-key"
		}
		id.Related = append(id.Related, provider.Related{Kind: kind, Name: t.Accessor, Detail: tokenDetail(t)})
		if ref.Key != "" && i > 0 {
			continue // the privileges are the inspected token's
		}
		for _, pol := range t.Policies {
			if err := p.gradePolicy(ctx, id, graded, pol, ""); err != nil {
				return nil, err
			}
		}
		for _, pol := range t.IdentityPolicies {
			if err := p.gradePolicy(ctx, id, graded, pol, "entity:"+t.EntityID); err != nil {
				return nil, err
			}
		}
		if t.EntityID != "" && !slices.ContainsFunc(id.Related, func(r provider.Related) bool { return r.Name == t.EntityID }) {
			id.Related = append(id.Related, provider.Related{Kind: "entity", Name: t.EntityID,
				Detail: "the token's identity entity: other logins of the entity hold tokens that revoking this one leaves working"})
		}
	}
	if e := toks[0].Expire; ref.Key != "" && !e.IsZero() {
		id.ValidUntil = &e
	}
	return id, nil
}

// gradePolicy reads an ACL policy and adds it as a privilege, once.
func (p *Provider) gradePolicy(ctx context.Context, id *provider.Identity, graded map[string]bool, name, via string) error {
	if graded[name+"\x00"+via] {
		return nil
	}
	graded[name+"\x00"+via] = true
	pr := provider.Privilege{Name: name, Risk: provider.RiskLow, Via: via}
	if name == "root" {
		pr.Risk, pr.CreatesCredentials = provider.RiskCritical, true
		id.Privileges = append(id.Privileges, pr)
		return nil
	}
	path := "sys/policies/acl/" + name
	s, err := p.c.Logical().ReadWithContext(ctx, path)
	if err != nil {
		return p.fail("inspect", id.Ref.Name, "read", path, err)
	}
	if s != nil && s.Data != nil {
		// A policy Vault cannot have stored (it parses them) grades as
		// granting nothing the grader can name.
		if pol, err := parsePolicy(str(s.Data["policy"])); err == nil {
			pr.Risk, pr.CreatesCredentials, _ = grade(pol)
		}
	}
	id.Privileges = append(id.Privileges, pr)
	return nil
}

func tokenDetail(t tokenInfo) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s token %q, policies [%s], created %s", t.Type, t.DisplayName, strings.Join(t.Policies, ", "), stamp(t.Created))
	if t.Expire.IsZero() {
		b.WriteString(", never expires")
	} else {
		fmt.Fprintf(&b, ", expires %s", stamp(t.Expire))
	}
	if t.Orphan {
		b.WriteString(", orphan")
	} else {
		b.WriteString(", child of another token (revoked with its parent)")
	}
	if t.Renewable {
		b.WriteString(", renewable")
	}
	return b.String()
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "?"
	}
	return t.UTC().Format(time.RFC3339)
}
