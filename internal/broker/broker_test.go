package broker

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rekeyhq/rekey/internal/broker/brokertest"
	"github.com/rekeyhq/rekey/internal/broker/identity"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/secret"
)

// incidents is an IdentityState with a fixed set of identities under
// incident, each with risk 80.
type incidents map[string]bool

func (s incidents) State(_ context.Context, id string) (bool, int, error) {
	if s[id] {
		return true, 80, nil
	}
	return false, 0, nil
}

const inventoryYAML = `version: 1
systems:
  - { name: shop-db, type: postgres, admin: env:SHOP_DB_ADMIN_DSN }
identities:
  - { name: orders_svc, system: shop-db }
  - { name: billing_svc, system: shop-db }
  - { name: support_bot, system: shop-db, kind: agent }
broker:
  issuers:
    - { name: k8s, issuer: "%s", audience: rekey }
  %s
  roles:
    - { name: orders-rw, system: shop-db, like: orders_svc, ttl: 15m, max_ttl: 1h, subjects: ["system:serviceaccount:orders:*"] }
    - { name: billing-rw, system: shop-db, like: billing_svc, ttl: 15m, subjects: ["system:serviceaccount:billing:*"] }
    - { name: support, system: shop-db, like: support_bot, ttl: 30m, max_ttl: 1h, claims: { kubernetes.io/namespace: support } }
`

// setup writes an inventory trusting a local issuer and builds a broker.
func setup(t testing.TB, policyLine string, state IdentityState) (*Broker, *brokertest.Issuer, brokertest.Key) {
	t.Helper()
	k := brokertest.ECKey(t, "k1")
	is := brokertest.NewIssuer(t, k)
	p := filepath.Join(t.TempDir(), "inventory.yml")
	if err := os.WriteFile(p, []byte(fmt.Sprintf(inventoryYAML, is.URL, policyLine)), 0o600); err != nil {
		t.Fatal(err)
	}
	inv, rep, err := inventory.Load(p, inventory.Options{SkipLocal: true})
	if err != nil || !rep.OK() {
		t.Fatalf("inventory: %v %v", err, rep.Errors)
	}
	b, err := New(context.Background(), Config{Inventory: inv, State: state})
	if err != nil {
		t.Fatal(err)
	}
	return b, is, k
}

func TestDecide(t *testing.T) {
	b, is, k := setup(t, "", incidents{"shop-db/billing_svc": true})
	tok := func(sub string, extra map[string]any) secret.Secret {
		return secret.FromString(brokertest.Mint(t, k, brokertest.Claims(is.URL, sub, "rekey"), extra))
	}
	orders := tok("system:serviceaccount:orders:api", nil)
	support := tok("system:serviceaccount:support:bot", map[string]any{"kubernetes.io": map[string]any{"namespace": "support"}})
	type want struct {
		Allowed bool
		Reasons []string
		TTL     time.Duration
		Claims  bool
	}
	cases := []struct {
		name string
		req  Request
		want want
	}{
		{"role ttl by default", Request{Token: orders, Role: "orders-rw"}, want{true, []string{}, 15 * time.Minute, false}},
		{"asked less", Request{Token: orders, Role: "orders-rw", TTL: 90 * time.Second}, want{true, []string{}, 90 * time.Second, false}},
		{"asked more than max_ttl", Request{Token: orders, Role: "orders-rw", TTL: 3 * time.Hour}, want{true, []string{}, time.Hour, false}},
		// The support role's identity is an agent's: a refused request for it
		// is kept with the claims too.
		{"another team's role", Request{Token: orders, Role: "support"}, want{false, []string{"claims-not-permitted"}, 0, true}},
		{"unknown role", Request{Token: orders, Role: "admin"}, want{false, []string{"unknown-role"}, 0, false}},
		{"identity under incident", Request{Token: tok("system:serviceaccount:billing:api", nil), Role: "billing-rw"}, want{false, []string{"under-incident"}, 0, false}},
		{"agent: shortest cap, claims kept", Request{Token: support, Role: "support"}, want{true, []string{}, 5 * time.Minute, true}},
		{"agent asks less than the cap", Request{Token: support, Role: "support", TTL: time.Minute, Source: "10.1.2.3"}, want{true, []string{}, time.Minute, true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := b.Decide(context.Background(), c.req)
			if err != nil {
				t.Fatal(err)
			}
			got := want{d.Allowed, d.Reasons, d.TTL, d.Claims != nil}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Fatalf("(-want +got)\n%s", diff)
			}
			if d.Workload.IssuerName != "k8s" || d.Workload.Issuer != is.URL || !strings.HasPrefix(d.Policy, "default.rego@") {
				t.Fatalf("decision: %+v", d)
			}
			js, _ := json.Marshal(d)
			if strings.Contains(string(js), string(c.req.Token.Reveal())) {
				t.Fatal("the decision holds the token")
			}
		})
	}
	d, _ := b.Decide(context.Background(), Request{Token: support, Role: "support"})
	js, _ := json.Marshal(d)
	var rec map[string]any
	if err := json.Unmarshal(js, &rec); err != nil || rec["ttl"] != 300.0 || rec["requested_ttl"] != 1800.0 || rec["policy_max_ttl"] != 300.0 ||
		rec["claims"] == nil || rec["workload"].(map[string]any)["subject"] != "system:serviceaccount:support:bot" {
		t.Fatalf("decision record: %s", js)
	}
	if d.Kind != "agent" || d.Claims["kubernetes.io"] == nil || d.Workload.Holder() != is.URL+":system:serviceaccount:support:bot" {
		t.Fatalf("agent decision: %+v", d)
	}
	d, _ = b.Decide(context.Background(), Request{Token: tok("system:serviceaccount:billing:api", nil), Role: "billing-rw"})
	if !d.UnderIncident || d.Risk != 80 || d.Identity != "shop-db/billing_svc" {
		t.Fatalf("incident state not in the decision: %+v", d)
	}

	wrongAud := secret.FromString(brokertest.Mint(t, k, brokertest.Claims(is.URL, "system:serviceaccount:orders:api", "vault"), nil))
	if _, err := b.Decide(context.Background(), Request{Token: wrongAud, Role: "orders-rw"}); identity.ReasonOf(err) != identity.WrongAudience {
		t.Fatalf("wrong audience: %v", err)
	}
	if _, err := b.Decide(context.Background(), Request{Token: orders, Role: "orders-rw", TTL: -time.Second}); err == nil {
		t.Fatal("a negative ttl was decided")
	}
}

