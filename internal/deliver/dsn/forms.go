package dsn

import (
	"regexp"
	"strings"
)

// parseURL reads scheme://[user[:password]@]host…[?user=…&password=…],
// with an optional jdbc: prefix. Userinfo and query values are
// percent-decoded (a '+' stays a '+', as libpq reads it).
func parseURL(s string) *parsed {
	base := 0
	if len(s) > 5 && strings.EqualFold(s[:5], "jdbc:") {
		base = 5
	}
	i := strings.Index(s[base:], "://")
	if i <= 0 || !scheme.MatchString(s[base:base+i]) {
		return nil
	}
	auth := base + i + 3
	rest := s[auth:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndexByte(rest[:end], '@')
	if at < 0 && end < len(rest) {
		// A password with a raw '/', '?' or '#' in it (not
		// percent-encoded): take the first '@' after it, unless a query
		// has begun by then.
		if j := strings.IndexByte(rest[end:], '@'); j >= 0 {
			j += end
			if ui := rest[:j]; strings.Contains(ui, ":") && !strings.ContainsAny(ui, "=&") {
				at = j
			}
		}
	}
	p := &parsed{form: URL, encUser: urlEnc, encPassword: urlEnc}
	hostStart := auth
	if at >= 0 {
		ui := rest[:at]
		hostStart = auth + at + 1
		if c := strings.IndexByte(ui, ':'); c >= 0 {
			p.user = append(p.user, span{auth, auth + c, unescape(ui[:c]), true})
			p.password = append(p.password, span{auth + c + 1, auth + at, unescape(ui[c+1:]), true})
		} else {
			p.user = append(p.user, span{auth, auth + at, unescape(ui), true})
			atAbs := auth + at
			p.insertPassword = func(enc string) string { return s[:atAbs] + ":" + enc + s[atAbs:] }
		}
	}
	// Query parameters user= and password= (libpq URIs, JDBC).
	q := strings.IndexByte(s[hostStart:], '?')
	if q < 0 {
		return p
	}
	q += hostStart + 1
	qend := len(s)
	if h := strings.IndexByte(s[q:], '#'); h >= 0 {
		qend = q + h
	}
	for pos := q; pos <= qend; {
		amp := strings.IndexByte(s[pos:qend], '&')
		next := qend
		if amp >= 0 {
			next = pos + amp
		}
		kv := s[pos:next]
		if eq := strings.IndexByte(kv, '='); eq > 0 {
			sp := span{pos + eq + 1, next, unescape(kv[eq+1:]), true}
			switch strings.ToLower(unescape(kv[:eq])) {
			case "user":
				p.user = append(p.user, sp)
			case "password":
				p.password = append(p.password, sp)
			}
		}
		pos = next + 1
	}
	return p
}

var scheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*$`)

// urlEnc percent-encodes everything but RFC 3986's unreserved characters:
// the one form that every URL parser reads back the same in userinfo and
// in a query (net/url, libpq, JDBC), unlike '+' for a space.
func urlEnc(v string) (string, error) {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String(), nil
}

// unescape percent-decodes v; a malformed escape leaves v as written (a
// raw '%' in a password that was never encoded).
func unescape(v string) string {
	if !strings.Contains(v, "%") {
		return v
	}
	b := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if v[i] == '%' {
			if i+2 >= len(v) || unhex(v[i+1]) < 0 || unhex(v[i+2]) < 0 {
				return v
			}
			b = append(b, byte(unhex(v[i+1])<<4|unhex(v[i+2])))
			i += 2
			continue
		}
		b = append(b, v[i])
	}
	return string(b)
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// mysqlNet is the part between '@' and '/' in a go-sql-driver DSN.
var mysqlNet = regexp.MustCompile(`^((tcp|tcp4|tcp6|udp|unix|pipe|memory)(\(.*\))?)?$`)

// parseMySQL reads [user[:password]@][net[(addr)]]/dbname[?params] the way
// go-sql-driver does: the last '/' ends the address, the last '@' before
// it ends the credentials, the first ':' splits user and password. The
// password is taken raw (the driver does not decode it), so any character
// may appear in it; the user may not hold a ':'.
func parseMySQL(s string) *parsed {
	i := strings.LastIndexByte(s, '/')
	if i <= 0 {
		return nil
	}
	j := strings.LastIndexByte(s[:i], '@')
	if j <= 0 || !mysqlNet.MatchString(s[j+1:i]) {
		return nil
	}
	p := &parsed{
		form:        MySQL,
		encPassword: func(v string) (string, error) { return v, nil },
		encUser: func(v string) (string, error) {
			if strings.Contains(v, ":") {
				return "", ErrUserSyntax
			}
			return v, nil
		},
	}
	if k := strings.IndexByte(s[:j], ':'); k >= 0 {
		p.user = []span{{0, k, s[:k], true}}
		p.password = []span{{k + 1, j, s[k+1 : j], true}}
	} else {
		p.user = []span{{0, j, s[:j], true}}
		p.insertPassword = func(enc string) string { return s[:j] + ":" + enc + s[j:] }
	}
	return p
}

// parseKeyValue reads libpq's keyword = value list: values bare or in
// single quotes, with backslash escaping ' and \ in either.
func parseKeyValue(s string) *parsed {
	p := &parsed{form: KeyValue, encUser: kvEnc, encPassword: kvEnc}
	n := 0
	userEnd := -1
	for pos := 0; ; {
		for pos < len(s) && isSpace(s[pos]) {
			pos++
		}
		if pos == len(s) {
			break
		}
		k := pos
		for pos < len(s) && (s[pos] == '_' || 'a' <= s[pos] && s[pos] <= 'z' || pos > k && '0' <= s[pos] && s[pos] <= '9') {
			pos++
		}
		key := s[k:pos]
		for pos < len(s) && isSpace(s[pos]) {
			pos++
		}
		if key == "" || pos == len(s) || s[pos] != '=' {
			return nil
		}
		pos++
		for pos < len(s) && isSpace(s[pos]) {
			pos++
		}
		v := pos
		var b strings.Builder
		if pos < len(s) && s[pos] == '\'' {
			pos++
			for ; pos < len(s) && s[pos] != '\''; pos++ {
				if s[pos] == '\\' && pos+1 < len(s) {
					pos++
				}
				b.WriteByte(s[pos])
			}
			if pos == len(s) {
				return nil
			}
			pos++
		} else {
			for ; pos < len(s) && !isSpace(s[pos]); pos++ {
				if s[pos] == '\\' && pos+1 < len(s) {
					pos++
				}
				b.WriteByte(s[pos])
			}
		}
		if pos < len(s) && !isSpace(s[pos]) {
			return nil
		}
		n++
		sp := span{v, pos, b.String(), true}
		switch key {
		case "user":
			p.user = append(p.user, sp)
			userEnd = pos
		case "password":
			p.password = append(p.password, sp)
		}
	}
	if n < 2 || len(p.user)+len(p.password) == 0 {
		return nil
	}
	if userEnd >= 0 {
		p.insertPassword = func(enc string) string { return s[:userEnd] + " password=" + enc + s[userEnd:] }
	}
	return p
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' }

// kvEnc writes a libpq value: bare when it can be, else single-quoted with
// ' and \ escaped.
func kvEnc(v string) (string, error) {
	if v != "" && !strings.ContainsAny(v, " \t'\\") {
		return v, nil
	}
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(v) + "'", nil
}

var (
	adoKey      = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9 _]*$`)
	adoUser     = map[string]bool{"user id": true, "userid": true, "uid": true, "user": true, "username": true, "user name": true}
	adoPassword = map[string]bool{"password": true, "pwd": true}
)

