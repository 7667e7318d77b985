package certs

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/keys/keytest"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/certs/catest"
)

// pki is a running CA (openssl ca + openssl ocsp) that issued a server
// certificate for a key that leaks, and the provider over it.
type pki struct {
	ca                  *catest.CA
	leakedKey, leafPath string
	leaf                *x509.Certificate
	certs               *Certs
	auth                *Authority
}

func newPKI(t *testing.T, env map[string]string, edit func(*inventory.CAIndex)) *pki {
	t.Helper()
	dir := t.TempDir()
	p := &pki{ca: catest.Start(t, dir, "Shop Internal CA")}
	p.leakedKey = keytest.GenKey(t, dir, "leaked.key", keytest.RSAPKCS8)
	p.leafPath = p.ca.Issue(t, p.leakedKey, "shop.example.org", []string{"shop.example.org", "www.shop.example.org"}, "server", filepath.Join(dir, "shop.pem"))
	p.leaf = readCert(t, p.leafPath)
	places := p.ca.Places()
	if edit != nil {
		edit(places.CA)
	}
	c, err := open(provider.Config{System: "web-tls", Spec: &inventory.System{Name: "web-tls", Type: Type, X509: places},
		Getenv: func(k string) string { return env[k] }})
	keytest.Must(t, err)
	p.certs = c
	p.auth, err = c.Authority()
	keytest.Must(t, err)
	p.auth.ocspWait = 5e9
	return p
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	keytest.Must(t, err)
	certs, msg := parseCerts(b)
	if msg != "" || len(certs) == 0 {
		t.Fatalf("%s: %s", path, msg)
	}
	return certs[0]
}

// opensslSays asks the responder with the openssl client, out of band.
func opensslSays(t *testing.T, ca *catest.CA, serial string) string {
	t.Helper()
	return ca.OCSPSays(t, serial)
}

