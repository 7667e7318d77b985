package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/errs"
)

// An AWS key pair on any of the three inputs is its secret access key, for
// the fingerprint and the copies; its key id is kept in clear beside it.
func TestSecretInputAWSKeyPair(t *testing.T) {
	const id = "AKIAIOSFODNN7EXAMPLE"
	const sec = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	block := "[default]\naws_access_key_id = " + id + "\naws_secret_access_key = " + sec + "\n"
	dir := t.TempDir()
	file := filepath.Join(dir, "key")
	if err := os.WriteFile(file, []byte(block), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		flags secretFlags
		env   Env
	}{
		{"file with a credentials block", secretFlags{file: file}, Env{}},
		{"stdin with KEY_ID:SECRET", secretFlags{stdin: true}, Env{Stdin: strings.NewReader(id + ":" + sec + "\n")}},
		{"env with KEY_ID:SECRET", secretFlags{env: "LEAKED"}, Env{Getenv: func(k string) string {
			if k == "LEAKED" {
				return id + ":" + sec
			}
			return ""
		}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.flags
			s, err := f.read(&globals{env: tc.env})
			if err != nil {
				t.Fatal(err)
			}
			if string(s.Reveal()) != sec {
				t.Errorf("secret %q, want the secret access key alone", s.Reveal())
			}
			if f.keyID != id {
				t.Errorf("key id %q, want %q", f.keyID, id)
			}
		})
	}

	// A plain secret is taken whole, with no key id.
	f := secretFlags{stdin: true}
	s, err := f.read(&globals{env: Env{Stdin: strings.NewReader("user:pa:ss\n")}})
	if err != nil || string(s.Reveal()) != "user:pa:ss" || f.keyID != "" {
		t.Errorf("plain secret: %q, key id %q, %v", s.Reveal(), f.keyID, err)
	}

	// Half a key pair is an input error that quotes no part of the secret.
	f = secretFlags{stdin: true}
	_, err = f.read(&globals{env: Env{Stdin: strings.NewReader("aws_secret_access_key = " + sec + "\n")}})
	if errs.KindOf(err) != errs.Invalid || strings.Contains(err.Error(), sec) {
		t.Errorf("a block without a key id: %v, want Invalid without the secret", err)
	}
}
