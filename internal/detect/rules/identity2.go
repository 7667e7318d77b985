package rules

import (
	"strings"

	"github.com/rekeyhq/rekey/internal/detect"
)

// moreIdentityRules are identity providers' client secrets and API keys:
// Okta, Keycloak, OneLogin, JumpCloud, Duo, Ory.
func moreIdentityRules() []*detect.Rule {
	return []*detect.Rule{
		keyedRuleWith("okta-client-secret", "okta",
			"Okta OIDC application client secret (40 or 64 characters) in OKTA_CLIENT_SECRET or a key that names Okta; with the client id it gets tokens for the application",
			"https://developer.okta.com/docs/guides/implement-grant-type/clientcreds/main/", []string{"okta"},
			`okta[\w.-]{0,20}?client[_.-]?secret`, `[A-Za-z0-9_-]{64}|[A-Za-z0-9_-]{40}`, mixedCase, detect.Critical,
			[]string{"OKTA_CLIENT_ID=0oa" + fake("okta-1", alnum, 17) + "\nOKTA_CLIENT_SECRET=" + fake("okta-2", b64url, 40),
				`okta.oauth2.client-secret: "` + fake("okta-3", b64url, 64) + `"`},
			[]string{"OKTA_CLIENT_SECRET={clientSecret}", "okta.oauth2.client-secret: ${OKTA_CLIENT_SECRET}"}),
		keyedRuleWith("keycloak-client-secret", "keycloak",
			"Keycloak confidential client secret (32 letters and digits) in a key that names Keycloak",
			"https://www.keycloak.org/docs/latest/server_admin/index.html#_client-credentials", []string{"keycloak"},
			`keycloak[\w.-]{0,30}?(?:client[_.-]?)?secret`, `[A-Za-z0-9]{32}`, mixedCase, detect.High,
			[]string{"KEYCLOAK_CLIENT_ID=orders-api\nKEYCLOAK_CLIENT_SECRET=" + fake("kc-1", alnum, 32), `keycloak.credentials.secret=` + fake("kc-2", alnum, 32)},
			[]string{"KEYCLOAK_CLIENT_SECRET=**********", "keycloak.credentials.secret=${KEYCLOAK_SECRET}"}),
		keyedRuleWith("onelogin-client-secret", "onelogin",
			"OneLogin API credential client secret (64 hex digits) in a key that names OneLogin",
			"https://developers.onelogin.com/api-docs/2/getting-started/working-with-api-credentials", []string{"onelogin"},
			`onelogin[\w.-]{0,20}?(?:client[_.-]?)?secret`, `[0-9a-f]{64}`, hasLetterAndDigit, detect.Critical,
			[]string{"ONELOGIN_CLIENT_ID=" + fake("ol-1", hexLower, 64) + "\nONELOGIN_CLIENT_SECRET=" + fake("ol-2", hexLower, 64)},
			[]string{"ONELOGIN_CLIENT_SECRET=<client secret>"}),
		keyedRuleWith("jumpcloud-api-key", "jumpcloud",
			"JumpCloud API key (40 hex digits) in JUMPCLOUD_API_KEY or a key that names JumpCloud: administers the organization's users and devices",
			"https://docs.jumpcloud.com/api/1.0/index.html", []string{"jumpcloud"},
			`jumpcloud[\w.-]{0,20}?(?:api[_.-]?key|token|key)`, `[0-9a-f]{40}`, hasLetterAndDigit, detect.Critical,
			[]string{"JUMPCLOUD_API_KEY=" + fake("jc-1", hexLower, 40), `-H "x-api-key: $JC" # jumpcloud_key: ` + fake("jc-2", hexLower, 40)},
			[]string{"JUMPCLOUD_API_KEY=" + strings.Repeat("0", 40)}),
		{
			ID:          "duo-integration-secret-key",
			Provider:    "duo",
			Description: "Duo integration secret key (skey, 40 characters) in an Authentication Proxy or Duo Unix config, or a key that names Duo; with the integration key it calls the Auth or Admin API",
			Source:      "https://duo.com/docs/authproxy-reference",
			Keywords:    []string{"skey", "duo_secret", "duo-secret"},
			Anchor:      detect.AtKeyword,
			WordStart:   true,
			Regex:       re(`(?:skey|(?i:duo[_-]secret[_.-]?key))["']?[ \t]*(?:=|:)[ \t]*["']?(?P<secret>[A-Za-z0-9]{40})(?:[^\w-]|$)`),
			Validate:    mixedCase,
			MinEntropy:  4.0,
			Severity:    detect.Critical,
			Examples: []string{
				"[duo_only_client]\n\n[radius_server_auto]\nikey=DI" + fake("duo-1", upperAlnum, 18) + "\nskey=" + fake("duo-2", alnum, 40) + "\napi_host=api-" + fake("duo-3", hexLower, 8) + ".duosecurity.com\n",
				"DUO_SECRET_KEY=" + fake("duo-4", alnum, 40),
			},
			NoMatch: []string{"skey=YOUR_SECRET_KEY_HERE_XXXXXXXXXXXXXXXXXXXX", "skey = <secret key>"},
		},
		{
			ID:          "ory-token",
			Provider:    "ory",
			Description: "Ory Network project API key or personal access token (ory_pat_, ory_apikey_) and Ory Hydra opaque OAuth2 access and refresh tokens (ory_at_, ory_rt_)",
			Source:      "https://github.com/ory/hydra/issues/2845",
			Keywords:    []string{"ory_pat_", "ory_apikey_", "ory_at_", "ory_rt_"},
			Regex:       re(`(?:^|[^\w-])(?P<secret>ory_(?:pat|apikey|at|rt)_[A-Za-z0-9_.-]{32,})`),
			Validate:    mixedCase,
			MinEntropy:  4.0,
			Severity:    detect.Critical,
			Examples: []string{
				"ORY_API_KEY=ory_pat_" + fake("ory-1", alnum, 32),
				`"access_token": "ory_at_` + fake("ory-2", b64url, 43) + "." + fake("ory-3", b64url, 43) + `"`,
			},
			NoMatch: []string{"ORY_API_KEY=ory_pat_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "Authorization: Bearer ory_pat_..."},
		},
	}
}
