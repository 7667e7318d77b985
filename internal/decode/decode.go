// Package decode finds values that a file stores encoded and that rules
// would therefore never see: a Kubernetes Secret's base64 data, the base64
// user:password of a docker config's auths, long base64 blobs in CI
// variables and dotenv files. Expand decodes them into extra byte strings,
// each labelled with where its encoded value sits in the original file, for
// the caller to scan alongside the file itself.
//
// Expand runs on every file of a tree, so it checks cheaply first (a path
// pattern or a marker such as "kind: Secret" or "auths") and parses only
// files that pass. It never fails: data it cannot parse yields nothing.
package decode

import (
	"bytes"
	"encoding/base64"
	"slices"
	"unicode"
	"unicode/utf8"
)

// Base64 is the only encoding Expand decodes today.
const Base64 = "base64"

// maxParse bounds the files Expand parses; manifests and CI files are far
// smaller, and a larger file is most likely data.
const maxParse = 16 << 20

// maxNest bounds decoding inside decoded values (a .dockerconfigjson inside
// a Secret holds base64 auths of its own).
const maxNest = 3

// Decoded is one decoded value to scan in addition to the file.
type Decoded struct {
	// Data is the text to scan. A value that is a file in its own right (a
	// .dockerconfigjson, a kubeconfig, a PEM key, an ini or dotenv file) is
	// given whole; a single-line value is given as `key: "value"` so that a
	// rule keyed on the name (password=…) can match it; a docker auth as
	// `registry=<host> user=<user> password: "<password>"`.
	Data []byte
	// Line and Column (1-based, Column in bytes) of the encoded value's
	// first character in the original data. Every finding in Data is
	// reported there: offsets inside Data do not map back to the file.
	Line, Column int
	// Encoding is how the value was stored: Base64.
	Encoding string
	// Key names the value: the Secret data key, the CI variable,
	// "auths.<registry>.auth"; for a value decoded out of another decoded
	// value, the outer key and the inner one joined with "/".
	Key string
}

// Expand returns the decoded values of data, a file at path, in the order
// their encoded values appear. It returns nil when there is nothing to
// decode or the data does not parse, and never panics.
func Expand(path string, data []byte) (out []Decoded) {
	if len(data) == 0 || len(data) > maxParse {
		return nil
	}
	defer func() {
		if recover() != nil {
			out = nil
		}
	}()
	return expand(path, data, 0)
}

// hit is a decoded value at a byte offset of the data being expanded.
type hit struct {
	off  int
	key  string
	data []byte
}

// expander collects the hits of one file (or one decoded value).
type expander struct {
	hits  []hit
	depth int
}

func expand(path string, data []byte, depth int) []Decoded {
	e := &expander{depth: depth}
	isJSON := looksJSON(data)
	var docs []*node
	parsed := false
	parse := func() []*node {
		if !parsed {
			parsed = true
			if isJSON {
				if n, err := parseJSON(data); err == nil {
					docs = []*node{n}
				}
			} else {
				docs = parseYAML(data)
			}
		}
		return docs
	}
	if mayBeK8sSecret(data) {
		for _, d := range parse() {
			e.k8s(d, 0)
		}
	}
	if isJSON && mayBeDocker(path, data) {
		for _, d := range parse() {
			e.docker(d, isDockercfg(path))
		}
	}
	switch ciKind(path) {
	case ciYAML:
		if ds := parse(); len(ds) > 0 {
			for _, d := range ds {
				e.ci(d, 0)
			}
		} else {
			e.envLines(data)
		}
	case ciLines:
		e.envLines(data)
	}
	if len(e.hits) == 0 {
		return nil
	}
	slices.SortStableFunc(e.hits, func(a, b hit) int { return a.off - b.off })
	lines := newLineIndex(data)
	out := make([]Decoded, 0, len(e.hits))
	for _, h := range e.hits {
		line, col := lines.position(h.off)
		out = append(out, Decoded{Data: h.data, Line: line, Column: col, Encoding: Base64, Key: h.key})
	}
	return out
}

