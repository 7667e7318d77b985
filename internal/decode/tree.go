package decode

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// node is a parsed JSON or YAML value with the byte offset of each scalar's
// text, whichever syntax it came from.
type node struct {
	kind kind
	keys []string // mapping keys, aligned with kids
	kids []*node  // mapping values or sequence items
	str  string   // scalar value
	// off is the byte offset in the parsed data of the scalar's first
	// character (after an opening quote, on the first content line of a
	// block scalar).
	off int
	// exact is set when data[off:off+len(str)] is str itself (no escapes,
	// no folding), so offsets inside the value are offsets in the data.
	exact bool
}

type kind uint8

const (
	scalarKind kind = iota + 1
	mapKind
	seqKind
)

// get returns the value under key k of a mapping, or nil.
func (n *node) get(k string) *node {
	if n == nil || n.kind != mapKind {
		return nil
	}
	for i, key := range n.keys {
		if key == k {
			return n.kids[i]
		}
	}
	return nil
}

// scalar returns the scalar value under key k, or "".
func (n *node) scalar(k string) string {
	if c := n.get(k); c != nil && c.kind == scalarKind {
		return c.str
	}
	return ""
}

const maxDepth = 64

var errDepth = errors.New("too deeply nested")

// parseJSON parses one JSON value, recording where each string starts.
func parseJSON(data []byte) (*node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := readJSON(dec, data, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after JSON value")
	}
	return n, nil
}

func readJSON(dec *json.Decoder, data []byte, depth int) (*node, error) {
	if depth > maxDepth {
		return nil, errDepth
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		n := &node{kind: mapKind}
		if t == '[' {
			n.kind = seqKind
		}
		for dec.More() {
			if n.kind == mapKind {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				ks, ok := k.(string)
				if !ok {
					return nil, errors.New("non-string key")
				}
				n.keys = append(n.keys, ks)
			}
			c, err := readJSON(dec, data, depth+1)
			if err != nil {
				return nil, err
			}
			n.kids = append(n.kids, c)
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
		return n, nil
	case string:
		end := int(dec.InputOffset()) // just past the closing quote
		start := openingQuote(data, end)
		if start < 0 {
			return nil, errors.New("string token not found")
		}
		off := start + 1
		return &node{kind: scalarKind, str: t, off: off, exact: string(data[off:end-1]) == t}, nil
	default:
		return &node{kind: scalarKind, off: int(dec.InputOffset())}, nil
	}
}

// openingQuote finds the quote that opens the JSON string whose closing
// quote is at end-1: the nearest earlier quote not escaped by an odd run of
// backslashes (a string cannot hold an unescaped quote).
func openingQuote(data []byte, end int) int {
	if end < 2 || end > len(data) || data[end-1] != '"' {
		return -1
	}
	for i := end - 2; i >= 0; i-- {
		if data[i] != '"' {
			continue
		}
		bs := 0
		for j := i - 1; j >= 0 && data[j] == '\\'; j-- {
			bs++
		}
		if bs%2 == 0 {
			return i
		}
	}
	return -1
}

// parseYAML parses every document of a YAML stream. Documents are split at
// "---" lines first, so one that does not parse (a Helm template, say)
// does not hide the others.
func parseYAML(data []byte) []*node {
	var out []*node
	ascii := isASCII(data)
	for _, seg := range splitDocs(data) {
		var doc yaml.Node
		if err := yaml.Unmarshal(data[seg[0]:seg[1]], &doc); err != nil {
			continue
		}
		if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
			continue
		}
		p := &yamlPos{data: data, base: seg[0], lines: lineStarts(data[seg[0]:seg[1]]), ascii: ascii}
		if n := p.convert(doc.Content[0], 0); n != nil {
			out = append(out, n)
		}
	}
	return out
}

