package certs

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/keys/keytest"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/providertest"
	"github.com/rekeyhq/rekey/internal/secret"
)

// site is a small estate built with the real tools: an `openssl ca` CA
// that issued a server certificate (for the key that leaks), another
// server's certificate (another key, same directory) and a client
// certificate it then revoked; the server certificate copied into a
// Kubernetes TLS Secret, a PKCS#12 (with its key) and a JKS truststore,
// and presented by a TLS server on 127.0.0.1; plus unreadable files.
type site struct {
	dir                        string
	ca                         *keytest.CA
	leakedKey, otherKey        string
	clientKey, strayKey        string
	shopCert, otherCert        string
	clientCert                 string
	endpoint, deadEndpoint     string
	inv                        *inventory.Inventory
	p12Password                string
	garbage, truncated, secret string
	dangling, rogueCert        string
}

var (
	siteOnce sync.Once
	theSite  *site
)

// getSite builds the estate once per test binary: openssl, keytool and
// a TLS listener take seconds, and no test changes them. The first test
// to ask builds it and fails if that fails; later ones then fail too.
func getSite(t *testing.T) *site {
	t.Helper()
	siteOnce.Do(func() {
		// The fixture outlives the first test's TempDir, so it gets its own.
		dir, err := os.MkdirTemp("", "rekey-certs-")
		keytest.Must(t, err)
		theSite = buildSite(t, dir)
	})
	if theSite == nil || theSite.inv == nil {
		t.Fatal("the test estate could not be built (see the first test's failure)")
	}
	return theSite
}

func TestMain(m *testing.M) {
	code := m.Run()
	if theSite != nil {
		os.RemoveAll(theSite.dir)
	}
	os.Exit(code)
}

