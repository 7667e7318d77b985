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

// General parses the general query log file (general_log = ON,
// log_output = FILE) of MariaDB and of MySQL 5.6 to 9:
//
//	/usr/sbin/mariadbd, Version: 10.11.19-MariaDB-0+deb12u1 (Debian 12). started with:
//	Tcp port: 3306  Unix socket: /run/mysqld/mysqld.sock
//	Time		    Id Command	Argument
//	261126  3:59:02	    12 Connect	app@10.0.4.7 on shop using TCP/IP
//	(tab)(tab)    12 Query	SELECT 1
//	2026-11-26T03:12:01.123456Z	   12 Quit	(MySQL 5.7 and later)
//
// A MariaDB record without a time has the time of the one before; a
// statement's further lines follow its record as they are. The lines the
// server writes when it opens the log are skipped, and one that says the
// server started forgets the connections (their ids start again).
//
// Statements are attributed to the user of their connection, known from
// its Connect record, whose line is in Detail "login_line"; a statement whose connection opened before the log
// did yields no event unless it derives a credential. Its Outcome is
// unknown: the server logs a statement before running it.
//
// MariaDB logs Connect when a client asks to log in, before it checks the
// password, and a second record saying "Access denied …" when it refuses.
// So a Connect's event waits for the next record of its connection (a
// refusal makes it a failure) or for connectWindow records, whichever
// comes first; events are still emitted in the order of the file.
type General struct {
	// Location is the zone of MariaDB's and MySQL 5.6's times, which are
	// the server's local time: nil reads them as UTC. MySQL 5.7 and later
	// write UTC (or an offset).
	Location *time.Location
}

var _ logs.Parser = (*General)(nil)

// NewGeneral returns the mysql-general parser, reading times as UTC.
func NewGeneral() *General { return &General{} }

// Name implements logs.Parser.
func (*General) Name() string { return "mysql-general" }

// connectWindow is how many records a Connect waits for its refusal.
const connectWindow = 1000

// maxQueue bounds the events held back behind a waiting Connect.
const maxQueue = 4096

// Sniff implements logs.Parser: the first line is the one the server
// writes when it opens the log, or a general log record.
func (g *General) Sniff(head []byte) bool {
	lines := firstLines(head, 1)
	if len(lines) == 0 {
		return false
	}
	var h generalLine
	return isGeneralHeader(lines[0]) || g.parseLine(lines[0], &h) && h.timed
}

// generalLine is the start of a general log record.
type generalLine struct {
	timed bool
	time  time.Time
	id    uint64
	cmd   string
	arg   []byte
}

// parseLine reads the start of a record:
// [time]\t%6d Command\tArgument, or \t\t%6d Command\tArgument.
func (g *General) parseLine(b []byte, h *generalLine) bool {
	var rest []byte
	h.timed = false
	switch {
	case len(b) >= 2 && b[0] == '\t' && b[1] == '\t':
		rest = b[2:]
	case len(b) > 16 && isDigits(b[:6]) && b[6] == ' ' && b[15] == '\t':
		t, ok := mariaTime(b[:15], g.Location)
		if !ok {
			return false
		}
		h.timed, h.time, rest = true, t, b[16:]
	case len(b) > 20 && isDigits(b[:4]) && b[4] == '-' && b[7] == '-' && b[10] == 'T':
		end := bytes.IndexAny(b, "\t ")
		if end < 0 {
			return false
		}
		t, err := time.Parse(time.RFC3339Nano, string(b[:end]))
		if err != nil {
			return false
		}
		h.timed, h.time, rest = true, t, b[end+1:]
	default:
		return false
	}
	rest = bytes.TrimLeft(rest, " ")
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	if n == 0 || n > 20 || n >= len(rest) || rest[n] != ' ' {
		return false
	}
	id, err := strconv.ParseUint(string(rest[:n]), 10, 64)
	if err != nil {
		return false
	}
	rest = rest[n+1:]
	cmd, arg, _ := bytes.Cut(rest, []byte("\t"))
	if !isCommand(cmd) {
		return false
	}
	h.id, h.cmd, h.arg = id, commandName(cmd), arg
	return true
}

