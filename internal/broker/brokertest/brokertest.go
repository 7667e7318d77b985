// Package brokertest is a local workload identity issuer for tests: keys
// generated in the test, a JWKS and an OpenID discovery document served by
// httptest, and tokens minted with go-jose, so that the broker is tested
// with real signatures and no network.
package brokertest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Key is a signing key with its kid and algorithm.
type Key struct {
	KID  string
	Alg  jose.SignatureAlgorithm
	Priv any
	Pub  any
}

// RSAKey generates an RS256 key.
func RSAKey(t testing.TB, kid string) Key {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return Key{kid, jose.RS256, k, &k.PublicKey}
}

// ECKey generates an ES256 key.
func ECKey(t testing.TB, kid string) Key {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return Key{kid, jose.ES256, k, &k.PublicKey}
}

// JWKS is the public key set of keys, as an issuer publishes it.
func JWKS(keys ...Key) []byte {
	var set jose.JSONWebKeySet
	for _, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Pub, KeyID: k.KID, Algorithm: string(k.Alg), Use: "sig"})
	}
	b, _ := json.Marshal(set)
	return b
}

// Claims are valid registered claims: issued and valid from a minute ago,
// expiring in five.
func Claims(iss, sub string, aud ...string) jwt.Claims {
	now := time.Now()
	return jwt.Claims{
		Issuer: iss, Subject: sub, Audience: aud,
		IssuedAt: jwt.NewNumericDate(now.Add(-time.Minute)), NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
		Expiry: jwt.NewNumericDate(now.Add(5 * time.Minute)),
	}
}

// Mint signs c, with the extra claims merged in, by k.
func Mint(t testing.TB, k Key, c jwt.Claims, extra map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), k.KID)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.Alg, Key: k.Priv}, opts)
	if err != nil {
		t.Fatal(err)
	}
	b := jwt.Signed(s).Claims(c)
	if extra != nil {
		b = b.Claims(extra)
	}
	tok, err := b.Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Issuer is a local OIDC issuer: a discovery document at
// URL/.well-known/openid-configuration and its JWKS at URL/keys.
type Issuer struct {
	URL string
	// JWKSHits counts requests for the key set.
	JWKSHits atomic.Int64
	// Down makes the key set answer 503.
	Down atomic.Bool
	// DiscoveryIssuer, when set before the first token, is the issuer the
	// discovery document names instead of URL.
	DiscoveryIssuer string

	mu   sync.Mutex
	keys []Key
}

// NewIssuer starts an issuer publishing keys; it stops at the end of the
// test.
func NewIssuer(t testing.TB, keys ...Key) *Issuer {
	t.Helper()
	is := &Issuer{keys: keys}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		iss := is.DiscoveryIssuer
		if iss == "" {
			iss = is.URL
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": iss, "jwks_uri": is.URL + "/keys"})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		is.JWKSHits.Add(1)
		if is.Down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		is.mu.Lock()
		defer is.mu.Unlock()
		_, _ = w.Write(JWKS(is.keys...))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	is.URL = srv.URL
	return is
}

// SetKeys replaces the published keys (a rotation).
func (is *Issuer) SetKeys(keys ...Key) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.keys = keys
}

// Concurrently runs one at b.N times from clients goroutines and reports
// the rate (per second, as unit) and the latency of one call at p50 and
// p99: the broker's issuance benchmarks.
func Concurrently(b *testing.B, clients int, unit string, one func(client int) error) {
	b.Helper()
	var next atomic.Int64
	lat := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				if err := one(w); err != nil {
					b.Error(err)
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) > 0 {
		b.ReportMetric(float64(len(all))/elapsed.Seconds(), unit)
		b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	}
}
