package identity

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/rekeyhq/rekey/internal/broker/brokertest"
	"github.com/rekeyhq/rekey/internal/secret"
)

func writeFile(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func verify(t testing.TB, v *Verifier, tok string) (*Workload, error) {
	t.Helper()
	return v.Verify(context.Background(), secret.FromString(tok))
}

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestVerify(t *testing.T) {
	rsaK, ecK := brokertest.RSAKey(t, "rsa-1"), brokertest.ECKey(t, "ec-1")
	stranger := brokertest.RSAKey(t, "rsa-1") // same kid, key not in the JWKS
	li := brokertest.NewIssuer(t, rsaK, ecK)
	iss := li.URL

	// An air-gapped issuer: its JWKS is a file.
	fileK := brokertest.ECKey(t, "file-1")
	const fileIss = "https://token.actions.githubusercontent.com"
	jwksPath := writeFile(t, "gha.jwks", brokertest.JWKS(fileK))

	// A SPIFFE trust domain and a stranger one.
	svidK, otherTD := brokertest.ECKey(t, "svid-1"), brokertest.ECKey(t, "svid-1")
	bundle := writeFile(t, "bundle.jwks", brokertest.JWKS(svidK))

	v, err := New([]Issuer{
		{Name: "k8s", Issuer: iss, Audience: "rekey"},
		{Name: "ci", Issuer: fileIss, Audience: "rekey", JWKSFile: jwksPath},
		{Name: "mesh", TrustDomain: "prod.example.org", Audience: "rekey", JWKSFile: bundle},
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}

	now := time.Now()
	expired := brokertest.Claims(iss, "system:serviceaccount:orders:api", "rekey")
	expired.Expiry = jwt.NewNumericDate(now.Add(-2 * time.Minute))
	expired.IssuedAt, expired.NotBefore = jwt.NewNumericDate(now.Add(-10*time.Minute)), jwt.NewNumericDate(now.Add(-10*time.Minute))
	early := brokertest.Claims(iss, "system:serviceaccount:orders:api", "rekey")
	early.NotBefore = jwt.NewNumericDate(now.Add(3 * time.Minute))
	withinLeeway := brokertest.Claims(iss, "system:serviceaccount:orders:api", "rekey")
	withinLeeway.Expiry = jwt.NewNumericDate(now.Add(-Leeway / 3))
	pastLeeway := brokertest.Claims(iss, "system:serviceaccount:orders:api", "rekey")
	pastLeeway.Expiry = jwt.NewNumericDate(now.Add(-Leeway - 5*time.Second))
	noExp := brokertest.Claims(iss, "system:serviceaccount:orders:api", "rekey")
	noExp.Expiry = nil

	good := brokertest.Mint(t, rsaK, brokertest.Claims(iss, "system:serviceaccount:orders:api", "rekey"), map[string]any{"kubernetes.io": map[string]any{"namespace": "orders"}})
	parts := strings.Split(good, ".")
	var payload map[string]any
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	_ = json.Unmarshal(b, &payload)
	payload["sub"] = "system:serviceaccount:kube-system:admin"
	tampered := parts[0] + "." + b64(payload) + "." + parts[2]

	algNone := b64(map[string]string{"alg": "none", "typ": "JWT"}) + "." + parts[1] + "."
	// HS256 keyed with the issuer's public key: the confusion attack that
	// works on verifiers that take the algorithm from the token.
	der, _ := x509.MarshalPKIXPublicKey(rsaK.Pub)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	hsInput := b64(map[string]string{"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}) + "." + parts[1]
	mac := hmac.New(sha256.New, pubPEM)
	mac.Write([]byte(hsInput))
	hs256 := hsInput + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))

	cases := []struct {
		name    string
		tok     string
		reason  Reason
		issuer  string // IssuerName on success
		subject string
	}{
		{"valid rsa", good, "", "k8s", "system:serviceaccount:orders:api"},
		{"valid ec", brokertest.Mint(t, ecK, brokertest.Claims(iss, "repo:shop/orders:ref:refs/heads/main", "other", "rekey"), nil), "", "k8s", "repo:shop/orders:ref:refs/heads/main"},
		{"valid from jwks file", brokertest.Mint(t, fileK, brokertest.Claims(fileIss, "repo:shop/orders:ref:refs/heads/main", "rekey"), nil), "", "ci", "repo:shop/orders:ref:refs/heads/main"},
		{"expired within leeway", brokertest.Mint(t, rsaK, withinLeeway, nil), "", "k8s", "system:serviceaccount:orders:api"},
		{"expired just past the leeway", brokertest.Mint(t, rsaK, pastLeeway, nil), Expired, "", ""},
		{"wrong audience", brokertest.Mint(t, rsaK, brokertest.Claims(iss, "x", "vault"), nil), WrongAudience, "", ""},
		{"expired", brokertest.Mint(t, rsaK, expired, nil), Expired, "", ""},
		{"not yet valid", brokertest.Mint(t, rsaK, early, nil), NotYetValid, "", ""},
		{"no exp", brokertest.Mint(t, rsaK, noExp, nil), Malformed, "", ""},
		{"alg none", algNone, AlgNone, "", ""},
		{"hs256 with the public key", hs256, AlgNotAllowed, "", ""},
		{"unknown issuer", brokertest.Mint(t, rsaK, brokertest.Claims("https://evil.example.com", "x", "rekey"), nil), UnknownIssuer, "", ""},
		{"no issuer", brokertest.Mint(t, rsaK, brokertest.Claims("", "x", "rekey"), nil), UnknownIssuer, "", ""},
		{"key not in jwks", brokertest.Mint(t, stranger, brokertest.Claims(iss, "x", "rekey"), nil), BadSignature, "", ""},
		{"file issuer, key of another issuer", brokertest.Mint(t, rsaK, brokertest.Claims(fileIss, "x", "rekey"), nil), BadSignature, "", ""},
		{"tampered payload", tampered, BadSignature, "", ""},
		{"not a jwt", "hello", Malformed, "", ""},
		{"jwe-shaped", "a.b.c.d.e", Malformed, "", ""},
		{"svid", brokertest.Mint(t, svidK, brokertest.Claims("", "spiffe://prod.example.org/ns/orders/sa/api", "rekey"), nil), "", "mesh", "spiffe://prod.example.org/ns/orders/sa/api"},
		{"svid from another trust domain", brokertest.Mint(t, otherTD, brokertest.Claims("", "spiffe://staging.example.org/ns/orders/sa/api", "rekey"), nil), UnknownIssuer, "", ""},
		{"svid signed by another domain's key", brokertest.Mint(t, otherTD, brokertest.Claims("", "spiffe://prod.example.org/ns/orders/sa/api", "rekey"), nil), BadSignature, "", ""},
		{"svid wrong audience", brokertest.Mint(t, svidK, brokertest.Claims("", "spiffe://prod.example.org/ns/orders/sa/api", "vault"), nil), WrongAudience, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, err := verify(t, v, c.tok)
			if c.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if w.IssuerName != c.issuer || w.Subject != c.subject {
					t.Fatalf("got issuer %q subject %q, want %q %q", w.IssuerName, w.Subject, c.issuer, c.subject)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted (subject %q), want refusal %s", w.Subject, c.reason)
			}
			if got := ReasonOf(err); got != c.reason {
				t.Fatalf("reason %q, want %q (%v)", got, c.reason, err)
			}
			// The token, or its signature, never appears in the message.
			msg := err.Error()
			sig := c.tok[strings.LastIndex(c.tok, ".")+1:]
			if strings.Contains(msg, c.tok) || len(sig) > 8 && strings.Contains(msg, sig) {
				t.Fatalf("message echoes the token: %s", msg)
			}
		})
	}

	w, err := verify(t, v, good)
	if err != nil {
		t.Fatal(err)
	}
	if ns := w.Claims["kubernetes.io"].(map[string]any)["namespace"]; ns != "orders" || w.Kind != "oidc" || w.Issuer != iss {
		t.Fatalf("claims not carried: %+v", w)
	}
	var svid string
	for _, c := range cases {
		if c.name == "svid" {
			svid = c.tok
		}
	}
	w, err = verify(t, v, svid)
	if err != nil || w.Issuer != "spiffe://prod.example.org" || w.Kind != "spiffe" {
		t.Fatalf("svid workload: %+v, %v", w, err)
	}
}

// A key set is fetched for one issuer only: a token naming issuer A is
// never checked against issuer B's keys.
func TestRoutesByIssuerOnly(t *testing.T) {
	ka, kb := brokertest.RSAKey(t, "a"), brokertest.RSAKey(t, "b")
	a, b := brokertest.NewIssuer(t, ka), brokertest.NewIssuer(t, kb)
	v, err := New([]Issuer{{Name: "a", Issuer: a.URL, Audience: "rekey"}, {Name: "b", Issuer: b.URL, Audience: "rekey"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Signed by b's key but claiming to be from a.
	_, err = verify(t, v, brokertest.Mint(t, kb, brokertest.Claims(a.URL, "x", "rekey"), nil))
	if ReasonOf(err) != BadSignature {
		t.Fatalf("want bad-signature, got %v", err)
	}
	if b.JWKSHits.Load() != 0 {
		t.Fatalf("issuer b's keys were fetched %d times for a token of issuer a", b.JWKSHits.Load())
	}
	if _, err := verify(t, v, brokertest.Mint(t, kb, brokertest.Claims(b.URL, "x", "rekey"), nil)); err != nil {
		t.Fatal(err)
	}
}

// An issuer that rotates its signing key (a new kid in its JWKS) is
// picked up at the first token signed with the new key, without a restart.
func TestRemoteKeyRotation(t *testing.T) {
	old, next := brokertest.RSAKey(t, "2026-01"), brokertest.ECKey(t, "2026-02")
	li := brokertest.NewIssuer(t, old)
	v, err := New([]Issuer{{Name: "k8s", Issuer: li.URL, Audience: "rekey"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify(t, v, brokertest.Mint(t, old, brokertest.Claims(li.URL, "x", "rekey"), nil)); err != nil {
		t.Fatal(err)
	}
	hits := li.JWKSHits.Load()
	if _, err := verify(t, v, brokertest.Mint(t, old, brokertest.Claims(li.URL, "x", "rekey"), nil)); err != nil {
		t.Fatal(err)
	}
	if li.JWKSHits.Load() != hits {
		t.Fatal("the key set was fetched again for a known kid: it is not cached")
	}
	// Before the rotation, the new key is unknown.
	if _, err := verify(t, v, brokertest.Mint(t, next, brokertest.Claims(li.URL, "x", "rekey"), nil)); ReasonOf(err) != BadSignature {
		t.Fatalf("a key the issuer does not publish: want bad-signature, got %v", err)
	}
	li.SetKeys(old, next)
	if _, err := verify(t, v, brokertest.Mint(t, next, brokertest.Claims(li.URL, "x", "rekey"), nil)); err != nil {
		t.Fatalf("rotated key not picked up: %v", err)
	}
	li.SetKeys(next)
	if _, err := verify(t, v, brokertest.Mint(t, next, brokertest.Claims(li.URL, "x", "rekey"), nil)); err != nil {
		t.Fatal(err)
	}
}

// A JWKS file replaced on disk is re-read; a file that stops parsing
// keeps the keys read before.
func TestJWKSFileRotation(t *testing.T) {
	k1, k2 := brokertest.ECKey(t, "one"), brokertest.ECKey(t, "two")
	const iss = "https://issuer.example.com"
	p := writeFile(t, "keys.jwks", brokertest.JWKS(k1))
	v, err := New([]Issuer{{Name: "air", Issuer: iss, Audience: "rekey", JWKSFile: p}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify(t, v, brokertest.Mint(t, k1, brokertest.Claims(iss, "x", "rekey"), nil)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, brokertest.JWKS(k2), 0o600); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(2 * time.Second) // a new mtime even on coarse clocks
	_ = os.Chtimes(p, future, future)
	if _, err := verify(t, v, brokertest.Mint(t, k2, brokertest.Claims(iss, "x", "rekey"), nil)); err != nil {
		t.Fatalf("replaced JWKS file not re-read: %v", err)
	}
	if _, err := verify(t, v, brokertest.Mint(t, k1, brokertest.Claims(iss, "x", "rekey"), nil)); ReasonOf(err) != BadSignature {
		t.Fatalf("removed key still accepted: %v", err)
	}
	_ = os.WriteFile(p, []byte("{not json"), 0o600)
	future = future.Add(2 * time.Second)
	_ = os.Chtimes(p, future, future)
	if _, err := verify(t, v, brokertest.Mint(t, k2, brokertest.Claims(iss, "x", "rekey"), nil)); err != nil {
		t.Fatalf("a broken file dropped the keys read before: %v", err)
	}
}

func TestIssuerUnavailable(t *testing.T) {
	k := brokertest.RSAKey(t, "k")
	li := brokertest.NewIssuer(t, k)
	li.Down.Store(true)
	v, err := New([]Issuer{{Name: "k8s", Issuer: li.URL, Audience: "rekey"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify(t, v, brokertest.Mint(t, k, brokertest.Claims(li.URL, "x", "rekey"), nil)); ReasonOf(err) != Unavailable {
		t.Fatalf("key set down: want %s, got %v", Unavailable, err)
	}
	li.Down.Store(false)
	if _, err := verify(t, v, brokertest.Mint(t, k, brokertest.Claims(li.URL, "x", "rekey"), nil)); err != nil {
		t.Fatalf("issuer back: %v", err)
	}

	// A discovery document that names another issuer is not trusted.
	li2 := brokertest.NewIssuer(t, k)
	li2.DiscoveryIssuer = "https://evil.example.com"
	v, _ = New([]Issuer{{Name: "k8s", Issuer: li2.URL, Audience: "rekey"}}, Options{})
	_, err = verify(t, v, brokertest.Mint(t, k, brokertest.Claims(li2.URL, "x", "rekey"), nil))
	if ReasonOf(err) != Unavailable || !strings.Contains(err.Error(), "names issuer") {
		t.Fatalf("discovery naming another issuer: %v", err)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	bad := []Issuer{
		{Name: "x", Issuer: "https://a.example.com"}, // no audience
		{Name: "x", Issuer: "http://a.example.com", Audience: "rekey"},
		{Name: "x", Issuer: "https://a.example.com", TrustDomain: "td", Audience: "rekey"},
		{Name: "x", TrustDomain: "prod.example.org", Audience: "rekey"},
		{Name: "x", Audience: "rekey"},
	}
	for _, c := range bad {
		if _, err := New([]Issuer{c}, Options{}); err == nil {
			t.Errorf("accepted %+v", c)
		}
	}
	two := []Issuer{{Name: "a", Issuer: "https://a.example.com", Audience: "r"}, {Name: "b", Issuer: "https://a.example.com", Audience: "r"}}
	if _, err := New(two, Options{}); err == nil {
		t.Error("accepted one issuer configured twice")
	}
	if _, err := New(nil, Options{Leeway: time.Hour}); err == nil {
		t.Error("accepted a leeway of an hour")
	}
}

// FuzzVerify feeds arbitrary tokens: the verifier never panics, refuses
// with a reason, and never quotes what it was given.
func FuzzVerify(f *testing.F) {
	k := brokertest.ECKey(f, "k")
	const iss = "https://issuer.example.com"
	p := writeFile(f, "keys.jwks", brokertest.JWKS(k))
	v, err := New([]Issuer{{Name: "air", Issuer: iss, Audience: "rekey", JWKSFile: p}}, Options{})
	if err != nil {
		f.Fatal(err)
	}
	good := brokertest.Mint(f, k, brokertest.Claims(iss, "x", "rekey"), nil)
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add(strings.Replace(good, ".", "..", 1))
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		w, err := verify(t, v, tok)
		if err == nil {
			if w.Subject == "" || w.IssuerName != "air" {
				t.Fatalf("accepted without a subject or issuer: %+v", w)
			}
			return
		}
		if ReasonOf(err) == "" {
			t.Fatalf("refusal without a reason: %v", err)
		}
		if len(tok) >= 24 && strings.Contains(err.Error(), tok) {
			t.Fatalf("message quotes the token: %v", err)
		}
	})
}

// A Kubernetes API server is reached at an address while its tokens name
// the in-cluster issuer: discovery at another URL, whose document must
// still name the configured issuer; or the key set's URL given directly.
func TestDiscoveryURLAndJWKSURL(t *testing.T) {
	const k8s = "https://kubernetes.default.svc.cluster.local"
	k := brokertest.RSAKey(t, "sa")
	li := brokertest.NewIssuer(t, k)
	li.DiscoveryIssuer = k8s
	tok := brokertest.Mint(t, k, brokertest.Claims(k8s, "system:serviceaccount:orders:api", "rekey"), nil)
	for name, cfg := range map[string]Issuer{
		"discovery": {Name: "k8s", Issuer: k8s, Audience: "rekey", DiscoveryURL: li.URL + "/.well-known/openid-configuration"},
		"jwks url":  {Name: "k8s", Issuer: k8s, Audience: "rekey", JWKSURL: li.URL + "/keys"},
	} {
		v, err := New([]Issuer{cfg}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if w, err := verify(t, v, tok); err != nil || w.Subject != "system:serviceaccount:orders:api" {
			t.Errorf("%s: %+v %v", name, w, err)
		}
	}
	v, _ := New([]Issuer{{Name: "k8s", Issuer: "https://other.example.com", Audience: "rekey", DiscoveryURL: li.URL + "/.well-known/openid-configuration"}}, Options{})
	other := brokertest.Mint(t, k, brokertest.Claims("https://other.example.com", "x", "rekey"), nil)
	if _, err := verify(t, v, other); ReasonOf(err) != Unavailable {
		t.Errorf("a discovery document naming another issuer was trusted: %v", err)
	}
}
