package file

import (
	"errors"
	"fmt"
	"strings"
)

// dotenv reads KEY=value lines as Docker Compose, python-dotenv and
// godotenv do: an optional "export " prefix; unquoted values end at a
// " #" comment; single-quoted values are literal (\' excepted);
// double-quoted values take backslash escapes and may span lines.
type dotenv struct{}

func (dotenv) check([]byte, []byte, map[int]string) error { return nil }

func (dotenv) find(data []byte, key string) ([]field, error) {
	var out []field
	line := 1
	for pos := 0; pos < len(data); {
		eol := indexFrom(data, pos, '\n')
		p := skipBlank(data, pos, eol)
		if p == eol || data[p] == '#' {
			pos, line = eol+1, line+1
			continue
		}
		if rest := string(data[p:eol]); strings.HasPrefix(rest, "export") && len(rest) > 6 && (rest[6] == ' ' || rest[6] == '\t') {
			p = skipBlank(data, p+6, eol)
		}
		k := p
		for p < eol && isKeyByte(data[p]) {
			p++
		}
		name := string(data[k:p])
		p = skipBlank(data, p, eol)
		if name == "" || p == eol || data[p] != '=' {
			// Not an assignment: leave it to the consumer's parser.
			pos, line = eol+1, line+1
			continue
		}
		p = skipBlank(data, p+1, eol)
		f := field{start: p, id: p}
		switch {
		case p < eol && data[p] == '"':
			end, val, ok := dotenvDouble(data, p)
			if !ok {
				return nil, fmt.Errorf("line %d: %s has an unterminated double quote", line, name)
			}
			f.end, f.value, f.encode = end, val, dotenvEncoder('"', nil)
		case p < eol && data[p] == '\'':
			end, val, ok := dotenvSingle(data, p, eol)
			if !ok {
				return nil, fmt.Errorf("line %d: %s has an unterminated single quote", line, name)
			}
			f.end, f.value, f.encode = end, val, dotenvEncoder('\'', nil)
		default:
			e := eol
			if e > p && data[e-1] == '\r' {
				e--
			}
			for i := p; i < e; i++ {
				if data[i] == '#' && i > p && (data[i-1] == ' ' || data[i-1] == '\t') {
					e = i
					break
				}
			}
			for e > p && (data[e-1] == ' ' || data[e-1] == '\t') {
				e--
			}
			f.end, f.value = e, string(data[p:e])
			f.encode = dotenvEncoder(0, data[p:e])
		}
		if name == key {
			out = append(out, f)
		}
		// A quoted value may have run past this line.
		if f.end > eol {
			eol = indexFrom(data, f.end, '\n')
		}
		line += strings.Count(string(data[pos:min(eol+1, len(data))]), "\n")
		pos = eol + 1
	}
	return out, nil
}

func indexFrom(data []byte, from int, c byte) int {
	for i := from; i < len(data); i++ {
		if data[i] == c {
			return i
		}
	}
	return len(data)
}

func skipBlank(data []byte, p, end int) int {
	for p < end && (data[p] == ' ' || data[p] == '\t') {
		p++
	}
	return p
}

func isKeyByte(c byte) bool {
	return c == '_' || c == '.' || c == '-' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// dotenvDouble reads "…" from data[p], returning the end (past the
// closing quote) and the unescaped value.
func dotenvDouble(data []byte, p int) (int, string, bool) {
	var b strings.Builder
	for i := p + 1; i < len(data); i++ {
		switch c := data[i]; c {
		case '"':
			return i + 1, b.String(), true
		case '\\':
			if i+1 == len(data) {
				return 0, "", false
			}
			i++
			switch e := data[i]; e {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case '\\', '"', '\'', '$', '`':
				b.WriteByte(e)
			default:
				b.WriteByte('\\')
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return 0, "", false
}

// dotenvSingle reads '…' on one line; \' is a quote (Compose's rule).
func dotenvSingle(data []byte, p, eol int) (int, string, bool) {
	var b strings.Builder
	for i := p + 1; i < eol; i++ {
		switch {
		case data[i] == '\'':
			return i + 1, b.String(), true
		case data[i] == '\\' && i+1 < eol && data[i+1] == '\'':
			b.WriteByte('\'')
			i++
		default:
			b.WriteByte(data[i])
		}
	}
	return 0, "", false
}

// dotenvUnsafe are characters a value cannot hold unquoted: dotenv
// parsers strip, interpolate or unescape them, and shells that source the
// file split on them.
const dotenvUnsafe = " \t'\"$\\`#;&|<>(){}*?![]~"

// dotenvEncoder writes values in the style quote (a double quote, a
// single quote, or 0 for none). An unquoted value stays unquoted while it
// holds only characters that are safe or that the old value already held
// unquoted (a DSN's ?a=b&c=d keeps its '&'); otherwise it is quoted,
// preferring single quotes, which no dotenv dialect interpolates.
func dotenvEncoder(quote byte, old []byte) func(string) ([]byte, error) {
	return func(v string) ([]byte, error) {
		if strings.ContainsAny(v, "\x00") {
			return nil, errors.New("value holds a NUL byte")
		}
		if quote == 0 && unquotedOK(v, string(old)) {
			return []byte(v), nil
		}
		if quote != '"' && !strings.ContainsAny(v, "'\\\n\r") && !hasControl(strings.ReplaceAll(v, "\t", "")) {
			return []byte("'" + v + "'"), nil
		}
		var b strings.Builder
		b.WriteByte('"')
		for i := 0; i < len(v); i++ {
			switch c := v[i]; c {
			case '\\', '"', '$', '`':
				b.WriteByte('\\')
				b.WriteByte(c)
			case '\n', '\t':
				// Literal: a shell reads \n and \t in double quotes as
				// two characters, dotenv parsers as one; both read these.
				b.WriteByte(c)
			case '\r':
				b.WriteString(`\r`)
			default:
				if c < 0x20 || c == 0x7f {
					return nil, errors.New("value holds a control character that dotenv cannot quote")
				}
				b.WriteByte(c)
			}
		}
		b.WriteByte('"')
		return []byte(b.String()), nil
	}
}

func unquotedOK(v, old string) bool {
	if v == "" || hasControl(v) {
		return false
	}
	for _, c := range v {
		if strings.ContainsRune(" \t'\"$\\`#", c) {
			return false
		}
		if strings.ContainsRune(dotenvUnsafe, c) && !strings.ContainsRune(old, c) {
			return false
		}
	}
	return true
}

func hasControl(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] == 0x7f {
			return true
		}
	}
	return false
}
