package postgres

import (
	"regexp"
	"strings"
)

// Redacted replaces a secret literal in a statement.
const Redacted = "'[REDACTED]'"

type tokKind int

const (
	tokWord    tokKind = iota // keyword or bare identifier
	tokIdent                  // "quoted identifier"
	tokLiteral                // 'string', E'…', U&'…', $tag$…$tag$
	tokSemi
	tokOther
)

type token struct {
	kind       tokKind
	start, end int
}

// tokenize splits SQL into tokens, skipping blanks and comments. An
// unterminated literal or comment runs to the end.
func tokenize(s string) []token {
	var toks []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c == '-' && strings.HasPrefix(s[i:], "--"):
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				return toks
			}
			i += j + 1
		case c == '/' && strings.HasPrefix(s[i:], "/*"):
			depth, j := 1, i+2
			for j < len(s) && depth > 0 {
				switch {
				case strings.HasPrefix(s[j:], "/*"):
					depth, j = depth+1, j+2
				case strings.HasPrefix(s[j:], "*/"):
					depth, j = depth-1, j+2
				default:
					j++
				}
			}
			i = j
		case c == '\'':
			j := quoted(s, i+1, '\'', false)
			toks = append(toks, token{tokLiteral, i, j})
			i = j
		case (c == 'E' || c == 'e') && i+1 < len(s) && s[i+1] == '\'':
			j := quoted(s, i+2, '\'', true)
			toks = append(toks, token{tokLiteral, i, j})
			i = j
		case (c == 'U' || c == 'u') && strings.HasPrefix(s[i+1:], "&'"):
			j := quoted(s, i+3, '\'', false)
			toks = append(toks, token{tokLiteral, i, j})
			i = j
		case c == '"':
			j := quoted(s, i+1, '"', false)
			toks = append(toks, token{tokIdent, i, j})
			i = j
		case c == '$':
			if tag, ok := dollarTag(s[i:]); ok {
				j := strings.Index(s[i+len(tag):], tag)
				if j < 0 {
					j = len(s)
				} else {
					j = i + len(tag) + j + len(tag)
				}
				toks = append(toks, token{tokLiteral, i, j})
				i = j
				continue
			}
			toks = append(toks, token{tokOther, i, i + 1})
			i++
		case isWordStart(c):
			j := i + 1
			for j < len(s) && (isWordStart(s[j]) || s[j] >= '0' && s[j] <= '9' || s[j] == '$') {
				j++
			}
			toks = append(toks, token{tokWord, i, j})
			i = j
		case c == ';':
			toks = append(toks, token{tokSemi, i, i + 1})
			i++
		default:
			toks = append(toks, token{tokOther, i, i + 1})
			i++
		}
	}
	return toks
}

func isWordStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

// quoted returns the end of a quoted run starting at i (after the opening
// quote): doubled quotes, and backslash escapes when esc, stay inside.
func quoted(s string, i int, q byte, esc bool) int {
	for i < len(s) {
		switch {
		case esc && s[i] == '\\':
			i += 2
		case s[i] == q:
			if i+1 < len(s) && s[i+1] == q {
				i += 2
				continue
			}
			return i + 1
		default:
			i++
		}
	}
	return len(s)
}

// dollarTag returns the $tag$ opening s, if it is one.
func dollarTag(s string) (string, bool) {
	for j := 1; j < len(s); j++ {
		c := s[j]
		if c == '$' {
			return s[:j+1], true
		}
		if !(isWordStart(c) || j > 1 && c >= '0' && c <= '9') {
			return "", false
		}
	}
	return "", false
}

