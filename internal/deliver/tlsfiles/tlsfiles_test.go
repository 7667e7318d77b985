package tlsfiles

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/rekeyhq/rekey/internal/deliver"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/keys/keytest"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/certs"
	"github.com/rekeyhq/rekey/internal/provider/certs/catest"
	"github.com/rekeyhq/rekey/internal/secret"
)

// nobody owns the server's files: a delivery keeps the owner it finds.
const nobody = 65534

// tlsServer is a TLS server on 127.0.0.1 as a consumer runs one: it reads
// its certificate and key files at start and again when its reload file
// is touched (its reload command), asks clients for a certificate from
// the CA and refuses one the CA's CRL lists, reading the CRL at each
// handshake. It answers "ok" to a client it accepts.
type tlsServer struct {
	addr                      string
	certFile, keyFile, reload string
	crl                       string
	ca                        *x509.Certificate

	mu     sync.Mutex
	pair   *tls.Certificate
	loaded time.Time
}

func startTLS(t *testing.T, certFile, keyFile, crl string, ca *x509.Certificate) *tlsServer {
	t.Helper()
	s := &tlsServer{certFile: certFile, keyFile: keyFile, reload: filepath.Join(filepath.Dir(certFile), "reload"), crl: crl, ca: ca}
	keytest.Must(t, os.WriteFile(s.reload, nil, 0o644))
	keytest.Must(t, s.load())
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		GetCertificate: s.get, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: pool,
		VerifyPeerCertificate: s.checkCRL,
	})
	keytest.Must(t, err)
	t.Cleanup(func() { ln.Close() })
	s.addr = ln.Addr().String()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				if c.(*tls.Conn).Handshake() == nil {
					c.Write([]byte("ok"))
				}
			}()
		}
	}()
	return s
}

func (s *tlsServer) load() error {
	pair, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
	if err != nil {
		return err
	}
	fi, err := os.Stat(s.reload)
	if err != nil {
		return err
	}
	s.pair, s.loaded = &pair, fi.ModTime()
	return nil
}

func (s *tlsServer) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if fi, err := os.Stat(s.reload); err == nil && !fi.ModTime().Equal(s.loaded) {
		if err := s.load(); err != nil {
			return nil, err
		}
	}
	return s.pair, nil
}

// checkCRL refuses a client certificate the CA's CRL lists.
func (s *tlsServer) checkCRL(raw [][]byte, _ [][]*x509.Certificate) error {
	if len(raw) == 0 {
		return nil
	}
	leaf, err := x509.ParseCertificate(raw[0])
	if err != nil {
		return err
	}
	data, err := os.ReadFile(s.crl)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	b, _ := pem.Decode(data)
	crl, err := x509.ParseRevocationList(b.Bytes)
	if err != nil || crl.CheckSignatureFrom(s.ca) != nil {
		return errors.New("bad CRL")
	}
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
			return errors.New("client certificate revoked")
		}
	}
	return nil
}

// connect connects with the client certificate (nil for none) and
// reads the server's answer: nil when the server accepted the client.
func connect(addr string, ca *x509.Certificate, client *tls.Certificate) error {
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	cfg := &tls.Config{RootCAs: pool, ServerName: "shop.example.org"}
	if client != nil {
		cfg.Certificates = []tls.Certificate{*client}
	}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	// TLS 1.3: the server's verdict on the client comes with the first read.
	buf := make([]byte, 2)
	if _, err := c.Read(buf); err != nil {
		return err
	}
	if string(buf) != "ok" {
		return errors.New("unexpected answer")
	}
	return nil
}

func pairOf(t *testing.T, certPath, keyPath string) *tls.Certificate {
	t.Helper()
	p, err := tls.LoadX509KeyPair(certPath, keyPath)
	keytest.Must(t, err)
	return &p
}

func pairFrom(t *testing.T, r *certs.Replacement) *tls.Certificate {
	t.Helper()
	p, err := tls.X509KeyPair(r.CertPEM(), r.Key.Reveal())
	keytest.Must(t, err)
	return &p
}

func spki(t *testing.T, c *x509.Certificate) string {
	t.Helper()
	d := filepath.Join(t.TempDir(), "c.pem")
	keytest.Must(t, os.WriteFile(d, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o644))
	pub := keytest.Run(t, filepath.Dir(d), nil, "openssl", "x509", "-in", d, "-noout", "-pubkey")
	keytest.Must(t, os.WriteFile(d+".pub", pub, 0o644))
	return "sha256:" + keytest.SPKISHA256(t, d+".pub", true)
}

