package rules

import "github.com/rekeyhq/rekey/internal/detect"

// Messaging and e-mail delivery services beyond those in saas.go.
func messagingRules() []*detect.Rule {
	return []*detect.Rule{
		{
			ID:          "postmark-server-token",
			Provider:    "postmark",
			Description: "Postmark server or account API token in its X-Postmark-Server-Token / X-Postmark-Account-Token header",
			Source:      "https://postmarkapp.com/developer/api/overview",
			Keywords:    []string{"x-postmark-server-token", "x-postmark-account-token"},
			Regex:       re(`(?i:x-postmark-(?:server|account)-token)["']?[ \t]*[:=,][ \t]*["']?(?P<secret>[A-Za-z0-9-]{20,})(?:[^\w-]|$)`),
			MinEntropy:  3.0,
			Validate:    plausiblePassword,
			Severity:    detect.High,
			Examples: []string{
				`curl "https://api.postmarkapp.com/email" -H "X-Postmark-Server-Token: ` + uuidLike("pm-1") + `"`,
				`headers: { "X-Postmark-Account-Token": "` + uuidLike("pm-2") + `" }`,
			},
			NoMatch: []string{`-H "X-Postmark-Server-Token: server token"`, `-H "X-Postmark-Server-Token: POSTMARK_API_TEST"`},
		},
	}
}
