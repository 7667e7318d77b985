// Package catest runs a real internal CA for tests: `openssl ca` with its
// index, CRL number and openssl.cnf (keytest.NewCA), and an `openssl
// ocsp` responder serving that index on a loopback port, started by the
// test and stopped in its cleanup. Tests of revocation ask the responder,
// never a stand-in.
package catest

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/keys/keytest"
)

// CA is an openssl CA with a CRL path and a running OCSP responder.
type CA struct {
	*keytest.CA
	CRL     string // where -gencrl writes, empty until the provider writes it
	OCSPURL string // http://127.0.0.1:PORT
	// OCSPReload makes the responder read the index again.
	OCSPReload string
}

// Start sets up a CA named cn under dir and starts its OCSP responder.
// The responder signs with the CA's own key (an issuer-signed response)
// and reads the index again when it changes.
func Start(t testing.TB, dir, cn string) *CA {
	t.Helper()
	ca := &CA{CA: keytest.NewCA(t, dir, cn)}
	ca.CRL = filepath.Join(ca.Dir, "ca.crl")
	ca.OCSPURL, ca.OCSPReload = startOCSP(t, ca.CA)
	return ca
}

// Places is the inventory's x509 block for the CA: its index, newcerts,
// certificate, config, key, CRL and OCSP URL.
func (ca *CA) Places() *inventory.X509Places {
	return &inventory.X509Places{CA: &inventory.CAIndex{
		Index: ca.Index, CertsDir: ca.NewCerts, Cert: ca.Cert, Config: ca.Config,
		Key: inventory.Ref{Scheme: inventory.RefFile, Name: ca.Key}, CRL: ca.CRL, OCSP: ca.OCSPURL, OCSPReload: ca.OCSPReload,
	}}
}

// startOCSP runs `openssl ocsp` on a free loopback port until the test
// ends, and waits until it answers.
func startOCSP(t testing.TB, ca *keytest.CA) (url, reload string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	keytest.Must(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	url = fmt.Sprintf("http://127.0.0.1:%d", port)
	var logb bytes.Buffer
	// openssl ocsp reads the index once, at start: the fixture runs it in
	// a loop, and its reload command (the inventory's ocsp_reload) ends
	// the running one so the loop starts another on the same port.
	pidFile := filepath.Join(ca.Dir, "ocsp.pid")
	loop := fmt.Sprintf(`while :; do openssl ocsp -index %q -port %d -rsigner %q -rkey %q -CA %q -ignore_err & echo $! > %q; wait $!; sleep 0.1; done`,
		ca.Index, port, ca.Cert, ca.Key, ca.Cert, pidFile)
	cmd := exec.Command("sh", "-c", loop)
	cmd.Dir = ca.Dir
	cmd.Stdout, cmd.Stderr = &logb, &logb
	done := keytest.Daemon(t, cmd)
	b, err := os.ReadFile(ca.Cert)
	keytest.Must(t, err)
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", ca.Cert)
	}
	caCert, err := x509.ParseCertificate(blk.Bytes)
	keytest.Must(t, err)
	probe, err := ocsp.CreateRequest(&x509.Certificate{SerialNumber: big.NewInt(1)}, caCert, nil)
	keytest.Must(t, err)
	client := &http.Client{Timeout: 5 * time.Second}
	for deadline := time.Now().Add(20 * time.Second); ; {
		select {
		case <-done:
			t.Fatalf("openssl ocsp exited: %s", logb.String())
		default:
		}
		// Only a real request: openssl ocsp 3.0 waits forever on a
		// connection that sends nothing, and then serves nobody else.
		resp, err := client.Post(url, "application/ocsp-request", bytes.NewReader(probe))
		if err == nil {
			resp.Body.Close()
			// A responder already gone (a second reload within the
			// loop's pause) is fine: the next one reads the new index.
			return url, "kill $(cat " + pidFile + ") 2>/dev/null || true"
		}
		if time.Now().After(deadline) {
			t.Fatalf("openssl ocsp on %s does not answer: %v\n%s", url, err, logb.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// OCSPSays asks the responder with openssl's own client, out of band:
// "good", "revoked" or "unknown" as `openssl ocsp -serial` prints it.
func (ca *CA) OCSPSays(t testing.TB, serial string) string {
	t.Helper()
	out := string(keytest.Run(t, ca.Dir, nil, "openssl", "ocsp", "-issuer", ca.Cert, "-CAfile", ca.Cert, "-serial", "0x"+serial, "-url", ca.OCSPURL, "-timeout", "20"))
	for _, s := range []string{"revoked", "good", "unknown"} {
		if strings.Contains(out, ": "+s) {
			return s
		}
	}
	t.Fatalf("openssl ocsp: %s", out)
	return ""
}