func buildSite(t *testing.T, dir string) *site {
	s := &site{dir: dir, p12Password: "p12-pass-4c7e"}
	s.ca = keytest.NewCA(t, dir, "Rekey Test CA")
	certs := filepath.Join(dir, "certs")
	keytest.Must(t, os.MkdirAll(certs, 0o755))
	s.leakedKey = keytest.GenKey(t, dir, "shop.key", keytest.RSAPKCS1)
	s.otherKey = keytest.GenKey(t, dir, "other.key", keytest.ECSEC1)
	s.clientKey = keytest.GenKey(t, dir, "client.key", keytest.Ed25519PKCS8)
	s.strayKey = keytest.GenKey(t, dir, "stray.key", keytest.ECPKCS8)
	s.shopCert = s.ca.Issue(t, s.leakedKey, "shop.example.org", []string{"shop.example.org", "www.shop.example.org"}, "server", filepath.Join(certs, "shop.pem"))
	s.otherCert = s.ca.Issue(t, s.otherKey, "other.example.org", []string{"other.example.org"}, "server", filepath.Join(certs, "other.pem"))
	s.clientCert = s.ca.Issue(t, s.clientKey, "orders-client", nil, "client", filepath.Join(certs, "client.pem"))
	s.ca.Revoke(t, s.clientCert)
	rogueKey := keytest.GenKey(t, dir, "rogue.key", keytest.ECSEC1)
	s.rogueCert = s.ca.SignOutsideIndex(t, rogueKey, "rogue.example.org", filepath.Join(certs, "rogue.pem"))

	// Malformed files beside the good ones.
	s.garbage = filepath.Join(certs, "garbage.pem")
	keytest.WriteFile(t, s.garbage, []byte("-----BEGIN CERTIFICATE-----\nnot base64 at all!!\n-----END CERTIFICATE-----\n"), 0o644)
	shopPEM, err := os.ReadFile(s.shopCert)
	keytest.Must(t, err)
	b, _ := pem.Decode(shopPEM)
	s.truncated = filepath.Join(certs, "truncated.der")
	keytest.WriteFile(t, s.truncated, b.Bytes[:len(b.Bytes)/2], 0o644)
	// A link to nowhere stands for a file that cannot be read (root reads
	// a mode 000 file).
	s.dangling = filepath.Join(certs, "dangling.pem")
	keytest.Must(t, os.Symlink(filepath.Join(dir, "gone.pem"), s.dangling))
	// A key file caught by the glob is not a certificate file, and no problem.
	keyPEM, err := os.ReadFile(s.otherKey)
	keytest.Must(t, err)
	keytest.WriteFile(t, filepath.Join(certs, "other-key.pem"), keyPEM, 0o600)

	// The shop's certificate and chain in a Kubernetes TLS Secret.
	caPEM, err := os.ReadFile(s.ca.Cert)
	keytest.Must(t, err)
	leakedPEM, err := os.ReadFile(s.leakedKey)
	keytest.Must(t, err)
	s.secret = filepath.Join(dir, "k8s", "shop-tls.yaml")
	keytest.WriteFile(t, s.secret, []byte(`apiVersion: v1
kind: ConfigMap
metadata: {name: unrelated}
data: {a: b}
---
apiVersion: v1
kind: Secret
type: kubernetes.io/tls
metadata:
  name: shop-tls
  namespace: shop
data:
  tls.crt: `+base64.StdEncoding.EncodeToString(append(shopPEM, caPEM...))+`
  tls.key: `+base64.StdEncoding.EncodeToString(leakedPEM)+`
`), 0o644)

	// Another server's certificate in a List, as stringData, in no namespace.
	otherPEM, err := os.ReadFile(s.otherCert)
	keytest.Must(t, err)
	keytest.WriteFile(t, filepath.Join(dir, "k8s", "list.yaml"), []byte(`apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Secret
    metadata: {name: other-tls}
    stringData:
      tls.crt: |
`+indent(string(otherPEM), "        ")), 0o644)

	// A PKCS#12 with the key and chain, and a JKS truststore.
	stores := filepath.Join(dir, "stores")
	keytest.Must(t, os.MkdirAll(stores, 0o755))
	keytest.Run(t, dir, nil, "openssl", "pkcs12", "-export", "-inkey", s.leakedKey, "-in", s.shopCert, "-certfile", s.ca.Cert,
		"-name", "shop", "-passout", "pass:"+s.p12Password, "-out", filepath.Join(stores, "shop.p12"))
	keytest.WriteFile(t, filepath.Join(stores, "jks.pass"), []byte("jks-pass-91ab\n"), 0o600)
	keytest.Run(t, dir, nil, "keytool", "-importcert", "-noprompt", "-storetype", "JKS", "-keystore", filepath.Join(stores, "trust.jks"),
		"-storepass", "jks-pass-91ab", "-alias", "shop", "-file", s.shopCert)

	// A TLS server presenting the shop's certificate, and a port where
	// nothing listens.
	pair, err := tls.LoadX509KeyPair(s.shopCert, s.leakedKey)
	keytest.Must(t, err)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}})
	keytest.Must(t, err)
	go serve(ln)
	s.endpoint = ln.Addr().String()
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	keytest.Must(t, err)
	s.deadEndpoint = dead.Addr().String()
	dead.Close()

	inv := `version: 1
systems:
  - name: web
    type: x509
    certs: ["certs/*.pem", "certs/*.der"]
    kubernetes_tls_secrets: [k8s/*.yaml]
    keystores:
      - {path: stores/shop.p12, type: pkcs12, password: env:SHOP_P12}
      - {path: stores/trust.jks, type: jks, password: file:stores/jks.pass}
    endpoints: ["` + s.endpoint + `", "` + s.deadEndpoint + `"]
    ca: {index: ca/index.txt, certs_dir: ca/newcerts, cert: ca/ca.crt}
`
	path := filepath.Join(dir, "inventory.yml")
	keytest.WriteFile(t, path, []byte(inv), 0o644)
	got, rep, err := inventory.Load(path, inventory.Options{KnownSystemTypes: []string{Type}, SkipLocal: true})
	keytest.Must(t, err)
	if !rep.OK() {
		t.Fatalf("inventory: %v", rep.Errors)
	}
	s.inv = got
	return s
}

func indent(s, prefix string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if l != "" {
			b.WriteString(prefix + l)
		}
	}
	return b.String()
}

// serve completes handshakes until the listener closes (at process exit).
func serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}()
	}
}

