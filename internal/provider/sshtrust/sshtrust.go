// Package sshtrust is the provider for systems of type ssh: the files
// through which sshd trusts a public key (authorized_keys, including
// cert-authority lines; TrustedUserCAKeys; AuthorizedPrincipals). A
// leaked private key unlocks every account whose authorized_keys holds
// its public key, with that line's options, and when sshd trusts it as a
// user CA, every account a certificate it signs may name. It reads files
// only; it never uses the key.
//
// The identity of a leaked key is its OpenSSH fingerprint ("SHA256:…",
// keys.Fingerprints.SSH): what ssh-keygen -l prints and what sshd logs
// for every key it accepts ("Accepted publickey for deploy … ED25519
// SHA256:…"), so the same name ties the key to its authentication log.
package sshtrust

import (
	"context"
	"fmt"
	"strings"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/places"
	"github.com/rekeyhq/rekey/internal/secret"
)

// Type is the inventory system type this provider serves.
const Type = inventory.TypeSSH

// MethodSSH is how Identify proves a match: a trust file holds the
// leaked key's public key.
const MethodSSH = "ssh-public-key"

// Grant kinds.
const (
	KindAuthorizedKey = "authorized-key"  // logs in as the account
	KindCertAuthority = "cert-authority"  // an authorized_keys cert-authority line: signs certificates for the account
	KindTrustedUserCA = "trusted-user-ca" // sshd's TrustedUserCAKeys: signs certificates for any account
)

// SSH reads the trust files of one ssh system.
type SSH struct {
	system string
	op     string
	places *inventory.SSHPlaces
}

var (
	_ provider.Provider = (*SSH)(nil)
	_ provider.Factory  = New
)

// New opens the provider for cfg.Spec, which must be a system of type
// ssh. Nothing is read until Identify or Inspect.
func New(_ context.Context, cfg provider.Config) (provider.Provider, error) { return open(cfg) }

func open(cfg provider.Config) (*SSH, error) {
	op := "ssh " + cfg.System
	if cfg.Spec == nil || cfg.Spec.SSH == nil {
		return nil, errs.New(op, errs.Invalid, "", "no sshd trust files: the system's inventory entry (type ssh) is needed")
	}
	return &SSH{system: cfg.System, op: op, places: cfg.Spec.SSH}, nil
}

// Close has nothing to release.
func (s *SSH) Close() error { return nil }

// Grant is one line through which sshd accepts the key.
type Grant struct {
	Kind string `json:"kind"`
	File string `json:"file"`
	Line int    `json:"line"`
	// Account is who the key logs in as: the owner of the ~/.ssh the file
	// is in, or the file's name (AuthorizedKeysFile /etc/ssh/keys/%u).
	// Empty for TrustedUserCAKeys, which serves every account.
	Account string `json:"account,omitempty"`
	// Options are the line's options as written; the fields below are
	// the ones that change what the key can do.
	Options    []string `json:"options"`
	From       string   `json:"from,omitempty"`
	Command    string   `json:"command,omitempty"`
	Principals string   `json:"principals,omitempty"`
	ExpiryTime string   `json:"expiry_time,omitempty"`
	Restrict   bool     `json:"restrict,omitempty"`
	// Expired is set when expiry-time has passed: sshd refuses the key.
	Expired bool          `json:"expired,omitempty"`
	Comment string        `json:"comment,omitempty"`
	Risk    provider.Risk `json:"risk"`
	Why     string        `json:"why"`
}

// Principals is an AuthorizedPrincipals file: which certificate
// principals log in as its account.
type Principals struct {
	File       string   `json:"file"`
	Account    string   `json:"account"`
	Principals []string `json:"principals"`
}

// Problem is a place that could not be read.
type Problem = places.Problem

// Report is what examining the system for one public key found.
type Report struct {
	System string   `json:"system"`
	Key    string   `json:"key"` // SHA256:…
	Grants []*Grant `json:"grants"`
	// Principals lists, when the key is a user CA (TrustedUserCAKeys),
	// the AuthorizedPrincipals files that say which certificates it signs
	// log in where. Without any, sshd accepts a certificate for an
	// account when the account's name is one of its principals.
	Principals []Principals `json:"principals"`
	Problems   []Problem    `json:"problems"`
}

// Identify returns the key's identity when a trust file holds its public
// key. An encrypted OpenSSH key still has its public key in clear; an
// encrypted PEM key has none, which is an Invalid error.
func (s *SSH) Identify(ctx context.Context, sec secret.Secret) ([]provider.Match, error) {
	fp, err := places.Fingerprints(s.op, sec)
	if err != nil {
		return nil, err
	}
	r, err := s.Examine(ctx, fp.SSH)
	if err != nil {
		return nil, err
	}
	if len(r.Grants) == 0 {
		return nil, nil
	}
	return []provider.Match{{Ref: provider.IdentityRef{System: s.system, Name: r.Key}, Method: MethodSSH}}, nil
}

// Inspect describes the key named by ref ("SHA256:…"): one privilege per
// line that accepts it, the AuthorizedPrincipals files as related when it
// is a user CA, unreadable places as related "unread" entries.
func (s *SSH) Inspect(ctx context.Context, ref provider.IdentityRef) (*provider.Identity, error) {
	if ref.System == "" {
		ref.System = s.system
	}
	r, err := s.Examine(ctx, ref.Name)
	if err != nil {
		return nil, err
	}
	id := &provider.Identity{Ref: ref, Exists: len(r.Grants) > 0, Privileges: []provider.Privilege{}, Sessions: []provider.Session{}, Related: []provider.Related{}}
	for _, g := range r.Grants {
		id.Privileges = append(id.Privileges, provider.Privilege{
			Name: g.privilegeName(), Risk: g.Risk, Via: fmt.Sprintf("%s:%d", g.File, g.Line),
			CreatesCredentials: g.Kind != KindAuthorizedKey,
		})
		if !g.Expired {
			id.CanLogin = true
		}
	}
	if r.userCA() && len(r.Principals) == 0 {
		id.Related = append(id.Related, provider.Related{Kind: RelatedPrincipals, Name: "any account",
			Detail: "no AuthorizedPrincipals file is listed: sshd accepts a certificate the key signs for every account it names as a principal, root included"})
	}
	for _, p := range r.Principals {
		id.Related = append(id.Related, provider.Related{Kind: RelatedPrincipals, Name: p.File,
			Detail: fmt.Sprintf("a certificate the key signs for principal %s logs in as %s", strings.Join(p.Principals, " or "), p.Account)})
	}
	id.Related = append(id.Related, places.Unread(r.Problems)...)
	return id, nil
}

// Kinds of Related entries this provider reports.
const (
	RelatedPrincipals = "authorized-principals" // an account a certificate signed by the leaked CA key reaches
	RelatedUnread     = places.RelatedUnread    // a place that could not be read: the answer is incomplete
)

// userCA reports whether sshd trusts the key as a CA for every account.
func (r *Report) userCA() bool {
	for _, g := range r.Grants {
		if g.Kind == KindTrustedUserCA && !g.Expired {
			return true
		}
	}
	return false
}

func (g *Grant) privilegeName() string {
	var s string
	switch g.Kind {
	case KindTrustedUserCA:
		s = "user CA trusted by sshd: signs certificates that log in as any account they name"
	case KindCertAuthority:
		s = "cert-authority for " + g.Account + ": signs certificates that log in as " + g.Account
	default:
		s = "login as " + g.Account
	}
	if len(g.Options) > 0 {
		s += " (" + strings.Join(g.Options, ",") + ")"
	}
	return s
}
