// Package dsn finds and replaces the user and password inside a connection
// string, whatever its syntax, and leaves every other byte as it was: a
// delivery must change the credential and nothing the consumer tuned
// (hosts, options, parameter order). It knows URLs (postgres://, mysql://,
// redis://, jdbc:…), go-sql-driver MySQL DSNs, libpq key=value strings and
// ADO.NET-style Key=Value; strings; anything else is a plain value that is
// the password itself.
//
// Errors never quote the string: it holds a credential.
package dsn

import (
	"errors"
	"slices"
	"strings"
)

// Form is the syntax of a value.
type Form string

const (
	Plain    Form = "plain"     // not a connection string: the value is the password
	URL      Form = "url"       // scheme://user:password@host/db?…, jdbc:scheme://…
	MySQL    Form = "mysql-dsn" // go-sql-driver: user:password@tcp(host:3306)/db?…
	KeyValue Form = "libpq"     // host=h user=u password='p w' dbname=d
	ADO      Form = "ado"       // Host=h;Username=u;Password=p;Database=d
)

var (
	// ErrNoCredentials: a connection string with no user or password in it
	// (the consumer takes them from elsewhere: PGPASSWORD, .pgpass…).
	ErrNoCredentials = errors.New("connection string holds no user or password")
	// ErrUserSyntax: the new user name cannot be written in this syntax.
	ErrUserSyntax = errors.New("user name cannot be written in this connection string syntax")
	// ErrNoUser: a plain value holds only a password, so a new login name
	// has nowhere to go.
	ErrNoUser = errors.New("value holds only a password, not a user name")
)

// Creds is what a value says about the credential in it.
type Creds struct {
	Form Form
	// User is the login name; HasUser is false when there is none (a plain
	// value, redis://:pass@host).
	User        string
	HasUser     bool
	Password    string
	HasPassword bool
}

// span is a part of the string: [start, end) and its decoded text.
type span struct {
	start, end int
	text       string
	ok         bool
}

// parsed is a recognised connection string: where its parts are, and how
// to encode new ones.
type parsed struct {
	form     Form
	user     []span // usually one; a URL may carry the user twice (userinfo and ?user=)
	password []span
	// insertPassword builds the string with a password added next to the
	// user; nil when the syntax has no place for it.
	insertPassword func(enc string) string
	encUser        func(string) (string, error)
	encPassword    func(string) (string, error)
}

// Parse tells the form of s and the credential it holds. A string that is
// no known connection string syntax is Plain: all of it is the password.
func Parse(s string) Creds {
	p := parse(s)
	if p == nil {
		return Creds{Form: Plain, Password: s, HasPassword: true}
	}
	c := Creds{Form: p.form}
	if len(p.user) > 0 {
		c.User = p.user[len(p.user)-1].text
		c.HasUser = c.User != "" // redis://:pass@host has a place for a user, but none
	}
	if len(p.password) > 0 {
		c.Password, c.HasPassword = p.password[len(p.password)-1].text, true
	}
	return c
}

// Set returns s with its password replaced by password and, when user is
// not "", its user name replaced by user; every other byte is kept. Parts
// are encoded as the syntax needs (percent-encoding in URLs, quoting in
// key=value forms). A connection string with a user but no password gets
// the password added next to the user. For a Plain value the result is
// password, and a user is ErrNoUser.
func Set(s, user, password string) (string, error) {
	p := parse(s)
	if p == nil {
		if user != "" {
			return "", ErrNoUser
		}
		return password, nil
	}
	type repl struct {
		start, end int
		text       string
	}
	var rs []repl
	if len(p.user) == 0 && len(p.password) == 0 {
		return "", ErrNoCredentials
	}
	if user != "" {
		if len(p.user) == 0 {
			return "", ErrUserSyntax
		}
		enc, err := p.encUser(user)
		if err != nil {
			return "", err
		}
		for _, u := range p.user {
			rs = append(rs, repl{u.start, u.end, enc})
		}
	}
	enc, err := p.encPassword(password)
	if err != nil {
		return "", err
	}
	for _, pw := range p.password {
		rs = append(rs, repl{pw.start, pw.end, enc})
	}
	if len(p.password) == 0 {
		if len(p.user) == 0 || p.insertPassword == nil {
			return "", ErrNoCredentials
		}
	}
	// Replace from the end so that earlier offsets stay valid.
	slices.SortFunc(rs, func(a, b repl) int { return b.start - a.start })
	out := s
	for _, r := range rs {
		out = out[:r.start] + r.text + out[r.end:]
	}
	if len(p.password) == 0 {
		// Re-parse: offsets moved if the user changed.
		q := parse(out)
		if q == nil || q.insertPassword == nil {
			return "", ErrNoCredentials
		}
		out = q.insertPassword(enc)
	}
	return out, nil
}

func parse(s string) *parsed {
	if strings.ContainsAny(s, "\n\r") {
		return nil
	}
	if p := parseURL(s); p != nil {
		return p
	}
	if p := parseKeyValue(s); p != nil {
		return p
	}
	if p := parseADO(s); p != nil {
		return p
	}
	return parseMySQL(s)
}
