package inventory

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// parser walks the YAML tree, collecting every problem rather than stopping
// at the first.
type parser struct {
	file string
	dir  string
	opts Options
	data []byte
	rep  Report
	// secretLines are the positions of inline secrets already reported.
	secretLines [][2]int
	// merges counts mappings merged with <<, against maxMerges.
	merges int
}

func (p *parser) pos(n *yaml.Node) Pos { return Pos{p.file, n.Line, n.Column} }

// errorf reports a problem at n. A problem with a value that holds an
// inline secret is left out: the secret is reported there already, and
// the message might quote it.
func (p *parser) errorf(n *yaml.Node, format string, a ...any) {
	if p.secretIn(n) || p.secretIn(deref(n)) {
		return
	}
	p.rep.Errors = append(p.rep.Errors, Problem{p.pos(n), fmt.Sprintf(format, a...)})
}

// secretIn reports whether an inline secret starts inside scalar n (on its
// first line).
func (p *parser) secretIn(n *yaml.Node) bool {
	if n == nil || n.Kind != yaml.ScalarNode {
		return false
	}
	end := n.Column + utf8.RuneCountInString(n.Value) + 1 // + quotes
	for _, s := range p.secretLines {
		if s[0] == n.Line && s[1] >= n.Column && s[1] <= end {
			return true
		}
	}
	return false
}

// warnf reports a warning at pos, unless an inline secret is reported
// further on that line: the warning would be about a value the secret is
// part of, and might quote it.
func (p *parser) warnf(pos Pos, format string, a ...any) {
	for _, s := range p.secretLines {
		if s[0] == pos.Line && s[1] >= pos.Column {
			return
		}
	}
	p.rep.Warnings = append(p.rep.Warnings, Problem{pos, fmt.Sprintf(format, a...)})
}

// maxAlias bounds alias chains and merge nesting; maxMerges bounds the
// mappings merged with << in a whole file, so that merges of merges cannot
// make the work grow exponentially with the file.
const (
	maxAlias  = 32
	maxMerges = 10000
)

// deref follows aliases to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxAlias; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names a node's type for messages.
func describe(n *yaml.Node) string {
	n = deref(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!bool":
			return "a boolean"
		case "!!int", "!!float":
			return "a number"
		case "!!str":
			return "a string"
		}
		return "a " + strings.TrimPrefix(n.ShortTag(), "!!") + " value"
	}
	return "an alias"
}

// obj is a decoded YAML mapping: its values by key, and where each key is.
type obj struct {
	p    *parser
	node *yaml.Node
	ctx  string // "system \"shop-db\"", for messages; "" at the top
	keys map[string]*yaml.Node
	vals map[string]*yaml.Node
	// order is the keys in file order, merged keys after the mapping's own.
	order []string
	// extensions allows keys starting with "x-", ignored: a place for
	// anchors (x-defaults: &pg …) as in Compose files.
	extensions bool
}

// object decodes n as a mapping. A wrong type is reported and yields nil.
// Repeated keys are reported; merge keys (<<: *anchor) are expanded, the
// mapping's own keys winning.
func (p *parser) object(n *yaml.Node, ctx, what string) *obj {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		if n != nil {
			p.errorf(n, "%s: want a mapping, got %s", what, describe(n))
		}
		return nil
	}
	o := &obj{p: p, node: n, ctx: ctx, keys: map[string]*yaml.Node{}, vals: map[string]*yaml.Node{}}
	o.add(n, 0, true, map[*yaml.Node]bool{})
	return o
}

func (o *obj) add(n *yaml.Node, depth int, own bool, merged map[*yaml.Node]bool) {
	merged[n] = true
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		kd := deref(k)
		if kd == nil || kd.Kind != yaml.ScalarNode {
			o.p.errorf(k, "%s: a key must be a plain name, got %s", o.where(), describe(k))
			continue
		}
		name := kd.Value
		if name == "<<" && kd.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if first, dup := o.keys[name]; dup {
			if own {
				o.p.errorf(k, "%s: key %q repeated (first at %d:%d)", o.where(), name, first.Line, first.Column)
			}
			continue
		}
		o.keys[name], o.vals[name] = k, v
		o.order = append(o.order, name)
	}
	if depth >= maxAlias && len(merges) > 0 {
		o.p.errorf(merges[0], "merges (<<) nested more than %d deep", maxAlias)
		return
	}
	merge := func(at, m *yaml.Node) {
		if merged[m] {
			return // its keys are in already, and they win over a second copy
		}
		if o.p.merges++; o.p.merges == maxMerges {
			o.p.errorf(at, "too many merges (<<): more than %d", maxMerges)
		}
		if o.p.merges < maxMerges {
			o.add(m, depth+1, false, merged)
		}
	}
	for _, m := range merges {
		md := deref(m)
		switch {
		case md != nil && md.Kind == yaml.MappingNode:
			merge(m, md)
		case md != nil && md.Kind == yaml.SequenceNode:
			for _, it := range md.Content {
				if itd := deref(it); itd != nil && itd.Kind == yaml.MappingNode {
					merge(it, itd)
				} else {
					o.p.errorf(it, "%s: <<: merges mappings, got %s", o.where(), describe(it))
				}
			}
		default:
			o.p.errorf(m, "%s: <<: merges mappings, got %s", o.where(), describe(m))
		}
	}
}

