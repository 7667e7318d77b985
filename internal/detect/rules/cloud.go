package rules

import (
	"regexp"

	"github.com/rekeyhq/rekey/internal/detect"
)

// keyed matches a value assigned to a key whose name matches key (case
// insensitive, a few more name characters allowed after it): for formats
// with no prefix of their own, the provider's name in the key is what makes
// a 32-hex-digit string a Datadog key rather than a digest.
func keyed(key, value string) *regexp.Regexp {
	return re(`(?i:` + key + `)[\w.-]{0,20}?` + sep + `(?P<secret>` + value + `)(?:[^\w-]|$)`)
}

func gcpRules() []*detect.Rule {
	saKey := fakePEM("PRIVATE KEY", "gcp-sa", 1214)
	escaped := func(pem string) string {
		out := []byte{}
		for _, c := range []byte(pem) {
			if c == '\n' {
				out = append(out, '\\', 'n')
				continue
			}
			out = append(out, c)
		}
		return string(out)
	}
	return []*detect.Rule{
		{
			ID:          "gcp-api-key",
			Source:      "https://cloud.google.com/docs/authentication/api-keys",
			Provider:    "gcp",
			Description: "Google API key (AIza + 35 characters); many are restricted or public by design (Firebase web config), so check its restrictions",
			Keywords:    []string{"aiza"},
			Regex:       re(`(?:^|[^\w-])(?P<secret>AIza[0-9A-Za-z_-]{35})(?:[^\w-]|$)`),
			MinEntropy:  3.0,
			Severity:    detect.Medium,
			Examples: []string{
				"GOOGLE_MAPS_API_KEY=AIza" + fake("aiza-1", alnum+"_-", 35),
				`<string name="google_api_key">AIza` + fake("aiza-2", alnum+"_-", 35) + `</string>`,
			},
			NoMatch: []string{
				"key=AIza" + fake("aiza-3", alnum, 20) + "...",
				"const prefix = \"AIza\" // Google API keys start with this",
			},
		},
		{
			ID:          "gcp-service-account-key",
			Provider:    "gcp",
			Description: "Google Cloud service account key file (JSON with type service_account and an inline private key)",
			Keywords:    []string{"service_account"},
			Window:      4096,
			Regex: re(`(?s)"type"\s*:\s*"service_account"(?:[^{}]*?"project_id"\s*:\s*"(?P<project>[^"]{1,})")?` +
				`[^{}]*?"private_key"\s*:\s*"(?P<secret>-----BEGIN PRIVATE KEY-----[^"]{100,}?-----END PRIVATE KEY-----\\n)"` +
				`(?:[^{}]*?"client_email"\s*:\s*"(?P<user>[^"]{1,})")?`),
			Validate: derKey,
			Severity: detect.Critical,
			Examples: []string{
				"{\n  \"type\": \"service_account\",\n  \"project_id\": \"orders-prod-4412\",\n  \"private_key_id\": \"" + fake("gcp-kid", hexLower, 40) +
					"\",\n  \"private_key\": \"" + escaped(saKey) + "\",\n  \"client_email\": \"orders-api@orders-prod-4412.iam.gserviceaccount.com\",\n  \"client_id\": \"104" + fake("gcp-cid", digits, 18) + "\"\n}\n",
			},
			NoMatch: []string{
				"{\n  \"type\": \"service_account\",\n  \"project_id\": \"my-project\",\n  \"private_key\": \"-----BEGIN PRIVATE KEY-----\\n...\\n-----END PRIVATE KEY-----\\n\",\n  \"client_email\": \"sa@my-project.iam.gserviceaccount.com\"\n}",
				`{"type": "service_account", "project_id": "orders-prod-4412", "client_email": "orders-api@orders-prod-4412.iam.gserviceaccount.com"}`,
			},
		},
		{
			ID:          "gcp-oauth-client-secret",
			Provider:    "gcp",
			Description: "Google OAuth client secret (GOCSPX-)",
			Keywords:    []string{"gocspx-"},
			Regex:       re(`(?:^|[^\w-])(?P<secret>GOCSPX-[A-Za-z0-9_-]{28})(?:[^\w-]|$)`),
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples:    []string{`{"web":{"client_id":"1234-abc.apps.googleusercontent.com","client_secret":"GOCSPX-` + fake("gocspx-1", alnum+"_-", 28) + `"}}`},
			NoMatch:     []string{"client_secret: GOCSPX-" + fake("gocspx-2", alnum, 12)},
		},
		{
			ID:          "gcp-oauth-refresh-token",
			Provider:    "gcp",
			Description: "Google OAuth refresh token (1//0…)",
			Keywords:    []string{"1//0"},
			Regex:       re(`(?:^|[^\w/:-])(?P<secret>1//0[A-Za-z0-9_-]{60,})`),
			MinEntropy:  4.0,
			Severity:    detect.High,
			Examples:    []string{`{"refresh_token": "1//0` + fake("g-rt-1", alnum+"_-", 99) + `", "token_uri": "https://oauth2.googleapis.com/token"}`},
			NoMatch:     []string{"// 1//0 is not a path", "x := 1//0" + fake("g-rt-2", alnum, 10)},
		},
		{
			ID:          "gcp-oauth-access-token",
			Provider:    "gcp",
			Description: "Google OAuth access token (ya29.); short-lived, usable until it expires",
			Keywords:    []string{"ya29."},
			Regex:       re(`(?:^|[^\w.-])(?P<secret>ya29\.[A-Za-z0-9_-]{50,})`),
			MinEntropy:  4.0,
			Severity:    detect.Medium,
			Examples:    []string{"curl -H \"Authorization: Bearer ya29." + fake("ya29-1", alnum+"_-", 160) + "\" https://www.googleapis.com/drive/v3/files"},
			NoMatch:     []string{"Authorization: Bearer ya29.<access-token>"},
		},
	}
}

