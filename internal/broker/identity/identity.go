// Package identity proves what a workload is from the identity token its
// platform gave it, instead of from a string it holds: an OIDC JWT
// (Kubernetes projected service-account tokens, GitHub Actions and other CI
// OIDC tokens, cloud workload tokens) verified against its issuer's JWKS,
// or a SPIFFE JWT-SVID verified against its trust domain's bundle.
//
// A Verifier trusts several issuers at once and picks the one to check a
// token against by the token's iss claim (a SPIFFE JWT-SVID by the trust
// domain of its subject): a token is never tried against every key set,
// and an issuer nobody configured is refused. Every refusal is a *Refusal
// with a machine-readable Reason and a message that never holds the token.
package identity

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/secret"
)

// Leeway is how far exp, nbf and iat may be off this machine's clock.
// Tokens of workload platforms live minutes (GitHub Actions: 5 to 10,
// Kubernetes projected tokens: from 10), so the leeway stays small: it
// covers clock skew between hosts kept by NTP, not a broken clock.
const Leeway = 30 * time.Second

// MaxLeeway bounds Options.Leeway.
const MaxLeeway = 2 * time.Minute

// maxToken bounds a token's size: real ones are one or two kilobytes.
const maxToken = 16 << 10

// Algorithms are the signature algorithms a token may use: asymmetric
// ones only. HS256 and friends are refused because the "key" they are
// checked with would be public (the classic confusion attack), and
// "none" because it is no signature.
var Algorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512,
	jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512,
	jose.EdDSA,
}

// Issuer is one identity issuer the broker trusts. Exactly one of Issuer
// (OIDC) and TrustDomain (SPIFFE) is set.
type Issuer struct {
	// Name is the inventory's name for it, used in messages and decisions.
	Name string
	// Issuer is an OIDC issuer, the exact iss of its tokens.
	Issuer string
	// TrustDomain is a SPIFFE trust domain (prod.example.org).
	TrustDomain string
	// Audience must be one of a token's aud values.
	Audience string
	// JWKSFile is a JWKS (OIDC) or SPIFFE bundle file, for sites that
	// cannot reach the issuer; it is re-read when it changes.
	JWKSFile string
	// JWKSURL is the issuer's key set URL; when both it and JWKSFile are
	// empty it is read from the discovery document.
	JWKSURL string
	// DiscoveryURL is where the OIDC discovery document is; empty means
	// Issuer + "/.well-known/openid-configuration". The document's issuer
	// must be Issuer all the same.
	DiscoveryURL string
}

// Options tune a Verifier. The zero value is what the broker uses.
type Options struct {
	// HTTPClient fetches discovery documents and key sets; nil means a
	// client with a 10 s timeout.
	HTTPClient *http.Client
	// Leeway overrides Leeway, up to MaxLeeway.
	Leeway time.Duration
}

// Workload is what a verified token proves.
type Workload struct {
	// IssuerName is the inventory's name of the issuer that vouched for it.
	IssuerName string
	// Issuer is the token's iss, or spiffe://TRUST-DOMAIN for a JWT-SVID.
	Issuer string
	// Subject is the token's sub: a SPIFFE ID for a JWT-SVID.
	Subject string
	// Kind is "oidc" or "spiffe".
	Kind string
	// Claims are every claim of the token, as decoded from its JSON.
	Claims map[string]any
	Expiry time.Time
}

// TokenVerifier is what the broker's server needs of a Verifier.
type TokenVerifier interface {
	// Verify checks a workload token and returns what it proves, or an
	// error holding a *Refusal. It has no side effect beyond fetching and
	// caching the issuer's keys.
	Verify(ctx context.Context, token secret.Secret) (*Workload, error)
}

var _ TokenVerifier = (*Verifier)(nil)

// Verifier checks workload tokens against the issuers it was built with.
// It is safe for concurrent use.
type Verifier struct {
	byIssuer map[string]*issuer
	byDomain map[string]*issuer
	leeway   time.Duration
}