func commandName(b []byte) string {
	for _, c := range knownCommands {
		if string(b) == c {
			return c
		}
	}
	return string(b)
}

// knownCommands are the commands records carry most often, interned to
// save an allocation per record.
var knownCommands = [...]string{"Query", "Connect", "Quit", "Init DB", "Execute", "Prepare", "Close stmt", "Change user",
	"Field List", "Ping", "Statistics", "Reset stmt", "Set option"}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// isCommand reports whether b can be a command name: "Query", "Init DB",
// "Change user", "Binlog Dump".
func isCommand(b []byte) bool {
	if len(b) == 0 || len(b) > 32 || b[0] < 'A' || b[0] > 'Z' {
		return false
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == ' ' || c == '_') {
			return false
		}
	}
	return true
}

// mariaTime parses "YYMMDD HH:MM:SS" (the hour padded with a space).
func mariaTime(b []byte, loc *time.Location) (time.Time, bool) {
	if b[9] != ':' || b[12] != ':' {
		return time.Time{}, false
	}
	num := func(p []byte) int {
		v := 0
		for _, c := range p {
			if c == ' ' {
				continue
			}
			if c < '0' || c > '9' {
				return -1
			}
			v = v*10 + int(c-'0')
		}
		return v
	}
	y, mo, d := num(b[0:2]), num(b[2:4]), num(b[4:6])
	hh, mm, ss := num(b[7:9]), num(b[10:12]), num(b[13:15])
	if y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60 || b[8] == ' ' {
		return time.Time{}, false
	}
	if loc == nil {
		loc = time.UTC
	}
	return time.Date(2000+y, time.Month(mo), d, hh, mm, ss, 0, loc), true
}

// isGeneralHeader reports whether b is one of the lines the server writes
// when it opens the log.
func isGeneralHeader(b []byte) bool {
	return bytes.Contains(b, []byte(", Version: ")) && bytes.HasSuffix(b, []byte("started with:")) ||
		bytes.HasPrefix(b, []byte("Tcp port: ")) ||
		bytes.HasPrefix(b, []byte("Time")) && bytes.Contains(b, []byte("Id Command")) && bytes.HasSuffix(bytes.TrimSpace(b), []byte("Argument"))
}

// conn is what a parse knows of a connection.
type conn struct {
	user, host, db string
	line           int // of its Connect record
}

// queued is an event waiting to be emitted; a waiting one is a Connect
// waiting for its outcome.
type queued struct {
	ev      logs.Event
	id      uint64
	waiting bool
	rec     int // the record number it was queued at
}

// generalParse is the state of one Parse.
type generalParse struct {
	em       *emitter
	conns    *boundedMap[uint64, conn]
	q        []queued
	head     int            // q[head:] are the queued events
	waiting  map[uint64]int // connection id → index in q of its waiting Connect
	lastTime time.Time
	rec      generalLine
	line     int // the record's first line
	arg      []byte
	pending  bool
}

