package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const clear = "ghp_s3cr3tValueThatMustNeverLeak0000x9Q"

func TestSecretNeverFormatsInClear(t *testing.T) {
	s := FromString(clear)
	type wrapper struct {
		Name string
		S    Secret
		P    *Secret
	}
	w := wrapper{"x", s, &s}
	outs := map[string]string{
		"String":  s.String(),
		"%v":      fmt.Sprintf("%v", s),
		"%+v":     fmt.Sprintf("%+v", w),
		"%#v":     fmt.Sprintf("%#v", w),
		"%s":      fmt.Sprintf("%s", s),
		"%q":      fmt.Sprintf("%q", s),
		"%x":      fmt.Sprintf("%x", s),
		"%d":      fmt.Sprintf("%d", s),
		"Println": fmt.Sprintln(s, &s),
	}
	j, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	outs["json"] = string(j)
	ms, err := json.Marshal(map[string]any{"v": s, "list": []Secret{s}})
	if err != nil {
		t.Fatal(err)
	}
	outs["json nested"] = string(ms)
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("m", "secret", s, "w", w)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("m", "secret", s)
	outs["slog"] = buf.String()
	for name, out := range outs {
		if strings.Contains(out, clear) || strings.Contains(out, "s3cr3t") || strings.Contains(out, fmt.Sprintf("%x", clear)[:16]) {
			t.Errorf("%s leaks the secret: %s", name, out)
		}
		if !strings.Contains(out, Redacted) {
			t.Errorf("%s does not say it redacted: %s", name, out)
		}
	}
	if string(s.Reveal()) != clear {
		t.Fatal("Reveal does not return the value")
	}
}

func TestEqualAndWipe(t *testing.T) {
	a, b := FromString("one-value"), FromString("one-value")
	if !a.Equal(b) || a.Equal(FromString("other")) {
		t.Fatal("Equal is wrong")
	}
	raw := []byte("copied-in")
	c := New(raw)
	raw[0] = 'X'
	if string(c.Reveal()) != "copied-in" {
		t.Fatal("New must copy its input")
	}
	c.Wipe()
	if !c.IsZero() {
		t.Fatal("Wipe left a value")
	}
}

func TestPreview(t *testing.T) {
	cases := map[string]string{
		"short":                          "…",
		"hunter2pass":                    "hu…",
		"AKIAZ7VRSQ5EXAMPLE12":           "AKIA…",
		clear:                            "ghp_…x9Q",
		"p\u00e4ssw\u00f6rd-l\u00e4nger": "p\u00e4…",
		"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----": "-----BEGIN OPENSSH PRIVATE KEY-----…",
	}
	for in, want := range cases {
		if got := Preview([]byte(in)); got != want {
			t.Errorf("Preview(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFingerprintIsKeyedAndStable(t *testing.T) {
	dir := t.TempDir()
	k1, err := LoadOrCreateKey(dir, InstallationKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, InstallationKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %o, want 600", st.Mode().Perm())
	}
	k2, err := LoadOrCreateKey(dir, InstallationKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k1, k2) {
		t.Fatal("second load made a new key")
	}
	f1, _ := NewFingerprinter(k1)
	other, _ := LoadOrCreateKey(t.TempDir(), InstallationKeyFile)
	f2, _ := NewFingerprinter(other)
	s := FromString(clear)
	if f1.Of(s) != f1.Of(FromString(clear)) {
		t.Fatal("fingerprint not stable")
	}
	if f1.Of(s) == f2.Of(s) {
		t.Fatal("fingerprint does not depend on the installation key")
	}
	if len(f1.Of(s)) != 64 || strings.Contains(string(f1.Of(s)), clear) {
		t.Fatalf("bad fingerprint %q", f1.Of(s))
	}
}

func TestKeyReadableByOthersIsRefused(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreateKey(dir, "k"); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "k"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(dir, "k"); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("want refusal, got %v", err)
	}
}