// stateFunc is an IdentityState the test changes between requests.
type stateFunc func(id string) bool

func (f stateFunc) State(_ context.Context, id string) (bool, int, error) { return f(id), 0, nil }

// Nothing is cached between requests: an incident opened between two
// requests with the same token refuses the second.
func TestDecisionsAreNotCached(t *testing.T) {
	open := false
	b, is, k := setup(t, "", stateFunc(func(string) bool { return open }))
	tok := secret.FromString(brokertest.Mint(t, k, brokertest.Claims(is.URL, "system:serviceaccount:orders:api", "rekey"), nil))
	for _, want := range []bool{true, false, true} {
		open = !want
		d, err := b.Decide(context.Background(), Request{Token: tok, Role: "orders-rw"})
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed != want {
			t.Fatalf("incident open %v: allowed %v (%v)", open, d.Allowed, d.Reasons)
		}
	}
}

// A custom policy file is used, and its refusals carry a reason even when
// it gives none.
func TestDecideWithPolicyFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "broker.rego")
	if err := os.WriteFile(p, []byte("package rekey.broker\n\nallow if input.source == \"10.0.0.1\"\n\nmax_ttl := 0 if input.request.ttl > 600\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, is, k := setup(t, "policy: file:"+p, nil)
	tok := secret.FromString(brokertest.Mint(t, k, brokertest.Claims(is.URL, "system:serviceaccount:orders:api", "rekey"), nil))
	for _, c := range []struct {
		source  string
		ttl     time.Duration
		reasons []string
	}{
		{"10.0.0.2", 0, []string{ReasonNotAllowed}},
		{"10.0.0.1", 20 * time.Minute, []string{ReasonNoTTL}},
		{"10.0.0.1", 5 * time.Minute, []string{}},
	} {
		d, err := b.Decide(context.Background(), Request{Token: tok, Role: "orders-rw", TTL: c.ttl, Source: c.source})
		if err != nil {
			t.Fatal(err)
		}
		if !cmp.Equal(d.Reasons, c.reasons) || d.Allowed != (len(c.reasons) == 0) || !strings.HasPrefix(d.Policy, p+"@") {
			t.Errorf("%s %s: %+v", c.source, c.ttl, d)
		}
	}
	if b.PolicyError() != nil {
		t.Fatal(b.PolicyError())
	}
}

// BenchmarkDecide is the whole decision for one request: an ES256 token
// verified against a cached key set, the incident state, the default
// policy.
func BenchmarkDecide(b *testing.B) {
	br, is, k := setup(b, "", incidents{})
	tok := secret.FromString(brokertest.Mint(b, k, brokertest.Claims(is.URL, "system:serviceaccount:orders:api", "rekey"), nil))
	ctx := context.Background()
	if _, err := br.Decide(ctx, Request{Token: tok, Role: "orders-rw"}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		d, err := br.Decide(ctx, Request{Token: tok, Role: "orders-rw"})
		if err != nil || !d.Allowed {
			b.Fatal(d, err)
		}
	}
}
