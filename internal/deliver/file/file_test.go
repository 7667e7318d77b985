package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rekeyhq/rekey/internal/deliver"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
)

const newSecret = "Sup3r-N3w-S3cret"

func mustNew(t *testing.T, c Config) *Target {
	t.Helper()
	tg, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// TestErrors: each failure has a kind, names the file and key, and never
// holds the new secret or the old one.
func TestErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name, file, format, key, user string
		kind                          errs.Kind
		msg                           string
	}{
		{"missing key", "compose.env", "dotenv", "NO_SUCH_KEY", "", errs.NotFound, "key NO_SUCH_KEY not found"},
		{"missing yaml path", "database.yml", "yaml", "staging.password", "", errs.NotFound, "key staging.password not found"},
		{"missing ini section", "app.ini", "ini", "nosuch.PASSWD", "", errs.NotFound, "key nosuch.PASSWD not found"},
		{"a reference, not a value", "compose.env", "dotenv", "DB_PASSWORD_REF", "", errs.Invalid, "reference"},
		{"a new login with nowhere to go", "compose.env", "dotenv", "POSTGRES_PASSWORD", "orders_b", errs.Invalid, "no user_key"},
		{"a json object", "config.json", "json", "db", "", errs.Invalid, "db is an object"},
		{"a yaml mapping", "database.yml", "yaml", "production", "", errs.Invalid, "production is a mapping"},
		{"a url without credentials", "application.properties", "ini", "spring.datasource.url", "", errs.Invalid, "holds no user or password"},
		{"an erb template", "database.yml", "yaml", "production.pool", "", errs.Invalid, "reference"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := fixture(t, tt.file)
			before, _ := os.ReadFile(path)
			tg := mustNew(t, Config{Path: path, Format: tt.format, Key: tt.key})
			for _, err := range []error{tg.Write(ctx, value(tt.user, newSecret)), func() error { _, err := tg.Plan(ctx, value(tt.user, newSecret)); return err }()} {
				if err == nil {
					t.Fatal("no error")
				}
				if errs.KindOf(err) != tt.kind {
					t.Errorf("kind %v, want %v: %v", errs.KindOf(err), tt.kind, err)
				}
				msg := err.Error()
				if !strings.Contains(msg, tt.msg) || !strings.Contains(msg, path) {
					t.Errorf("error %q lacks %q or the path", msg, tt.msg)
				}
				if strings.Contains(msg, newSecret) || strings.Contains(msg, "Pa55") {
					t.Errorf("error reveals a secret: %q", msg)
				}
			}
			if after, _ := os.ReadFile(path); string(after) != string(before) {
				t.Error("a failed write changed the file")
			}
		})
	}

	tg := mustNew(t, Config{Path: filepath.Join(t.TempDir(), "absent.env"), Format: "dotenv", Key: "K"})
	if _, err := tg.Current(ctx); errs.KindOf(err) != errs.NotFound {
		t.Errorf("Current on a missing file: %v, want NotFound", err)
	}
	if _, err := New(Config{Path: "x", Format: "toml", Key: "k"}); errs.KindOf(err) != errs.Invalid {
		t.Errorf("unknown format: %v", err)
	}
}

// TestMalformedFilesAreRefused: a file the format cannot read is an error
// that quotes nothing from it.
func TestMalformedFilesAreRefused(t *testing.T) {
	for _, tc := range []struct{ format, data string }{
		{"dotenv", "A=1\nDB_PASSWORD=\"Old-Pa55word\n"},
		{"yaml", "db:\n  password: \"Old-Pa55word\n"},
		{"json", `{"db": {"password": "Old-Pa55word"`},
	} {
		p := filepath.Join(t.TempDir(), "f")
		os.WriteFile(p, []byte(tc.data), 0o600)
		key := "db.password"
		if tc.format == "dotenv" {
			key = "DB_PASSWORD"
		}
		err := mustNew(t, Config{Path: p, Format: tc.format, Key: key}).Write(context.Background(), value("", newSecret))
		if err == nil || strings.Contains(err.Error(), "Pa55") {
			t.Errorf("%s: %v", tc.format, err)
		}
	}
}

