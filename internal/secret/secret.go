// Package secret holds credential values in memory in a type that cannot be
// printed, logged or encoded in clear, and derives what may be stored about
// them instead: a keyed fingerprint and a redacted preview.
package secret

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"unicode/utf8"
)

// Redacted is what every formatting path prints instead of a secret's value.
const Redacted = "[REDACTED]"

// Secret is a credential value. Its bytes are unexported and every way Go has
// of turning a value into text (fmt verbs, String, JSON, text marshalling,
// slog) yields Redacted. The func field makes Secret incomparable with ==, so
// callers are pushed to Equal, which runs in constant time.
type Secret struct {
	b []byte
	_ [0]func()
}

// New copies b into a Secret; the caller may reuse b afterwards.
func New(b []byte) Secret {
	c := make([]byte, len(b))
	copy(c, b)
	return Secret{b: c}
}

// FromString is New for a string value.
func FromString(s string) Secret { return New([]byte(s)) }

// Reveal returns the secret's bytes. Every call site is a place where the
// value leaves the type's protection; keep them few and obvious.
func (s Secret) Reveal() []byte { return s.b }

// Len is the value's length in bytes.
func (s Secret) Len() int { return len(s.b) }

// IsZero reports whether the secret holds no value.
func (s Secret) IsZero() bool { return len(s.b) == 0 }

// Equal compares two secrets in constant time (for equal lengths).
func (s Secret) Equal(o Secret) bool {
	return subtle.ConstantTimeCompare(s.b, o.b) == 1
}

// Wipe overwrites the value in memory. Go may have copied it elsewhere, so
// this narrows exposure rather than guaranteeing erasure.
func (s *Secret) Wipe() {
	for i := range s.b {
		s.b[i] = 0
	}
	s.b = nil
}

func (Secret) String() string                { return Redacted }
func (Secret) GoString() string              { return Redacted }
func (Secret) MarshalJSON() ([]byte, error)  { return []byte(`"` + Redacted + `"`), nil }
func (Secret) MarshalText() ([]byte, error)  { return []byte(Redacted), nil }
func (Secret) LogValue() slog.Value          { return slog.StringValue(Redacted) }
func (Secret) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(Redacted)) }

// Preview is a redacted form that lets a person recognise a secret without
// learning it: a few leading characters (often a public prefix such as
// "ghp_") and, for long values, the last three. Short values show less,
// because each shown character of a short password is a large share of it.
func (s Secret) Preview() string { return Preview(s.b) }

// Preview redacts raw bytes the way Secret.Preview does.
func Preview(b []byte) string {
	// A PEM block's armour line names the key type and is not secret; its
	// first and last characters are dashes, which would tell nothing.
	if rest, ok := bytes.CutPrefix(b, []byte("-----BEGIN ")); ok {
		if end := bytes.Index(rest, []byte("-----")); end > 0 && end < 64 {
			return "-----BEGIN " + string(rest[:end]) + "-----…"
		}
	}
	r := []rune(string(b))
	if !utf8.Valid(b) {
		r = []rune(fmt.Sprintf("%x", b))
	}
	n := len(r)
	switch {
	case n < 8:
		return "…"
	case n < 16:
		return string(r[:2]) + "…"
	case n < 24:
		return string(r[:4]) + "…"
	default:
		return string(r[:4]) + "…" + string(r[n-3:])
	}
}
