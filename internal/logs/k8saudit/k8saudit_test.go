package k8saudit

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/logs"
	"github.com/rekeyhq/rekey/internal/logs/logstest"
)

var cases = []logstest.Case{{Input: "testdata/audit.log"}, {Input: "testdata/array.json"}}

func TestConformance(t *testing.T) { logstest.Run(t, New(), cases) }

func FuzzParse(f *testing.F) { logstest.Fuzz(f, New(), cases) }

func BenchmarkParse(b *testing.B) { logstest.Benchmark(b, New(), "testdata/audit.log") }

func parse(t *testing.T, p *Parser, path string) ([]logs.Event, logs.Stats) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var evs []logs.Event
	st, err := p.Parse(context.Background(), path, bytes.NewReader(data), func(e logs.Event) error {
		evs = append(evs, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return evs, st
}

const (
	jti     = "JTI=7d3f0b0e-9c1a-4b8e-a2f4-6f3a1c9e2b71"
	saUser  = "system:serviceaccount:shop:orders-api"
	podName = "orders-api-7c9d8f6b5d-x2k4p"
)

func TestOneEventPerRequest(t *testing.T) {
	evs, st := parse(t, New(), "testdata/audit.log")
	if st.Records != 15 || st.MalformedCount != 0 {
		t.Fatalf("stats %+v", st)
	}
	seen := map[string]int{}
	for _, e := range evs {
		seen[e.Detail["audit_id"]]++
		if s := e.Detail["stage"]; s != "ResponseComplete" && s != "Panic" {
			t.Errorf("event from stage %s", s)
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("request %s counted %d times", id, n)
		}
	}
	// 15 records: one RequestReceived and one ResponseStarted (a watch)
	// precede their ResponseComplete; the 401 has no user.
	if len(evs) != 12 {
		t.Errorf("%d events, want 12", len(evs))
	}
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

func TestBoundToken(t *testing.T) {
	evs, _ := parse(t, New(), "testdata/audit.log")
	get := byAction(evs, "get secrets")
	if len(get) != 1 {
		t.Fatalf("%d get secrets", len(get))
	}
	e := get[0]
	if e.Credential != jti || e.Identity != saUser || e.Source != "10.0.3.57" || e.Outcome != logs.Success ||
		e.Detail["bound_pod"] != podName || e.Detail["bound_node"] != "ip-10-0-3-41.eu-west-1.compute.internal" ||
		e.Detail["namespace"] != "shop" || e.Detail["name"] != "orders-db" || e.Detail["status_code"] != "200" ||
		e.Detail["authz_decision"] != "allow" || e.Line != 2 ||
		!e.Time.Equal(time.Date(2026, 3, 2, 10, 1, 12, 345678000, time.UTC)) {
		t.Errorf("%+v", e)
	}
	list := byAction(evs, "list secrets")
	if len(list) != 1 || list[0].Credential != jti || list[0].Source != "203.0.113.77" || list[0].Detail["bound_pod"] != podName {
		t.Errorf("the pod's token used from outside: %+v", list)
	}
}

func TestFailures(t *testing.T) {
	evs, _ := parse(t, New(), "testdata/audit.log")
	crb := byAction(evs, "create clusterrolebindings")
	if len(crb) != 1 || crb[0].Outcome != logs.Failure || crb[0].Detail["status_code"] != "403" ||
		crb[0].Detail["status_reason"] != "Forbidden" || crb[0].Detail["derived"] != "" {
		t.Errorf("forbidden binding: %+v", crb)
	}
	exec := byAction(evs, "create pods/exec")
	if len(exec) != 1 || exec[0].Outcome != logs.Failure || exec[0].Detail["stage"] != "Panic" {
		t.Errorf("panic: %+v", exec)
	}
}

func TestDerived(t *testing.T) {
	evs, _ := parse(t, New(), "testdata/audit.log")
	for _, c := range []struct {
		action string
		want   map[string]string
	}{
		{"create serviceaccounts/token", map[string]string{"derived_key_id": "JTI=e4b1c7d2-0f3a-4a9e-b6c5-8d2f1e0a9b37", "derived_user": saUser}},
		{"create secrets", map[string]string{"derived_user": saUser}},
		{"create certificatesigningrequests", map[string]string{"derived_key_id": "jane-laptop"}},
		{"update certificatesigningrequests/approval", map[string]string{"derived_key_id": "jane-laptop"}},
		{"create rolebindings", map[string]string{"derived_user": "system:serviceaccount:ci:deployer,mallory@example.com"}},
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
			if d[k] != v {
				t.Errorf("%s: %s = %q, want %q", c.action, k, d[k], v)
			}
		}
	}
	for _, e := range evs {
		if e.Detail["derived"] == "true" && !strings.HasPrefix(e.Action, "create ") && !strings.HasSuffix(e.Action, "/approval") {
			t.Errorf("%s derived", e.Action)
		}
	}
	if n := len(byAction(evs, "get secrets")) + len(byAction(evs, "patch nodes/status")); n != 2 {
		t.Errorf("%d", n)
	}
}

func TestCertificateAndImpersonation(t *testing.T) {
	evs, _ := parse(t, New(), "testdata/audit.log")
	csr := byAction(evs, "create certificatesigningrequests")[0]
	if !strings.HasPrefix(csr.Credential, "X509SHA256=") || csr.Identity != "jane@example.com" || csr.Detail["bound_pod"] != "" {
		t.Errorf("client certificate: %+v", csr)
	}
	rb := byAction(evs, "create rolebindings")[0]
	if rb.Credential != "kubernetes-admin" || rb.Detail["impersonated_user"] != "system:serviceaccount:ci:deployer" {
		t.Errorf("impersonation: %+v", rb)
	}
	v := byAction(evs, "get /version")
	if len(v) != 1 || v[0].Source != "203.0.113.77" || v[0].Detail["source_ips"] != "203.0.113.77,10.0.0.5" {
		t.Errorf("non-resource request: %+v", v)
	}
	kubelet := byAction(evs, "patch nodes/status")
	if len(kubelet) != 1 || kubelet[0].Credential != "system:node:ip-10-0-3-41.eu-west-1.compute.internal" {
		t.Errorf("user name as credential: %+v", kubelet)
	}
}

func TestFiltered(t *testing.T) {
	evs, st := parse(t, NewFiltered("X509SHA256=5a8f3e0c1b7d92e46fa03c5e8b1d7f29c4e6a0b3d5f7e9c1a2b4d6f8e0a1c3b5"), "testdata/audit.log")
	if len(evs) != 2 || st.Records != 15 {
		t.Errorf("%d events, %+v", len(evs), st)
	}
}

func TestMalformed(t *testing.T) {
	in := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","stage":"ResponseComplete","verb":"get","user":{"username":"a"},"requestReceivedTimestamp":"yesterday"}
{"kind":"Other","stage":"ResponseComplete"}
{"kind":"Event","apiVersion":"audit.k8s.io/v1","stage":"ResponseComplete","verb":"get","user":{"username":"a"},"sourceIPs":"10.0.0.1","requestReceivedTimestamp":"2026-03-02T10:00:00Z"}
`
	var evs []logs.Event
	st, err := New().Parse(context.Background(), "f", strings.NewReader(in), func(e logs.Event) error {
		evs = append(evs, e)
		return nil
	})
	if err != nil || st.MalformedCount != 2 || st.Malformed[0].Line != 1 || st.Malformed[1].Line != 2 {
		t.Fatalf("%v %+v", err, st)
	}
	if len(evs) != 1 || evs[0].Credential != "a" || evs[0].Source != "" {
		t.Errorf("a field of the wrong type is skipped, the rest kept: %+v", evs)
	}
}

// TestSniff checks Sniff against every parser's testdata.
func TestSniff(t *testing.T) {
	mine, files := logstest.SniffOwn(t, New(), "k8saudit")
	if mine != 2 || files < 12 {
		t.Errorf("%d of mine among %d files", mine, files)
	}
}
