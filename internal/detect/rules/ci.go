package rules

import "github.com/rekeyhq/rekey/internal/detect"

// CI and deployment services beyond those in github.go's vcsRules.
func ciRules() []*detect.Rule {
	return []*detect.Rule{
		{
			ID:          "circleci-project-token",
			Provider:    "circleci",
			Description: "CircleCI project API token (CCIPRJ_ + base58 UUID + _ + 40 hex digits)",
			Source:      "https://circleci.com/changelog/new-format-for-api-access-tokens/",
			Keywords:    []string{"cciprj_"},
			Regex:       re(`\b(?P<secret>CCIPRJ_[A-Za-z0-9]{22}_[a-f0-9]{40})\b`),
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples:    []string{"curl -H 'Circle-Token: CCIPRJ_" + fake("cciprj-1", alnum, 22) + "_" + fake("cciprj-2", hexLower, 40) + "' https://circleci.com/api/v1.1/project/gh/acme/api"},
			NoMatch:     []string{"CCIPRJ_" + fake("cciprj-3", alnum, 22)},
		},
		{
			ID:          "circleci-legacy-token",
			Provider:    "circleci",
			Description: "CircleCI API token of the older form (40 hex digits) in its Circle-Token header",
			Source:      "https://circleci.com/docs/api/index.html",
			Keywords:    []string{"circle-token"},
			Regex:       re(`(?i:circle-token)["']?[ \t]*[:=,][ \t]*["']?(?P<secret>[0-9a-f]{40})\b`),
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples:    []string{`curl -H "Circle-Token: ` + fake("circle-1", hexLower, 40) + `" https://circleci.com/api/v1.1/me`},
			NoMatch:     []string{`curl -H "Circle-Token: <circle-token>" https://circleci.com/api/v1.1/me`, "Circle-Token: " + fake("circle-2", hexLower, 32)},
		},
		{
			ID:          "buildkite-agent-session-token",
			Provider:    "buildkite",
			Description: "Buildkite agent session (bkaa_) or agent job (bkaj_) token",
			Source:      "https://buildkite.com/docs/platform/security/tokens",
			Keywords:    []string{"bkaa_", "bkaj_"},
			Regex:       re(`\b(?P<secret>bka[aj]_[A-Za-z0-9]{40,})\b`),
			MinEntropy:  3.5,
			Severity:    detect.High,
			Examples: []string{
				"BUILDKITE_AGENT_ACCESS_TOKEN=bkaj_" + fake("bkaj-1", alnum, 60),
				"Authorization: Token bkaa_" + fake("bkaa-1", alnum, 70),
			},
			NoMatch: []string{"bkaa_" + fake("bkaa-2", alnum, 20), "bkaj_*************************************************"},
		},
		{
			ID:          "octopus-deploy-api-key",
			Provider:    "octopus",
			Description: "Octopus Deploy API key in its X-Octopus-ApiKey header",
			Source:      "https://octopus.com/docs/octopus-rest-api/getting-started",
			Keywords:    []string{"x-octopus-apikey"},
			Regex:       re(`(?i:x-octopus-apikey)["']?[ \t]*[:=,][ \t]*["']?(?P<secret>[A-Za-z0-9-]{20,64})(?:[^\w-]|$)`),
			Validate:    plausiblePassword,
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples:    []string{`curl -H "X-Octopus-ApiKey: API-` + fake("octo-1", upperAlnum, 27) + `" https://deploy.acme.io/api/projects`},
			NoMatch:     []string{`curl -H "X-Octopus-ApiKey: API-XXXXXXXXXXXXXXXXXXXXXXXXXXX" https://deploy.acme.io/api`},
		},
	}
}
