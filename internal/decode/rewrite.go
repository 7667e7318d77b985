package decode

import (
	"bytes"
	"path"
	"slices"
	"strings"

	"github.com/rekeyhq/rekey/internal/jsonscan"
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

// Rewrite returns a copy of the lines of data (the file at path) in which
// values that rules would miss as written are whole, or nil when there are
// none: for a JSON or JSON-lines file, its strings decoded; for other
// files, values split over lines joined (a line ending in a backslash,
// string literals concatenated across lines in code, a YAML block scalar
// of one word per line). Only the lines an edit touches are copied, each
// run of them separated by a line break, so a file with one split value
// costs a line's scan, not the file's. It checks cheaply first and never
// fails: what does not parse is left as it is.
func Rewrite(p string, data []byte) *Rewritten {
	if len(data) == 0 || len(data) > maxParse {
		return nil
	}
	if isJSONFile(p, data) {
		return apply(data, onlyTouched(data, jsonEdits(data)), JSONEscaped)
	}
	var edits []edit
	edits = append(edits, continuations(data)...)
	if concatExt[strings.ToLower(path.Ext(p))] {
		edits = append(edits, concatenations(data)...)
	}
	if ext := strings.ToLower(path.Ext(p)); ext == ".yaml" || ext == ".yml" {
		edits = append(edits, blockScalars(data)...)
	}
	return apply(data, onlyTouched(data, edits), Split)
}

// onlyTouched adds to edits the removal of every line no edit touches
// (each run of them becomes one line break), and returns them sorted.
func onlyTouched(data []byte, edits []edit) []edit {
	if len(edits) == 0 {
		return nil
	}
	slices.SortFunc(edits, func(a, b edit) int { return a.off - b.off })
	out := make([]edit, 0, 2*len(edits)+1)
	at := 0 // end of the last kept line, or 0
	for i := 0; i < len(edits); {
		// The run of lines from the first edit's line to the last line of
		// the edits that overlap it or start on the lines it spans.
		start := bytes.LastIndexByte(data[:edits[i].off], '\n') + 1
		end := edits[i].off + edits[i].n
		j := i
		for ; j < len(edits) && edits[j].off <= lineEnd(data, end); j++ {
			end = max(end, edits[j].off+edits[j].n)
		}
		end = lineEnd(data, end)
		if start > at {
			gap := []byte{'\n'}
			if at == 0 {
				gap = nil
			}
			out = append(out, edit{off: at, n: start - at, repl: gap})
		}
		out = append(out, edits[i:j]...)
		at, i = end, j
	}
	if at < len(data) {
		out = append(out, edit{off: at, n: len(data) - at})
	}
	return out
}

// lineEnd is the offset of the line break ending the line holding off, or
// len(data).
func lineEnd(data []byte, off int) int {
	if off >= len(data) {
		return len(data)
	}
	if i := bytes.IndexByte(data[off:], '\n'); i >= 0 {
		return off + i
	}
	return len(data)
}

// continuations joins lines ending in a backslash (shell, dotenv, Docker
// files, Makefiles, a YAML double-quoted scalar): the backslash, the line
// break and the next line's indentation go, so a token cut in two is
// whole, and words separated by a blank before the backslash stay apart.
func continuations(data []byte) []edit {
	var out []edit
	for from := 0; ; {
		i := bytes.Index(data[from:], []byte("\\\n"))
		if i < 0 {
			return out
		}
		i += from
		from = i + 2
		if i > 0 && data[i-1] == '\\' { // an escaped backslash ends the line
			continue
		}
		n := 2
		for i+n < len(data) && (data[i+n] == ' ' || data[i+n] == '\t') {
			n++
		}
		out = append(out, edit{off: i, n: n})
	}
}

// concatExt are the languages whose string literals are joined across
// lines with + (Go, Java, JavaScript, C#, Python, Kotlin…), with . (PHP,
// Perl) or by adjacency (Python, C).
var concatExt = map[string]bool{
	".go": true, ".java": true, ".kt": true, ".scala": true, ".groovy": true, ".js": true, ".mjs": true, ".cjs": true,
	".ts": true, ".tsx": true, ".jsx": true, ".cs": true, ".py": true, ".rb": true, ".php": true, ".pl": true,
	".c": true, ".h": true, ".cc": true, ".cpp": true, ".hpp": true, ".swift": true, ".m": true, ".dart": true, ".rs": true,
}

// concatenations finds a string literal that ends one line and is
// continued by one that starts the next ("abc" +⏎ "def", "abc"⏎ "def",
// "abc"⏎ + "def"), with no blank on either side of the cut, and removes
// what lies between the two quotes.
func concatenations(data []byte) []edit {
	var out []edit
	for from := 0; ; {
		nl := bytes.IndexByte(data[from:], '\n')
		if nl < 0 {
			return out
		}
		nl += from
		from = nl + 1
		// Back from the line break: blanks, an optional operator, blanks,
		// the closing quote.
		b := nl
		if b > 0 && data[b-1] == '\r' {
			b--
		}
		b = skipBlanksBack(data, b)
		if b > 0 && (data[b-1] == '+' || data[b-1] == '.') {
			b = skipBlanksBack(data, b-1)
		}
		if b == 0 || !isQuote(data[b-1]) {
			continue
		}
		q := data[b-1]
		// Forward from the line break: indentation, an optional operator,
		// blanks, the opening quote (the same kind).
		f := skipBlanks(data, nl+1)
		if f < len(data) && (data[f] == '+' || data[f] == '.') {
			f = skipBlanks(data, f+1)
		}
		if f >= len(data) || data[f] != q || b-2 >= 0 && data[b-2] == '\\' {
			continue
		}
		// Only a token cut in two matters: text ending or starting with a
		// blank at the cut (SQL, messages) is words joined as they were,
		// and an empty literal joins nothing.
		if b < 2 || f+1 >= len(data) || isBlankOrQuote(data[b-2]) || isBlankOrQuote(data[f+1]) {
			continue
		}
		out = append(out, edit{off: b - 1, n: f + 1 - (b - 1)})
	}
}

func isQuote(c byte) bool { return c == '"' || c == '\'' || c == '`' }

func isBlankOrQuote(c byte) bool { return c == ' ' || c == '\t' || isQuote(c) }

func skipBlanks(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t') {
		i++
	}
	return i
}

