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
