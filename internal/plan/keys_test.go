package plan

import (
	"slices"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/scope"
	"github.com/rekeyhq/rekey/internal/store"
)

const (
	spki  = "sha256:0d8b2a6f1f4d3b7e9c1a5e2d4f6b8a0c3e5d7f9b1a3c5e7d9f0b2d4f6a8c0e1f"
	sshFP = "SHA256:hkux2iIHSUS/teL/D3NSvE26xP3gxTGrv0yHeZWZ9a0"
)

const keyInventory = `version: 1
systems:
  - name: web-tls
    type: x509
    certs: ["certs/*.pem"]
    ca: { index: ca/index.txt, certs_dir: ca/newcerts, cert: ca/ca.crt, config: ca/openssl.cnf }
  - name: bastion
    type: ssh
    authorized_keys: ["/home/*/.ssh/authorized_keys"]
identities:
  - { name: "` + spki + `", system: web-tls }
  - { name: "` + sshFP + `", system: bastion }
consumers:
  - name: web
    identity: "web-tls/` + spki + `"
    deliver: { type: tls-files, cert: /etc/web/tls.crt, key: /etc/web/tls.key, endpoint: "127.0.0.1:8443" }
    reload: "systemctl reload nginx"
  - name: legacy
    identity: "web-tls/` + spki + `"
    deliver: { type: file, path: /srv/legacy/.env, format: dotenv, key: TLS_KEY }
  - name: deployer
    identity: "bastion/` + sshFP + `"
    deliver: { type: key-file, path: /home/ci/.ssh/id_deploy }
`

func keyInv(t *testing.T, text string) *inventory.Inventory {
	t.Helper()
	i, rep, err := inventory.Parse("inventory.yml", []byte(text),
		inventory.Options{SkipLocal: true, KnownSystemTypes: []string{inventory.TypeX509, inventory.TypeSSH, "postgres"}})
	if err != nil || !rep.OK() {
		t.Fatalf("inventory: %v %v", err, rep.Errors)
	}
	return i
}

// keyScope is a leaked key in a server certificate (as certs names its
// privileges) that sshd trusts too.
func keyScope(privs ...string) scope.Scope {
	s := scope.Scope{Incident: "INC-20261206-abcd",
		Identity: scope.Identity{Status: "identified", Name: spki, System: "web-tls", Declared: true},
		Reuse:    []store.IdentityRef{{System: "bastion", Name: sshFP}}, Flags: scope.Flags{Shared: true}}
	if len(privs) == 0 {
		privs = []string{"server certificate CN=shop.example.org serial 1000 for DNS:shop.example.org (issuer CN=Shop CA, valid until 2027-12-06)"}
	}
	for _, p := range privs {
		s.Identity.Privileges = append(s.Identity.Privileges, scope.Privilege{Name: p, Risk: "high"})
	}
	return s
}

func stepIDs(p *Plan) []string {
	var out []string
	for _, st := range p.Steps {
		out = append(out, st.ID)
	}
	return out
}

// A shared key (certificates and an SSH login) is not split: graceful
// issues, delivers and verifies first and revokes last, in each system.
// A consumer whose delivery cannot take a key is told, and a person
// confirms it.
func TestKeyPlanGraceful(t *testing.T) {
	p, err := Build(Input{Scope: keyScope(), Inventory: keyInv(t, keyInventory)})
	if err != nil {
		t.Fatal(err)
	}
	if p.Strategy != Graceful || !strings.Contains(p.Reason, "no split") {
		t.Errorf("strategy %s: %s", p.Strategy, p.Reason)
	}
	want := []string{
		"issue:web-tls/" + spki, "deliver:web", "verify:web", "notify:legacy", "verify:legacy", "revoke:web-tls/" + spki,
		"issue:bastion/" + sshFP, "deliver:deployer", "verify:deployer", "revoke:bastion/" + sshFP,
	}
	if got := stepIDs(p); !slices.Equal(got, want) {
		t.Fatalf("steps:\n%v\nwant:\n%v", got, want)
	}
	rev := p.Step("revoke:web-tls/" + spki)
	if !slices.Equal(rev.Needs, []string{"issue:web-tls/" + spki, "verify:web", "verify:legacy"}) || !strings.Contains(rev.Summary, "serial 1000 CN=shop.example.org") {
		t.Errorf("x509 revoke: %+v", rev)
	}
	if v := p.Step("verify:legacy"); v.Approval != ApprovalManual {
		t.Errorf("a consumer rekey cannot deliver a key to is verified by a person: %+v", v)
	}
	if v := p.Step("verify:web"); !strings.Contains(v.Summary, "127.0.0.1:8443 presents the new certificate") {
		t.Errorf("verify:web: %s", v.Summary)
	}
	for _, st := range p.Steps {
		if st.Kind == Issue || st.Kind == Deliver || st.Kind == Verify {
			if st.Login != KeyLogin {
				t.Errorf("%s: login %q, want the replacement's slot %q", st.ID, st.Login, KeyLogin)
			}
		}
	}
	if !slices.ContainsFunc(p.Notes, func(n string) bool {
		return strings.Contains(n, "legacy: its delivery (file) cannot take a private key")
	}) {
		t.Errorf("notes: %v", p.Notes)
	}
}

