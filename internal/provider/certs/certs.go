// Package certs is the provider for systems of type x509: the places
// where certificates live (PEM and DER files, Kubernetes TLS Secrets,
// PKCS#12 and JKS keystores, the chains TLS endpoints present, an
// internal `openssl ca` index). A leaked private key is identified by its
// public key: every certificate carrying it is something the key
// unlocks, and a CA certificate carrying it makes everything that CA
// signed suspect. It reads files and handshakes only; it never uses the
// key.
//
// The identity of a leaked key is its public key, named by the SHA-256 of
// its SubjectPublicKeyInfo ("sha256:<hex>", keys.Fingerprints.SPKIRef):
// Inspect gets only the IdentityRef, never the secret, and the public key
// is what every certificate and trust store names. Subjects are not
// identities: one key may be in several certificates with different
// subjects, and a renewed certificate keeps its subject with a new key.
package certs

import (
	"context"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/places"
	"github.com/rekeyhq/rekey/internal/secret"
)

// Type is the inventory system type this provider serves.
const Type = inventory.TypeX509

// MethodSPKI is how Identify proves a match: the certificate's
// SubjectPublicKeyInfo is the leaked key's public key.
const MethodSPKI = "spki-sha256"

// Certs reads the certificates of one x509 system.
type Certs struct {
	system string
	op     string
	places *inventory.X509Places
	getenv func(string) string
	// now is the clock validity is judged by.
	now func() time.Time
	// dialTimeout bounds each endpoint's handshake.
	dialTimeout time.Duration
}

var (
	_ provider.Provider = (*Certs)(nil)
	_ provider.Factory  = New
)

// New opens the provider for cfg.Spec, which must be a system of type
// x509. Nothing is read until Identify or Inspect.
func New(_ context.Context, cfg provider.Config) (provider.Provider, error) {
	return open(cfg)
}

func open(cfg provider.Config) (*Certs, error) {
	op := "x509 " + cfg.System
	if cfg.Spec == nil || cfg.Spec.X509 == nil {
		return nil, errs.New(op, errs.Invalid, "", "no certificate places: the system's inventory entry (type x509) is needed")
	}
	return &Certs{system: cfg.System, op: op, places: cfg.Spec.X509, getenv: cfg.Getenv, now: time.Now, dialTimeout: 10 * time.Second}, nil
}

// Close has nothing to release.
func (c *Certs) Close() error { return nil }

// Location is one place a certificate was found.
type Location struct {
	// Kind is file, kubernetes-secret, keystore, endpoint or ca-index.
	Kind  string `json:"kind"`
	Where string `json:"where"` // a path, "path: namespace/name tls.crt", "host:port chain[0]"…
}

func (l Location) String() string { return l.Kind + " " + l.Where }

// Certificate is one certificate found, with what it lets its key do.
type Certificate struct {
	Subject     string    `json:"subject"`
	SANs        []string  `json:"sans"`
	Issuer      string    `json:"issuer"`
	Serial      string    `json:"serial"` // upper-case hex, as openssl prints it
	NotBefore   time.Time `json:"not_before"`
	NotAfter    time.Time `json:"not_after"`
	KeyUsage    []string  `json:"key_usage"`
	ExtKeyUsage []string  `json:"ext_key_usage"`
	IsCA        bool      `json:"is_ca"`
	SelfSigned  bool      `json:"self_signed"`
	// Status is valid, expired, not-yet-valid or revoked (by the CA index).
	Status    string     `json:"status"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	// Key is the "sha256:<hex>" SPKI digest of its public key.
	Key       string        `json:"key"`
	Locations []Location    `json:"locations"`
	Risk      provider.Risk `json:"risk"`
	// Why says what the risk is graded on.
	Why string `json:"why"`

	cert *x509.Certificate
}

// X509 is the parsed certificate, for the steps that will reissue it.
func (c *Certificate) X509() *x509.Certificate { return c.cert }

// Issued is a certificate a leaked CA key signed.
type Issued struct {
	Serial    string     `json:"serial"`
	Subject   string     `json:"subject"`
	Status    string     `json:"status"` // valid, revoked, expired (the index's V, R, E)
	NotAfter  time.Time  `json:"not_after"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	// Where is the CA index row, or the place a signed certificate was
	// found outside the index.
	Where string `json:"where"`
}

// Problem is a place that could not be read.
type Problem = places.Problem

// Report is what examining the system for one public key found.
type Report struct {
	System string `json:"system"`
	Key    string `json:"key"` // sha256:<hex>
	// Certificates carry the key, most risky first.
	Certificates []*Certificate `json:"certificates"`
	// Issued lists, when one of Certificates is a CA's, everything it
	// signed: the index's rows and certificates found in the places.
	Issued []Issued `json:"issued"`
	// Problems are places that could not be read: the answer is
	// incomplete by them.
	Problems []Problem `json:"problems"`
}

