package rules

import (
	"slices"
	"testing"
)

// uncited lists the rules written before rules cited their sources. It
// only shrinks: a rule added without Source fails TestRulesCiteSources,
// and a listed rule that gains one must leave the list.
var uncited = []string{
	"aws-session-token",
	"aws-mws-auth-token",
	"gcp-oauth-client-secret",
	"gcp-oauth-refresh-token",
	"gcp-oauth-access-token",
	"azure-ad-client-secret",
	"netlify-legacy-token",
	"supabase-access-token",
	"openshift-user-token",
	"xai-api-key",
	"perplexity-api-key",
	"langsmith-api-key",
	"slack-workspace-token",
	"twilio-auth-token",
	"mailgun-api-key",
	"mailgun-private-key",
	"grafana-cloud-token",
	"prefect-api-key",
	"readme-api-key",
	"square-oauth-secret",
	"braintree-access-token",
	"shippo-api-token",
	"flutterwave-secret-key",
	"nuget-api-key",
	"crates-io-token",
	"private-key-dsa",
	"mssql-uri",
	"jdbc-url",
	"cli-password-flag",
	"generic-name-value-pair",
	"generic-password",
	"generic-password-bare",
	"generic-secret",
	"generic-secret-bare",
	"generic-token",
	"generic-token-bare",
	"generic-api-key",
	"generic-api-key-bare",
	"generic-xml-element",
	"generic-xml-attribute",
}

// TestRulesCiteSources enforces "no documentation, no rule" for every rule
// not in the legacy list above. Generic rules (a credential word and a
// value, such as prose-credential) describe no provider's format, so they
// have nothing to cite; their precision rests on their NoMatch examples and
// the corpus.
func TestRulesCiteSources(t *testing.T) {
	for _, r := range All() {
		listed := slices.Contains(uncited, r.ID)
		switch {
		case r.Source == "" && !listed && !r.Generic:
			t.Errorf("%s: no Source; cite the provider's documentation of the format", r.ID)
		case r.Source != "" && listed:
			t.Errorf("%s: cites its source now; remove it from the uncited list", r.ID)
		}
	}
}
