package decode

import (
	"bytes"
	"path"
	"slices"
	"strings"

	"github.com/rekeyhq/rekey/internal/source/jsonscan"
)

// Encodings of a rewritten copy.
const (
	// JSONEscaped: the file's JSON strings with their escapes decoded
	// (\/ \" \n \uXXXX), as the program reading the file sees them.
	JSONEscaped = "json-escaped"
	// Split: values continued over lines joined back into one (a line
	// ending in a backslash, string literals concatenated across lines, a
	// YAML block scalar of one word per line).
	Split = "split"
)

// Rewritten is a copy of a file with some spans replaced, so that a value
// the file stores escaped or cut over lines is whole in it. Offsets in Data
// map back to the file with Raw: a finding in the copy is reported at the
// real line and column of the file.
type Rewritten struct {
	Data     []byte
	Encoding string
	// marks are the places, in Data order, where the offset mapping
	// changes: from dec on, Data continues at raw; inside a replaced span
	// (repl) every offset maps to the span's start.
	marks []mark
}

type mark struct {
	dec, raw int
	repl     bool
}

// edit replaces raw[off:off+n] with repl.
type edit struct {
	off, n int
	repl   []byte
}

// Raw returns the file offset of byte d of Data.
func (r *Rewritten) Raw(d int) int {
	i, found := slices.BinarySearchFunc(r.marks, d, func(m mark, d int) int { return m.dec - d })
	if !found {
		i--
	}
	if i < 0 {
		return d
	}
	m := r.marks[i]
	if m.repl {
		return m.raw
	}
	return m.raw + d - m.dec
}

// RawSpan maps the span [s, e) of Data to the span of the file it came
// from: from the file offset of s to just past that of e-1.
func (r *Rewritten) RawSpan(s, e int) (int, int) {
	if e <= s {
		return r.Raw(s), r.Raw(s)
	}
	return r.Raw(s), r.Raw(e-1) + 1
}

func apply(data []byte, edits []edit, enc string) *Rewritten {
	if len(edits) == 0 {
		return nil
	}
	slices.SortFunc(edits, func(a, b edit) int { return a.off - b.off })
	rw := &Rewritten{Encoding: enc, Data: make([]byte, 0, len(data))}
	at := 0
	for _, e := range edits {
		if e.off < at { // overlapping edits: keep the first
			continue
		}
		rw.Data = append(rw.Data, data[at:e.off]...)
		if len(e.repl) > 0 {
			rw.marks = append(rw.marks, mark{dec: len(rw.Data), raw: e.off, repl: true})
			rw.Data = append(rw.Data, e.repl...)
		}
		at = e.off + e.n
		rw.marks = append(rw.marks, mark{dec: len(rw.Data), raw: at})
	}
	rw.Data = append(rw.Data, data[at:]...)
	return rw
}

// Rewrite returns a copy of data (the file at path) in which values that
// rules would miss as written are whole, or nil when there are none: for
// a JSON or JSON-lines file, its strings decoded. It checks cheaply first
// (no backslash, no copy) and never fails: what does not parse is left as
// it is.
func Rewrite(p string, data []byte) *Rewritten {
	if len(data) == 0 || len(data) > maxParse {
		return nil
	}
	if isJSONFile(p, data) {
		return apply(data, jsonEdits(data), JSONEscaped)
	}
	return nil
}

// jsonExt are the names of JSON and JSON-lines files; other files are
// taken for JSON when they start like it.
var jsonExt = map[string]bool{".json": true, ".jsonl": true, ".ndjson": true, ".geojson": true, ".har": true, ".ipynb": true}

func isJSONFile(p string, data []byte) bool {
	if jsonExt[strings.ToLower(path.Ext(p))] {
		return true
	}
	return looksJSON(data)
}

// jsonEdits lists every escape sequence in the strings of data (one JSON
// value or a stream of them) with the bytes it stands for. Input that
// stops parsing keeps the escapes read before the error.
func jsonEdits(data []byte) []edit {
	if bytes.IndexByte(data, '\\') < 0 {
		return nil
	}
	var esc []jsonscan.Escape
	s := jsonscan.New(bytes.NewReader(data))
	s.RecordEscapes(&esc)
	for s.More() {
		v, err := s.Value()
		if err != nil || s.Skip(v) != nil {
			break
		}
	}
	edits := make([]edit, len(esc))
	for i, e := range esc {
		edits[i] = edit{off: e.Off, n: e.Len, repl: e.Dec[:e.N]}
	}
	return edits
}
