package rules

import (
	"encoding/json"
	"strings"

	"github.com/rekeyhq/rekey/internal/detect"
)

// keyedRuleWith is a rule for a value with no prefix of its own, recognised by
// the key it is assigned to (keyed): the key names the provider, so the
// keywords are parts of the key. The value still needs an entropy floor,
// and validate (when set) rejects values of the right length that are not
// drawn at random.
func keyedRuleWith(id, provider, what, src string, keywords []string, key, value string, validate func([]byte) bool, sev detect.Severity, examples, noMatch []string) *detect.Rule {
	return valueRule(id, provider, what, src, keywords, keyed(key, value), validate, sev, examples, noMatch)
}

// hasLetterAndDigit rejects values of one character class: a run of
// digits or a word of the right length is not a generated key.
func hasLetterAndDigit(v []byte) bool {
	var l, d bool
	for _, c := range v {
		l = l || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		d = d || c >= '0' && c <= '9'
	}
	return l && d
}

// cloudflareTunnelToken accepts the base64 JSON object a remotely-managed
// tunnel's token holds: the account tag (a), the tunnel id (t) and the
// tunnel secret (s).
func cloudflareTunnelToken(v []byte) bool {
	m, ok := jsonObject(string(v))
	if !ok {
		return false
	}
	for _, k := range []string{"a", "t", "s"} {
		if s, _ := m[k].(string); s == "" {
			return false
		}
	}
	return true
}

func cloudflareTunnelIdentity(v []byte, hints map[string]string) {
	if m, ok := jsonObject(string(v)); ok {
		if a, _ := m["a"].(string); a != "" {
			hints["account"] = a
		}
		if t, _ := m["t"].(string); t != "" {
			hints["tunnel"] = t
		}
	}
}

func fakeTunnelToken(seed string) string {
	b, _ := json.Marshal(map[string]string{"a": fake(seed+"a", hexLower, 32), "t": uuidLike(seed + "t"), "s": fake(seed+"s", b64, 43) + "="})
	return b64std(string(b))
}

// swarmDocumentedToken is the start of the join tokens the Docker CLI
// reference prints; the rest differs between the worker and manager ones.
const swarmDocumentedToken = "SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-"

