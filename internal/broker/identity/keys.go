package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// issuer is one configured issuer and where its keys come from.
type issuer struct {
	name     string
	kind     string // "oidc" or "spiffe"
	id       string // the iss, or the trust domain
	audience string
	client   *http.Client
	cfg      Issuer

	// OIDC keys: a file, or a remote key set found by discovery (set once
	// it succeeded; a failed discovery is tried again at the next token).
	file   *fileKeys
	mu     sync.Mutex
	remote keySet

	// spiffe is the bundle source handed to go-spiffe.
	spiffe *bundleSource
}

func newIssuer(cfg Issuer, client *http.Client) (*issuer, error) {
	is := &issuer{name: cfg.Name, audience: cfg.Audience, client: client, cfg: cfg}
	if cfg.Audience == "" {
		return nil, errors.New("no audience: a token minted for another service would be accepted")
	}
	switch {
	case cfg.Issuer != "" && cfg.TrustDomain != "":
		return nil, errors.New("both an OIDC issuer and a SPIFFE trust domain")
	case cfg.TrustDomain != "":
		td, err := spiffeid.TrustDomainFromString(cfg.TrustDomain)
		if err != nil {
			return nil, fmt.Errorf("trust domain: %v", err)
		}
		if cfg.JWKSFile == "" {
			return nil, errors.New("a SPIFFE trust domain needs its bundle file")
		}
		is.kind, is.id = "spiffe", td.Name()
		is.spiffe = &bundleSource{td: td, file: newFileKeys(cfg.JWKSFile, func(b []byte) (any, error) { return jwtbundle.Parse(td, b) })}
		return is, nil
	case cfg.Issuer == "":
		return nil, errors.New("neither an OIDC issuer nor a SPIFFE trust domain")
	}
	is.kind, is.id = "oidc", cfg.Issuer
	for _, u := range []string{cfg.Issuer, cfg.JWKSURL, cfg.DiscoveryURL} {
		if u != "" {
			if err := CheckURL(u); err != nil {
				return nil, err
			}
		}
	}
	switch {
	case cfg.JWKSFile != "":
		is.file = newFileKeys(cfg.JWKSFile, parseJWKS)
	case cfg.JWKSURL != "":
		is.remote = oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), client), cfg.JWKSURL)
	}
	return is, nil
}

// CheckURL accepts the URLs the broker fetches keys from: https, or http
// to this machine only (a local issuer in tests and development).
func CheckURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "":
		return fmt.Errorf("%s is not an absolute URL", quote(s))
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	}
	return fmt.Errorf("%s: keys are fetched over https only (http is allowed to this machine alone)", quote(s))
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// verifySignature returns the payload once a key of this issuer verifies
// the token. Errors that are not the token's fault are Unavailable
// refusals; any other error means no key verified it.
func (is *issuer) verifySignature(ctx context.Context, raw string) ([]byte, error) {
	switch {
	case is.spiffe != nil:
		b, err := is.spiffe.bundle()
		if err != nil {
			return nil, &Refusal{Reason: Unavailable, Issuer: is.name, Msg: "bundle: " + err.Error(), Err: err}
		}
		return verifyWith(raw, func(kid string) []any {
			if k, ok := b.FindJWTAuthority(kid); ok && kid != "" {
				return []any{k}
			}
			return nil
		})
	case is.file != nil:
		v, err := is.file.get()
		if err != nil {
			return nil, &Refusal{Reason: Unavailable, Issuer: is.name, Msg: "key set: " + err.Error(), Err: err}
		}
		set := v.(*jose.JSONWebKeySet)
		return verifyWith(raw, func(kid string) []any {
			var out []any
			for i := range set.Keys {
				if kid == "" || set.Keys[i].KeyID == kid {
					out = append(out, &set.Keys[i])
				}
			}
			return out
		})
	}
	ks, err := is.remoteKeys(ctx)
	if err != nil {
		return nil, &Refusal{Reason: Unavailable, Issuer: is.name, Msg: err.Error(), Err: err}
	}
	payload, err := ks.VerifySignature(ctx, raw)
	// go-oidc says "fetching keys …" when the key set could not be fetched
	// (its only error that is not about the token); the test of an
	// unreachable key set holds this to its word.
	if err != nil && strings.HasPrefix(err.Error(), "fetching keys") {
		return nil, &Refusal{Reason: Unavailable, Issuer: is.name, Msg: "key set: " + err.Error(), Err: err}
	}
	return payload, err
}

