package policy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var roles = map[string]Role{
	"orders-rw": {System: "shop-db", Like: "orders_svc", Identity: "shop-db/orders_svc", TTL: 15 * time.Minute, MaxTTL: time.Hour,
		Subjects: []string{"repo:shop/orders:*", "system:serviceaccount:orders:*"}},
	"k8s-ns": {System: "shop-db", Like: "orders_svc", TTL: 10 * time.Minute,
		Issuers: []string{"https://k8s.example.com"}, Claims: map[string]string{"kubernetes.io/namespace": "orders", "email_verified": "true"}},
	"open": {System: "shop-db", Like: "orders_svc", TTL: time.Minute},
}

func input(role, sub string) Input {
	return Input{
		Workload: Workload{Issuer: "https://k8s.example.com", Subject: sub, Claims: map[string]any{
			"kubernetes.io": map[string]any{"namespace": "orders"}, "email_verified": true,
		}},
		Request: Request{Role: role}, Time: time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC), Source: "10.0.4.7",
	}
}

func TestDefaultPolicy(t *testing.T) {
	e, err := Default(Data(roles))
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		Allow  bool
		Deny   []string
		MaxTTL time.Duration
	}
	cases := []struct {
		name string
		in   func() Input
		want want
	}{
		{"subject glob", func() Input { return input("orders-rw", "system:serviceaccount:orders:api") }, want{true, nil, time.Hour}},
		{"subject not permitted", func() Input { return input("orders-rw", "system:serviceaccount:billing:api") }, want{true, []string{"subject-not-permitted"}, time.Hour}},
		{"unknown role", func() Input { return input("admin", "system:serviceaccount:orders:api") }, want{false, []string{"unknown-role"}, 0}},
		{"under incident", func() Input {
			in := input("orders-rw", "repo:shop/orders:ref:refs/heads/main")
			in.Identity.UnderIncident = true
			return in
		}, want{true, []string{"under-incident"}, time.Hour}},
		{"agent gets the shortest cap", func() Input {
			in := input("orders-rw", "repo:shop/orders:ref:refs/heads/main")
			in.Identity.Kind = "agent"
			return in
		}, want{true, nil, 5 * time.Minute}},
		{"claims by path, non-string as JSON", func() Input { return input("k8s-ns", "anyone") }, want{true, nil, 10 * time.Minute}},
		{"claim differs", func() Input {
			in := input("k8s-ns", "anyone")
			in.Workload.Claims["kubernetes.io"] = map[string]any{"namespace": "billing"}
			return in
		}, want{true, []string{"claims-not-permitted"}, 10 * time.Minute}},
		{"claim missing", func() Input {
			in := input("k8s-ns", "anyone")
			delete(in.Workload.Claims, "email_verified")
			return in
		}, want{true, []string{"claims-not-permitted"}, 10 * time.Minute}},
		{"issuer not permitted", func() Input {
			in := input("k8s-ns", "anyone")
			in.Workload.Issuer = "https://token.actions.githubusercontent.com"
			return in
		}, want{true, []string{"issuer-not-permitted"}, 10 * time.Minute}},
		{"role that names no workload", func() Input { return input("open", "anyone") }, want{true, []string{"role-permits-no-workload"}, time.Minute}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := e.Eval(context.Background(), c.in())
			if err != nil {
				t.Fatal(err)
			}
			got := want{res.Allow, res.Deny, res.MaxTTL}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Fatalf("(-want +got)\n%s", diff)
			}
			if !strings.HasPrefix(res.Policy, DefaultName+"@") {
				t.Fatalf("policy name %q", res.Policy)
			}
		})
	}
}

const allowAll = `package rekey.broker

allow := true

max_ttl := 60
`

const denyAll = `package rekey.broker

allow := true

deny contains "maintenance"
`

func write(t *testing.T, p, src string, at time.Time) {
	t.Helper()
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	// Distinct mtimes, whatever the file system's clock resolution.
	if err := os.Chtimes(p, at, at); err != nil {
		t.Fatal(err)
	}
}

