package inventory

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// keyOpts are the options rekey's CLI passes once x509 and ssh providers
// are registered.
func keyOpts(t *testing.T, getenv map[string]string) Options {
	o := opts(t, getenv)
	o.KnownSystemTypes = append(o.KnownSystemTypes, TypeX509, TypeSSH)
	return o
}

func TestKeySystemsBadFile(t *testing.T) {
	want := []string{
		`5:5: system "web-tls": a system of type x509 has no admin: it lists where keys are carried or trusted`,
		`6:13: system "web-tls": certs: "certs/[abc" is not a valid glob`,
		`7:17: system "web-tls": endpoints: "127.0.0.1": want host:port`,
		`7:30: system "web-tls": endpoints: "host:99999": want host:port`,
		`9:32: system "web-tls": keystores[0]: type "pfx" is unknown (known: pkcs12, jks)`,
		`9:47: system "web-tls": keystores[0]: password must be a reference (env:VAR or file:PATH), not an inline value`,
		`10:9: system "web-tls": keystores[1]: missing path`,
		`10:32: system "web-tls": keystores[1]: password: env: wants a variable name`,
		`11:9: system "web-tls": ca: missing index`,
		`11:9: system "web-tls": ca: missing cert: the CA's own certificate (certificate = in its openssl config), by which a leaked CA key is recognised`,
		`11:32: system "web-tls": ca: unknown key "crl_file" (known: index, certs_dir, cert, config, key, key_passphrase, crl, ocsp, ocsp_reload)`,
		`15:5: system "shop-db": authorized_keys applies to type ssh only`,
		`16:5: system "shop-db": certs applies to type x509 only`,
		`17:5: system "empty-ssh": type ssh lists sshd's trust files: at least one of authorized_keys, authorized_principals, trusted_user_ca_keys`,
		`19:5: system "empty-x509": type x509 lists where certificates are: at least one of certs, kubernetes_tls_secrets, keystores, endpoints, ca`,
	}
	wantErrors(t, "testdata/pki/places.bad.yml", keyOpts(t, map[string]string{"SHOP_DB_ADMIN_DSN": "postgres://x@h/db"}), want, "hunter2")
}

// wantErrors loads file and checks that its errors are exactly want
// (file:line:column prefixes of them), none quoting a secret.
func wantErrors(t *testing.T, file string, o Options, want []string, secrets ...string) {
	t.Helper()
	_, rep, err := Load(file, o)
	if err != nil {
		t.Fatal(err)
	}
	got := errorStrings(rep)
	if len(got) != len(want) {
		t.Errorf("got %d errors, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for _, w := range want {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.Contains(g, filepath.Base(file)+":"+w) }) {
			t.Errorf("missing error %q in:\n%s", w, strings.Join(got, "\n"))
		}
	}
	for _, g := range got {
		for _, sec := range secrets {
			if strings.Contains(g, sec) {
				t.Errorf("an error quotes an inline secret: %s", g)
			}
		}
	}
}

// The CA operations' block: a CA key and its passphrase are references
// (never quoted when inline), the key a file, both with config; ocsp a URL.
func TestKeySystemsCABadFile(t *testing.T) {
	want := []string{
		`5:60: system "ca-inline": ca: key must be a reference (env:VAR or file:PATH), not an inline value`,
		`5:118: system "ca-inline": ca: key_passphrase must be a reference (env:VAR or file:PATH), not an inline value`,
		`8:60: system "ca-env-key": ca: key must be a file: reference to the CA's private key`,
		`8:78: system "ca-env-key": ca: ocsp "127.0.0.1:2560": want the responder's http:// or https:// URL`,
		`11:39: system "ca-no-config": ca: key needs config, the CA's openssl.cnf`,
		`11:57: system "ca-no-config": ca: key_passphrase needs config, the CA's openssl.cnf`,
		`11:92: system "ca-no-config": ca: ocsp "ftp://ocsp.example.org": want the responder's http:// or https:// URL`,
		`14:39: system "ca-reload-alone": ca: ocsp_reload needs ocsp, the responder it reloads`,
	}
	wantErrors(t, "testdata/pki/ca.bad.yml", keyOpts(t, nil), want, "hunter2", "MIIE")
}

