package rules

import (
	"strings"

	"github.com/rekeyhq/rekey/internal/detect"
)

// moreRegistryRules are package registries and the config files of the
// tools that publish to them: Yarn, NuGet, Gradle, Develocity, Hex,
// Cloudsmith, Chocolatey, Quay.
func moreRegistryRules() []*detect.Rule {
	return []*detect.Rule{
		{
			ID:          "yarnrc-npm-auth-token",
			Provider:    "npm",
			Description: "Registry token in a Yarn Berry .yarnrc.yml (npmAuthToken), for npm or a private registry; npm_ tokens are left to their own rule",
			Source:      "https://yarnpkg.com/configuration/yarnrc#npmAuthToken",
			Keywords:    []string{"npmauth"},
			Regex:       re(`npmAuthToken["']?[ \t]*:[ \t]*["']?(?P<secret>` + notPrefix("npm_") + `[^\s"']{15,})`),
			Validate:    plausiblePassword,
			MinEntropy:  3.5,
			Severity:    detect.Critical,
			Examples: []string{
				"npmRegistries:\n  \"https://npm.acme.io\":\n    npmAlwaysAuth: true\n    npmAuthToken: " + fake("yarn-1", alnum, 40) + "\n",
				`npmAuthToken: "` + uuidLike("yarn-2") + `"`,
			},
			NoMatch: []string{`npmAuthToken: "${NPM_AUTH_TOKEN}"`, "npmAuthToken: ${NPM_TOKEN:-}", "npmAuthToken: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
		},
		{
			ID:          "yarnrc-npm-auth-ident",
			Provider:    "npm",
			Description: "Registry credentials in a Yarn Berry .yarnrc.yml (npmAuthIdent: user:password, or its base64)",
			Source:      "https://yarnpkg.com/configuration/yarnrc#npmAuthIdent",
			Keywords:    []string{"npmauth"},
			Regex:       re(`npmAuthIdent["']?[ \t]*:[ \t]*["']?(?P<secret>[^\s"']{8,})`),
			Validate: func(v []byte) bool {
				if user, pass, ok := strings.Cut(string(v), ":"); ok {
					return user != "" && plausiblePassword([]byte(pass))
				}
				return basicAuth(v)
			},
			MinEntropy: 3.0,
			Severity:   detect.Critical,
			Examples: []string{
				"npmAuthIdent: \"ci-publisher:" + fake("yarn-4", alnum, 20) + "\"",
				"npmAuthIdent: " + b64std("deploy:"+fake("yarn-5", alnum, 18)),
			},
			NoMatch: []string{`npmAuthIdent: "${NPM_AUTH_IDENT}"`, "npmAuthIdent: \"username:password\""},
		},
		{
			ID:          "nuget-config-cleartext-password",
			Provider:    "nuget",
			Description: "Package source password in a NuGet.Config <packageSourceCredentials> (ClearTextPassword): a feed token or account password",
			Source:      "https://learn.microsoft.com/en-us/nuget/reference/nuget-config-file#packagesourcecredentials",
			Keywords:    []string{"cleartextpassword"},
			Regex:       re(`<add\s+key\s*=\s*"ClearTextPassword"\s+value\s*=\s*"(?P<secret>[^"]{4,})"`),
			// Microsoft's NuGet.Config reference prints these two sample passwords.
			Validate:   func(v []byte) bool { return plausiblePassword(v) && except("33f!!lloppa", "hal+9ooo_da!sY")(v) },
			MinEntropy: 3.0,
			Severity:   detect.Critical,
			Examples: []string{
				"<packageSourceCredentials>\n  <acme>\n    <add key=\"Username\" value=\"build\" />\n    <add key=\"ClearTextPassword\" value=\"" + fake("nuget-c-1", alnum, 52) + "\" />\n  </acme>\n</packageSourceCredentials>",
			},
			NoMatch: []string{`<add key="ClearTextPassword" value="%FEED_PASSWORD%" />`, `<add key="ClearTextPassword" value="33f!!lloppa" />`},
		},
		{
			ID:          "gradle-plugin-portal-key",
			Provider:    "gradle",
			Description: "Gradle Plugin Portal publishing key or secret (gradle.publish.key / gradle.publish.secret, or GRADLE_PUBLISH_KEY / GRADLE_PUBLISH_SECRET): publishes plugin versions under the account",
			Source:      "https://docs.gradle.org/current/userguide/publishing_gradle_plugins.html",
			Keywords:    []string{"gradle.publish.", "gradle_publish_"},
			Regex:       re(`(?i:gradle[._]publish[._](?:key|secret))["']?[ \t]*(?:=|:)[ \t]*["']?(?P<secret>[A-Za-z0-9]{32})(?:[^\w-]|$)`),
			Validate:    mixedCase,
			MinEntropy:  3.5,
			Severity:    detect.High,
			Examples: []string{
				"gradle.publish.key=" + fake("gpp-1", alnum, 32) + "\ngradle.publish.secret=" + fake("gpp-2", alnum, 32),
				"GRADLE_PUBLISH_SECRET: " + fake("gpp-3", alnum, 32),
			},
			NoMatch: []string{"gradle.publish.key=<key>", "-Pgradle.publish.secret=$GRADLE_PUBLISH_SECRET"},
		},
		{
			ID:          "develocity-access-key",
			Provider:    "gradle",
			Description: "Develocity (Gradle Enterprise) access key in DEVELOCITY_ACCESS_KEY or GRADLE_ENTERPRISE_ACCESS_KEY (server=key): publishes and reads Build Scans as its user",
			Source:      "https://docs.gradle.com/develocity/gradle-plugin/current/#via_environment_variable",
			Keywords:    []string{"develocity", "gradle_enterprise"},
			Regex:       re(`(?i:DEVELOCITY_ACCESS_KEY|GRADLE_ENTERPRISE_ACCESS_KEY)["']?[ \t]*(?:=|:)[ \t]*["']?(?P<host>[A-Za-z0-9.-]+\.[A-Za-z]{2,})=(?P<secret>[a-z0-9]{52})(?:[^\w-]|$)`),
			Validate:    hasLetterAndDigit,
			MinEntropy:  3.5,
			Severity:    detect.High,
			Examples:    []string{"export DEVELOCITY_ACCESS_KEY=ge.acme.io=" + fake("dv-1", lowerAlnum, 52)},
			NoMatch:     []string{"DEVELOCITY_ACCESS_KEY=${{ secrets.DEVELOCITY_ACCESS_KEY }}", "DEVELOCITY_ACCESS_KEY=ge.example.com=<access-key>"},
		},
		keyedRuleWith("hex-api-key", "hex",
			"Hex.pm API key (32 hex digits) in HEX_API_KEY: publishes Elixir and Erlang packages as its owner",
			"https://hex.pm/docs/publish", []string{"hex_api_key", "hex-api-key"},
			`hex[_-]api[_.-]?key`, `[0-9a-f]{32}`, hasLetterAndDigit, detect.High,
			[]string{"HEX_API_KEY=" + fake("hex-1", hexLower, 32)},
			[]string{"HEX_API_KEY: ${{ secrets.HEX_API_KEY }}", "HEX_API_KEY=" + strings.Repeat("0", 32)}),
		keyedRuleWith("cloudsmith-api-key", "cloudsmith",
			"Cloudsmith API key (40 hex digits) in CLOUDSMITH_API_KEY or a key that names Cloudsmith",
			"https://docs.cloudsmith.com/accounts-and-teams/api-key", []string{"cloudsmith"},
			`cloudsmith[\w.-]{0,20}?(?:api[_.-]?key|token|key)`, `[0-9a-f]{40}`, hasLetterAndDigit, detect.High,
			[]string{"CLOUDSMITH_API_KEY=" + fake("cs-1", hexLower, 40)},
			[]string{"CLOUDSMITH_API_KEY: ${{ secrets.CLOUDSMITH_API_KEY }}"}),
		{
			ID:          "chocolatey-api-key",
			Provider:    "chocolatey",
			Description: "Chocolatey community repository or private feed API key (a UUID) given to choco apikey or choco push",
			Source:      "https://docs.chocolatey.org/en-us/choco/commands/apikey/",
			Keywords:    []string{"choco"},
			Regex:       re(`(?i:choco(?:\.exe)?\s+(?:apikey|setapikey|push)\b[^\n]*?(?:-k|--key|--api-key|--apikey)[ =:]+["']?)(?P<secret>` + uuidPattern + `)\b`),
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples:    []string{"choco apikey --key " + uuidLike("choco-1") + " --source https://push.chocolatey.org/", "choco push pkg.nupkg --source https://push.chocolatey.org/ --api-key=" + uuidLike("choco-2")},
			NoMatch:     []string{"choco apikey --key <your key here> --source https://push.chocolatey.org/", "choco push --api-key $env:CHOCO_API_KEY"},
		},
		keyedRuleWith("quay-robot-token", "quay",
			"Quay.io / Red Hat Quay robot account or application token (64 upper-case letters and digits, or 40) in a key that names Quay",
			"https://docs.projectquay.io/use_quay.html", []string{"quay"},
			`quay[\w.-]{0,20}?(?:token|password|pass)`, `[A-Z0-9]{64}|[A-Za-z0-9]{40}`, hasLetterAndDigit, detect.High,
			[]string{"QUAY_USERNAME=acme+ci\nQUAY_PASSWORD=" + fake("quay-1", upperAlnum, 64), "quay_token: " + fake("quay-2", alnum, 40)},
			[]string{"QUAY_PASSWORD=${{ secrets.QUAY_PASSWORD }}"}),
	}
}
