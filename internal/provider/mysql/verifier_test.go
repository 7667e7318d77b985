package mysql

import (
	"encoding/hex"
	"strings"
	"testing"
)

// Drepper's reference vectors for SHA-256 crypt ("Unix crypt using
// SHA-256 and SHA-512", the test table at its end), as stored strings.
var sha256CryptVectors = []struct{ password, stored string }{
	{"Hello world!", "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"},
	{"Hello world!", "$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA"},
	{"This is just a test", "$5$rounds=5000$toolongsaltstrin$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5"},
	{"a very much longer text to encrypt.  This one even stretches over morethan one line.", "$5$rounds=1400$anotherlongsalts$Rx.j8H.h8HjEDGomFU8bDkXm3XIUnzyxf12oP84Bnq1"},
	{"we have a short salt string but not a short password", "$5$rounds=77777$short$JiO1O3ZpDAxGJeaDIuqCoEFysAe1mZNJRs3pw0KQRd/"},
	{"a short string", "$5$rounds=123456$asaltof16chars..$gP3VQ/6X7UUEW3HkBn2w1/Ptq2jxPyzV/cZKmF/wJvD"},
	{"the minimum number is still observed", "$5$rounds=1000$roundstoolow$yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC"},
}

func TestSHA256CryptReferenceVectors(t *testing.T) {
	for _, v := range sha256CryptVectors {
		ver, err := parseVerifier(MethodSHA256, v.stored)
		if err != nil {
			t.Fatalf("parse %q: %v", v.stored, err)
		}
		if !ver.matches(newCandidate([]byte(v.password))) {
			t.Errorf("%q does not accept %q: computed %s", v.stored, v.password, sha256Crypt([]byte(v.password), ver.salt, ver.rounds))
		}
		if ver.matches(newCandidate([]byte(v.password + "x"))) {
			t.Errorf("%q accepts a wrong password", v.stored)
		}
	}
}

// cachingSHA2 builds a MySQL caching_sha2_password authentication_string
// from hashcat's mode 7401 layout ($mysql$A$005*salt hex*digest hex).
func cachingSHA2(t *testing.T, hashcat string) string {
	t.Helper()
	parts := strings.Split(strings.TrimPrefix(hashcat, "$mysql"), "*")
	salt, err1 := hex.DecodeString(parts[1])
	digest, err2 := hex.DecodeString(parts[2])
	if err1 != nil || err2 != nil {
		t.Fatalf("bad vector %q", hashcat)
	}
	return parts[0] + "$" + string(salt) + string(digest)
}

func TestCachingSHA2Vectors(t *testing.T) {
	// Published examples of MySQL 8 hashes: hashcat's example for mode 7401
	// (password "hashcat") and one of password "password".
	cases := []struct{ password, hashcat string }{
		{"hashcat", "$mysql$A$005*F9CC98CE08892924F50A213B6BC571A2C11778C5*625479393559393965414D45316477456B484F41316E64484742577A2E3162785353526B7554584647562F"},
		{"password", "$mysql$A$005*06437A150142644D74187A6A2F0D7971094F2575*48667A67485366745A304F6A487A73704250663465337A7530325157687A51364A384D737554424939702E"},
	}
	for _, c := range cases {
		ver, err := parseVerifier(MethodCachingSHA2, cachingSHA2(t, c.hashcat))
		if err != nil {
			t.Fatalf("parse: %v", err)
		}
		if ver.rounds != 5000 {
			t.Errorf("rounds = %d, want 5000", ver.rounds)
		}
		if !ver.matches(newCandidate([]byte(c.password))) {
			t.Errorf("caching_sha2 hash of %q not matched", c.password)
		}
		if ver.matches(newCandidate([]byte(c.password + "!"))) {
			t.Errorf("caching_sha2 hash of %q matches a wrong password", c.password)
		}
	}
}

func TestEd25519Vector(t *testing.T) {
	// SELECT ed25519_password('secret') on MariaDB with auth_ed25519, as
	// MariaDB's documentation and its connectors' tests show it.
	ver, err := parseVerifier(MethodEd25519, "ZIgUREUg5PVgQ6LskhXmO+eZLS0nC8be6HPjYWR4YJY")
	if err != nil {
		t.Fatal(err)
	}
	if !ver.matches(newCandidate([]byte("secret"))) {
		t.Error("ed25519 key of \"secret\" not matched")
	}
	if ver.matches(newCandidate([]byte("secreT"))) {
		t.Error("ed25519 key matches a wrong password")
	}
}

func TestNativeAndOld(t *testing.T) {
	// PASSWORD('abc') and OLD_PASSWORD('abc') as MariaDB computes them.
	if got := NativePassword([]byte("abc")); got != "*0D3CED9BEC10A777AEC23CCC353A8C08A633045E" {
		t.Errorf("NativePassword(abc) = %s", got)
	}
	if got := hex.EncodeToString(oldHash([]byte("abc"))); got != "7cd2b5942be28759" {
		t.Errorf("oldHash(abc) = %s", got)
	}
}