// The CA block read into the model, with references resolved from the
// inventory's directory.
func TestKeySystemsCAOperations(t *testing.T) {
	dir := t.TempDir()
	inv := `version: 1
systems:
  - name: web
    type: x509
    ca: {index: ca/index.txt, cert: ca/ca.crt, config: ca/openssl.cnf, key: file:ca/ca.key, key_passphrase: env:CA_PASS, crl: ca/ca.crl, ocsp: "http://127.0.0.1:2560"}
`
	path := filepath.Join(dir, "inv.yml")
	if err := os.WriteFile(path, []byte(inv), 0o644); err != nil {
		t.Fatal(err)
	}
	got, rep, err := Load(path, keyOpts(t, map[string]string{"CA_PASS": "x"}))
	if err != nil || !rep.OK() {
		t.Fatalf("err %v, errors %v", err, rep.Errors)
	}
	ca := got.SystemByName("web").X509.CA
	if ca.Config != "ca/openssl.cnf" || ca.CRL != "ca/ca.crl" || ca.OCSP != "http://127.0.0.1:2560" ||
		ca.Key.Path() != filepath.Join(dir, "ca/ca.key") || ca.KeyPassphrase.String() != "env:CA_PASS" {
		t.Errorf("ca = %+v", ca)
	}
	var warns []string
	for _, w := range rep.Warnings {
		warns = append(warns, strings.TrimPrefix(w.String(), path+":"))
	}
	for _, w := range []string{`system "web": ca config "ca/openssl.cnf" does not exist here`, `system "web": ca key file:ca/ca.key:`} {
		if !slices.ContainsFunc(warns, func(g string) bool { return strings.Contains(g, w) }) {
			t.Errorf("missing warning %q in %q", w, warns)
		}
	}
}