// splitDocs returns the [start, end) byte ranges of the documents of a YAML
// stream, each starting at its "---" line.
func splitDocs(data []byte) [][2]int {
	var out [][2]int
	start := 0
	for i := 0; i < len(data); {
		eol := bytes.IndexByte(data[i:], '\n')
		next := len(data)
		if eol >= 0 {
			next = i + eol + 1
		}
		line := data[i:next]
		if i > start && bytes.HasPrefix(line, []byte("---")) && (len(line) == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\n' || line[3] == '\r') {
			out = append(out, [2]int{start, i})
			start = i
		}
		i = next
	}
	return append(out, [2]int{start, len(data)})
}

// lineStarts returns the offset of each line as the YAML scanner counts
// them (\r\n, \r, \n, NEL, LS and PS all break lines).
func lineStarts(b []byte) []int {
	ls := []int{0}
	for i := 0; i < len(b); {
		switch {
		case b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n':
			i += 2
		case b[i] == '\r' || b[i] == '\n':
			i++
		case b[i] == 0xC2 && i+1 < len(b) && b[i+1] == 0x85: // NEL
			i += 2
		case b[i] == 0xE2 && i+2 < len(b) && b[i+1] == 0x80 && (b[i+2] == 0xA8 || b[i+2] == 0xA9): // LS, PS
			i += 3
		default:
			i++
			continue
		}
		ls = append(ls, i)
	}
	return ls
}

type yamlPos struct {
	data  []byte
	base  int
	lines []int
	ascii bool
	// the last position looked up, to walk on from on the same line:
	// nodes come in document order, so a long flow line is walked once.
	lastLine, lastCol, lastOff int
}

// offset turns the YAML scanner's 1-based line and character column into
// a byte offset in data, or -1.
func (p *yamlPos) offset(line, col int) int {
	if line < 1 || line > len(p.lines) || col < 1 {
		return -1
	}
	off := p.base + p.lines[line-1]
	if p.ascii {
		off += col - 1
		if off > len(p.data) {
			return -1
		}
		return off
	}
	from := 1
	if line == p.lastLine && col >= p.lastCol {
		from, off = p.lastCol, p.lastOff
	}
	for c := from; c < col; c++ {
		if off >= len(p.data) {
			return -1
		}
		_, w := utf8.DecodeRune(p.data[off:])
		off += w
	}
	p.lastLine, p.lastCol, p.lastOff = line, col, off
	return off
}

func (p *yamlPos) convert(y *yaml.Node, depth int) *node {
	if depth > maxDepth {
		return nil
	}
	switch y.Kind {
	case yaml.AliasNode:
		// Only scalar aliases: following collection aliases could expand
		// without bound.
		if y.Alias != nil && y.Alias.Kind == yaml.ScalarNode {
			return p.convert(y.Alias, depth+1)
		}
		return nil
	case yaml.ScalarNode:
		n := &node{kind: scalarKind, str: y.Value, off: p.offset(y.Line, y.Column)}
		if n.off < 0 {
			n.off = p.base
			return n
		}
		switch y.Style {
		case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
			n.off++
		case yaml.LiteralStyle, yaml.FoldedStyle:
			n.off = blockStart(p.data, n.off)
		}
		n.exact = n.off+len(n.str) <= len(p.data) && string(p.data[n.off:n.off+len(n.str)]) == n.str
		return n
	case yaml.MappingNode:
		n := &node{kind: mapKind}
		for i := 0; i+1 < len(y.Content); i += 2 {
			k, v := y.Content[i], y.Content[i+1]
			if k.Kind != yaml.ScalarNode || k.Value == "<<" {
				continue
			}
			c := p.convert(v, depth+1)
			if c == nil {
				continue
			}
			n.keys = append(n.keys, k.Value)
			n.kids = append(n.kids, c)
		}
		return n
	case yaml.SequenceNode:
		n := &node{kind: seqKind}
		for _, v := range y.Content {
			if c := p.convert(v, depth+1); c != nil {
				n.kids = append(n.kids, c)
			}
		}
		return n
	}
	return nil
}

// blockStart moves from a block scalar's indicator (| or >) to the first
// non-blank character of its content.
func blockStart(data []byte, off int) int {
	nl := bytes.IndexByte(data[off:], '\n')
	if nl < 0 {
		return off
	}
	i := off + nl + 1
	for i < len(data) && (data[i] == ' ' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
