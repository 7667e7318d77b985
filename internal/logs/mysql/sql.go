package mysql

import (
	"strings"
)

// Redacted replaces a secret literal in a statement.
const Redacted = "'[REDACTED]'"

type tokKind uint8

const (
	tokWord    tokKind = iota // keyword, bare identifier or number
	tokIdent                  // `quoted identifier`
	tokLiteral                // 'string', "string", _utf8mb4'…', X'…'
	tokSemi
	tokOther // one byte of punctuation: ( ) = @ , .
)

type token struct {
	kind       tokKind
	start, end int
}

// tokenize splits SQL as MySQL's lexer does, skipping blanks and comments
// (-- , #, /* */) but reading the content of executable comments (/*! */,
// /*M! */). An unterminated literal or comment runs to the end.
func tokenize(s string) []token {
	var toks []token
	exec := false // inside /*! … */
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '#' || c == '-' && strings.HasPrefix(s[i:], "--") && (i+2 == len(s) || s[i+2] <= ' '):
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				return toks
			}
			i += j + 1
		case c == '/' && strings.HasPrefix(s[i:], "/*"):
			if j := i + 2; strings.HasPrefix(s[j:], "!") || strings.HasPrefix(s[j:], "M!") {
				j += strings.IndexByte(s[j:], '!') + 1
				for j < len(s) && s[j] >= '0' && s[j] <= '9' {
					j++
				}
				exec, i = true, j
				continue
			}
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return toks
			}
			i += j + 4
		case c == '*' && exec && strings.HasPrefix(s[i:], "*/"):
			exec, i = false, i+2
		case c == '\'' || c == '"':
			j := quoted(s, i+1, c)
			toks = append(toks, token{tokLiteral, i, j})
			i = j
		case c == '`':
			j := quoted(s, i+1, c)
			toks = append(toks, token{tokIdent, i, j})
			i = j
		case isWordByte(c):
			j := i + 1
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			// A charset introducer or a hex/bit/national prefix glued to
			// a string is part of the literal.
			if j < len(s) && s[j] == '\'' && (s[i] == '_' || j == i+1 && strings.IndexByte("nNxXbB", c) >= 0) {
				k := quoted(s, j+1, '\'')
				toks = append(toks, token{tokLiteral, i, k})
				i = k
				continue
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

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$' || c >= 0x80
}

