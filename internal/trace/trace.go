// Package trace finds every copy of one known secret in bytes, whatever
// detection rule would or would not match it: the plain value, its base64
// forms (standard and URL alphabets, padded or not, standalone or embedded at
// any byte alignment inside a longer base64 blob), its percent-encoded,
// JSON- and string-escaped and hex forms, and partial copies (a redacted or
// truncated copy that keeps at least the first PartialMin characters).
//
// All forms are derived once, in New, and searched for with one
// Aho-Corasick automaton, so Find is one pass over the data however many
// forms the secret has.
package trace

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	ahocorasick "github.com/petar-dambovaliev/aho-corasick"

	"github.com/rekeyhq/rekey/internal/secret"
)

// Encoding names, as reported in Match.Encoding.
const (
	Plain       = "plain"
	Base64      = "base64"
	URL         = "url"
	JSONEscaped = "json-escaped"
	Hex         = "hex"
)

// MinLen is the shortest secret New accepts: shorter values match too much
// unrelated data to be worth tracing.
const MinLen = 4

// PartialMin is how many leading characters a redacted or truncated copy
// must keep to be reported as a partial match. Secrets of PartialMin
// characters or fewer have no partial matches.
const PartialMin = 8

// minBase64 is the shortest base64 pattern that does not carry the whole
// secret (the part of an embedded encoding that is independent of the
// surrounding bytes) still worth searching for.
const minBase64 = 8

// Match is one copy of the secret. Start and End are byte offsets in the
// data given to Find; for a base64 copy embedded in a longer blob they span
// the characters that depend on the secret alone.
type Match struct {
	Start, End int
	// Encoding is Plain, Base64, URL, JSONEscaped or Hex.
	Encoding string
	// Partial is set for a redacted or truncated copy; the span then covers
	// the kept leading part and the redaction marker, if any.
	Partial bool
}

// form is one full encoded form of the secret.
type form struct {
	b   []byte
	enc string
}

// pattern is one distinct byte string in the automaton. It can be a full
// form (enc != ""), the leading part of one or more full forms (prefixOf),
// or both.
type pattern struct {
	b        []byte
	enc      string
	prefixOf []form
}

// Matcher finds the copies of one secret. It holds forms derived from the
// secret, never prints them, and is safe for concurrent use.
type Matcher struct {
	ac   ahocorasick.AhoCorasick
	pats []pattern
	// A shift-and prefilter over the first width bytes of every pattern
	// (bit j of sets[c] is set when some pattern has c at offset j) marks
	// where a pattern may start; the automaton runs only on windows of
	// maxLen bytes from there. It cannot miss a match: a pattern at s
	// always sets bit width-1 at s+width-1.
	sets   [256]uint64
	width  int
	maxLen int
}

// Format keeps the derived forms out of every fmt verb.
func (Matcher) Format(f fmt.State, _ rune) {
	_, _ = f.Write([]byte("trace.Matcher" + secret.Redacted))
}

// MaxLen is the longest form searched for. A source that splits a file into
// chunks must overlap them by at least this much for a copy across the
// split to be seen whole; a copy cut by the end of a chunk's data is
// otherwise reported as partial.
func (m *Matcher) MaxLen() int { return m.maxLen }

// New derives every form of s and builds the automaton.
func New(s secret.Secret) (*Matcher, error) {
	v := s.Reveal()
	if len(v) == 0 {
		return nil, errors.New("trace: empty secret")
	}
	if len(v) < MinLen {
		return nil, fmt.Errorf("trace: secret shorter than %d bytes", MinLen)
	}
	b := &builder{idx: map[string]int{}}
	str := string(v)

	// Character-wise forms, in priority order: when two encodings yield the
	// same bytes, the first one names the match. Their leading-part
	// patterns find partial copies.
	head := leading(str, PartialMin)
	for _, t := range textForms() {
		full := t.fn(str)
		b.full(full, t.enc)
		if head != "" {
			if h := t.fn(head); len(h) < len(full) && strings.HasPrefix(full, h) {
				b.prefix(h, form{[]byte(full), t.enc})
			}
		}
	}
	for _, p := range base64Forms(v) {
		b.full(p, Base64)
	}
	m := &Matcher{pats: b.pats}
	ab := ahocorasick.NewAhoCorasickBuilder(ahocorasick.Opts{
		MatchKind: ahocorasick.StandardMatch,
		DFA:       true,
	})
	pats := make([][]byte, len(b.pats))
	m.width = 64
	for i, p := range b.pats {
		pats[i] = p.b
		m.width = min(m.width, len(p.b))
		m.maxLen = max(m.maxLen, len(p.b))
	}
	for _, p := range pats {
		for j, c := range p[:m.width] {
			m.sets[c] |= 1 << j
		}
	}
	m.ac = ab.BuildByte(pats)
	return m, nil
}

type builder struct {
	idx  map[string]int
	pats []pattern
}

func (b *builder) get(p string) *pattern {
	i, ok := b.idx[p]
	if !ok {
		i = len(b.pats)
		b.idx[p] = i
		b.pats = append(b.pats, pattern{b: []byte(p)})
	}
	return &b.pats[i]
}

