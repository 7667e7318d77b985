package file

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWindowsLineEndings: files written on Windows keep their CRLFs and
// the value excludes the CR.
func TestWindowsLineEndings(t *testing.T) {
	for _, tc := range []struct{ format, key, in, want string }{
		{"dotenv", "DB_PASSWORD", "A=1\r\nDB_PASSWORD=old\r\nB=2\r\n", "A=1\r\nDB_PASSWORD=N3w\r\nB=2\r\n"},
		{"dotenv", "DB_PASSWORD", "DB_PASSWORD=\"old\"\r\n", "DB_PASSWORD=\"N3w\"\r\n"},
		{"ini", "db.password", "[db]\r\npassword = old\r\nhost = x\r\n", "[db]\r\npassword = N3w\r\nhost = x\r\n"},
		{"properties", "db.password", "db.password=old\r\ndb.user=x\r\n", "db.password=N3w\r\ndb.user=x\r\n"},
		{"yaml", "db.password", "db:\r\n  password: old\r\n  user: x\r\n", "db:\r\n  password: N3w\r\n  user: x\r\n"},
		{"json", "db.password", "{\r\n  \"db\": {\"password\": \"old\"}\r\n}\r\n", "{\r\n  \"db\": {\"password\": \"N3w\"}\r\n}\r\n"},
	} {
		p := filepath.Join(t.TempDir(), "f")
		os.WriteFile(p, []byte(tc.in), 0o600)
		tg := mustNew(t, Config{Path: p, Format: tc.format, Key: tc.key})
		if st, err := tg.Current(context.Background()); err != nil || string(st.Secret.Reveal()) != "old" {
			t.Errorf("%s: Current = %q, %v", tc.format, st.Secret.Reveal(), err)
		}
		if err := tg.Write(context.Background(), value("", "N3w")); err != nil {
			t.Fatalf("%s: %v", tc.format, err)
		}
		if b, _ := os.ReadFile(p); string(b) != tc.want {
			t.Errorf("%s: got %q, want %q", tc.format, b, tc.want)
		}
	}
}

// TestEveryPlaceIsWritten: a key set twice (a later line overriding an
// earlier one) is written in both places, so whichever a reader takes
// holds the new value; Current reads the last.
func TestEveryPlaceIsWritten(t *testing.T) {
	p := filepath.Join(t.TempDir(), ".env")
	os.WriteFile(p, []byte("DB_PASSWORD=old1\n# local override\nDB_PASSWORD=old2\n"), 0o600)
	tg := mustNew(t, Config{Path: p, Format: "dotenv", Key: "DB_PASSWORD"})
	if st, _ := tg.Current(context.Background()); string(st.Secret.Reveal()) != "old2" {
		t.Errorf("Current = %q, want the last assignment", st.Secret.Reveal())
	}
	ch, err := tg.Plan(context.Background(), value("", "N3w"))
	if err != nil || len(ch.Edits) != 2 || !strings.Contains(ch.String(), ".env:1 ") || !strings.Contains(ch.String(), ".env:3 ") {
		t.Errorf("Plan = %q, %v; want lines 1 and 3", ch, err)
	}
	if err := tg.Write(context.Background(), value("", "N3w")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "DB_PASSWORD=N3w\n# local override\nDB_PASSWORD=N3w\n" {
		t.Errorf("got %q", b)
	}
}

// TestYAMLSharedAnchorIsNamed: a value that other keys alias is edited
// once, where it is defined, and the plan says its aliases change too.
func TestYAMLSharedAnchorIsNamed(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yml")
	in := "primary:\n  password: &pw old # shared\nreplica:\n  password: *pw\n"
	os.WriteFile(p, []byte(in), 0o600)
	tg := mustNew(t, Config{Path: p, Format: "yaml", Key: "replica.password"})
	ch, err := tg.Plan(context.Background(), value("", "N3w"))
	if err != nil || !strings.Contains(ch.String(), "c.yml:2 ") || !strings.Contains(ch.String(), "alias *pw") || !strings.Contains(ch.String(), "anchor &pw") {
		t.Errorf("Plan = %q, %v", ch, err)
	}
	if err := tg.Write(context.Background(), value("", "N3w")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != strings.Replace(in, "&pw old", "&pw N3w", 1) {
		t.Errorf("got %q", b)
	}
}

// TestYAMLBlockScalarRefused: a value rekey cannot edit byte-exactly is
// an error, not a reformatted file.
func TestYAMLBlockScalarRefused(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yml")
	os.WriteFile(p, []byte("db:\n  password: |\n    old\n"), 0o600)
	err := mustNew(t, Config{Path: p, Format: "yaml", Key: "db.password"}).Write(context.Background(), value("", "N3w"))
	if err == nil || !strings.Contains(err.Error(), "block scalars") {
		t.Errorf("Write = %v", err)
	}
}

// TestYAMLCheckCatchesOtherChanges: the guard that runs after every YAML
// edit refuses a result in which anything but the edited value moved.
func TestYAMLCheckCatchesOtherChanges(t *testing.T) {
	old := []byte("a: 1 # note\nb: old\nc: [x, y]\n")
	edited := map[int]string{strings.Index(string(old), "old"): "new"}
	if err := (yamlFormat{}).check(old, []byte("a: 1 # note\nb: 'new'\nc: [x, y]\n"), edited); err != nil {
		t.Errorf("a clean edit was refused: %v", err)
	}
	for _, bad := range []struct{ doc, want string }{
		{"a: 2 # note\nb: new\nc: [x, y]\n", "new"},          // another value
		{"a: 1\nb: new\nc: [x, y]\n", "new"},                 // a comment
		{"a: 1 # note\nb: new\nc: [x, y, z]\n", "new"},       // a sequence
		{"a: 1 # note\nb: newer\nc: [x, y]\n", "new"},        // the edited value itself
		{"a: 1 # note\nb: 12\nc: [x, y]\n", "12"},            // the edited value's type
		{"a: 1 # note\nb: new\nc: [x, y]\n---\nd: 1", "new"}, // a document
	} {
		if (yamlFormat{}).check(old, []byte(bad.doc), map[int]string{strings.Index(string(old), "old"): bad.want}) == nil {
			t.Errorf("check accepted %q", bad.doc)
		}
	}
}

// TestFileThatKeepsChanging: after three tries the write gives up rather
// than overwrite someone else's edits.
func TestFileThatKeepsChanging(t *testing.T) {
	path := fixture(t, "compose.env")
	tg := mustNew(t, Config{Path: path, Format: "dotenv", Key: "SMTP_PASSWORD"})
	tg.beforeRename = func() error {
		f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		defer f.Close()
		_, err := f.WriteString("# edited\n")
		return err
	}
	err := tg.Write(context.Background(), value("", newSecret))
	if err == nil || !strings.Contains(err.Error(), "changed while") || !strings.Contains(err.Error(), path) {
		t.Fatalf("Write = %v", err)
	}
	if b, _ := os.ReadFile(path); strings.Contains(string(b), newSecret) || strings.Count(string(b), "# edited") != 3 {
		t.Errorf("file:\n%s", b)
	}
}
