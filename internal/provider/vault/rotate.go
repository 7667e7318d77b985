package vault

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
)

// Issue is unsupported: Vault generates a token's id itself, so rekey
// cannot hand it one; Generate replaces it.
func (p *Provider) Issue(context.Context, provider.IssueRequest) (*provider.Credential, error) {
	return nil, p.unsupported("issue", "Vault generates tokens itself (the engine must use provider.Generator)")
}

// Generate creates a token for req.Name with the policies (its entity's
// identity policies included), TTL (or period), renewability and metadata
// of the token req.From names (its accessor in From.Key, or the
// principal's newest token), minus req.Drop,
// with meta rekey-replaces naming the source's accessor. The token is an
// orphan (auth/token/create-orphan): a child of the administrator token
// would die with it, a child of the leaked token with the leaked token's
// revocation. Granting policies the administrator token does not hold
// needs sudo on auth/token/create-orphan, as Vault documents.
//
// Before creating it, Generate revokes tokens of req.Name created at or
// after req.Began, replacing the same source (their rekey-replaces), that
// are neither in req.Sealed nor From.Key: an earlier call's token whose id
// was lost before the caller sealed it. Matching on rekey-replaces spares
// the principal's other logins meanwhile (every AppRole login is named
// "approle"). A principal
// may hold any number of tokens, so Generate never refuses for a limit.
func (p *Provider) Generate(ctx context.Context, req provider.GenerateRequest) (*provider.Credential, error) {
	from, err := p.source(ctx, req.From)
	if err != nil {
		return nil, err
	}
	if !req.Began.IsZero() {
		toks, err := p.principalTokens(ctx, "generate", req.Name)
		if err != nil {
			return nil, err
		}
		began := req.Began.Truncate(time.Second)
		for _, t := range toks {
			mine := t.Meta[replacesMeta] == from.Accessor
			if mine && !t.Created.Before(began) && !slices.Contains(req.Sealed, t.Accessor) && t.Accessor != req.From.Key {
				if err := p.revokeAccessor(ctx, "generate", t.Accessor); err != nil {
					return nil, err
				}
			}
		}
	}
	body := map[string]any{"display_name": req.Name, "renewable": from.Renewable}
	// The replacement is made in the token store, outside the source's
	// identity entity, so the entity's policies are given to it as token
	// policies: it can do what the source could.
	var policies []string
	for _, pol := range slices.Concat(from.Policies, from.IdentityPolicies) {
		if pol != "default" && !slices.Contains(req.Drop, pol) && !slices.Contains(policies, pol) {
			policies = append(policies, pol)
		}
	}
	switch {
	case slices.Contains(from.Policies, "default") && !slices.Contains(req.Drop, "default"):
		policies = append(policies, "default")
	case len(policies) == 0:
		return nil, errs.New(p.op("generate"), errs.Invalid, req.Name, "no policy is left once the dropped ones are removed: a token without policies can do nothing")
	default:
		body["no_default_policy"] = true
	}
	body["policies"] = policies
	ttl := from.CreationTTL
	if from.Period > 0 {
		body["period"] = strconv.FormatInt(int64(from.Period.Seconds()), 10)
		ttl = from.Period
	} else if ttl > 0 {
		body["ttl"] = strconv.FormatInt(int64(ttl.Seconds()), 10)
	}
	meta := map[string]any{}
	for k, v := range from.Meta {
		meta[k] = v
	}
	meta[replacesMeta] = from.Accessor
	body["meta"] = meta
	s, err := p.c.Logical().WriteWithContext(ctx, pathCreateOrphan, body)
	if says(err, "subset of parent") {
		return nil, errs.New(p.op("generate"), errs.Permission, req.Name, "the administrator token lacks sudo on "+pathCreateOrphan+
			", which granting policies it does not hold takes (child policies must be subset of parent)")
	}
	if err != nil {
		return nil, p.fail("generate", req.Name, "update (and sudo, to grant policies it does not hold)", pathCreateOrphan, err)
	}
	if s == nil || s.Auth == nil || s.Auth.ClientToken == "" {
		return nil, errs.New(p.op("generate"), errs.Other, req.Name, "Vault answered auth/token/create-orphan without a token")
	}
	c := &provider.Credential{
		Ref:    provider.IdentityRef{System: p.system, Name: req.Name, Key: s.Auth.Accessor},
		Secret: secret.FromString(s.Auth.ClientToken),
		KeyID:  s.Auth.Accessor,
	}
	p.san.Add(s.Auth.ClientToken)
	if ttl > 0 {
		c.ExpiresAt, c.Enforced = time.Now().Add(ttl), true
	}
	return c, nil
}

