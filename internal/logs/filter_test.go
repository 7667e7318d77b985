package logs

import "testing"

func TestKeyFilter(t *testing.T) {
	var nilFilter *KeyFilter
	if !nilFilter.Match([]byte("x")) || !NewKeyFilter().Match([]byte("x")) || !NewKeyFilter("").Match([]byte("x")) {
		t.Error("an empty filter must accept everything")
	}
	f := NewKeyFilter("arn:aws:iam::1:user/bob")
	if !f.Match([]byte(`{"u":"arn:aws:iam::1:user\/bob"}`)) || f.Match([]byte(`{"u":"bob"}`)) {
		t.Error("escaped slash")
	}
	many := NewKeyFilter("k1", "k2", "k3", "k4", "k5", "k6", "k7", "hmac-sha256:abc")
	if many.ac == nil || !many.Match([]byte(`{"accessor":"hmac-sha256:abc"}`)) || many.Match([]byte(`{"accessor":"hmac-sha256:abd"}`)) {
		t.Error("Aho-Corasick filter")
	}
}

func TestTrimHead(t *testing.T) {
	if got := string(TrimHead([]byte("\xef\xbb\xbf \r\n\t{\"a\":1}"))); got != `{"a":1}` {
		t.Errorf("TrimHead = %q", got)
	}
}
