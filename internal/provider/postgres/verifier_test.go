package postgres

import (
	"crypto/md5"
	"encoding/hex"
	"strings"
	"testing"
)

func TestParseVerifier(t *testing.T) {
	good := scramVerifier("secret", []byte("0123456789abcdef"), 4096)
	stored, server, _ := strings.Cut(strings.SplitN(good, "$", 3)[2], ":")
	for _, c := range []struct {
		name, in, method, reason string
	}{
		{"scram", good, MethodSCRAM, ""},
		{"md5", "md5" + strings.Repeat("ab", 16), MethodMD5, ""},
		{"empty", "", "", "empty verifier"},
		{"plain text", "hunter2", "", "unrecognised verifier format"},
		{"other mechanism", "SCRAM-SHA-1$4096:c2FsdA==$a:b", "", "unrecognised verifier format"},
		{"md5 short", "md5abc", "", "md5 verifier is not 32 hex digits"},
		{"md5 not hex", "md5" + strings.Repeat("zz", 16), "", "md5 verifier is not 32 hex digits"},
		{"no keys", "SCRAM-SHA-256$4096:c2FsdA==", "", "missing '$' before the keys"},
		{"no salt", "SCRAM-SHA-256$4096$" + stored + ":" + server, "", "missing ':' between iterations and salt"},
		{"zero iterations", "SCRAM-SHA-256$0:c2FsdA==$" + stored + ":" + server, "", "iteration count is not a positive integer"},
		{"negative iterations", "SCRAM-SHA-256$-1:c2FsdA==$" + stored + ":" + server, "", "iteration count"},
		{"too many iterations", "SCRAM-SHA-256$10000001:c2FsdA==$" + stored + ":" + server, "", "iteration count above"},
		{"huge iterations", "SCRAM-SHA-256$99999999999999999999:c2FsdA==$" + stored + ":" + server, "", "iteration count"},
		{"bad salt", "SCRAM-SHA-256$4096:!!!$" + stored + ":" + server, "", "salt is not base64"},
		{"empty salt", "SCRAM-SHA-256$4096:$" + stored + ":" + server, "", "salt is not base64"},
		{"one key", "SCRAM-SHA-256$4096:c2FsdA==$" + stored, "", "missing ':' between StoredKey and ServerKey"},
		{"short StoredKey", "SCRAM-SHA-256$4096:c2FsdA==$c2FsdA==:" + server, "", "StoredKey is not a base64 SHA-256 value"},
		{"bad ServerKey", "SCRAM-SHA-256$4096:c2FsdA==$" + stored + ":%%%", "", "ServerKey is not a base64 SHA-256 value"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, err := parseVerifier(c.in)
			if c.reason != "" {
				if err == nil || !strings.Contains(err.Error(), c.reason) {
					t.Fatalf("parseVerifier = %v, %v; want an error saying %q", v, err, c.reason)
				}
				if c.in != "" && strings.Contains(err.Error(), c.in) {
					t.Errorf("the reason quotes the verifier: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.method != c.method {
				t.Errorf("method %q, want %q", v.method, c.method)
			}
		})
	}
}

func TestSCRAMMatches(t *testing.T) {
	v, err := parseVerifier(scramVerifier("correct horse", []byte("salt-salt-salt!!"), 4096))
	if err != nil {
		t.Fatal(err)
	}
	if !v.matches("r", []byte("correct horse"), candidates([]byte("correct horse"))) {
		t.Error("the password it was made from does not match")
	}
	for _, wrong := range []string{"correct horse ", "Correct horse", "correct hors", ""} {
		if v.matches("r", []byte(wrong), candidates([]byte(wrong))) {
			t.Errorf("%q matches", wrong)
		}
	}
}

// TestSCRAMKnownAnswer checks the derivation against verifiers PostgreSQL
// 15 computed itself (CREATE ROLE … PASSWORD '…', then pg_authid).
func TestSCRAMKnownAnswer(t *testing.T) {
	for _, c := range []struct{ password, fromServer string }{
		{"pencil", "SCRAM-SHA-256$4096:PR/xtqBWWUM3kMY3EEXRHg==$z52d112zDhPpwd5v10aZju9k05L6A1CJLDRacDbQZYI=:kcZBUV8bi8FxqgQ4vVYxbJqVP0IkJ0+5vPMsCEHs1TE="},
		// The server hashed SASLprep's "päss wfi".
		{"p\u00e4ss\u00a0w\ufb01", "SCRAM-SHA-256$4096:GPNO87Y0Kn4rLSYoHdQnGw==$LcgMzBqbklSB8ovZUWcj8CaiH1FvvaselwVZJSdhIN4=:csXA/s9myeIbCc8cQIdhi26YilqdQCSlT7MLMRX10ZM="},
	} {
		v, err := parseVerifier(c.fromServer)
		if err != nil {
			t.Fatal(err)
		}
		if !v.matches("r", []byte(c.password), candidates([]byte(c.password))) {
			t.Errorf("%q does not match PostgreSQL's own verifier for it", c.password)
		}
		if c.password != saslPrep(c.password) && v.matches("r", nil, []string{c.password}) {
			t.Errorf("%q matches unprepared: the known answer does not test SASLprep", c.password)
		}
	}
}

func TestMD5Matches(t *testing.T) {
	// PostgreSQL: 'md5' || md5('secret' || 'alice').
	v, err := parseVerifier("md5" + md5hex("secretalice"))
	if err != nil {
		t.Fatal(err)
	}
	if !v.matches("alice", []byte("secret"), nil) {
		t.Error("md5 verifier does not match its password")
	}
	if v.matches("bob", []byte("secret"), nil) {
		t.Error("md5 verifier matches for another role name (the name is its salt)")
	}
}

func TestSASLPrep(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain ascii", "plain ascii"},
		{"tab\tand\x7f", "tab\tand\x7f"}, // ASCII is left alone, as PostgreSQL does
		{"a\u00a0b", "a b"},              // non-ASCII space → space
		{"a\u200bb", "a b"},              // zero width space is in C.1.2 first
		{"a\u00adb", "ab"},               // soft hyphen → nothing
		{"\ufb01x", "fix"},               // NFKC: the ligature
		{"a\u0308", "ä"},                 // NFKC composes
		{"Ａ", "A"},                       // fullwidth
		{"\xff\xfe", "\xff\xfe"},         // invalid UTF-8 is hashed raw
	} {
		if got := saslPrep(c.in); got != c.want {
			t.Errorf("saslPrep(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := candidates([]byte("ascii")); len(got) != 1 {
		t.Errorf("an ASCII password has %d candidate forms, want 1", len(got))
	}
	if got := candidates([]byte("a\u00a0b")); len(got) != 2 || got[0] != "a b" || got[1] != "a\u00a0b" {
		t.Errorf("candidates = %q, want the prepared form then the raw one", got)
	}
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}