// Parse implements logs.Parser.
func (g *General) Parse(ctx context.Context, file string, r io.Reader, emit func(logs.Event) error) (logs.Stats, error) {
	p := &generalParse{em: &emitter{ctx: ctx, file: file, emit: emit}, conns: newBoundedMap[uint64, conn](maxSessions),
		waiting: map[uint64]int{}}
	lr := logs.NewLineReader(r, maxRecord)
	var h generalLine
	for {
		b, long, err := lr.Next()
		if err == io.EOF {
			if err := p.flushRecord(); err != nil {
				return p.em.stats, err
			}
			return p.em.stats, p.drain(true)
		}
		if err != nil {
			return p.em.stats, readErr(file, lr.Line(), err)
		}
		if g.parseLine(b, &h) {
			if err := p.flushRecord(); err != nil {
				return p.em.stats, err
			}
			if h.timed {
				p.lastTime = h.time
			} else {
				h.time = p.lastTime
			}
			p.rec, p.line, p.pending = h, lr.Line(), true
			p.arg = append(p.arg[:0], h.arg...)
			continue
		}
		if isGeneralHeader(b) {
			if err := p.flushRecord(); err != nil {
				return p.em.stats, err
			}
			if bytes.HasSuffix(b, []byte("started with:")) { // a (re)start: connection ids begin again
				if err := p.drain(true); err != nil {
					return p.em.stats, err
				}
				p.conns.clear()
			}
			continue
		}
		if p.pending { // a further line of the record's argument
			if len(p.arg)+1+len(b) <= maxRecord {
				p.arg = append(append(p.arg, '\n'), b...)
			}
			continue
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		if long {
			p.em.malformed(lr.Line(), "line longer than %d bytes", maxRecord)
		} else {
			p.em.malformed(lr.Line(), "not a general log record: no time, connection id and command")
		}
	}
}

// flushRecord handles the record read so far.
func (p *generalParse) flushRecord() error {
	if !p.pending {
		return nil
	}
	p.pending = false
	if err := p.em.record(); err != nil {
		return err
	}
	p.handle()
	return p.drain(false)
}

func (p *generalParse) event(action string, outcome logs.Outcome) logs.Event {
	return logs.Event{Time: p.rec.time, File: p.em.file, Line: p.line, Action: action, Outcome: outcome,
		Detail: map[string]string{"connection_id": strconv.FormatUint(p.rec.id, 10)}}
}

func (p *generalParse) handle() {
	id := p.rec.id
	arg := string(p.arg)
	switch p.rec.cmd {
	case "Connect", "Change user":
		if strings.HasPrefix(arg, "Access denied for user ") {
			p.refused(arg)
			return
		}
		p.resolve(id, nil)
		user, host, as, db, via, ok := parseConnect(arg)
		if !ok {
			return
		}
		p.conns.put(id, conn{user: user, host: host, db: db, line: p.line})
		ev := p.event("connect", logs.Success)
		ev.Credential, ev.Source, ev.Identity = user, host, quoteAccount(user, host)
		set(ev.Detail, "database", db)
		set(ev.Detail, "connection_type", via)
		set(ev.Detail, "authenticated_as", as)
		if p.rec.cmd != "Connect" {
			ev.Detail["command"] = p.rec.cmd
		}
		p.q = append(p.q, queued{ev: ev, id: id, waiting: true, rec: p.em.stats.Records})
		p.waiting[id] = len(p.q) - 1
	case "Init DB":
		if strings.HasPrefix(arg, "Access denied for user ") {
			// Refused the database the client asked for when it logged in:
			// the login fails. A refused USE later in a session does not.
			if i, ok := p.waiting[id]; ok && strings.Contains(arg, " to database '"+p.q[i].ev.Detail["database"]+"'") {
				p.refused(arg)
			}
			return
		}
		p.resolve(id, nil)
		if c, ok := p.conns.get(id); ok {
			c.db = arg
			p.conns.put(id, c)
		}
	case "Quit":
		p.resolve(id, nil)
		c, ok := p.conns.get(id)
		if !ok {
			return
		}
		p.conns.del(id)
		ev := p.event("disconnect", logs.Success)
		ev.Credential, ev.Source, ev.Identity = c.user, c.host, quoteAccount(c.user, c.host)
		set(ev.Detail, "database", c.db)
		ev.Detail["login_line"] = strconv.Itoa(c.line)
		p.q = append(p.q, queued{ev: ev})
	case "Query", "Execute":
		p.resolve(id, nil)
		c, known := p.conns.get(id)
		ev := p.event("", logs.Unknown)
		ev.Action = statementDetail(ev.Detail, arg, c.user)
		if !known && ev.Detail["derived"] == "" {
			return
		}
		if known {
			ev.Credential, ev.Source, ev.Identity = c.user, c.host, quoteAccount(c.user, c.host)
			set(ev.Detail, "database", c.db)
			ev.Detail["login_line"] = strconv.Itoa(c.line)
		}
		if p.rec.cmd != "Query" {
			ev.Detail["command"] = p.rec.cmd
		}
		p.q = append(p.q, queued{ev: ev})
	default: // Prepare, Field List, Ping, Statistics…: the connection is up
		p.resolve(id, nil)
	}
}

// refused handles "Access denied for user 'u'@'h' …": the connection's
// waiting Connect, if any, becomes this failure.
func (p *generalParse) refused(msg string) {
	id := p.rec.id
	user, host := deniedAccount(msg)
	ev := p.event("connect", logs.Failure)
	ev.Credential, ev.Source, ev.Identity = user, host, quoteAccount(user, host)
	ev.Detail["message"] = msg
	set(ev.Detail, "error", deniedCode(msg))
	if p.rec.cmd != "Connect" {
		ev.Detail["command"] = p.rec.cmd
	}
	p.conns.del(id)
	if i, ok := p.waiting[id]; ok {
		w := p.q[i].ev
		ev.Source = w.Source // the client's host; the message may name the account's
		set(ev.Detail, "database", w.Detail["database"])
		set(ev.Detail, "connection_type", w.Detail["connection_type"])
		p.resolve(id, &ev)
		return
	}
	if user != "" {
		p.q = append(p.q, queued{ev: ev})
	}
}

// resolve settles the connection's waiting Connect: a success, or the
// failure given.
func (p *generalParse) resolve(id uint64, failure *logs.Event) {
	i, ok := p.waiting[id]
	if !ok {
		return
	}
	delete(p.waiting, id)
	if failure != nil {
		p.q[i].ev = *failure
	}
	p.q[i].waiting = false
}

// drain emits the queued events that wait for nothing; all with force.
func (p *generalParse) drain(force bool) error {
	for p.head < len(p.q) {
		h := &p.q[p.head]
		if h.waiting {
			if !force && p.em.stats.Records-h.rec < connectWindow && len(p.q)-p.head < maxQueue {
				break
			}
			p.resolve(h.id, nil)
		}
		ev := h.ev
		*h = queued{}
		p.head++
		if ev.Credential == "" && ev.Detail["derived"] == "" {
			continue
		}
		if err := p.em.event(ev); err != nil {
			return err
		}
	}
	if p.head == len(p.q) {
		p.q, p.head = p.q[:0], 0
	} else if p.head > 1024 && p.head > len(p.q)/2 {
		n := copy(p.q, p.q[p.head:])
		for k, i := range p.waiting {
			p.waiting[k] = i - p.head
		}
		clear(p.q[n:])
		p.q, p.head = p.q[:n], 0
	}
	return nil
}

func set(d map[string]string, k, v string) {
	if v != "" {
		d[k] = v
	}
}

// parseConnect reads a Connect argument: "user@host on db using TCP/IP",
// "user@host as anonymous on db" (MariaDB: the account it authenticated
// as, when not the user's own).
func parseConnect(s string) (user, host, as, db, via string, ok bool) {
	if i := strings.LastIndex(s, " using "); i >= 0 {
		s, via = s[:i], s[i+len(" using "):]
	}
	if i := strings.LastIndex(s, " on "); i >= 0 {
		s, db = s[:i], strings.TrimSpace(s[i+len(" on "):])
	} else {
		s = strings.TrimSuffix(s, " on")
	}
	if i := strings.Index(s, " as "); i >= 0 {
		s, as = s[:i], s[i+len(" as "):]
	}
	i := strings.LastIndexByte(s, '@')
	if i < 0 || i == len(s)-1 || strings.ContainsAny(s[i+1:], " \t") {
		return "", "", "", "", "", false
	}
	return s[:i], s[i+1:], as, db, via, true
}

// deniedAccount reads the account of "Access denied for user 'u'@'h'…".
func deniedAccount(msg string) (user, host string) {
	s := strings.TrimPrefix(msg, "Access denied for user ")
	if !strings.HasPrefix(s, "'") {
		return "", ""
	}
	j := strings.Index(s, "'@'")
	if j < 0 {
		return "", ""
	}
	user, s = s[1:j], s[j+3:]
	if k := strings.IndexByte(s, '\''); k >= 0 {
		host = s[:k]
	}
	return user, host
}

// deniedCode is the server's error number for an access-denied message.
func deniedCode(msg string) string {
	switch {
	case strings.Contains(msg, "(using password: "):
		return "1045" // ER_ACCESS_DENIED_ERROR
	case strings.Contains(msg, " to database '"):
		return "1044" // ER_DBACCESS_DENIED_ERROR
	case strings.HasSuffix(msg, "'"):
		return "1698" // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
	}
	return ""
}
