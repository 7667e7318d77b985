package rules

import (
	"strings"

	"github.com/rekeyhq/rekey/internal/detect"
)

// socketPublicKey is the anonymous key the Socket CLI and SDKs ship with;
// it is public by design.
const socketPublicKey = "sktsec_t_--RAN5U4ivauy4w37-6aoKyYPDt5ZbaT5JBVMqiwKo_api"

// yetMoreCIRules are deployment and code-quality services, publishing
// tokens of IDE marketplaces and app stores, and more platforms: Argo CD,
// Octopus Deploy, Socket, Codacy, DeepSource, Ansible Galaxy, Terraform
// CLI host tokens, VS Code Marketplace, Open VSX, JetBrains, Expo,
// FusionAuth, Aiven, ClickHouse Cloud.
func yetMoreCIRules() []*detect.Rule {
	return []*detect.Rule{
		{
			ID:          "argocd-auth-token",
			Provider:    "argocd",
			Description: "Argo CD API token (a JWT) in ARGOCD_AUTH_TOKEN or --auth-token: acts as the account or project role it was issued to",
			Source:      "https://argo-cd.readthedocs.io/en/stable/user-guide/environment-variables/",
			Keywords:    []string{"argocd", "--auth-token", "eyj"},
			Regex:       re(`(?:(?i:ARGOCD_AUTH_TOKEN)["']?[ \t]*(?:=|:)[ \t]*["']?|argocd\s[^\n]*?--auth-token[ =]["']?)(?P<secret>` + jwtValue + `)`),
			Validate:    validJWT,
			Identity:    jwtIdentity,
			Severity:    detect.Critical,
			Examples:    []string{"ARGOCD_SERVER=argocd.acme.io\nARGOCD_AUTH_TOKEN=" + fakeJWT(`{"alg":"HS256","typ":"JWT"}`, `{"iss":"argocd","sub":"proj:shop:ci","jti":"`+uuidLike("argo-1")+`"}`, "argo-2")},
			NoMatch:     []string{"ARGOCD_AUTH_TOKEN=${{ secrets.ARGOCD_AUTH_TOKEN }}"},
		},
		{
			ID:          "octopus-deploy-api-key-prefixed",
			Provider:    "octopus",
			Description: "Octopus Deploy API key (API- and 25 or more upper-case letters and digits) in a key or command-line option that names Octopus or its API key",
			Source:      "https://octopus.com/docs/octopus-rest-api/how-to-create-an-api-key",
			Keywords:    []string{"octopus", "octo_", "octo-", "--apikey"},
			Regex:       re(`(?:(?i:octopus|octo[_-])[\w.-]{0,20}?(?i:api[_.-]?key)` + sep + `|--apiKey[ =]["']?)(?P<secret>API-[A-Z0-9]{25,32})\b`),
			Validate:    func(v []byte) bool { return hasLetterAndDigit(v[4:]) },
			MinEntropy:  3.0,
			Severity:    detect.Critical,
			Examples:    []string{"OCTOPUS_API_KEY=API-" + fake("octo-1", upperAlnum, 27), "octo push --package app.1.0.0.zip --server https://octo.acme.io --apiKey API-" + fake("octo-2", upperAlnum, 27)},
			NoMatch:     []string{"OCTOPUS_API_KEY=API-XXXXXXXXXXXXXXXXXXXXXXXXXXX", "--apiKey API-YOURAPIKEY"},
		},
		{
			ID:          "socket-api-key",
			Provider:    "socket",
			Description: "Socket.dev API key (sktsec_)",
			Source:      "https://docs.socket.dev/docs/api-keys",
			Keywords:    []string{"sktsec_"},
			Regex:       re(`(?:^|[^\w-])(?P<secret>sktsec_[A-Za-z0-9_-]{30,})(?:[^\w-]|$)`),
			// The CLI ships a public, rate-limited key for anonymous use.
			Validate:   func(v []byte) bool { return mixedCase(v) && except(socketPublicKey)(v) },
			MinEntropy: 4.0,
			Severity:   detect.High,
			Examples:   []string{"SOCKET_SECURITY_API_KEY=sktsec_" + fake("socket-1", alnum, 40) + "_api"},
			NoMatch:    []string{"SOCKET_SECURITY_API_KEY=sktsec_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "const FREE_API_KEY = '" + socketPublicKey + "'"},
		},
		keyedRuleWith("codacy-api-token", "codacy",
			"Codacy project or account API token (32 hex digits or letters and digits) in CODACY_PROJECT_TOKEN, CODACY_API_TOKEN or a key that names Codacy",
			"https://docs.codacy.com/codacy-api/api-tokens/", []string{"codacy"},
			`codacy[\w.-]{0,12}?(?:token|api[_.-]?key)`, `[A-Za-z0-9]{32}`, hasLetterAndDigit, detect.Medium,
			[]string{"CODACY_PROJECT_TOKEN=" + fake("codacy-1", hexLower, 32)},
			[]string{"CODACY_PROJECT_TOKEN: ${{ secrets.CODACY_PROJECT_TOKEN }}"}),
		{
			ID:          "deepsource-dsn",
			Provider:    "deepsource",
			Description: "DeepSource DSN (https://<token>@app.deepsource.com): reports coverage and analysis for the repository",
			Source:      "https://docs.deepsource.com/docs/cli",
			Keywords:    []string{"deepsource"},
			Regex:       re(`https://(?P<secret>[0-9a-f]{32})@(?P<host>(?:app\.)?deepsource\.(?:com|io))`),
			Validate:    hasLetterAndDigit,
			MinEntropy:  3.0,
			Severity:    detect.Medium,
			Examples:    []string{"DEEPSOURCE_DSN=https://" + fake("ds-1", hexLower, 32) + "@app.deepsource.com"},
			NoMatch:     []string{"DEEPSOURCE_DSN=https://sampledsn@deepsource.io"},
		},
		keyedRuleWith("ansible-galaxy-token", "ansible",
			"Ansible Galaxy or Automation Hub API token (40 hex digits) in ANSIBLE_GALAXY_SERVER_<NAME>_TOKEN, the galaxy token file or a key that names Galaxy",
			"https://docs.ansible.com/ansible/latest/collections_guide/collections_installing.html", []string{"galaxy"},
			`galaxy[\w.-]{0,40}?(?:token|api[_.-]?key)`, `[0-9a-f]{40}`, hasLetterAndDigit, detect.High,
			[]string{"ANSIBLE_GALAXY_SERVER_RELEASE_GALAXY_TOKEN=" + fake("galaxy-1", hexLower, 40), `galaxy_api_key: "` + fake("galaxy-2", hexLower, 40) + `"`},
			[]string{"ANSIBLE_GALAXY_TOKEN: ${{ secrets.GALAXY_API_KEY }}"}),
		envSecretRule("terraform-cli-host-token", "terraform",
			"API token for a Terraform host in a TF_TOKEN_<host> environment variable (HCP Terraform, Terraform Enterprise or a private registry)",
			"https://developer.hashicorp.com/terraform/cli/config/config-file#environment-variable-credentials", []string{"tf_token_"},
			`\bTF_TOKEN_[A-Za-z0-9_-]+`,
			[]string{"TF_TOKEN_tfe_acme_io=" + fake("tftoken-1", alnum, 40), "export TF_TOKEN_registry_acme_io=" + fake("tftoken-2", b64url, 32)},
			[]string{"TF_TOKEN_app_terraform_io: ${{ secrets.TF_API_TOKEN }}"}),
		keyedRuleWith("vscode-marketplace-pat", "microsoft",
			"Visual Studio Marketplace publishing token in VSCE_PAT (an Azure DevOps personal access token): publishes extensions as the publisher",
			"https://code.visualstudio.com/api/working-with-extensions/publishing-extension", []string{"vsce"},
			`vsce[_.-]?pat`, `[a-z2-7]{52}|[A-Za-z0-9]{84}`, hasLetterAndDigit, detect.High,
			[]string{"VSCE_PAT=" + fake("vsce-1", "abcdefghijklmnopqrstuvwxyz234567", 52)},
			[]string{"VSCE_PAT: ${{ secrets.VSCE_PAT }}"}),
		keyedRuleWith("open-vsx-token", "eclipse",
			"Open VSX registry access token (a UUID) in OVSX_PAT: publishes extensions to the namespace",
			"https://github.com/eclipse/openvsx/wiki/Publishing-Extensions", []string{"ovsx_pat", "ovsx-pat"},
			`ovsx[_.-]?pat`, uuidPattern, nil, detect.High,
			[]string{"OVSX_PAT=" + uuidLike("ovsx-1")},
			[]string{"OVSX_PAT: ${{ secrets.OVSX_PAT }}"}),
		{
			ID:          "jetbrains-permanent-token",
			Provider:    "jetbrains",
			Description: "JetBrains Hub, YouTrack or Marketplace permanent token (perm: then base64 user, token id and secret, dot-separated)",
			Source:      "https://www.jetbrains.com/help/youtrack/server/manage-permanent-token.html",
			Keywords:    []string{"perm:"},
			Regex:       re(`(?:^|[^\w-])(?P<secret>perm:[A-Za-z0-9+/=_-]{4,}\.[A-Za-z0-9+/=_-]{2,}\.[A-Za-z0-9]{30})(?:[^\w-]|$)`),
			Validate:    func(v []byte) bool { return mixedCase(v[len(v)-30:]) },
			MinEntropy:  3.5,
			Severity:    detect.High,
			Identity: func(v []byte, hints map[string]string) {
				if parts := strings.Split(strings.TrimPrefix(string(v), "perm:"), "."); len(parts) == 3 {
					if u, ok := decodeB64(parts[0]); ok {
						hints["user"] = string(u)
					}
				}
			},
			Examples: []string{`Authorization: Bearer perm:` + rawURL64("ci-bot") + "." + rawURL64("45-12") + "." + fake("perm-1", alnum, 30), "PUBLISH_TOKEN=perm:" + b64std("release") + "." + b64std("92-3") + "." + fake("perm-2", alnum, 30)},
			NoMatch:  []string{"Authorization: Bearer perm:<token>", "perm:cm9vdA==.NDgtMQ==.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
		},
		keyedRuleWith("expo-access-token", "expo",
			"Expo (EAS) access token (40 characters) in EXPO_TOKEN: builds, submits and updates the account's apps",
			"https://docs.expo.dev/accounts/programmatic-access/", []string{"expo_token", "expo-token"},
			`expo[_.-]?token`, `[A-Za-z0-9_-]{40}`, mixedCase, detect.High,
			[]string{"EXPO_TOKEN=" + fake("expo-1", b64url, 40)},
			[]string{"EXPO_TOKEN: ${{ secrets.EXPO_TOKEN }}"}),
		keyedRuleWith("fusionauth-api-key", "fusionauth",
			"FusionAuth API key in FUSIONAUTH_API_KEY or a key that names FusionAuth: calls the identity server's APIs with the key's permissions",
			"https://fusionauth.io/docs/apis/authentication", []string{"fusionauth"},
			`fusionauth[\w.-]{0,12}?(?:api[_.-]?key|key)`, `[A-Za-z0-9_-]{40,}`, mixedCase, detect.Critical,
			[]string{"FUSIONAUTH_API_KEY=" + fake("fa-1", b64url, 44)},
			[]string{"FUSIONAUTH_API_KEY=${FUSIONAUTH_API_KEY}"}),
		keyedRuleWith("aiven-token", "aiven",
			"Aiven API authentication token in AIVEN_TOKEN or a key that names Aiven: manages the projects and services of the user",
			"https://aiven.io/docs/platform/howto/create_authentication_token", []string{"aiven"},
			`aiven[\w.-]{0,12}?(?:token|api[_.-]?key)`, `[A-Za-z0-9+/=]{100,}`, mixedCase, detect.Critical,
			[]string{"AIVEN_TOKEN=" + fake("aiven-1", b64, 200)},
			[]string{"AIVEN_TOKEN: ${{ secrets.AIVEN_TOKEN }}"}),
		keyedRuleWith("clickhouse-cloud-key-secret", "clickhouse",
			"ClickHouse Cloud API key secret in a key that names ClickHouse Cloud's key secret: with the key id it manages the organization's services",
			"https://clickhouse.com/docs/cloud/manage/openapi", []string{"clickhouse"},
			`clickhouse[\w.-]{0,20}?(?:key[_.-]?secret|api[_.-]?secret)`, `[A-Za-z0-9]{40,42}`, mixedCase, detect.Critical,
			[]string{"CLICKHOUSE_KEY_ID=" + fake("chc-1", alnum, 20) + "\nCLICKHOUSE_KEY_SECRET=4b1d" + fake("chc-2", alnum, 38)},
			[]string{"CLICKHOUSE_KEY_SECRET=<key-secret>"}),
	}
}