// The whole TLS response, on real parts: an openssl CA with its OCSP
// responder, a TLS server whose key leaked, and a client whose key leaked
// too. Revoke both at the CA, issue replacements with the same names,
// deliver the server's to its files (owner and mode kept, the key no
// longer readable by others), reload it; then the server presents the new
// key (SPKI compared with openssl's), the old client certificate is
// refused and the new one accepted.
func TestTLSReplaceEndToEnd(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the server's files belong to another uid")
	}
	ctx := context.Background()
	dir := t.TempDir()
	ca := catest.Start(t, dir, "Shop Internal CA")
	srvDir := filepath.Join(dir, "srv")
	keytest.Must(t, os.MkdirAll(srvDir, 0o755))
	serverKey := keytest.GenKey(t, srvDir, "tls.key", keytest.ECPKCS8)
	keytest.Must(t, os.Chmod(serverKey, 0o644)) // readable by all: the delivery tightens it
	serverCert := ca.Issue(t, serverKey, "shop.example.org", []string{"shop.example.org"}, "server", filepath.Join(srvDir, "tls.crt"))
	for _, p := range []string{serverKey, serverCert} {
		keytest.Must(t, os.Chown(p, nobody, nobody))
	}
	clientKey := keytest.GenKey(t, dir, "client.key", keytest.RSAPKCS8)
	clientCert := ca.Issue(t, clientKey, "orders-worker", nil, "client", filepath.Join(dir, "client.crt"))

	c, err := certs.New(ctx, provider.Config{System: "web-tls", Spec: &inventory.System{X509: ca.Places()}})
	keytest.Must(t, err)
	x := c.(*certs.Certs)
	auth, err := x.Authority()
	keytest.Must(t, err)
	keytest.Must(t, auth.GenCRL(ctx))
	srv := startTLS(t, serverCert, serverKey, ca.CRL, auth.Cert())
	oldClient := pairOf(t, clientCert, clientKey)
	if err := connect(srv.addr, auth.Cert(), oldClient); err != nil {
		t.Fatalf("before: the client is refused already: %v", err)
	}
	oldServer := pairOf(t, serverCert, serverKey).Leaf

	// Emergency order: remove trust first.
	for _, crt := range []*x509.Certificate{oldServer, oldClient.Leaf} {
		res, err := auth.Revoke(ctx, certs.RevokeRequest{Serial: crt.SerialNumber.Text(16)})
		keytest.Must(t, err)
		if !res.InCRL || res.OCSP != "revoked" {
			t.Fatalf("revoke %s: %+v", crt.Subject, res)
		}
	}
	if err := connect(srv.addr, auth.Cert(), oldClient); err == nil {
		t.Errorf("after revoking, the old client certificate is still accepted")
	}

	// Then add the new.
	newServer, err := auth.Issue(ctx, certs.IssueRequest{Like: oldServer})
	keytest.Must(t, err)
	newClient, err := auth.Issue(ctx, certs.IssueRequest{Like: oldClient.Leaf})
	keytest.Must(t, err)
	err = x.VerifyEndpoint(ctx, certs.VerifyRequest{Endpoint: srv.addr, Key: newServer.SPKI})
	if err == nil || !strings.Contains(err.Error(), srv.addr) || !strings.Contains(err.Error(), "not the new key") {
		t.Errorf("before delivery, verify says %v", err)
	}
	files := Files{Cert: serverCert, Key: serverKey, FullChain: true}
	b := Bundle{Key: newServer.Key, Cert: newServer.CertPEM(), Chain: newServer.ChainPEM()}
	changed, err := files.Write(ctx, b)
	keytest.Must(t, err)
	if !changed {
		t.Errorf("the first delivery changed nothing")
	}
	keytest.Must(t, deliver.Reload(ctx, deliver.Command{Consumer: "shop-web", Line: "touch " + srv.reload}))

	roots := x509.NewCertPool()
	roots.AddCert(auth.Cert())
	keytest.Must(t, x.VerifyEndpoint(ctx, certs.VerifyRequest{Endpoint: srv.addr, Key: newServer.SPKI, Roots: roots, ServerName: "shop.example.org"}))
	// Out of band: what openssl reads from the presented leaf.
	presented := presentedLeaf(t, srv.addr)
	if got := spki(t, presented); got != newServer.SPKI || got == spki(t, oldServer) {
		t.Errorf("the server presents %s, want the new %s", got, newServer.SPKI)
	}
	if err := connect(srv.addr, auth.Cert(), oldClient); err == nil {
		t.Errorf("the old (revoked) client certificate is accepted")
	}
	if err := connect(srv.addr, auth.Cert(), pairFrom(t, newClient)); err != nil {
		t.Errorf("the new client certificate is refused: %v", err)
	}

	for path, want := range map[string]os.FileMode{serverKey: 0o640, serverCert: 0o644} {
		fi, err := os.Stat(path)
		keytest.Must(t, err)
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode() != want || st.Uid != nobody || st.Gid != nobody {
			t.Errorf("%s: mode %v owner %d:%d, want %v %d:%d", path, fi.Mode(), st.Uid, st.Gid, want, nobody, nobody)
		}
	}
	got, _ := os.ReadFile(serverCert)
	if want := append(newServer.CertPEM(), newServer.ChainPEM()...); !bytes.Equal(got, want) {
		t.Errorf("the certificate file is not the leaf and its chain")
	}
	changed, err = files.Write(ctx, b)
	if err != nil || changed {
		t.Errorf("delivering again: changed %v, %v", changed, err)
	}
}

