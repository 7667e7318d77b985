package rules

import "testing"

// TestDocumentedSamplesRejected checks that a rule's validator rejects the
// sample credential its provider's documentation prints, which a generic
// rule may still report as a token but which no provider rule should.
func TestDocumentedSamplesRejected(t *testing.T) {
	for _, c := range []struct{ rule, sample string }{
		{"pagerduty-api-token", "y_NbAkKc66ryYTWUXYEu"},
		{"kubernetes-bootstrap-token", "abcdef.0123456789abcdef"},
	} {
		var found bool
		for _, r := range All() {
			if r.ID != c.rule {
				continue
			}
			found = true
			if r.Validate == nil || r.Validate([]byte(c.sample)) {
				t.Errorf("%s accepts its documented sample %q", c.rule, c.sample)
			}
		}
		if !found {
			t.Errorf("no rule %s", c.rule)
		}
	}
}

// TestExtendedPrivateKeyChecksum checks the BIP-32 validator against the
// specification's own test vector (computed outside this package), and
// that one changed character fails the checksum.
func TestExtendedPrivateKeyChecksum(t *testing.T) {
	if !extendedPrivateKey([]byte(bip32TestVector1)) {
		t.Fatal("BIP-32 test vector 1 rejected")
	}
	b := []byte(bip32TestVector1)
	b[50] = 'z'
	if extendedPrivateKey(b) {
		t.Error("corrupted key accepted")
	}
	xpub := "xpub661MyMwAqRbcFtXgS5sYJABqqG9YLmC4Q1Rdap9gSE8NqtwybGhePY2gZ29ESFjqJoCu1Rupje8YtGqsefD265TMg7usUDFdp6W1EGMcet8"
	if extendedPrivateKey([]byte(xpub)) {
		t.Error("public key accepted")
	}
}