// source is the token a new one copies: the accessor ref.Key, or the
// principal's newest live token.
func (p *Provider) source(ctx context.Context, ref provider.IdentityRef) (tokenInfo, error) {
	if ref.Key != "" {
		t, found, err := p.lookupAccessor(ctx, "generate", ref.Key)
		if err == nil && !found {
			err = errs.New(p.op("generate"), errs.NotFound, ref.Key, "no live token has this accessor (revoked or expired): nothing to copy the policies of")
		}
		return t, err
	}
	toks, err := p.principalTokens(ctx, "generate", ref.Name)
	if err != nil {
		return tokenInfo{}, err
	}
	if len(toks) == 0 {
		return tokenInfo{}, errs.New(p.op("generate"), errs.NotFound, ref.Name, "no live token has this display name: nothing to copy the policies of")
	}
	slices.SortFunc(toks, func(a, b tokenInfo) int { return b.Created.Compare(a.Created) })
	return toks[0], nil
}

// Verify looks the token up as itself (auth/token/lookup-self, which
// Vault's default policy allows), as a client would use it, and checks it
// is the token c names (its accessor).
func (p *Provider) Verify(ctx context.Context, c provider.Credential) error {
	keyID := c.KeyID
	if keyID == "" {
		keyID = c.Ref.Key
	}
	client, err := p.as(c.Secret.Reveal())
	if err != nil {
		return p.fail("verify", keyID, "", "", err)
	}
	s, err := client.Auth().Token().LookupSelfWithContext(ctx)
	if re := responseError(err); re != nil && re.StatusCode == 403 {
		return errs.New(p.op("verify"), errs.Permission, keyID, "the token is refused (permission denied)")
	}
	if err != nil {
		return p.fail("verify", keyID, "read", pathLookupSelf, err)
	}
	if s == nil || s.Data == nil {
		return errs.New(p.op("verify"), errs.Other, keyID, "Vault answered lookup-self with no data")
	}
	if got := parseToken(s.Data).Accessor; keyID != "" && got != keyID {
		return errs.New(p.op("verify"), errs.Permission, keyID, "the secret is another token (accessor "+got+")")
	}
	return nil
}

// Revoke revokes the token ref.Key by its accessor
// (auth/token/revoke-accessor), or with ref.Key empty every token of the
// principal; a principal that is an auth method's display name (no
// "token-" prefix: "approle", "userpass-alice"), which its other logins
// share, is refused then (errs.Invalid): name the token. Vault revokes with a token its children (tokens it created
// that are not orphans) and the leases it created. A token already
// revoked or expired is not an error.
func (p *Provider) Revoke(ctx context.Context, ref provider.IdentityRef) error {
	if ref.Key != "" {
		return p.revokeAccessor(ctx, "revoke", ref.Key)
	}
	toks, err := p.principalTokens(ctx, "revoke", ref.Name)
	if err != nil {
		return err
	}
	for _, t := range toks {
		if t.DisplayName == ref.Name {
			return errs.New(p.op("revoke"), errs.Invalid, ref.Name, "this display name is an auth method's, shared by its logins: revoking them all is not what rekey does; name the token by its accessor")
		}
	}
	for _, t := range toks {
		if err := p.revokeAccessor(ctx, "revoke", t.Accessor); err != nil {
			return err
		}
	}
	return nil
}

func (p *Provider) revokeAccessor(ctx context.Context, op, accessor string) error {
	_, err := p.c.Logical().WriteWithContext(ctx, pathRevokeAccessor, map[string]any{"accessor": accessor})
	if err != nil && !says(err, "invalid accessor") {
		return p.fail(op, accessor, "update", pathRevokeAccessor, err)
	}
	return nil
}

// pathRevokePrefix ends every lease under the path that follows it
// (sudo).
const pathRevokePrefix = "sys/leases/revoke-prefix/"

// RevokePrefix ends every lease under prefix, whichever token created it
// (PUT sys/leases/revoke-prefix/PREFIX, which needs sudo). The prefix is
// taken as a path: a "/" is added, so that database/creds/app leaves
// database/creds/app-admin's leases alone. A prefix with no lease left is
// not an error.
func (p *Provider) RevokePrefix(ctx context.Context, prefix string) error {
	path := pathRevokePrefix + strings.TrimSuffix(prefix, "/") + "/"
	_, err := p.c.Logical().WriteWithContext(ctx, path, nil)
	return p.fail("revoke prefix", prefix, "sudo", path, err)
}

// Drop is Revoke: a Vault principal is nothing but its tokens, so there is
// nothing else to remove.
func (p *Provider) Drop(ctx context.Context, ref provider.IdentityRef) error {
	return p.Revoke(ctx, ref)
}

// replacesMeta is the metadata key naming the accessor a token rekey
// generated replaces.
const replacesMeta = "rekey-replaces"

// Renew is unsupported: Vault renews a token given the token itself
// (auth/token/renew) or as itself (renew-self), and rekey keeps a token's
// accessor, not its id, outside the sealed store.
func (p *Provider) Renew(context.Context, provider.IdentityRef, time.Time) error {
	return p.unsupported("renew", "Vault renews a token only given the token itself; its TTL is set when it is generated")
}
