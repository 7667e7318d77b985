package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/broker/leasetest"
	"github.com/rekeyhq/rekey/internal/deliver/file"
)

// rekey agent, as its own process, delivers a lease into the consumer the
// inventory names and revokes it on SIGTERM.
func TestAgentCommand(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, "orders.env")
	consumers := "consumers:\n  - { name: orders, identity: TEMPLATE, jit: { role: rw }, deliver: { type: file, path: " + envFile +
		", format: dotenv, key: DATABASE_URL }, reload: 'echo reloaded >> " + filepath.Join(dir, "reloads") + "' }\n"
	e := leasetest.New(t, consumers)
	if err := os.WriteFile(envFile, []byte("DATABASE_URL=postgres://old:old@127.0.0.1:5432/postgres\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	jwt := filepath.Join(dir, "token")
	if err := os.WriteFile(jwt, []byte(e.Token(t, leasetest.Subject)), 0o600); err != nil {
		t.Fatal(err)
	}

	r := run(t, nil, "", "agent", "--server", e.Server.URL, "--jwt-file", jwt, "--role", "rw")
	if r.code != 2 || !strings.Contains(r.stderr, "--inventory and --consumer, or --deliver-file") {
		t.Fatalf("no delivery: %d %s", r.code, r.stderr)
	}
	r = run(t, nil, "", "agent", "--server", e.Server.URL, "--jwt-file", jwt, "--role", "brief", "--inventory", e.InventoryPath, "--consumer", "orders")
	if r.code != 2 || !strings.Contains(r.stderr, "declares jit role rw") {
		t.Fatalf("another role than the consumer's: %d %s", r.code, r.stderr)
	}
	e.State.Set("shop-db/"+e.Template, true)
	r = run(t, nil, "", "agent", "--server", e.Server.URL, "--jwt-file", jwt, "--role", "rw", "--inventory", e.InventoryPath, "--consumer", "orders")
	if r.code != 2 || !strings.Contains(r.stderr, "under-incident") {
		t.Fatalf("refused: %d %s", r.code, r.stderr)
	}
	e.State.Set("shop-db/"+e.Template, false)

	cmd := exec.Command(os.Args[0], "agent", "--server", e.Server.URL, "--jwt-file", jwt, "--role", "rw", "--inventory", e.InventoryPath, "--consumer", "orders")
	cmd.Env = append(os.Environ(), "REKEY_TEST_AS_REKEY=1", "REKEY_HOME="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
	})
	tg, _ := file.New(file.Config{Path: envFile, Format: "dotenv", Key: "DATABASE_URL"})
	deadline := time.Now().Add(60 * time.Second)
	for {
		if st, err := tg.Current(context.Background()); err == nil && strings.HasPrefix(st.User, e.Template+"_l") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no lease delivered within 60 s: %s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitReload := time.Now().Add(60 * time.Second)
	for b, _ := os.ReadFile(filepath.Join(dir, "reloads")); !strings.Contains(string(b), "reloaded"); b, _ = os.ReadFile(filepath.Join(dir, "reloads")) {
		if time.Now().After(waitReload) {
			t.Fatal("the consumer's reload command did not run")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := len(e.Active(t)); n != 1 {
		t.Fatalf("%d active leases", n)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the agent did not stop")
	}
	if n := len(e.Active(t)); n != 0 {
		t.Fatalf("SIGTERM left %d active leases: %s", n, stderr.String())
	}
	if !strings.Contains(stderr.String(), "revoked") {
		t.Fatalf("stderr: %s", stderr.String())
	}
}
