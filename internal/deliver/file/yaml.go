package file

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// yamlFormat finds a dotted path with the yaml.v3 node tree, following
// aliases and merge keys (<<: *default) to the node that holds the value,
// and edits that scalar's bytes in place. Re-encoding the document would
// lose blank lines, indentation and quoting choices; editing bytes keeps
// them, and check proves that the tree is otherwise unchanged.
type yamlFormat struct{}

func yamlDocs(data []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, &n)
	}
}

// ymatch is a scalar a path leads to.
type ymatch struct {
	node *yaml.Node
	flow bool // inside a flow collection ({a: b}, [a, b])
	note string
}

func (yamlFormat) find(data []byte, key string) ([]field, error) {
	docs, err := yamlDocs(data)
	if err != nil {
		return nil, err
	}
	segs := strings.Split(key, ".")
	var out []field
	seen := map[*yaml.Node]bool{}
	lines := lineStarts(data)
	for _, d := range docs {
		for _, m := range yresolve(d, segs, ymatch{}) {
			if seen[m.node] {
				continue
			}
			seen[m.node] = true
			n := m.node
			if n.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: %s is a %s, not a value", n.Line, key, kindName(n.Kind))
			}
			id := offsetOf(data, lines, n.Line, n.Column)
			start := skipProps(data, id)
			end, err := scalarEnd(data, start, n)
			if err != nil {
				return nil, fmt.Errorf("line %d: %s: %w", n.Line, key, err)
			}
			note := m.note
			if n.Anchor != "" {
				note = join(note, "anchor &"+n.Anchor+": its aliases change too")
			}
			out = append(out, field{start: start, end: end, value: n.Value, id: id, note: note, encode: yamlEncoder(n.Style, m.flow)})
		}
	}
	return out, nil
}

func join(a, b string) string {
	if a == "" || b == "" {
		return a + b
	}
	return a + "; " + b
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "sequence"
	}
	return "node"
}

// yresolve follows segs from n. A mapping key may itself hold dots
// (spring.datasource.url as one key), so every split is tried.
func yresolve(n *yaml.Node, segs []string, m ymatch) []ymatch {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return yresolve(n.Content[0], segs, m)
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil
		}
		m.note = join(m.note, "through alias *"+n.Value+": every use of &"+n.Value+" changes")
		return yresolve(n.Alias, segs, m)
	}
	if len(segs) == 0 {
		m.node = n
		return []ymatch{m}
	}
	var out []ymatch
	switch n.Kind {
	case yaml.MappingNode:
		for i := 1; i <= len(segs); i++ {
			v, parent, note := ymapGet(n, strings.Join(segs[:i], "."))
			if v == nil {
				continue
			}
			mm := m
			mm.flow = parent.Style&yaml.FlowStyle != 0
			mm.note = join(mm.note, note)
			out = append(out, yresolve(v, segs[i:], mm)...)
		}
	case yaml.SequenceNode:
		if i, err := strconv.Atoi(segs[0]); err == nil && i >= 0 && i < len(n.Content) {
			m.flow = n.Style&yaml.FlowStyle != 0
			out = yresolve(n.Content[i], segs[1:], m)
		}
	}
	return out
}

// ymapGet finds key in mapping n, then in the mappings it merges.
func ymapGet(n *yaml.Node, key string) (v, parent *yaml.Node, note string) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key && k.ShortTag() != "!!merge" {
			return n.Content[i+1], n, ""
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].ShortTag() != "!!merge" {
			continue
		}
		srcs := []*yaml.Node{n.Content[i+1]}
		if srcs[0].Kind == yaml.SequenceNode {
			srcs = srcs[0].Content
		}
		for _, s := range srcs {
			name := ""
			if s.Kind == yaml.AliasNode {
				name, s = s.Value, s.Alias
			}
			if s == nil || s.Kind != yaml.MappingNode {
				continue
			}
			if v, p, nn := ymapGet(s, key); v != nil {
				return v, p, join("merged from &"+name+": every mapping that merges it changes", nn)
			}
		}
	}
	return nil, nil, ""
}

func lineStarts(data []byte) []int {
	ls := []int{0}
	for i, c := range data {
		if c == '\n' {
			ls = append(ls, i+1)
		}
	}
	return ls
}

// offsetOf turns yaml.v3's 1-based line and column (counted in
// characters, not bytes) into a byte offset.
func offsetOf(data []byte, lines []int, line, col int) int {
	if line < 1 || line > len(lines) {
		return len(data)
	}
	off := lines[line-1]
	for c := 1; c < col && off < len(data); c++ {
		_, w := utf8.DecodeRune(data[off:])
		off += w
	}
	return off
}

