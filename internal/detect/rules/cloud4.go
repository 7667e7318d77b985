package rules

import (
	"strings"

	"github.com/rekeyhq/rekey/internal/detect"
)

// yetMoreCloudRules are more Azure services, IBM Cloud Object Storage,
// OpenStack and Proxmox, and the secrets of data platforms
// hosted on them.
func yetMoreCloudRules() []*detect.Rule {
	return []*detect.Rule{
		keyedRuleWith("azure-batch-account-key", "azure",
			"Azure Batch account shared key (88 base64 characters) in a key that names the Batch account key: full control of the account's pools and jobs",
			"https://learn.microsoft.com/en-us/azure/batch/batch-account-create-portal", []string{"batch_account_key", "batch-account-key", "batchaccountkey"},
			`batch[_.-]?account[_.-]?key`, `[A-Za-z0-9+/]{86}==`, mixedCase, detect.Critical,
			[]string{"AZURE_BATCH_ACCOUNT=acmebatch\nAZURE_BATCH_ACCOUNT_KEY=" + fake("batch-1", b64, 86) + "=="},
			[]string{"AZURE_BATCH_ACCOUNT_KEY=<batch-account-key>"}),
		keyedRuleWith("azure-container-registry-password", "azure",
			"Azure Container Registry admin or token password (52 characters) in a key that names ACR: pushes and pulls the registry's images",
			"https://learn.microsoft.com/en-us/azure/container-registry/container-registry-authentication", []string{"acr_", "acr-", "container_registry", "containerregistry"},
			`(?:\bacr|azure[_.-]?container[_.-]?registry|containerregistry)[\w.-]{0,12}?password`, `[A-Za-z0-9+/=]{52}`, mixedCase, detect.Critical,
			[]string{"ACR_USERNAME=acmeregistry\nACR_PASSWORD=" + fake("acr-1", b64, 52)},
			[]string{"ACR_PASSWORD: ${{ secrets.ACR_PASSWORD }}"}),
		keyedRuleWith("azure-static-web-apps-token", "azure",
			"Azure Static Web Apps deployment token in AZURE_STATIC_WEB_APPS_API_TOKEN or deployment_token: deploys to the site",
			"https://learn.microsoft.com/en-us/azure/static-web-apps/deployment-token-management", []string{"static_web_apps", "static-web-apps", "swa_deployment", "swa-deployment"},
			`(?:azure[_.-]?static[_.-]?web[_.-]?apps[_.-]?api[_.-]?token|swa[_.-]deployment[_.-]?token)`, `[A-Za-z0-9_-]{60,}`, mixedCase, detect.High,
			[]string{"AZURE_STATIC_WEB_APPS_API_TOKEN=" + fake("swa-1", hexLower, 64) + "-" + uuidLike("swa-2") + "00" + fake("swa-3", alnum, 6)},
			[]string{"azure_static_web_apps_api_token: ${{ secrets.AZURE_STATIC_WEB_APPS_API_TOKEN_ORANGE }}"}),
		{
			ID:          "ibm-cos-hmac-secret",
			Provider:    "ibm",
			Description: "IBM Cloud Object Storage HMAC secret access key (48 hex digits) in the cos_hmac_keys of a service credential",
			Source:      "https://cloud.ibm.com/docs/cloud-object-storage?topic=cloud-object-storage-uhc-hmac-credentials-main",
			Keywords:    []string{"secret_access_key"},
			Regex:       re(`"?secret_access_key"?[ \t]*(?:=|:)[ \t]*["']?(?P<secret>[0-9a-f]{48})(?:[^\w-]|$)`),
			Validate:    hasLetterAndDigit,
			MinEntropy:  3.0,
			Severity:    detect.Critical,
			Examples:    []string{`"cos_hmac_keys": {"access_key_id": "` + fake("cos-1", hexLower, 32) + `", "secret_access_key": "` + fake("cos-2", hexLower, 48) + `"}`},
			NoMatch:     []string{`"secret_access_key": "<secret_access_key>"`},
		},
		envSecretRule("openstack-application-credential-secret", "openstack",
			"OpenStack application credential secret in OS_APPLICATION_CREDENTIAL_SECRET or clouds.yaml application_credential_secret: authenticates as the credential's user and project",
			"https://docs.openstack.org/keystone/latest/user/application_credentials.html", []string{"application_credential_secret"},
			`(?i:application_credential_secret)`,
			[]string{"export OS_AUTH_TYPE=v3applicationcredential\nexport OS_APPLICATION_CREDENTIAL_ID=" + fake("os-1", hexLower, 32) + "\nexport OS_APPLICATION_CREDENTIAL_SECRET=" + fake("os-2", b64url, 86)},
			[]string{"application_credential_secret: \"{{ os_app_cred_secret }}\""}),
		{
			ID:          "proxmox-api-token",
			Provider:    "proxmox",
			Description: "Proxmox VE API token secret (a UUID) in a PVEAPIToken=user@realm!tokenid=… header or a key that names Proxmox",
			Source:      "https://pve.proxmox.com/wiki/Proxmox_VE_API#API_Tokens",
			Keywords:    []string{"pveapitoken", "proxmox"},
			Regex: re(`(?:PVEAPIToken[ =]+(?P<user>[\w.-]+@[\w.-]+![\w.-]+)=|(?i:proxmox)[\w.-]{0,20}?(?i:token[_.-]?secret|api[_.-]?token|secret)` + sep + `)` +
				`(?P<secret>` + uuidPattern + `)\b`),
			MinEntropy: 3.0,
			Severity:   detect.Critical,
			Examples: []string{
				`curl -H "Authorization: PVEAPIToken=terraform@pve!tf=` + uuidLike("pve-1") + `" https://pve.acme.io:8006/api2/json/nodes`,
				"PROXMOX_VE_API_TOKEN_SECRET=" + uuidLike("pve-2"),
			},
			NoMatch: []string{"PROXMOX_VE_API_TOKEN_SECRET=${PROXMOX_TOKEN_SECRET}"},
		},
		envSecretRule("hasura-admin-secret", "hasura",
			"Hasura GraphQL Engine admin secret (HASURA_GRAPHQL_ADMIN_SECRET, x-hasura-admin-secret): full access to every table behind the API",
			"https://hasura.io/docs/2.0/deployment/graphql-engine-flags/reference/", []string{"hasura"},
			`(?i:HASURA_GRAPHQL_ADMIN_SECRET|x-hasura-admin-secret)`,
			[]string{"HASURA_GRAPHQL_ADMIN_SECRET=" + fake("hasura-1", alnum, 32), `-H "x-hasura-admin-secret: ` + fake("hasura-2", alnum, 28) + `"`},
			[]string{"HASURA_GRAPHQL_ADMIN_SECRET=myadminsecretkey", "x-hasura-admin-secret: <admin-secret>"}),
		keyedRuleWith("databricks-oauth-secret", "databricks",
			"Databricks service principal OAuth secret in DATABRICKS_CLIENT_SECRET or a key that names Databricks: with the client id it gets workspace and account tokens",
			"https://docs.databricks.com/aws/en/dev-tools/auth/oauth-m2m", []string{"databricks"},
			`databricks[\w.-]{0,12}?client[_.-]?secret`, `[A-Za-z0-9]{32,}`, mixedCase, detect.Critical,
			[]string{"DATABRICKS_HOST=https://dbc-" + fake("dbx-1", hexLower, 8) + ".cloud.databricks.com\nDATABRICKS_CLIENT_ID=" + uuidLike("dbx-2") + "\nDATABRICKS_CLIENT_SECRET=dose" + fake("dbx-3", alnum, 32)},
			[]string{"DATABRICKS_CLIENT_SECRET=${{ secrets.DATABRICKS_CLIENT_SECRET }}"}),
		{
			ID:          "motherduck-token",
			Provider:    "motherduck",
			Description: "MotherDuck access token (a JWT) in motherduck_token / MOTHERDUCK_TOKEN or an md: connection string",
			Source:      "https://motherduck.com/docs/key-tasks/authenticating-and-connecting-to-motherduck/authenticating-to-motherduck/",
			Keywords:    []string{"motherduck", "eyj"},
			Regex:       re(`(?i:motherduck_token)["']?[ \t]*(?:=|:)[ \t]*["']?(?P<secret>` + jwtValue + `)`),
			Validate:    validJWT,
			Identity:    jwtIdentity,
			Severity:    detect.High,
			Examples:    []string{"export motherduck_token=" + fakeJWT(`{"alg":"HS256","typ":"JWT"}`, `{"email":"etl@acme.io","session":"etl.acme.io","iat":1717000000}`, "md-1"), `duckdb.connect("md:analytics?motherduck_token=` + fakeJWT(`{"alg":"HS256","typ":"JWT"}`, `{"session":"x","iat":1}`, "md-2") + `")`},
			NoMatch:     []string{"motherduck_token=<your_motherduck_token>"},
		},
		keyedRuleWith("looker-client-secret", "looker",
			"Looker API client secret (24 letters and digits) in LOOKERSDK_CLIENT_SECRET or looker.ini client_secret under a Looker section",
			"https://cloud.google.com/looker/docs/api-auth", []string{"looker"},
			`looker(?:sdk)?[\w.-]{0,12}?client[_.-]?secret`, `[A-Za-z0-9]{24}`, mixedCase, detect.High,
			[]string{"LOOKERSDK_BASE_URL=https://acme.cloud.looker.com\nLOOKERSDK_CLIENT_ID=" + fake("looker-1", alnum, 20) + "\nLOOKERSDK_CLIENT_SECRET=" + fake("looker-2", alnum, 24)},
			[]string{"LOOKERSDK_CLIENT_SECRET=<your-client-secret>", "LOOKERSDK_CLIENT_SECRET=" + strings.Repeat("x", 24)}),
	}
}
