// Package token makes and checks the service's API tokens (DESIGN "The
// service"): `rekey_` + 32 random base62 characters (190 bits) + the
// CRC32 of those 32 in 6 base62 digits, the layout GitHub's tokens use.
// The checksum lets a scanner (the rekey-api-token rule) tell a real
// token from a look-alike, and lets a client refuse a mistyped one,
// without asking anyone.
//
// A token is shown once, when it is made; the store keeps the SHA-256 of
// the whole token, its name, role, creator and times. Authenticator turns
// a presented token back into an auth.Principal.
package token

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/actor"
	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
)

const (
	// Prefix starts every token.
	Prefix = "rekey_"
	// RandomLen base62 characters carry 32·log2(62) ≈ 190 bits.
	RandomLen = 32
	// SumLen base62 digits hold a CRC32 (62^6 > 2^32).
	SumLen = 6
	// Len is a token's length.
	Len = len(Prefix) + RandomLen + SumLen
	// DefaultTTL is how long a token lives unless told otherwise.
	DefaultTTL = 720 * time.Hour
	// TouchEvery bounds how often a token's last use is written.
	TouchEvery = time.Minute
	// maxName keeps names readable in the audit log and in tables.
	maxName = 64
)

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// New makes a token.
func New() (secret.Secret, error) {
	b := make([]byte, 0, Len)
	b = append(b, Prefix...)
	buf := make([]byte, 64)
	defer clear(buf)
	for len(b) < len(Prefix)+RandomLen {
		if _, err := rand.Read(buf); err != nil {
			return secret.Secret{}, err
		}
		for _, c := range buf {
			// 248 = 4·62: rejecting the rest keeps every character
			// equally likely.
			if c < 248 && len(b) < len(Prefix)+RandomLen {
				b = append(b, alphabet[c%62])
			}
		}
	}
	b = append(b, checksum(b[len(Prefix):])...)
	return secret.New(b), nil
}

// checksum is the CRC32 (IEEE) of body in SumLen base62 digits.
func checksum(body []byte) []byte {
	n := crc32.ChecksumIEEE(body)
	out := make([]byte, SumLen)
	for i := SumLen - 1; i >= 0; i-- {
		out[i] = alphabet[n%62]
		n /= 62
	}
	return out
}

// Valid reports whether s has a token's layout and its checksum holds.
// It says nothing about whether the token exists.
func Valid(s []byte) bool {
	if len(s) != Len || string(s[:len(Prefix)]) != Prefix {
		return false
	}
	for _, c := range s[len(Prefix):] {
		if strings.IndexByte(alphabet, c) < 0 {
			return false
		}
	}
	body := s[len(Prefix) : len(Prefix)+RandomLen]
	return subtle.ConstantTimeCompare(checksum(body), s[len(Prefix)+RandomLen:]) == 1
}

// Hash is what the store keeps of a token: SHA-256 in lower-case hex.
func Hash(s []byte) string {
	h := sha256.Sum256(s)
	return hex.EncodeToString(h[:])
}

// NameKey checks a token's name and returns the key it is unique by
// (actor.Key: "Alice" and "alice" are one name).
func NameKey(name string) (string, error) {
	if len(name) > maxName {
		return "", errs.New("token", errs.Invalid, "", fmt.Sprintf("a token name is at most %d bytes", maxName))
	}
	k, err := actor.Key(name)
	if err != nil {
		return "", errs.New("token", errs.Invalid, "", fmt.Sprintf("%q is not a usable token name (--name): give letters, digits, spaces or punctuation, in one script", name))
	}
	return k, nil
}

// Create makes a token for name with role, living ttl from now, and
// stores its hash. The token is returned once, here.
func Create(ctx context.Context, st store.Tokens, name string, role auth.Role, ttl time.Duration, by string, now time.Time) (secret.Secret, store.Token, error) {
	const op = "token create"
	key, err := NameKey(name)
	if err != nil {
		return secret.Secret{}, store.Token{}, err
	}
	if _, err := auth.ParseRole(string(role)); err != nil {
		return secret.Secret{}, store.Token{}, errs.E(op, errs.Invalid, name, err)
	}
	if ttl <= 0 {
		return secret.Secret{}, store.Token{}, errs.New(op, errs.Invalid, name, "--ttl must be positive (a token that never expires is not offered)")
	}
	tok, err := New()
	if err != nil {
		return secret.Secret{}, store.Token{}, errs.E(op, errs.Other, name, err)
	}
	now = now.UTC()
	t := store.Token{Name: strings.TrimSpace(name), NameKey: key, Hash: Hash(tok.Reveal()), Role: string(role),
		Created: now, CreatedBy: by, Expires: now.Add(ttl)}
	if err := st.CreateToken(ctx, t); err != nil {
		tok.Wipe()
		return secret.Secret{}, store.Token{}, err
	}
	return tok, t, nil
}

// Revoke revokes the live token called name (see store.Tokens.RevokeToken).
func Revoke(ctx context.Context, st store.Tokens, name string, now time.Time) (store.Token, error) {
	key, err := NameKey(name)
	if err != nil {
		return store.Token{}, err
	}
	return st.RevokeToken(ctx, key, now.UTC())
}

// Authenticator checks presented tokens against a store.
type Authenticator struct {
	Store store.Tokens
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

var _ auth.Authenticator = (*Authenticator)(nil)

// Authenticate returns the principal of bearer. A malformed token, a bad
// checksum, an unknown token, or one whose role this rekey does not know
// are all auth.ErrUnauthenticated, not told apart: a caller learns nothing
// about which tokens exist. A revoked or expired token is auth.ErrRevoked
// (also ErrUnauthenticated), which only its holder can provoke. A store failure is
// returned as it is. The token's last use is written at most once every
// TouchEvery; failing to write it does not refuse the token.
func (a *Authenticator) Authenticate(ctx context.Context, bearer string) (auth.Principal, error) {
	const op = "token"
	no := errs.E(op, errs.Permission, "", auth.ErrUnauthenticated)
	b := []byte(bearer)
	if !Valid(b) {
		return auth.Principal{}, no
	}
	h := Hash(b)
	t, ok, err := a.Store.TokenByHash(ctx, h)
	if err != nil {
		return auth.Principal{}, err
	}
	// The row was found by its hash; comparing again in constant time
	// costs nothing and does not lean on how the database compares.
	if !ok || subtle.ConstantTimeCompare([]byte(t.Hash), []byte(h)) != 1 {
		return auth.Principal{}, no
	}
	now := time.Now()
	if a.Now != nil {
		now = a.Now()
	}
	if t.Revoked != nil || !now.Before(t.Expires) {
		return auth.Principal{}, errs.E(op, errs.Permission, "", auth.ErrRevoked)
	}
	role, err := auth.ParseRole(t.Role)
	if err != nil {
		return auth.Principal{}, no
	}
	if t.LastUsed == nil || now.Sub(*t.LastUsed) >= TouchEvery {
		_ = a.Store.TouchToken(ctx, h, now.UTC(), TouchEvery)
	}
	return auth.Principal{Name: t.Name, Role: role, Via: "token"}, nil
}