// Revoking at the CA: the index row becomes R, the CRL (signed by the CA)
// lists the serial with keyCompromise, and the OCSP responder says
// revoked, which openssl's own client confirms. Twice is fine.
func TestRevokeAtTheCA(t *testing.T) {
	p := newPKI(t, nil, nil)
	ctx := context.Background()
	serial := serialHex(p.leaf)
	var err error
	keytest.Must(t, p.auth.GenCRL(ctx))
	// The fixture issued the leaf behind the responder's back.
	keytest.Must(t, p.auth.ReloadResponder(ctx))
	var before Status
	for i := 0; i < 100 && before.OCSP != "good"; i++ {
		before, err = p.auth.Status(ctx, serial) // the responder may be restarting
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || before.InCRL || before.OCSP != "good" {
		t.Fatalf("before revoking: %+v, want good and not in the CRL", before)
	}
	if got := opensslSays(t, p.ca, serial); got != "good" {
		t.Fatalf("openssl ocsp before revoking: %s", got)
	}

	res, err := p.auth.Revoke(ctx, RevokeRequest{Serial: serial})
	keytest.Must(t, err)
	if res.AlreadyRevoked || !res.InCRL || res.OCSP != "revoked" || res.OCSPReason != "keyCompromise" || res.RevokedAt == nil {
		t.Errorf("revoke: %+v", res)
	}
	crlText := string(keytest.Run(t, p.ca.Dir, nil, "openssl", "crl", "-in", p.ca.CRL, "-noout", "-text", "-CAfile", p.ca.Cert))
	if !strings.Contains(crlText, "Serial Number: "+serial) || !strings.Contains(crlText, "Key Compromise") {
		t.Errorf("openssl crl does not list serial %s as key compromise:\n%s", serial, crlText)
	}
	keytest.Run(t, p.ca.Dir, nil, "openssl", "crl", "-in", p.ca.CRL, "-noout", "-CAfile", p.ca.Cert) // verifies its signature
	if got := opensslSays(t, p.ca, serial); got != "revoked" {
		t.Errorf("openssl ocsp after revoking: %s", got)
	}
	idx, _ := os.ReadFile(p.ca.Index)
	if !strings.HasPrefix(string(idx), "R\t") {
		t.Errorf("index after revoking:\n%s", idx)
	}

	again, err := p.auth.Revoke(ctx, RevokeRequest{Serial: serial})
	keytest.Must(t, err)
	if !again.AlreadyRevoked || again.OCSP != "revoked" || again.CRLNumber != res.CRLNumber {
		t.Errorf("revoke again: %+v (first CRL number %s): want already revoked and no new CRL", again, res.CRLNumber)
	}
}

// Errors name the CA's index, config or responder; never the CA key or
// its passphrase, which reaches openssl on its standard input only.
func TestCAErrorsNameThePlace(t *testing.T) {
	ctx := context.Background()
	p := newPKI(t, nil, nil)
	_, err := p.auth.Revoke(ctx, RevokeRequest{Serial: "ABCDEF"})
	if errs.KindOf(err) != errs.NotFound || !strings.Contains(err.Error(), p.ca.Index) || !strings.Contains(err.Error(), "serial ABCDEF is not in the CA's index") {
		t.Errorf("unknown serial: %v (%v)", err, errs.KindOf(err))
	}
	if _, err := p.auth.Revoke(ctx, RevokeRequest{Serial: serialHex(p.leaf), Reason: "leaked"}); err == nil || !strings.Contains(err.Error(), `revocation reason "leaked"`) {
		t.Errorf("bad reason: %v", err)
	}

	// The CA key under a passphrase: right, it revokes; wrong, the error
	// names the config and not the passphrase.
	const pass = "correct horse battery staple"
	var encKey string
	pp := newPKI(t, map[string]string{"CA_PASS": pass}, nil)
	encKey = filepath.Join(pp.ca.Dir, "ca.enc.key")
	keytest.Run(t, pp.ca.Dir, nil, "openssl", "pkey", "-in", pp.ca.Key, "-aes256", "-passout", "pass:"+pass, "-out", encKey)
	keyBytes, _ := os.ReadFile(pp.ca.Key)
	for _, tc := range []struct {
		env   string
		works bool
	}{{"wrong " + pass, false}, {pass, true}} {
		places := pp.ca.Places()
		places.CA.Key = inventory.Ref{Scheme: inventory.RefFile, Name: encKey}
		places.CA.KeyPassphrase = inventory.Ref{Scheme: inventory.RefEnv, Name: "CA_PASS"}
		c, err := open(provider.Config{System: "web-tls", Spec: &inventory.System{X509: places}, Getenv: func(string) string { return tc.env }})
		keytest.Must(t, err)
		a, err := c.Authority()
		keytest.Must(t, err)
		_, err = a.Revoke(ctx, RevokeRequest{Serial: serialHex(pp.leaf)})
		if tc.works {
			keytest.Must(t, err)
			continue
		}
		if err == nil || !strings.Contains(err.Error(), pp.ca.Config) {
			t.Fatalf("wrong passphrase: %v, want an error naming %s", err, pp.ca.Config)
		}
		for _, leak := range []string{pass, string(keyBytes[30:60])} {
			if strings.Contains(err.Error(), leak) {
				t.Errorf("the error quotes secret material: %v", err)
			}
		}
	}

	// A responder that does not answer is named.
	dead := newPKI(t, nil, func(ca *inventory.CAIndex) { ca.OCSP, ca.OCSPReload = "http://127.0.0.1:1", "" })
	keytest.Must(t, dead.auth.GenCRL(ctx))
	_, err = dead.auth.Status(ctx, serialHex(dead.leaf))
	if errs.KindOf(err) != errs.Unreachable || !strings.Contains(err.Error(), "http://127.0.0.1:1") {
		t.Errorf("dead responder: %v", err)
	}
	// A read-only CA block cannot be acted on.
	ro, err := open(provider.Config{System: "ro", Spec: &inventory.System{X509: &inventory.X509Places{CA: &inventory.CAIndex{Index: p.ca.Index, Cert: p.ca.Cert}}}})
	keytest.Must(t, err)
	if _, err := ro.Authority(); errs.KindOf(err) != errs.Unsupported {
		t.Errorf("CA without config: %v", err)
	}
}

// The replacement: a new key like the old one (RSA-2048), a certificate
// the CA signed for it with the same subject and SANs and uses, a new
// serial, verified by Go and by `openssl verify`; the key never prints;
// asking again with the same key returns the same certificate.
func TestIssueReplacement(t *testing.T) {
	p := newPKI(t, nil, nil)
	ctx := context.Background()
	r, err := p.auth.Issue(ctx, IssueRequest{Like: p.leaf})
	keytest.Must(t, err)
	roots := x509.NewCertPool()
	roots.AddCert(p.auth.Cert())
	if _, err := r.Cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "www.shop.example.org", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("the new certificate does not verify: %v", err)
	}
	newPath := filepath.Join(t.TempDir(), "new.pem")
	keytest.Must(t, os.WriteFile(newPath, r.CertPEM(), 0o644))
	keytest.Run(t, p.ca.Dir, nil, "openssl", "verify", "-CAfile", p.ca.Cert, newPath)
	if r.Cert.Subject.String() != p.leaf.Subject.String() || fmt.Sprint(sans(r.Cert)) != fmt.Sprint(sans(p.leaf)) ||
		fmt.Sprint(extKeyUsages(r.Cert)) != fmt.Sprint(extKeyUsages(p.leaf)) || r.Cert.KeyUsage != p.leaf.KeyUsage {
		t.Errorf("names or uses differ: %s %v %v, want %s %v %v", r.Cert.Subject, sans(r.Cert), extKeyUsages(r.Cert), p.leaf.Subject, sans(p.leaf), extKeyUsages(p.leaf))
	}
	if r.SPKI == spkiOf(p.leaf) || spkiOf(r.Cert) != r.SPKI || r.Serial == serialHex(p.leaf) {
		t.Errorf("new key %s serial %s; old key %s serial %s", r.SPKI, r.Serial, spkiOf(p.leaf), serialHex(p.leaf))
	}
	// The new key file is what openssl reads, and its public key is the
	// certificate's; same algorithm and size as the leaked one.
	keyPath := filepath.Join(t.TempDir(), "new.key")
	keytest.Must(t, os.WriteFile(keyPath, r.Key.Reveal(), 0o600))
	if got := keytest.SPKISHA256(t, keyPath, false); "sha256:"+got != r.SPKI {
		t.Errorf("openssl reads the new key as %s, want %s", got, r.SPKI)
	}
	if alg := r.Cert.PublicKeyAlgorithm; alg != p.leaf.PublicKeyAlgorithm {
		t.Errorf("algorithm %v, want %v", alg, p.leaf.PublicKeyAlgorithm)
	}
	if s := fmt.Sprintf("%v %+v %s", r.Key, r, r.Key); strings.Contains(s, "PRIVATE KEY") {
		t.Errorf("the new key prints: %s", s)
	}
	again, err := p.auth.Issue(ctx, IssueRequest{Like: p.leaf, Key: r.Key})
	keytest.Must(t, err)
	if !again.Reused || again.Serial != r.Serial {
		t.Errorf("issue again with the same key: reused %v serial %s, want serial %s reused", again.Reused, again.Serial, r.Serial)
	}
	if _, err := p.auth.Issue(ctx, IssueRequest{Like: p.auth.Cert()}); errs.KindOf(err) != errs.Unsupported {
		t.Errorf("replacing the CA certificate: %v", err)
	}
	leaked := keytest.Secret(t, p.leakedKey)
	if _, err := p.auth.Issue(ctx, IssueRequest{Like: p.leaf, Key: leaked}); err == nil || !errors.Is(err, err) || !strings.Contains(err.Error(), "the new key is the leaked one") {
		t.Errorf("issuing for the leaked key: %v", err)
	}
}

