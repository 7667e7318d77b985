package certs

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/keys"
	"github.com/rekeyhq/rekey/internal/secret"
)

// IssueRequest asks the CA for a replacement of a certificate whose key
// leaked.
type IssueRequest struct {
	// Like is the certificate being replaced: the new one gets its
	// subject, SANs, key usage and extended key usage.
	Like *x509.Certificate
	// Key, when set, is the new private key (PEM) from an earlier attempt
	// that the engine sealed before asking: it is used instead of making
	// another, so a retried step issues for the same key.
	Key secret.Secret
}

// Replacement is a new key and the certificate the CA signed for it.
type Replacement struct {
	// Key is the new private key, PKCS#8 PEM. It never prints.
	Key  secret.Secret
	Cert *x509.Certificate
	// Chain is the CA's certificate: what the leaf is delivered with.
	Chain []*x509.Certificate
	// Serial is the new certificate's serial (hex).
	Serial string
	// SPKI is the new key's "sha256:<hex>".
	SPKI string
	// Reused is set when the CA had already signed a certificate for Key
	// (a retry after a crash): no second certificate was issued.
	Reused bool
}

// CertPEM is the leaf certificate in PEM.
func (r *Replacement) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.Cert.Raw})
}

// ChainPEM is the chain (without the leaf) in PEM.
func (r *Replacement) ChainPEM() []byte {
	var b bytes.Buffer
	for _, c := range r.Chain {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

// Issue has the CA sign a certificate for a new key with the names and
// uses of req.Like: a new key like the old one (keys.NewLike) unless
// req.Key gives one, a CSR with the same subject and SANs signed by it,
// and `openssl ca -batch -preserveDN` with an extension section that
// repeats the old certificate's key usage, extended key usage and SANs
// (whatever the CA's copy_extensions says). Side effects: a new row in
// the CA's index, its serial file and a copy in its certs directory.
// Idempotent for a given req.Key: when the index already holds a valid
// certificate for that key and subject, it is returned (Reused) and
// nothing is signed. A CA certificate is not replaced this way (every
// certificate it signed would need signing again): Unsupported.
func (a *Authority) Issue(ctx context.Context, req IssueRequest) (*Replacement, error) {
	old := req.Like
	if old == nil {
		return nil, errs.New(a.op, errs.Invalid, a.config, "issue: no certificate to replace")
	}
	if old.IsCA {
		return nil, errs.New(a.op, errs.Unsupported, a.config, fmt.Sprintf("issue: serial %s is a CA certificate: replacing a CA means signing again everything it signed, which rekey does not do", serialHex(old)))
	}
	key := req.Key
	if key.IsZero() {
		k, _, err := keys.NewLike(old.PublicKey, keys.FormatPKCS8)
		if err != nil {
			return nil, errs.E(a.op, errs.Unsupported, a.config, fmt.Errorf("issue: new key: %w", err))
		}
		key = k
	}
	signer, err := signerOf(key)
	if err != nil {
		return nil, errs.E(a.op, errs.Invalid, a.config, fmt.Errorf("issue: the new key: %w", err))
	}
	spki, err := keys.SPKIFingerprint(signer.Public())
	if err != nil {
		return nil, errs.E(a.op, errs.Invalid, a.config, err)
	}
	if spki == spkiOf(old) {
		return nil, errs.New(a.op, errs.Invalid, a.config, "issue: the new key is the leaked one")
	}
	r := &Replacement{Key: key, Chain: []*x509.Certificate{a.ca}, SPKI: spki}
	if c := a.issuedFor(spki, old); c != nil {
		r.Cert, r.Serial, r.Reused = c, serialHex(c), true
		return r, nil
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		RawSubject: old.RawSubject, DNSNames: old.DNSNames, IPAddresses: old.IPAddresses,
		EmailAddresses: old.EmailAddresses, URIs: old.URIs,
	}, signer)
	if err != nil {
		return nil, errs.E(a.op, errs.Invalid, a.config, fmt.Errorf("issue: CSR: %w", err))
	}
	dir, err := os.MkdirTemp("", "rekey-issue-")
	if err != nil {
		return nil, errs.E(a.op, errs.Other, "", err)
	}
	defer os.RemoveAll(dir)
	csrPath, extPath, out := filepath.Join(dir, "req.csr"), filepath.Join(dir, "ext.cnf"), filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(csrPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr}), 0o600); err != nil {
		return nil, errs.E(a.op, errs.Other, "", err)
	}
	if err := os.WriteFile(extPath, []byte(extensionsLike(old)), 0o600); err != nil {
		return nil, errs.E(a.op, errs.Other, "", err)
	}
	if _, err := a.openssl(ctx, "-batch", "-notext", "-preserveDN", "-in", csrPath, "-out", out, "-extfile", extPath, "-extensions", "rekey_ext"); err != nil {
		return nil, errs.E(a.op, errs.KindOf(err), a.config, fmt.Errorf("issue for %s: %w", old.Subject, errors.Unwrap(err)))
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return nil, errs.FS(a.op, out, err)
	}
	certs, msg := parseCerts(data)
	if msg != "" || len(certs) != 1 {
		return nil, errs.New(a.op, errs.Other, a.config, "issue: openssl ca wrote no certificate")
	}
	c := certs[0]
	if err := a.check(c, old, spki); err != nil {
		return nil, err
	}
	r.Cert, r.Serial = c, serialHex(c)
	// The responder learns of the new serial; a retry finds the
	// certificate issued (Reused) and reloads again.
	if err := a.ReloadResponder(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// check proves the signed certificate is the replacement: the CA's
// signature, the new key, the old names.
func (a *Authority) check(c, old *x509.Certificate, spki string) error {
	switch {
	case c.CheckSignatureFrom(a.ca) != nil:
		return errs.New(a.op, errs.Other, a.config, "issue: the signed certificate does not verify with the CA's certificate (ca block's cert is not this config's CA?)")
	case spkiOf(c) != spki:
		return errs.New(a.op, errs.Other, a.config, "issue: the signed certificate does not carry the new key")
	case !bytes.Equal(c.RawSubject, old.RawSubject) || !slices.Equal(sans(c), sans(old)):
		return errs.New(a.op, errs.Other, a.config, fmt.Sprintf("issue: the CA changed the names (subject %s, %v; want %s, %v): its policy section rewrites them", c.Subject, sans(c), old.Subject, sans(old)))
	}
	return nil
}

// issuedFor returns a valid certificate in the CA's certs directory for
// the key spki and old's subject, or nil.
func (a *Authority) issuedFor(spki string, old *x509.Certificate) *x509.Certificate {
	if a.certsDir == "" {
		return nil
	}
	data, err := os.ReadFile(a.index)
	if err != nil {
		return nil
	}
	for _, line := range strings.Split(string(data), "\n") {
		r, err := parseIndexRow(line)
		if err != nil || r.status != 'V' {
			continue
		}
		b, err := os.ReadFile(filepath.Join(a.certsDir, r.serial+".pem"))
		if err != nil {
			continue
		}
		if certs, _ := parseCerts(b); len(certs) > 0 && spkiOf(certs[0]) == spki && bytes.Equal(certs[0].RawSubject, old.RawSubject) {
			return certs[0]
		}
	}
	return nil
}

// extensionsLike is an openssl extension section repeating old's uses and
// names.
func extensionsLike(old *x509.Certificate) string {
	var b strings.Builder
	b.WriteString("[ rekey_ext ]\nbasicConstraints = CA:FALSE\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n")
	if ku := keyUsages(old.KeyUsage); len(ku) > 0 {
		b.WriteString("keyUsage = critical, " + strings.Join(ku, ", ") + "\n")
	}
	var eku []string
	for _, e := range extKeyUsages(old) {
		if e == "any" {
			e = "anyExtendedKeyUsage"
		}
		if !strings.HasPrefix(e, "eku-") {
			eku = append(eku, e)
		}
	}
	if len(eku) > 0 {
		b.WriteString("extendedKeyUsage = " + strings.Join(eku, ", ") + "\n")
	}
	if s := sans(old); len(s) > 0 {
		b.WriteString("subjectAltName = " + strings.Join(s, ", ") + "\n")
	}
	return b.String()
}

// signerOf parses a PEM private key for signing the CSR.
func signerOf(key secret.Secret) (crypto.Signer, error) {
	b, _ := pem.Decode(key.Reveal())
	if b == nil {
		return nil, errors.New("not a PEM private key")
	}
	var k any
	var err error
	switch b.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(b.Bytes)
	default:
		return nil, fmt.Errorf("a %q PEM block, not a private key", b.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("a %q PEM block that does not parse", b.Type)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("a key that cannot sign")
	}
	return s, nil
}