func TestFromInventory(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".env"), []byte("DATABASE_URL=postgres://app:old@db/shop\n"), 0o600)
	inv := &inventory.Inventory{Dir: dir}
	tg, err := FromInventory(inv, &inventory.Delivery{Type: "file", Path: ".env", Format: "dotenv", Key: "DATABASE_URL"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := tg.Current(context.Background())
	if err != nil || string(st.Secret.Reveal()) != "old" || st.User != "app" {
		t.Fatalf("Current = %q %q, %v", st.User, st.Secret.Reveal(), err)
	}
}

func TestModeAndOwnerKept(t *testing.T) {
	path := fixture(t, "compose.env")
	if err := os.Chmod(path, 0o604); err != nil {
		t.Fatal(err)
	}
	uid, gid := os.Getuid(), os.Getgid()
	if os.Geteuid() == 0 {
		uid, gid = 65534, 65534 // nobody: only root can give a file away, and must
		if err := os.Chown(path, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	if err := mustNew(t, Config{Path: path, Format: "dotenv", Key: "POSTGRES_PASSWORD"}).Write(context.Background(), value("", newSecret)); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != 0o604 || int(st.Uid) != uid || int(st.Gid) != gid {
		t.Errorf("after Write: mode %v owner %d:%d, want -rw----r-- %d:%d", fi.Mode(), st.Uid, st.Gid, uid, gid)
	}
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), "POSTGRES_PASSWORD='"+newSecret+"'") {
		t.Error("value not written")
	}
}

func TestSymlinkWritesTarget(t *testing.T) {
	real := fixture(t, "compose.env")
	link := filepath.Join(t.TempDir(), ".env")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if err := mustNew(t, Config{Path: link, Format: "dotenv", Key: "SMTP_PASSWORD"}).Write(context.Background(), value("", newSecret)); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the symlink was replaced: %v %v", fi.Mode(), err)
	}
	if b, _ := os.ReadFile(real); !strings.Contains(string(b), "SMTP_PASSWORD="+newSecret+"\n") {
		t.Errorf("the target file was not written:\n%s", b)
	}
}

