// Package mysql parses the logs MySQL and MariaDB servers write about who
// logged in and what they ran: the general query log file (mysql-general)
// and the MariaDB server_audit plugin's log (mariadb-audit), in its own
// file or through syslog.
//
// Both map to the same events:
//
//	a successful login                    → connect, success
//	Access denied for user 'u'@'h' …      → connect, failure (Detail error: 1045, 1044…)
//	the end of a session                  → disconnect
//	a statement                           → its kind ("SELECT", "CREATE USER", "GRANT")
//
// Credential is the user name the client logged in with, Identity the
// account as 'user'@'host' (the client's host, or the account the message
// names), Source the client's host or IP. A statement that makes or changes
// a credential or a privilege (CREATE USER, ALTER USER … IDENTIFIED,
// SET PASSWORD, GRANT, CREATE ROLE, RENAME USER, a write to the grant tables
// in the mysql schema) carries Detail "derived" = "true" and, where the
// statement names it, the account in "derived_user" (its name) and
// "derived_identity" ('name'@'host'): a possible backdoor made with the
// exposed credential. Every string literal that holds a password or a
// password hash (IDENTIFIED BY '…', PASSWORD('…'), SET PASSWORD … = '…',
// IDENTIFIED VIA … USING '…', MASTER_PASSWORD = '…') is replaced by
// '[REDACTED]' before it reaches an event.
//
// Times carry no zone in MariaDB's general log and in the audit file: they
// are the server's local time, read in the parser's Location (UTC when
// nil).
package mysql

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/rekeyhq/rekey/internal/logs"
)

// maxRecord bounds a line and a general log record with its continuation
// lines: longer ones are cut, keeping memory constant.
const maxRecord = 1 << 20

// maxStatement bounds the statement kept in an event's Detail.
const maxStatement = 8 << 10

// maxSessions bounds the connections a parse remembers (the oldest is
// forgotten first).
const maxSessions = 10000

// quoteAccount spells an account as SQL does: 'user'@'host'.
func quoteAccount(user, host string) string {
	return "'" + strings.ReplaceAll(user, "'", "''") + "'@'" + strings.ReplaceAll(host, "'", "''") + "'"
}

func cutUTF8(s string, n int) string {
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// statementDetail fills the Detail keys of a statement: the redacted text,
// derived, derived_user and derived_identity. self is the session's user,
// the account a SET PASSWORD without FOR changes.
func statementDetail(d map[string]string, stmt, self string) (tag string) {
	st := Analyze(stmt)
	red := st.Redacted
	if len(red) > maxStatement {
		red = cutUTF8(red, maxStatement) + "…"
	}
	d["statement"] = red
	if st.Derived {
		d["derived"] = "true"
		user, host := st.DerivedUser, st.DerivedHost
		if user == "" && st.Self {
			user = self
		}
		if user != "" {
			d["derived_user"] = user
			if host != "" {
				d["derived_identity"] = quoteAccount(user, host)
			}
		}
	}
	if st.Tag == "" {
		return "UNKNOWN"
	}
	return st.Tag
}

// emitter counts what a parse sees and stops at emit's error.
type emitter struct {
	ctx   context.Context
	file  string
	emit  func(logs.Event) error
	stats logs.Stats
}

func (e *emitter) malformed(line int, format string, args ...any) {
	e.stats.AddMalformed(logs.Position{File: e.file, Line: line, Reason: fmt.Sprintf(format, args...)})
}

// record counts a record, checking the context now and then.
func (e *emitter) record() error {
	e.stats.Records++
	if e.stats.Records%4096 == 0 {
		return e.ctx.Err()
	}
	return nil
}

func (e *emitter) event(ev logs.Event) error {
	e.stats.Events++
	return e.emit(ev)
}

func readErr(file string, line int, err error) error {
	return fmt.Errorf("%s: after line %d: %w", file, line, err)
}

// firstLines returns the complete lines of head (all of it when it holds
// no newline), without line endings, skipping blank ones.
func firstLines(head []byte, n int) [][]byte {
	var out [][]byte
	for len(head) > 0 && len(out) < n {
		line, rest, found := bytes.Cut(head, []byte("\n"))
		if !found && len(out) > 0 {
			break // a cut last line
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(bytes.TrimSpace(line)) > 0 {
			out = append(out, line)
		}
		head = rest
	}
	return out
}
