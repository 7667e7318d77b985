package cli

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/scope"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
)

// forged is a file name that, printed raw, starts a table row of its own
// claiming a finding rekey never made.
const forged = "a\nHIGH fake-row"

// noForgedRow fails when out has a line that starts with the forged row,
// or holds a raw control character other than the newlines that end rows.
func noForgedRow(t *testing.T, what, out string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "HIGH fake-row") {
			t.Errorf("%s: a file name forged a row:\n%s", what, out)
		}
		if strings.ContainsAny(line, "\r\x1b\u202e") {
			t.Errorf("%s: raw control character in %q", what, line)
		}
	}
	if !strings.Contains(out, `a\nHIGH fake-row`) {
		t.Errorf("%s: the file name is not shown escaped:\n%s", what, out)
	}
}

func TestScanTableEscapesFileNames(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, forged)
	if err := os.WriteFile(p, []byte("DATABASE_URL=postgres://orders_svc:"+dbPassword+"@db:5432/orders\n"), 0o644); err != nil {
		t.Skipf("this file system refuses the name: %v", err)
	}
	r := run(t, nil, "", "scan", root)
	if r.code != 1 {
		t.Fatalf("scan: exit %d, stderr %q", r.code, r.stderr)
	}
	noForgedRow(t, "scan table", r.stdout)
}

func TestScopeTableAndMarkdownEscapeData(t *testing.T) {
	s := scope.Scope{
		Incident:    "INC-20260101-abcd",
		Occurrences: []store.Occurrence{{Path: forged, Line: 1, Class: "config", Ref: "x|y\x1b[2J"}},
		Consumers:   []scope.Consumer{{Name: "orders\u202eipa", Sources: []string{"10.0.0.1|evil"}}},
	}
	var tb, mb bytes.Buffer
	if err := writeScopeTable(&tb, s); err != nil {
		t.Fatal(err)
	}
	noForgedRow(t, "scope table", tb.String())
	if err := writeScopeMarkdown(&mb, s); err != nil {
		t.Fatal(err)
	}
	md := mb.String()
	noForgedRow(t, "scope markdown", md)
	for _, want := range []string{`x\|y\x1b[2J`, `10.0.0.1\|evil`, `orders\u202eipa`} {
		if !strings.Contains(md, want) {
			t.Errorf("scope markdown lacks %q:\n%s", want, md)
		}
	}
}

// A plain scan or trace stores nothing: $REKEY_HOME stays as it was (here:
// it does not even exist afterwards). With an installation key already
// there, its fingerprints are the installation's.
func TestScanAndTraceLeaveRekeyHomeAlone(t *testing.T) {
	root := shopTree(t)
	home := filepath.Join(t.TempDir(), "home")
	env := map[string]string{"REKEY_HOME": home, "LEAKED": dbPassword}
	for _, args := range [][]string{{"scan", root}, {"trace", "--secret-env", "LEAKED", root}} {
		if r := run(t, env, "", args...); r.code != 1 {
			t.Fatalf("%v: exit %d %s", args, r.code, r.stderr)
		}
		if _, err := os.Lstat(home); !errors.Is(err, fs.ErrNotExist) {
			entries, _ := os.ReadDir(home)
			t.Fatalf("%v created %s: %v", args, home, entries)
		}
	}
	key, err := secret.LoadOrCreateKey(home, secret.InstallationKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	fp, err := secret.NewFingerprinter(key)
	if err != nil {
		t.Fatal(err)
	}
	want := string(fp.Of(secret.FromString(dbPassword)))
	r := run(t, env, "", "trace", "--secret-env", "LEAKED", root, "--format", "json")
	if got := jsonLines(t, r.stdout); len(got) == 0 || got[0]["fingerprint"] != want {
		t.Fatalf("fingerprints are not the installation's (%s): %s", want, r.stdout)
	}
	if entries, _ := os.ReadDir(home); len(entries) != 1 {
		t.Fatalf("home holds %v, want the key alone", entries)
	}
}
