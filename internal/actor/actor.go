// Package actor compares the names of the people (and processes) that act
// on an incident: the opener, the one who started a run, an approver.
//
// A name is stored as given (the audit log keeps what the person typed)
// but compared by its key: the PRECIS Nickname profile of RFC 8266
// (golang.org/x/text/secure/precis), which trims and collapses spaces,
// maps compatibility forms with NFKC (fullwidth ａｌｉｃｅ is alice) and
// folds case. A plain strings.TrimSpace + ToLower would let "ａｌｉｃｅ"
// or "Alice\u00a0" approve alice's own incident.
//
// NFKC does not map look-alikes from other scripts (Cyrillic "а" in
// "аlice"), so a name that mixes Latin with Cyrillic or Greek letters is
// refused where names are compared: no real name needs that mix, and it
// is the usual way to pass for someone else.
//
// This is separation of duties between honest colleagues: --as is
// self-declared, so it stops mistakes and careless shortcuts, not a
// determined insider. Authenticated names (server tokens) reuse Key.
package actor

import (
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/norm"

	"github.com/rekeyhq/rekey/internal/errs"
)

// Key returns the form of name that comparisons use. It fails (errs.Invalid)
// for a name that is empty once trimmed, holds characters a name may not
// hold (control characters), or mixes scripts.
func Key(name string) (string, error) {
	// Surrounding tabs and newlines go too: precis would refuse them
	// as control characters, and "alice\t" is alice mistyped.
	k, err := precis.Nickname.CompareKey(strings.TrimSpace(name))
	if err != nil {
		return "", errs.New("actor", errs.Invalid, "", fmt.Sprintf("%q is not a usable name (--as NAME): %v", name, err))
	}
	if mixed(k) {
		return "", errs.New("actor", errs.Invalid, "", fmt.Sprintf("%q mixes letters of different scripts; give the name in one script (--as NAME)", name))
	}
	return k, nil
}

// Same reports whether a and b name the same actor. It compares keys
// where names have one and, for a stored name that has none (an opener
// recorded before names were checked), its trimmed, NFKC-mapped lower
// case. An empty name is nobody: it is the same as no one.
func Same(a, b string) bool {
	ka, kb := fold(a), fold(b)
	return ka != "" && ka == kb
}

func fold(name string) string {
	if k, err := Key(name); err == nil {
		return k
	}
	return strings.ToLower(norm.NFKC.String(strings.TrimSpace(name)))
}

// confusable are the scripts whose letters pass for Latin ones.
var confusable = []*unicode.RangeTable{unicode.Latin, unicode.Cyrillic, unicode.Greek}

// mixed reports whether s holds letters of more than one confusable script.
func mixed(s string) bool {
	seen := -1
	for _, r := range s {
		for i, t := range confusable {
			if unicode.Is(t, r) {
				if seen >= 0 && seen != i {
					return true
				}
				seen = i
			}
		}
	}
	return false
}
