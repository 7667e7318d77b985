package rules

import "github.com/rekeyhq/rekey/internal/detect"

// Identity providers: tokens that act as an administrator of a directory.
func identityRules() []*detect.Rule {
	return []*detect.Rule{
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
