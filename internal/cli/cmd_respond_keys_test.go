package cli

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/rekeyhq/rekey/internal/keys"
	"github.com/rekeyhq/rekey/internal/keys/keytest"
	"github.com/rekeyhq/rekey/internal/provider/certs/catest"
	"github.com/rekeyhq/rekey/internal/provider/sshtrust/sshdtest"
	"github.com/rekeyhq/rekey/internal/secret"
)

// keyWorld is an internal CA (openssl ca, its CRL and an openssl ocsp
// responder), a TLS server that presents a certificate from its files and
// checks client certificates against the CA's CRL, a client certificate,
// and an sshd: the server's certificate, the client's and an
// authorized_keys line all carry one private key, which leaked into a git
// repository.
type keyWorld struct {
	dir, inv  string
	ca        *catest.CA
	leaked    string // the leaked key's file
	srvAddr   string
	sshd      *sshdtest.SSHD
	account   string
	oldSerial map[string]string // consumer → serial of its certificate before
	env       map[string]string
}

func newKeyWorld(t *testing.T) *keyWorld {
	t.Helper()
	dir := t.TempDir()
	w := &keyWorld{dir: dir, oldSerial: map[string]string{}}
	w.ca = catest.Start(t, dir, "Shop Internal CA")
	keytest.Run(t, w.ca.Dir, nil, "openssl", "ca", "-config", w.ca.Config, "-gencrl", "-out", w.ca.CRL)
	w.leaked = keytest.GenKey(t, dir, "leaked.key", keytest.ECSEC1)
	pemKey, err := os.ReadFile(w.leaked)
	keytest.Must(t, err)
	for _, d := range []string{"srv", "cli", "deploy", "repo/config", "sshd"} {
		keytest.Must(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	w.ca.Issue(t, w.leaked, "shop.example.org", []string{"shop.example.org"}, "server", filepath.Join(dir, "srv/tls.crt"))
	w.ca.Issue(t, w.leaked, "shop-client", nil, "client", filepath.Join(dir, "cli/client.crt"))
	w.oldSerial["shop-web"] = keytest.Serial(t, filepath.Join(dir, "srv/tls.crt"))
	w.oldSerial["shop-client"] = keytest.Serial(t, filepath.Join(dir, "cli/client.crt"))
	for _, p := range []string{"srv/tls.key", "cli/client.key", "deploy/id_shop"} {
		keytest.WriteFile(t, filepath.Join(dir, p), pemKey, 0o600)
	}
	// The responder learns of the two certificates the fixture issued.
	keytest.Run(t, w.ca.Dir, nil, "sh", "-c", w.ca.OCSPReload)

	// The leak: the key committed to a repository.
	keytest.WriteFile(t, filepath.Join(dir, "repo/config/tls.key"), pemKey, 0o644)
	repo := filepath.Join(dir, "repo")
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "."}, {"-c", "user.name=dev", "-c", "user.email=dev@example.org", "commit", "-q", "-m", "tls"}} {
		keytest.Run(t, repo, nil, "git", args...)
	}

	w.srvAddr = w.serveTLS(t)
	w.sshd = sshdtest.Start(t, filepath.Join(dir, "sshd"))
	me, err := user.Current()
	keytest.Must(t, err)
	w.account = me.Username
	pub, err := os.ReadFile(keytest.SSHPublic(t, w.leaked, filepath.Join(dir, "leaked.pub")))
	keytest.Must(t, err)
	line := `from="127.0.0.1",no-agent-forwarding ` + strings.TrimSpace(string(pub)) + " deploy@shop\n"
	keytest.WriteFile(t, filepath.Join(w.sshd.AKDir, w.account), []byte(line), 0o600)

	spki := "sha256:" + keytest.SPKISHA256(t, w.leaked, false)
	fp := keytest.SSHFingerprint(t, w.leaked)
	ca := w.ca
	w.inv = filepath.Join(dir, "rekey.yml")
	keytest.WriteFile(t, w.inv, []byte(fmt.Sprintf(`version: 1
systems:
  - name: shop-tls
    type: x509
    certs: ["srv/*.crt", "cli/*.crt"]
    endpoints: [%[1]q]
    ca: { index: %[2]q, certs_dir: %[3]q, cert: %[4]q, config: %[5]q, key: "file:%[6]s", crl: %[7]q, ocsp: %[8]q, ocsp_reload: %[9]q }
  - name: bastion
    type: ssh
    authorized_keys: ["sshd/ak/*"]
identities:
  - { name: %[10]q, system: shop-tls, owner: { team: web } }
  - { name: %[11]q, system: bastion, owner: { team: ops } }
consumers:
  - name: shop-web
    identity: "shop-tls/%[10]s"
    deliver: { type: tls-files, cert: srv/tls.crt, key: srv/tls.key, endpoint: %[1]q }
    reload: "true"
  - name: shop-client
    identity: "shop-tls/%[10]s"
    deliver: { type: tls-files, cert: cli/client.crt, key: cli/client.key }
  - name: deployer
    identity: "bastion/%[11]s"
    deliver: { type: key-file, path: deploy/id_shop }
sources:
  - { type: git, path: repo, history: true }
`, w.srvAddr, ca.Index, ca.NewCerts, ca.Cert, ca.Config, ca.Key, ca.CRL, ca.OCSPURL, ca.OCSPReload, spki, fp)), 0o644)
	w.env = map[string]string{"LEAKED": string(pemKey), "REKEY_HOME": filepath.Join(dir, "home")}
	return w
}