func presentedLeaf(t *testing.T, addr string) *x509.Certificate {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	keytest.Must(t, err)
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0]
}

const manifest = `# shop TLS, applied by the deploy job
apiVersion: v1
kind: Secret
metadata:
  name: shop-tls
  namespace: web
type: kubernetes.io/tls
data:
  tls.crt: %s
  tls.key: %s
---
apiVersion: v1
kind: ConfigMap
metadata: {name: shop}
data: {mode: prod}
`

// A TLS Secret manifest gets the new key and chain in data, base64, in
// one edit that leaves the comment, the other document and every other
// field as written; again, nothing changes; errors name the file and
// never hold the key.
func TestManifest(t *testing.T) {
	dir := t.TempDir()
	key := keytest.GenKey(t, dir, "old.key", keytest.ECSEC1)
	keyPEM, _ := os.ReadFile(key)
	certPEM := keytest.Run(t, dir, nil, "openssl", "req", "-x509", "-new", "-key", key, "-subj", "/CN=shop", "-days", "1")
	path := filepath.Join(dir, "secret.yaml")
	old := []byte(fmt.Sprintf(manifest, base64.StdEncoding.EncodeToString(certPEM), base64.StdEncoding.EncodeToString(keyPEM)))
	keytest.Must(t, os.WriteFile(path, old, 0o600))

	newKey := keytest.GenKey(t, dir, "new.key", keytest.ECSEC1)
	newKeyPEM, _ := os.ReadFile(newKey)
	newCert := keytest.Run(t, dir, nil, "openssl", "req", "-x509", "-new", "-key", newKey, "-subj", "/CN=shop", "-days", "1")
	chain := keytest.Run(t, dir, nil, "openssl", "req", "-x509", "-new", "-key", key, "-subj", "/CN=chain", "-days", "1")
	b := Bundle{Key: secret.New(newKeyPEM), Cert: newCert, Chain: chain}
	m := Manifest{Path: path}
	keytest.Must(t, m.Write(context.Background(), b))
	got, _ := os.ReadFile(path)
	var docs []map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(got))
	for {
		var d map[string]any
		if dec.Decode(&d) != nil {
			break
		}
		docs = append(docs, d)
	}
	data := docs[0]["data"].(map[string]any)
	crt, _ := base64.StdEncoding.DecodeString(data["tls.crt"].(string))
	k, _ := base64.StdEncoding.DecodeString(data["tls.key"].(string))
	if !bytes.Equal(crt, append(newCert, chain...)) || !bytes.Equal(k, newKeyPEM) {
		t.Errorf("the manifest does not hold the new key and chain")
	}
	if !strings.HasPrefix(string(got), "# shop TLS, applied by the deploy job\n") || !strings.HasSuffix(string(got), "data: {mode: prod}\n") || len(docs) != 2 {
		t.Errorf("the rest of the manifest changed:\n%s", got)
	}
	keytest.Must(t, m.Write(context.Background(), b))
	if again, _ := os.ReadFile(path); !bytes.Equal(again, got) {
		t.Errorf("writing again changed the file")
	}

	two := filepath.Join(dir, "two.yaml")
	keytest.Must(t, os.WriteFile(two, append(append([]byte(nil), old...), append([]byte("---\n"), old...)...), 0o600))
	err := Manifest{Path: two}.Write(context.Background(), b)
	if errs.KindOf(err) != errs.Unsupported || !strings.Contains(err.Error(), two) {
		t.Errorf("two TLS Secrets: %v", err)
	}
	_, err = Files{Cert: filepath.Join(dir, "no", "tls.crt"), Key: filepath.Join(dir, "no", "tls.key")}.Write(context.Background(), b)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "no", "tls.key")) {
		t.Errorf("a missing directory: %v", err)
	}
	for _, e := range []error{err} {
		if strings.Contains(e.Error(), "PRIVATE KEY") || strings.Contains(e.Error(), string(newKeyPEM[40:70])) {
			t.Errorf("an error holds key material: %v", e)
		}
	}
}
