package secret

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// Masker is the one place text from outside rekey (a consumer's reload or
// health command printing its config, a driver's error) is cleaned before
// rekey stores or prints it. It replaces with Redacted every secret it was
// given, in each encoding text may hold it in (plain, URL-escaped, base64,
// hex, JSON-escaped), and every word whose fingerprint it was given: the
// leaked secret of an incident is known by its fingerprint alone when the
// command at hand (run, rollback) was not given its value.
//
// A Masker is safe for concurrent use; the nil Masker masks nothing.
type Masker struct {
	mu    sync.RWMutex
	forms []string // longest first, so that a form inside another goes with it
	fp    *Fingerprinter
	fps   map[Fingerprint]bool
}

// minMask is the shortest value masked: a shorter one (a test's one-letter
// password) would mangle words without hiding anything.
const minMask = 4

// NewMasker returns a Masker; fp, which may be nil, lets it match
// fingerprints (AddFingerprint).
func NewMasker(fp *Fingerprinter) *Masker {
	return &Masker{fp: fp, fps: map[Fingerprint]bool{}}
}

// Add registers secrets to mask. Zero secrets are ignored.
func (m *Masker) Add(ss ...Secret) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range ss {
		for _, f := range Forms(s) {
			if len(f) >= minMask && !slices.Contains(m.forms, f) {
				m.forms = append(m.forms, f)
			}
		}
	}
	slices.SortFunc(m.forms, func(a, b string) int { return len(b) - len(a) })
}

// AddFingerprint registers the fingerprint of a secret whose value rekey
// does not hold now. It needs the Masker's Fingerprinter; without one it
// does nothing.
func (m *Masker) AddFingerprint(f Fingerprint) {
	if m == nil || m.fp == nil || f == "" {
		return
	}
	m.mu.Lock()
	m.fps[f] = true
	m.mu.Unlock()
}

// Forms are the encodings of s that text may hold it in.
func Forms(s Secret) []string {
	if s.IsZero() {
		return nil
	}
	v := string(s.b)
	js, _ := json.Marshal(v)
	return []string{v, url.QueryEscape(v), url.PathEscape(v),
		base64.StdEncoding.EncodeToString(s.b), base64.RawStdEncoding.EncodeToString(s.b),
		base64.URLEncoding.EncodeToString(s.b), base64.RawURLEncoding.EncodeToString(s.b),
		hex.EncodeToString(s.b), string(js[1 : len(js)-1])}
}

// Mask returns text with every registered secret replaced by Redacted.
func (m *Masker) Mask(text string) string {
	if m == nil || text == "" {
		return text
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, f := range m.forms {
		text = strings.ReplaceAll(text, f, Redacted)
	}
	if len(m.fps) == 0 {
		return text
	}
	return m.maskFingerprints(text)
}

// Holds reports whether text holds a registered secret.
func (m *Masker) Holds(text string) bool { return m.Mask(text) != text }

// wordBreak ends a word: where a secret printed in config output or a
// log line starts or stops.
func wordBreak(r byte) bool {
	switch r {
	case ' ', '\t', '\n', '\r', '"', '\'', '`', ',', ';', '(', ')', '[', ']', '{', '}', '<', '>', '|':
		return true
	}
	return false
}

// partBreak splits a word into the parts of a URL, a DSN or a key=value
// pair: a secret may also hold these characters, so runs of up to
// maxParts parts are tried as well.
func partBreak(r byte) bool {
	switch r {
	case '=', ':', '@', '/', '?', '&', '#':
		return true
	}
	return false
}

const maxParts = 4

// maskFingerprints replaces each word, or run of a word's parts, whose
// fingerprint (as written, or URL-unescaped) is registered.
func (m *Masker) maskFingerprints(text string) string {
	type span struct{ from, to int }
	var hits []span
	match := func(s string) bool {
		if len(s) < minMask {
			return false
		}
		if m.fps[m.fp.OfBytes([]byte(s))] {
			return true
		}
		if strings.ContainsAny(s, "%+") {
			if u, err := url.QueryUnescape(s); err == nil && u != s && m.fps[m.fp.OfBytes([]byte(u))] {
				return true
			}
		}
		return false
	}
	for i := 0; i < len(text); {
		if wordBreak(text[i]) {
			i++
			continue
		}
		j := i
		for j < len(text) && !wordBreak(text[j]) {
			j++
		}
		// The word's part boundaries, then every run of up to maxParts
		// parts, longest first.
		cuts := []int{i - 1}
		for k := i; k < j; k++ {
			if partBreak(text[k]) {
				cuts = append(cuts, k)
			}
		}
		cuts = append(cuts, j)
		for a := 0; a < len(cuts)-1; a++ {
			for b := min(len(cuts)-1, a+maxParts); b > a; b-- {
				if from, to := cuts[a]+1, cuts[b]; from < to && match(text[from:to]) {
					hits = append(hits, span{from, to})
					break
				}
			}
		}
		i = j
	}
	if len(hits) == 0 {
		return text
	}
	var sb strings.Builder
	last := 0
	for _, h := range hits {
		if h.from < last {
			h.from = last // overlapping runs: mask their union
		}
		if h.from >= h.to {
			continue
		}
		sb.WriteString(text[last:h.from])
		sb.WriteString(Redacted)
		last = h.to
	}
	sb.WriteString(text[last:])
	return sb.String()
}