// quoted returns the end of a quoted run starting at i (after the opening
// quote q): backslash escapes and a doubled quote stay inside.
func quoted(s string, i int, q byte) int {
	for i < len(s) {
		switch {
		case s[i] == '\\' && q != '`':
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

// unquoteName reads a quoted name ('x', "x", `x`) with its escapes undone;
// a bare one is returned as it is.
func unquoteName(t string) string {
	if len(t) < 2 || strings.IndexByte("'\"`", t[0]) < 0 {
		return t
	}
	q := t[0]
	t = t[1:]
	if strings.HasSuffix(t, string(q)) {
		t = t[:len(t)-1]
	}
	var b strings.Builder
	for i := 0; i < len(t); i++ {
		switch {
		case t[i] == '\\' && q != '`' && i+1 < len(t):
			i++
			b.WriteByte(t[i])
		case t[i] == q && i+1 < len(t) && t[i+1] == q:
			i++
			b.WriteByte(q)
		default:
			b.WriteByte(t[i])
		}
	}
	return b.String()
}

// Statement is what Analyze reads from SQL.
type Statement struct {
	// Redacted is the SQL with every password literal replaced by
	// Redacted.
	Redacted string
	// Tag is the kind of the first statement, upper case: "SELECT",
	// "CREATE USER", "SET PASSWORD"; empty when there is none.
	Tag string
	// Derived is true when a statement makes or changes a credential or a
	// privilege (see the package doc).
	Derived bool
	// DerivedUser and DerivedHost name the account the first such
	// statement makes or changes, when it names one (DerivedHost is empty
	// for a role). Self is true when it changes the session's own account
	// (SET PASSWORD without FOR, ALTER USER CURRENT_USER()).
	DerivedUser, DerivedHost string
	Self                     bool
}

// Analyze redacts stmt and reads its kind and the credential it makes.
func Analyze(stmt string) Statement {
	var st Statement
	if !mayHoldSecret(stmt) && !mayDerive(stmt) {
		st.Redacted, st.Tag = stmt, quickTag(stmt)
		return st
	}
	toks := tokenize(stmt)
	st.Redacted = redact(stmt, toks)
	start := 0
	for i := 0; i <= len(toks); i++ {
		if i < len(toks) && toks[i].kind != tokSemi {
			continue
		}
		s := toks[start:i]
		start = i + 1
		if len(s) == 0 {
			continue
		}
		tag := commandTag(stmt, s)
		if st.Tag == "" {
			st.Tag = tag
		}
		if !st.Derived && derives(stmt, s, tag) {
			st.Derived = true
			st.DerivedUser, st.DerivedHost, st.Self = derivedAccount(stmt, s, tag)
		}
	}
	return st
}

// mayHoldSecret is a cheap prefilter: only a statement that spells one of
// these words can hold a password literal.
func mayHoldSecret(s string) bool {
	return containsFold(s, "password") || containsFold(s, "identified")
}

func mayDerive(s string) bool {
	return containsFold(s, "user") || containsFold(s, "grant") || containsFold(s, "role") || containsFold(s, "priv") ||
		containsFold(s, "mysql")
}

// containsFold reports whether s holds the lower-case ASCII word w in any
// case.
func containsFold(s, w string) bool {
	first := w[0]
	upper := first - 'a' + 'A'
	for i := 0; i+len(w) <= len(s); i++ {
		if c := s[i]; c != first && c != upper {
			continue
		}
		if strings.EqualFold(s[i:i+len(w)], w) {
			return true
		}
	}
	return false
}

func word(s string, t token) string {
	if t.kind != tokWord {
		return ""
	}
	return strings.ToUpper(s[t.start:t.end])
}

func isOther(s string, t token, c byte) bool {
	return t.kind == tokOther && s[t.start] == c
}

func isPasswordWord(w string) bool {
	return w == "PASSWORD" || w == "OLD_PASSWORD" || strings.HasSuffix(w, "_PASSWORD")
}

// redact replaces the literals that hold a password or its hash.
func redact(s string, toks []token) string {
	var (
		b           strings.Builder
		last        int
		identified  bool // IDENTIFIED seen in this statement
		setPassword bool // the statement is SET PASSWORD
		afterEq     bool // past SET PASSWORD's =
		depth       int  // inside PASSWORD( … )
		prevRed     bool // the previous token was a redacted literal
		first       = true
	)
	for i, t := range toks {
		var prev, prev2 token
		hasPrev := i > 0
		if hasPrev {
			prev = toks[i-1]
		}
		if i > 1 {
			prev2 = toks[i-2]
		}
		switch t.kind {
		case tokSemi:
			identified, setPassword, afterEq, depth, prevRed, first = false, false, false, 0, false, true
			continue
		case tokWord:
			w := word(s, t)
			if w == "IDENTIFIED" {
				identified = true
			}
			if first && w == "SET" && i+1 < len(toks) && word(s, toks[i+1]) == "PASSWORD" {
				setPassword = true
			}
		case tokOther:
			switch s[t.start] {
			case '(':
				if depth > 0 {
					depth++
				} else if hasPrev && isPasswordWord(word(s, prev)) {
					depth = 1
				}
			case ')':
				if depth > 0 {
					depth--
				}
			case '=':
				if setPassword {
					afterEq = true
				}
			}
		case tokLiteral:
			pw := ""
			if hasPrev {
				pw = word(s, prev)
			}
			secret := depth > 0 ||
				prevRed && prev.kind == tokLiteral ||
				isPasswordWord(pw) ||
				hasPrev && isOther(s, prev, '=') && i > 1 && isPasswordWord(word(s, prev2)) ||
				identified && (pw == "BY" || pw == "AS" || pw == "USING" || pw == "REPLACE") ||
				setPassword && (afterEq || pw == "REPLACE")
			if secret {
				b.WriteString(s[last:t.start])
				b.WriteString(Redacted)
				last = t.end
			}
			prevRed = secret
			first = false
			continue
		}
		prevRed = false
		first = false
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// createModifiers are the words between CREATE/ALTER/DROP and the object
// kind that the tag leaves out.
var createModifiers = map[string]bool{"OR": true, "REPLACE": true, "TEMPORARY": true, "UNIQUE": true, "FULLTEXT": true,
	"SPATIAL": true, "ONLINE": true, "OFFLINE": true, "IGNORE": true, "AGGREGATE": true, "UNDO": true, "LOGFILE": true}

// commandTag names a statement's kind from its tokens.
func commandTag(s string, toks []token) string {
	i := 0
	for i < len(toks) && toks[i].kind == tokOther && s[toks[i].start] == '(' {
		i++
	}
	if i >= len(toks) || toks[i].kind != tokWord {
		return ""
	}
	w0 := word(s, toks[i])
	next := func(j int) string {
		if j < len(toks) {
			return word(s, toks[j])
		}
		return ""
	}
	switch w0 {
	case "CREATE", "ALTER", "DROP":
		j := i + 1
		for j < len(toks) {
			w := next(j)
			switch {
			case createModifiers[w]:
				j++
			case w == "DEFINER": // DEFINER = user@host
				j = skipAccount(s, toks, j+2)
			case w == "ALGORITHM": // ALGORITHM = MERGE
				j += 3
			case w == "SQL" && next(j+1) == "SECURITY":
				j += 3
			default:
				if w == "" {
					return w0
				}
				return w0 + " " + w
			}
		}
		return w0
	case "RENAME", "SHOW", "FLUSH", "LOCK", "UNLOCK", "START", "STOP", "RESET", "CHANGE", "INSTALL", "UNINSTALL":
		if w := next(i + 1); w != "" {
			return w0 + " " + w
		}
	case "SET":
		switch next(i + 1) {
		case "PASSWORD":
			return "SET PASSWORD"
		case "ROLE":
			return "SET ROLE"
		case "DEFAULT":
			if next(i+2) == "ROLE" {
				return "SET DEFAULT ROLE"
			}
		}
	}
	return w0
}

// quickTag is commandTag for a statement that needs no other analysis:
// its first word, or the first two for the forms commandTag knows.
func quickTag(s string) string {
	toks := make([]token, 0, 8)
	for _, t := range tokenize(firstWords(s)) {
		if t.kind == tokSemi {
			break
		}
		toks = append(toks, t)
	}
	return commandTag(s, toks)
}

// firstWords returns a prefix of s long enough to tag it, without
// tokenizing a long statement whole.
func firstWords(s string) string {
	const n = 512
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// skipAccount returns the index past the account (user, user@host,
// 'user'@'host', CURRENT_USER, CURRENT_USER()) starting at toks[i].
func skipAccount(s string, toks []token, i int) int {
	_, _, _, j := readAccount(s, toks, i)
	return j
}

// readAccount reads an account at toks[i]; ok is false for CURRENT_USER.
func readAccount(s string, toks []token, i int) (user, host string, ok bool, end int) {
	if i >= len(toks) {
		return "", "", false, i
	}
	t := toks[i]
	if t.kind == tokOther {
		return "", "", false, i
	}
	user = unquoteName(s[t.start:t.end])
	i++
	if strings.EqualFold(user, "CURRENT_USER") && t.kind == tokWord {
		if i+1 < len(toks) && isOther(s, toks[i], '(') && isOther(s, toks[i+1], ')') {
			i += 2
		}
		return "", "", false, i
	}
	if i+1 < len(toks) && isOther(s, toks[i], '@') && toks[i].start == t.end && toks[i+1].start == toks[i].end {
		i++
		switch h := toks[i]; h.kind {
		case tokLiteral, tokIdent:
			host = unquoteName(s[h.start:h.end])
			i++
		default:
			// A bare host: words and . % - glued together (localhost,
			// 10.0.0.1).
			hs := i
			for i < len(toks) && (toks[i].start == h.start || toks[i].start == toks[i-1].end) &&
				(toks[i].kind == tokWord || toks[i].kind == tokOther && strings.IndexByte(".%-", s[toks[i].start]) >= 0) {
				i++
			}
			if i > hs {
				host = s[h.start:toks[i-1].end]
			}
		}
	}
	return user, host, true, i
}

// grantTables are the tables of the mysql schema that hold accounts,
// passwords and privileges.
var grantTables = map[string]bool{"USER": true, "GLOBAL_PRIV": true, "DB": true, "TABLES_PRIV": true, "COLUMNS_PRIV": true,
	"PROCS_PRIV": true, "PROXIES_PRIV": true, "ROLES_MAPPING": true}

// derives reports whether a statement makes or changes a credential or a
// privilege.
func derives(s string, toks []token, tag string) bool {
	switch tag {
	case "CREATE USER", "CREATE ROLE", "RENAME USER", "GRANT", "SET PASSWORD":
		return true
	case "ALTER USER":
		for _, t := range toks {
			if w := word(s, t); w == "IDENTIFIED" || w == "UNLOCK" {
				return true
			}
		}
	case "INSERT", "UPDATE", "REPLACE", "DELETE", "LOAD":
		if tag == "DELETE" {
			return false
		}
		for i := 0; i+2 < len(toks); i++ {
			if strings.EqualFold(unquoteName(s[toks[i].start:toks[i].end]), "mysql") && isOther(s, toks[i+1], '.') &&
				grantTables[strings.ToUpper(unquoteName(s[toks[i+2].start:toks[i+2].end]))] {
				return true
			}
		}
	}
	return false
}

// derivedAccount names the account a deriving statement makes or changes.
func derivedAccount(s string, toks []token, tag string) (user, host string, self bool) {
	find := func(w string) int {
		for i, t := range toks {
			if word(s, t) == w {
				return i
			}
		}
		return -1
	}
	// at reads the account at toks[i], after IF [NOT] EXISTS.
	at := func(i int, defaultHost string) (string, string, bool) {
		for i < len(toks) && (word(s, toks[i]) == "IF" || word(s, toks[i]) == "NOT" || word(s, toks[i]) == "EXISTS") {
			i++
		}
		u, h, ok, _ := readAccount(s, toks, i)
		if !ok {
			return "", "", i < len(toks) // CURRENT_USER
		}
		if h == "" {
			h = defaultHost
		}
		return u, h, false
	}
	switch tag {
	case "CREATE USER", "ALTER USER", "CREATE ROLE":
		i := find("USER")
		def := "%"
		if tag == "CREATE ROLE" {
			i, def = find("ROLE"), ""
		}
		if i >= 0 {
			return at(i+1, def)
		}
	case "SET PASSWORD":
		if i := find("FOR"); i >= 0 {
			return at(i+1, "%")
		}
		return "", "", true
	case "RENAME USER", "GRANT":
		if i := find("TO"); i >= 0 {
			return at(i+1, "%")
		}
	}
	return "", "", false
}
