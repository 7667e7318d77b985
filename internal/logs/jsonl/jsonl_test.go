package jsonl

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/logs"
	"github.com/rekeyhq/rekey/internal/logs/logstest"
)

var gatewayMapping = Mapping{
	Time: "ts", Credential: "user.key_id", Identity: "user.name", Source: "client.ip",
	UserAgent: "http.user_agent", Application: "service", Action: "http.route",
	Outcome: "http.status", Failure: []string{"401", "403"},
}

var exportMapping = Mapping{
	Time: "timestamp", TimeFormat: UnixMS, Credential: "token.id", Identity: "actor.login", Source: "ip",
	UserAgent: "agent", Action: "event", Outcome: "result", Failure: []string{"Denied", "error"},
}

func mustNew(t testing.TB, m Mapping) *Parser {
	t.Helper()
	p, err := New(m)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConformance(t *testing.T) {
	t.Run("gateway", func(t *testing.T) {
		logstest.Run(t, sniffing{mustNew(t, gatewayMapping)}, []logstest.Case{{Input: "testdata/gateway.jsonl"}})
	})
	t.Run("export", func(t *testing.T) {
		logstest.Run(t, sniffing{mustNew(t, exportMapping)}, []logstest.Case{{Input: "testdata/export.json"}})
	})
}

// sniffing accepts what the suite offers as the head of its inputs, and
// refuses its garbage: jsonl's own Sniff never accepts (see
// TestSniffNever), which the suite's sniff check cannot know.
type sniffing struct{ *Parser }

func (sniffing) Sniff(head []byte) bool {
	return bytes.HasPrefix(head, []byte(`{"ts":`)) || bytes.HasPrefix(head, []byte("[\n{\"timestamp\""))
}

func FuzzParse(f *testing.F) {
	logstest.Fuzz(f, mustNew(f, gatewayMapping), []logstest.Case{{Input: "testdata/gateway.jsonl"}, {Input: "testdata/export.json"}})
}

func BenchmarkParse(b *testing.B) {
	logstest.Benchmark(b, mustNew(b, gatewayMapping), "testdata/gateway.jsonl")
}

func TestSniffNever(t *testing.T) {
	p := mustNew(t, gatewayMapping)
	if _, files := logstest.SniffOwn(t, p, ""); files < 10 {
		t.Fatalf("only %d testdata files found", files)
	}
}

func parse(t *testing.T, p *Parser, input string) ([]logs.Event, logs.Stats) {
	t.Helper()
	var evs []logs.Event
	st, err := p.Parse(context.Background(), "f", strings.NewReader(input), func(e logs.Event) error {
		evs = append(evs, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return evs, st
}

func TestMapping(t *testing.T) {
	evs, st := parse(t, mustNew(t, gatewayMapping), string(read(t, "testdata/gateway.jsonl")))
	if st.Records != 8 || st.Events != 6 || st.MalformedCount != 1 || st.Malformed[0].Line != 7 ||
		!strings.Contains(st.Malformed[0].Reason, "ts: \"03/02/2026 22:43\" is not an RFC 3339 time") {
		t.Fatalf("stats %+v", st)
	}
	first := evs[0]
	if first.Credential != "key_7f3a9c21e0" || first.Identity != "orders-svc" || first.Source != "10.0.4.17" ||
		first.UserAgent != "orders-api/2.3.1 (+go1.26)" || first.Application != "api-gateway" || first.Action != "/v1/orders" ||
		first.Outcome != logs.Success || first.Detail["outcome"] != "200" || first.Line != 1 || first.Offset != 0 ||
		!first.Time.Equal(time.Date(2026, 3, 2, 9, 14, 3, 512e6, time.UTC)) {
		t.Errorf("first event %+v", first)
	}
	if evs[2].Outcome != logs.Failure || evs[3].Outcome != logs.Failure || evs[2].Identity != "" {
		t.Errorf("401 and 403 are failures: %+v %+v", evs[2], evs[3])
	}
	if !evs[3].Time.Equal(time.Date(2026, 3, 2, 21, 41, 19, 101e6, time.UTC)) {
		t.Errorf("time with an offset: %v", evs[3].Time)
	}
	flat := evs[4]
	if flat.Credential != "key_0b19d4aa52" || flat.Identity != "billing" || flat.Source != "10.0.7.3" {
		t.Errorf("flat dotted keys: %+v", flat)
	}
	last := evs[5]
	if last.Outcome != logs.Unknown || last.Source != "10.0.4.17" || last.Detail != nil {
		t.Errorf("no status, a list of sources: %+v", last)
	}
}

func TestTimeFormats(t *testing.T) {
	for _, c := range []struct {
		format, value string
		want          time.Time
	}{
		{"", `"2026-03-02T09:14:03Z"`, time.Date(2026, 3, 2, 9, 14, 3, 0, time.UTC)},
		{RFC3339, `"2026-03-02T09:14:03.123456789Z"`, time.Date(2026, 3, 2, 9, 14, 3, 123456789, time.UTC)},
		{Unix, `1772442843`, time.Date(2026, 3, 2, 9, 14, 3, 0, time.UTC)},
		{Unix, `"1772442843.25"`, time.Date(2026, 3, 2, 9, 14, 3, 250e6, time.UTC)},
		{UnixMS, `1772442843512`, time.Date(2026, 3, 2, 9, 14, 3, 512e6, time.UTC)},
		{"2006-01-02 15:04:05", `"2026-03-02 09:14:03"`, time.Date(2026, 3, 2, 9, 14, 3, 0, time.UTC)},
		{"02/Jan/2006:15:04:05 -0700", `"02/Mar/2026:10:14:03 +0100"`, time.Date(2026, 3, 2, 9, 14, 3, 0, time.UTC)},
	} {
		p := mustNew(t, Mapping{Time: "t", TimeFormat: c.format, Credential: "k"})
		evs, st := parse(t, p, `{"t":`+c.value+`,"k":"key1"}`)
		if len(evs) != 1 || !evs[0].Time.Equal(c.want) {
			t.Errorf("%q %s: %+v %+v, want %v", c.format, c.value, evs, st.Malformed, c.want)
		}
	}
	p := mustNew(t, Mapping{Time: "t", TimeFormat: UnixMS, Credential: "k"})
	for _, bad := range []string{`"soon"`, `""`, `true`, `-5`} {
		evs, st := parse(t, p, `{"t":`+bad+`,"k":"key1"}`)
		if len(evs) != 0 || st.MalformedCount != 1 {
			t.Errorf("time %s: %d events, %d malformed", bad, len(evs), st.MalformedCount)
		}
	}
	if evs, st := parse(t, p, `{"k":"key1"}`); len(evs) != 0 || st.MalformedCount != 1 || st.Malformed[0].Reason != "no t" {
		t.Errorf("no time: %+v", st)
	}
}

func TestNewValidates(t *testing.T) {
	for _, c := range []struct {
		m    Mapping
		want string
	}{
		{Mapping{Credential: "k"}, "no time path"},
		{Mapping{Time: "t"}, "no credential path"},
		{Mapping{Time: "t", Credential: "user..id"}, `credential: "user..id" has an empty segment`},
		{Mapping{Time: "t", Credential: "k", Source: " ip"}, `source: " ip" has surrounding spaces`},
		{Mapping{Time: "t", Credential: "k", TimeFormat: "epoch"}, `time format: "epoch" is neither rfc3339`},
		{Mapping{Time: "t", Credential: "k", Failure: []string{"401"}}, "failure values without an outcome path"},
	} {
		_, err := New(c.m)
		if err == nil || !strings.Contains(err.Error(), c.want) || errs.KindOf(err) != errs.Invalid {
			t.Errorf("New(%+v) = %v, want an Invalid error with %q", c.m, err, c.want)
		}
	}
}

func TestFailureIgnoresCase(t *testing.T) {
	evs, _ := parse(t, mustNew(t, exportMapping), string(read(t, "testdata/export.json")))
	if len(evs) != 4 || evs[1].Outcome != logs.Failure || evs[0].Outcome != logs.Success {
		t.Fatalf("%+v", evs)
	}
	if evs[3].Line != 5 || evs[3].Offset <= evs[2].Offset {
		t.Errorf("array element placed at line %d offset %d", evs[3].Line, evs[3].Offset)
	}
}

func TestFiltered(t *testing.T) {
	p, err := NewFiltered(gatewayMapping, "key_0b19d4aa52")
	if err != nil {
		t.Fatal(err)
	}
	evs, st := parse(t, p, string(read(t, "testdata/gateway.jsonl")))
	if len(evs) != 1 || evs[0].Credential != "key_0b19d4aa52" || st.Records != 8 || st.MalformedCount != 0 {
		t.Errorf("%d events, %+v", len(evs), st)
	}
}

func TestEmitErrorAndContext(t *testing.T) {
	p := mustNew(t, gatewayMapping)
	stop := errors.New("stop")
	_, err := p.Parse(context.Background(), "f", bytes.NewReader(read(t, "testdata/gateway.jsonl")), func(logs.Event) error { return stop })
	if err != stop {
		t.Errorf("emit error: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	line := `{"ts":"2026-03-02T09:14:03Z","user":{"key_id":"k"}}` + "\n"
	_, err = p.Parse(ctx, "f", strings.NewReader(strings.Repeat(line, 5000)), func(logs.Event) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

func read(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLookup(t *testing.T) {
	p := mustNew(t, Mapping{Time: "t", TimeFormat: Unix, Credential: "user.key_id", Source: "client.ip", Action: "a"})
	for _, c := range []struct {
		in, cred, source, action string
	}{
		{`{"t":1,"user":{"key_id":"k1"},"client":{"ip":"10.0.0.1"}}`, "k1", "10.0.0.1", ""},
		{`{"t":1,"user.key_id":"k2","client.ip":"10.0.0.2"}`, "k2", "10.0.0.2", ""},
		{`{"t":1,"user":{"key_id":"nested"},"user.key_id":"flat"}`, "flat", "", ""},
		{`{"t":1,"user.key_id":{"x":1},"user":{"key_id":"k3"}}`, `{"x":1}`, "", ""},
		{`{"t":1,"user":"not an object","user.key_id":"k4"}`, "k4", "", ""},
		{`{"t":1,"us\u0065r":{"key_\u0069d":"k5"},"a":"caf\u00e9 \"x\""}`, "k5", "", `café "x"`},
		{`{"t":1,"user":{"key_id":"old"},"user":{"key_id":"new"}}`, "new", "", ""},
		{`{"t":1,"user":{"key_id":42},"a":[],"client":{"ip":null}}`, "42", "", ""},
		{` {"t":1 , "user" : { "key_id" : "k6" } , "a" : [ "first" , "second" ] } `, "k6", "", "first"},
		{`{"t":1,"a":true,"user":{"key_id":"k7","other":{"deep":[1,{"x":"}"}]}}}`, "k7", "", "true"},
	} {
		evs, st := parse(t, p, c.in+"\n")
		if len(evs) != 1 || st.MalformedCount != 0 {
			t.Errorf("%s: %d events, %+v", c.in, len(evs), st.Malformed)
			continue
		}
		if e := evs[0]; e.Credential != c.cred || e.Source != c.source || e.Action != c.action {
			t.Errorf("%s: credential %q source %q action %q", c.in, e.Credential, e.Source, e.Action)
		}
	}
	for _, bad := range []string{
		`{"t":1,"user":{"key_id":"k"}} x`,
		`{"t":1,"user":{"key_id":"k"},}`,
		`{"t":1,"user":{"key_id":"k"}`,
		`{"t":1 "user":{"key_id":"k"}}`,
		`{"t":tru,"user":{"key_id":"k"}}`,
		`{"t":1,"user":{"key_id":"k"},"a":"unterminated}`,
		`{"t":1,"user":{"key_id":"k"},"a":]}`,
		`{t:1,"user":{"key_id":"k"}}`,
	} {
		evs, st := parse(t, p, bad+"\n")
		if len(evs) != 0 || st.MalformedCount != 1 || !strings.HasPrefix(st.Malformed[0].Reason, "invalid JSON") {
			t.Errorf("%s: %d events, %+v", bad, len(evs), st.Malformed)
		}
	}
}
