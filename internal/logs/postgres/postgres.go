// Package postgres parses PostgreSQL server logs into events: the csvlog
// and jsonlog destinations and stderr with a given log_line_prefix.
//
// Mapped records (log_connections, log_disconnections, log_statement):
//
//	connection authorized: user=X database=Y application_name=Z  → connect, success
//	FATAL with SQLSTATE class 28 (28P01 password authentication
//	failed, 28000 no pg_hba.conf entry, role not permitted to log in)
//	                                                             → connect, failure
//	disconnection: session time: H:MM:SS.mmm user=X …            → disconnect
//	statement: … / execute <name>: … / duration: … statement: …  → the statement's command tag
//
// "connection received" names no user yet and yields no event (it is
// counted as a record). A statement's literal after PASSWORD is replaced by
// '[REDACTED]' before it reaches an event, and a statement that makes a
// credential (CREATE ROLE/USER, ALTER ROLE … PASSWORD or LOGIN, GRANT role
// TO …, CREATE USER MAPPING) carries Detail "derived" = "true": a possible
// backdoor made with the exposed credential.
//
// Limits: a log_statement record is written before the statement runs, so
// its Outcome is unknown (a duration record's is success). The server logs
// "connection authorized" before it checks that the role may log in, so a
// NOLOGIN role yields a connect success followed by its 28000 failure. A
// csvlog field whose closing quote never comes (a file cut mid-record)
// holds the rest of the file in memory.
package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/logs"
)

// maxRecord bounds a line (and a stderr record with its continuation
// lines): longer ones are cut, keeping memory constant.
const maxRecord = 1 << 20

// maxStatement bounds the statement kept in an event's Detail.
const maxStatement = 8 << 10

// record is one server log record, whatever the destination.
type record struct {
	line      int
	time      string
	user      string
	db        string
	pid       string
	host      string // client host, without the port
	port      string
	session   string
	severity  string // LOG, FATAL…
	sqlstate  string // empty when the format does not say
	message   string
	app       string
	hasFields bool // user/db/host/app come from columns (csv, json), not only from the message
}

// toEvent maps a record to an event; ok is false for a record that is not
// one (a checkpoint, connection received, an error).
func toEvent(file string, r *record) (logs.Event, bool) {
	e := logs.Event{File: file, Line: r.line, Time: parseTime(r.time), Credential: r.user,
		Source: r.host, Application: r.app, Outcome: logs.Unknown}
	detail := map[string]string{}
	if r.db != "" {
		detail["database"] = r.db
	}
	if r.pid != "" {
		detail["pid"] = r.pid
	}
	if r.session != "" {
		detail["session_id"] = r.session
	}
	msg := r.message
	switch {
	case strings.HasPrefix(msg, "connection authorized: ") || strings.HasPrefix(msg, "replication connection authorized: "):
		kv := messageFields(msg[strings.Index(msg, ": ")+2:])
		e.Credential = first(r.user, kv["user"])
		e.Application = first(r.app, kv["application_name"])
		if db := kv["database"]; db != "" && detail["database"] == "" {
			detail["database"] = db
		}
		if strings.HasPrefix(msg, "replication") {
			detail["replication"] = "true"
		}
		e.Action, e.Outcome = "connect", logs.Success
	case strings.HasPrefix(msg, "disconnection: session time: "):
		rest := msg[len("disconnection: session time: "):]
		dur, rest, _ := strings.Cut(rest, " ")
		kv := messageFields(rest)
		e.Credential = first(r.user, kv["user"])
		e.Source = first(r.host, kv["host"])
		if db := kv["database"]; db != "" && detail["database"] == "" {
			detail["database"] = db
		}
		if r.port == "" {
			r.port = kv["port"]
		}
		detail["duration"] = dur
		e.Action, e.Outcome = "disconnect", logs.Success
	case isAuthFailure(r):
		state := r.sqlstate
		if state == "" {
			state = authState(msg)
		}
		e.Credential = first(r.user, quotedAfter(msg, "user \""), quotedAfter(msg, "role \""))
		if e.Source == "" {
			e.Source = quotedAfter(msg, "host \"")
		}
		detail["sqlstate"] = state
		detail["message"] = msg
		e.Action, e.Outcome = "connect", logs.Failure
	default:
		stmt, done, ok := statement(r.severity, msg)
		if !ok {
			return e, false
		}
		red, tag, derived := Redact(stmt)
		if len(red) > maxStatement {
			red = cutUTF8(red, maxStatement) + "…"
		}
		detail["statement"] = red
		if derived {
			detail["derived"] = "true"
		}
		if tag == "" {
			tag = "UNKNOWN"
		}
		e.Action = tag
		if done {
			e.Outcome = logs.Success
		}
	}
	if r.port != "" {
		detail["port"] = r.port
	}
	e.Detail = detail
	return e, e.Credential != ""
}

