package inventory

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBrokerSection(t *testing.T) {
	o := opts(t, nil)
	o.SkipLocal = true
	inv, rep, err := Load("testdata/broker/good.yml", o)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("errors:\n%s", strings.Join(errorStrings(rep), "\n"))
	}
	b := inv.Broker
	if b == nil || len(b.Issuers) != 4 || len(b.Roles) != 2 {
		t.Fatalf("broker: %+v", b)
	}
	dir, _ := filepath.Abs("testdata/broker")
	if ci := b.Issuers[0]; ci.JWKS.Path() != filepath.Join(dir, "gha.jwks") || ci.JWKSURL != "" || ci.Audience != "rekey" {
		t.Errorf("ci: %+v", ci)
	}
	if k := b.Issuers[1]; k.Discovery != "https://10.0.0.1/.well-known/openid-configuration" || !k.JWKS.IsZero() {
		t.Errorf("k8s: %+v", k)
	}
	if c := b.Issuers[2]; c.JWKSURL != "https://sts.example.com/keys" || !c.JWKS.IsZero() {
		t.Errorf("cloud: %+v", c)
	}
	if m := b.Issuers[3]; m.TrustDomain != "prod.example.org" || m.Bundle.Path() != filepath.Join(dir, "bundle.jwks") || m.Issuer != "" {
		t.Errorf("mesh: %+v", m)
	}
	if b.Policy.Path() != filepath.Join(dir, "broker.rego") {
		t.Errorf("policy: %+v", b.Policy)
	}
	r := b.RoleByName("orders-rw")
	if r == nil || r.TTL != 15*time.Minute || r.MaxTTL != time.Hour || !slices.Equal(r.Issuers, []string{"ci", "mesh"}) || len(r.Subjects) != 2 {
		t.Fatalf("orders-rw: %+v", r)
	}
	if id := r.Identity(inv); id == nil || id.Key() != "shop-db/orders_svc" {
		t.Errorf("orders-rw identity: %+v", id)
	}
	s := b.RoleByName("support")
	if diff := cmp.Diff(map[string]string{"kubernetes.io/namespace": "support", "email_verified": "true"}, s.Claims); diff != "" || s.MaxTTL != 0 || !s.Identity(inv).IsAgent() {
		t.Errorf("support (-want +got):\n%s %+v", diff, s)
	}
	if b.RoleByName("nope") != nil || (*Broker)(nil).RoleByName("x") != nil {
		t.Error("RoleByName found a role that does not exist")
	}
}

func TestBrokerSectionErrors(t *testing.T) {
	o := opts(t, nil)
	o.SkipLocal = true
	path := "testdata/broker/bad.bad.yml"
	_, rep, err := Load(path, o)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`8:27: issuer "ci": issuer: "http://token.example.com": keys are fetched over https only`,
		`9:7: issuer "ci" defined twice (first at 8:7)`,
		`10:59: issuer "k8s": jwks: want file:PATH or the key set's URL`,
		`10:70: issuer "k8s": bundle is for SPIFFE trust domains`,
		`11:7: issuer "mesh": missing bundle`,
		`11:42: issuer "mesh": spiffe_trust_domain "spiffe://Prod": want a trust domain name`,
		`11:76: issuer "mesh": jwks is for OIDC issuers`,
		`12:75: issuer "both": issuer (OIDC) and spiffe_trust_domain (SPIFFE) exclude each other`,
		`13:7: issuer "noaud": missing audience`,
		`14:7: issuer "again": https://b.example.com is already configured (at 10:7)`,
		`15:7: issuer "neither": want issuer (an OIDC issuer URL) or spiffe_trust_domain`,
		`15:41: issuer "neither": unknown key "colour"`,
		`16:11: broker: policy: want file:PATH`,
		`18:27: role "r1": system "nope" is not defined`,
		`19:42: role "r2": like: identity "nobody" is not defined in system "shop-db"`,
		`19:55: role "r2": ttl: "2d" is longer than 24h0m0s`,
		`20:72: role "r3": max_ttl is shorter than ttl`,
		`20:91: role "r3": issuers: "gha" is not a broker issuer`,
		`21:7: role "r4": want subjects or claims`,
		`22:7: role "r4" defined twice (first at 21:7)`,
		`22:7: role "r4": missing ttl`,
		`22:64: role "r4": claims: claim "a": want a value`,
		`22:75: role "r4": claims: b: "[x" is not a valid glob`,
		`22:97: role "r4": subjects: "y[" is not a valid glob`,
	}
	got := errorStrings(rep)
	for _, w := range want {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.Contains(g, path+":"+w) }) {
			t.Errorf("no error %q in:\n%s", w, strings.Join(got, "\n"))
		}
	}
	if len(got) != len(want) {
		t.Errorf("want %d errors, got %d:\n%s", len(want), len(got), strings.Join(got, "\n"))
	}
}

func TestBrokerFilesMissingHereAreWarnings(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile("testdata/broker/good.yml")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "inv.yml")
	if err := os.WriteFile(p, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bundle.jwks"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, rep, err := Load(p, opts(t, map[string]string{"SHOP_DB_ADMIN_DSN": "postgres://localhost/shop"}))
	if err != nil {
		t.Fatal(err)
	}
	var warns []string
	for _, w := range rep.Warnings {
		warns = append(warns, w.String())
	}
	if !rep.OK() || len(warns) != 2 || !strings.Contains(warns[0], `issuer "ci": jwks file:gha.jwks does not exist here`) || !strings.Contains(warns[1], "policy file:broker.rego does not exist here") {
		t.Fatalf("errors %v, warnings:\n%s", errorStrings(rep), strings.Join(warns, "\n"))
	}
}
