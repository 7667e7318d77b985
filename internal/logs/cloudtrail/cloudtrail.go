// Package cloudtrail parses AWS CloudTrail logs into logs.Events: the
// files CloudTrail delivers to S3 ({"Records":[…]}, gzipped or not) and
// JSON lines of records (one record per line, as exported by many tools).
// Digest files carry no events and yield none.
//
// The parser streams: a byte-level scanner finds each record's span
// without decoding the array around it, so memory is bounded by the
// largest record. NewFiltered adds a byte-level prefilter that drops
// records which cannot mention the credentials under review before any
// decoding; the rest are decoded field-selectively.
package cloudtrail

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/logs"
)

// Parser reads CloudTrail logs. It is safe for concurrent use.
type Parser struct {
	filter *logs.KeyFilter
}

var _ logs.Parser = (*Parser)(nil)

// New returns a parser that decodes every record.
func New() *Parser { return &Parser{} }

// NewFiltered returns a parser that emits only events whose record
// mentions one of keys (access key ids, ARNs, principal ids, user names)
// somewhere in its raw bytes, as written or with "/" escaped as "\/".
// Records that do not are counted in Stats.Records and skipped before
// decoding. Empty keys are ignored; with none left it behaves like New.
func NewFiltered(keys ...string) *Parser { return &Parser{filter: logs.NewKeyFilter(keys...)} }

// Name implements logs.Parser.
func (*Parser) Name() string { return "cloudtrail" }

// Sniff implements logs.Parser: a JSON object that names CloudTrail's
// record or digest keys.
func (*Parser) Sniff(head []byte) bool {
	head = logs.TrimHead(head)
	if len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b {
		return false // compressed: sniff the decompressed head
	}
	if len(head) == 0 || head[0] != '{' && head[0] != '[' {
		return false
	}
	has := func(k string) bool { return bytes.Contains(head, []byte(`"`+k+`"`)) }
	return has("Records") && (has("eventVersion") || has("eventTime")) ||
		has("eventVersion") && (has("eventSource") || has("userIdentity")) ||
		has("digestStartTime") && has("digestS3Object")
}

// IsDigest reports whether path names a CloudTrail digest file, which
// holds hashes of delivered files and no events.
func IsDigest(path string) bool {
	return strings.Contains(path, "CloudTrail-Digest/") || strings.Contains(path, "CloudTrail-Digest\\") ||
		strings.Contains(path, "_CloudTrail-Digest_")
}

// deliveredRE matches the delivery time in a CloudTrail log file's name:
// AccountID_CloudTrail_RegionName_YYYYMMDDTHHmmZ_UniqueString.json.gz,
// where the time is when the file was delivered (AWS CloudTrail User
// Guide, "CloudTrail log file examples").
var deliveredRE = regexp.MustCompile(`_CloudTrail_[a-z0-9-]+_(\d{8}T\d{4}Z)_[A-Za-z0-9]+\.json(\.gz)?$`)

// DeliveredAt is the delivery time a CloudTrail log file's name states;
// every record in the file happened before it. ok is false for a name
// that does not follow CloudTrail's convention.
func DeliveredAt(path string) (at time.Time, ok bool) {
	m := deliveredRE.FindStringSubmatch(filepath.Base(path))
	if m == nil {
		return time.Time{}, false
	}
	t, err := time.Parse("20060102T1504Z", m[1])
	return t, err == nil
}

// Parse implements logs.Parser. Each event's Offset is the byte offset of
// its record's opening brace in the (decompressed) input and Line the
// line it starts on. A gzip stream is decompressed transparently.
func (p *Parser) Parse(ctx context.Context, file string, r io.Reader, emit func(logs.Event) error) (logs.Stats, error) {
	var st logs.Stats
	if IsDigest(file) {
		return st, nil
	}
	r, done, err := logs.Gunzip(r)
	if err != nil {
		return st, fmt.Errorf("cloudtrail %s: %w", file, err)
	}
	defer done()
	sc := newScanner(r)
	defer sc.release()
	ps := &parse{p: p, ctx: ctx, file: file, s: sc, emit: emit, st: &st}
	if err := ps.run(); err != nil {
		return st, err
	}
	if err := ps.s.readErr(); err != nil {
		return st, fmt.Errorf("cloudtrail %s: %w", file, err)
	}
	return st, nil
}

// parse is the state of one Parse call.
type parse struct {
	p       *Parser
	ctx     context.Context
	file    string
	s       *scanner
	emit    func(logs.Event) error
	st      *logs.Stats
	rewound int64 // bytes scanned twice after rewinds
	// pending ends the parse: emit's error (returned unchanged) or the
	// context's.
	pending error
}

func (ps *parse) malformed(i int, reason string) {
	ps.st.AddMalformed(logs.Position{File: ps.file, Line: ps.s.lineAt(i), Offset: ps.s.offset(i), Reason: reason})
}

// tooLarge counts a record that outgrew MaxRecord and was skipped.
func (ps *parse) tooLarge(off int64, line int) {
	ps.st.Records++
	ps.st.AddMalformed(logs.Position{File: ps.file, Line: line, Offset: off, Reason: fmt.Sprintf("record larger than %d bytes", MaxRecord)})
}

