package vault

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/logs"
	"github.com/rekeyhq/rekey/internal/logs/logstest"
)

var cases = []logstest.Case{{Input: "testdata/audit.log"}, {Input: "testdata/clear-accessor.log"}}

func TestConformance(t *testing.T) { logstest.Run(t, New(), cases) }

func FuzzParse(f *testing.F) { logstest.Fuzz(f, New(), cases) }

func BenchmarkParse(b *testing.B) { logstest.Benchmark(b, New(), "testdata/audit.log") }

// The accessors of testdata/audit.log, as the device HMACed them.
const (
	accA = "hmac-sha256:76d47900c6de11f13de1aeeb1221c38d0986bd2f3382a17f558211d9fa3d70e7" // the approle token
	accB = "hmac-sha256:"                                                                 // prefix of the token it created
)

func parseString(t *testing.T, p *Parser, in string) ([]logs.Event, logs.Stats) {
	t.Helper()
	var evs []logs.Event
	st, err := p.Parse(context.Background(), "f", strings.NewReader(in), func(e logs.Event) error {
		evs = append(evs, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return evs, st
}

func parseFile(t *testing.T, p *Parser, path string) ([]logs.Event, logs.Stats) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseString(t, p, string(b))
}

func byAction(evs []logs.Event, action string) []logs.Event {
	var out []logs.Event
	for _, e := range evs {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

func TestOneEventPerRequest(t *testing.T) {
	evs, st := parseFile(t, New(), "testdata/audit.log")
	if st.Records != 24 || st.MalformedCount != 0 {
		t.Fatalf("stats %+v", st)
	}
	ids := map[string]int{}
	for _, e := range evs {
		ids[e.Detail["request_id"]]++
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("request %s: %d events", id, n)
		}
	}
	// 12 requests, but sys/health names no credential; the device's test
	// entry is no request.
	if len(evs) != 11 {
		t.Errorf("%d events, want 11", len(evs))
	}
	denied := byAction(evs, "read secret/data/payments/stripe")
	if len(denied) != 1 || denied[0].Detail["entry_type"] != "request" || denied[0].Outcome != logs.Failure ||
		denied[0].Detail["error"] != "permission denied" || denied[0].Source != "185.220.101.34" {
		t.Errorf("permission denied with a response: %+v", denied)
	}
	only := byAction(evs, "list sys/policies/acl")
	if len(only) != 1 || only[0].Outcome != logs.Failure || only[0].Credential != accA {
		t.Errorf("permission denied without a response: %+v", only)
	}
}

func TestTokenUse(t *testing.T) {
	evs, _ := parseFile(t, New(), "testdata/audit.log")
	read := byAction(evs, "read secret/data/orders/db")
	if len(read) != 1 {
		t.Fatalf("%d reads", len(read))
	}
	e := read[0]
	if e.Credential != accA || e.Identity != "approle" || e.Source != "10.0.4.17" || e.Outcome != logs.Success ||
		e.Detail["entry_type"] != "response" || e.Detail["remote_port"] != "51240" || e.Detail["mount_type"] != "kv" ||
		e.Detail["namespace"] != "root" || e.Detail["policies"] != "default,orders" || e.Detail["role"] != "orders" ||
		e.Detail["entity_id"] != "5b9f3c1e-7a2d-4e8b-9c0f-1d2e3f4a5b6c" || e.Detail["token_type"] != "service" ||
		e.Detail["derived"] != "" || !e.Time.Equal(time.Date(2026, 3, 2, 9, 0, 1, 6931000, time.UTC)) {
		t.Errorf("%+v", e)
	}
}

func TestLogins(t *testing.T) {
	evs, _ := parseFile(t, New(), "testdata/audit.log")
	login := byAction(evs, "update auth/approle/login")
	if len(login) != 1 {
		t.Fatalf("%d logins", len(login))
	}
	l := login[0]
	if !strings.HasPrefix(l.Credential, HMACPrefix) || l.Credential == accA || l.Detail["derived"] != "true" ||
		l.Detail["derived_key_id"] != accA || l.Detail["derived_user"] != "approle" || l.Outcome != logs.Success {
		t.Errorf("approle login: credential is the role_id, the new token derived: %+v", l)
	}
	bad := byAction(evs, "update auth/userpass/login/alice")
	if len(bad) != 1 || bad[0].Credential != "auth/userpass/login/alice" || bad[0].Outcome != logs.Failure ||
		bad[0].Detail["error"] != "invalid username or password" || bad[0].Detail["derived"] != "" {
		t.Errorf("failed userpass login: %+v", bad)
	}
}

func TestDerived(t *testing.T) {
	evs, _ := parseFile(t, New(), "testdata/audit.log")
	for _, c := range []struct {
		action string
		want   map[string]string
	}{
		{"update auth/token/create", map[string]string{"derived_user": "token"}},
		{"update sys/policies/acl/ops-break-glass", nil},
		{"update auth/approle/role/orders/secret-id", map[string]string{"derived_key_id": HMACPrefix}},
		{"read database/creds/orders-readonly", map[string]string{"derived_key_id": "database/creds/orders-readonly/Qm3vX9tLpR2sYc8bN4jK7hWd", "derived_user": HMACPrefix}},
		{"update sys/wrapping/wrap", map[string]string{"derived_key_id": HMACPrefix}},
	} {
		got := byAction(evs, c.action)
		if len(got) != 1 {
			t.Errorf("%s: %d events", c.action, len(got))
			continue
		}
		d := got[0].Detail
		if d["derived"] != "true" {
			t.Errorf("%s not derived: %v", c.action, d)
		}
		for k, v := range c.want {
			if !strings.HasPrefix(d[k], v) || d[k] == "" {
				t.Errorf("%s: %s = %q, want %q…", c.action, k, d[k], v)
			}
		}
	}
	created := byAction(evs, "update auth/token/create")[0]
	if created.Credential != accA || created.Detail["derived_key_id"] == accA || !strings.HasPrefix(created.Detail["derived_key_id"], accB) {
		t.Errorf("token create: the new accessor is derived: %+v", created)
	}
	renew := byAction(evs, "update auth/token/renew-self")
	if len(renew) != 1 || renew[0].Detail["derived"] != "" {
		t.Errorf("a renewal derives nothing: %+v", renew)
	}
}

func TestClearAccessor(t *testing.T) {
	evs, _ := parseFile(t, New(), "testdata/clear-accessor.log")
	if len(evs) != 3 {
		t.Fatalf("%d events", len(evs))
	}
	for _, e := range evs {
		if e.Credential != "Xk4Tq9wLm2Rb7Vc1Np8Hs3Jd" || e.Identity != "kubernetes-payments-api" ||
			e.Detail["namespace"] != "team-payments/" || e.Detail["service_account"] != "payments/payments-api" || e.Detail["role"] != "payments" {
			t.Errorf("%+v", e)
		}
	}
	if evs[2].Source != "45.155.205.233" {
		t.Errorf("%+v", evs[2])
	}
}

func TestFiltered(t *testing.T) {
	// The responder's HMAC from sys/audit-hash is the reference.
	evs, st := parseFile(t, NewFiltered(accA), "testdata/audit.log")
	if st.Records != 24 || len(evs) != 10 {
		t.Errorf("%d events, %+v", len(evs), st)
	}
	for _, e := range evs {
		if e.Credential != accA && e.Detail["derived_key_id"] != accA {
			t.Errorf("unrelated event %+v", e)
		}
	}
}

func TestRefusedWindowIsBounded(t *testing.T) {
	var b strings.Builder
	for i := 0; i < idWindow+10; i++ {
		fmt.Fprintf(&b, `{"time":"2026-03-02T09:00:00Z","type":"request","auth":{"accessor":"a"},"request":{"id":"r%d","operation":"read","path":"secret/x"},"error":"permission denied"}`+"\n", i)
	}
	// The first refusal's id has left the window; the last one's has not.
	b.WriteString(`{"time":"2026-03-02T09:00:01Z","type":"response","auth":{"accessor":"a"},"request":{"id":"r0","operation":"read","path":"secret/x"},"error":"permission denied"}` + "\n")
	fmt.Fprintf(&b, `{"time":"2026-03-02T09:00:01Z","type":"response","auth":{"accessor":"a"},"request":{"id":"r%d","operation":"read","path":"secret/x"},"error":"permission denied"}`+"\n", idWindow+9)
	evs, _ := parseString(t, New(), b.String())
	if len(evs) != idWindow+11 {
		t.Errorf("%d events, want %d", len(evs), idWindow+11)
	}
}

func TestMalformed(t *testing.T) {
	in := `{"time":"2026-03-02T09:00:00Z","type":"audit","request":{"id":"x"}}
{"time":"noon","type":"response","auth":{"accessor":"a"},"request":{"id":"y","operation":"read","path":"p"}}
{"time":"2026-03-02T09:00:00Z","type":"response","auth":{"accessor":"a","policies":"root"},"request":{"id":"z","operation":"read","path":"p","remote_port":"8200"}}
`
	evs, st := parseString(t, New(), in)
	if st.MalformedCount != 2 || st.Malformed[0].Line != 1 || st.Malformed[1].Line != 2 {
		t.Fatalf("%+v", st)
	}
	if len(evs) != 1 || evs[0].Credential != "a" || evs[0].Detail["remote_port"] != "8200" {
		t.Errorf("a field of the wrong type is skipped, the rest kept: %+v", evs)
	}
}

func TestSniff(t *testing.T) {
	mine, files := logstest.SniffOwn(t, New(), "vault")
	if mine != 2 {
		t.Errorf("%d of mine among %d files", mine, files)
	}
	// The device's first line alone (written when it is enabled).
	if !New().Sniff([]byte(`{"time":"2026-03-02T08:59:58.102934Z","type":"request","auth":null,"request":{"operation":"update","path":"sys/audit/test"}}`)) {
		t.Error("Sniff rejects the audit device's test entry")
	}
}