// serveTLS runs a TLS server until the test ends: it presents the
// certificate and key in srv/ as they are at each handshake, asks for a
// client certificate and refuses one the CA did not sign or its CRL lists.
func (w *keyWorld) serveTLS(t *testing.T) string {
	t.Helper()
	caPEM, err := os.ReadFile(w.ca.Cert)
	keytest.Must(t, err)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	crt, key := filepath.Join(w.dir, "srv/tls.crt"), filepath.Join(w.dir, "srv/tls.key")
	cfg := &tls.Config{
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			c, err := tls.LoadX509KeyPair(crt, key)
			return &c, err
		},
		ClientAuth: tls.VerifyClientCertIfGiven,
		ClientCAs:  roots,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return nil // no client certificate: an anonymous client
			}
			leaf, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return err
			}
			b, err := os.ReadFile(w.ca.CRL)
			if err != nil {
				return err
			}
			blk, _ := pem.Decode(b)
			if blk == nil {
				return errors.New("no CRL")
			}
			crl, err := x509.ParseRevocationList(blk.Bytes)
			if err != nil {
				return err
			}
			for _, e := range crl.RevokedCertificateEntries {
				if e.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
					return fmt.Errorf("client certificate %X is revoked", leaf.SerialNumber)
				}
			}
			return nil
		},
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	keytest.Must(t, err)
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				tc := c.(*tls.Conn)
				if tc.Handshake() != nil {
					return
				}
				who := "anonymous"
				if pc := tc.ConnectionState().PeerCertificates; len(pc) > 0 {
					who = pc[0].Subject.CommonName
				}
				fmt.Fprintf(c, "hello %s\n", who)
			}()
		}
	}()
	return l.Addr().String()
}

// clientHello connects as a client with the certificate and key files
// given, trusting only the CA, and returns the server's greeting.
func (w *keyWorld) clientHello(certFile, keyFile string) (string, *x509.Certificate, error) {
	caPEM, err := os.ReadFile(w.ca.Cert)
	if err != nil {
		return "", nil, err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return "", nil, err
	}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", w.srvAddr,
		&tls.Config{RootCAs: roots, ServerName: "shop.example.org", Certificates: []tls.Certificate{pair}})
	if err != nil {
		return "", nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), c.ConnectionState().PeerCertificates[0], err
}

