// Package detect finds secrets in bytes. A Detector holds a rule set; a
// keyword prefilter (one Aho-Corasick automaton over every rule's keywords)
// finds candidate windows, and only there do the rules' regular expressions,
// validators, entropy floors and placeholder filters run. The rules
// themselves live in detect/rules.
package detect

import (
	"fmt"
	"regexp"
	"strings"
)

// Severity orders findings for triage.
type Severity int

const (
	Low Severity = iota + 1
	Medium
	High
	Critical
)

var severityNames = map[Severity]string{Low: "low", Medium: "medium", High: "high", Critical: "critical"}

func (s Severity) String() string {
	if n, ok := severityNames[s]; ok {
		return n
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s *Severity) UnmarshalText(b []byte) error {
	for k, v := range severityNames {
		if v == string(b) {
			*s = k
			return nil
		}
	}
	return fmt.Errorf("unknown severity %q", b)
}

// Rule describes one documented credential format.
//
// The secret is the submatch named "secret" when the regex has one, else the
// first submatch, else the whole match. Other named submatches ("user",
// "host", "account", "key_id"…) become identity hints on the finding.
type Rule struct {
	ID          string
	Provider    string
	Description string
	// Source is the URL of the provider's own documentation of this
	// format (prefix, length, alphabet, checksum): the rule's citation.
	Source string
	// Keywords are case-insensitive literals, at least one of which occurs
	// in every match (normally inside it). The regex only runs near them.
	Keywords []string
	Regex    *regexp.Regexp
	// Validate, when set, must accept the secret (a checksum, a structure
	// check); a candidate it rejects is not a finding.
	Validate func(secret []byte) bool
	// MinEntropy is a floor on the secret's Shannon entropy in bits per
	// byte; 0 means none. Formats with a fixed prefix and checksum need
	// none; generic assignments do.
	MinEntropy float64
	Severity   Severity
	// Window is how many bytes past a keyword the match may extend, for
	// formats that span lines (PEM blocks, JSON key files). Zero means the
	// keyword's own line.
	Window int
	// Generic marks rules that match a key name rather than a value format
	// (password=…); their values get the strict placeholder filter.
	Generic bool
	// HexValues, on a generic rule, takes a value of 32 hex digits for a
	// credential, not an MD5 digest: a quoted apiKey in an app's JSON or
	// YAML config is one (many providers issue 32-hex keys). Other hash
	// lengths, and hex elsewhere, stay digests.
	HexValues bool
	// Identity derives hints about whose credential this is (an AWS key id
	// gives the account). It runs after the named submatches are copied.
	Identity func(secret []byte, hints map[string]string)
	// Anchor, when set, says where every match starts relative to a
	// keyword hit; the engine then tries the regex anchored there, once per
	// hit, instead of searching the hit's window.
	Anchor Anchor
	// WordStart makes a match that continues a word (the byte before it a
	// letter, digit or _) no match: "password" in prose, not in
	// keyVaultPasswords. It lets an anchored rule check what a regex
	// anchored at the keyword cannot see.
	WordStart bool
	// PairWith names another rule whose finding, within PairDistance bytes,
	// is the other half of this credential (an AWS secret key and its key
	// id). The pair is linked on both findings.
	PairWith     string
	PairDistance int
	// Examples must each produce a finding of this rule, and NoMatch must
	// produce none from any rule: the rule carries its own proof.
	Examples []string
	NoMatch  []string
}

// Anchor is where a rule's matches start relative to a keyword hit. On a
// long line dense with keywords (a minified bundle naming token and
// password every few dozen bytes) an anchored rule costs a few bytes per
// hit where a windowed one rescans the whole line.
type Anchor uint8

const (
	// AtKeyword: the match starts at the keyword's first byte.
	AtKeyword Anchor = 1 << iota
	// AtLineStart: the match starts at the start of the keyword's line.
	AtLineStart
)

// validateRule checks what the engine relies on, so a bad rule fails at
// construction with its id rather than misbehaving during a scan.
func validateRule(r *Rule) error {
	switch {
	case r.ID == "":
		return fmt.Errorf("rule without id")
	case r.Regex == nil:
		return fmt.Errorf("rule %s: no regex", r.ID)
	case len(r.Keywords) == 0:
		return fmt.Errorf("rule %s: no keywords; every rule needs a prefilter", r.ID)
	case r.Severity < Low || r.Severity > Critical:
		return fmt.Errorf("rule %s: severity unset", r.ID)
	case r.Provider == "":
		return fmt.Errorf("rule %s: no provider", r.ID)
	}
	for _, k := range r.Keywords {
		if len(k) < 3 {
			return fmt.Errorf("rule %s: keyword %q is too short to prefilter", r.ID, k)
		}
		if k != strings.ToLower(k) {
			return fmt.Errorf("rule %s: keyword %q must be lower case (matching ignores case)", r.ID, k)
		}
	}
	return nil
}

func secretGroup(re *regexp.Regexp) int {
	if i := re.SubexpIndex("secret"); i > 0 {
		return i
	}
	if re.NumSubexp() > 0 {
		return 1
	}
	return 0
}
