package file

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ini reads INI files ([section] headers, key = value or key: value, ;
// and # comments, values optionally in double quotes or backticks) and, with
// properties set, Java .properties files (no sections; = or : or a space
// between key and value; backslash escapes, \uXXXX and line continuation).
//
// INI dialects disagree on inline comments: this reader ends an unquoted
// value at a ';' or '#' that follows a space (PHP, Go's ini packages) and
// quotes a new value that holds one, so either reading gets it right.
type ini struct{ properties bool }

func (ini) check([]byte, []byte, map[int]string) error { return nil }

func (f ini) find(data []byte, key string) ([]field, error) {
	var out []field
	section := ""
	for pos, line := 0, 1; pos < len(data); line++ {
		eol := indexFrom(data, pos, '\n')
		next := eol + 1
		p := skipBlank(data, pos, eol)
		text := strings.TrimRight(string(data[p:eol]), "\r")
		switch {
		case text == "" || text[0] == '#' || text[0] == ';' && !f.properties || text[0] == '!' && f.properties:
		case text[0] == '[' && !f.properties:
			end := strings.IndexByte(text, ']')
			if end < 0 {
				return nil, fmt.Errorf("line %d: section header without ']'", line)
			}
			section = strings.TrimSpace(text[1:end])
		default:
			var name string
			var fl field
			var end int
			if f.properties {
				name, fl, end = propLine(data, p, eol)
			} else {
				name, fl = iniLine(data, p, eol)
			}
			if end > next {
				line += strings.Count(string(data[eol+1:end]), "\n")
				next = end
			}
			if name != "" && f.matches(section, name, key) {
				out = append(out, fl)
			}
		}
		pos = next
	}
	return out, nil
}

// matches: key is the name at top level, or section.name for some split
// of key at a dot (the section may hold dots too).
func (f ini) matches(section, name, key string) bool {
	if section == "" {
		return name == key
	}
	return key == section+"."+name
}

func iniLine(data []byte, p, eol int) (string, field) {
	sep := -1
	for i := p; i < eol; i++ {
		if data[i] == '=' || data[i] == ':' {
			sep = i
			break
		}
	}
	if sep < 0 {
		return "", field{}
	}
	name := strings.TrimSpace(string(data[p:sep]))
	v := skipBlank(data, sep+1, eol)
	e := eol
	if e > v && data[e-1] == '\r' {
		e--
	}
	if v < e && (data[v] == '"' || data[v] == '`') {
		if q := strings.IndexByte(string(data[v+1:e]), data[v]); q >= 0 {
			end := v + 1 + q + 1
			return name, field{start: v, end: end, id: v, value: string(data[v+1 : end-1]), encode: iniEncoder(data[v])}
		}
	}
	for i := v; i < e; i++ {
		if (data[i] == ';' || data[i] == '#') && i > v && (data[i-1] == ' ' || data[i-1] == '\t') {
			e = i
			break
		}
	}
	for e > v && (data[e-1] == ' ' || data[e-1] == '\t') {
		e--
	}
	return name, field{start: v, end: e, id: v, value: string(data[v:e]), encode: iniEncoder(0)}
}

// iniEncoder writes a value unquoted (quote 0) while it is safe, else in
// quote, '"' or '`' (Go's ini and Gitea's app.ini quote passwords in
// backticks). INI has no escape that its readers agree on, so a value
// holding its own quote character cannot be written.
func iniEncoder(quote byte) func(string) ([]byte, error) {
	return func(v string) ([]byte, error) {
		if strings.ContainsAny(v, "\n\r") || hasControl(v) {
			return nil, errors.New("INI values cannot hold line breaks or control characters")
		}
		safe := v != "" && strings.TrimSpace(v) == v && !strings.ContainsAny(v[:1], "\"';#`") &&
			!strings.Contains(v, " ;") && !strings.Contains(v, " #") && !strings.Contains(v, "\t;") && !strings.Contains(v, "\t#")
		if quote == 0 && safe {
			return []byte(v), nil
		}
		for _, q := range []byte{quote, '"', '`'} {
			if q != 0 && !strings.ContainsRune(v, rune(q)) {
				return []byte(string(q) + v + string(q)), nil
			}
		}
		return nil, errors.New("the value needs quotes in INI but holds both '\"' and '`'")
	}
}

// propLine reads one logical properties line from p (its key's first
// byte); end is where the next logical line starts, past continuations.
func propLine(data []byte, p, eol int) (string, field, int) {
	// The key ends at the first unescaped '=', ':' or blank.
	var name strings.Builder
	i := p
	for ; i < eol; i++ {
		c := data[i]
		if c == '\\' && i+1 < eol {
			i++
			name.WriteByte(data[i])
			continue
		}
		if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\r' {
			break
		}
		name.WriteByte(c)
	}
	i = skipBlank(data, i, eol)
	if i < eol && (data[i] == '=' || data[i] == ':') {
		i = skipBlank(data, i+1, eol)
	}
	v := i
	// The value runs to the end of the logical line: a line ending in an
	// odd number of backslashes continues on the next, whose leading
	// blanks are dropped.
	var b strings.Builder
	end := eol
	for {
		e := end
		if e > i && data[e-1] == '\r' {
			e--
		}
		seg := data[i:e]
		n := 0
		for n < len(seg) && seg[len(seg)-1-n] == '\\' {
			n++
		}
		if n%2 == 1 && end < len(data) {
			b.Write(seg[:len(seg)-1])
			i = skipBlank(data, end+1, indexFrom(data, end+1, '\n'))
			end = indexFrom(data, end+1, '\n')
			continue
		}
		b.Write(seg)
		end = e
		break
	}
	raw := string(data[v:end])
	f := field{start: v, end: end, id: v, value: propUnescape(b.String()), encode: propEncoder(raw)}
	return name.String(), f, indexFrom(data, end, '\n') + 1
}