// New builds a Verifier. It does not reach any issuer: discovery and key
// sets are fetched at the first token, so a broker starts while an issuer
// is down, and a JWKS or bundle file is read then too.
func New(issuers []Issuer, opts Options) (*Verifier, error) {
	v := &Verifier{byIssuer: map[string]*issuer{}, byDomain: map[string]*issuer{}, leeway: Leeway}
	switch {
	case opts.Leeway < 0 || opts.Leeway > MaxLeeway:
		return nil, errs.New("identity", errs.Invalid, "", fmt.Sprintf("leeway %s is outside 0..%s", opts.Leeway, MaxLeeway))
	case opts.Leeway > 0:
		v.leeway = opts.Leeway
	}
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	for _, cfg := range issuers {
		is, err := newIssuer(cfg, client)
		if err != nil {
			return nil, errs.E("identity", errs.Invalid, "issuer "+cfg.Name, err)
		}
		if cfg.TrustDomain != "" {
			if _, dup := v.byDomain[is.id]; dup {
				return nil, errs.New("identity", errs.Invalid, "issuer "+cfg.Name, "trust domain "+cfg.TrustDomain+" is configured twice")
			}
			v.byDomain[is.id] = is
			continue
		}
		if _, dup := v.byIssuer[is.id]; dup {
			return nil, errs.New("identity", errs.Invalid, "issuer "+cfg.Name, "issuer "+cfg.Issuer+" is configured twice")
		}
		v.byIssuer[is.id] = is
	}
	return v, nil
}

// header is the part of a JWS header the verifier looks at before any key.
type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

// Verify checks token: its form and algorithm, then (with the one issuer
// its iss names) its signature, then its claims: exp, nbf, iat within the
// leeway, aud naming the issuer's audience, a subject.
func (v *Verifier) Verify(ctx context.Context, token secret.Secret) (*Workload, error) {
	raw := string(token.Reveal())
	h, unverified, r := parseCompact(raw)
	if r != nil {
		return nil, r
	}
	is, r := v.route(unverified)
	if r != nil {
		return nil, r
	}
	payload, err := is.verifySignature(ctx, raw)
	if err != nil {
		if r, ok := err.(*Refusal); ok {
			return nil, r
		}
		return nil, &Refusal{Reason: BadSignature, Issuer: is.name,
			Msg: fmt.Sprintf("no key of the issuer verifies the signature (kid %s)", quote(h.Kid)), Err: err}
	}
	w, r := v.checkClaims(is, payload)
	if r != nil {
		return nil, r
	}
	if is.kind == "spiffe" {
		// go-spiffe has the last word on a JWT-SVID (its typ header rules,
		// the SPIFFE ID's form); the checks above are as strict or
		// stricter on everything else, so a refusal here is a malformed
		// SVID.
		if _, err := jwtsvid.ParseAndValidate(raw, is.spiffe, []string{is.audience}); err != nil {
			return nil, &Refusal{Reason: Malformed, Issuer: is.name, Msg: "not a valid JWT-SVID: " + err.Error(), Err: err}
		}
	}
	return w, nil
}

// parseCompact splits a JWS in compact form and reads its header and its
// claims without verifying anything: the header to refuse a bad algorithm
// before any key is looked at, the claims to choose the issuer.
func parseCompact(raw string) (header, map[string]any, *Refusal) {
	if len(raw) == 0 {
		return header{}, nil, refuse(Malformed, "", "no token")
	}
	if len(raw) > maxToken {
		return header{}, nil, refuse(Malformed, "", "token is longer than %d bytes", maxToken)
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return header{}, nil, refuse(Malformed, "", "not a signed JWT in compact form (%d parts, want 3)", len(parts))
	}
	var h header
	if err := decodeSegment(parts[0], &h); err != nil {
		return header{}, nil, refuse(Malformed, "", "header: %v", err)
	}
	switch {
	case strings.EqualFold(h.Alg, "none"):
		return header{}, nil, refuse(AlgNone, "", "the token is not signed (alg none)")
	case h.Alg == "":
		return header{}, nil, refuse(Malformed, "", "header has no alg")
	case !slices.Contains(Algorithms, jose.SignatureAlgorithm(h.Alg)):
		why := "not in the allow-list of asymmetric algorithms"
		if strings.HasPrefix(strings.ToUpper(h.Alg), "HS") {
			why = "a shared-secret algorithm: its key would be public"
		}
		return header{}, nil, refuse(AlgNotAllowed, "", "alg %s is %s", quote(h.Alg), why)
	}
	var claims map[string]any
	if err := decodeSegment(parts[1], &claims); err != nil {
		return header{}, nil, refuse(Malformed, "", "claims: %v", err)
	}
	if parts[2] == "" {
		return header{}, nil, refuse(Malformed, "", "empty signature")
	}
	return h, claims, nil
}

