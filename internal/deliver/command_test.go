package deliver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/secret"
)

const hidden = "Sup3r-S3cret/Value+1"

func TestReloadRuns(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "reloaded")
	if err := Reload(context.Background(), Command{Consumer: "orders-api", Line: "touch " + marker}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatal("reload command did not run")
	}
	if err := Reload(context.Background(), Command{Consumer: "orders-api"}); err != nil {
		t.Errorf("an empty reload command: %v", err)
	}
}

// TestReloadTimeout: a hung reload is killed with its children (a
// backgrounded sleep holding the output pipe would otherwise keep Wait
// waiting) and the error says so.
func TestReloadTimeout(t *testing.T) {
	start := time.Now()
	err := Reload(context.Background(), Command{Consumer: "orders-api", Line: "echo reloading; sleep 30 & wait", Timeout: 200 * time.Millisecond})
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("Reload took %s, want about its 200ms timeout", took)
	}
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"consumer orders-api", `reload "echo reloading; sleep 30 & wait"`, "timed out after 200ms", "last output: reloading"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// TestFailureOutputIsScrubbed: a command that prints a secret (in any
// encoding) has it redacted in the error, which shows its last line.
func TestFailureOutputIsScrubbed(t *testing.T) {
	for _, line := range []string{
		"echo starting; echo 'password authentication failed, password=" + hidden + "'; exit 3",
		"echo 'dsn postgres://app:Sup3r-S3cret%2FValue%2B1@db failed'; exit 3",
	} {
		err := Reload(context.Background(), Command{Consumer: "billing", Line: line, Mask: masker(hidden)})
		if err == nil {
			t.Fatal("no error")
		}
		msg := err.Error()
		if strings.Contains(msg, "Sup3r") || !strings.Contains(msg, secret.Redacted) || !strings.Contains(msg, "exit status 3") {
			t.Errorf("error %q: want the exit status and the secret redacted", msg)
		}
	}
}

func TestOutputIsBounded(t *testing.T) {
	err := Reload(context.Background(), Command{Consumer: "c", Line: "head -c 1000000 /dev/zero | tr '\\0' x; echo; echo the last line; exit 1"})
	if err == nil || !strings.HasSuffix(err.Error(), "last output: the last line") {
		t.Errorf("error: %.200v", err)
	}
	tl := &tail{max: 10}
	fmt.Fprint(tl, strings.Repeat("x", 100))
	if len(tl.buf) != 10 || tl.lastLine() != "(output too long)" {
		t.Errorf("tail kept %d bytes, last line %q", len(tl.buf), tl.lastLine())
	}
}

// TestHealthRetries: a check that passes on its third run passes, after
// backing off between runs.
func TestHealthRetries(t *testing.T) {
	count := filepath.Join(t.TempDir(), "n")
	line := fmt.Sprintf(`n=$(cat %[1]s 2>/dev/null || echo 0); n=$((n+1)); echo $n > %[1]s; echo "attempt $n"; [ $n -ge 3 ]`, count)
	n, err := Health(context.Background(), Command{Consumer: "orders-api", Line: line}, Retry{Deadline: 10 * time.Second, Initial: 10 * time.Millisecond})
	if err != nil || n != 3 {
		t.Fatalf("Health = %d, %v; want 3 attempts and success", n, err)
	}
}

