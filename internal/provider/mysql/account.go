package mysql

import (
	"net"
	"strings"
)

// acct is an account key: a user name and a host pattern. MariaDB roles
// have the host "".
type acct struct {
	user, host string
}

// String is the account's IdentityRef name: "user" for host '%',
// "user@host" otherwise (see the package comment).
func (a acct) String() string {
	if a.host == "%" && a.user != "" && !strings.Contains(a.user, "@") {
		return a.user
	}
	if a.host == "" {
		return a.user // a MariaDB role
	}
	return a.user + "@" + a.host
}

// definer is how information_schema spells the account in DEFINER and
// mysql.tables_priv in Grantor: user@host, unquoted.
func (a acct) definer() string {
	if a.host == "" {
		return a.user
	}
	return a.user + "@" + a.host
}

// quoted is the account as SQL would write it, for messages only.
func (a acct) quoted() string {
	return "'" + strings.ReplaceAll(a.user, "'", "''") + "'@'" + strings.ReplaceAll(a.host, "'", "''") + "'"
}

// parseName reads an IdentityRef name: user@host (split at the last '@'),
// a bare user (host '%'), or the quoted forms 'user'@'host', `user`@`host`,
// "user"@"host". explicit says whether a host was given.
func parseName(name string) (a acct, explicit bool) {
	name = strings.TrimSpace(name)
	if user, rest, ok := unquote(name); ok {
		if rest == "" {
			return acct{user: user, host: "%"}, false
		}
		if strings.HasPrefix(rest, "@") {
			rest = rest[1:]
			if host, tail, ok := unquote(rest); ok && tail == "" {
				return acct{user: user, host: strings.ToLower(host)}, true
			}
			return acct{user: user, host: strings.ToLower(rest)}, true
		}
	}
	i := strings.LastIndexByte(name, '@')
	if i < 0 {
		return acct{user: name, host: "%"}, false
	}
	host := name[i+1:]
	if h, tail, ok := unquote(host); ok && tail == "" {
		host = h
	}
	return acct{user: name[:i], host: strings.ToLower(host)}, true
}

// unquote reads a leading quoted identifier or string ('x', `x`, "x",
// with the quote doubled inside) and returns it and what follows.
func unquote(s string) (val, rest string, ok bool) {
	if s == "" {
		return "", "", false
	}
	q := s[0]
	if q != '\'' && q != '`' && q != '"' {
		return "", "", false
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] != q {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == q {
			b.WriteByte(q)
			i++
			continue
		}
		return b.String(), s[i+1:], true
	}
	return "", "", false
}

// likeMatch reports whether s matches the SQL LIKE pattern p (% any run,
// _ one character, \ escapes), ignoring ASCII case as host and database
// names compare.
func likeMatch(p, s string) bool {
	p, s = strings.ToLower(p), strings.ToLower(s)
	// Iterative matcher with backtracking to the last %.
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		if pi < len(p) {
			switch c := p[pi]; {
			case c == '%':
				star, mark = pi, si
				pi++
				continue
			case c == '\\' && pi+1 < len(p):
				if p[pi+1] == s[si] {
					pi += 2
					si++
					continue
				}
			case c == '_' || c == s[si]:
				pi++
				si++
				continue
			}
		}
		if star < 0 {
			return false
		}
		pi = star + 1
		mark++
		si = mark
	}
	for pi < len(p) && p[pi] == '%' {
		pi++
	}
	return pi == len(p)
}

// hostMatches reports whether an account host pattern admits a client
// host (an address or a resolved name): LIKE patterns, and address/netmask
// ("10.0.0.0/255.255.255.0").
func hostMatches(pattern, client string) bool {
	if pattern == "" {
		return true // old-style "any host"
	}
	if ipS, maskS, ok := strings.Cut(pattern, "/"); ok {
		ip, mask, c := net.ParseIP(ipS), net.ParseIP(maskS), net.ParseIP(client)
		if ip == nil || mask == nil || c == nil {
			return false
		}
		ip4, mask4, c4 := ip.To4(), mask.To4(), c.To4()
		if ip4 == nil || mask4 == nil || c4 == nil {
			return false
		}
		for i := range 4 {
			if c4[i]&mask4[i] != ip4[i] {
				return false
			}
		}
		return true
	}
	return likeMatch(pattern, client)
}

// hostRank orders host patterns as the server tries them (sql_acl.cc's
// get_sort): literal hosts (and netmasks) first, then patterns by the
// position of their first wildcard, ” last. Patterns the server ranks
// alike ('%' and '%.example.com') are ordered here by how many literal
// characters they hold, the more specific first. Higher is more specific.
func hostRank(pattern string) int {
	if pattern == "" {
		return 0
	}
	literal, wild := 0, 0
	for i := 0; i < len(pattern); i++ {
		switch pattern[i] {
		case '\\':
			i++
			literal++
		case '%', '_':
			if wild == 0 {
				wild = min(i+1, 127)
			}
		default:
			literal++
		}
	}
	primary := 128 // no wildcard
	if wild > 0 {
		primary = wild
	}
	return primary<<10 | min(literal, 1023)
}

// owner picks, among the accounts of one user name, the one a session from
// client was most likely authenticated as: the most specific host pattern
// that admits it. The process list names only the user, so with several
// accounts of one name this is the server's rule reapplied, not a record.
func owner(accounts []acct, client string) (acct, bool) {
	best, rank := acct{}, -1
	for _, a := range accounts {
		if !hostMatches(a.host, client) {
			continue
		}
		if r := hostRank(a.host); r > rank {
			best, rank = a, r
		}
	}
	return best, rank >= 0
}
