package vault

import (
	"context"
	"strings"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
)

// Identify finds a leaked token's principal with auth/token/lookup made by
// the administrator: the token travels in the request body, Vault checks
// it and answers with its accessor, so the match is proven without a
// request authenticated as the leaked token. Vault's audit devices record
// the administrator's request, with the token HMAC'd like every string of
// a request body. A secret that is no Vault token (a database password) is
// not sent to Vault at all: no match. A batch token, which has no accessor
// and cannot be revoked alone, is an error of kind Unsupported saying
// until when it works.
func (p *Provider) Identify(ctx context.Context, s secret.Secret) ([]provider.Match, error) {
	tok := []byte(strings.TrimSpace(string(s.Reveal())))
	if !tokenShape.Match(tok) {
		return nil, nil
	}
	t, found, err := p.lookupToken(ctx, "identify", tok)
	if err != nil || !found {
		return nil, err
	}
	if t.Accessor == "" {
		// A batch token: a match without an accessor would name the whole
		// principal, and Revoke would then take all its tokens.
		until := "its parent token's revocation"
		if !t.Expire.IsZero() {
			until = stamp(t.Expire) + " or " + until
		}
		return nil, errs.New(p.op("identify"), errs.Unsupported, t.DisplayName,
			"this is a "+t.Type+" token: it has no accessor and Vault cannot revoke it alone; it works until "+until+" (see the Vault audit log for its parent)")
	}
	return []provider.Match{{Ref: p.ref(t), Method: provedMethod}}, nil
}

const provedMethod = "auth/token/lookup by the administrator (the token is checked, not used)"

func (p *Provider) ref(t tokenInfo) provider.IdentityRef {
	return provider.IdentityRef{System: p.system, Name: t.principal(), Key: t.Accessor}
}

// IdentifyKey finds the token req.KeyID, an accessor (audit logs name
// tokens by it), with auth/token/lookup-accessor: the match is Unproven.
// With req.Secret, the administrator's auth/token/lookup proves that the
// secret is that accessor's token, still without using it; a secret that
// is another token, or none, is no match. UseLeaked changes nothing: Vault
// needs no request made as the leaked token to prove it.
func (p *Provider) IdentifyKey(ctx context.Context, req provider.IdentifyRequest) ([]provider.Match, error) {
	t, found, err := p.lookupAccessor(ctx, "identify", req.KeyID)
	if err != nil || !found {
		return nil, err
	}
	m := provider.Match{Ref: p.ref(t), Method: "auth/token/lookup-accessor (accessor only: token not proven)", Unproven: true}
	if req.Secret.IsZero() {
		return []provider.Match{m}, nil
	}
	owner, found, err := p.lookupToken(ctx, "identify", req.Secret.Reveal())
	if err != nil {
		return nil, err
	}
	if !found || owner.Accessor != req.KeyID {
		return nil, nil
	}
	m.Method, m.Unproven = provedMethod, false
	return []provider.Match{m}, nil
}
