package rules

import (
	"strings"

	"github.com/rekeyhq/rekey/internal/detect"
)

const uuidPattern = `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`

// teamcityToken accepts a TeamCity token whose last part is the base64 of
// the token's UUID, as the server issues them.
func teamcityToken(v []byte) bool {
	parts := strings.Split(string(v), ".")
	if len(parts) != 3 {
		return false
	}
	id, ok := decodeB64(parts[2])
	return ok && uuidRE.Match(id)
}

var uuidRE = re(`^` + uuidPattern + `$`)

// moreCIRules are CI/CD servers, code forges and the platforms builds
// deploy to: Jenkins, Travis CI, Drone, Harness, Codecov, TeamCity, Gitea,
// Rancher, Portainer.
func moreCIRules() []*detect.Rule {
	return []*detect.Rule{
		{
			ID:          "jenkins-api-token",
			Provider:    "jenkins",
			Description: "Jenkins user API token (11 and 32 hex digits, or 32 hex digits before 2.129) in a key that names Jenkins or a jenkins-cli -auth user:token",
			Source:      "https://www.jenkins.io/doc/book/system-administration/authenticating-scripted-clients/",
			Keywords:    []string{"jenkins"},
			Regex: re(`(?:(?i:jenkins)[\w.-]{0,20}?(?i:token|api[_.-]?key|password|pass|auth)` + sep + `(?:[\w.@-]+:)?|(?i:jenkins)[^\n]*?\s-auth\s+[\w.@-]+:)` +
				`(?P<secret>(?:11)?[0-9a-f]{32})(?:[^\w-]|$)`),
			Validate:   hasLetterAndDigit,
			MinEntropy: 3.0,
			Severity:   detect.Critical,
			Examples: []string{
				"JENKINS_API_TOKEN=11" + fake("jenkins-1", hexLower, 32),
				"java -jar jenkins-cli.jar -s https://ci.acme.io/ -auth deploy:11" + fake("jenkins-2", hexLower, 32) + " build release",
				`jenkins_token: "` + fake("jenkins-3", hexLower, 32) + `"`,
			},
			NoMatch: []string{"JENKINS_API_TOKEN=${JENKINS_API_TOKEN}", "jenkins_token: 11" + strings.Repeat("0", 32)},
		},
		keyedRuleWith("travis-ci-api-token", "travis-ci",
			"Travis CI API token (22 characters) in TRAVIS_API_TOKEN, TRAVIS_TOKEN or a key that names Travis",
			"https://docs.travis-ci.com/user/triggering-builds/", []string{"travis"},
			`travis[\w.-]{0,20}?(?:token|api[_.-]?key)`, `[A-Za-z0-9_-]{22}`, mixedCase, detect.High,
			[]string{"export TRAVIS_API_TOKEN=" + fake("travis-1", alnum, 22), `travis_token: "` + fake("travis-2", alnum, 22) + `"`},
			[]string{"TRAVIS_TOKEN=xxxxxxxxxxxxxxxxxxxxxx", "-H \"Authorization: token $TRAVIS_TOKEN\""}),
		keyedRuleWith("drone-token", "drone",
			"Drone CI personal token (32 letters and digits) in DRONE_TOKEN or a key that names Drone",
			"https://docs.drone.io/cli/setup/", []string{"drone_", "drone-"},
			`drone[_.-]?(?:api[_.-]?)?token`, `[A-Za-z0-9]{32}`, mixedCase, detect.High,
			[]string{"export DRONE_SERVER=https://drone.acme.io\nexport DRONE_TOKEN=" + fake("drone-1", alnum, 32)},
			[]string{"DRONE_TOKEN=<your-token>", "export DRONE_TOKEN=" + strings.Repeat("a", 32)}),
		{
			ID:          "harness-api-token",
			Provider:    "harness",
			Description: "Harness personal access token (pat.) or service account token (sat.): account id, token id and secret, dot-separated",
			Source:      "https://developer.harness.io/docs/platform/automation/api/add-and-manage-api-keys",
			Keywords:    []string{"pat.", "sat."},
			Regex:       re(`(?P<secret>[ps]at\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{20})(?:[^\w.-]|$)`),
			Anchor:      detect.AtKeyword,
			WordStart:   true,
			Validate:    func(v []byte) bool { return mixedCase(v[len(v)-20:]) },
			MinEntropy:  3.5,
			Severity:    detect.Critical,
			Identity: func(v []byte, hints map[string]string) {
				if parts := strings.Split(string(v), "."); len(parts) == 4 {
					hints["account"] = parts[1]
				}
			},
			Examples: []string{
				"HARNESS_PLATFORM_API_KEY=pat." + fake("harness-1", alnum+"_-", 22) + "." + fake("harness-2", hexLower, 24) + "." + fake("harness-3", alnum, 20),
				`-H "x-api-key: sat.` + fake("harness-4", alnum, 22) + "." + fake("harness-5", hexLower, 24) + "." + fake("harness-6", alnum, 20) + `"`,
			},
			NoMatch: []string{"x-api-key: pat.<accountId>.<tokenId>.<secret>", "pat." + strings.Repeat("a", 22) + "." + strings.Repeat("0", 24) + "." + strings.Repeat("b", 20)},
		},
		keyedRuleWith("codecov-upload-token", "codecov",
			"Codecov upload token (a UUID) in CODECOV_TOKEN or a key that names Codecov",
			"https://docs.codecov.com/docs/adding-the-codecov-token", []string{"codecov"},
			`codecov[\w.-]{0,12}?token`, uuidPattern, nil, detect.Medium,
			[]string{"CODECOV_TOKEN=" + uuidLike("codecov-1"), "        with:\n          codecov_token: " + uuidLike("codecov-2")},
			[]string{"CODECOV_TOKEN: ${{ secrets.CODECOV_TOKEN }}", "CODECOV_TOKEN=00000000-0000-0000-0000-000000000000"}),
		{
			ID:          "teamcity-access-token",
			Provider:    "teamcity",
			Description: "JetBrains TeamCity access token (a three-part token whose header decodes to {\"typ\": \"TCV2\"})",
			Source:      "https://www.jetbrains.com/help/teamcity/configuring-your-user-profile.html#Managing+Access+Tokens",
			Keywords:    []string{"eyj0exaioiaivenwmij9"},
			Regex:       re(`\b(?P<secret>eyJ0eXAiOiAiVENWMiJ9\.[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{30,})(?:[^\w-]|$)`),
			Validate:    teamcityToken,
			MinEntropy:  3.5,
			Severity:    detect.High,
			Examples:    []string{"TEAMCITY_TOKEN=eyJ0eXAiOiAiVENWMiJ9." + rawURL64(fake("tc-1", b64url, 27)) + "." + rawURL64(uuidLike("tc-2"))},
			NoMatch:     []string{"teamcity token eyJ0eXAiOiAiVENWMiJ9.<redacted>", "eyJ0eXAiOiAiVENWMiJ9." + rawURL64(fake("tc-3", b64url, 27)) + "." + rawURL64("not a uuid, just some text here")},
		},
		keyedRuleWith("gitea-access-token", "gitea",
			"Gitea, Forgejo or Codeberg access token (40 hex digits) in a key that names Gitea, Forgejo or Codeberg",
			"https://docs.gitea.com/development/api-usage", []string{"gitea", "forgejo", "codeberg"},
			`(?:gitea|forgejo|codeberg)[\w.-]{0,20}?(?:token|api[_.-]?key)`, `[0-9a-f]{40}`, hasLetterAndDigit, detect.High,
			[]string{"GITEA_TOKEN=" + fake("gitea-1", hexLower, 40), `forgejo_access_token: "` + fake("gitea-2", hexLower, 40) + `"`},
			[]string{"GITEA_TOKEN=${{ secrets.GITEA_TOKEN }}", "GITEA_TOKEN=" + strings.Repeat("0", 40)}),
		{
			ID:          "rancher-api-token",
			Provider:    "rancher",
			Description: "Rancher API token (token-xxxxx:54 characters), the bearer credential of the Rancher API and CLI",
			Source:      "https://ranchermanager.docs.rancher.com/api/api-tokens",
			Keywords:    []string{"token-"},
			Regex:       re(`(?:^|[^\w-])(?P<secret>token-[a-z0-9]{5}:[a-z0-9]{54})(?:[^\w-]|$)`),
			Validate:    func(v []byte) bool { return hasLetterAndDigit(v[12:]) },
			MinEntropy:  3.5,
			Severity:    detect.Critical,
			Identity:    func(v []byte, hints map[string]string) { hints["key_id"] = string(v[:11]) },
			Examples: []string{
				"RANCHER_TOKEN=token-" + fake("rancher-1", lowerAlnum, 5) + ":" + fake("rancher-2", lowerAlnum, 54),
				"rancher login https://rancher.acme.io --token token-" + fake("rancher-3", lowerAlnum, 5) + ":" + fake("rancher-4", lowerAlnum, 54),
			},
			NoMatch: []string{"--token token-xxxxx:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
		},
		{
			ID:          "portainer-access-token",
			Provider:    "portainer",
			Description: "Portainer API access token (ptr_ and about 44 base64 characters), sent in X-API-Key",
			Source:      "https://docs.portainer.io/api/access",
			Keywords:    []string{"ptr_"},
			Regex:       re(`(?P<secret>ptr_[A-Za-z0-9+/]{40,48}={0,2})(?:[^\w+/=-]|$)`),
			// ptr_ starts identifiers all over C code: match only at the keyword.
			Anchor:     detect.AtKeyword,
			WordStart:  true,
			Validate:   mixedCase,
			MinEntropy: 4.0,
			Severity:   detect.Critical,
			Examples:   []string{`curl -H "X-API-Key: ptr_` + fake("ptr-1", b64, 43) + `=" https://portainer.acme.io/api/endpoints`},
			NoMatch:    []string{"X-API-Key: ptr_<your-token>", "ptr_to_the_start_of_the_shared_memory_segmentx"},
		},
	}
}