func (b *builder) full(p, enc string) {
	if pt := b.get(p); pt.enc == "" {
		pt.enc = enc
	}
}

func (b *builder) prefix(p string, f form) {
	pt := b.get(p)
	for _, o := range pt.prefixOf {
		if bytes.Equal(o.b, f.b) {
			return
		}
	}
	pt.prefixOf = append(pt.prefixOf, f)
}

// leading returns the first n characters of s (bytes if s is not UTF-8),
// or "" when s is not longer than that.
func leading(s string, n int) string {
	if !utf8.ValidString(s) {
		if len(s) <= n {
			return ""
		}
		return s[:n]
	}
	i := 0
	for k := 0; k < n; k++ {
		if i >= len(s) {
			return ""
		}
		_, w := utf8.DecodeRuneInString(s[i:])
		i += w
	}
	if i >= len(s) {
		return ""
	}
	return s[:i]
}

type textForm struct {
	enc string
	fn  func(string) string
}

// textForms lists the character-wise encodings: the encoding of a prefix
// is a prefix of the encoding, which is what partial matching relies on.
func textForms() []textForm {
	var out []textForm
	add := func(enc string, fns ...func(string) string) {
		for _, f := range fns {
			out = append(out, textForm{enc, f})
		}
	}
	add(Plain, func(s string) string { return s })
	for _, f := range []func(string) string{
		url.QueryEscape,
		url.PathEscape,
		func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }, // RFC 3986 strict
		encodeURIComponent,
	} {
		add(URL, f, func(s string) string { return lowerPercent(f(s)) })
	}
	for _, html := range []bool{true, false} {
		for _, slash := range []bool{false, true} {
			for _, ascii := range []bool{false, true} {
				add(JSONEscaped, func(s string) string { return jsonEscape(s, html, slash, ascii) })
			}
		}
	}
	add(JSONEscaped,
		func(s string) string { q := strconv.Quote(s); return q[1 : len(q)-1] },
		func(s string) string { q := strconv.QuoteToASCII(s); return q[1 : len(q)-1] },
		strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace,                        // YAML/TOML double-quoted, minimal
		strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`, "`", "\\`").Replace, // shell double-quoted
		strings.NewReplacer(`'`, `''`).Replace,                                   // YAML single-quoted, SQL
		strings.NewReplacer(`'`, `'\''`).Replace,                                 // shell single-quoted
	)
	add(Hex, func(s string) string { return hex.EncodeToString([]byte(s)) }, func(s string) string { return strings.ToUpper(hex.EncodeToString([]byte(s))) })
	return out
}

// encodeURIComponent is JavaScript's: everything but A-Z a-z 0-9 - _ . ! ~ * ' ( )
// is percent-encoded as UTF-8 bytes, space included.
func encodeURIComponent(s string) string {
	const hexd = "0123456789ABCDEF"
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.!~*'()", c) >= 0 {
			sb.WriteByte(c)
			continue
		}
		sb.WriteByte('%')
		sb.WriteByte(hexd[c>>4])
		sb.WriteByte(hexd[c&15])
	}
	return sb.String()
}

// lowerPercent lower-cases the hex digits of every %XX escape.
func lowerPercent(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1] = lowerHex(b[i+1])
			b[i+2] = lowerHex(b[i+2])
			i += 2
		}
	}
	return string(b)
}

func lowerHex(c byte) byte {
	if 'A' <= c && c <= 'F' {
		return c + 'a' - 'A'
	}
	return c
}

// jsonEscape is the inside of a JSON string literal as Go's encoder writes
// it (html: <, > and & as \u003c…), optionally with / as \/ (PHP, some Java
// encoders) and non-ASCII as \uXXXX (Python's default ensure_ascii).
func jsonEscape(s string, html, slash, ascii bool) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(html)
	if err := enc.Encode(s); err != nil {
		return s
	}
	out := strings.TrimSuffix(buf.String(), "\n")
	out = out[1 : len(out)-1]
	if slash {
		out = strings.ReplaceAll(out, "/", `\/`)
	}
	if ascii {
		var sb strings.Builder
		for _, r := range out {
			switch {
			case r < utf8.RuneSelf:
				sb.WriteRune(r)
			case r > 0xFFFF:
				r -= 0x10000
				fmt.Fprintf(&sb, `\u%04x\u%04x`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
			default:
				fmt.Fprintf(&sb, `\u%04x`, r)
			}
		}
		out = sb.String()
	}
	return out
}