// moreCloudRules2 are clouds and their managed services whose credentials
// the first cloud files do not cover: Linode, Vultr, IBM Cloud, Backblaze,
// Exoscale, OVHcloud, DigitalOcean Spaces, MinIO, Cloudflare Tunnel, Docker
// Swarm, and Azure services with connection strings of their own.
func moreCloudRules2() []*detect.Rule {
	return []*detect.Rule{
		keyedRuleWith("linode-api-token", "linode",
			"Linode (Akamai Cloud) API personal access token (64 hex digits) in LINODE_TOKEN, LINODE_CLI_TOKEN or a key that names Linode",
			"https://techdocs.akamai.com/linode-api/reference/cli", []string{"linode"},
			`linode[\w.-]{0,20}?(?:token|api[_.-]?key|pat)`, `[0-9a-f]{64}`, hasLetterAndDigit, detect.Critical,
			[]string{"export LINODE_TOKEN=" + fake("linode-1", hexLower, 64), `linode_cli_token: "` + fake("linode-2", hexLower, 64) + `"`},
			[]string{"LINODE_TOKEN: ${{ secrets.LINODE_TOKEN }}", "LINODE_TOKEN=" + strings.Repeat("0", 64)}),
		keyedRuleWith("vultr-api-key", "vultr",
			"Vultr API key (36 upper-case letters and digits) in VULTR_API_KEY or a key that names Vultr",
			"https://github.com/vultr/vultr-cli", []string{"vultr"},
			`vultr[\w.-]{0,20}?(?:api[_.-]?key|token)`, `[A-Z0-9]{36}`, hasLetterAndDigit, detect.Critical,
			[]string{"export VULTR_API_KEY=" + fake("vultr-1", upperAlnum, 36), `vultr_api_key = "` + fake("vultr-2", upperAlnum, 36) + `"`},
			[]string{"VULTR_API_KEY=YOURAPIKEYHEREXXXXXXXXXXXXXXXXXXXXXXXX", "VULTR_API_KEY=<your-api-key>"}),
		keyedRuleWith("ibm-cloud-api-key", "ibm",
			"IBM Cloud IAM API key (44 characters) in IBMCLOUD_API_KEY, IC_API_KEY or a key that names IBM Cloud; it logs in as the user or service ID that owns it",
			"https://cloud.ibm.com/docs/cli?topic=cli-ibmcloud_env_var", []string{"ibmcloud", "ibm_cloud", "ibm-cloud", "ic_api_key"},
			`(?:ibm[_.-]?cloud|\bic)[_.-]?api[_.-]?key`, `[A-Za-z0-9_-]{44}`, mixedCase, detect.Critical,
			[]string{"export IBMCLOUD_API_KEY=" + fake("ibm-1", b64url, 44), `IC_API_KEY: "` + fake("ibm-2", b64url, 44) + `"`},
			[]string{"IBMCLOUD_API_KEY=api_key_value", "IBMCLOUD_API_KEY=@/path/to/apikey.json"}),
		{
			ID:          "backblaze-b2-application-key",
			Provider:    "backblaze",
			Description: "Backblaze B2 application key (K, three digits, 27 more characters) in B2_APPLICATION_KEY, an applicationKey field or a key that names B2 or Backblaze; with its key id it reads and writes the buckets it covers",
			Source:      "https://www.backblaze.com/docs/cloud-storage-application-keys",
			Keywords:    []string{"b2_", "b2-", "backblaze", "applicationkey"},
			Regex:       keyed(`(?:(?:\bb2|backblaze)[\w.-]{0,16}?key|applicationKey)`, `K[0-9]{3}[A-Za-z0-9+/]{27}`),
			Validate:    mixedCase,
			MinEntropy:  3.5,
			Severity:    detect.Critical,
			Examples: []string{
				"B2_APPLICATION_KEY_ID=" + fake("b2-1", hexLower, 25) + "\nB2_APPLICATION_KEY=K005" + fake("b2-2", alnum, 27),
				`{"applicationKeyId": "` + fake("b2-3", hexLower, 25) + `", "applicationKey": "K004` + fake("b2-4", alnum+"/+", 27) + `"}`,
			},
			NoMatch: []string{"B2_APPLICATION_KEY=<applicationKey>", "B2_APPLICATION_KEY=K001xxxxxxxxxxxxxxxxxxxxxxxxxxx"},
		},
		{
			ID:          "exoscale-api-secret",
			Provider:    "exoscale",
			Description: "Exoscale IAM API secret (43 characters) in EXOSCALE_API_SECRET, a key that names Exoscale, or the secret beside an EXO… key in the exo CLI's config",
			Source:      "https://community.exoscale.com/reference/cli/exo/iam/api-key/create/",
			Keywords:    []string{"exoscale", "\"exo", "'exo"},
			Regex: re(`(?:(?i:exoscale)[\w.-]{0,20}?(?i:secret)` + sep + `|(?i:key)[ \t]*=[ \t]*["']EXO[0-9a-f]{24}["'][ \t]*\r?\n[ \t]*(?i:secret)[ \t]*=[ \t]*["'])` +
				`(?P<secret>[A-Za-z0-9_-]{43})(?:[^\w-]|$)`),
			Validate:   mixedCase,
			MinEntropy: 3.5,
			Severity:   detect.Critical,
			// The exo CLI's config writes the secret on the line after the key.
			Window: 200,
			Examples: []string{
				"EXOSCALE_API_KEY=EXO" + fake("exo-1", hexLower, 24) + "\nEXOSCALE_API_SECRET=" + fake("exo-2", b64url, 43),
				"[[accounts]]\n  name = \"prod\"\n  key = \"EXO" + fake("exo-3", hexLower, 24) + "\"\n  secret = \"" + fake("exo-4", b64url, 43) + "\"\n",
			},
			NoMatch: []string{"EXOSCALE_API_SECRET=${EXOSCALE_API_SECRET}", `key = "EXOxxxxxxxxxxxxxxxxxxxxxxxx"`},
		},
		{
			ID:          "ovh-application-secret",
			Provider:    "ovh",
			Description: "OVHcloud API application secret or consumer key (32 letters and digits) in OVH_APPLICATION_SECRET, OVH_CONSUMER_KEY or an [ovh-…] section of ovh.conf; with the application key they sign API calls as the account",
			Source:      "https://github.com/ovh/go-ovh",
			Keywords:    []string{"ovh_", "ovh-", "ovh."},
			Regex: re(`(?:(?i:ovh)[_.-]|\[ovh-[a-z]{2}\][^\[]*?)(?i:application[_.-]?secret|consumer[_.-]?key)["']?[ \t]*(?:=|:)[ \t]*["']?` +
				`(?P<secret>[A-Za-z0-9]{32})(?:[^\w-]|$)`),
			Validate:   mixedCase,
			MinEntropy: 3.0,
			Severity:   detect.Critical,
			// ovh.conf puts the secrets on the lines under the section name.
			Window: 400,
			Examples: []string{"[ovh-eu]\napplication_key=" + fake("ovh-1", alnum, 16) + "\napplication_secret=" + fake("ovh-2", alnum, 32) + "\nconsumer_key=" + fake("ovh-3", alnum, 32) + "\n",
				"export OVH_APPLICATION_SECRET=" + fake("ovh-4", alnum, 32)},
			NoMatch: []string{"application_secret=my_application_secret", "OVH_CONSUMER_KEY=" + strings.Repeat("x", 32), "[twitter]\nconsumer_key=" + fake("ovh-5", alnum, 32)},
		},
		keyedRuleWith("digitalocean-spaces-secret-key", "digitalocean",
			"DigitalOcean Spaces secret access key (43 base64 characters) in SPACES_SECRET_KEY, SPACES_SECRET_ACCESS_KEY or a key that names DigitalOcean Spaces",
			"https://docs.digitalocean.com/products/spaces/how-to/manage-access/", []string{"spaces_secret", "spaces-secret", "do_spaces", "digitalocean_spaces"},
			`(?:do[_.-]|digitalocean[_.-])?spaces[_.-]?secret(?:[_.-]?access)?[_.-]?key`, `[A-Za-z0-9+/]{43}`, mixedCase, detect.Critical,
			[]string{"SPACES_ACCESS_KEY_ID=DO00" + fake("spaces-1", upperAlnum, 16) + "\nSPACES_SECRET_ACCESS_KEY=" + fake("spaces-2", b64, 43)},
			[]string{"SPACES_SECRET_KEY=<your-spaces-secret>"}),
		{
			ID:          "minio-root-password",
			Provider:    "minio",
			Description: "MinIO root password or legacy secret key (MINIO_ROOT_PASSWORD, MINIO_SECRET_KEY): the administrator credential of the whole deployment",
			Source:      "https://min.io/docs/minio/linux/reference/minio-server/settings/root-credentials.html",
			Keywords:    []string{"minio_"},
			Regex:       re(`(?i:MINIO_(?:ROOT_PASSWORD|SECRET_KEY))["']?[ \t]*(?:=|:|=>)[ \t]*["']?(?P<secret>[^\s"'$]{8,})`),
			Validate: func(v []byte) bool {
				return plausiblePassword(v) && except("minioadmin", "minio123", "minio-secret")(v)
			},
			MinEntropy: 3.0,
			Severity:   detect.Critical,
			Examples: []string{
				"MINIO_ROOT_USER=admin\nMINIO_ROOT_PASSWORD=" + fake("minio-1", alnum, 24),
				"      - MINIO_SECRET_KEY=" + fake("minio-2", alnum, 20) + "-" + fake("minio-3", alnum, 6),
			},
			NoMatch: []string{"MINIO_ROOT_PASSWORD=minioadmin", "MINIO_ROOT_PASSWORD: ${MINIO_ROOT_PASSWORD}", "MINIO_ROOT_PASSWORD=minio123"},
		},
		{
			ID:          "cloudflare-tunnel-token",
			Provider:    "cloudflare",
			Description: "Cloudflare Tunnel token (base64 JSON of the account tag, tunnel id and tunnel secret): anyone holding it can run the tunnel and receive its traffic",
			Source:      "https://developers.cloudflare.com/tunnel/advanced/tunnel-tokens",
			Keywords:    []string{"eyjhijoi"},
			Regex:       re(`(?:^|[^\w+/-])(?P<secret>eyJhIjoi[A-Za-z0-9+/_-]{60,}={0,2})(?:[^\w+/=-]|$)`),
			Validate:    cloudflareTunnelToken,
			Identity:    cloudflareTunnelIdentity,
			MinEntropy:  3.5,
			Severity:    detect.Critical,
			Examples: []string{
				"sudo cloudflared service install " + fakeTunnelToken("cft-1"),
				"    environment:\n      - TUNNEL_TOKEN=" + fakeTunnelToken("cft-2"),
			},
			NoMatch: []string{"The token value is of the form eyJhIjoiNWFiNGU5Z...", "decoded sample eyJhIjoi" + b64std("not json at all, just text padding it out")},
		},
		{
			ID:          "docker-swarm-join-token",
			Provider:    "docker",
			Description: "Docker Swarm join token (SWMTKN-1-…): lets a node join the swarm as a worker or a manager; a manager token hands over the cluster",
			Source:      "https://docs.docker.com/reference/cli/docker/swarm/join-token/",
			Keywords:    []string{"swmtkn-1-"},
			Regex:       re(`\b(?P<secret>SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25})\b`),
			Validate:    func(v []byte) bool { return !strings.HasPrefix(string(v), swarmDocumentedToken) },
			MinEntropy:  3.5,
			Severity:    detect.High,
			Examples: []string{
				"docker swarm join --token SWMTKN-1-" + fake("swarm-1", lowerAlnum, 50) + "-" + fake("swarm-2", lowerAlnum, 25) + " 10.0.0.5:2377",
			},
			NoMatch: []string{
				"docker swarm join --token " + swarmDocumentedToken + "1awxwuwd3z9j1z3puu7rcgdbx 172.17.0.2:2377",
				"--token SWMTKN-1-aabbccdd00112233aabbccdd00112233aabbccdd00112233aa-aabbccdd00112233...",
			},
		},
		{
			ID:          "azure-app-configuration-connection-string",
			Provider:    "azure",
			Description: "Azure App Configuration connection string (Endpoint=https://….azconfig.io;Id=…;Secret=…): reads, and with a read-write key changes, the store's settings",
			Source:      "https://learn.microsoft.com/en-us/azure/azure-app-configuration/rest-api-authentication-hmac",
			Keywords:    []string{".azconfig.io"},
			Regex:       re(`Endpoint=https://(?P<host>[A-Za-z0-9-]+\.azconfig\.io)/?;\s*Id=(?P<user>[^;"'\s]+);\s*Secret=(?P<secret>[A-Za-z0-9+/]{40,}={0,2})`),
			MinEntropy:  4.0,
			Severity:    detect.Critical,
			Examples:    []string{`"AppConfig": "Endpoint=https://shop-settings.azconfig.io;Id=` + fake("aac-1", alnum, 4) + `-l0-s0:` + fake("aac-2", alnum, 20) + `;Secret=` + fake("aac-3", b64, 43) + `="`},
			NoMatch:     []string{"Endpoint=https://<store>.azconfig.io;Id=<id>;Secret=<secret>"},
		},
		{
			ID:          "azure-communication-services-connection-string",
			Provider:    "azure",
			Description: "Azure Communication Services connection string (endpoint=https://….communication.azure.com/;accesskey=…): sends SMS, e-mail and calls billed to the resource",
			Source:      "https://learn.microsoft.com/en-us/azure/communication-services/concepts/authentication",
			Keywords:    []string{".communication.azure.com"},
			Regex:       re(`(?i:endpoint)=https://(?P<host>[A-Za-z0-9.-]+\.communication\.azure\.com)/?;\s*(?i:accesskey)=(?P<secret>[A-Za-z0-9+/]{86}==)`),
			MinEntropy:  4.0,
			Severity:    detect.Critical,
			Examples:    []string{"ACS_CONNECTION_STRING=endpoint=https://notify-prod.europe.communication.azure.com/;accesskey=" + fake("acs-1", b64, 86) + "=="},
			NoMatch:     []string{"endpoint=https://<resource-name>.communication.azure.com/;accesskey=<key>"},
		},
		{
			ID:          "azure-cache-for-redis-connection-string",
			Provider:    "azure",
			Description: "Azure Cache for Redis access key in a StackExchange.Redis connection string (….redis.cache.windows.net:6380,password=…)",
			Source:      "https://learn.microsoft.com/en-us/azure/azure-cache-for-redis/cache-dotnet-core-quickstart",
			Keywords:    []string{".redis.cache.windows.net"},
			Regex:       re(`(?P<host>[A-Za-z0-9-]+\.redis\.cache\.windows\.net)(?::\d{2,5})?,[^"'\s]*?(?i:password)=(?P<secret>[A-Za-z0-9+/]{43}=)`),
			MinEntropy:  4.0,
			Severity:    detect.Critical,
			Examples:    []string{`"Redis": "orders-cache.redis.cache.windows.net:6380,password=` + fake("acr-1", b64, 43) + `=,ssl=True,abortConnect=False"`},
			NoMatch:     []string{"<cache-name>.redis.cache.windows.net:6380,password=<access-key>,ssl=True,abortConnect=False"},
		},
		{
			ID:          "azure-event-grid-access-key",
			Provider:    "azure",
			Description: "Azure Event Grid topic or domain access key sent in the aeg-sas-key header: publishes events to the topic",
			Source:      "https://learn.microsoft.com/en-us/azure/event-grid/authenticate-with-access-keys-shared-access-signatures",
			Keywords:    []string{"aeg-sas-key"},
			Regex:       re(`(?i:aeg-sas-key)["']?[ \t]*[:=,][ \t]*["']?(?P<secret>[A-Za-z0-9+/]{43}=|[A-Za-z0-9]{52})(?:[^\w+/=-]|$)`),
			Validate:    mixedCase,
			MinEntropy:  4.0,
			Severity:    detect.High,
			Examples:    []string{`curl -X POST -H "aeg-sas-key: ` + fake("aeg-1", b64, 43) + `=" -d @events.json https://orders.westeurope-1.eventgrid.azure.net/api/events`},
			NoMatch:     []string{`-H "aeg-sas-key: $KEY"`, "aeg-sas-key: <access-key>"},
		},
	}
}

// knownPrefixMore extends knownPrefix (validate.go) with the prefixes of the
// rules in cloud3.go and the files after it, so generic rules leave those
// values, well-formed or not, to their own rules. Only prefixes whose rule
// finds them anywhere belong here: a keyed rule (Yandex's AQVN, Infisical's
// st., Bitwarden's 0.) sees them only under its own names, and elsewhere the
// generic rules must still report them.
var knownPrefixMore = re(`^(?:SWMTKN-1-|eyJhIjoi|eyJ0eXAiOiAiVENWMiJ9\.|sktsec_|ptr_[A-Za-z0-9+/]{20}|dbt[cu]_|ory_(?:pat|apikey|at|rt)_|` +
	`[ps]at\.[A-Za-z0-9_-]{22}\.|K10[0-9a-f]{64}::|odt_|fo1_|ico-[A-Za-z0-9]{32}$|CLOJARS_[0-9a-f]{60}|dnkey-|token-[a-z0-9]{5}:|perm:)`)
