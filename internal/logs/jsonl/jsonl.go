// Package jsonl parses generic JSON logs (JSON lines, or an exported
// array of objects) with a field mapping the user gives: which dotted path
// of each object holds the time, the credential, the source and so on. It
// also holds what the parsers of JSON log formats share: Records, the
// streaming reader of JSON objects with their line and offset, and
// Filter, the byte-level prefilter on the credentials under review.
//
// The jsonl format cannot be told from content (any JSON log would match),
// so its Sniff never accepts: a file is read as jsonl only when the
// inventory's type or --log-format says so.
package jsonl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/logs"
)

// Mapping says where each event field is in a record. Each is a dotted
// path into the object ("user.key_id"); a key that itself holds dots
// ("client.ip" written flat) is found too. Time and Credential are
// required; the others may be empty.
type Mapping struct {
	Time string
	// TimeFormat is how Time is written: "rfc3339" (the default; a
	// fractional second is allowed), "unix" (seconds, possibly
	// fractional), "unix_ms" (milliseconds), or a Go time layout
	// ("2006-01-02 15:04:05").
	TimeFormat  string
	Credential  string
	Identity    string
	Source      string
	UserAgent   string
	Application string
	Action      string
	// Outcome is the path of the value that tells success from failure
	// (a status code, a result word). An event is a failure when the
	// value is one of Failure (compared without regard to case),
	// a success otherwise, and unknown when the record lacks the value
	// or Outcome is empty.
	Outcome string
	Failure []string
}

// Time formats besides a Go layout.
const (
	RFC3339 = "rfc3339"
	Unix    = "unix"
	UnixMS  = "unix_ms"
)

// Parser reads JSON logs with a Mapping. It is safe for concurrent use.
type Parser struct {
	m       Mapping
	paths   []*path // in the order of fields below; nil for an unmapped one
	failure map[string]bool
	filter  *logs.KeyFilter
}

// The fields of Mapping, in the order of Parser.paths.
const (
	fTime = iota
	fCredential
	fIdentity
	fSource
	fUserAgent
	fApplication
	fAction
	fOutcome
	nFields
)

var _ logs.Parser = (*Parser)(nil)

// New checks m and returns a parser for it.
func New(m Mapping) (*Parser, error) {
	return NewFiltered(m)
}

// NewFiltered is New with a prefilter: only records whose raw bytes
// contain one of keys are decoded (see Filter).
func NewFiltered(m Mapping, keys ...string) (*Parser, error) {
	if m.TimeFormat == "" {
		m.TimeFormat = RFC3339
	}
	p := &Parser{m: m, paths: make([]*path, nFields), filter: logs.NewKeyFilter(keys...)}
	var problems []string
	for i, f := range []struct{ name, path string }{
		{"time", m.Time}, {"credential", m.Credential}, {"identity", m.Identity}, {"source", m.Source},
		{"user_agent", m.UserAgent}, {"application", m.Application}, {"action", m.Action}, {"outcome", m.Outcome},
	} {
		if f.path == "" {
			if i == fTime || i == fCredential {
				problems = append(problems, "no "+f.name+" path")
			}
			continue
		}
		if err := CheckPath(f.path); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", f.name, err))
			continue
		}
		pp := newPath(f.path)
		p.paths[i] = &pp
	}
	if err := CheckTimeFormat(m.TimeFormat); err != nil {
		problems = append(problems, "time format: "+err.Error())
	}
	if len(m.Failure) > 0 && m.Outcome == "" {
		problems = append(problems, "failure values without an outcome path")
	}
	p.failure = map[string]bool{}
	for _, f := range m.Failure {
		p.failure[strings.ToLower(f)] = true
	}
	if len(problems) > 0 {
		return nil, errs.New("jsonl", errs.Invalid, "mapping", strings.Join(problems, "; "))
	}
	return p, nil
}

// CheckPath checks a dotted path: no empty segment, no surrounding space.
func CheckPath(path string) error {
	if strings.TrimSpace(path) != path {
		return fmt.Errorf("%q has surrounding spaces", path)
	}
	for _, seg := range strings.Split(path, ".") {
		if seg == "" {
			return fmt.Errorf("%q has an empty segment: write a dotted path like user.key_id", path)
		}
	}
	return nil
}

