package certs

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/keys"
	"github.com/rekeyhq/rekey/internal/provider"
)

// Certificate statuses.
const (
	StatusValid       = "valid"
	StatusExpired     = "expired"
	StatusNotYetValid = "not-yet-valid"
	StatusRevoked     = "revoked"
)

// describe turns a parsed certificate into what the report shows.
func describe(c *x509.Certificate, now time.Time) *Certificate {
	f := &Certificate{
		Subject: c.Subject.String(), Issuer: c.Issuer.String(), Serial: serialHex(c),
		NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(),
		SANs: sans(c), KeyUsage: keyUsages(c.KeyUsage), ExtKeyUsage: extKeyUsages(c),
		IsCA: c.IsCA, Key: spkiOf(c), cert: c,
	}
	// Not CheckSignatureFrom(c): it refuses a parent that is no CA, and a
	// self-signed server certificate is none.
	f.SelfSigned = bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
	switch {
	case now.After(c.NotAfter):
		f.Status = StatusExpired
	case now.Before(c.NotBefore):
		f.Status = StatusNotYetValid
	default:
		f.Status = StatusValid
	}
	return f
}

// setStatus marks a certificate revoked when the CA index says so.
func (f *Certificate) setStatus(idx *caIndex) {
	if idx == nil {
		return
	}
	if row := idx.rowOf(f.cert); row != nil && row.status == 'R' {
		f.Status = StatusRevoked
		f.RevokedAt = row.revoked
	}
}

// spkiOf is the "sha256:<hex>" name of a certificate's public key, or ""
// for a key type Go cannot marshal.
func spkiOf(c *x509.Certificate) string {
	if c == nil {
		return ""
	}
	fp, err := keys.SPKIFingerprint(c.PublicKey)
	if err != nil {
		return ""
	}
	return fp
}

// SerialOf is c's serial as openssl prints it (upper-case hex, an even
// number of digits): how the CA's index and Revoke name it.
func SerialOf(c *x509.Certificate) string { return serialHex(c) }

// serialHex is the serial as openssl prints it: upper-case hex, an even
// number of digits.
func serialHex(c *x509.Certificate) string {
	s := fmt.Sprintf("%X", c.SerialNumber)
	if len(s)%2 == 1 {
		s = "0" + s
	}
	return s
}

func sans(c *x509.Certificate) []string {
	out := []string{}
	for _, d := range c.DNSNames {
		out = append(out, "DNS:"+d)
	}
	for _, ip := range c.IPAddresses {
		out = append(out, "IP:"+ip.String())
	}
	for _, e := range c.EmailAddresses {
		out = append(out, "email:"+e)
	}
	for _, u := range c.URIs {
		out = append(out, "URI:"+u.String())
	}
	return out
}

var keyUsageNames = []struct {
	bit  x509.KeyUsage
	name string
}{
	{x509.KeyUsageDigitalSignature, "digitalSignature"}, {x509.KeyUsageContentCommitment, "contentCommitment"},
	{x509.KeyUsageKeyEncipherment, "keyEncipherment"}, {x509.KeyUsageDataEncipherment, "dataEncipherment"},
	{x509.KeyUsageKeyAgreement, "keyAgreement"}, {x509.KeyUsageCertSign, "keyCertSign"},
	{x509.KeyUsageCRLSign, "cRLSign"}, {x509.KeyUsageEncipherOnly, "encipherOnly"}, {x509.KeyUsageDecipherOnly, "decipherOnly"},
}

func keyUsages(ku x509.KeyUsage) []string {
	out := []string{}
	for _, k := range keyUsageNames {
		if ku&k.bit != 0 {
			out = append(out, k.name)
		}
	}
	return out
}

var extKeyUsageNames = map[x509.ExtKeyUsage]string{
	x509.ExtKeyUsageAny: "any", x509.ExtKeyUsageServerAuth: "serverAuth", x509.ExtKeyUsageClientAuth: "clientAuth",
	x509.ExtKeyUsageCodeSigning: "codeSigning", x509.ExtKeyUsageEmailProtection: "emailProtection",
	x509.ExtKeyUsageTimeStamping: "timeStamping", x509.ExtKeyUsageOCSPSigning: "OCSPSigning",
}

func extKeyUsages(c *x509.Certificate) []string {
	out := []string{}
	for _, e := range c.ExtKeyUsage {
		if n, ok := extKeyUsageNames[e]; ok {
			out = append(out, n)
		} else {
			out = append(out, fmt.Sprintf("eku-%d", e))
		}
	}
	for _, oid := range c.UnknownExtKeyUsage {
		out = append(out, oid.String())
	}
	return out
}

func (c *Certificate) has(eku string) bool {
	for _, e := range c.ExtKeyUsage {
		if e == eku {
			return true
		}
	}
	return false
}

// role names what the certificate is for, for its privilege's name.
func (c *Certificate) role() string {
	var r []string
	switch {
	case c.IsCA:
		return "CA"
	case len(c.ExtKeyUsage) == 0 || c.has("any"):
		return "any-purpose"
	}
	for _, e := range []string{"serverAuth", "clientAuth", "codeSigning", "emailProtection"} {
		if c.has(e) {
			r = append(r, map[string]string{"serverAuth": "server", "clientAuth": "client", "codeSigning": "code-signing", "emailProtection": "email"}[e])
		}
	}
	if len(r) == 0 {
		return "other-purpose"
	}
	return strings.Join(r, "+")
}

// manySANs is how many names make a server certificate's key high risk:
// one key answering for that many services is a wide impersonation.
const manySANs = 10

// grade says how much the certificate lets its leaked key do (see
// docs/providers/keys.md):
//   - critical: a CA certificate that is valid: the key signs any
//     certificate its relying parties accept;
//   - high: code signing, any purpose (no EKU), a client certificate (it
//     logs in as its subject wherever the CA is trusted, from anywhere),
//     a server certificate with a wildcard or ten names or more;
//   - medium: another server certificate (impersonation needs a position
//     on the network);
//   - low: revoked, expired or for other purposes only.
func grade(c *Certificate) (provider.Risk, string) {
	switch {
	case c.Status == StatusRevoked:
		return provider.RiskLow, "revoked at the CA: refused where revocation is checked"
	case c.Status == StatusExpired:
		return provider.RiskLow, "expired"
	case c.IsCA:
		return provider.RiskCritical, "a CA certificate: the key signs certificates, so everything it signed is suspect and it can mint more"
	case c.has("codeSigning"):
		return provider.RiskHigh, "code signing: software signed with the key is trusted"
	case len(c.ExtKeyUsage) == 0 || c.has("any"):
		return provider.RiskHigh, "no extended key usage: valid for any purpose, as client and server"
	case c.has("clientAuth"):
		return provider.RiskHigh, "a client certificate: it authenticates as " + c.Subject + " wherever its CA is trusted"
	case c.has("serverAuth"):
		for _, s := range c.SANs {
			if strings.HasPrefix(s, "DNS:*.") {
				return provider.RiskHigh, "a server certificate for a wildcard name: the key impersonates every host under it"
			}
		}
		if len(c.SANs) >= manySANs {
			return provider.RiskHigh, fmt.Sprintf("a server certificate for %d names: the key impersonates all of them", len(c.SANs))
		}
		return provider.RiskMedium, "a server certificate: the key impersonates its names to clients it can reach"
	}
	return provider.RiskLow, "no client, server, code-signing or CA use"
}