// base64Forms returns the base64 patterns of v: for each alphabet and each
// alignment k (the secret preceded by k bytes of its 3-byte group), the
// characters that depend on the secret alone (core), and the core followed
// by the zero-filled last character, unpadded and padded, for a secret at
// the end of the encoded data.
func base64Forms(v []byte) []string {
	var out []string
	n := len(v)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		raw := enc.WithPadding(base64.NoPadding)
		for k := range 3 {
			buf := make([]byte, k+n)
			copy(buf[k:], v)
			drop := [3]int{0, 2, 3}[k] // leading chars that depend on the k bytes before
			det := 8 * (k + n) / 6     // chars that do not depend on the bytes after
			unpadded := raw.EncodeToString(buf)[drop:]
			padded := enc.EncodeToString(buf)[drop:]
			core := unpadded[:det-drop]
			whole := k == 0 // the pattern carries every bit of the secret
			if len(core) >= minBase64 || whole && len(core) == len(unpadded) {
				out = append(out, core)
			}
			for _, p := range []string{unpadded, padded} {
				if len(p) >= minBase64 || whole {
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// Find returns every copy of the secret in data, ordered by Start, with no
// two overlapping: where forms overlap, the leftmost and then longest wins.
func (m *Matcher) Find(data []byte) []Match {
	var cands []Match
	// Windows [ws, we) are disjoint, and each holds whole every pattern
	// that starts inside it, so each match is found exactly once.
	ws, we := -1, -1
	var d uint64
	last := uint64(1) << (m.width - 1)
	for i, c := range data {
		d = (d<<1 | 1) & m.sets[c]
		if d&last == 0 {
			continue
		}
		s := i - m.width + 1
		if s >= we {
			if ws >= 0 {
				cands = m.window(cands, data, ws, we)
			}
			ws = s
		}
		we = min(len(data), s+m.maxLen)
	}
	if ws >= 0 {
		cands = m.window(cands, data, ws, we)
	}
	if len(cands) < 2 {
		return cands
	}
	slices.SortStableFunc(cands, func(a, b Match) int {
		if a.Start != b.Start {
			return a.Start - b.Start
		}
		if a.End != b.End {
			return b.End - a.End
		}
		if a.Partial != b.Partial {
			if a.Partial {
				return 1
			}
			return -1
		}
		return 0
	})
	out := cands[:1]
	for _, c := range cands[1:] {
		if c.Start >= out[len(out)-1].End {
			out = append(out, c)
		}
	}
	return out
}

// window runs the automaton on data[ws:we], adding what it finds.
func (m *Matcher) window(cands []Match, data []byte, ws, we int) []Match {
	it := m.ac.IterOverlappingByte(data[ws:we])
	for h := it.Next(); h != nil; h = it.Next() {
		p := &m.pats[h.Pattern()]
		s, e := ws+h.Start(), ws+h.End()
		if p.enc != "" {
			cands = append(cands, Match{Start: s, End: e, Encoding: p.enc})
		}
		if len(p.prefixOf) > 0 {
			if c, ok := partial(data, s, p.prefixOf); ok {
				cands = append(cands, c)
			}
		}
	}
	return cands
}

// partial decides whether the leading part of a form found at s is a
// redacted or truncated copy: the bytes go on equal to the form for a while
// and then stop at a redaction marker or a delimiter, not at a different
// character that would make it another token.
func partial(data []byte, s int, forms []form) (Match, bool) {
	best, found := Match{}, false
	for _, f := range forms {
		if s > 0 && isAlnum(data[s-1]) && isAlnum(f.b[0]) {
			return Match{}, false // the token started earlier: a different value
		}
		rest := data[s:]
		l := commonPrefix(rest, f.b)
		if l == len(f.b) {
			return Match{}, false // a whole copy, reported as such
		}
		mark, ok := marker(rest[l:])
		if !ok {
			continue
		}
		if c := (Match{Start: s, End: s + l + mark, Encoding: f.enc, Partial: true}); !found || c.End > best.End {
			best, found = c, true
		}
	}
	return best, found
}

func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// marker reports whether rest, what follows the kept part of a copy, starts
// with a redaction marker (its length) or a delimiter (length 0).
func marker(rest []byte) (int, bool) {
	if len(rest) == 0 {
		return 0, true
	}
	switch c := rest[0]; c {
	case '*', '#':
		return run(rest, func(b byte) bool { return b == c }), true
	case 'x', 'X':
		if n := run(rest, func(b byte) bool { return b == 'x' || b == 'X' }); n >= 3 {
			return n, true
		}
		return 0, false
	case '.':
		if n := run(rest, func(b byte) bool { return b == '.' }); n >= 3 {
			return n, true
		}
		return 0, false
	case '[':
		if hasFoldPrefix(rest, "[REDACTED]") {
			return len("[REDACTED]"), true
		}
		return 0, false
	case '<':
		if hasFoldPrefix(rest, "<redacted>") {
			return len("<redacted>"), true
		}
		return 0, true
	}
	if bytes.HasPrefix(rest, []byte("…")) {
		return len("…"), true
	}
	return 0, isDelim(rest[0])
}

func run(b []byte, f func(byte) bool) int {
	n := 0
	for n < len(b) && f(b[n]) {
		n++
	}
	return n
}

func hasFoldPrefix(b []byte, p string) bool {
	return len(b) >= len(p) && bytes.EqualFold(b[:len(p)], []byte(p))
}

func isDelim(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\v', '\f', '"', '\'', '`', ',', ')', ']', '}', '<', '&', ';', '\\':
		return true
	}
	return false
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
