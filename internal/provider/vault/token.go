package vault

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"
)

// tokenInfo is what a lookup says of a token.
type tokenInfo struct {
	Accessor         string
	DisplayName      string
	Policies         []string
	IdentityPolicies []string
	Meta             map[string]string
	Created          time.Time
	CreationTTL      time.Duration
	Period           time.Duration
	Expire           time.Time // zero: never
	Orphan           bool
	Renewable        bool
	EntityID         string
	Path             string
	Type             string
}

// principal is the name a token's principal goes by: its display name
// without the "token-" auth/token/create puts before the name it is given.
func (t tokenInfo) principal() string { return strings.TrimPrefix(t.DisplayName, "token-") }

func parseToken(d map[string]any) tokenInfo {
	t := tokenInfo{
		Accessor: str(d["accessor"]), DisplayName: str(d["display_name"]), EntityID: str(d["entity_id"]),
		Path: str(d["path"]), Type: str(d["type"]),
		Policies: strs(d["policies"]), IdentityPolicies: strs(d["identity_policies"]),
		CreationTTL: time.Duration(num(d["creation_ttl"])) * time.Second,
		Period:      time.Duration(num(d["period"])) * time.Second,
		Meta:        map[string]string{},
	}
	t.Orphan, _ = d["orphan"].(bool)
	t.Renewable, _ = d["renewable"].(bool)
	if c := num(d["creation_time"]); c > 0 {
		t.Created = time.Unix(c, 0)
	}
	if e, err := time.Parse(time.RFC3339Nano, str(d["expire_time"])); err == nil {
		t.Expire = e
	}
	if m, ok := d["meta"].(map[string]any); ok {
		for k, v := range m {
			t.Meta[k] = str(v)
		}
	}
	return t
}

func str(v any) string { s, _ := v.(string); return s }

func strs(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, e := range l {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// num reads a number the client decoded (json.Number) or a test built.
func num(v any) int64 {
	switch v := v.(type) {
	case json.Number:
		n, _ := v.Int64()
		return n
	case float64:
		return int64(v)
	case int64:
		return v
	case int:
		return int64(v)
	}
	return 0
}

// Paths rekey calls, and the capability each needs, for messages naming
// what an administrator lacks.
const (
	pathLookup         = "auth/token/lookup"
	pathLookupAccessor = "auth/token/lookup-accessor"
	pathAccessors      = "auth/token/accessors"
	pathRevokeAccessor = "auth/token/revoke-accessor"
	pathCreateOrphan   = "auth/token/create-orphan"
	pathLookupSelf     = "auth/token/lookup-self"
)

// lookupAccessor looks a token up by its accessor; found is false when
// Vault knows no such accessor (never issued, revoked, expired).
func (p *Provider) lookupAccessor(ctx context.Context, op, accessor string) (t tokenInfo, found bool, err error) {
	s, err := p.c.Logical().WriteWithContext(ctx, pathLookupAccessor, map[string]any{"accessor": accessor})
	if says(err, "invalid accessor") {
		return tokenInfo{}, false, nil
	}
	if err != nil {
		return tokenInfo{}, false, p.fail(op, accessor, "update", pathLookupAccessor, err)
	}
	if s == nil || s.Data == nil {
		return tokenInfo{}, false, nil
	}
	return parseToken(s.Data), true, nil
}

// lookupToken looks a token up by its id, as the administrator: the token
// travels in the body and is not used to authenticate. found is false
// when Vault knows no such token ("bad token").
func (p *Provider) lookupToken(ctx context.Context, op string, token []byte) (t tokenInfo, found bool, err error) {
	s, err := p.c.Logical().WriteWithContext(ctx, pathLookup, map[string]any{"token": string(token)})
	if says(err, "bad token") {
		return tokenInfo{}, false, nil
	}
	if err != nil {
		return tokenInfo{}, false, p.fail(op, "", "update", pathLookup, err)
	}
	if s == nil || s.Data == nil {
		return tokenInfo{}, false, nil
	}
	return parseToken(s.Data), true, nil
}

// principalTokens lists the live tokens of a principal: Vault has no
// index by display name, so it lists every accessor (auth/token/accessors,
// which needs sudo) and looks each up.
func (p *Provider) principalTokens(ctx context.Context, op, name string) ([]tokenInfo, error) {
	s, err := p.c.Logical().ListWithContext(ctx, pathAccessors)
	if err != nil {
		return nil, p.fail(op, name, "list and sudo", pathAccessors, err)
	}
	var out []tokenInfo
	for _, a := range accessorKeys(s) {
		t, found, err := p.lookupAccessor(ctx, op, a)
		if err != nil {
			return nil, err
		}
		if found && t.principal() == name {
			out = append(out, t)
		}
	}
	return out, nil
}

func accessorKeys(s *api.Secret) []string {
	if s == nil || s.Data == nil {
		return nil
	}
	return strs(s.Data["keys"])
}
