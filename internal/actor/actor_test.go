package actor

import (
	"testing"

	"github.com/rekeyhq/rekey/internal/errs"
)

func TestSame(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"alice", "alice", true},
		{"alice", "alice ", true},
		{"alice", " alice\t", true},
		{"alice", "Alice", true},
		{"alice", "ALICE", true},
		{"alice", "ａｌｉｃｅ", true},       // fullwidth: NFKC maps it
		{"alice", "alice\u00a0", true}, // a no-break space is a space
		{"Alice Smith", "alice  smith", true},
		{"Straße", "STRASSE", false}, // Nickname lowercases, it does not full-fold ß
		{"alice", "bob", false},
		{"alice", "alicia", false},
		{"alice", "аlice", false}, // Cyrillic а: no key, never the same
		{"", "", false},
		{"  ", "", false},
	} {
		if got := Same(tc.a, tc.b); got != tc.same {
			t.Errorf("Same(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.same)
		}
	}
}

func TestKeyRefuses(t *testing.T) {
	for _, name := range []string{"", "   ", "аlice", "bob\x00", "paypal\u0391"} {
		if k, err := Key(name); err == nil || errs.KindOf(err) != errs.Invalid {
			t.Errorf("Key(%q) = %q, %v; want an invalid-name error", name, k, err)
		}
	}
	for _, name := range []string{"alice", "Алиса", "Ελένη", "bob-2", "ops@example.org"} {
		if _, err := Key(name); err != nil {
			t.Errorf("Key(%q): %v", name, err)
		}
	}
}
