package cli

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/keys/keytest"
)

// serving is a `rekey serve` run in this process until stop.
type serving struct {
	addr  string
	lines chan string
	code  chan int
	stop  context.CancelFunc
}

func startServe(t *testing.T, args ...string) *serving {
	t.Helper()
	return startServeEnv(t, nil, args...)
}

// startServeEnv is startServe with environment variables (the inventory's
// env: references).
func startServeEnv(t *testing.T, env map[string]string, args ...string) *serving {
	t.Helper()
	home := env["REKEY_HOME"]
	if home == "" {
		home = t.TempDir()
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &serving{lines: make(chan string, 100), code: make(chan int, 1), stop: cancel}
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		no := false
		s.code <- Main(ctx, Env{
			Args: append([]string{"serve", "--store", filepath.Join(home, "rekey.db")}, args...), Stdin: strings.NewReader(""),
			Stdout: io.Discard, Stderr: pw, Terminal: &no,
			Getenv: func(k string) string {
				if k == "REKEY_HOME" {
					return home
				}
				return env[k]
			},
		})
		pw.Close()
	}()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
	}()
	t.Cleanup(func() {
		cancel()
		go io.Copy(io.Discard, pr)
		// Serve must be gone before the test's directories are removed:
		// a watcher or a run still writing there fails the cleanup.
		select {
		case <-exited:
		case <-time.After(60 * time.Second):
			t.Error("serve did not stop within 60 s of its context ending")
		}
	})
	select {
	case first, ok := <-s.lines:
		if !ok {
			t.Fatalf("serve exited at once: %d", <-s.code)
		}
		addr, found := strings.CutPrefix(first, "listening on ")
		if !found {
			t.Fatalf("first stderr line %q, want listening on HOST:PORT", first)
		}
		s.addr = addr
	case <-time.After(30 * time.Second):
		t.Fatal("serve printed nothing")
	}
	return s
}

// next is the next stderr line, as JSON.
func (s *serving) next(t *testing.T) map[string]any {
	t.Helper()
	line, ok := <-s.lines
	if !ok {
		t.Fatal("serve's stderr ended")
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("stderr line %q is not JSON: %v", line, err)
	}
	return m
}