// TestRespondToALeakedPrivateKey is issue 17's end to end: a key that
// carries a TLS server's certificate, a client's certificate and an SSH
// login leaks into a repository; `rekey respond --yes` ends with both
// certificates revoked (CRL and OCSP), the server presenting a new
// certificate from the same CA with the same names, the client holding
// one the server accepts while it refuses the old, sshd trusting the new
// key only, and a report that maps the incident.
func TestRespondToALeakedPrivateKey(t *testing.T) {
	w := newKeyWorld(t)
	oldClient := func() (string, error) {
		s, _, err := w.clientHello(filepath.Join(w.dir, "cli/client.crt"), filepath.Join(w.dir, "cli/client.key"))
		return s, err
	}
	if got, err := oldClient(); err != nil || got != "hello shop-client" {
		t.Fatalf("before: the client is not accepted: %q %v", got, err)
	}
	leaked := keytest.Secret(t, w.leaked)
	if err := w.sshd.Login(w.account, leaked); err != nil {
		t.Fatalf("before: sshd refuses the leaked key: %v\n%s", err, w.sshd.Log)
	}
	// Kept aside: the attacker's copy of the old client certificate.
	oldCert := filepath.Join(t.TempDir(), "old-client.crt")
	b, err := os.ReadFile(filepath.Join(w.dir, "cli/client.crt"))
	keytest.Must(t, err)
	keytest.WriteFile(t, oldCert, b, 0o644)

	// A dry run first: preflight reads every file and the CA, and nothing
	// changes.
	o, _ := openJSON(t, w.env, w.inv)
	if r := run(t, w.env, "", "incident", "plan", o.ID); r.code != 0 {
		t.Fatalf("plan: %d %s", r.code, r.stderr)
	}
	dry := run(t, w.env, "", "incident", "run", o.ID, "--dry-run")
	if dry.code != 0 || !strings.Contains(dry.stdout, "srv/tls.key") || !strings.Contains(dry.stdout, "deploy/id_shop") {
		t.Fatalf("dry run: %d\n%s\n%s", dry.code, dry.stdout, dry.stderr)
	}
	if s := keytest.Serial(t, filepath.Join(w.dir, "srv/tls.crt")); s != w.oldSerial["shop-web"] || w.ca.OCSPSays(t, s) != "good" {
		t.Fatal("the dry run changed the server's certificate")
	}

	report := filepath.Join(w.dir, "report.md")
	r := run(t, w.env, "", "respond", "--secret-env", "LEAKED", "--inventory", w.inv, "--yes", "--report", report)
	if r.code != 0 {
		t.Fatalf("respond --yes: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "(graceful): done") {
		t.Errorf("a key with no sign of an attacker gets the graceful plan:\n%s", r.stdout)
	}

	// Revoked at the CA: both old serials in the CRL, and OCSP says so.
	crlText := string(keytest.Run(t, w.ca.Dir, nil, "openssl", "crl", "-in", w.ca.CRL, "-noout", "-text", "-CAfile", w.ca.Cert))
	for name, serial := range w.oldSerial {
		if !strings.Contains(crlText, "Serial Number: "+serial) {
			t.Errorf("%s's old certificate %s is not in the CRL", name, serial)
		}
		if got := w.ca.OCSPSays(t, serial); got != "revoked" {
			t.Errorf("OCSP says %s for %s's old certificate %s", got, name, serial)
		}
	}

	// The server presents a new certificate with the same name, from the
	// CA, on a new key; the client's new certificate is accepted.
	got, srvCert, err := w.clientHello(filepath.Join(w.dir, "cli/client.crt"), filepath.Join(w.dir, "cli/client.key"))
	if err != nil || got != "hello shop-client" {
		t.Fatalf("after: the client with its new certificate: %q %v", got, err)
	}
	leakedSPKI := keytest.SPKISHA256(t, w.leaked, false)
	for name, p := range map[string]string{"server": filepath.Join(w.dir, "srv/tls.crt"), "client": filepath.Join(w.dir, "cli/client.crt")} {
		serial := keytest.Serial(t, p)
		if serial == w.oldSerial["shop-web"] || serial == w.oldSerial["shop-client"] {
			t.Errorf("the %s still holds its old certificate %s", name, serial)
		}
		if got := w.ca.OCSPSays(t, serial); got != "good" {
			t.Errorf("OCSP says %s for the %s's new certificate %s", got, name, serial)
		}
	}
	srvSerial := keytest.Serial(t, filepath.Join(w.dir, "srv/tls.crt"))
	if srvCert.Subject.CommonName != "shop.example.org" || len(srvCert.DNSNames) != 1 || srvCert.DNSNames[0] != "shop.example.org" {
		t.Errorf("the server's new certificate: %s %v", srvCert.Subject, srvCert.DNSNames)
	}
	for _, p := range []string{"srv/tls.key", "cli/client.key", "deploy/id_shop"} {
		k, err := keys.ParseFile(filepath.Join(w.dir, p))
		if err != nil || k.Fingerprints == nil || k.Fingerprints.SPKISHA256 == leakedSPKI {
			t.Errorf("%s still holds the leaked key", p)
		}
		if fi, err := os.Stat(filepath.Join(w.dir, p)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v %v, want 0600", p, fi.Mode(), err)
		}
	}

	// The old key is refused: TLS with the old client certificate, SSH.
	if s, _, err := w.clientHello(oldCert, w.leaked); err == nil {
		t.Errorf("after: the server accepts the old client certificate: %q", s)
	}
	if err := w.sshd.Login(w.account, leaked); err == nil {
		t.Error("after: sshd accepts the leaked key")
	}
	newKey := keytest.Secret(t, filepath.Join(w.dir, "deploy/id_shop"))
	if err := w.sshd.Login(w.account, newKey); err != nil {
		t.Errorf("after: sshd refuses the deployer's new key: %v\n%s", err, w.sshd.Log)
	}
	ak, err := os.ReadFile(filepath.Join(w.sshd.AKDir, w.account))
	keytest.Must(t, err)
	if n := strings.Count(string(ak), "\n"); n != 1 || !strings.HasPrefix(string(ak), `from="127.0.0.1",no-agent-forwarding `) {
		t.Errorf("authorized_keys after: %q, want one line with the options kept", ak)
	}
	signer, err := ssh.ParsePrivateKey(newKey.Reveal())
	keytest.Must(t, err)
	if !strings.Contains(string(ak), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))) {
		t.Error("authorized_keys does not hold the new key")
	}

	// Respond again: everything is done, nothing changes.
	again := run(t, w.env, "", "respond", "--secret-env", "LEAKED", "--inventory", w.inv, "--yes", "--report", report)
	if again.code != 0 || !strings.Contains(again.stdout, "its run has finished") {
		t.Errorf("respond after completion: %d\n%s\n%s", again.code, again.stdout, again.stderr)
	}
	if s := keytest.Serial(t, filepath.Join(w.dir, "srv/tls.crt")); s != srvSerial {
		t.Errorf("a second respond replaced the certificate again: %s, was %s", s, srvSerial)
	}

	rep, err := os.ReadFile(report)
	keytest.Must(t, err)
	for _, want := range []string{"T1552.004", "T1588.004", "shop.example.org"} {
		if !strings.Contains(string(rep), want) {
			t.Errorf("the report does not name %s", want)
		}
	}
	noKeyMaterial(t, w.leaked, r.stdout+r.stderr+string(rep))
	for _, k := range []secret.Secret{newKey, keytest.Secret(t, filepath.Join(w.dir, "srv/tls.key"))} {
		if strings.Contains(r.stdout+r.stderr+string(rep), strings.TrimSpace(string(k.Reveal()))) {
			t.Error("a new private key was printed")
		}
	}
}