// CheckTimeFormat checks a time format: rfc3339, unix, unix_ms, or a Go
// layout that holds at least a date or a time element.
func CheckTimeFormat(f string) error {
	switch f {
	case RFC3339, Unix, UnixMS:
		return nil
	}
	ref := time.Date(2017, 8, 9, 13, 47, 51, 0, time.UTC)
	s := ref.Format(f)
	if s == f {
		return fmt.Errorf("%q is neither rfc3339, unix, unix_ms nor a Go time layout (like 2006-01-02 15:04:05)", f)
	}
	if _, err := time.Parse(f, s); err != nil {
		return fmt.Errorf("%q is not a Go time layout that can be read back: %v", f, err)
	}
	return nil
}

// Name implements logs.Parser.
func (*Parser) Name() string { return "jsonl" }

// Sniff implements logs.Parser: never, since the mapping, not the content,
// makes a file jsonl.
func (*Parser) Sniff([]byte) bool { return false }

// Parse implements logs.Parser. Each event's Line and Offset are those of
// its object's opening brace. A record without the credential yields no
// event (a log line of another kind); one whose time is missing or
// unreadable is malformed.
func (p *Parser) Parse(ctx context.Context, file string, r io.Reader, emit func(logs.Event) error) (logs.Stats, error) {
	return Decode(ctx, file, r, p.filter, p.decode, emit)
}

func (p *Parser) decode(raw []byte) (ev logs.Event, ok bool, reason string) {
	defer func() {
		// The decoder is third-party code fed hostile input: a panic
		// costs this record, not the review.
		if v := recover(); v != nil {
			ev, ok, reason = logs.Event{}, false, fmt.Sprintf("undecodable record: %v", v)
		}
	}()
	w := walkers.Get().(*walker)
	defer walkers.Put(w)
	top, err := members(raw, w.top[:0])
	w.top = top
	if err != nil {
		return ev, false, err.Error()
	}
	var vals [nFields]string
	var found [nFields]bool
	for i, path := range p.paths {
		if path == nil {
			continue
		}
		v, ok := w.find(top, path, 0, 0)
		if !ok {
			continue
		}
		if vals[i], found[i] = scalar(v); !found[i] {
			return ev, false, fmt.Sprintf("invalid JSON: the value at %s", strings.Join(path.segs, "."))
		}
	}
	if vals[fCredential] == "" {
		return ev, false, ""
	}
	if !found[fTime] {
		return ev, false, "no " + p.m.Time
	}
	t, err := parseTime(p.m.TimeFormat, vals[fTime])
	if err != nil {
		return ev, false, fmt.Sprintf("%s: %v", p.m.Time, err)
	}
	ev = logs.Event{
		Time:        t,
		Credential:  vals[fCredential],
		Identity:    vals[fIdentity],
		Source:      vals[fSource],
		UserAgent:   vals[fUserAgent],
		Application: vals[fApplication],
		Action:      vals[fAction],
		Outcome:     logs.Unknown,
	}
	if p.paths[fOutcome] != nil && found[fOutcome] && vals[fOutcome] != "" {
		ev.Outcome = logs.Success
		if p.failure[strings.ToLower(vals[fOutcome])] {
			ev.Outcome = logs.Failure
		}
		ev.Detail = map[string]string{"outcome": vals[fOutcome]}
	}
	return ev, true, ""
}

// maxDepth bounds how deep a path is followed.
const maxDepth = 32

var errEmptyTime = errors.New("empty time")

// parseTime reads a time in format (see Mapping.TimeFormat).
func parseTime(format, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errEmptyTime
	}
	switch format {
	case RFC3339:
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, fmt.Errorf("%s is not an RFC 3339 time", quoteShort(s))
		}
		return t, nil
	case Unix, UnixMS:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f < 0 || f > 1e17 {
			return time.Time{}, fmt.Errorf("%s is not a %s time", quoteShort(s), format)
		}
		if format == UnixMS {
			ms := int64(f)
			return time.UnixMilli(ms).Add(time.Duration((f - float64(ms)) * 1e6)).UTC(), nil
		}
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).Round(time.Microsecond).UTC(), nil
	}
	t, err := time.Parse(format, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s does not match the layout %q", quoteShort(s), format)
	}
	return t, nil
}

func quoteShort(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strconv.Quote(s)
}