func TestServeListensLogsAndStops(t *testing.T) {
	inv := filepath.Join(t.TempDir(), "rekey.yml")
	if err := os.WriteFile(inv, []byte("version: 1\nsources: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, "--listen", "127.0.0.1:0", "--inventory", inv)
	if strings.HasSuffix(s.addr, ":0") || !strings.HasPrefix(s.addr, "127.0.0.1:") {
		t.Fatalf("listening on %s, want the bound port", s.addr)
	}
	resp, err := http.Get("http://" + s.addr + "/api/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("health: %d", resp.StatusCode)
	}
	if l := s.next(t); l["path"] != "/api/v1/health" || l["status"] != float64(200) {
		t.Fatalf("log line %v", l)
	}
	req, _ := http.NewRequest("GET", "http://"+s.addr+"/api/v1/incidents?state=all", nil)
	req.Header.Set("Authorization", "Bearer rekey_not-a-real-token")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("without an authenticator: %d, want 401", resp.StatusCode)
	}
	if l := s.next(t); l["status"] != float64(401) || strings.Contains(l["path"].(string), "state") {
		t.Fatalf("log line %v", l)
	}

	s.stop()
	select {
	case code := <-s.code:
		if code != 0 {
			t.Fatalf("serve exited %d after its context ended, want 0", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func TestServeRefusesNonLoopbackWithoutTLS(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:0", ":0", "192.0.2.1:8420"} {
		r := run(t, nil, "", "serve", "--listen", listen)
		if r.code != 2 || !strings.Contains(r.stderr, "loopback") || !strings.Contains(r.stderr, "--insecure-listen") {
			t.Errorf("--listen %s: %d %s", listen, r.code, r.stderr)
		}
	}
	for _, args := range [][]string{
		{"--tls-cert", "x.pem"},
		{"--listen", "nohost"},
		{"--public-url", "example.org"},
	} {
		if r := run(t, nil, "", append([]string{"serve"}, args...)...); r.code != 2 {
			t.Errorf("%v: %d %s", args, r.code, r.stderr)
		}
	}
}

// With a certificate the server may listen on every address, and speaks
// TLS; --insecure-listen allows it without.
func TestServeTLSOnAnyAddress(t *testing.T) {
	dir := t.TempDir()
	key := keytest.GenKey(t, dir, "key.pem", keytest.ECSEC1)
	cert := filepath.Join(dir, "cert.pem")
	keytest.SelfSigned(t, key, "localhost", []string{"localhost", "127.0.0.1"}, cert)
	s := startServe(t, "--listen", "0.0.0.0:0", "--tls-cert", cert, "--tls-key", key)
	pem, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}}}
	port := s.addr[strings.LastIndexByte(s.addr, ':'):]
	resp, err := c.Get("https://127.0.0.1" + port + "/api/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("health over TLS: %d", resp.StatusCode)
	}

	plain := startServe(t, "--listen", "0.0.0.0:0", "--insecure-listen")
	if !strings.Contains(plain.addr, ":") {
		t.Fatalf("insecure listen: %s", plain.addr)
	}
}

// rekey serve as its own process: SIGTERM stops it with status 0 after
// its requests, and its stderr is the listening line, then JSON.
func TestServeProcessStopsOnSIGTERM(t *testing.T) {
	home := t.TempDir()
	cmd := exec.Command(os.Args[0], "serve", "--listen", "127.0.0.1:0", "--store", filepath.Join(home, "rekey.db"))
	cmd.Env = append(os.Environ(), "REKEY_TEST_AS_REKEY=1", "REKEY_HOME="+home)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(stderr)
	if !sc.Scan() {
		t.Fatal("serve printed nothing")
	}
	addr, ok := strings.CutPrefix(sc.Text(), "listening on ")
	if !ok {
		t.Fatalf("first line %q", sc.Text())
	}
	resp, err := http.Get("http://" + addr + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("openapi.json: %d", resp.StatusCode)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var rest []string
	for sc.Scan() {
		rest = append(rest, sc.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve after SIGTERM: %v\n%s", err, strings.Join(rest, "\n"))
	}
	requests := 0
	for _, line := range rest {
		if strings.HasPrefix(line, "rekey: interrupted") {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("stderr line %q is not JSON", line)
		}
		requests++
	}
	if requests != 1 {
		t.Fatalf("%d request lines, want 1:\n%s", requests, strings.Join(rest, "\n"))
	}
}

// A broker whose systems cannot be opened does not keep the API from
// serving: a warning line says that leases cannot be ended through it.
func TestServeWarnsWhenBrokerSystemsCannotBeOpened(t *testing.T) {
	inv := filepath.Join(t.TempDir(), "rekey.yml")
	text := `version: 1
systems:
  - { name: shop-db, type: postgres, admin: env:SHOP_DB_ADMIN_DSN_UNSET }
identities:
  - { name: orders, system: shop-db }
broker:
  issuers:
    - { name: k8s, issuer: "https://issuer.example.org", audience: rekey }
  roles:
    - { name: rw, system: shop-db, like: orders, ttl: 15m, subjects: ["system:serviceaccount:orders:*"] }
`
	if err := os.WriteFile(inv, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, "--listen", "127.0.0.1:0", "--inventory", inv)
	if l := s.next(t); !strings.Contains(fmt.Sprint(l["warning"]), "broker leases cannot be ended") || !strings.Contains(fmt.Sprint(l["warning"]), "shop-db") {
		t.Fatalf("second line %v, want the broker warning", l)
	}
	resp, err := http.Get("http://" + s.addr + "/api/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("health: %d", resp.StatusCode)
	}
}