// propUnescape applies Java's escapes: \t \n \r \f, \uXXXX, and \c for
// any other c.
func propUnescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+4 < len(s) {
				if r, err := strconv.ParseUint(s[i+1:i+5], 16, 16); err == nil {
					// A surrogate pair is two \u escapes.
					if 0xd800 <= r && r < 0xdc00 && i+10 < len(s) && s[i+5:i+7] == `\u` {
						if lo, err := strconv.ParseUint(s[i+7:i+11], 16, 16); err == nil && 0xdc00 <= lo && lo < 0xe000 {
							b.WriteRune(rune((r-0xd800)<<10 + (lo - 0xdc00) + 0x10000))
							i += 10
							continue
						}
					}
					b.WriteRune(rune(r))
					i += 4
					continue
				}
			}
			b.WriteByte('u')
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// propEncoder escapes a value for a properties file: backslashes, control
// characters, a leading blank, and non-ASCII as \uXXXX (Properties.load
// reads ISO-8859-1). Separators the old value escaped (\: \= from
// Properties.store) stay escaped.
func propEncoder(old string) func(string) ([]byte, error) {
	return func(v string) ([]byte, error) {
		if !utf8.ValidString(v) {
			return nil, errors.New("value is not valid UTF-8")
		}
		var b strings.Builder
		for i, r := range v {
			switch {
			case r == '\\':
				b.WriteString(`\\`)
			case r == '\t':
				b.WriteString(`\t`)
			case r == '\n':
				b.WriteString(`\n`)
			case r == '\r':
				b.WriteString(`\r`)
			case r == '\f':
				b.WriteString(`\f`)
			case r == ' ' && i == 0:
				b.WriteString(`\ `)
			case strings.ContainsRune(":=#!", r) && strings.Contains(old, `\`+string(r)):
				b.WriteByte('\\')
				b.WriteRune(r)
			case r < 0x20 || r == 0x7f:
				fmt.Fprintf(&b, `\u%04x`, r)
			case r > 0x7e:
				if r > 0xffff {
					r -= 0x10000
					fmt.Fprintf(&b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
				} else {
					fmt.Fprintf(&b, `\u%04x`, r)
				}
			default:
				b.WriteRune(r)
			}
		}
		return []byte(b.String()), nil
	}
}
