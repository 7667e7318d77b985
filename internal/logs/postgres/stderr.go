package postgres

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/rekeyhq/rekey/internal/logs"
)

// DefaultPrefix is PostgreSQL's default log_line_prefix (since 10).
const DefaultPrefix = "%m [%p] "

// maxSessions bounds the sessions a stderr parse remembers to attribute
// statements when the prefix has no %u.
const maxSessions = 10000

// Stderr parses the stderr destination, each record's first line starting
// with the server's log_line_prefix, its continuation lines with a tab.
type Stderr struct {
	prefix string
	re     *regexp.Regexp
	groups map[string]int
}

var _ logs.Parser = (*Stderr)(nil)

// escapes maps each log_line_prefix escape to what it matches; a named
// group is captured. See "log_line_prefix" in the PostgreSQL manual.
var escapes = map[byte]string{
	'a': `(?P<a>.*?)`,
	'u': `(?P<u>.*?)`,
	'd': `(?P<d>.*?)`,
	'r': `(?P<r>.*?)`,
	'h': `(?P<h>.*?)`,
	'L': `.*?`,
	'b': `.*?`,
	'i': `.*?`,
	'p': `(?P<p>\d+)`,
	'P': `\d*`,
	't': `(?P<t>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [^ \]]+)`,
	'm': `(?P<m>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} [^ \]]+)`,
	'n': `(?P<n>\d+\.\d{3})`,
	'e': `(?P<e>[0-9A-Z]{5})`,
	'c': `(?P<c>[0-9a-f]+\.[0-9a-f]+)`,
	'l': `\d+`,
	's': `\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [^ \]]+`,
	'v': `\S*`,
	'x': `\d*`,
	'Q': `-?\d*`,
}

const severities = `DEBUG[1-5]|LOG|INFO|NOTICE|WARNING|ERROR|FATAL|PANIC|DETAIL|HINT|QUERY|CONTEXT|STATEMENT|LOCATION`

// NewStderr returns the postgres-stderr parser for a log_line_prefix as the
// server's configuration spells it ('%m [%p] %q%u@%d '). It supports every
// escape of PostgreSQL 16 with optional padding (%-10u); statements are
// attributed to a user by %u, or else by %p and the session's connection
// authorized record. Messages must be in English (lc_messages = 'C').
func NewStderr(prefix string) (*Stderr, error) {
	var b strings.Builder
	b.WriteString(`^`)
	seen := map[byte]bool{}
	optional := false
	for i := 0; i < len(prefix); i++ {
		c := prefix[i]
		if c != '%' {
			b.WriteString(regexp.QuoteMeta(string(c)))
			continue
		}
		i++
		pad := false
		for i < len(prefix) && (prefix[i] == '-' || prefix[i] >= '0' && prefix[i] <= '9') {
			pad, i = true, i+1
		}
		if i >= len(prefix) {
			return nil, fmt.Errorf("postgres-stderr: log_line_prefix %q ends inside an escape", prefix)
		}
		e := prefix[i]
		switch e {
		case '%':
			b.WriteString(`%`)
			continue
		case 'q':
			if !optional {
				b.WriteString(`(?:`)
				optional = true
			}
			continue
		}
		re, ok := escapes[e]
		if !ok {
			return nil, fmt.Errorf("postgres-stderr: log_line_prefix %q: unknown escape %%%c", prefix, e)
		}
		if seen[e] { // a repeated escape: capture only the first
			re = regexp.MustCompile(`\(\?P<\w+>`).ReplaceAllString(re, `(?:`)
		}
		seen[e] = true
		if pad {
			re = ` *` + re + ` *`
		}
		b.WriteString(re)
	}
	if optional {
		b.WriteString(`)?`)
	}
	b.WriteString(`(?P<sev>` + severities + `):  (?:(?P<code>[0-9A-Z]{5}): )?(?P<msg>.*)$`)
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("postgres-stderr: log_line_prefix %q: %w", prefix, err)
	}
	s := &Stderr{prefix: prefix, re: re, groups: map[string]int{}}
	for i, n := range re.SubexpNames() {
		if n != "" {
			s.groups[n] = i
		}
	}
	return s, nil
}

// Name implements logs.Parser.
func (*Stderr) Name() string { return "postgres-stderr" }

// Prefix is the log_line_prefix the parser reads.
func (s *Stderr) Prefix() string { return s.prefix }

