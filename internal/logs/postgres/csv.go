package postgres

import (
	"context"
	"encoding/csv"
	"errors"
	"io"
	"regexp"
	"strings"

	"github.com/rekeyhq/rekey/internal/logs"
)

// csvColumns is the fewest columns a csvlog record has (PostgreSQL 9.0 to
// 12; 13 added backend_type, 14 leader_pid and query_id).
const csvColumns = 23

// CSV parses the csvlog destination (log_destination = 'csvlog').
type CSV struct{}

// NewCSV returns the postgres-csv parser.
func NewCSV() *CSV { return &CSV{} }

var _ logs.Parser = (*CSV)(nil)

// Name implements logs.Parser.
func (*CSV) Name() string { return "postgres-csv" }

var csvHead = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? [^,"\n]*,("([^"]|"")*"|[^,"\n]*),("([^"]|"")*"|[^,"\n]*),\d+,`)

// Sniff implements logs.Parser: a csvlog line starts with a timestamp,
// user, database and pid.
func (*CSV) Sniff(head []byte) bool { return csvHead.Match(head) }

// Parse implements logs.Parser. A quoted field holds newlines, so each
// record's line is where it starts.
func (*CSV) Parse(ctx context.Context, file string, r io.Reader, emit func(logs.Event) error) (logs.Stats, error) {
	em := &emitter{ctx: ctx, file: file, emit: emit}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	lastLine := 0
	var rec record
	for {
		f, err := cr.Read()
		if err == io.EOF {
			return em.stats, nil
		}
		var perr *csv.ParseError
		if errors.As(err, &perr) {
			em.malformed(perr.StartLine, "csv: %v", perr.Err)
			lastLine = perr.Line
			continue
		}
		if err != nil {
			return em.stats, readErr(file, lastLine, err)
		}
		line, _ := cr.FieldPos(0)
		lastLine = line
		if len(f) < csvColumns {
			em.malformed(line, "csvlog record has %d columns, want at least %d", len(f), csvColumns)
			continue
		}
		if parseTime(f[0]).IsZero() {
			em.malformed(line, "csvlog record does not start with a timestamp")
			continue
		}
		rec = record{line: line, time: f[0], user: f[1], db: f[2], pid: f[3], session: f[5],
			severity: f[11], sqlstate: f[12], message: f[13], app: f[22], hasFields: true}
		rec.host, rec.port = splitHostPort(f[4])
		if err := em.record(&rec); err != nil {
			return em.stats, err
		}
	}
}

// splitHostPort splits csvlog's connection_from ("10.0.0.5:51234",
// "[local]").
func splitHostPort(s string) (host, port string) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 || strings.HasPrefix(s, "[") {
		return s, ""
	}
	return s[:i], s[i+1:]
}