func first(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// messageFields splits "user=X database=Y application_name=Z SSL enabled…"
// into its keys. application_name, which may hold spaces, runs to the end
// or to the SSL/GSS note that can follow it.
func messageFields(s string) map[string]string {
	kv := map[string]string{}
	for s != "" {
		k, rest, ok := strings.Cut(s, "=")
		if !ok || strings.ContainsAny(k, " ") {
			break
		}
		var v string
		if k == "application_name" {
			v = rest
			for _, stop := range []string{" SSL enabled", " GSS (", " SSL"} {
				if i := strings.Index(v, stop); i >= 0 {
					v = v[:i]
					break
				}
			}
			rest = ""
		} else {
			v, rest, _ = strings.Cut(rest, " ")
		}
		kv[k] = v
		s = rest
	}
	return kv
}

// quotedAfter returns the quoted name following marker in s ("…for user
// \"X\"" → X).
func quotedAfter(s, marker string) string {
	i := strings.Index(s, marker)
	if i < 0 {
		return ""
	}
	s = s[i+len(marker):]
	if j := strings.IndexByte(s, '"'); j >= 0 {
		return s[:j]
	}
	return ""
}

func isAuthFailure(r *record) bool {
	if r.severity != "FATAL" {
		return false
	}
	if r.sqlstate != "" {
		return strings.HasPrefix(r.sqlstate, "28")
	}
	return authState(r.message) != ""
}

// authState infers the SQLSTATE of an authentication failure from its
// message, for stderr logs whose prefix lacks %e.
func authState(msg string) string {
	switch {
	case strings.Contains(msg, "password authentication failed"):
		return "28P01"
	case strings.HasPrefix(msg, "no pg_hba.conf entry"),
		strings.HasPrefix(msg, "pg_hba.conf rejects connection"),
		strings.Contains(msg, "is not permitted to log in"),
		strings.Contains(msg, "authentication failed for user"):
		return "28000"
	}
	return ""
}

// statement extracts the statement of a log_statement or
// log_min_duration_statement record; done is true when the record was
// written after the statement completed (a duration record).
func statement(severity, msg string) (stmt string, done, ok bool) {
	if severity != "LOG" {
		return "", false, false
	}
	if strings.HasPrefix(msg, "duration: ") {
		i := strings.Index(msg, " ms  ")
		if i < 0 {
			return "", false, false
		}
		msg, done = msg[i+len(" ms  "):], true
	}
	switch {
	case strings.HasPrefix(msg, "statement: "):
		return msg[len("statement: "):], done, true
	case strings.HasPrefix(msg, "execute "):
		if i := strings.Index(msg, ": "); i >= 0 {
			return msg[i+2:], done, true
		}
	}
	return "", false, false
}

// timeLayouts are the forms of %m, %t and the csv and json timestamps.
var timeLayouts = []string{
	"2006-01-02 15:04:05.000 MST",
	"2006-01-02 15:04:05 MST",
	"2006-01-02 15:04:05.000 -07",
	"2006-01-02 15:04:05 -07",
	"2006-01-02 15:04:05.000 -0700",
	"2006-01-02 15:04:05 -0700",
}

// parseTime parses a log timestamp; the zero time when it cannot. A zone
// abbreviation Go does not know is read as UTC.
func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	if len(s) > 10 && s[len(s)-4] == '.' && strings.IndexByte(s, ' ') < 0 { // %n: epoch with ms
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return time.UnixMilli(int64(f * 1000)).UTC()
		}
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

func cutUTF8(s string, n int) string {
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
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

// record maps and emits one record.
func (e *emitter) record(r *record) error {
	e.stats.Records++
	if e.stats.Records%4096 == 0 {
		if err := e.ctx.Err(); err != nil {
			return err
		}
	}
	ev, ok := toEvent(e.file, r)
	if !ok {
		return nil
	}
	e.stats.Events++
	return e.emit(ev)
}

func readErr(file string, line int, err error) error {
	return fmt.Errorf("%s: after line %d: %w", file, line, err)
}