// Emergency cuts the key off first: the certificates are revoked before
// the new one is issued, and the SSH key is replaced in place (one write
// kills the old and trusts the new), then its leftover trust removed.
func TestKeyPlanEmergency(t *testing.T) {
	p, err := Build(Input{Scope: keyScope(), Inventory: keyInv(t, keyInventory), Strategy: Emergency})
	if err != nil {
		t.Fatal(err)
	}
	if first := p.Steps[0]; first.ID != "revoke:web-tls/"+spki || len(first.Needs) != 0 {
		t.Errorf("first step %+v, want the x509 revoke", first)
	}
	if is := p.Step("issue:web-tls/" + spki); !slices.Equal(is.Needs, []string{"revoke:web-tls/" + spki}) {
		t.Errorf("x509 issue needs %v, want the revoke", is.Needs)
	}
	in := p.Step("issue:bastion/" + sshFP + ":in-place")
	if in == nil || in.Login != sshFP || len(in.Needs) != 0 {
		t.Fatalf("ssh in-place issue: %+v", in)
	}
	if rev := p.Step("revoke:bastion/" + sshFP); rev == nil || !slices.Equal(rev.Needs, []string{in.ID}) {
		t.Errorf("ssh revoke: %+v", rev)
	}
	if d := p.Step("deliver:deployer"); d.Login != sshFP {
		t.Errorf("the deployer's delivery reads slot %q, want the in-place issue's %q", d.Login, sshFP)
	}
}

// A leaked CA key: emergency whatever was asked, a manual new CA, one
// manual re-issue per certificate it signed that is still valid, and the
// CA distrusted last; nothing the engine would do by itself.
func TestKeyPlanCAKey(t *testing.T) {
	s := keyScope("CA certificate CN=Shop CA serial 01 (issuer CN=Shop CA, valid until 2035-01-01)")
	s.Reuse = nil
	s.Related = []store.Related{
		{Kind: "issued-certificate", Name: "serial 1000 CN=shop.example.org", Detail: "signed by the leaked CA key, valid (ca/index.txt:1); everything it signed is suspect"},
		{Kind: "issued-certificate", Name: "serial 1001 CN=old.example.org", Detail: "signed by the leaked CA key, revoked (ca/index.txt:2); everything it signed is suspect"},
		{Kind: "issued-certificate", Name: "serial 7777 CN=minted", Detail: "signed by the leaked CA key, valid (file certs/x.pem); everything it signed is suspect"},
	}
	p, err := Build(Input{Scope: s, Inventory: keyInv(t, keyInventory), Strategy: Graceful})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"new-ca:web-tls/" + spki, "reissue:web-tls/1000", "reissue:web-tls/7777", "distrust:web-tls/" + spki}
	if p.Strategy != Emergency || !slices.Equal(stepIDs(p), want) {
		t.Fatalf("%s plan %v, want emergency %v", p.Strategy, stepIDs(p), want)
	}
	for _, st := range p.Steps {
		if st.Approval != ApprovalManual {
			t.Errorf("%s does not wait for a person", st.ID)
		}
	}
	if d := p.Step("distrust:web-tls/" + spki); len(d.Needs) != 3 || d.Kind != Revoke {
		t.Errorf("distrust: %+v", d)
	}
	if len(p.Notes) == 0 || !strings.Contains(p.Notes[0], "3 certificate(s) it signed, 2 still valid") {
		t.Errorf("notes: %v", p.Notes)
	}
}

// Without a CA to act on (no config), a person replaces the certificate;
// an SSH user CA key loses its trust lines and a person signs again.
func TestKeyPlanWithoutAutomation(t *testing.T) {
	text := strings.Replace(keyInventory, ", config: ca/openssl.cnf", "", 1)
	s := keyScope()
	s.Reuse = nil
	p, err := Build(Input{Scope: s, Inventory: keyInv(t, text)})
	if err != nil {
		t.Fatal(err)
	}
	if got := stepIDs(p); !slices.Equal(got, []string{"notify:web-tls/" + spki}) || p.Steps[0].Approval != ApprovalManual {
		t.Errorf("x509 without a CA config: %v", got)
	}

	ssh := scope.Scope{Incident: "INC-1", Identity: scope.Identity{Status: "identified", Name: sshFP, System: "bastion", Declared: true,
		Privileges: []scope.Privilege{{Name: "user CA trusted by sshd: signs certificates that log in as any account they name", Risk: "critical", CreatesCredentials: true}}}}
	p, err = Build(Input{Scope: ssh, Inventory: keyInv(t, keyInventory), Strategy: Graceful})
	if err != nil {
		t.Fatal(err)
	}
	if got := stepIDs(p); !slices.Equal(got, []string{"revoke:bastion/" + sshFP, "notify:bastion/" + sshFP}) {
		t.Errorf("ssh user CA: %v", got)
	}
}

// certPrivilege reads certs' privilege names, a subject holding the word
// "serial" included.
func TestCertPrivilegeNames(t *testing.T) {
	id := scope.Identity{Privileges: []scope.Privilege{
		{Name: "client certificate CN=serial 99 x serial 0A1B (issuer CN=CA, revoked until 2027-01-01)"},
		{Name: "login as root"},
	}}
	got := certsOf(id)
	if len(got) != 1 || got[0] != (certOf{role: "client", subject: "CN=serial 99 x", serial: "0A1B", status: "revoked"}) {
		t.Errorf("certsOf: %+v", got)
	}
}
