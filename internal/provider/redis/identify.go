package redis

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"sort"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
)

// Match methods.
const (
	// MethodSHA256 proves a match: the SHA-256 of the secret is one of the
	// user's stored password hashes.
	MethodSHA256 = "acl-sha256"
	// MethodNoPass is an enabled nopass user: the server accepts any
	// password for it, the secret included. It proves nothing about whose
	// secret it is, so it is a finding of IdentifyReport, never a Match
	// of Identify.
	MethodNoPass = "nopass"
)

// getUserBatch is how many ACL GETUSER commands go in one pipeline.
const getUserBatch = 256

// Skip is a user whose stored passwords could not be tested, with why. The
// reason never quotes a hash.
type Skip struct {
	User   string
	Reason string
}

// Report is what IdentifyReport found.
type Report struct {
	// Matches are the users with a stored hash equal to the secret's:
	// more than one is password reuse. A user that is off is matched all
	// the same (the secret is its password); Inspect says it cannot log in.
	Matches []provider.Match
	// NoPass are the enabled nopass users, with Method "nopass": the
	// secret, like any string, logs in as each of them. Listed so that a
	// responder sees who anyone can be, not as owners of the secret.
	NoPass  []provider.Match
	Checked int    // users whose hashes were compared
	Skipped []Skip // users with a stored hash rekey cannot read
}

// Identify returns every user with a stored password hash equal to the
// SHA-256 of s, compared in constant time. It reads ACL USERS and ACL
// GETUSER; it authenticates as no one and changes nothing, so the server
// records no login or failed login (ACL LOG) for any user. Enabled nopass
// users accept s too but are not matches: see IdentifyReport.
func (p *Redis) Identify(ctx context.Context, s secret.Secret) ([]provider.Match, error) {
	r, err := p.IdentifyReport(ctx, s)
	if err != nil {
		return nil, err
	}
	return r.Matches, nil
}

// IdentifyReport is Identify that also lists the enabled nopass users, how
// many users it compared and which it skipped.
func (p *Redis) IdentifyReport(ctx context.Context, s secret.Secret) (*Report, error) {
	r, err := p.identify(ctx, s)
	return r, p.san.Scrub(err, string(s.Reveal()))
}

func (p *Redis) identify(ctx context.Context, s secret.Secret) (*Report, error) {
	if s.IsZero() {
		return nil, errs.New(p.op, errs.Invalid, "", "identify: empty secret")
	}
	sum := sha256.Sum256(s.Reveal())
	users, err := p.users(ctx, "identify", needIdentify)
	if err != nil {
		return nil, err
	}
	r := &Report{}
	for start := 0; start < len(users); start += getUserBatch {
		batch := users[start:min(start+getUserBatch, len(users))]
		cmds := make([][]string, len(batch))
		for i, name := range batch {
			cmds[i] = []string{"ACL", "GETUSER", name}
		}
		vs, err := p.exec(ctx, "identify", cmds...)
		if err != nil {
			return nil, err
		}
		for i, v := range vs {
			if se, ok := v.err().(*serverError); ok {
				return nil, p.replyErr("identify", needIdentify, se)
			}
			if v.null {
				continue // deleted since ACL USERS
			}
			u, err := userFromGetUser(batch[i], v)
			if err != nil {
				r.Skipped = append(r.Skipped, Skip{User: batch[i], Reason: "ACL GETUSER reply rekey cannot read"})
				continue
			}
			p.compare(r, u, sum[:])
		}
	}
	sort.Slice(r.Matches, func(a, b int) bool { return r.Matches[a].Ref.Name < r.Matches[b].Ref.Name })
	sort.Slice(r.NoPass, func(a, b int) bool { return r.NoPass[a].Ref.Name < r.NoPass[b].Ref.Name })
	return r, nil
}

// compare tests every stored hash of u against sum, without stopping at
// the first match or at a malformed hash.
func (p *Redis) compare(r *Report, u *User, sum []byte) {
	ref := provider.IdentityRef{System: p.system, Name: u.Name}
	if u.NoPass {
		if u.On {
			r.NoPass = append(r.NoPass, provider.Match{Ref: ref, Method: MethodNoPass})
		}
		return
	}
	match, bad := 0, false
	var stored [sha256.Size]byte
	for _, h := range u.Passwords {
		if len(h) != 2*sha256.Size {
			bad = true
			continue
		}
		if _, err := hex.Decode(stored[:], []byte(h)); err != nil {
			bad = true
			continue
		}
		match |= subtle.ConstantTimeCompare(stored[:], sum)
	}
	switch {
	case match == 1:
		r.Matches = append(r.Matches, provider.Match{Ref: ref, Method: MethodSHA256})
		r.Checked++
	case bad:
		r.Skipped = append(r.Skipped, Skip{User: u.Name, Reason: "a stored password hash is not 64 hex digits"})
	default:
		r.Checked++
	}
}

// needIdentify is what Identify's administrator must be allowed.
const needIdentify = "+acl|users and +acl|getuser (or +@admin) to read the stored password hashes"

// users lists the ACL users.
func (p *Redis) users(ctx context.Context, what, need string) ([]string, error) {
	vs, err := p.exec(ctx, what, []string{"ACL", "USERS"})
	if err != nil {
		return nil, err
	}
	if se, ok := vs[0].err().(*serverError); ok {
		return nil, p.replyErr(what, need, se)
	}
	names, ok := vs[0].strings()
	if !ok {
		return nil, errs.New(p.op, errs.Other, "", what+": ACL USERS: malformed reply")
	}
	return names, nil
}