func TestHealthGivesUp(t *testing.T) {
	// A deadline long enough for a loaded machine to start the shell
	// several times; that Health returns at all is the giving up.
	n, err := Health(context.Background(), Command{Consumer: "orders-api", Line: "echo 'curl: (7) Failed to connect to 127.0.0.1 port 8080'; exit 7"},
		Retry{Deadline: 3 * time.Second, Initial: 20 * time.Millisecond, Max: 50 * time.Millisecond})
	if err == nil || n < 3 {
		t.Fatalf("Health = %d, %v; want several failed attempts", n, err)
	}
	if errs.KindOf(err) != errs.Unreachable {
		t.Errorf("kind %v", errs.KindOf(err))
	}
	for _, want := range []string{"consumer orders-api", "health \"echo", "still failing after", "exit status 7", "last output: curl: (7) Failed to connect"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// TestHealthAttemptTimeout: one hung attempt does not use up the deadline.
// The attempt timeout leaves a loaded machine time to start the second
// attempt's shell (200 ms did not, with six test runs on two cores).
func TestHealthAttemptTimeout(t *testing.T) {
	count := filepath.Join(t.TempDir(), "n")
	line := fmt.Sprintf(`n=$(cat %[1]s 2>/dev/null || echo 0); echo $((n+1)) > %[1]s; [ $n -ge 1 ] || sleep 30`, count)
	n, err := Health(context.Background(), Command{Consumer: "c", Line: line, Timeout: 2 * time.Second}, Retry{Deadline: 30 * time.Second, Initial: 10 * time.Millisecond})
	if err != nil || n != 2 {
		t.Fatalf("Health = %d, %v; want success on the second attempt", n, err)
	}
}

// TestCommandEnvironmentHoldsNoSecret: the secret reaches a consumer's
// command through no variable, however it is encoded or named.
func TestCommandEnvironmentHoldsNoSecret(t *testing.T) {
	t.Setenv("SHOP_ADMIN", "postgres://admin:Sup3r-S3cret%2FValue%2B1@db/shop")
	t.Setenv("LEAKED", hidden)
	t.Setenv("PGPASSWORD", "other")
	t.Setenv("SHOP_DB_ADMIN_DSN", "postgres://admin:else@db")
	t.Setenv("REKEY_HOME", "/root/.rekey")
	t.Setenv("CACHE", "redis://:other-pw@cache:6379/0")
	t.Setenv("HARMLESS", "kept")
	t.Setenv("SITE", "https://example.com/a:b@c")
	out := filepath.Join(t.TempDir(), "env")
	if err := Reload(context.Background(), Command{Consumer: "c", Line: "env > " + out, Mask: masker(hidden)}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	env := "\n" + string(b)
	if strings.Contains(env, "Sup3r") {
		t.Errorf("command environment holds the admin password")
	}
	// Whole names: the runner's own XDG_CACHE_HOME is not CACHE.
	for _, bad := range []string{"SHOP_ADMIN=", "LEAKED=", "PGPASSWORD=", "SHOP_DB_ADMIN_DSN=", "REKEY_HOME=", "CACHE="} {
		if strings.Contains(env, "\n"+bad) {
			t.Errorf("command environment holds %q", bad)
		}
	}
	if !strings.Contains(env, "HARMLESS=kept") || !strings.Contains(env, "SITE=") || !strings.Contains(env, "PATH=") {
		t.Errorf("command environment lost ordinary variables:\n%s", env)
	}
}

// TestLongLineIsMaskedBeforeItIsCut: a secret across the 200-byte cut of
// the last line shows not even its start.
func TestLongLineIsMaskedBeforeItIsCut(t *testing.T) {
	pw := "Cut-Across-The-Limit-" + strings.Repeat("Z", 40)
	err := Reload(context.Background(), Command{Consumer: "c", Line: "echo '" + strings.Repeat("x", 190) + " " + pw + "'; exit 1", Mask: masker(pw)})
	if err == nil || strings.Contains(err.Error(), "Cut-Across") {
		t.Errorf("error %v: holds the start of the secret", err)
	}
}

func masker(hidden ...string) *secret.Masker {
	m := secret.NewMasker(nil)
	for _, h := range hidden {
		m.Add(secret.FromString(h))
	}
	return m
}

// TestDropEnvAndFingerprints: the variable --secret-env named is never
// passed on, whatever its name and value; nor is one holding the leaked
// secret that rekey knows only by its fingerprint.
func TestDropEnvAndFingerprints(t *testing.T) {
	fp, err := secret.NewFingerprinter(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	m := secret.NewMasker(fp)
	m.AddFingerprint(fp.Of(secret.FromString("Leaked-By-Fingerprint-77")))
	t.Setenv("MY_INPUT", "looks-harmless")
	t.Setenv("OTHER", "Leaked-By-Fingerprint-77")
	t.Setenv("HARMLESS", "kept")
	out := filepath.Join(t.TempDir(), "env")
	if err := Reload(context.Background(), Command{Consumer: "c", Line: "env > " + out, Mask: m, DropEnv: []string{"MY_INPUT"}}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	env := string(b)
	for _, bad := range []string{"MY_INPUT=", "Leaked-By-Fingerprint-77"} {
		if strings.Contains(env, bad) {
			t.Errorf("command environment holds %q", bad)
		}
	}
	if !strings.Contains(env, "HARMLESS=kept") {
		t.Errorf("command environment lost ordinary variables:\n%s", env)
	}
	err = Reload(context.Background(), Command{Consumer: "c", Line: "echo 'config: password=Leaked-By-Fingerprint-77'; exit 1", Mask: m})
	if err == nil || strings.Contains(err.Error(), "Leaked-By") || !strings.Contains(err.Error(), secret.Redacted) {
		t.Errorf("error %v: want the leaked secret masked by its fingerprint", err)
	}
}

func TestChange(t *testing.T) {
	c := Change{Target: "file /srv/.env (dotenv) key DATABASE_URL", Edits: []Edit{
		{Where: "/srv/.env:3", Key: "DATABASE_URL", Form: "url", Parts: []Part{PartUser, PartPassword}},
		{Where: "/srv/.env:4", Key: "DB_USER", Form: "plain", Note: "n"},
	}}
	want := "/srv/.env:3 DATABASE_URL (url): user, password\n/srv/.env:4 DB_USER (plain): already delivered (n)"
	if c.String() != want || c.Empty() {
		t.Errorf("String() = %q, Empty() = %v", c.String(), c.Empty())
	}
	if !(Change{Edits: c.Edits[1:]}).Empty() {
		t.Error("a change with no parts is not empty")
	}
}
