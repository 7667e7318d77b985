package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strconv"

	"github.com/rekeyhq/rekey/internal/logs"
)

// JSON parses the jsonlog destination (PostgreSQL 15+, log_destination =
// 'jsonlog'): one object per line, keys with empty values left out.
type JSON struct{}

// NewJSON returns the postgres-json parser.
func NewJSON() *JSON { return &JSON{} }

var _ logs.Parser = (*JSON)(nil)

// Name implements logs.Parser.
func (*JSON) Name() string { return "postgres-json" }

// Sniff implements logs.Parser: jsonlog writes the timestamp key first.
func (*JSON) Sniff(head []byte) bool {
	head = bytes.TrimLeft(head, " \t\r\n")
	return bytes.HasPrefix(head, []byte(`{"timestamp":"`)) && bytes.Contains(head, []byte(`"error_severity":`))
}

// jsonRecord holds the jsonlog keys the events need.
type jsonRecord struct {
	Timestamp  string `json:"timestamp"`
	User       string `json:"user"`
	DBName     string `json:"dbname"`
	PID        int64  `json:"pid"`
	RemoteHost string `json:"remote_host"`
	RemotePort int    `json:"remote_port"`
	SessionID  string `json:"session_id"`
	Severity   string `json:"error_severity"`
	StateCode  string `json:"state_code"`
	Message    string `json:"message"`
	AppName    string `json:"application_name"`
}

// Parse implements logs.Parser.
func (*JSON) Parse(ctx context.Context, file string, r io.Reader, emit func(logs.Event) error) (logs.Stats, error) {
	em := &emitter{ctx: ctx, file: file, emit: emit}
	lr := logs.NewLineReader(r, maxRecord)
	var rec record
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
		if long {
			em.malformed(lr.Line(), "line longer than %d bytes", maxRecord)
			continue
		}
		var j jsonRecord
		if err := json.Unmarshal(b, &j); err != nil {
			em.malformed(lr.Line(), "json: %v", err)
			continue
		}
		if j.Timestamp == "" || j.Severity == "" || parseTime(j.Timestamp).IsZero() {
			em.malformed(lr.Line(), "jsonlog record without timestamp or error_severity")
			continue
		}
		rec = record{line: lr.Line(), time: j.Timestamp, user: j.User, db: j.DBName, host: j.RemoteHost,
			session: j.SessionID, severity: j.Severity, sqlstate: j.StateCode, message: j.Message,
			app: j.AppName, hasFields: true}
		if j.PID != 0 {
			rec.pid = strconv.FormatInt(j.PID, 10)
		}
		if j.RemotePort != 0 {
			rec.port = strconv.Itoa(j.RemotePort)
		}
		if err := em.record(&rec); err != nil {
			return em.stats, err
		}
	}
}