func (s *site) open(t *testing.T, env map[string]string) *Certs {
	t.Helper()
	if env == nil {
		env = map[string]string{"SHOP_P12": s.p12Password}
	}
	p, err := open(provider.Config{System: "web", Spec: s.inv.SystemByName("web"), Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func locationsOf(c *Certificate) []string {
	var out []string
	for _, l := range c.Locations {
		out = append(out, l.String())
	}
	return out
}

// The leaked server key is matched to exactly its certificate, wherever
// that lies, and not to the other key's certificate in the same
// directory; its fingerprint is openssl's.
func TestLeafKeyFindsItsCertificateEverywhere(t *testing.T) {
	s := getSite(t)
	p := s.open(t, nil)
	want := "sha256:" + keytest.SPKISHA256(t, s.leakedKey, false)
	ms, err := p.Identify(context.Background(), keytest.Secret(t, s.leakedKey))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].Ref != (provider.IdentityRef{System: "web", Name: want}) || ms[0].Method != MethodSPKI {
		t.Fatalf("Identify = %+v, want one match for web/%s", ms, want)
	}
	r, err := p.Examine(context.Background(), want)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Certificates) != 1 {
		t.Fatalf("%d certificates carry the key, want 1 (the shop's): %+v", len(r.Certificates), r.Certificates)
	}
	c := r.Certificates[0]
	if c.Subject != "CN=shop.example.org" || c.Issuer != "CN=Rekey Test CA" || c.Serial != keytest.Serial(t, s.shopCert) {
		t.Errorf("subject %q issuer %q serial %q; want CN=shop.example.org, CN=Rekey Test CA, %s", c.Subject, c.Issuer, c.Serial, keytest.Serial(t, s.shopCert))
	}
	if !slices.Equal(c.SANs, []string{"DNS:shop.example.org", "DNS:www.shop.example.org"}) || !slices.Equal(c.ExtKeyUsage, []string{"serverAuth"}) ||
		!slices.Equal(c.KeyUsage, []string{"digitalSignature", "keyEncipherment"}) || c.IsCA || c.SelfSigned || c.Status != StatusValid {
		t.Errorf("certificate %+v", c)
	}
	if c.Risk != provider.RiskMedium {
		t.Errorf("risk %s (%s), want medium for a two-name server certificate", c.Risk, c.Why)
	}
	wantLocs := []string{
		"file " + s.shopCert,
		"kubernetes-secret " + s.secret + ": shop/shop-tls tls.crt[0] (with its private key in tls.key)",
		"keystore " + filepath.Join(s.dir, "stores/shop.p12") + " (with its private key)",
		"keystore " + filepath.Join(s.dir, "stores/trust.jks") + " alias shop[0]",
		"endpoint " + s.endpoint + " chain[0]",
		"ca-index " + s.ca.Index + ":1 serial " + c.Serial,
	}
	if got := locationsOf(c); !slices.Equal(got, wantLocs) {
		t.Errorf("locations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantLocs, "\n"))
	}
	if len(r.Issued) != 0 {
		t.Errorf("a leaf key lists issued certificates: %+v", r.Issued)
	}

	id, err := p.Inspect(context.Background(), ms[0].Ref)
	if err != nil {
		t.Fatal(err)
	}
	if !id.Exists || !id.CanLogin || id.ValidUntil == nil || !id.ValidUntil.Equal(c.NotAfter) || len(id.Privileges) != 1 {
		t.Errorf("identity %+v", id)
	}
	providertest.WantPrivilege(t, id, provider.Privilege{Name: c.privilegeName(), Risk: provider.RiskMedium, Via: strings.Join(wantLocs, ", ")})
}

// Malformed and unreachable places are one line each, naming the place,
// never quoting the data; the answer goes on without them.
func TestProblemsNameThePlace(t *testing.T) {
	s := getSite(t)
	r, err := s.open(t, map[string]string{"SHOP_P12": "wrong-password"}).Examine(context.Background(), "sha256:"+keytest.SPKISHA256(t, s.leakedKey, false))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		s.garbage:                               "a PEM block that does not decode",
		s.truncated:                             "DER data that does not parse as a certificate",
		s.dangling:                              "cannot read: no such file or directory",
		filepath.Join(s.dir, "stores/shop.p12"): "the PKCS#12 password is wrong",
		s.deadEndpoint:                          "cannot reach: connection refused",
	}
	got := map[string]string{}
	for _, p := range r.Problems {
		got[p.Where] = p.Reason
		if strings.Contains(p.String(), "\n") || strings.Contains(p.String(), "MII") {
			t.Errorf("problem is not one clean line: %q", p)
		}
	}
	for where, reason := range want {
		if !strings.Contains(got[where], reason) {
			t.Errorf("problem for %s = %q, want %q", where, got[where], reason)
		}
	}
	if len(got) != len(want) {
		t.Errorf("problems %v, want exactly %v", r.Problems, want)
	}
	if len(r.Certificates) != 1 || len(r.Certificates[0].Locations) != 5 {
		t.Errorf("with a wrong PKCS#12 password the other places still answer: %+v", r.Certificates)
	}
}

// A wrong JKS password and a keystore that is not one are problems
// naming the file.
func TestKeystoreProblems(t *testing.T) {
	s := getSite(t)
	dir := t.TempDir()
	wrong := filepath.Join(dir, "wrong.pass")
	keytest.WriteFile(t, wrong, []byte("not-the-password\n"), 0o600)
	notJKS := filepath.Join(dir, "not.jks")
	keytest.WriteFile(t, notJKS, []byte("\xfe\xed\xfe\xed but nothing more"), 0o600)
	jks := filepath.Join(s.dir, "stores/trust.jks")
	spec := *s.inv.SystemByName("web")
	places := *spec.X509
	places.Certs, places.KubernetesTLSSecrets, places.Endpoints, places.CA = nil, nil, nil, nil
	places.Keystores = []inventory.Keystore{
		{Path: jks, Type: "jks", Password: inventory.Ref{Scheme: inventory.RefFile, Name: wrong}},
		{Path: notJKS, Type: "jks", Password: inventory.Ref{Scheme: inventory.RefFile, Name: wrong}},
		{Path: jks, Type: "pkcs12", Password: inventory.Ref{Scheme: inventory.RefEnv, Name: "UNSET"}},
	}
	spec.X509 = &places
	p, err := open(provider.Config{System: "web", Spec: &spec, Getenv: func(string) string { return "" }})
	keytest.Must(t, err)
	r, err := p.Examine(context.Background(), "sha256:"+keytest.SPKISHA256(t, s.leakedKey, false))
	keytest.Must(t, err)
	var got []string
	for _, pr := range r.Problems {
		got = append(got, pr.String())
	}
	want := []string{
		jks + ": the JKS password is wrong",
		notJKS + ": not a JKS keystore rekey reads",
		jks + ": password env:UNSET: variable is unset or empty",
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A key no certificate carries identifies nothing; its inspection says
// it does not exist.
func TestStrayKeyMatchesNothing(t *testing.T) {
	s := getSite(t)
	p := s.open(t, nil)
	ms, err := p.Identify(context.Background(), keytest.Secret(t, s.strayKey))
	if err != nil || len(ms) != 0 {
		t.Fatalf("Identify(stray key) = %v, %v; want no match", ms, err)
	}
	id, err := p.Inspect(context.Background(), provider.IdentityRef{Name: "sha256:" + keytest.SPKISHA256(t, s.strayKey, false)})
	if err != nil || id.Exists || len(id.Privileges) != 0 {
		t.Fatalf("Inspect(stray key) = %+v, %v", id, err)
	}
}

// A leaked CA key is critical and lists every certificate the CA issued,
// from its index, revoked ones included.
func TestCAKeyListsEverythingItIssued(t *testing.T) {
	s := getSite(t)
	p := s.open(t, nil)
	ms, err := p.Identify(context.Background(), keytest.Secret(t, s.ca.Key))
	if err != nil || len(ms) != 1 {
		t.Fatalf("Identify(CA key) = %v, %v", ms, err)
	}
	r, err := p.Examine(context.Background(), ms[0].Ref.Name)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Certificates) != 1 || !r.Certificates[0].IsCA || !r.Certificates[0].SelfSigned || r.Certificates[0].Risk != provider.RiskCritical {
		t.Fatalf("certificates %+v, want the CA's, critical", r.Certificates)
	}
	index, err := os.ReadFile(s.ca.Index)
	keytest.Must(t, err)
	rows := strings.Split(strings.TrimSpace(string(index)), "\n")
	// Every index row, and the certificate signed outside the index.
	if len(r.Issued) != len(rows)+1 || len(rows) != 3 {
		t.Fatalf("issued %d, index has %d rows (want 3, plus one outside): %+v", len(r.Issued), len(rows), r.Issued)
	}
	if rogue := r.Issued[3]; rogue.Serial != "7777" || rogue.Subject != "CN=rogue.example.org" || rogue.Where != "file "+s.rogueCert {
		t.Errorf("the certificate signed outside the index: %+v", rogue)
	}
	bySerial := map[string]Issued{}
	for _, is := range r.Issued {
		bySerial[is.Serial] = is
	}
	for cert, status := range map[string]string{s.shopCert: StatusValid, s.otherCert: StatusValid, s.clientCert: StatusRevoked} {
		is, ok := bySerial[keytest.Serial(t, cert)]
		if !ok || is.Status != status {
			t.Errorf("%s: issued entry %+v, want status %s", cert, is, status)
		}
		if status == StatusRevoked && is.RevokedAt == nil {
			t.Errorf("%s: revoked without a date", cert)
		}
	}
	id, err := p.Inspect(context.Background(), ms[0].Ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(id.Privileges) != 1 || id.Privileges[0].Risk != provider.RiskCritical || !id.Privileges[0].CreatesCredentials {
		t.Errorf("privileges %+v, want one critical that creates credentials", id.Privileges)
	}
	n := 0
	for _, rel := range id.Related {
		if rel.Kind == RelatedIssued {
			n++
		}
	}
	if n != 4 {
		t.Errorf("%d related issued certificates, want 4: %+v", n, id.Related)
	}
}

// A Secret in a List, given as stringData, is read too.
func TestSecretInAList(t *testing.T) {
	s := getSite(t)
	r, err := s.open(t, nil).Examine(context.Background(), "sha256:"+keytest.SPKISHA256(t, s.otherKey, false))
	if err != nil {
		t.Fatal(err)
	}
	want := "kubernetes-secret " + filepath.Join(s.dir, "k8s", "list.yaml") + ": default/other-tls tls.crt[0]"
	if len(r.Certificates) != 1 || !slices.Contains(locationsOf(r.Certificates[0]), want) {
		t.Errorf("other key: %+v, want a location %q", r.Certificates, want)
	}
}

// A client certificate the CA revoked is still listed, graded low, with
// the index's revocation.
func TestRevokedClientCertificate(t *testing.T) {
	s := getSite(t)
	p := s.open(t, nil)
	ms, err := p.Identify(context.Background(), keytest.Secret(t, s.clientKey))
	if err != nil || len(ms) != 1 {
		t.Fatalf("Identify(client key) = %v, %v", ms, err)
	}
	r, err := p.Examine(context.Background(), ms[0].Ref.Name)
	if err != nil {
		t.Fatal(err)
	}
	c := r.Certificates[0]
	if c.Status != StatusRevoked || c.RevokedAt == nil || c.Risk != provider.RiskLow || !slices.Equal(c.ExtKeyUsage, []string{"clientAuth"}) {
		t.Errorf("client certificate %+v, want revoked, low, clientAuth", c)
	}
}

// Encrypted keys with no public half and garbage are errors that say so
// without quoting the input; a bad key name is refused.
func TestIdentifyBadInput(t *testing.T) {
	s := getSite(t)
	p := s.open(t, nil)
	locked := filepath.Join(t.TempDir(), "locked.pem")
	keytest.Run(t, s.dir, nil, "openssl", "pkcs8", "-topk8", "-in", s.strayKey, "-out", locked, "-passout", "pass:x1234")
	_, err := p.Identify(context.Background(), keytest.Secret(t, locked))
	if err == nil || !strings.Contains(err.Error(), "encrypted PKCS#8 key") {
		t.Errorf("Identify(encrypted) = %v", err)
	}
	_, err = p.Identify(context.Background(), secret.FromString("hunter2hunter2"))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Identify(garbage) = %v", err)
	}
	if _, err := p.Examine(context.Background(), "CN=shop"); err == nil {
		t.Error("Examine(a subject) succeeded: the name is a key fingerprint")
	}
}