// skipProps steps over a node's anchor (&a) and tag (!!str) to its text.
func skipProps(data []byte, p int) int {
	for p < len(data) && (data[p] == '&' || data[p] == '!') {
		for p < len(data) && !isSpaceOrNL(data[p]) {
			p++
		}
		for p < len(data) && (data[p] == ' ' || data[p] == '\t') {
			p++
		}
	}
	return p
}

func isSpaceOrNL(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// scalarEnd finds where the scalar starting at p ends.
func scalarEnd(data []byte, p int, n *yaml.Node) (int, error) {
	if p >= len(data) {
		return 0, errors.New("value has no text to replace")
	}
	switch data[p] {
	case '"':
		for i := p + 1; i < len(data); i++ {
			switch data[i] {
			case '\\':
				i++
			case '"':
				return i + 1, nil
			}
		}
		return 0, errors.New("unterminated double-quoted value")
	case '\'':
		for i := p + 1; i < len(data); i++ {
			if data[i] == '\'' {
				if i+1 < len(data) && data[i+1] == '\'' {
					i++
					continue
				}
				return i + 1, nil
			}
		}
		return 0, errors.New("unterminated single-quoted value")
	case '|', '>':
		return 0, errors.New("block scalars (| and >) are not supported: write the value on one line")
	}
	if n.Value == "" || !bytes.HasPrefix(data[p:], []byte(n.Value)) {
		return 0, errors.New("value is empty or spans several lines; write it on one line")
	}
	return p + len(n.Value), nil
}

// yamlEncoder writes a scalar in the old one's style: plain while the new
// value reads back as the same string when plain, else single-quoted,
// else double-quoted with escapes.
func yamlEncoder(style yaml.Style, flow bool) func(string) ([]byte, error) {
	return func(v string) ([]byte, error) {
		if style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 && plainOK(v, flow) {
			return []byte(v), nil
		}
		if style&yaml.DoubleQuotedStyle == 0 && printable(v) {
			return []byte("'" + strings.ReplaceAll(v, "'", "''") + "'"), nil
		}
		return []byte(doubleQuote(v)), nil
	}
}

// plainOK reports whether v, written plain, is read back as the string v.
func plainOK(v string, flow bool) bool {
	if v == "" || !printable(v) || strings.TrimSpace(v) != v {
		return false
	}
	doc := "k: " + v
	if flow {
		if strings.ContainsAny(v, ",[]{}") {
			return false
		}
		doc = "{k: " + v + "}"
	}
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &n); err != nil || len(n.Content) != 1 {
		return false
	}
	m := n.Content[0]
	if m.Kind != yaml.MappingNode || len(m.Content) != 2 {
		return false
	}
	s := m.Content[1]
	return s.Kind == yaml.ScalarNode && s.Style == 0 && s.ShortTag() == "!!str" && s.Value == v
}

func printable(v string) bool {
	for _, r := range v {
		if r != ' ' && !unicode.IsPrint(r) || r == utf8.RuneError {
			return false
		}
	}
	return utf8.ValidString(v)
}

// doubleQuote writes v as a YAML double-quoted scalar.
func doubleQuote(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range v {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == ' ' || unicode.IsPrint(r):
			b.WriteRune(r)
		case r <= 0xff:
			fmt.Fprintf(&b, `\x%02X`, r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			fmt.Fprintf(&b, `\U%08X`, r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// check parses both versions and walks them together: every node must be
// the same (kind, tag, style, value, anchor, comments) except the edited
// scalars, which must hold their new value as strings.
func (yamlFormat) check(old, new []byte, edited map[int]string) error {
	a, err := yamlDocs(old)
	if err != nil {
		return err
	}
	b, err := yamlDocs(new)
	if err != nil {
		return err
	}
	if len(a) != len(b) {
		return errors.New("document count differs")
	}
	lines := lineStarts(old)
	var walk func(x, y *yaml.Node) error
	walk = func(x, y *yaml.Node) error {
		if x.Kind != y.Kind || x.Anchor != y.Anchor || len(x.Content) != len(y.Content) ||
			x.HeadComment != y.HeadComment || x.LineComment != y.LineComment || x.FootComment != y.FootComment {
			return fmt.Errorf("node at line %d differs", x.Line)
		}
		if x.Kind == yaml.ScalarNode {
			if want, ok := edited[offsetOf(old, lines, x.Line, x.Column)]; ok {
				if y.Value != want || y.ShortTag() != "!!str" {
					return fmt.Errorf("edited value at line %d does not read back", x.Line)
				}
				return nil
			}
		}
		if x.Value != y.Value || x.Tag != y.Tag || x.Style != y.Style {
			return fmt.Errorf("node at line %d differs", x.Line)
		}
		for i := range x.Content {
			if err := walk(x.Content[i], y.Content[i]); err != nil {
				return err
			}
		}
		return nil
	}
	for i := range a {
		if err := walk(a[i], b[i]); err != nil {
			return err
		}
	}
	return nil
}