func azureRules() []*detect.Rule {
	storageKey := fake("az-storage-1", b64, 86) + "=="
	return []*detect.Rule{
		{
			ID:          "azure-storage-account-key",
			Source:      "https://learn.microsoft.com/en-us/purview/sit-defn-azure-storage-account-key-generic",
			Provider:    "azure",
			Description: "Azure storage account key (88 base64 characters) in a connection string or a key that names it",
			Keywords:    []string{"accountkey", "storage_account_key", "storage_key", "storageaccountkey"},
			Regex: re(`(?i:(?:AccountName=(?P<account>[a-z0-9]{3,24});\s*)?AccountKey\s*=\s*|(?:azure[_.-]?)?storage[_.-]?(?:account[_.-]?)?(?:access[_.-]?)?key` + sep + `)` +
				`(?P<secret>[A-Za-z0-9+/]{86}==)`),
			MinEntropy: 4.5,
			Severity:   detect.Critical,
			Examples: []string{
				"AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=https;AccountName=ordersdata;AccountKey=" + storageKey + ";EndpointSuffix=core.windows.net",
				`  "StorageAccountKey": "` + fake("az-storage-2", b64, 86) + `==",`,
			},
			NoMatch: []string{
				"DefaultEndpointsProtocol=https;AccountName=devstoreaccount1;AccountKey=${STORAGE_KEY}",
				"UseDevelopmentStorage=true",
			},
		},
		{
			ID:          "azure-sas-token",
			Source:      "https://learn.microsoft.com/en-us/training/modules/configure-storage-security/4-identify-uri-sas-parameters",
			Provider:    "azure",
			Description: "Azure shared access signature (sig= with sv= and se=); names the storage account when the URL is there",
			Keywords:    []string{"sig="},
			Regex: re(`(?:https://(?P<account>[a-z0-9]{3,24})\.(?:blob|file|queue|table|dfs)\.core\.windows\.net[^?\s"'<>]*\?)?` +
				`(?:sv=\d{4}-\d\d-\d\d&(?:[a-z]{2,5}=[^&\s"'<>]*&)*?se=\d{4}-[^&\s"'<>]*&|se=\d{4}-[^&\s"'<>]*&(?:[a-z]{2,5}=[^&\s"'<>]*&)*?sv=\d{4}-\d\d-\d\d&)` +
				`(?:[a-z]{2,5}=[^&\s"'<>]*&)*?sig=(?P<secret>[A-Za-z0-9%+/]{40,}(?:%3[Dd]|=){0,2})`),
			MinEntropy: 3.5,
			Severity:   detect.High,
			Examples: []string{
				"BACKUP_URL=https://ordersbackup.blob.core.windows.net/nightly?sv=2022-11-02&ss=b&srt=co&sp=rwdlac&se=2026-01-01T00:00:00Z&st=2024-01-01T00:00:00Z&spr=https&sig=" + fake("az-sas-1", alnum, 43) + "%3D",
				"sp=r&st=2024-05-01T08:00:00Z&se=2024-05-01T16:00:00Z&spr=https&sv=2022-11-02&sr=b&sig=" + fake("az-sas-2", alnum+"%", 44),
			},
			NoMatch: []string{
				"?sv=2022-11-02&ss=b&srt=co&sp=r&se=2026-01-01&sig=<signature>",
				"hmac_sig=" + fake("az-sas-3", alnum, 43),
			},
		},
		{
			ID:          "azure-ad-client-secret",
			Provider:    "azure",
			Description: "Microsoft Entra ID (Azure AD) application client secret (3 characters, a version digit, Q~, 31-34 more)",
			Keywords:    []string{"7q~", "8q~"},
			Regex:       re(`(?:^|[^\w~.-])(?P<secret>[A-Za-z0-9_~.-]{3}[78]Q~[A-Za-z0-9_~.-]{31,34})(?:[^\w~.-]|$)`),
			MinEntropy:  3.0,
			Severity:    detect.Critical,
			Examples: []string{
				"AZURE_CLIENT_SECRET=" + fake("aad-1", alnum, 3) + "8Q~" + fake("aad-2", alnum+"_~.-", 34),
				`"clientSecret": "` + fake("aad-3", alnum, 3) + "7Q~" + fake("aad-4", alnum, 31) + `"`,
			},
			NoMatch: []string{"path: ~/8Q~notes"},
		},
		{
			ID:          "azure-service-bus-connection-string",
			Provider:    "azure",
			Description: "Azure Service Bus / Event Hubs / Relay shared access key in a connection string",
			Keywords:    []string{"sharedaccesskey="},
			Regex:       re(`(?:Endpoint=sb://(?P<host>[A-Za-z0-9.-]+)/?;\s*)?SharedAccessKeyName=(?P<user>[^;"'\s]+);\s*SharedAccessKey=(?P<secret>[A-Za-z0-9+/]{43}=)`),
			MinEntropy:  3.0,
			Severity:    detect.Critical,
			Examples: []string{
				`"ServiceBus": "Endpoint=sb://orders-bus.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=` + fake("sb-1", b64, 43) + `="`,
			},
			NoMatch: []string{"Endpoint=sb://orders-bus.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=<key>"},
		},
		{
			ID:          "azure-devops-pat",
			Source:      "https://learn.microsoft.com/en-us/purview/sit-defn-azure-devops-personal-access-token",
			Provider:    "azure",
			Description: "Azure DevOps personal access token of the current format (84 characters: 52 random, the JQQJ and AZDO signatures)",
			Keywords:    []string{"azdo"},
			Regex:       re(`\b(?P<secret>[A-Za-z0-9]{52}JQQJ[A-Za-z0-9]{20}AZDO[A-Za-z0-9]{4})\b`),
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples:    []string{"AZURE_DEVOPS_EXT_PAT=" + fake("azdo-1", alnum, 52) + "JQQJ99" + fake("azdo-2", alnum, 18) + "AZDO" + fake("azdo-3", alnum, 4)},
			NoMatch:     []string{"variables: { AZDO_ORG: acme }"},
		},
	}
}