// TestFailedWriteLeavesOriginal: a failure after the temporary file is
// complete (as a crash or a full disk would cause) leaves the original
// as it was and no temporary file behind.
func TestFailedWriteLeavesOriginal(t *testing.T) {
	path := fixture(t, "database.yml")
	before, _ := os.ReadFile(path)
	tg := mustNew(t, Config{Path: path, Format: "yaml", Key: "production.password"})
	tg.beforeRename = func() error { return errors.New("injected failure") }
	if err := tg.Write(context.Background(), value("", newSecret)); err == nil || !strings.Contains(err.Error(), "injected failure") {
		t.Fatalf("Write = %v, want the injected failure", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("original changed")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the original (temporary file left behind?)", len(entries))
	}
}

// TestReadOnlyDirectory: no temporary file can be made, so the write
// fails with a permission error and the original stays. Root ignores
// directory modes, so as root the write runs in a child process as nobody.
func TestReadOnlyDirectory(t *testing.T) {
	if dir := os.Getenv("REKEY_TEST_RO_DIR"); dir != "" {
		t.Skip("helper mode")
	}
	dir, err := os.MkdirTemp("", "rekey-ro-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755); os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	ro := filepath.Join(dir, "etc")
	os.Mkdir(ro, 0o755)
	path := filepath.Join(ro, ".env")
	data, _ := os.ReadFile("testdata/compose.env")
	os.WriteFile(path, data, 0o644)

	var out string
	if os.Geteuid() != 0 {
		os.Chmod(ro, 0o555)
		err := mustNew(t, Config{Path: path, Format: "dotenv", Key: "SMTP_PASSWORD"}).Write(context.Background(), value("", newSecret))
		if errs.KindOf(err) != errs.Permission {
			t.Fatalf("Write in a read-only directory: %v, want a permission error", err)
		}
		out = err.Error()
	} else {
		for _, p := range []string{ro, path} {
			os.Chown(p, 65534, 65534)
		}
		os.Chmod(ro, 0o555)
		bin := filepath.Join(dir, "file.test")
		copyFile(t, os.Args[0], bin)
		cmd := exec.Command(bin, "-test.run=^TestWriteAsHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), "REKEY_TEST_RO_DIR="+path)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("helper: %v\n%s", err, b)
		}
		out = string(b)
		if !strings.Contains(out, "kind=permission") {
			t.Fatalf("helper did not report a permission error:\n%s", out)
		}
	}
	if !strings.Contains(out, "permission denied") || !strings.Contains(out, path) || strings.Contains(out, newSecret) {
		t.Errorf("error: %s", out)
	}
	if after, _ := os.ReadFile(path); string(after) != string(data) {
		t.Error("original changed")
	}
}

// TestWriteAsHelper is TestReadOnlyDirectory's child process.
func TestWriteAsHelper(t *testing.T) {
	path := os.Getenv("REKEY_TEST_RO_DIR")
	if path == "" {
		t.Skip("run by TestReadOnlyDirectory")
	}
	err := mustNew(t, Config{Path: path, Format: "dotenv", Key: "SMTP_PASSWORD"}).Write(context.Background(), value("", newSecret))
	if err == nil {
		t.Fatal("Write succeeded in a read-only directory")
	}
	kind := "other"
	if errs.KindOf(err) == errs.Permission {
		kind = "permission"
	}
	fmt.Printf("kind=%s err=%v\n", kind, err)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	out.Close()
}

// TestConcurrentEditIsKept: a file edited by someone else between rekey's
// read and its rename is read again, so their edit survives.
func TestConcurrentEditIsKept(t *testing.T) {
	path := fixture(t, "compose.env")
	tg := mustNew(t, Config{Path: path, Format: "dotenv", Key: "SMTP_PASSWORD"})
	edits := 0
	tg.beforeRename = func() error {
		if edits == 0 {
			f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString("ADDED_BY_OPERATOR=1\n")
			f.Close()
		}
		edits++
		return nil
	}
	if err := tg.Write(context.Background(), value("", newSecret)); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "ADDED_BY_OPERATOR=1") || !strings.Contains(string(b), "SMTP_PASSWORD="+newSecret) || edits != 2 {
		t.Errorf("after %d tries:\n%s", edits, b)
	}
}

func TestHardLinkRefused(t *testing.T) {
	path := fixture(t, "compose.env")
	if err := os.Link(path, path+".bak"); err != nil {
		t.Fatal(err)
	}
	err := mustNew(t, Config{Path: path, Format: "dotenv", Key: "SMTP_PASSWORD"}).Write(context.Background(), value("", newSecret))
	if errs.KindOf(err) != errs.Unsupported || !strings.Contains(err.Error(), "hard links") {
		t.Errorf("Write to a hard-linked file: %v", err)
	}
}

// TestShellReadsDotenv: what Write puts in a .env reads back as the exact
// secret in a POSIX shell that sources the file (set -a; . .env), the
// strictest common consumer, for passwords full of shell metacharacters.
func TestShellReadsDotenv(t *testing.T) {
	const env = "# app\nAPP_ENV=production\nDB_PASSWORD=old\nQUOTED='old'\nexport DATABASE_URL=\"postgres://app:old@db:5432/shop?sslmode=disable\"\n"
	for _, pw := range []string{"p@ss:w/rd?#% x", `it's "quoted" \ back`, "semi;colon=eq&amp+plus", "$HOME`id`!x", "~root", "unicodé-密码", "*", "a\tb"} {
		path := filepath.Join(t.TempDir(), ".env")
		os.WriteFile(path, []byte(env), 0o600)
		for _, key := range []string{"DB_PASSWORD", "QUOTED", "DATABASE_URL"} {
			if err := mustNew(t, Config{Path: path, Format: "dotenv", Key: key}).Write(context.Background(), value("", pw)); err != nil {
				t.Fatalf("%q into %s: %v", pw, key, err)
			}
		}
		out, err := exec.Command("sh", "-c", `set -a; . "$1"; printf '%s\n%s\n%s' "$DB_PASSWORD" "$QUOTED" "$DATABASE_URL"`, "sh", path).CombinedOutput()
		if err != nil {
			b, _ := os.ReadFile(path)
			t.Fatalf("sh cannot source the file for %q: %v\n%s\n%s", pw, err, out, b)
		}
		lines := strings.SplitN(string(out), "\n", 3)
		wantURL := "postgres://app:" + urlEncoded(pw) + "@db:5432/shop?sslmode=disable"
		if len(lines) != 3 || lines[0] != pw || lines[1] != pw || lines[2] != wantURL {
			b, _ := os.ReadFile(path)
			t.Errorf("sh read %q for %q from:\n%s", lines, pw, b)
		}
	}
}

func urlEncoded(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

var _ deliver.Target = (*Target)(nil)