// Identify returns the key's identity when a certificate in the system's
// places carries its public key. The key is parsed for its public half
// only; nothing is signed with it. An encrypted key whose public key is
// unknown is an Invalid error: there is nothing to compare.
func (c *Certs) Identify(ctx context.Context, s secret.Secret) ([]provider.Match, error) {
	fp, err := places.Fingerprints(c.op, s)
	if err != nil {
		return nil, err
	}
	r, err := c.Examine(ctx, fp.SPKIRef())
	if err != nil {
		return nil, err
	}
	if len(r.Certificates) == 0 {
		return nil, nil
	}
	return []provider.Match{{Ref: provider.IdentityRef{System: c.system, Name: r.Key}, Method: MethodSPKI}}, nil
}

// Inspect describes the key named by ref ("sha256:<hex>"): one privilege
// per certificate carrying it, the certificates a CA key signed as
// related, and the places that could not be read as related "unread"
// entries, so a blind spot shows in the scope. No sessions: a key has
// none rekey can see.
func (c *Certs) Inspect(ctx context.Context, ref provider.IdentityRef) (*provider.Identity, error) {
	if ref.System == "" {
		ref.System = c.system
	}
	r, err := c.Examine(ctx, ref.Name)
	if err != nil {
		return nil, err
	}
	id := &provider.Identity{Ref: ref, Exists: len(r.Certificates) > 0, Privileges: []provider.Privilege{}, Sessions: []provider.Session{}, Related: []provider.Related{}}
	for _, crt := range r.Certificates {
		var where []string
		for _, l := range crt.Locations {
			where = append(where, l.String())
		}
		id.Privileges = append(id.Privileges, provider.Privilege{
			Name: crt.privilegeName(), Risk: crt.Risk, Via: strings.Join(where, ", "), CreatesCredentials: crt.IsCA && crt.Status == StatusValid,
		})
		if crt.Status == StatusValid {
			id.CanLogin = true
			if id.ValidUntil == nil || crt.NotAfter.After(*id.ValidUntil) {
				t := crt.NotAfter
				id.ValidUntil = &t
			}
		}
	}
	for _, is := range r.Issued {
		id.Related = append(id.Related, provider.Related{
			Kind: RelatedIssued, Name: "serial " + is.Serial + " " + is.Subject,
			Detail: fmt.Sprintf("signed by the leaked CA key, %s (%s); everything it signed is suspect", is.Status, is.Where),
		})
	}
	id.Related = append(id.Related, places.Unread(r.Problems)...)
	return id, nil
}

// Kinds of Related entries this provider reports.
const (
	RelatedIssued = "issued-certificate" // a certificate the leaked CA key signed
	RelatedUnread = places.RelatedUnread // a place that could not be read: the answer is incomplete
)

// privilegeName is the certificate in one line.
func (c *Certificate) privilegeName() string {
	role := c.role()
	s := fmt.Sprintf("%s certificate %s serial %s", role, c.Subject, c.Serial)
	if len(c.SANs) > 0 {
		s += " for " + strings.Join(c.SANs, ", ")
	}
	s += fmt.Sprintf(" (issuer %s, %s until %s)", c.Issuer, c.Status, c.NotAfter.UTC().Format("2006-01-02"))
	return s
}

// Examine finds every certificate carrying the public key named key
// ("sha256:<hex>") in the system's places and, when one is a CA
// certificate, what that CA signed. A place that cannot be read is a
// Problem in the report, not an error: the rest is still an answer.
func (c *Certs) Examine(ctx context.Context, key string) (*Report, error) {
	key = strings.ToLower(strings.TrimSpace(key))
	if !validKeyRef(key) {
		return nil, errs.New(c.op, errs.Invalid, "", fmt.Sprintf("%q is not a key name: want sha256: and the 64 hex digits of the SubjectPublicKeyInfo's SHA-256", key))
	}
	found, idx, problems := c.collect(ctx)
	if err := ctx.Err(); err != nil {
		return nil, errs.E(c.op, errs.Other, "", err)
	}
	r := &Report{System: c.system, Key: key, Certificates: []*Certificate{}, Issued: []Issued{}, Problems: problems}
	var cas []*x509.Certificate
	for _, f := range found {
		if f.Key != key {
			continue
		}
		r.Certificates = append(r.Certificates, f)
		if f.cert.IsCA {
			cas = append(cas, f.cert)
		}
	}
	for _, crt := range r.Certificates {
		crt.Risk, crt.Why = grade(crt)
	}
	slices.SortStableFunc(r.Certificates, func(a, b *Certificate) int {
		if d := a.Risk.Rank() - b.Risk.Rank(); d != 0 {
			return d
		}
		return strings.Compare(a.Subject, b.Subject)
	})
	if len(cas) > 0 {
		r.Issued = signedBy(cas, found, idx)
	}
	return r, nil
}

func validKeyRef(k string) bool {
	h, ok := strings.CutPrefix(k, "sha256:")
	if !ok || len(h) != 64 {
		return false
	}
	return strings.Trim(h, "0123456789abcdef") == ""
}