// VerifyEndpoint names the endpoint and the keys by digest: one that
// presents the leaked key's certificate, one that does not answer.
func TestVerifyEndpointErrors(t *testing.T) {
	s := getSite(t)
	c := s.open(t, nil)
	ctx := context.Background()
	shop := readCert(t, s.shopCert)
	const newKey = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
	err := c.VerifyEndpoint(ctx, VerifyRequest{Endpoint: s.endpoint, Key: newKey})
	if err == nil || !strings.Contains(err.Error(), s.endpoint) || !strings.Contains(err.Error(), spkiOf(shop)) || !strings.Contains(err.Error(), "not the new key "+newKey) {
		t.Errorf("old key presented: %v", err)
	}
	keytest.Must(t, c.VerifyEndpoint(ctx, VerifyRequest{Endpoint: s.endpoint, Key: spkiOf(shop)}))
	err = c.VerifyEndpoint(ctx, VerifyRequest{Endpoint: s.deadEndpoint, Key: newKey})
	if errs.KindOf(err) != errs.Unreachable || !strings.Contains(err.Error(), s.deadEndpoint) {
		t.Errorf("dead endpoint: %v", err)
	}
}

// A CA that keeps no copy of what it issued (no certs_dir) revokes the
// certificate it is given, and only the one it issued with that serial;
// and a CA whose config does not copy a CSR's extensions still issues the
// replacement with the old names (rekey gives them with -extfile).
func TestCAWithoutCopies(t *testing.T) {
	ctx := context.Background()
	p := newPKI(t, nil, func(ca *inventory.CAIndex) { ca.CertsDir = "" })
	serial := serialHex(p.leaf)
	_, err := p.auth.Revoke(ctx, RevokeRequest{Serial: serial})
	if errs.KindOf(err) != errs.NotFound || !strings.Contains(err.Error(), "keeps no copy") || !strings.Contains(err.Error(), p.ca.Index) {
		t.Errorf("no copy, none given: %v", err)
	}
	other := readCert(t, p.ca.Issue(t, keytest.GenKey(t, t.TempDir(), "o.key", keytest.ECSEC1), "other", nil, "client", filepath.Join(t.TempDir(), "o.pem")))
	if _, err := p.auth.Revoke(ctx, RevokeRequest{Serial: serial, Cert: other}); errs.KindOf(err) != errs.Invalid {
		t.Errorf("another certificate given: %v", err)
	}
	res, err := p.auth.Revoke(ctx, RevokeRequest{Serial: serial, Cert: p.leaf})
	keytest.Must(t, err)
	if !res.InCRL || res.OCSP != "revoked" {
		t.Errorf("revoke with the certificate given: %+v", res)
	}

	conf, err := os.ReadFile(p.ca.Config)
	keytest.Must(t, err)
	keytest.Must(t, os.WriteFile(p.ca.Config, []byte(strings.ReplaceAll(string(conf), "copy_extensions = copy\n", "")), 0o644))
	r, err := p.auth.Issue(ctx, IssueRequest{Like: p.leaf})
	keytest.Must(t, err)
	if fmt.Sprint(sans(r.Cert)) != fmt.Sprint(sans(p.leaf)) {
		t.Errorf("SANs %v, want %v", sans(r.Cert), sans(p.leaf))
	}
}
