package keys

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"strings"
	"testing"
)

// A replacement key has the leaked key's algorithm and size (RSA at
// least 2048 bits), reads back with Parse in the format asked for, and
// never prints.
func TestNewLike(t *testing.T) {
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		pub    any
		format string
		alg    string
	}{
		{rsa1024.Public(), FormatPKCS8, "RSA-2048"},
		{ec384.Public(), FormatOpenSSH, "ECDSA-P384"},
		{edPub, FormatOpenSSH, "Ed25519"},
		{edPub, FormatPKCS8, "Ed25519"},
	} {
		s, pub, err := NewLike(tc.pub, tc.format)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.alg, tc.format, err)
		}
		k, err := Parse(s)
		if err != nil {
			t.Fatalf("%s %s: the new key does not parse: %v", tc.alg, tc.format, err)
		}
		fp, _ := FingerprintsOf(pub)
		if k.Format != tc.format || k.Algorithm != tc.alg || k.Fingerprints.SPKISHA256 != fp.SPKISHA256 {
			t.Errorf("%s %s: got %s %s", tc.alg, tc.format, k.Format, k.Algorithm)
		}
		if p := fmt.Sprintf("%v %+v", s, s); strings.Contains(p, "PRIVATE KEY") {
			t.Errorf("the new key prints: %s", p)
		}
	}
	if _, _, err := NewLike(edPub, "PKCS#12"); err == nil {
		t.Errorf("an unknown format is accepted")
	}
}