func cloudRules() []*detect.Rule {
	return []*detect.Rule{
		{
			ID:          "digitalocean-pat",
			Source:      "https://docs.digitalocean.com/notes/2022/api-token-format",
			Provider:    "digitalocean",
			Description: "DigitalOcean personal access token (dop_v1_)",
			Keywords:    []string{"dop_v1_"},
			Regex:       re(`\b(?P<secret>dop_v1_[a-f0-9]{64})\b`),
			MinEntropy:  3.0,
			Severity:    detect.Critical,
			Examples:    []string{"DIGITALOCEAN_ACCESS_TOKEN=dop_v1_" + fake("dop-1", hexLower, 64)},
			NoMatch:     []string{"DIGITALOCEAN_ACCESS_TOKEN=dop_v1_" + fake("dop-2", hexLower, 32)},
		},
		{
			ID:          "digitalocean-oauth-token",
			Source:      "https://docs.digitalocean.com/notes/2022/api-token-format",
			Provider:    "digitalocean",
			Description: "DigitalOcean OAuth access or refresh token (doo_v1_, dor_v1_)",
			Keywords:    []string{"doo_v1_", "dor_v1_"},
			Regex:       re(`\b(?P<secret>do[or]_v1_[a-f0-9]{64})\b`),
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples:    []string{`{"access_token":"doo_v1_` + fake("doo-1", hexLower, 64) + `","refresh_token":"dor_v1_` + fake("dor-1", hexLower, 64) + `"}`},
			NoMatch:     []string{"token_prefix: doo_v1_"},
		},
		{
			ID:          "heroku-api-key",
			Provider:    "heroku",
			Description: "Heroku platform API key (HRKU-AA…)",
			Keywords:    []string{"hrku-"},
			Regex:       re(`(?:^|[^\w-])(?P<secret>HRKU-AA[0-9A-Za-z_-]{58})(?:[^\w-]|$)`),
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples:    []string{"HEROKU_API_KEY=HRKU-AA" + fake("hrku-1", alnum+"_-", 58)},
			NoMatch:     []string{"HEROKU_API_KEY=HRKU-AA" + fake("hrku-2", alnum, 20)},
		},
		{
			ID:          "heroku-api-key-legacy",
			Provider:    "heroku",
			Description: "Heroku API key or OAuth token of the older UUID form, assigned to a key that names Heroku",
			Keywords:    []string{"heroku"},
			Regex:       keyed(`heroku[\w.-]{0,20}?(?:api[_.-]?key|token|key|password|secret)`, `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`),
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples:    []string{"HEROKU_API_KEY=" + uuidLike("heroku-1")},
			NoMatch:     []string{"HEROKU_APP_ID=" + uuidLike("heroku-2")},
		},
		{
			ID:          "cloudflare-api-token",
			Source:      "https://developers.cloudflare.com/fundamentals/api/get-started/token-formats",
			Provider:    "cloudflare",
			Description: "Cloudflare user or account API token of the pre-2026 unprefixed form (40 characters) assigned to a key that names Cloudflare",
			Keywords:    []string{"cloudflare", "cf_api", "cf-api", "cf_token", "cf_auth"},
			Regex:       keyed(`(?:cloudflare|\bcf)[_.-]?(?:api[_.-]?|auth[_.-]?|dns[_.-]?)?token`, `[A-Za-z0-9_-]{40}`),
			MinEntropy:  3.5,
			Severity:    detect.High,
			Examples:    []string{"CLOUDFLARE_API_TOKEN=" + fake("cf-1", alnum+"_-", 40), "  cf_api_token: \"" + fake("cf-2", alnum, 40) + "\""},
			NoMatch:     []string{"CLOUDFLARE_API_TOKEN=${{ secrets.CLOUDFLARE_API_TOKEN }}"},
		},
		{
			ID:          "cloudflare-global-api-key",
			Source:      "https://developers.cloudflare.com/fundamentals/api/get-started/token-formats",
			Provider:    "cloudflare",
			Description: "Cloudflare global API key of the pre-2026 unprefixed form (37 to 45 lowercase hex digits) assigned to a key that names Cloudflare",
			Keywords:    []string{"cloudflare", "cf_api", "cf-api", "cf_auth"},
			Regex:       keyed(`(?:cloudflare|\bcf)[_.-]?(?:global[_.-]?|auth[_.-]?|api[_.-]?)?key`, `[a-f0-9]{37,45}`),
			MinEntropy:  3.0,
			Severity:    detect.Critical,
			Examples:    []string{"CF_API_KEY=" + fake("cfk-1", hexLower, 37), "cloudflare_api_key: " + fake("cfk-3", hexLower, 45)},
			NoMatch:     []string{"CF_API_KEY=${CLOUDFLARE_API_KEY}", "cloudflare_api_key: 0000000000000000000000000000000000000"},
		},
		{
			ID:          "cloudflare-origin-ca-key",
			Provider:    "cloudflare",
			Description: "Cloudflare Origin CA key (v1.0-)",
			Keywords:    []string{"v1.0-"},
			Regex:       re(`\b(?P<secret>v1\.0-[a-f0-9]{24}-[a-f0-9]{146})\b`),
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples:    []string{"origin_ca_key = \"v1.0-" + fake("cfo-1", hexLower, 24) + "-" + fake("cfo-2", hexLower, 146) + "\""},
			NoMatch:     []string{"version: v1.0-rc1"},
		},
		{
			ID:          "vercel-token",
			Provider:    "vercel",
			Description: "Vercel access token (24 characters) assigned to a key that names Vercel",
			Keywords:    []string{"vercel"},
			Regex:       keyed(`vercel[\w.-]{0,20}?(?:token|api[_.-]?key)`, `[A-Za-z0-9]{24}`),
			MinEntropy:  3.5,
			Severity:    detect.High,
			Examples:    []string{"VERCEL_TOKEN=" + fake("vercel-1", alnum, 24)},
			NoMatch:     []string{"VERCEL_TOKEN=${VERCEL_TOKEN}", "VERCEL_PROJECT_ID=prj_" + fake("vercel-2", alnum, 28)},
		},
		{
			ID:          "netlify-access-token",
			Provider:    "netlify",
			Description: "Netlify personal access token (nfp_)",
			Keywords:    []string{"nfp_"},
			Regex:       re(`\b(?P<secret>nfp_[A-Za-z0-9]{36})\b`),
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples:    []string{"NETLIFY_AUTH_TOKEN=nfp_" + fake("nfp-1", alnum, 36)},
			NoMatch:     []string{"nfp_" + fake("nfp-2", alnum, 20)},
		},
		{
			ID:          "netlify-legacy-token",
			Provider:    "netlify",
			Description: "Netlify access token of the older unprefixed form, assigned to a key that names Netlify",
			Keywords:    []string{"netlify"},
			Regex:       keyed(`netlify[\w.-]{0,20}?(?:token|api[_.-]?key)`, `[A-Za-z0-9_-]{43,45}`),
			MinEntropy:  4.0,
			Severity:    detect.High,
			Examples:    []string{"NETLIFY_AUTH_TOKEN=" + fake("netlify-1", alnum+"_-", 43)},
			NoMatch:     []string{"NETLIFY_SITE_ID=" + uuidLike("netlify-2")},
		},
		{
			ID:          "fastly-api-token",
			Provider:    "fastly",
			Description: "Fastly API token (32 characters) assigned to a key that names Fastly",
			Keywords:    []string{"fastly"},
			Regex:       keyed(`fastly[\w.-]{0,20}?(?:token|api[_.-]?key|key)`, `[A-Za-z0-9_-]{32}`),
			MinEntropy:  3.5,
			Severity:    detect.High,
			Examples:    []string{"FASTLY_API_TOKEN=" + fake("fastly-1", alnum+"_-", 32)},
			NoMatch:     []string{"FASTLY_SERVICE_ID=" + fake("fastly-2", alnum, 22)},
		},
		{
			ID:          "supabase-access-token",
			Provider:    "supabase",
			Description: "Supabase personal access token (sbp_)",
			Keywords:    []string{"sbp_"},
			Regex:       re(`\b(?P<secret>sbp_[a-f0-9]{40})\b`),
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples:    []string{"SUPABASE_ACCESS_TOKEN=sbp_" + fake("sbp-1", hexLower, 40)},
			NoMatch:     []string{"sbp_" + fake("sbp-2", hexLower, 20)},
		},
		{
			ID:          "supabase-secret-key",
			Source:      "https://supabase.com/docs/guides/getting-started/api-keys",
			Provider:    "supabase",
			Description: "Supabase secret API key (sb_secret_)",
			Keywords:    []string{"sb_secret_"},
			Regex:       re(`\b(?P<secret>sb_secret_[A-Za-z0-9_-]{31,})`),
			MinEntropy:  3.0,
			Severity:    detect.Critical,
			Examples:    []string{"SUPABASE_SECRET_KEY=sb_secret_" + fake("sbs-1", alnum+"_-", 31)},
			NoMatch:     []string{"SUPABASE_PUBLISHABLE_KEY=sb_publishable_" + fake("sbs-2", alnum, 31)},
		},
		{
			ID:          "firebase-cloud-messaging-server-key",
			Provider:    "firebase",
			Description: "Firebase Cloud Messaging legacy server key (AAAA…:APA91b…)",
			Keywords:    []string{":apa91b"},
			Regex:       re(`\b(?P<secret>AAAA[A-Za-z0-9_-]{7}:APA91b[A-Za-z0-9_-]{134})`),
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples:    []string{"Authorization: key=AAAA" + fake("fcm-1", alnum, 7) + ":APA91b" + fake("fcm-2", alnum+"_-", 134)},
			NoMatch:     []string{"registration_id: :APA91b" + fake("fcm-3", alnum, 40)},
		},
		{
			ID:          "databricks-token",
			Provider:    "databricks",
			Description: "Databricks personal access token (dapi + 32 hex digits)",
			Keywords:    []string{"dapi"},
			Regex:       re(`\b(?P<secret>dapi[a-f0-9]{32}(?:-\d)?)\b`),
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples:    []string{"[DEFAULT]\nhost  = https://adb-1234.5.azuredatabricks.net\ntoken = dapi" + fake("dapi-1", hexLower, 32)},
			NoMatch:     []string{"import dapi_client", "dapi" + fake("dapi-2", hexLower, 20)},
		},
		{
			ID:          "doppler-token",
			Source:      "https://docs.doppler.com/docs/Auth-token-formats",
			Provider:    "doppler",
			Description: "Doppler token (dp.pt. personal, dp.st. service, dp.sa. service account, dp.ct. CLI, dp.scim., dp.audit.)",
			Keywords:    []string{"dp.pt.", "dp.st.", "dp.sa.", "dp.ct.", "dp.scim.", "dp.audit."},
			Regex:       re(`\b(?P<secret>dp\.(?:pt|st|sa|ct|scim|audit)\.(?:[a-z0-9_-]+\.)?[A-Za-z0-9]{40,44})\b`),
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples:    []string{"DOPPLER_TOKEN=dp.st.prd." + fake("dp-1", alnum, 43), "doppler configure set token dp.pt." + fake("dp-2", alnum, 43)},
			NoMatch:     []string{"DOPPLER_TOKEN=dp.st.prd"},
		},
		{
			ID:          "pulumi-access-token",
			Provider:    "pulumi",
			Description: "Pulumi access token (pul-)",
			Keywords:    []string{"pul-"},
			Regex:       re(`\b(?P<secret>pul-[a-f0-9]{40})\b`),
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples:    []string{"PULUMI_ACCESS_TOKEN=pul-" + fake("pul-1", hexLower, 40)},
			NoMatch:     []string{"git pull-" + fake("pul-2", hexLower, 40)},
		},
		{
			ID:          "docker-hub-token",
			Source:      "https://docs.docker.com/reference/api/hub/latest/operations/AuthCreateAccessToken",
			Provider:    "docker",
			Description: "Docker Hub personal or organization access token (dckr_pat_, dckr_oat_)",
			Keywords:    []string{"dckr_pat_", "dckr_oat_"},
			Regex:       re(`\b(?P<secret>dckr_(?:pat|oat)_[A-Za-z0-9_-]{27,})`),
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples:    []string{"echo dckr_pat_" + fake("dckr-1", alnum+"_-", 27) + " | docker login -u acmeci --password-stdin"},
			NoMatch:     []string{"dckr_pat_" + fake("dckr-2", alnum, 10)},
		},
		{
			ID:          "alibaba-access-key-id",
			Provider:    "alibaba",
			Description: "Alibaba Cloud AccessKey id (LTAI)",
			Keywords:    []string{"ltai"},
			Regex:       re(`\b(?P<secret>LTAI[A-Za-z0-9]{12,20})\b`),
			MinEntropy:  3.0,
			Severity:    detect.Medium,
			Examples:    []string{"ALIBABA_CLOUD_ACCESS_KEY_ID=LTAI" + fake("ltai-1", alnum, 20)},
			NoMatch:     []string{"LTAI" + fake("ltai-2", alnum, 8)},
		},
		{
			ID:          "alibaba-access-key-secret",
			Provider:    "alibaba",
			Description: "Alibaba Cloud AccessKey secret (30 characters) assigned to a key that names it",
			Keywords:    []string{"alibaba", "aliyun", "alicloud"},
			Regex:       keyed(`(?:alibaba|aliyun|alicloud)[\w.-]{0,20}?secret`, `[A-Za-z0-9]{30}`),
			MinEntropy:  3.5,
			Severity:    detect.Critical,
			PairWith:    "alibaba-access-key-id", PairDistance: 500,
			Examples: []string{"ALIBABA_CLOUD_ACCESS_KEY_SECRET=" + fake("ali-1", alnum, 30)},
			NoMatch:  []string{"ALIBABA_CLOUD_ACCESS_KEY_SECRET="},
		},
		{
			ID:          "tencent-cloud-secret-id",
			Source:      "https://www.tencentcloud.com/document/product/598/32675",
			Provider:    "tencent",
			Description: "Tencent Cloud API key SecretId (AKID for a root account, IKID for a sub-account, + 32 characters): names the key, rotate it with its SecretKey",
			Keywords:    []string{"akid", "ikid"},
			Regex:       re(`\b(?P<secret>[AI]KID[A-Za-z0-9]{32})\b`),
			MinEntropy:  3.5,
			Severity:    detect.Medium,
			Examples: []string{
				"export TENCENTCLOUD_SECRET_ID=AKID" + fake("tc-id-1", alnum, 32),
				`  secret_id  = "IKID` + fake("tc-id-2", alnum, 32) + `"`,
			},
			NoMatch: []string{
				"SecretId: AKID****J5yKBZQpn74WFkmLPx3gnPhESA",
				"AKID" + fake("tc-id-3", alnum, 20),
				"id := \"XAKID" + fake("tc-id-4", alnum, 32) + "\"",
			},
		},
		{
			ID:          "tencent-cloud-secret-key",
			Source:      "https://www.tencentcloud.com/document/product/214/1526",
			Provider:    "tencent",
			Description: "Tencent Cloud API key SecretKey (32 characters) assigned to a key that names Tencent Cloud, or to secret_key/SecretKey a few lines after its SecretId",
			Keywords:    []string{"tencent", "qcloud", "akid", "ikid"},
			Regex: re(`(?:(?i:tencent|qcloud)[\w.-]{0,20}?(?i:secret[_.-]?key)|[AI]KID[A-Za-z0-9]{32}[^\n]*\n(?:[^\n]*\n){0,3}?[^\n]*?(?i:secret[_.-]?key))[\w.-]{0,20}?` + sep +
				`(?P<secret>[A-Za-z0-9]{32})(?:[^\w-]|$)`),
			Window:       400,
			MinEntropy:   3.5,
			Severity:     detect.Critical,
			PairWith:     "tencent-cloud-secret-id",
			PairDistance: 400,
			Examples: []string{
				"TENCENTCLOUD_SECRET_KEY=" + fake("tc-key-1", alnum, 32),
				"provider \"tencentcloud\" {\n  secret_id  = \"AKID" + fake("tc-key-2", alnum, 32) + "\"\n  secret_key = \"" + fake("tc-key-3", alnum, 32) + "\"\n}",
			},
			NoMatch: []string{
				"TENCENTCLOUD_SECRET_KEY=${TC_SECRET_KEY}",
				"SecretKey: Gu5t****pq86cd98joQYCN3Cozk1qA",
			},
		},
		{
			ID:          "tailscale-key",
			Source:      "https://tailscale.com/kb/1277/key-prefixes",
			Provider:    "tailscale",
			Description: "Tailscale auth key, API access token or OAuth client secret (tskey-)",
			Keywords:    []string{"tskey-"},
			Regex:       re(`\b(?P<secret>tskey-(?:auth|api|client|scim|webhook)-[A-Za-z0-9]{8,}-[A-Za-z0-9]{16,})`),
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples:    []string{"tailscale up --authkey=tskey-auth-" + fake("ts-1", alnum, 17) + "-" + fake("ts-2", alnum, 33)},
			NoMatch:     []string{"tailscale up --authkey=tskey-auth-XXXX"},
		},
		{
			ID:          "flyio-token",
			Provider:    "fly.io",
			Description: "Fly.io API token (FlyV1 fm1/fm2 macaroon)",
			Keywords:    []string{"flyv1 fm"},
			Regex:       re(`FlyV1 (?P<secret>fm[12][ar]?_[A-Za-z0-9+/=,_-]{100,})`),
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples:    []string{`FLY_API_TOKEN="FlyV1 fm2_` + fake("fly-1", b64, 300) + `"`},
			NoMatch:     []string{"Authorization: FlyV1 fm2_..."},
		},
		{
			ID:          "render-api-key",
			Provider:    "render",
			Description: "Render API key (rnd_)",
			Keywords:    []string{"rnd_"},
			Regex:       re(`\b(?P<secret>rnd_[A-Za-z0-9]{32})\b`),
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples:    []string{"RENDER_API_KEY=rnd_" + fake("rnd-1", alnum, 32)},
			NoMatch:     []string{"var rnd_seed = 42"},
		},
		{
			ID:          "openshift-user-token",
			Provider:    "openshift",
			Description: "OpenShift OAuth user token (sha256~)",
			Keywords:    []string{"sha256~"},
			Regex:       re(`(?:^|[^\w~-])(?P<secret>sha256~[A-Za-z0-9_-]{43})(?:[^\w-]|$)`),
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples:    []string{"oc login --token=sha256~" + fake("oc-1", alnum+"_-", 43) + " --server=https://api.ocp.internal:6443"},
			NoMatch:     []string{"oc login --token=sha256~<token>"},
		},
	}
}