// run reads top-level values until the end of input. A top-level object
// is either a delivered file's wrapper (its "Records" array streamed
// record by record), a digest (ignored) or one record (JSON lines).
func (ps *parse) run() error {
	s := ps.s
	for {
		c, ok := s.skipSpace()
		if !ok {
			return nil
		}
		switch c {
		case '{':
			ps.topObject()
		case '[':
			if !ps.records() && ps.pending == nil {
				s.skipLine()
			}
		case 0xef: // a UTF-8 byte order mark
			if s.pos == 0 && s.base == 0 {
				for s.end < 3 && s.fill() {
				}
				if bytes.HasPrefix(s.buf[:s.end], []byte("\xef\xbb\xbf")) {
					s.pos += 3
					continue
				}
			}
			fallthrough
		default:
			ps.malformed(s.pos, fmt.Sprintf("unexpected %q outside a record", c))
			s.skipLine()
		}
		if ps.pending != nil {
			return ps.pending
		}
		if err := ps.ctx.Err(); err != nil {
			return err
		}
	}
}

// topObject handles a top-level object at s.pos.
func (ps *parse) topObject() {
	s := ps.s
	s.pin = s.pos
	s.oversize = false
	startOff, startLine := s.offset(s.pos), s.lineAt(s.pos)
	s.pos++
	var wrapper, digest bool
	bad := func(reason string) {
		if s.pin >= 0 {
			// Not a wrapper: resynchronise on the next line, so a cut
			// line in JSON lines costs one record, not the rest.
			start := s.pin
			ps.malformed(start, reason)
			s.pin = -1
			if !ps.rewind(start) {
				s.skipLine()
			}
			return
		}
		ps.malformed(s.pos, reason)
		s.skipLine()
	}
	for first := true; ; first = false {
		c, ok := s.skipSpace()
		if !ok {
			bad("truncated: " + errEOF.Error())
			return
		}
		if c == '}' {
			s.pos++
			break
		}
		if !first {
			if c != ',' {
				bad(fmt.Sprintf("invalid JSON: %q after object member", c))
				return
			}
			s.pos++
			if c, ok = s.skipSpace(); !ok {
				bad("truncated: " + errEOF.Error())
				return
			}
		}
		if c != '"' {
			bad(fmt.Sprintf("invalid JSON: %q for object key", c))
			return
		}
		key, err := s.readString()
		if err != nil {
			bad("truncated: " + err.Error())
			return
		}
		isRecords := false
		switch string(key) {
		case "Records":
			isRecords = true
		case "digestStartTime", "digestEndTime", "digestS3Bucket", "digestS3Object", "previousDigestSignature", "digestPublicKeyFingerprint":
			digest = true
		}
		if c, ok = s.skipSpace(); !ok {
			bad("truncated: " + errEOF.Error())
			return
		}
		if c != ':' {
			bad(fmt.Sprintf("invalid JSON: %q after object key", c))
			return
		}
		s.pos++
		if c, ok = s.skipSpace(); !ok {
			bad("truncated: " + errEOF.Error())
			return
		}
		if isRecords && c == '[' && !digest {
			wrapper = true
			s.pin = -1
			if !ps.records() {
				if ps.pending == nil {
					s.skipLine()
				}
				return
			}
			continue
		}
		if err := s.skipValue(); err != nil {
			bad("truncated: " + err.Error())
			return
		}
	}
	if wrapper || digest {
		s.pin = -1
		return
	}
	if s.oversize {
		s.oversize = false
		ps.tooLarge(startOff, startLine)
		return
	}
	start := s.pin
	s.pin = -1
	if !ps.record(start, s.pos) {
		ps.rewind(start)
	}
}

// rewindSlack is how many bytes may be scanned twice besides half the
// input: enough for any real cut record, linear for hostile input.
const rewindSlack = 1 << 20

// rewind moves back to the line after buf[start], where a broken record
// began: a cut line in JSON lines then costs one record, not the ones it
// swallowed. It reports false, not moving, when there is no such line or
// rescanning it would exceed the budget that keeps parsing linear.
func (ps *parse) rewind(start int) bool {
	s := ps.s
	i := bytes.IndexByte(s.buf[start:s.pos], '\n')
	if i < 0 || start+i+1 >= s.pos {
		return false
	}
	to := start + i + 1
	cost := int64(s.pos - to)
	if ps.rewound+cost > s.offset(to)/2+rewindSlack {
		return false
	}
	ps.rewound += cost
	s.pos = to
	return true
}

// records streams the array at s.pos, each element one record. It
// returns false when the array's structure is broken (the caller then
// resynchronises) or a fatal error is pending.
func (ps *parse) records() bool {
	s := ps.s
	s.pos++ // '['
	for first := true; ; first = false {
		c, ok := s.skipSpace()
		if !ok {
			ps.malformed(s.pos, "truncated: "+errEOF.Error())
			return false
		}
		if c == ']' {
			s.pos++
			return true
		}
		if !first {
			if c != ',' {
				ps.malformed(s.pos, fmt.Sprintf("invalid JSON: %q between records", c))
				return false
			}
			s.pos++
			if c, ok = s.skipSpace(); !ok {
				ps.malformed(s.pos, "truncated: "+errEOF.Error())
				return false
			}
		}
		if c != '{' {
			ps.malformed(s.pos, "record is not an object")
			ps.st.Records++
			if err := s.skipValue(); err != nil {
				return false
			}
			continue
		}
		s.pin = s.pos
		s.oversize = false
		startOff, startLine := s.offset(s.pos), s.lineAt(s.pos)
		if err := s.skipValue(); err != nil {
			if s.pin >= 0 {
				ps.malformed(s.pin, "truncated: "+err.Error())
			} else {
				ps.malformed(s.pos, "truncated: "+err.Error())
			}
			s.pin = -1
			ps.st.Records++
			return false
		}
		start := s.pin
		s.pin = -1
		if s.oversize {
			s.oversize = false
			ps.tooLarge(startOff, startLine)
			continue
		}
		ps.record(start, s.pos)
		if ps.pending != nil {
			return true
		}
	}
}