// A policy file that changes is used at the next request; a version that
// does not compile keeps the previous one and reports where it is wrong.
func TestPolicyFileReload(t *testing.T) {
	p := filepath.Join(t.TempDir(), "broker.rego")
	at := time.Now().Add(-time.Hour)
	write(t, p, allowAll, at)
	e, err := Load(context.Background(), p, Data(roles))
	if err != nil {
		t.Fatal(err)
	}
	var reported []error
	e.OnReloadError = func(err error) { reported = append(reported, err) }
	eval := func() Result {
		t.Helper()
		res, err := e.Eval(context.Background(), input("orders-rw", "x"))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := eval(); !res.Allow || len(res.Deny) != 0 || res.MaxTTL != time.Minute {
		t.Fatalf("first version: %+v", res)
	}

	write(t, p, denyAll, at.Add(time.Second))
	if res := eval(); !cmp.Equal(res.Deny, []string{"maintenance"}) || res.HasMaxTTL {
		t.Fatalf("changed file not picked up: %+v", res)
	}

	write(t, p, "package rekey.broker\n\nallow if {\n\tinput.x ==\n}\n", at.Add(2*time.Second))
	if res := eval(); !cmp.Equal(res.Deny, []string{"maintenance"}) {
		t.Fatalf("a broken version replaced the good one: %+v", res)
	}
	if e.Err() == nil || !strings.Contains(e.Err().Error(), p+":5") {
		t.Fatalf("want the compile error with file:line, got %v", e.Err())
	}
	if len(reported) != 1 {
		t.Fatalf("reload error reported %d times, want once", len(reported))
	}
	eval() // the same broken file is not compiled (and reported) again
	if len(reported) != 1 {
		t.Fatalf("the same broken version reported again: %v", reported)
	}

	write(t, p, allowAll, at.Add(3*time.Second))
	if res := eval(); len(res.Deny) != 0 || res.MaxTTL != time.Minute {
		t.Fatalf("fixed file not picked up: %+v", res)
	}
	if e.Err() != nil {
		t.Fatalf("error kept after a good version: %v", e.Err())
	}
}

func TestCompileErrors(t *testing.T) {
	cases := map[string]string{
		"other package":   "package other\n\nallow := true\n",
		"syntax":          "package rekey.broker\n\nallow if {\n",
		"v0 syntax":       "package rekey.broker\n\ndeny[\"x\"] { true }\n",
		"unknown builtin": "package rekey.broker\n\nallow if nosuch(1)\n",
		"network call":    "package rekey.broker\n\nallow if http.send({\"method\": \"get\", \"url\": \"http://127.0.0.1:1\"}).status_code == 200\n",
	}
	for name, src := range cases {
		err := Compile(context.Background(), "p.rego", []byte(src), nil)
		if err == nil || !strings.Contains(err.Error(), "p.rego:") {
			t.Errorf("%s: want an error naming p.rego:LINE, got %v", name, err)
		}
	}
	if _, err := Load(context.Background(), filepath.Join(t.TempDir(), "none.rego"), nil); err == nil {
		t.Error("a missing policy file loaded")
	}
}

func TestWrongOutputTypes(t *testing.T) {
	for _, src := range []string{
		"package rekey.broker\n\nallow := \"yes\"\n",
		"package rekey.broker\n\ndeny contains 1\n",
		"package rekey.broker\n\nmax_ttl := -5\n",
		"package rekey.broker\n\nmax_ttl := \"1h\"\n",
	} {
		p := filepath.Join(t.TempDir(), "p.rego")
		write(t, p, src, time.Now())
		e, err := Load(context.Background(), p, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res, err := e.Eval(context.Background(), input("orders-rw", "x")); err == nil {
			t.Errorf("%q: evaluated to %+v, want an error", src, res)
		}
	}
}

// BenchmarkDecision measures one evaluation of the default policy, the
// per-request cost of policy (file check included for a file policy).
func BenchmarkDecision(b *testing.B) {
	data := Data(roles)
	def, err := Default(data)
	if err != nil {
		b.Fatal(err)
	}
	p := filepath.Join(b.TempDir(), "broker.rego")
	if err := os.WriteFile(p, []byte(DefaultSource()), 0o600); err != nil {
		b.Fatal(err)
	}
	file, err := Load(context.Background(), p, data)
	if err != nil {
		b.Fatal(err)
	}
	in := input("orders-rw", "system:serviceaccount:orders:api")
	for _, e := range []struct {
		name string
		e    *Engine
	}{{"default", def}, {"file", file}} {
		b.Run(e.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				res, err := e.e.Eval(context.Background(), in)
				if err != nil || !res.Allow {
					b.Fatal(res, err)
				}
			}
		})
	}
}

// Requests evaluated while the file changes all get an answer, from the
// old version or the new, and the new one is in force afterwards.
func TestReloadUnderConcurrentRequests(t *testing.T) {
	p := filepath.Join(t.TempDir(), "broker.rego")
	at := time.Now().Add(-time.Hour)
	write(t, p, allowAll, at)
	e, err := Load(context.Background(), p, Data(roles))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	for range 4 {
		go func() {
			for range 50 {
				if _, err := e.Eval(context.Background(), input("orders-rw", "x")); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	write(t, p, denyAll, at.Add(time.Second))
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	res, err := e.Eval(context.Background(), input("orders-rw", "x"))
	if err != nil || !cmp.Equal(res.Deny, []string{"maintenance"}) {
		t.Fatalf("new version not in force: %+v %v", res, err)
	}
}