func TestKeySystemsGood(t *testing.T) {
	inv, rep, err := Load("testdata/pki/good.yml", keyOpts(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("errors: %v", rep.Errors)
	}
	dir, _ := filepath.Abs("testdata/pki")
	web := inv.SystemByName("web-tls")
	want := &X509Places{
		Certs:                []string{"certs/*.pem", "certs/**/*.der"},
		KubernetesTLSSecrets: []string{"k8s/tls-secret.yaml"},
		Keystores: []Keystore{
			{Path: "stores/web.p12", Type: "pkcs12", Password: Ref{Scheme: RefEnv, Name: "WEB_P12_PASSWORD"}},
			{Path: "stores/app.jks", Type: "jks", Password: Ref{Scheme: RefFile, Name: "secrets/jks.pass"}},
		},
		Endpoints: []string{"127.0.0.1:8443", "shop.example.org:443"},
		CA:        &CAIndex{Index: "ca/index.txt", CertsDir: "ca/newcerts", Cert: "ca/ca.crt"},
		Dir:       dir,
	}
	if diff := cmp.Diff(want, web.X509, cmp.FilterPath(func(p cmp.Path) bool {
		return p.Last().String() == ".Pos" || p.Last().String() == ".Dir" && len(p) > 3
	}, cmp.Ignore())); diff != "" {
		t.Errorf("x509 places (-want +got):\n%s", diff)
	}
	if !web.Admin.IsZero() || web.SSH != nil {
		t.Errorf("web-tls: admin %v, ssh %v: want neither", web.Admin, web.SSH)
	}
	if got := web.X509.Abs("ca/index.txt"); got != filepath.Join(dir, "ca/index.txt") {
		t.Errorf("Abs = %s", got)
	}
	ssh := inv.SystemByName("bastion").SSH
	if ssh == nil || !cmp.Equal(ssh.AuthorizedKeys, []string{"/home/*/.ssh/authorized_keys", "/root/.ssh/authorized_keys"}) ||
		!cmp.Equal(ssh.TrustedUserCAKeys, []string{"/etc/ssh/user_ca.pub"}) || !cmp.Equal(ssh.AuthorizedPrincipals, []string{"/etc/ssh/auth_principals/*"}) {
		t.Errorf("ssh places: %+v", ssh)
	}
}

// What this machine cannot confirm is a warning, as for other systems.
func TestKeySystemsWarnings(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "here.pem"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	inv := `version: 1
systems:
  - name: web
    type: x509
    certs: ["here.pem", "gone/*.pem"]
    keystores: [{path: web.p12, type: pkcs12, password: env:P12_PASS}]
    ca: {index: ca/index.txt, cert: ca/ca.crt}
  - name: hosts
    type: ssh
    authorized_keys: ["home/*/.ssh/authorized_keys"]
`
	path := filepath.Join(dir, "inv.yml")
	if err := os.WriteFile(path, []byte(inv), 0o644); err != nil {
		t.Fatal(err)
	}
	_, rep, err := Load(path, keyOpts(t, nil))
	if err != nil || !rep.OK() {
		t.Fatalf("err %v, errors %v", err, rep.Errors)
	}
	var got []string
	for _, w := range rep.Warnings {
		got = append(got, strings.TrimPrefix(w.String(), path+":"))
	}
	want := []string{
		`3:5: system "web": "gone/*.pem" matches no file here`,
		`6:17: system "web": keystore "web.p12" does not exist here`,
		`6:57: system "web": keystore password env:P12_PASS: variable is unset or empty here`,
		`7:9: system "web": ca index "ca/index.txt" does not exist here`,
		`7:9: system "web": ca cert "ca/ca.crt" does not exist here`,
		`8:5: system "hosts": "home/*/.ssh/authorized_keys" matches no file here`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

// The example in docs/providers/keys.md is a valid inventory.
func TestKeysDocExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/providers/keys.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(doc), "\n```yml\n")
	block, _, ok2 := strings.Cut(after, "\n```\n")
	if !ok || !ok2 {
		t.Fatal("docs/providers/keys.md has no ```yml example")
	}
	_, rep, err := Parse("keys.md", []byte("version: 1\n"+block+"\n"), keyOpts(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Errorf("the example has errors:\n%s", strings.Join(errorStrings(rep), "\n"))
	}
}

// tls-files and key-file deliveries: the key in a file of its own, an
// endpoint as host:port, each type's own keys only.
func TestKeyDeliveriesBadFile(t *testing.T) {
	want := []string{
		`11:53: consumer "same-file": deliver: key and cert are one file`,
		`11:72: consumer "same-file": deliver: endpoint "127.0.0.1": want host:port`,
		`14:14: consumer "no-cert": deliver: missing cert`,
		`14:47: consumer "no-cert": deliver: unknown key "format"`,
		`17:14: consumer "key-file": deliver: missing path`,
		`17:32: consumer "key-file": deliver: unknown key "cert"`,
	}
	wantErrors(t, "testdata/pki/deliver.bad.yml", keyOpts(t, nil), want)
}

func TestKeyDeliveries(t *testing.T) {
	src := "version: 1\nsystems:\n  - { name: web-tls, type: x509, certs: [\"c/*.pem\"] }\n  - { name: bastion, type: ssh, authorized_keys: [ak] }\n" +
		"identities:\n  - { name: k, system: web-tls }\n  - { name: s, system: bastion }\nconsumers:\n" +
		"  - { name: web, identity: k, deliver: { type: tls-files, cert: tls.crt, key: tls.key, chain: chain.pem, full_chain: true, endpoint: \"web:443\" } }\n" +
		"  - { name: ci, identity: s, deliver: { type: key-file, path: id_deploy } }\n"
	o := keyOpts(t, nil)
	o.SkipLocal = true
	inv, rep, err := Parse("inv.yml", []byte(src), o)
	if err != nil || !rep.OK() {
		t.Fatalf("%v %v", err, errorStrings(rep))
	}
	web, ci := inv.ConsumerByName("web").Deliver, inv.ConsumerByName("ci").Deliver
	if web.Type != DeliverTLSFiles || web.Cert != "tls.crt" || web.Path != "tls.key" || web.Chain != "chain.pem" || !web.FullChain || web.Endpoint != "web:443" {
		t.Errorf("tls-files: %+v", web)
	}
	if ci.Type != DeliverKeyFile || ci.Path != "id_deploy" {
		t.Errorf("key-file: %+v", ci)
	}
}
