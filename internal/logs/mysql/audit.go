package mysql

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/logs"
)

// Audit parses the log of MariaDB's server_audit plugin (also loaded into
// MySQL and Percona Server, and behind the audit logs of Amazon RDS and
// Aurora), one record a line:
//
//	timestamp,serverhost,username,host,connectionid,queryid,operation,database,object,retcode
//	20261126 04:00:10,db1,app,10.0.4.7,25,67,QUERY,shop,'select \'x\'',0
//
// in its own file (server_audit_output_type = file; the time is the
// server's local time, or microseconds since the epoch on RDS), or through
// syslog, where the line starts with the syslog daemon's time, host and
// tag, and server_audit_syslog_info, and has no timestamp field:
//
//	Nov 26 04:00:10 db1 mysql-server_auditing:  db1,app,10.0.4.7,25,67,QUERY,shop,'select 1',0
//
// Operations: CONNECT → connect; FAILED_CONNECT → connect, failure
// (Detail error: the server's error number, 1045 for a bad password);
// CHANGEUSER → connect (Detail command "Change user"); DISCONNECT →
// disconnect, except after a FAILED_CONNECT, which the plugin follows with
// a DISCONNECT of the connection that never was; QUERY (and QUERY_DDL,
// QUERY_DML, QUERY_DCL where a variant writes them) → the statement's
// kind, a success when retcode is 0 and a failure (Detail error) when not;
// the table events READ, WRITE, CREATE, DROP, ALTER, RENAME → that
// operation, Detail "table" (database.table), outcome unknown.
//
// The object of a query is quoted, with \' and \\ escaped (and, since
// MariaDB 10.4, newlines as \n); the plugin masks the passwords of
// statements it knows as *****, and this parser redacts any literal it
// missed. MariaDB 12 writes host:port in the host field; the port goes to
// Detail "port" (not for IPv6 hosts, where it cannot be told apart).
// Lines of other programs in a syslog file are counted as records and
// skipped.
type Audit struct {
	// Location is the zone of the file's timestamps (the server's local
	// time) and of syslog's: nil reads them as UTC.
	Location *time.Location
	// Year is the year of syslog times that lack one (Nov 26 04:00:10);
	// 0 takes the current year, or the last one for a date in the future.
	Year int
}

var _ logs.Parser = (*Audit)(nil)

// NewAudit returns the mariadb-audit parser, reading times as UTC.
func NewAudit() *Audit { return &Audit{} }

// Name implements logs.Parser.
func (*Audit) Name() string { return "mariadb-audit" }

// Sniff implements logs.Parser: the first line is an audit record, or a
// line of the head is one written through syslog.
func (a *Audit) Sniff(head []byte) bool {
	lines := firstLines(head, 64)
	for i, l := range lines {
		var rec auditRecord
		if syslog, ok := a.parseLine(l, &rec); ok && knownOperation(rec.op) && (i == 0 || syslog) {
			return true
		}
	}
	return false
}

type auditRecord struct {
	time                 time.Time
	serverHost           string
	user, host, port     string
	connID, queryID      string
	op, db, object, code string
	quoted               bool // object was a quoted query
}

// parseLine reads a record line; syslog reports that it came through
// syslog. ok is false for a line that is no audit record.
func (a *Audit) parseLine(b []byte, r *auditRecord) (syslog, ok bool) {
	if t, rest, ok := fileTime(b, a.Location); ok {
		r.time = t
		return false, a.parseFields(rest, r)
	}
	t, msg, ok := a.syslogPrefix(b)
	if !ok {
		return false, false
	}
	r.time = t
	msg = bytes.TrimLeft(msg, " ")
	if a.parseFields(msg, r) {
		return true, true
	}
	// server_audit_syslog_info comes first when it is set.
	if _, after, found := bytes.Cut(msg, []byte(" ")); found && a.parseFields(bytes.TrimLeft(after, " "), r) {
		return true, true
	}
	return true, false
}

// fileTime reads the file form's timestamp and its comma: "YYYYMMDD
// HH:MM:SS," or microseconds since the epoch (RDS).
func fileTime(b []byte, loc *time.Location) (time.Time, []byte, bool) {
	if len(b) > 18 && b[17] == ',' && b[8] == ' ' && b[11] == ':' && b[14] == ':' && isDigits(b[:8]) {
		if loc == nil {
			loc = time.UTC
		}
		t, err := time.ParseInLocation("20060102 15:04:05", string(b[:17]), loc)
		if err != nil {
			return time.Time{}, nil, false
		}
		return t, b[18:], true
	}
	if i := bytes.IndexByte(b, ','); i >= 13 && i <= 17 && isDigits(b[:i]) {
		us, err := strconv.ParseInt(string(b[:i]), 10, 64)
		if err != nil {
			return time.Time{}, nil, false
		}
		return time.UnixMicro(us).UTC(), b[i+1:], true
	}
	return time.Time{}, nil, false
}

