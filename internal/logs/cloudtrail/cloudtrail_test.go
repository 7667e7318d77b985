package cloudtrail

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rekeyhq/rekey/internal/logs"
	"github.com/rekeyhq/rekey/internal/logs/logstest"
	"github.com/rekeyhq/rekey/internal/testutil"
)

// cases are the inputs with events; testdata/digest.json has none and is
// tested on its own.
var cases = []logstest.Case{
	{Input: "testdata/delivered.json"},
	{Input: "testdata/records.jsonl"},
	{Input: "testdata/delivered.json.gz"},
}

func TestConformance(t *testing.T) {
	logstest.Run(t, New(), cases)
}

func TestConformanceFiltered(t *testing.T) {
	// Golden files are New's; the filtered parser runs the rest of the
	// suite over its own output.
	p := NewFiltered("AKIAIOSFODNN7EXAMPLE")
	for _, c := range cases {
		data := read(t, c.Input)
		want := logstest.Parse(p, c.Input, bytes.NewReader(data))
		for name, r := range map[string]io.Reader{
			"OneByteReader": iotest.OneByteReader(bytes.NewReader(data)),
			"HalfReader":    iotest.HalfReader(bytes.NewReader(data)),
			"DataErrReader": iotest.DataErrReader(bytes.NewReader(data)),
		} {
			if diff := cmp.Diff(want, logstest.Parse(p, c.Input, r)); diff != "" {
				t.Errorf("%s through %s (-plain +%s):\n%s", c.Input, name, name, diff)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	logstest.Fuzz(f, New(), cases)
}

// FuzzReaders checks that how the input is cut into reads never changes
// the result, and that events point at an opening brace.
func FuzzReaders(f *testing.F) {
	for _, c := range cases {
		f.Add(read(f, c.Input))
	}
	f.Add([]byte(`{"Records":[{"eventName":"x","eventTime":"2026-01-01T00:00:00Z"},{"a":"\"}\\"},7,]}`))
	f.Add([]byte("{\"eventName\":\"x\",\"eventTime\":\"2026-01-01T00:00:00Z\",\"s\":\"\\\n{\"eventName\":\"y\",\"eventTime\":\"2026-01-01T00:00:00Z\"}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := New()
		want := logstest.Parse(p, "fuzz", bytes.NewReader(data))
		got := logstest.Parse(p, "fuzz", iotest.OneByteReader(bytes.NewReader(data)))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("OneByteReader differs:\n%s", diff)
		}
		for _, e := range want.Events {
			if e.Offset >= int64(len(data)) || data[e.Offset] != '{' {
				t.Fatalf("event at offset %d is not at an opening brace", e.Offset)
			}
		}
	})
}

func read(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func parseAll(t testing.TB, p *Parser, file string, data []byte) ([]logs.Event, logs.Stats) {
	t.Helper()
	var evs []logs.Event
	st, err := p.Parse(context.Background(), file, bytes.NewReader(data), func(e logs.Event) error {
		evs = append(evs, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return evs, st
}

// ignorePlace compares events regardless of where they were found.
var ignorePlace = cmpopts.IgnoreFields(logs.Event{}, "File", "Line", "Offset")

func TestShapesAgree(t *testing.T) {
	delivered, st := parseAll(t, New(), "d", read(t, "testdata/delivered.json"))
	if st.Records != 20 || st.Events != 20 || st.MalformedCount != 0 {
		t.Fatalf("delivered.json: %+v", st)
	}
	lines, _ := parseAll(t, New(), "l", read(t, "testdata/records.jsonl"))
	if diff := cmp.Diff(delivered, lines, ignorePlace); diff != "" {
		t.Errorf("JSON lines differ from the delivered file:\n%s", diff)
	}
	// Raw gzip given straight to Parse is decompressed.
	raw, err := os.ReadFile("testdata/delivered.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	gz, _ := parseAll(t, New(), "d", raw)
	if diff := cmp.Diff(delivered, gz); diff != "" {
		t.Errorf("gzip differs:\n%s", diff)
	}
	// Pretty-printed, with keys around Records, and a second file after.
	var doc struct{ Records []json.RawMessage }
	if err := json.Unmarshal(read(t, "testdata/delivered.json"), &doc); err != nil {
		t.Fatal(err)
	}
	pretty, _ := json.MarshalIndent(map[string]any{"aaa": map[string]any{"Records": []int{1}}, "Records": doc.Records[:10], "zzz": "}]"}, "", "  ")
	tail, _ := json.Marshal(map[string]any{"Records": doc.Records[10:]})
	mixed, st := parseAll(t, New(), "m", append(append(pretty, '\n'), tail...))
	if st.MalformedCount != 0 {
		t.Errorf("pretty: malformed %+v", st.Malformed)
	}
	if diff := cmp.Diff(delivered, mixed, ignorePlace); diff != "" {
		t.Errorf("pretty-printed file differs:\n%s", diff)
	}
	if mixed[1].Line <= mixed[0].Line {
		t.Errorf("pretty-printed lines do not advance: %d, %d", mixed[0].Line, mixed[1].Line)
	}
}

func TestOffsetsPointAtRecords(t *testing.T) {
	for _, file := range []string{"testdata/delivered.json", "testdata/records.jsonl"} {
		data := read(t, file)
		evs, _ := parseAll(t, New(), file, data)
		for i, e := range evs {
			if data[e.Offset] != '{' {
				t.Fatalf("%s event %d: offset %d holds %q", file, i, e.Offset, data[e.Offset])
			}
			d := json.NewDecoder(bytes.NewReader(data[e.Offset:]))
			var rec struct{ EventID string }
			if err := d.Decode(&rec); err != nil {
				t.Fatalf("%s event %d: %v", file, i, err)
			}
			if rec.EventID != e.Detail["event_id"] {
				t.Errorf("%s event %d: offset %d holds event %s, want %s", file, i, e.Offset, rec.EventID, e.Detail["event_id"])
			}
			if strings.HasSuffix(file, ".jsonl") && e.Line != i+1 {
				t.Errorf("%s event %d: line %d", file, i, e.Line)
			}
		}
	}
}

func TestMapping(t *testing.T) {
	evs, _ := parseAll(t, New(), "d", read(t, "testdata/delivered.json"))
	by := map[string]logs.Event{}
	for _, e := range evs {
		by[e.Action+"/"+e.Detail["event_id"][9:13]] = e
	}
	check := func(key string, want logs.Event) {
		t.Helper()
		got, ok := by[key]
		if !ok {
			t.Fatalf("no event %s", key)
		}
		opts := []cmp.Option{ignorePlace, cmpopts.IgnoreFields(logs.Event{}, "Time", "UserAgent", "Detail")}
		if diff := cmp.Diff(want, got, opts...); diff != "" {
			t.Errorf("%s:\n%s", key, diff)
		}
		for k, v := range want.Detail {
			if got.Detail[k] != v {
				t.Errorf("%s: Detail[%s] = %q, want %q", key, k, got.Detail[k], v)
			}
		}
	}
	alice := "arn:aws:iam::123456789012:user/alice"
	check("iam:CreateAccessKey/0006", logs.Event{Credential: "AKIAIOSFODNN7EXAMPLE", Identity: alice, Source: "203.0.113.10", Action: "iam:CreateAccessKey", Outcome: logs.Success,
		Detail: map[string]string{"derived_key_id": "AKIAEXAMPLENEWKEY777", "derived_user": "bob", "read_only": "false", "identity_type": "IAMUser"}})
	check("iam:CreateUser/0007", logs.Event{Credential: "AKIAIOSFODNN7EXAMPLE", Identity: alice, Source: "203.0.113.10", Action: "iam:CreateUser", Outcome: logs.Failure,
		Detail: map[string]string{"error_code": "AccessDenied"}})
	check("ec2:RunInstances/0009", logs.Event{Credential: "AKIAIOSFODNN7EXAMPLE", Identity: alice, Source: "203.0.113.10", Action: "ec2:RunInstances", Outcome: logs.Failure,
		Detail: map[string]string{"error_code": "Client.UnauthorizedOperation", "region": "eu-west-1"}})
	check("sts:AssumeRole/0010", logs.Event{Credential: "AKIAIOSFODNN7EXAMPLE", Identity: alice, Source: "203.0.113.10", Action: "sts:AssumeRole", Outcome: logs.Success,
		Detail: map[string]string{"derived_key_id": "ASIAY34FZKBOKMUTVV7A", "derived_role_arn": "arn:aws:sts::123456789012:assumed-role/deploy/deploy-session"}})
	check("s3:PutObject/0011", logs.Event{Credential: "ASIAY34FZKBOKMUTVV7A", Identity: "arn:aws:sts::123456789012:assumed-role/deploy/deploy-session", Source: "198.51.100.7", Action: "s3:PutObject", Outcome: logs.Success,
		Detail: map[string]string{"session_issuer_arn": "arn:aws:iam::123456789012:role/deploy", "identity_type": "AssumedRole", "principal_id": "AROAEXAMPLEROLEID0001:deploy-session"}})
	check("sts:GetSessionToken/0013", logs.Event{Credential: "AKIAEXAMPLEBOBKEY001", Identity: "arn:aws:iam::123456789012:user/bob", Source: "192.0.2.44", Action: "sts:GetSessionToken", Outcome: logs.Success,
		Detail: map[string]string{"derived_key_id": "ASIAEXAMPLESESSION09"}})
	check("iam:CreateLoginProfile/0014", logs.Event{Credential: "AKIAIOSFODNN7EXAMPLE", Identity: alice, Source: "203.0.113.10", Action: "iam:CreateLoginProfile", Outcome: logs.Success,
		Detail: map[string]string{"derived_user": "bob"}})
	check("signin:ConsoleLogin/0015", logs.Event{Credential: "arn:aws:iam::123456789012:user/bob", Identity: "arn:aws:iam::123456789012:user/bob", Source: "192.0.2.44", Action: "signin:ConsoleLogin", Outcome: logs.Success,
		Detail: map[string]string{"console_login": "Success", "event_type": "AwsConsoleSignIn"}})
	check("signin:ConsoleLogin/0016", logs.Event{Credential: "AIDAEXAMPLEBOB000001", Source: "192.0.2.99", Action: "signin:ConsoleLogin", Outcome: logs.Failure,
		Detail: map[string]string{"console_login": "Failure", "error_message": "Failed authentication"}})
	check("kms:Decrypt/0017", logs.Event{Credential: "ec2.amazonaws.com", Source: "ec2.amazonaws.com", Action: "kms:Decrypt", Outcome: logs.Success,
		Detail: map[string]string{"identity_type": "AWSService", "invoked_by": "ec2.amazonaws.com"}})
	check("sts:GetFederationToken/0020", logs.Event{Credential: "AKIAEXAMPLEBOBKEY001", Identity: "arn:aws:iam::123456789012:user/bob", Source: "192.0.2.44", Action: "sts:GetFederationToken", Outcome: logs.Success,
		Detail: map[string]string{"derived_key_id": "ASIAEXAMPLEFEDERAT01", "derived_user": "arn:aws:sts::123456789012:federated-user/contractor"}})
	if t0 := evs[0].Time; !t0.Equal(time.Date(2026, 3, 14, 9, 0, 1, 0, time.UTC)) {
		t.Errorf("first event at %v", t0)
	}
}

func TestNoSecrets(t *testing.T) {
	evs, _ := parseAll(t, New(), "d", read(t, "testdata/delivered.json"))
	b, _ := json.Marshal(evs)
	for _, secret := range []string{"wJalrXUtnFEMI", "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN", "HIDDEN_DUE_TO_SECURITY_REASONS"} {
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("events hold %q", secret)
		}
	}
}

func TestDigest(t *testing.T) {
	data := read(t, "testdata/digest.json")
	for _, file := range []string{"testdata/digest.json", "AWSLogs/123456789012/CloudTrail-Digest/us-east-1/2026/03/14/x.json.gz"} {
		evs, st := parseAll(t, New(), file, data)
		if len(evs) != 0 || st.MalformedCount != 0 {
			t.Errorf("%s: %d events, %+v", file, len(evs), st)
		}
	}
	if !New().Sniff(data) {
		t.Error("Sniff rejects a digest")
	}
}

func TestMalformedRecordsCounted(t *testing.T) {
	lines := strings.Split(strings.TrimSpace(string(read(t, "testdata/records.jsonl"))), "\n")
	in := strings.Join([]string{
		lines[0],
		"garbage here",
		lines[1][:len(lines[1])/2], // cut: swallows nothing after it
		lines[2],
		`{"eventVersion":"1.09","eventTime":"yesterday","eventName":"GetObject"}`,
		`{"eventVersion":"1.09","eventTime":"2026-03-14T09:00:01Z","eventName":"GetObject","readOnly":"maybe","userIdentity":7}`,
		lines[3],
	}, "\n") + "\n"
	evs, st := parseAll(t, New(), "m", []byte(in))
	if len(evs) != 4 {
		t.Errorf("%d events, want 4", len(evs))
	}
	if st.MalformedCount != 3 {
		t.Errorf("%d malformed, want 3: %+v", st.MalformedCount, st.Malformed)
	}
	wantLines := []int{2, 3, 5}
	for i, m := range st.Malformed {
		if i < len(wantLines) && m.Line != wantLines[i] {
			t.Errorf("malformed %d at line %d, want %d (%s)", i, m.Line, wantLines[i], m.Reason)
		}
	}
	// Inside a delivered file: a bad record costs only itself.
	d := `{"Records":[` + lines[0] + `,{"eventName":1},` + lines[1] + `,"str",` + lines[2] + `]}`
	evs, st = parseAll(t, New(), "d", []byte(d))
	if len(evs) != 3 || st.MalformedCount != 2 || st.Records != 5 {
		t.Errorf("delivered with bad records: %d events, %+v", len(evs), st)
	}
}

func TestEmitAndContextErrors(t *testing.T) {
	data := read(t, "testdata/delivered.json")
	stop := errors.New("stop")
	n := 0
	st, err := New().Parse(context.Background(), "d", bytes.NewReader(data), func(logs.Event) error {
		if n++; n == 3 {
			return stop
		}
		return nil
	})
	if err != stop || n != 3 || st.Events != 3 {
		t.Errorf("err %v after %d emits, %+v", err, n, st)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = New().Parse(ctx, "big", newGenReader(1, 5000), func(logs.Event) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("canceled parse returned %v", err)
	}
}

func TestSniff(t *testing.T) {
	p := New()
	for _, f := range []string{"testdata/delivered.json", "testdata/records.jsonl"} {
		if !p.Sniff(read(t, f)[:512]) {
			t.Errorf("Sniff rejects %s", f)
		}
	}
	for _, s := range []string{"", "hello", `{"level":"info","msg":"x"}`, "2026-03-14 09:00:01 UTC [42] LOG: connection", `[{"eventVersion"`} {
		if p.Sniff([]byte(s)) && s != `[{"eventVersion"` {
			t.Errorf("Sniff accepts %q", s)
		}
	}
}

// mentions is the post-filter the prefilter must agree with: a record
// whose raw bytes hold one of keys.
func mentions(raw []byte, keys []string) bool {
	for _, k := range keys {
		if bytes.Contains(raw, []byte(k)) {
			return true
		}
	}
	return false
}

func TestPrefilter(t *testing.T) {
	gen := genBytes(3, 20_000)
	for _, tc := range []struct {
		name string
		data []byte
		keys []string
	}{
		{"one key", read(t, "testdata/delivered.json"), []string{"AKIAIOSFODNN7EXAMPLE"}},
		{"new key", read(t, "testdata/delivered.json"), []string{"AKIAEXAMPLENEWKEY777"}},
		{"session key", read(t, "testdata/records.jsonl"), []string{"ASIAY34FZKBOKMUTVV7A"}},
		{"arn and principal", read(t, "testdata/records.jsonl"), []string{"arn:aws:iam::123456789012:user/bob", "AIDAEXAMPLEBOB000001"}},
		{"generated", gen, []string{genTargetKey}},
		{"generated many keys", gen, []string{genTargetKey, "AKIAGEN0000000000001", "AKIAGEN0000000000002", "AROAGEN0000000000005", "x1", "x2", "x3", "x4", "arn:aws:iam::123456789012:user/user007"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			all, stAll := parseAll(t, New(), "f", tc.data)
			var want []logs.Event
			for _, e := range all {
				raw := tc.data[e.Offset:]
				if e.Offset+1 < int64(len(tc.data)) {
					var rec json.RawMessage
					if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&rec); err != nil {
						t.Fatal(err)
					}
					raw = rec
				}
				if mentions(raw, tc.keys) {
					want = append(want, e)
				}
			}
			got, st := parseAll(t, NewFiltered(tc.keys...), "f", tc.data)
			if len(want) == 0 {
				t.Fatal("test keys match nothing")
			}
			if st.Records != stAll.Records {
				t.Errorf("Records %d with the prefilter, %d without", st.Records, stAll.Records)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("prefiltered events differ from filtering afterwards (-after +prefilter):\n%s", diff)
			}
			// Every event whose fields name a key is kept.
			for _, e := range all {
				b, _ := json.Marshal(e)
				if mentions(b, tc.keys) && !containsEvent(got, e) {
					t.Errorf("event at %d names a key but was dropped", e.Offset)
				}
			}
			t.Logf("%d of %d records kept", len(got), stAll.Records)
		})
	}
}

func containsEvent(evs []logs.Event, e logs.Event) bool {
	for _, x := range evs {
		if x.Offset == e.Offset {
			return true
		}
	}
	return false
}

func TestPrefilterEscapedSlash(t *testing.T) {
	in := `{"eventVersion":"1.09","eventTime":"2026-03-14T09:00:01Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","userIdentity":{"arn":"arn:aws:iam::1:user\/eve"}}` + "\n"
	evs, _ := parseAll(t, NewFiltered("arn:aws:iam::1:user/eve"), "e", []byte(in))
	if len(evs) != 1 || evs[0].Identity != "arn:aws:iam::1:user/eve" {
		t.Errorf("escaped ARN: %+v", evs)
	}
}

func TestTruncatedCuts(t *testing.T) {
	for _, file := range []string{"testdata/delivered.json", "testdata/records.jsonl"} {
		data := read(t, file)
		rnd := rand.New(rand.NewPCG(1, 2))
		for range 300 {
			cut := rnd.IntN(len(data) - 1)
			evs, st := parseAll(t, New(), file, data[:cut])
			atLineEnd := cut == 0 || data[cut-1] == '\n'
			if !atLineEnd && st.MalformedCount == 0 {
				t.Errorf("%s cut at %d: no malformed record counted (%d events)", file, cut, len(evs))
			}
			if st.Events != len(evs) {
				t.Errorf("%s cut at %d: stats %+v for %d events", file, cut, st, len(evs))
			}
		}
	}
}

// TestMemoryFlat parses ~300 MB generated on the fly and checks the heap
// stays small: the parser holds one record, not the input.
func TestMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("300 MB parse skipped under -short")
	}
	const records = 250_000 // ~1.3 KB each
	cr := &countReader{r: newGenReader(9, records)}
	var (
		st  logs.Stats
		err error
	)
	peak := testutil.PeakHeap(func() {
		st, err = New().Parse(context.Background(), "big", cr, func(logs.Event) error { return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Events != records || st.MalformedCount != 0 {
		t.Errorf("%+v", st)
	}
	t.Logf("%d MiB, %d events, peak heap in use %.1f MiB", cr.n>>20, st.Events, float64(peak)/(1<<20))
	if cr.n < 280<<20 {
		t.Errorf("only %d MiB generated", cr.n>>20)
	}
	if peak >= 64<<20 {
		t.Errorf("peak heap in use %.1f MiB, want < 64 MiB", float64(peak)/(1<<20))
	}
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func TestOversizeRecordSkipped(t *testing.T) {
	lines := strings.Split(strings.TrimSpace(string(read(t, "testdata/records.jsonl"))), "\n")
	big := `{"eventVersion":"1.09","eventTime":"2026-03-14T09:00:01Z","eventName":"GetObject","requestParameters":{"pad":[` +
		strings.Repeat(`"0123456789abcdef",`, MaxRecord/19+1) + `"x"]}}`
	for name, in := range map[string]string{
		"lines":     lines[0] + "\n" + big + "\n" + lines[1] + "\n",
		"delivered": `{"Records":[` + lines[0] + "," + big + "," + lines[1] + "]}",
	} {
		evs, st := parseAll(t, New(), name, []byte(in))
		if len(evs) != 2 || st.MalformedCount != 1 || st.Records != 3 {
			t.Errorf("%s: %d events, %+v", name, len(evs), st)
			continue
		}
		if m := st.Malformed[0]; m.Offset != int64(len(lines[0])+1) && m.Offset != int64(len(`{"Records":[`)+len(lines[0])+1) {
			t.Errorf("%s: oversize record placed at %+v", name, m)
		}
	}
}

func TestFieldOfWrongTypeSkipped(t *testing.T) {
	in := `{"userIdentity":7,"readOnly":"maybe","responseElements":"x","eventTime":"2026-03-14T09:00:01Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","sourceIPAddress":"192.0.2.1"}`
	evs, st := parseAll(t, New(), "w", []byte(in))
	if len(evs) != 1 || st.MalformedCount != 0 {
		t.Fatalf("%d events, %+v", len(evs), st)
	}
	if e := evs[0]; e.Action != "s3:GetObject" || e.Source != "192.0.2.1" {
		t.Errorf("fields after the wrong-typed one lost: %+v", e)
	}
}

// TestLinearOnHostileInput feeds inputs that would make a naive scanner
// quadratic (an unclosed record swallowing everything, byte by byte).
func TestLinearOnHostileInput(t *testing.T) {
	for name, in := range map[string][]byte{
		"unclosed object":  append([]byte(`{"eventName":"`), bytes.Repeat([]byte(`a\\"b`), 1<<19)...),
		"unclosed arrays":  bytes.Repeat([]byte("{\"a\":[\n"), 300_000),
		"escapes":          append([]byte(`{"a":"`), bytes.Repeat([]byte(`\\\\`), 1<<20)...),
		"unclosed records": append([]byte(`{"Records":[`), bytes.Repeat([]byte(`{"x":[`), 300_000)...),
	} {
		start := time.Now()
		var st logs.Stats
		for _, r := range []io.Reader{bytes.NewReader(in), iotest.OneByteReader(bytes.NewReader(in))} {
			var err error
			st, err = New().Parse(context.Background(), name, r, func(logs.Event) error { return nil })
			if err != nil {
				t.Fatal(err)
			}
		}
		if st.MalformedCount == 0 {
			t.Errorf("%s: not counted malformed", name)
		}
		t.Logf("%s: %d bytes in %v, %d malformed", name, len(in), time.Since(start), st.MalformedCount)
	}
}

func TestByteOrderMark(t *testing.T) {
	data := append([]byte("\xef\xbb\xbf"), read(t, "testdata/records.jsonl")...)
	want := logstest.Parse(New(), "b", bytes.NewReader(data))
	if want.Stats.Events != 20 || want.Stats.MalformedCount != 0 {
		t.Fatalf("%+v", want.Stats)
	}
	if diff := cmp.Diff(want, logstest.Parse(New(), "b", iotest.OneByteReader(bytes.NewReader(data)))); diff != "" {
		t.Errorf("OneByteReader:\n%s", diff)
	}
}

func TestDeliveredAt(t *testing.T) {
	for _, tc := range []struct {
		path string
		want string // "" for not a CloudTrail name
	}{
		{"AWSLogs/123456789012/CloudTrail/eu-west-1/2026/11/20/123456789012_CloudTrail_eu-west-1_20261120T0905Z_Ab3dE5fG7hJ9kL1m.json.gz", "2026-11-20T09:05:00Z"},
		{"/x/123456789012_CloudTrail_us-east-1_20261120T2355Z_q1w2e3r4t5y6u7i8.json", "2026-11-20T23:55:00Z"},
		{"/x/123456789012_CloudTrail-Digest_us-east-1_20261120T2355Z.json.gz", ""},
		{"/x/trail.json.gz", ""},
	} {
		at, ok := DeliveredAt(tc.path)
		if tc.want == "" {
			if ok {
				t.Errorf("%s: %v, want no time", tc.path, at)
			}
			continue
		}
		if !ok || at.Format(time.RFC3339) != tc.want {
			t.Errorf("%s: %v %v, want %s", tc.path, at, ok, tc.want)
		}
	}
}

// TestCreateUserDerivesTheUser: a user the key made is a derived
// credential (its name from the response, else the request); a refused
// CreateUser made nothing.
func TestCreateUserDerivesTheUser(t *testing.T) {
	rec := func(id, errorCode, response string) string {
		return `{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/alice","accessKeyId":"AKIAIOSFODNN7EXAMPLE","userName":"alice"},` +
			`"eventTime":"2026-03-14T09:04:02Z","eventSource":"iam.amazonaws.com","eventName":"CreateUser","sourceIPAddress":"203.0.113.10",` +
			`"errorCode":"` + errorCode + `","requestParameters":{"userName":"ops-backup"},"responseElements":` + response + `,"eventID":"` + id + `"}`
	}
	data := `{"Records":[` + rec("ok", "", `{"user":{"path":"/","userName":"ops-backup","userId":"AIDAEXAMPLEOPSBACKUP","arn":"arn:aws:iam::123456789012:user/ops-backup"}}`) + "," +
		rec("refused", "AccessDenied", "null") + `]}`
	evs, _ := parseAll(t, New(), "d", []byte(data))
	if len(evs) != 2 {
		t.Fatalf("%d events", len(evs))
	}
	for _, e := range evs {
		want := map[string]string{"ok": "ops-backup", "refused": ""}[e.Detail["event_id"]]
		if got := e.Detail["derived_user"]; got != want {
			t.Errorf("event %s: derived_user %q, want %q", e.Detail["event_id"], got, want)
		}
	}
}