func (o *obj) where() string {
	if o.ctx == "" {
		return "top level"
	}
	return o.ctx
}

// prefix is the context for a message about key: `system "x": type`.
func (o *obj) prefix(key string) string {
	if o.ctx == "" {
		return key
	}
	return o.ctx + ": " + key
}

// only reports every key not in known, suggesting the closest known one.
func (o *obj) only(known ...string) {
	for _, k := range o.order {
		if contains(known, k) || o.extensions && strings.HasPrefix(k, "x-") {
			continue
		}
		msg := fmt.Sprintf("%s: unknown key %q", o.where(), k)
		if s := suggest(k, known); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		} else {
			msg += " (known: " + strings.Join(known, ", ") + ")"
		}
		o.p.errorf(o.keys[k], "%s", msg)
	}
}

// at is where a message about key points: its value, its key, or the
// mapping when the key is absent.
func (o *obj) at(key string) *yaml.Node {
	if v := o.vals[key]; v != nil && !isNull(v) {
		return v
	}
	if k := o.keys[key]; k != nil {
		return k
	}
	return o.node
}

// str returns the string under key. A missing, null or empty value is ""
// and an error when required; a list, mapping or boolean is a wrong type.
// Numbers are taken as written.
func (o *obj) str(key string, required bool) string {
	v := o.vals[key]
	if v == nil || isNull(v) {
		if required {
			o.p.errorf(o.at(key), "%s: missing %s", o.where(), key)
		}
		return ""
	}
	s, ok := o.p.scalar(v, o.prefix(key))
	if ok && s == "" && required {
		o.p.errorf(o.at(key), "%s is empty", o.prefix(key))
	}
	return s
}

// scalar reads n as a string, reporting a wrong type.
func (p *parser) scalar(n *yaml.Node, what string) (string, bool) {
	d := deref(n)
	if d == nil || d.Kind != yaml.ScalarNode {
		p.errorf(n, "%s: want a string, got %s", what, describe(n))
		return "", false
	}
	switch d.ShortTag() {
	case "!!str", "!!int", "!!float", "!!timestamp":
		return d.Value, true
	case "!!bool":
		p.errorf(n, "%s: want a string, got a boolean (quote it if you mean the text %s)", what, d.Value)
	default:
		p.errorf(n, "%s: want a string, got %s", what, describe(n))
	}
	return "", false
}

// boolean returns the boolean under key; absent is false.
func (o *obj) boolean(key string) bool {
	v := o.vals[key]
	if v == nil || isNull(v) {
		return false
	}
	d := deref(v)
	if d.Kind == yaml.ScalarNode && d.ShortTag() == "!!bool" {
		return strings.EqualFold(d.Value, "true")
	}
	o.p.errorf(v, "%s: want true or false, got %s", o.prefix(key), describe(v))
	return false
}

// list returns the items under key; absent or null is none.
func (o *obj) list(key string) []*yaml.Node {
	v := o.vals[key]
	if v == nil || isNull(v) {
		return nil
	}
	d := deref(v)
	if d.Kind != yaml.SequenceNode {
		o.p.errorf(v, "%s: want a list, got %s", o.prefix(key), describe(v))
		return nil
	}
	return d.Content
}

// strings returns a list of non-empty strings under key, reporting
// repeated entries.
func (o *obj) strings(key string) ([]string, []*yaml.Node) {
	var out []string
	var nodes []*yaml.Node
	seen := map[string]*yaml.Node{}
	for _, it := range o.list(key) {
		s, ok := o.p.scalar(it, o.prefix(key))
		if !ok {
			continue
		}
		if s == "" {
			o.p.errorf(it, "%s: empty entry", o.prefix(key))
			continue
		}
		if first, dup := seen[s]; dup {
			o.p.errorf(it, "%s: %s listed twice (first at %d:%d)", o.prefix(key), quote(s), first.Line, first.Column)
			continue
		}
		seen[s] = it
		out = append(out, s)
		nodes = append(nodes, it)
	}
	return out, nodes
}

// enum checks that s, found at n, is one of known.
func (p *parser) enum(n *yaml.Node, what, s string, known []string) bool {
	if contains(known, s) {
		return true
	}
	msg := fmt.Sprintf("%s %s is unknown (known: %s)", what, quote(s), strings.Join(known, ", "))
	if sg := suggest(s, known); sg != "" {
		msg += fmt.Sprintf("; did you mean %q?", sg)
	}
	p.errorf(n, "%s", msg)
	return false
}

// quote quotes a value for a message, cutting a long one.
func quote(s string) string {
	if r := []rune(s); len(r) > 48 {
		s = string(r[:40]) + "…"
	}
	return fmt.Sprintf("%q", s)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// suggest returns the known word closest to s, if it is close enough to be
// a typo: equal but for case, or within an edit distance that grows with
// the word's length.
func suggest(s string, known []string) string {
	best, bestD := "", 1<<30
	ls := strings.ToLower(s)
	for _, k := range known {
		d := levenshtein(ls, strings.ToLower(k))
		if d < bestD {
			best, bestD = k, d
		}
	}
	limit := 1
	if len(s) >= 5 {
		limit = 2
	}
	if len(s) >= 9 {
		limit = 3
	}
	if best != "" && bestD <= limit {
		return best
	}
	return ""
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		if a == b {
			return 0
		}
		return 1 << 20
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
