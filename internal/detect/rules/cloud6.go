package rules

import (
	"strings"

	"github.com/rekeyhq/rekey/internal/detect"
)

// moreProviderTokenRules are prefixed tokens of platforms and registries
// not covered elsewhere (Fly.io OAuth tokens, Infracost, Clojars,
// Defined Networking) and keyed credentials of Yandex Cloud and Cisco
// Meraki.
func moreProviderTokenRules() []*detect.Rule {
	return []*detect.Rule{
		{
			ID:          "flyio-oauth-token",
			Provider:    "fly.io",
			Description: "Fly.io user OAuth token (fo1_), as fly auth token prints it: acts as the user on every organization",
			Source:      "https://fly.io/docs/security/tokens/",
			Keywords:    []string{"fo1_"},
			Regex:       re(`(?:^|[^\w-])(?P<secret>fo1_[\w-]{43})(?:[^\w-]|$)`),
			Validate:    mixedCase,
			MinEntropy:  4.0,
			Severity:    detect.Critical,
			Examples:    []string{"FLY_API_TOKEN=fo1_" + fake("fo1-1", b64url, 43)},
			NoMatch:     []string{"FLY_API_TOKEN=fo1_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
		},
		keyedRuleWith("yandex-cloud-credential", "yandex",
			"Yandex Cloud API key (AQVN…), static access key secret (YC…) or IAM token (t1.…) in a key that names Yandex Cloud or yc",
			"https://yandex.cloud/en/docs/iam/concepts/authorization/api-key", []string{"yandex", "yc_", "yc-"},
			`(?:yandex|\byc)[\w.-]{0,20}?(?:api[_.-]?key|token|secret(?:[_.-]?(?:access[_.-]?)?key)?)`,
			`AQVN[\w-]{35,38}|YC[\w-]{38}|t1\.[\w-]+={0,2}\.[\w-]{86}={0,2}`, mixedCase, detect.Critical,
			[]string{"YC_API_KEY=AQVN" + fake("yc-1", b64url, 36), "yandex_secret_key: YC" + fake("yc-2", b64url, 38), "YC_TOKEN=t1." + fake("yc-3", b64url, 60) + "." + fake("yc-4", b64url, 86)},
			[]string{"YC_API_KEY=AQVNxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "YC_TOKEN=$(yc iam create-token)"}),
		{
			ID:          "infracost-api-key",
			Provider:    "infracost",
			Description: "Infracost API key (ico- and 32 letters and digits) in INFRACOST_API_KEY or the CLI's credentials",
			Source:      "https://www.infracost.io/docs/integrations/environment_variables/",
			Keywords:    []string{"ico-"},
			Regex:       re(`(?:^|[^\w.-])(?P<secret>ico-[A-Za-z0-9]{32})(?:[^\w.-]|$)`),
			Validate:    mixedCase,
			MinEntropy:  4.0,
			Severity:    detect.Medium,
			Examples:    []string{"INFRACOST_API_KEY=ico-" + fake("ico-1", alnum, 32)},
			NoMatch:     []string{"https://assets.example.com/media/favicon.ico-" + fake("ico-2", hexLower, 32) + ".png"},
		},
		{
			ID:          "clojars-deploy-token",
			Provider:    "clojars",
			Description: "Clojars deploy token (CLOJARS_ and 60 hex digits): deploys Clojure libraries under the account's groups",
			Source:      "https://github.com/clojars/clojars-web/wiki/Deploy-Tokens",
			Keywords:    []string{"clojars_"},
			Regex:       re(`\b(?P<secret>CLOJARS_[0-9a-f]{60})\b`),
			Validate:    func(v []byte) bool { return hasLetterAndDigit(v[8:]) },
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples:    []string{"CLOJARS_PASSWORD=CLOJARS_" + fake("clojars-1", hexLower, 60)},
			NoMatch:     []string{"CLOJARS_PASSWORD=CLOJARS_" + strings.Repeat("0", 60)},
		},
		{
			ID:          "defined-networking-api-key",
			Provider:    "defined-networking",
			Description: "Defined Networking (managed Nebula) API key (dnkey-…): enrols hosts into and administers the overlay network",
			Source:      "https://docs.defined.net/guides/automating-host-creation/",
			Keywords:    []string{"dnkey-"},
			Regex:       re(`\b(?P<secret>dnkey-[a-z0-9=_-]{26}-[a-z0-9=_-]{52})(?:[^\w=-]|$)`),
			Validate:    hasLetterAndDigit,
			MinEntropy:  3.5,
			Severity:    detect.Critical,
			Examples:    []string{"DN_API_KEY=dnkey-" + fake("dnkey-1", lowerAlnum, 26) + "-" + fake("dnkey-2", lowerAlnum, 52)},
			NoMatch:     []string{"DN_API_KEY=dnkey-XXXXXXXX"},
		},
		keyedRuleWith("meraki-api-key", "meraki",
			"Cisco Meraki Dashboard API key (40 hex digits) in MERAKI_DASHBOARD_API_KEY or a key that names Meraki: administers the organization's networks and devices",
			"https://developer.cisco.com/meraki/api-v1/authorization/", []string{"meraki"},
			`meraki[\w.-]{0,20}?(?:api[_.-]?key|token|key)`, `[0-9a-f]{40}`, hasLetterAndDigit, detect.Critical,
			[]string{"MERAKI_DASHBOARD_API_KEY=" + fake("meraki-1", hexLower, 40)},
			[]string{"MERAKI_DASHBOARD_API_KEY=" + strings.Repeat("0", 40)}),
	}
}

// keyedClientSecretRules are OAuth client secrets of the big clouds'
// identity platforms in the names their SDKs read, for the older formats
// with no prefix (Entra secrets with Q~ and Google's GOCSPX- have rules of
// their own, which win on the same bytes).
func keyedClientSecretRules() []*detect.Rule {
	return []*detect.Rule{
		keyedRuleWith("azure-client-secret-keyed", "azure",
			"Microsoft Entra ID (Azure AD) application client secret in AZURE_CLIENT_SECRET, ARM_CLIENT_SECRET or a key that names an Azure client secret, including the older formats without Q~",
			"https://learn.microsoft.com/en-us/dotnet/api/azure.identity.environmentcredential", []string{"azure_client_secret", "arm_client_secret", "azureclientsecret", "azure-client-secret"},
			`(?:azure|arm)[_.-]?client[_.-]?secret`, `[A-Za-z0-9_~.+/=-]{32,44}`, mixedCase, detect.Critical,
			[]string{"AZURE_TENANT_ID=" + uuidLike("azcs-1") + "\nAZURE_CLIENT_ID=" + uuidLike("azcs-2") + "\nAZURE_CLIENT_SECRET=" + fake("azcs-3", alnum+"+/", 43) + "=", `ARM_CLIENT_SECRET: "` + fake("azcs-4", alnum+"_-.", 34) + `"`},
			[]string{"AZURE_CLIENT_SECRET=${{ secrets.AZURE_CLIENT_SECRET }}", "AZURE_CLIENT_SECRET=<client-secret>"}),
		keyedRuleWith("google-oauth-client-secret-keyed", "gcp",
			"Google OAuth client secret of the older format (24 characters, no GOCSPX- prefix) in GOOGLE_CLIENT_SECRET or a key that names a Google client secret",
			"https://developers.google.com/identity/protocols/oauth2", []string{"google_client_secret", "googleclientsecret", "google-client-secret", "google_oauth_client_secret"},
			`google[_.-]?(?:oauth[_.-]?)?client[_.-]?secret`, `[A-Za-z0-9_-]{24}`, mixedCase, detect.High,
			[]string{"GOOGLE_CLIENT_ID=" + fake("gcs-1", digits, 12) + "-" + fake("gcs-2", lowerAlnum, 32) + ".apps.googleusercontent.com\nGOOGLE_CLIENT_SECRET=" + fake("gcs-3", b64url, 24)},
			[]string{"GOOGLE_CLIENT_SECRET=your-client-secret", "GOOGLE_CLIENT_SECRET=${GOOGLE_CLIENT_SECRET}"}),
	}
}