func skipBlanksBack(data []byte, i int) int {
	for i > 0 && (data[i-1] == ' ' || data[i-1] == '\t') {
		i--
	}
	return i
}

// blockScalars joins the lines of a YAML block scalar (key: |, key: >-)
// whose every line is one word: a value too long for one line, wrapped (a
// token, a base64 blob). The indicator, line breaks and indentation go,
// so the file reads key: <value>. Blocks of prose, or of a PEM file (whose
// BEGIN line has blanks), are left to the rules as they are.
func blockScalars(data []byte) []edit {
	var out []edit
	lines := bytes.SplitAfter(data, []byte{'\n'})
	off := 0
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		start := off
		off += len(line)
		t := bytes.TrimRight(line, " \t\r\n")
		ind := bytes.LastIndexAny(t, "|>")
		if ind < 0 || !blockHeader(t[:ind], t[ind+1:]) {
			continue
		}
		keyIndent := len(line) - len(bytes.TrimLeft(line, " "))
		// The block: following lines indented deeper than the key (blank
		// lines end it here: a wrapped value has none).
		var edits []edit
		words := 0
		cut := start + ind // from the indicator to the first word, then from each word's end to the next
		lineStart := off
		for j := i + 1; j < len(lines); j, lineStart = j+1, lineStart+len(lines[j]) {
			content := bytes.TrimRight(lines[j], " \t\r\n")
			indent := len(content) - len(bytes.TrimLeft(content, " "))
			if len(bytes.TrimSpace(content)) == 0 || indent <= keyIndent {
				break
			}
			if bytes.ContainsAny(content[indent:], " \t") {
				words = 0
				break
			}
			edits = append(edits, edit{off: cut, n: lineStart + indent - cut})
			cut = lineStart + len(content)
			words++
		}
		if words >= 2 {
			out = append(out, edits...)
		}
	}
	return out
}

// blockHeader reports whether a line ending in before|after or
// before>after opens a block scalar as a mapping value: "key: |", with
// chomping and indentation indicators and a comment allowed after.
func blockHeader(before, after []byte) bool {
	b := bytes.TrimRight(before, " \t")
	if !bytes.HasSuffix(b, []byte(":")) || len(bytes.TrimSpace(b)) < 2 {
		return false
	}
	a := bytes.TrimSpace(after)
	if i := bytes.IndexByte(a, '#'); i >= 0 {
		a = bytes.TrimSpace(a[:i])
	}
	return len(a) <= 2 && len(bytes.Trim(a, "+-0123456789")) == 0
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