func decodeSegment(seg string, into any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return fmt.Errorf("not base64url")
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(into); err != nil {
		return fmt.Errorf("not a JSON object")
	}
	return nil
}

// route picks the one issuer a token claims to come from.
func (v *Verifier) route(claims map[string]any) (*issuer, *Refusal) {
	iss, _ := claims["iss"].(string)
	if is := v.byIssuer[iss]; is != nil && iss != "" {
		return is, nil
	}
	sub, _ := claims["sub"].(string)
	if strings.HasPrefix(sub, "spiffe://") {
		id, err := spiffeid.FromString(sub)
		if err != nil {
			return nil, refuse(Malformed, "", "sub is not a valid SPIFFE ID: %v", err)
		}
		if is := v.byDomain[id.TrustDomain().Name()]; is != nil {
			return is, nil
		}
		return nil, refuse(UnknownIssuer, "", "SPIFFE trust domain %s is not trusted", quote(id.TrustDomain().Name()))
	}
	if iss == "" {
		return nil, refuse(UnknownIssuer, "", "the token names no issuer (iss) and no SPIFFE ID")
	}
	return nil, refuse(UnknownIssuer, "", "issuer %s is not trusted", quote(iss))
}

// checkClaims validates the verified claims and builds the Workload.
func (v *Verifier) checkClaims(is *issuer, payload []byte) (*Workload, *Refusal) {
	var all map[string]any
	d := json.NewDecoder(bytes.NewReader(payload))
	d.UseNumber()
	if err := d.Decode(&all); err != nil {
		return nil, refuse(Malformed, is.name, "claims are not a JSON object")
	}
	var c jwt.Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, refuse(Malformed, is.name, "a registered claim has the wrong type: %v", err)
	}
	now := time.Now()
	switch {
	case c.Expiry == nil:
		return nil, refuse(Malformed, is.name, "the token has no exp: only expiring tokens are accepted")
	case now.After(c.Expiry.Time().Add(v.leeway)):
		return nil, refuse(Expired, is.name, "expired at %s", c.Expiry.Time().UTC().Format(time.RFC3339))
	case c.NotBefore != nil && now.Add(v.leeway).Before(c.NotBefore.Time()):
		return nil, refuse(NotYetValid, is.name, "not valid before %s", c.NotBefore.Time().UTC().Format(time.RFC3339))
	case c.IssuedAt != nil && now.Add(v.leeway).Before(c.IssuedAt.Time()):
		return nil, refuse(NotYetValid, is.name, "issued in the future (%s)", c.IssuedAt.Time().UTC().Format(time.RFC3339))
	case !slices.Contains([]string(c.Audience), is.audience):
		return nil, refuse(WrongAudience, is.name, "audience %s does not include %s", quote(strings.Join(c.Audience, ",")), quote(is.audience))
	case c.Subject == "":
		return nil, refuse(Malformed, is.name, "the token has no sub")
	case is.kind == "oidc" && c.Issuer != is.id:
		// Cannot happen for a token routed by its iss; kept so that the
		// signed claims, not the routing, are what is trusted.
		return nil, refuse(UnknownIssuer, is.name, "issuer %s is not %s", quote(c.Issuer), quote(is.id))
	}
	w := &Workload{IssuerName: is.name, Issuer: c.Issuer, Subject: c.Subject, Kind: is.kind, Claims: all, Expiry: c.Expiry.Time().UTC()}
	if is.kind == "spiffe" {
		id, err := spiffeid.FromString(c.Subject)
		if err != nil || id.TrustDomain().Name() != is.id {
			return nil, refuse(Malformed, is.name, "sub is not a SPIFFE ID of trust domain %s", is.id)
		}
		w.Issuer = "spiffe://" + is.id
	}
	return w, nil
}

// keySet is the go-oidc key set contract: verify a compact JWS and return
// its payload.
type keySet = oidc.KeySet