// syslogPrefix reads "[<pri>]TIME HOST TAG: " (RFC 3164 or an RFC 3339
// time, as rsyslog and syslog-ng write files) and returns what follows.
func (a *Audit) syslogPrefix(b []byte) (time.Time, []byte, bool) {
	if len(b) > 0 && b[0] == '<' {
		if i := bytes.IndexByte(b, '>'); i > 0 && i <= 4 && isDigits(b[1:i]) {
			b = b[i+1:]
		}
	}
	var t time.Time
	var rest []byte
	loc := a.Location
	if loc == nil {
		loc = time.UTC
	}
	switch {
	case len(b) > 16 && b[3] == ' ' && b[6] == ' ' && b[9] == ':' && b[12] == ':' && b[15] == ' ':
		s := string(b[:15])
		if s[4] == ' ' {
			s = s[:4] + "0" + s[5:]
		}
		pt, err := time.ParseInLocation("Jan 02 15:04:05", s, loc)
		if err != nil {
			return time.Time{}, nil, false
		}
		t, rest = a.withYear(pt, loc), b[16:]
	case len(b) > 20 && isDigits(b[:4]) && b[4] == '-' && b[10] == 'T':
		end := bytes.IndexByte(b, ' ')
		if end < 0 {
			return time.Time{}, nil, false
		}
		pt, err := time.Parse(time.RFC3339Nano, string(b[:end]))
		if err != nil {
			return time.Time{}, nil, false
		}
		t, rest = pt, b[end+1:]
	default:
		return time.Time{}, nil, false
	}
	// HOST TAG: — the tag ends at the first ": ".
	host, rest, ok := bytes.Cut(rest, []byte(" "))
	if !ok || len(host) == 0 {
		return time.Time{}, nil, false
	}
	i := bytes.Index(rest, []byte(": "))
	if i <= 0 || bytes.IndexByte(rest[:i], ' ') >= 0 {
		return time.Time{}, nil, false
	}
	return t, rest[i+2:], true
}

// withYear gives a syslog time without a year the parser's Year, or the
// current one (the last one for a date more than a day ahead).
func (a *Audit) withYear(t time.Time, loc *time.Location) time.Time {
	y := a.Year
	if y == 0 {
		now := time.Now().In(loc)
		y = now.Year()
		if t.AddDate(y, 0, 0).After(now.Add(24 * time.Hour)) {
			y--
		}
	}
	return t.AddDate(y, 0, 0)
}

// parseFields reads serverhost,username,host,connectionid,queryid,
// operation,database,object,retcode.
func (a *Audit) parseFields(b []byte, r *auditRecord) bool {
	var f [7][]byte
	for i := range f {
		j := bytes.IndexByte(b, ',')
		if j < 0 {
			return false
		}
		f[i], b = b[:j], b[j+1:]
	}
	if len(f[0]) == 0 || bytes.IndexByte(f[0], ' ') >= 0 || !isDigits(f[3]) || !isDigits(f[4]) || !isOperation(f[5]) {
		return false
	}
	r.serverHost, r.user, r.host, r.port = string(f[0]), string(f[1]), string(f[2]), ""
	r.connID, r.queryID, r.op, r.db = string(f[3]), string(f[4]), string(f[5]), string(f[6])
	if i := strings.LastIndexByte(r.host, ':'); i > 0 && strings.IndexByte(r.host[:i], ':') < 0 && isDigits([]byte(r.host[i+1:])) {
		r.host, r.port = r.host[:i], r.host[i+1:]
	}
	r.quoted = len(b) > 0 && b[0] == '\''
	if r.quoted {
		obj, rest, ok := unescapeObject(b[1:])
		if !ok {
			return false
		}
		r.object, b = obj, rest
		if len(b) == 0 || b[0] != ',' {
			return false
		}
		b = b[1:]
	} else {
		j := bytes.IndexByte(b, ',')
		if j < 0 {
			return false
		}
		r.object, b = string(b[:j]), b[j+1:]
	}
	code, _, _ := bytes.Cut(b, []byte(","))
	if len(code) > 0 && !isDigits(bytes.TrimPrefix(code, []byte("-"))) {
		return false
	}
	r.code = string(code)
	return true
}

