package logs

import (
	"bytes"

	ahocorasick "github.com/petar-dambovaliev/aho-corasick"
)

// KeyFilter is a byte-level prefilter: whether a raw record may concern one
// of the credentials under review, before any decoding. The zero value
// and nil accept every record.
type KeyFilter struct {
	keys [][]byte
	ac   *ahocorasick.AhoCorasick // for many keys; nil otherwise
}

// acThreshold is the number of patterns from which one Aho-Corasick pass
// beats a bytes.Contains per pattern.
const acThreshold = 8

// NewKeyFilter returns a filter accepting records that contain one of keys
// (as written, or with "/" escaped as "\/" as some JSON encoders write
// it). Empty keys are ignored; with none left it accepts every record.
func NewKeyFilter(keys ...string) *KeyFilter {
	f := &KeyFilter{}
	seen := map[string]bool{}
	add := func(k string) {
		if k != "" && !seen[k] {
			seen[k] = true
			f.keys = append(f.keys, []byte(k))
		}
	}
	for _, k := range keys {
		add(k)
		add(string(bytes.ReplaceAll([]byte(k), []byte("/"), []byte(`\/`))))
	}
	if len(f.keys) >= acThreshold {
		b := ahocorasick.NewAhoCorasickBuilder(ahocorasick.Opts{MatchKind: ahocorasick.LeftMostFirstMatch, DFA: true})
		ac := b.BuildByte(f.keys)
		f.ac = &ac
	}
	return f
}

// Match reports whether raw may concern a key of the filter.
func (f *KeyFilter) Match(raw []byte) bool {
	if f == nil || len(f.keys) == 0 {
		return true
	}
	if f.ac != nil {
		return f.ac.IterByte(raw).Next() != nil
	}
	for _, k := range f.keys {
		if bytes.Contains(raw, k) {
			return true
		}
	}
	return false
}

// TrimHead drops a byte-order mark and leading white space from the head
// of a file, for Sniff functions that look at its first character.
func TrimHead(head []byte) []byte {
	return bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n")
}