func hashicorpRules() []*detect.Rule {
	return []*detect.Rule{
		{
			ID:          "vault-token",
			Source:      "https://developer.hashicorp.com/vault/docs/upgrading/upgrade-to-1.10.x#token-format-change",
			Provider:    "vault",
			Description: "HashiCorp Vault service, batch or recovery token (hvs., hvb., hvr.)",
			Keywords:    []string{"hvs.", "hvb.", "hvr."},
			Regex:       re(`\b(?P<secret>hv[sbr]\.[A-Za-z0-9_-]{24,})`),
			MinEntropy:  3.5,
			Severity:    detect.Critical,
			Examples: []string{
				"export VAULT_TOKEN=hvs." + fake("hvs-1", alnum, 24),
				"X-Vault-Token: hvb.AAAAAQ" + fake("hvb-1", alnum+"_-", 130),
			},
			NoMatch: []string{"token = \"hvs.\" + suffix", "hvs.example.internal"},
		},
		{
			ID:          "vault-token-legacy",
			Source:      "https://developer.hashicorp.com/vault/docs/upgrading/upgrade-to-1.0.0",
			Provider:    "vault",
			Description: "HashiCorp Vault token of the pre-1.10 form (s. + 24 characters) next to a key that names Vault",
			Keywords:    []string{"vault"},
			Regex:       keyed(`vault[\w.-]{0,10}?token`, `s\.[A-Za-z0-9]{24}`),
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples:    []string{"VAULT_TOKEN=s." + fake("vault-s-1", alnum, 24), "X-Vault-Token: s." + fake("vault-s-2", alnum, 24)},
			NoMatch:     []string{"vault_token_ttl: 24h", "s." + fake("vault-s-3", alnum, 24)},
		},
		{
			ID:          "terraform-cloud-token",
			Provider:    "terraform",
			Description: "Terraform Cloud / Enterprise API token (….atlasv1.…)",
			Keywords:    []string{".atlasv1."},
			Regex:       re(`\b(?P<secret>[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,70})`),
			MinEntropy:  3.0,
			Severity:    detect.Critical,
			Examples:    []string{"credentials \"app.terraform.io\" {\n  token = \"" + fake("tfc-1", alnum, 14) + ".atlasv1." + fake("tfc-2", alnum+"_-", 67) + "\"\n}"},
			NoMatch:     []string{"token = \"xxxxxxxxxxxxxx.atlasv1.zzzz\""},
		},
	}
}