// unescapeObject reads a quoted query up to its closing quote: \' \\ \n
// \r \t are undone. ok is false when the quote never closes.
func unescapeObject(b []byte) (obj string, rest []byte, ok bool) {
	var s strings.Builder
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '\\':
			if i+1 >= len(b) {
				return "", nil, false
			}
			i++
			switch b[i] {
			case 'n':
				s.WriteByte('\n')
			case 'r':
				s.WriteByte('\r')
			case 't':
				s.WriteByte('\t')
			case '\'', '\\':
				s.WriteByte(b[i])
			default:
				s.WriteByte('\\')
				s.WriteByte(b[i])
			}
		case '\'':
			return s.String(), b[i+1:], true
		default:
			s.WriteByte(c)
		}
	}
	return "", nil, false
}

func isOperation(b []byte) bool {
	if len(b) == 0 || len(b) > 32 {
		return false
	}
	for _, c := range b {
		if !(c >= 'A' && c <= 'Z' || c == '_') {
			return false
		}
	}
	return true
}

func knownOperation(op string) bool {
	switch op {
	case "CONNECT", "FAILED_CONNECT", "DISCONNECT", "CHANGEUSER", "READ", "WRITE", "CREATE", "DROP", "ALTER", "RENAME":
		return true
	}
	return strings.HasPrefix(op, "QUERY")
}

// Parse implements logs.Parser.
func (a *Audit) Parse(ctx context.Context, file string, r io.Reader, emit func(logs.Event) error) (logs.Stats, error) {
	em := &emitter{ctx: ctx, file: file, emit: emit}
	failed := newBoundedMap[string, struct{}](maxSessions) // connections refused, whose DISCONNECT is noise
	lr := logs.NewLineReader(r, maxRecord)
	var rec auditRecord
	for {
		b, long, err := lr.Next()
		if err == io.EOF {
			return em.stats, nil
		}
		if err != nil {
			return em.stats, readErr(file, lr.Line(), err)
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		syslog, ok := a.parseLine(b, &rec)
		switch {
		case ok:
		case syslog: // another program's line
			if err := em.record(); err != nil {
				return em.stats, err
			}
			continue
		case long:
			em.malformed(lr.Line(), "line longer than %d bytes", maxRecord)
			continue
		default:
			em.malformed(lr.Line(), "not a server_audit record: timestamp,serverhost,username,host,connectionid,queryid,operation,database,object,retcode")
			continue
		}
		if err := em.record(); err != nil {
			return em.stats, err
		}
		ev, ok := auditEvent(file, lr.Line(), &rec, failed)
		if !ok {
			continue
		}
		if err := em.event(ev); err != nil {
			return em.stats, err
		}
	}
}

// auditEvent maps a record; ok is false for one that is no event.
func auditEvent(file string, line int, r *auditRecord, failed *boundedMap[string, struct{}]) (logs.Event, bool) {
	if r.user == "" {
		return logs.Event{}, false
	}
	ev := logs.Event{Time: r.time, File: file, Line: line, Credential: r.user, Source: r.host,
		Identity: quoteAccount(r.user, r.host), Outcome: logs.Success}
	d := map[string]string{"connection_id": r.connID}
	set(d, "server_host", r.serverHost)
	set(d, "port", r.port)
	set(d, "database", r.db)
	key := r.serverHost + "/" + r.connID
	switch op := r.op; {
	case op == "CONNECT" || op == "CHANGEUSER":
		ev.Action = "connect"
		if op == "CHANGEUSER" {
			d["command"] = "Change user"
		}
		if r.code != "" && r.code != "0" {
			ev.Outcome, d["error"] = logs.Failure, r.code
		}
	case op == "FAILED_CONNECT":
		ev.Action, ev.Outcome = "connect", logs.Failure
		set(d, "error", r.code)
		failed.put(key, struct{}{})
	case op == "DISCONNECT":
		if _, ok := failed.get(key); ok {
			failed.del(key)
			return ev, false
		}
		ev.Action = "disconnect"
	case strings.HasPrefix(op, "QUERY"):
		if !r.quoted {
			return ev, false
		}
		ev.Action = statementDetail(d, r.object, r.user)
		if op != "QUERY" {
			d["operation"] = op
		}
		switch r.code {
		case "0":
		case "":
			ev.Outcome = logs.Unknown
		default:
			ev.Outcome, d["error"] = logs.Failure, r.code
		}
	case knownOperation(op): // a table event
		ev.Action, ev.Outcome = op, logs.Unknown
		table := r.object
		if r.db != "" {
			table = r.db + "." + table
		}
		set(d, "table", table)
	default:
		return ev, false
	}
	ev.Detail = d
	return ev, true
}