// verifyWith verifies raw with the keys for its kid.
func verifyWith(raw string, keysFor func(kid string) []any) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(raw, Algorithms)
	if err != nil {
		return nil, err
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("want exactly one signature")
	}
	keys := keysFor(jws.Signatures[0].Header.KeyID)
	if len(keys) == 0 {
		return nil, errors.New("no key with this kid")
	}
	for _, k := range keys {
		if payload, err := jws.Verify(k); err == nil {
			return payload, nil
		}
	}
	return nil, errors.New("signature does not verify")
}

// remoteKeys returns the go-oidc remote key set, running discovery first
// when the inventory gave no JWKS URL. go-oidc's key set refetches the
// JWKS when a token names a kid it has not seen, which is how an issuer's
// key rotation is picked up.
func (is *issuer) remoteKeys(ctx context.Context) (keySet, error) {
	is.mu.Lock()
	defer is.mu.Unlock()
	if is.remote != nil {
		return is.remote, nil
	}
	jwksURL, err := is.discover(ctx)
	if err != nil {
		return nil, err
	}
	is.remote = oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), is.client), jwksURL)
	return is.remote, nil
}

// discover reads the issuer's OpenID discovery document for its jwks_uri.
// The document must name the configured issuer (OpenID Connect Discovery
// 1.0, section 4.3), so a redirect or a wrong URL cannot swap issuers.
func (is *issuer) discover(ctx context.Context) (string, error) {
	u := is.cfg.DiscoveryURL
	if u == "" {
		u = strings.TrimSuffix(is.cfg.Issuer, "/") + "/.well-known/openid-configuration"
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("discovery: %v", err)
	}
	resp, err := is.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("discovery: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("discovery: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("discovery: %s answered %s", u, resp.Status)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("discovery: %s is not a discovery document", u)
	}
	if doc.Issuer != is.cfg.Issuer {
		return "", fmt.Errorf("discovery: %s names issuer %s, want %s", u, quote(doc.Issuer), quote(is.cfg.Issuer))
	}
	if doc.JWKSURI == "" {
		return "", fmt.Errorf("discovery: %s has no jwks_uri", u)
	}
	if err := CheckURL(doc.JWKSURI); err != nil {
		return "", fmt.Errorf("discovery: jwks_uri: %v", err)
	}
	return doc.JWKSURI, nil
}

// parseJWKS reads a JWKS file: public keys only.
func parseJWKS(b []byte) (any, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("not a JWKS: %v", err)
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("the JWKS holds no key")
	}
	for _, k := range set.Keys {
		if !k.IsPublic() {
			return nil, fmt.Errorf("key %s is not a public key: a JWKS file holds public keys only", quote(k.KeyID))
		}
	}
	return &set, nil
}

// fileKeys is a key file re-read when its size or modification time
// changes, so that an air-gapped site rotates keys by replacing the file.
// A file that no longer parses keeps the keys read before and reports
// the error; with nothing read before, it is the error.
type fileKeys struct {
	path  string
	parse func([]byte) (any, error)

	mu    sync.Mutex
	mtime time.Time
	size  int64
	val   any
}

func newFileKeys(path string, parse func([]byte) (any, error)) *fileKeys {
	return &fileKeys{path: path, parse: parse}
}

func (f *fileKeys) get() (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fi, err := os.Stat(f.path)
	if err != nil {
		if f.val != nil {
			return f.val, nil
		}
		return nil, err
	}
	if f.val != nil && fi.ModTime().Equal(f.mtime) && fi.Size() == f.size {
		return f.val, nil
	}
	b, err := os.ReadFile(f.path)
	if err == nil && len(b) > 1<<20 {
		err = errors.New("larger than 1 MiB")
	}
	var v any
	if err == nil {
		v, err = f.parse(b)
	}
	if err != nil {
		if f.val != nil {
			return f.val, nil
		}
		return nil, fmt.Errorf("%s: %v", f.path, err)
	}
	f.val, f.mtime, f.size = v, fi.ModTime(), fi.Size()
	return v, nil
}

// bundleSource is a SPIFFE trust domain's JWT bundle from a file, as the
// jwtbundle.Source go-spiffe validates a JWT-SVID with.
type bundleSource struct {
	td   spiffeid.TrustDomain
	file *fileKeys
}

func (s *bundleSource) bundle() (*jwtbundle.Bundle, error) {
	v, err := s.file.get()
	if err != nil {
		return nil, err
	}
	return v.(*jwtbundle.Bundle), nil
}

// GetJWTBundleForTrustDomain implements jwtbundle.Source.
func (s *bundleSource) GetJWTBundleForTrustDomain(td spiffeid.TrustDomain) (*jwtbundle.Bundle, error) {
	if td != s.td {
		return nil, fmt.Errorf("no bundle for trust domain %s", td)
	}
	return s.bundle()
}

var _ jwtbundle.Source = (*bundleSource)(nil)
