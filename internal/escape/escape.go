// Package escape makes untrusted text safe to print in rekey's tables and
// Markdown: file names, log sources, user agents, role and consumer names
// are data an attacker may choose, and a newline, a carriage return, a
// terminal escape sequence or a Unicode direction override in one of them
// must not forge a row ("a\nHIGH fake-row"), repaint the terminal, or
// reorder what the responder reads. Every table and Markdown writer of the
// CLI and the report uses these two functions, so the rule lives in one
// place.
package escape

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text returns s with every control character and every other rune that
// is not printable (unicode.IsPrint: format characters such as U+202E,
// separators other than the ASCII space, invalid UTF-8) replaced by a
// visible Go-style escape: \n, \r, \t, \x1b, \u202e. Printable text,
// including non-ASCII letters, is unchanged; a backslash is left as it is
// (escaping it too would make every Windows path unreadable, and a
// literal backslash cannot break a row).
func Text(s string) string {
	if printable(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case unicode.IsPrint(r):
			b.WriteRune(r)
		case r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
		i += size
	}
	return b.String()
}

// Cell is Text for a Markdown table cell: a pipe would also start a new
// column, so it is escaped as Markdown reads it (\|).
func Cell(s string) string {
	return strings.ReplaceAll(Text(s), "|", `\|`)
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return printableSlow(s[i:])
		}
	}
	return true
}

func printableSlow(s string) bool {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return false
			}
		}
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
