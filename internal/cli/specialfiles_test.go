package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// mkfifo makes a named pipe that nothing ever writes to: reading it
// blocks forever, which is what these tests prove rekey no longer does.
func mkfifo(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	return p
}

// runWithin is run, failing the test instead of hanging it when the
// command has not returned after a generous bound.
func runWithin(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	done := make(chan result, 1)
	go func() { done <- run(t, env, "", args...) }()
	select {
	case r := <-done:
		return r
	case <-time.After(60 * time.Second):
		t.Fatalf("rekey %s still running after 60s", strings.Join(args, " "))
	}
	return result{}
}

func TestSecretFileThatIsAPipeIsRefused(t *testing.T) {
	dir := t.TempDir()
	fifo := mkfifo(t, dir, "secret")
	r := runWithin(t, nil, "trace", "--secret-file", fifo, dir)
	if r.code != 2 || !strings.Contains(r.stderr, fifo) || !strings.Contains(r.stderr, "not a regular file (a named pipe)") ||
		strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestInventoryThatIsAPipeIsRefused(t *testing.T) {
	fifo := mkfifo(t, t.TempDir(), "rekey.yml")
	for _, args := range [][]string{
		{"inventory", "check", fifo},
		{"incident", "open", "--secret-env", "LEAKED", "--inventory", fifo},
	} {
		r := runWithin(t, map[string]string{"LEAKED": "a-password-nobody-uses-9f8e7d"}, args...)
		if r.code != 2 || !strings.Contains(r.stderr, fifo+": not a regular file (a named pipe)") {
			t.Errorf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
}

func TestReviewOfAPipeIsRefused(t *testing.T) {
	dir := t.TempDir()
	fifo := mkfifo(t, dir, "postgresql.csv")
	r := runWithin(t, nil, "review", "--logs", fifo, "--credential", "orders_svc", "--log-format", "postgres-csv")
	if r.code != 2 || !strings.Contains(r.stderr, fifo+": unreadable, skipped: not a regular file (a named pipe)") || !strings.Contains(r.stderr, "no log file could be read") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestIncidentOpenWithAnAdminReferenceToAPipe(t *testing.T) {
	dir := t.TempDir()
	mkfifo(t, dir, "admin.dsn")
	inv := filepath.Join(dir, "rekey.yml")
	writeFiles(t, dir, map[string]string{"rekey.yml": `version: 1
systems:
  - name: shop-db
    type: postgres
    admin: file:admin.dsn
identities:
  - name: orders_svc
    system: shop-db
    owner: { team: orders }
`})
	env := map[string]string{"LEAKED": "a-password-nobody-uses-9f8e7d", "REKEY_HOME": t.TempDir()}
	r := runWithin(t, env, "incident", "open", "--secret-env", "LEAKED", "--inventory", inv)
	if r.code != 0 {
		t.Fatalf("open: exit %d, stderr %q", r.code, r.stderr)
	}
	s := runWithin(t, env, "incident", "scope", strings.TrimSpace(r.stdout), "--format", "json")
	if !strings.Contains(s.stdout, "admin.dsn") || !strings.Contains(s.stdout, "not a regular file (a named pipe)") {
		t.Fatalf("scope does not say why shop-db was not searched:\n%s\n%s", s.stdout, s.stderr)
	}
}

// A second interrupt ends rekey at once even when it is stuck in a wait
// that does not watch its context: here, reading a secret from standard
// input that never ends.
func TestSecondInterruptExitsAtOnce(t *testing.T) {
	for attempt := 1; attempt <= 5; attempt++ {
		if secondInterrupt(t, time.Duration(attempt)*200*time.Millisecond) {
			return
		}
	}
	t.Fatal("the process never installed its signal handler")
}

// secondInterrupt runs rekey, interrupts it once after a pause, then
// again once it says it is stopping. It returns false when the first
// interrupt came before the handler was installed (and killed it).
func secondInterrupt(t *testing.T, pause time.Duration) bool {
	cmd := exec.Command(os.Args[0], "trace", "--secret-stdin", t.TempDir())
	cmd.Env = append(os.Environ(), "REKEY_TEST_AS_REKEY=1", "REKEY_HOME="+t.TempDir())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer cmd.Process.Kill()
	time.Sleep(pause)
	cmd.Process.Signal(os.Interrupt)
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(stderr.String(), "interrupted: stopping"); {
		select {
		case err := <-exited:
			if ee, ok := err.(*exec.ExitError); ok {
				if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
					return false
				}
			}
			t.Fatalf("exited after one interrupt (%v); this test wants a wait that ignores it; stderr %q", err, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no word after an interrupt; stderr %q", stderr.String())
		}
	}
	cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-exited:
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != exitInterrupted {
			t.Fatalf("exit %v, want status %d; stderr %q", err, exitInterrupted, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("still running 60s after a second interrupt; stderr %q", stderr.String())
	}
	return true
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