// connPassword finds password=… in a connection string inside a literal
// (dblink, CREATE SUBSCRIPTION … CONNECTION '…').
var connPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('[^']*'|[^\s']+)`)

// Redact returns stmt with every literal after the keyword PASSWORD (so
// ENCRYPTED PASSWORD and a user mapping's password option too) replaced by
// '[REDACTED]', and password=… in connection strings masked. It also
// returns the command tag of the first statement ("CREATE ROLE", "GRANT",
// "SELECT") and whether any statement makes a credential (see the package
// doc).
func Redact(stmt string) (redacted, tag string, derived bool) {
	toks := tokenize(stmt)
	var b strings.Builder
	last := 0
	for i, t := range toks {
		if t.kind != tokLiteral {
			continue
		}
		lit := stmt[t.start:t.end]
		repl := lit
		if i > 0 && toks[i-1].kind == tokWord && strings.EqualFold(stmt[toks[i-1].start:toks[i-1].end], "PASSWORD") {
			repl = Redacted
		} else if connPassword.MatchString(lit) {
			repl = connPassword.ReplaceAllString(lit, "${1}[REDACTED]")
		}
		if repl != lit {
			b.WriteString(stmt[last:t.start])
			b.WriteString(repl)
			last = t.end
		}
	}
	if last == 0 {
		redacted = stmt
	} else {
		b.WriteString(stmt[last:])
		redacted = b.String()
	}

	var words []string
	flush := func() {
		if len(words) == 0 {
			return
		}
		if tag == "" {
			tag = commandTag(words)
		}
		derived = derived || makesCredential(words)
		words = words[:0]
	}
	for _, t := range toks {
		switch t.kind {
		case tokSemi:
			flush()
		case tokWord:
			words = append(words, strings.ToUpper(stmt[t.start:t.end]))
		case tokIdent, tokLiteral, tokOther:
			words = append(words, "") // holds a place, matches no keyword
		}
	}
	flush()
	return redacted, tag, derived
}

// modifiers between CREATE and the object kind that the tag leaves out.
var modifiers = map[string]bool{"OR": true, "REPLACE": true, "UNIQUE": true, "TEMP": true, "TEMPORARY": true,
	"UNLOGGED": true, "GLOBAL": true, "LOCAL": true, "TRUSTED": true, "PROCEDURAL": true, "RECURSIVE": true}

// twoWord are object kinds spelt in two (or three) words: first word →
// second.
var twoWord = map[string]string{"USER": "MAPPING", "FOREIGN": "TABLE DATA", "MATERIALIZED": "VIEW",
	"EVENT": "TRIGGER", "DEFAULT": "PRIVILEGES", "ACCESS": "METHOD", "OPERATOR": "CLASS FAMILY", "TEXT": "SEARCH"}

func commandTag(w []string) string {
	if w[0] == "" {
		return ""
	}
	switch w[0] {
	case "CREATE", "ALTER", "DROP":
	default:
		return w[0]
	}
	i := 1
	for i < len(w) && modifiers[w[i]] {
		i++
	}
	if i >= len(w) || w[i] == "" {
		return w[0]
	}
	tag := w[0] + " " + w[i]
	if i+1 < len(w) && w[i+1] != "" && strings.Contains(" "+twoWord[w[i]]+" ", " "+w[i+1]+" ") {
		tag += " " + w[i+1]
		if w[i+1] == "DATA" && i+2 < len(w) && w[i+2] == "WRAPPER" {
			tag += " WRAPPER"
		}
	}
	return tag
}

func has(w []string, k string) bool {
	for _, v := range w {
		if v == k {
			return true
		}
	}
	return false
}

// makesCredential reports whether a statement's words create a credential
// or give one a password, a login or a role.
func makesCredential(w []string) bool {
	tag := commandTag(w)
	switch tag {
	case "CREATE ROLE", "CREATE USER", "CREATE GROUP", "CREATE USER MAPPING":
		return true
	case "ALTER ROLE", "ALTER USER", "ALTER GROUP":
		return has(w, "PASSWORD") || has(w, "LOGIN") || tag == "ALTER GROUP" && has(w, "ADD")
	case "ALTER USER MAPPING":
		return has(w, "PASSWORD")
	case "GRANT":
		return !has(w, "ON")
	}
	return false
}