// Sniff implements logs.Parser: the first line starts with the prefix and
// a severity.
func (s *Stderr) Sniff(head []byte) bool {
	head = bytes.TrimLeft(head, "\r\n")
	line, _, _ := bytes.Cut(head, []byte("\n"))
	return s.re.Match(bytes.TrimSuffix(line, []byte("\r")))
}

type session struct{ user, db, app, host, port string }

// Parse implements logs.Parser.
func (s *Stderr) Parse(ctx context.Context, file string, r io.Reader, emit func(logs.Event) error) (logs.Stats, error) {
	em := &emitter{ctx: ctx, file: file, emit: emit}
	lr := logs.NewLineReader(r, maxRecord)
	var (
		cur      record
		msg      []byte
		pending  bool
		sessions = map[string]session{}
		m        []int
	)
	flush := func() error {
		if !pending {
			return nil
		}
		pending = false
		cur.message = string(msg)
		s.attribute(&cur, sessions)
		return em.record(&cur)
	}
	for {
		b, long, err := lr.Next()
		if err == io.EOF {
			return em.stats, flush()
		}
		if err != nil {
			return em.stats, readErr(file, lr.Line(), err)
		}
		if len(b) > 0 && b[0] == '\t' {
			if !pending {
				em.malformed(lr.Line(), "continuation line without a record")
				continue
			}
			if len(msg)+len(b) <= maxRecord {
				msg = append(append(msg, '\n'), b[1:]...)
			}
			continue
		}
		if err := flush(); err != nil {
			return em.stats, err
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		if long {
			em.malformed(lr.Line(), "line longer than %d bytes", maxRecord)
			continue
		}
		m = s.re.FindSubmatchIndex(b)
		if m == nil {
			em.malformed(lr.Line(), "line does not start with log_line_prefix %q and a severity", s.prefix)
			continue
		}
		get := func(name string) string {
			i, ok := s.groups[name]
			if !ok || m[2*i] < 0 {
				return ""
			}
			v := string(b[m[2*i]:m[2*i+1]])
			if v == "[unknown]" {
				return ""
			}
			return v
		}
		cur = record{line: lr.Line(), time: first(get("m"), get("t"), get("n")), user: get("u"), db: get("d"),
			pid: get("p"), session: get("c"), severity: get("sev"), sqlstate: get("code"), app: get("a"), host: get("h")}
		if cur.sqlstate == "" {
			cur.sqlstate = get("e")
		}
		if rh := get("r"); rh != "" {
			host, port, _ := strings.Cut(strings.TrimSuffix(rh, ")"), "(")
			cur.host, cur.port = first(cur.host, host), port
		}
		msg = append(msg[:0], b[m[2*s.groups["msg"]]:]...)
		pending = true
	}
}

// attribute fills what the prefix lacks from the record's session, known by
// its pid since its connection authorized record, and keeps that map.
func (s *Stderr) attribute(r *record, sessions map[string]session) {
	if r.pid == "" {
		return
	}
	switch {
	case strings.HasPrefix(r.message, "connection received: "):
		if len(sessions) < maxSessions {
			kv := messageFields(r.message[len("connection received: "):])
			sessions[r.pid] = session{host: first(r.host, kv["host"]), port: first(r.port, kv["port"])}
		}
		return
	case strings.HasPrefix(r.message, "connection authorized: "):
		kv := messageFields(r.message[len("connection authorized: "):])
		ss, ok := sessions[r.pid]
		r.host, r.port = first(r.host, ss.host), first(r.port, ss.port)
		if ok || len(sessions) < maxSessions {
			sessions[r.pid] = session{user: first(r.user, kv["user"]), db: first(r.db, kv["database"]),
				app: first(r.app, kv["application_name"]), host: r.host, port: r.port}
		}
		return
	case strings.HasPrefix(r.message, "disconnection: "):
		delete(sessions, r.pid)
		return
	case isAuthFailure(r):
		r.host, r.port = first(r.host, sessions[r.pid].host), first(r.port, sessions[r.pid].port)
		delete(sessions, r.pid)
		return
	}
	if ss, ok := sessions[r.pid]; ok {
		r.user, r.db, r.app = first(r.user, ss.user), first(r.db, ss.db), first(r.app, ss.app)
		r.host, r.port = first(r.host, ss.host), first(r.port, ss.port)
	}
}
