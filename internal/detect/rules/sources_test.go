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
	"bitbucket-app-password",
	"bitbucket-data-center-token",
	"gcp-service-account-key",
	"gcp-oauth-client-secret",
	"gcp-oauth-refresh-token",
	"gcp-oauth-access-token",
	"azure-ad-client-secret",
	"azure-service-bus-connection-string",
	"heroku-api-key",
	"heroku-api-key-legacy",
	"cloudflare-origin-ca-key",
	"vercel-token",
	"netlify-access-token",
	"netlify-legacy-token",
	"fastly-api-token",
	"supabase-access-token",
	"firebase-cloud-messaging-server-key",
	"databricks-token",
	"pulumi-access-token",
	"alibaba-access-key-id",
	"alibaba-access-key-secret",
	"flyio-token",
	"render-api-key",
	"openshift-user-token",
	"terraform-cloud-token",
	"xai-api-key",
	"perplexity-api-key",
	"langsmith-api-key",
	"slack-workspace-token",
	"twilio-auth-token",
	"mailgun-api-key",
	"mailgun-private-key",
	"grafana-cloud-token",
	"snyk-api-token",
	"onepassword-service-account-token",
	"sonar-token",
	"prefect-api-key",
	"readme-api-key",
	"planetscale-token",
	"square-oauth-secret",
	"braintree-access-token",
	"shippo-api-token",
	"flutterwave-secret-key",
	"pypi-upload-token",
	"rubygems-api-key",
	"nuget-api-key",
	"jfrog-api-key",
	"crates-io-token",
	"private-key-dsa",
	"mssql-uri",
	"ado-net-connection-string",
	"jdbc-url",
	"jdbc-oracle-thin",
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