// add records a decoded value, already in its Data form.
func (e *expander) add(off int, key string, data []byte) {
	e.hits = append(e.hits, hit{off: off, key: key, data: data})
}

// value records a decoded value and, when it is a file that stores
// encoded values of its own (a .dockerconfigjson in a Secret), those too,
// at the outer value's position.
func (e *expander) value(off int, key string, dec []byte) {
	e.add(off, key, render(key, dec))
	e.nested(off, key, dec)
}

// nested expands a plain or decoded value that is itself a docker config
// or a Secret manifest.
func (e *expander) nested(off int, key string, v []byte) {
	if e.depth+1 >= maxNest || !mayBeDocker(key, v) && !mayBeK8sSecret(v) {
		return
	}
	for _, d := range expand(key, v, e.depth+1) {
		e.add(off, key+"/"+d.Key, d.Data)
	}
}

// render gives a decoded value the form Decoded.Data documents.
func render(key string, v []byte) []byte {
	if isFile(v) {
		return v
	}
	v = trimNewline(v)
	return quoted(key+": ", v)
}

// quoted writes prefix and v in double quotes, or single quotes when v
// holds a double quote, or bare when it holds both: never escaped, so that
// what a rule extracts is the value itself.
func quoted(prefix string, v []byte) []byte {
	q := `"`
	if bytes.IndexByte(v, '"') >= 0 {
		q = `'`
		if bytes.IndexByte(v, '\'') >= 0 {
			q = ""
		}
	}
	b := make([]byte, 0, len(prefix)+len(v)+3)
	b = append(b, prefix...)
	b = append(b, q...)
	b = append(b, v...)
	b = append(b, q...)
	return append(b, '\n')
}

// isFile reports whether a decoded value is a document to scan as it is:
// several lines, JSON, or not text.
func isFile(v []byte) bool {
	t := bytes.TrimSpace(v)
	return bytes.IndexByte(trimNewline(v), '\n') >= 0 || len(t) > 0 && (t[0] == '{' || t[0] == '[') || !utf8.Valid(v)
}

func trimNewline(v []byte) []byte {
	v = bytes.TrimSuffix(v, []byte("\n"))
	return bytes.TrimSuffix(v, []byte("\r"))
}

func looksJSON(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n\ufeff")
	return len(t) > 0 && (t[0] == '{' || t[0] == '[')
}

// decodeBase64 decodes a stored base64 value: standard or URL alphabet,
// padded or not, with any whitespace (a folded YAML scalar) removed.
func decodeBase64(s string) ([]byte, bool) {
	b := []byte(s)
	if bytes.ContainsAny(b, " \t\r\n") {
		b = bytes.Join(bytes.Fields(b), nil)
	}
	if len(b) == 0 {
		return nil, false
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		out := make([]byte, enc.DecodedLen(len(b)))
		if n, err := enc.Strict().Decode(out, b); err == nil {
			return out[:n], true
		}
	}
	return nil, false
}

// printable reports whether b is UTF-8 text, at least 90% printable.
func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	total, bad := 0, 0
	for _, r := range string(b) {
		total++
		if !unicode.IsPrint(r) && r != '\n' && r != '\r' && r != '\t' {
			bad++
		}
	}
	return total > 0 && bad*10 <= total
}

// lineIndex maps byte offsets to 1-based line and byte column.
type lineIndex []int

func newLineIndex(data []byte) lineIndex {
	ls := lineIndex{0}
	for i, c := range data {
		if c == '\n' {
			ls = append(ls, i+1)
		}
	}
	return ls
}

func (l lineIndex) position(off int) (line, col int) {
	i, found := slices.BinarySearch(l, off)
	if !found {
		i--
	}
	return i + 1, off - l[i] + 1
}
