package rules

import (
	"strings"

	"github.com/rekeyhq/rekey/internal/detect"
)

// evenMoreCIRules are forge tokens without a prefix, build caches and the
// test services builds report to: Azure DevOps legacy PATs, SonarQube Cloud
// tokens, Nx Cloud, Turborepo, Percy, Cypress Cloud, Sauce Labs,
// BrowserStack.
func evenMoreCIRules() []*detect.Rule {
	return []*detect.Rule{
		keyedRuleWith("azure-devops-pat-legacy", "azure",
			"Azure DevOps personal access token of the older format (52 base32 characters) in a key that names Azure DevOps, ADO, AZDO or VSTS",
			"https://learn.microsoft.com/en-us/azure/devops/organizations/accounts/use-personal-access-tokens-to-authenticate", []string{"devops", "azdo", "ado_", "ado-", "vsts"},
			`(?:azure[_.-]?devops|\bado|azdo|vsts|system[_.-]?accesstoken)[\w.-]{0,20}?(?:pat|token)`, `[a-z2-7]{52}`, hasLetterAndDigit, detect.High,
			[]string{"AZURE_DEVOPS_EXT_PAT=" + fake("adopat-1", "abcdefghijklmnopqrstuvwxyz234567", 52), `ado_token: "` + fake("adopat-2", "abcdefghijklmnopqrstuvwxyz234567", 52) + `"`},
			[]string{"AZURE_DEVOPS_EXT_PAT=$(System.AccessToken)", "ADO_PAT=" + strings.Repeat("a", 52)}),
		keyedRuleWith("sonarqube-cloud-token", "sonarqube",
			"SonarQube Cloud (SonarCloud) or older SonarQube Server token (40 hex digits, no prefix) in SONAR_TOKEN, sonar.login or a key that names Sonar",
			"https://docs.sonarsource.com/sonarqube-cloud/managing-your-account/managing-tokens/", []string{"sonar"},
			`sonar[\w.-]{0,12}?(?:token|login)`, `[0-9a-f]{40}`, hasLetterAndDigit, detect.High,
			[]string{"SONAR_TOKEN=" + fake("sonarc-1", hexLower, 40), "mvn verify sonar:sonar -Dsonar.login=" + fake("sonarc-2", hexLower, 40)},
			[]string{"SONAR_TOKEN: ${{ secrets.SONAR_TOKEN }}", "-Dsonar.login=" + strings.Repeat("0", 40)}),
		keyedRuleWith("nx-cloud-access-token", "nx",
			"Nx Cloud access token in NX_CLOUD_ACCESS_TOKEN, NX_CLOUD_AUTH_TOKEN or nxCloudAccessToken: reads, and with read-write tokens writes, the remote cache",
			"https://nx.dev/ci/recipes/security/access-tokens", []string{"nx_cloud", "nx-cloud", "nxcloud"},
			`nx[_.-]?cloud[_.-]?(?:access[_.-]?|auth[_.-]?)?token`, `[A-Za-z0-9+/=|_-]{40,}`, mixedCase, detect.High,
			[]string{"NX_CLOUD_ACCESS_TOKEN=" + b64std(fake("nx-1", alnum, 36)+"|read-write"), `"nxCloudAccessToken": "` + fake("nx-2", b64, 64) + `"`},
			[]string{"NX_CLOUD_ACCESS_TOKEN: ${{ secrets.NX_CLOUD_ACCESS_TOKEN }}"}),
		keyedRuleWith("turborepo-remote-cache-token", "vercel",
			"Turborepo remote cache token in TURBO_TOKEN: reads and writes the team's build cache (a Vercel token on Vercel's cache)",
			"https://turborepo.com/docs/reference/system-environment-variables", []string{"turbo"},
			`turbo[_.-]?token`, `[A-Za-z0-9_-]{24,}`, mixedCase, detect.High,
			[]string{"TURBO_TEAM=acme\nTURBO_TOKEN=" + fake("turbo-1", alnum, 24)},
			[]string{"TURBO_TOKEN: ${{ secrets.TURBO_TOKEN }}"}),
		keyedRuleWith("percy-token", "percy",
			"Percy (BrowserStack) project token in PERCY_TOKEN: uploads snapshots to the project",
			"https://www.browserstack.com/docs/percy/get-started/set-env-var", []string{"percy"},
			`percy[_.-]?token`, `(?:(?:web|auto|app|ss|vmw|res)_)?[0-9a-f]{64}`, hasLetterAndDigit, detect.Medium,
			[]string{"export PERCY_TOKEN=web_" + fake("percy-1", hexLower, 64), "PERCY_TOKEN=" + fake("percy-2", hexLower, 64)},
			[]string{"PERCY_TOKEN=<your-project-token>"}),
		{
			ID:          "cypress-record-key",
			Provider:    "cypress",
			Description: "Cypress Cloud record key (a UUID) in CYPRESS_RECORD_KEY or cypress run --record --key: records runs to the project",
			Source:      "https://docs.cypress.io/cloud/account-management/projects#Record-key",
			Keywords:    []string{"cypress", "--record"},
			Regex:       re(`(?:(?i:cypress[_.-]?record[_.-]?key)` + sep + `|--record\s+--key[ =])(?P<secret>` + uuidPattern + `)\b`),
			MinEntropy:  3.0,
			Severity:    detect.Medium,
			Examples:    []string{"CYPRESS_RECORD_KEY=" + uuidLike("cypress-1"), "npx cypress run --record --key " + uuidLike("cypress-2")},
			NoMatch:     []string{"CYPRESS_RECORD_KEY: ${{ secrets.CYPRESS_RECORD_KEY }}", "record_key: " + uuidLike("cypress-3")},
		},
		keyedRuleWith("saucelabs-access-key", "saucelabs",
			"Sauce Labs access key (a UUID) in SAUCE_ACCESS_KEY or a key that names Sauce Labs: runs tests billed to the account and reads their results",
			"https://docs.saucelabs.com/basics/environment-variables/", []string{"sauce"},
			`sauce[\w.-]{0,12}?access[_.-]?key`, uuidPattern, nil, detect.High,
			[]string{"SAUCE_USERNAME=acme-ci\nSAUCE_ACCESS_KEY=" + uuidLike("sauce-1")},
			[]string{"SAUCE_ACCESS_KEY=${SAUCE_ACCESS_KEY}"}),
		keyedRuleWith("browserstack-access-key", "browserstack",
			"BrowserStack access key (20 letters and digits) in BROWSERSTACK_ACCESS_KEY or a key that names BrowserStack",
			"https://www.browserstack.com/docs/automate/selenium/set-up-environment-variables", []string{"browserstack"},
			`browserstack[\w.-]{0,12}?(?:access[_.-]?)?key`, `[A-Za-z0-9]{20}`, mixedCase, detect.High,
			[]string{"BROWSERSTACK_USERNAME=acme1\nBROWSERSTACK_ACCESS_KEY=" + fake("bs-1", alnum, 20)},
			[]string{"BROWSERSTACK_ACCESS_KEY=YOUR_ACCESS_KEY"}),
	}
}