// A leaked CA key: open lists what the CA signed, the plan is emergency
// with a manual step per valid certificate to issue again under a new CA
// and the CA distrusted last, and the run waits for a person at each;
// once another person approves them all, the run is done and nothing was
// revoked or issued by rekey.
func TestLeakedCAKeyPlan(t *testing.T) {
	dir := t.TempDir()
	ca := catest.Start(t, dir, "Shop Root CA")
	a := keytest.GenKey(t, dir, "a.key", keytest.ECSEC1)
	b := keytest.GenKey(t, dir, "b.key", keytest.ECSEC1)
	ca.Issue(t, a, "api.example.org", []string{"api.example.org"}, "server", filepath.Join(dir, "api.pem"))
	old := ca.Issue(t, b, "old.example.org", nil, "server", filepath.Join(dir, "old.pem"))
	ca.Revoke(t, old)
	inv := filepath.Join(dir, "rekey.yml")
	keytest.WriteFile(t, inv, []byte(fmt.Sprintf("version: 1\nsystems:\n  - name: pki\n    type: x509\n    ca: { index: %q, certs_dir: %q, cert: %q, config: %q }\n",
		ca.Index, ca.NewCerts, ca.Cert, ca.Config)), 0o644)
	pemKey, err := os.ReadFile(ca.Key)
	keytest.Must(t, err)
	env := map[string]string{"LEAKED": string(pemKey), "REKEY_HOME": filepath.Join(dir, "home")}
	o, _ := openJSON(t, env, inv)
	r := run(t, env, "", "incident", "plan", o.ID, "--format", "json")
	if r.code != 0 {
		t.Fatalf("plan: %d %s", r.code, r.stderr)
	}
	var p struct {
		Strategy string
		Steps    []struct{ ID, Kind, Approval string }
		Notes    []string
	}
	keytest.Must(t, json.Unmarshal([]byte(r.stdout), &p))
	apiSerial := keytest.Serial(t, filepath.Join(dir, "api.pem"))
	var ids []string
	for _, st := range p.Steps {
		ids = append(ids, st.ID)
		if st.Approval != "manual" {
			t.Errorf("%s does not wait for a person", st.ID)
		}
	}
	want := []string{"new-ca:pki/" + o.Identity.Name, "reissue:pki/" + apiSerial, "distrust:pki/" + o.Identity.Name}
	if p.Strategy != "emergency" || strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Fatalf("%s plan %v, want emergency %v", p.Strategy, ids, want)
	}
	if len(p.Notes) == 0 || !strings.Contains(p.Notes[0], "2 certificate(s) it signed, 1 still valid") {
		t.Errorf("notes: %v", p.Notes)
	}
	idx, _ := os.ReadFile(ca.Index)
	if r := run(t, env, "", "--as", "alice", "incident", "run", o.ID, "--yes"); r.code != 3 {
		t.Fatalf("run: %d, want 3 (waiting for approvals)\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, id := range want {
		if r := run(t, env, "", "--as", "bob", "incident", "approve", o.ID, id); r.code != 0 {
			t.Fatalf("approve %s: %d %s", id, r.code, r.stderr)
		}
	}
	if r := run(t, env, "", "--as", "alice", "incident", "run", o.ID, "--yes"); r.code != 0 {
		t.Fatalf("run after the approvals: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if after, _ := os.ReadFile(ca.Index); string(after) != string(idx) {
		t.Errorf("the CA's index changed: rekey acted on a compromised CA:\n%s", after)
	}
}