// parseADO reads Key=Value; pairs (ADO.NET, Npgsql, ODBC): keys are
// case-insensitive, values bare or quoted with " or ' (the quote doubled
// inside).
func parseADO(s string) *parsed {
	if !strings.Contains(s, ";") {
		return nil
	}
	p := &parsed{form: ADO, encUser: adoEnc, encPassword: adoEnc}
	n := 0
	userEnd := -1
	for pos := 0; pos < len(s); {
		for pos < len(s) && (isSpace(s[pos]) || s[pos] == ';') {
			pos++
		}
		if pos == len(s) {
			break
		}
		eq := strings.IndexByte(s[pos:], '=')
		if eq < 0 {
			return nil
		}
		key := strings.ToLower(strings.TrimSpace(s[pos : pos+eq]))
		if !adoKey.MatchString(key) {
			return nil
		}
		pos += eq + 1
		for pos < len(s) && isSpace(s[pos]) {
			pos++
		}
		v := pos
		var text string
		if pos < len(s) && (s[pos] == '"' || s[pos] == '\'') {
			q := s[pos]
			var b strings.Builder
			for pos++; ; pos++ {
				if pos == len(s) {
					return nil
				}
				if s[pos] == q {
					if pos+1 < len(s) && s[pos+1] == q {
						b.WriteByte(q)
						pos++
						continue
					}
					break
				}
				b.WriteByte(s[pos])
			}
			pos++
			text = b.String()
			for pos < len(s) && isSpace(s[pos]) {
				pos++
			}
			if pos < len(s) && s[pos] != ';' {
				return nil
			}
		} else {
			e := strings.IndexByte(s[pos:], ';')
			if e < 0 {
				e = len(s) - pos
			}
			text = strings.TrimRight(s[pos:pos+e], " \t")
			pos += len(text)
		}
		n++
		sp := span{v, pos, text, true}
		switch {
		case adoUser[key]:
			p.user = append(p.user, sp)
			userEnd = pos
		case adoPassword[key]:
			p.password = append(p.password, sp)
		}
		for pos < len(s) && isSpace(s[pos]) {
			pos++
		}
	}
	if n < 2 || len(p.user)+len(p.password) == 0 {
		return nil
	}
	if userEnd >= 0 {
		p.insertPassword = func(enc string) string { return s[:userEnd] + ";Password=" + enc + s[userEnd:] }
	}
	return p
}

// adoEnc quotes a value when it holds a ';', starts with a quote or has
// surrounding spaces.
func adoEnc(v string) (string, error) {
	if v != "" && !strings.ContainsAny(v, ";\"'") && strings.TrimSpace(v) == v {
		return v, nil
	}
	return `"` + strings.ReplaceAll(v, `"`, `""`) + `"`, nil
}
