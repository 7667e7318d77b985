package rules

import "github.com/rekeyhq/rekey/internal/detect"

// Identity providers: tokens that act as an administrator of a directory.
func identityRules() []*detect.Rule {
	return []*detect.Rule{
		{
			ID:          "auth0-client-secret",
			Provider:    "auth0",
			Description: "Auth0 application client secret in AUTH0_CLIENT_SECRET (the Deploy CLI's variable and config.json key) or a key that names it; with the client id it gets Management API tokens",
			Source:      "https://auth0.com/docs/deploy-monitor/deploy-cli-tool/configure-the-deploy-cli",
			Keywords:    []string{"auth0"},
			Regex:       keyed(`auth0[_.-]?client[_.-]?secret`, `[A-Za-z0-9_-]{32,128}`),
			MinEntropy:  4.0,
			Severity:    detect.Critical,
			Examples: []string{
				"export AUTH0_DOMAIN=acme.eu.auth0.com\nexport AUTH0_CLIENT_ID=" + fake("auth0-1", alnum, 32) + "\nexport AUTH0_CLIENT_SECRET=" + fake("auth0-2", alnum+"_-", 64),
				`{"AUTH0_DOMAIN": "acme.us.auth0.com", "AUTH0_CLIENT_SECRET": "` + fake("auth0-3", alnum+"_-", 64) + `"}`,
			},
			NoMatch: []string{"export AUTH0_CLIENT_SECRET={yourClientSecret}", "AUTH0_CLIENT_SECRET=$AUTH0_SECRET"},
		},
		{
			ID:          "okta-ssws-header",
			Provider:    "okta",
			Description: "Okta API token in its SSWS authorization header (Authorization: SSWS 00…)",
			Source:      "https://developer.okta.com/docs/guides/create-an-api-token/next-steps/",
			Keywords:    []string{"ssws "},
			Regex:       re(`(?i:ssws)[ \t]+(?P<secret>00[A-Za-z0-9_-]{40})(?:[^\w-]|$)`),
			MinEntropy:  3.5,
			Severity:    detect.Critical,
			Examples: []string{
				`curl -H "Authorization: SSWS 00` + fake("ssws-1", alnum+"_-", 40) + `" https://acme.okta.com/api/v1/users`,
				"headers = {'Authorization': 'SSWS 00" + fake("ssws-2", alnum, 40) + "'}",
			},
			NoMatch: []string{"Authorization: SSWS 00QCjAl4MlV-WPXM...0HmjFx-vbGua", "Authorization: SSWS ${OKTA_API_TOKEN}"},
		},
	}
}
