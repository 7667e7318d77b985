package rules

import (
	"slices"

	"github.com/rekeyhq/rekey/internal/detect"
)

// Credentials recognisable by the HTTP header (or header scheme) their
// provider documents for them: the header name is a precise keyword even
// where the value is an opaque string or a UUID.
func headerRules() []*detect.Rule {
	return []*detect.Rule{
		{
			ID:          "figma-token-header",
			Provider:    "figma",
			Description: "Figma personal access token in its X-Figma-Token header, for tokens of the forms before figd_ (figd_ tokens are figma-pat's)",
			Source:      "https://developers.figma.com/docs/rest-api/personal-access-tokens/",
			Keywords:    []string{"x-figma-token"},
			Regex:       re(`(?i:x-figma-token)["']?[ \t]*[:=,][ \t]*["']?(?P<secret>` + notPrefix("figd_") + `[A-Za-z0-9_-]{20,})(?:[^\w-]|$)`),
			Validate:    plausiblePassword,
			MinEntropy:  3.5,
			Severity:    detect.Medium,
			Examples: []string{
				`curl -H "X-Figma-Token: ` + fake("figma-h-1", digits, 6) + "-" + uuidLike("figma-h-2") + `" https://api.figma.com/v1/files/` + fake("figma-h-3", alnum, 22),
				`headers: { 'X-Figma-Token': '` + fake("figma-h-4", alnum+"_-", 40) + `' }`,
			},
			NoMatch: []string{`-H "X-Figma-Token: <personal access token>"`, `-H "X-Figma-Token: $FIGMA_TOKEN"`, `-H "X-Figma-Token: figd_..."`},
		},
		{
			ID:          "splunk-hec-token",
			Provider:    "splunk",
			Description: "Splunk HTTP Event Collector token (a GUID) in its Authorization: Splunk header",
			Source:      "https://help.splunk.com/splunk-enterprise/get-data-in/collect-http-event-data/format-events-for-http-event-collector",
			Keywords:    []string{"splunk "},
			Regex:       re(`\bSplunk[ \t]+(?P<secret>[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})\b`),
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples: []string{
				`curl https://hec.acme.io:8088/services/collector/event -H "Authorization: Splunk ` + uuidLike("hec-1") + `" -d '{"event": "deploy"}'`,
				`$headers = @{"Authorization" = "Splunk ` + uuidLike("hec-2") + `"}`,
			},
			NoMatch: []string{`-H "Authorization: Splunk <hec_token>"`, "Splunk 00000000-0000-0000-0000-000000000000"},
		},
		{
			ID:          "pagerduty-api-token",
			Provider:    "pagerduty",
			Description: "PagerDuty REST API account or user token in its Authorization: Token token= header",
			Source:      "https://github.com/PagerDuty/developer-docs/blob/main/docs/REST-API/02-Authentication.md",
			Keywords:    []string{"token token="},
			Regex:       re(`\bToken token=(?P<secret>[A-Za-z0-9_+-]{20})(?:[^\w+-]|$)`),
			Validate:    except("y_NbAkKc66ryYTWUXYEu"),
			MinEntropy:  3.5,
			Severity:    detect.High,
			Examples:    []string{`curl -H "Authorization: Token token=` + fake("pd-1", alnum+"_+-", 20) + `" -H "Accept: application/vnd.pagerduty+json;version=2" https://api.pagerduty.com/users`},
			NoMatch:     []string{"Authorization: Token token=your-token-here", `conn.headers['Authorization'] = "Token token=#{authorization_token}"`},
		},
		{
			ID:          "consul-acl-token",
			Provider:    "consul",
			Description: "HashiCorp Consul ACL token secret id (a UUID) in X-Consul-Token, CONSUL_HTTP_TOKEN or a key that names Consul",
			Source:      "https://developer.hashicorp.com/consul/api-docs/v1.10.x/acl/tokens",
			Keywords:    []string{"x-consul-token", "consul_http_token", "consul"},
			Regex:       keyed(`(?:x-consul-token|consul[\w.-]{0,20}?(?:token|secret[_.-]?id))`, `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`),
			MinEntropy:  3.0,
			Severity:    detect.Critical,
			Examples: []string{
				"export CONSUL_HTTP_TOKEN=" + uuidLike("consul-1"),
				`curl --header "X-Consul-Token: ` + uuidLike("consul-2") + `" http://127.0.0.1:8500/v1/agent/members`,
			},
			NoMatch: []string{`curl --header "X-Consul-Token: <consul token>" http://127.0.0.1:8500/v1/agent/members`, "CONSUL_HTTP_TOKEN=00000000-0000-0000-0000-000000000002"},
		},
		{
			ID:          "azure-apim-subscription-key",
			Provider:    "azure",
			Description: "Azure API Management (and Azure AI services) subscription key in its Ocp-Apim-Subscription-Key header",
			Source:      "https://learn.microsoft.com/en-us/training/modules/publish-manage-apis-with-azure-api-management/6-call-an-api-with-a-subscription-key",
			Keywords:    []string{"ocp-apim-subscription-key"},
			Regex:       re(`(?i:ocp-apim-subscription-key)["']?[ \t]*[:=,][ \t]*["']?(?P<secret>[A-Za-z0-9]{24,})(?:[^\w-]|$)`),
			Validate:    plausiblePassword,
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples: []string{
				`curl -H "Ocp-Apim-Subscription-Key: ` + fake("apim-1", hexLower, 32) + `" https://orders-apim.azure-api.net/orders/v1/orders`,
				`$header.Add('Ocp-Apim-Subscription-Key', '` + fake("apim-2", hexLower, 32) + `')`,
			},
			NoMatch: []string{`$header.Add('Ocp-Apim-Subscription-Key', $Key)`, `-H "Ocp-Apim-Subscription-Key: {subscription key}"`},
		},
		{
			ID:          "azure-functions-key",
			Provider:    "azure",
			Description: "Azure Functions access key in the x-functions-key header or the code= parameter of a function URL; names the function app",
			Source:      "https://learn.microsoft.com/en-us/Azure/azure-functions/function-keys-how-to",
			Keywords:    []string{"x-functions-key", ".azurewebsites.net/api/"},
			Regex: re(`(?:(?i:x-functions-key)["']?[ \t]*[:=,][ \t]*["']?|https://(?P<host>[a-z0-9-]+)\.azurewebsites\.net/api/[^\s"'?]*\?(?:[^\s"'#]*&)?code=)` +
				`(?P<secret>[A-Za-z0-9_-]{30,}={0,2})`),
			MinEntropy: 4.0,
			Severity:   detect.High,
			Examples: []string{
				"ORDER_HOOK=https://orders-fn.azurewebsites.net/api/OnOrder?code=" + fake("azfn-1", alnum+"_-", 54) + "==",
				`curl -H "x-functions-key: ` + fake("azfn-2", alnum+"_-", 54) + `==" https://orders-fn.azurewebsites.net/api/OnOrder`,
			},
			NoMatch: []string{"https://orders-fn.azurewebsites.net/api/OnOrder?code=<function key>", "https://orders-fn.azurewebsites.net/api/OnOrder"},
		},
		{
			ID:          "zendesk-api-token",
			Provider:    "zendesk",
			Description: "Zendesk API token with the agent e-mail it authenticates ({email_address}/token:{api_token}); names the user",
			Source:      "https://support.zendesk.com/hc/fr/articles/115000510267-Authentification-pour-demandes-API",
			Keywords:    []string{"/token:"},
			Regex:       re(`(?P<user>[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})/token:(?P<secret>[A-Za-z0-9]{20,})\b`),
			Validate:    mixedCase,
			MinEntropy:  3.5,
			Severity:    detect.High,
			Examples:    []string{"curl https://acme.zendesk.com/api/v2/tickets.json -u support-bot@acme.io/token:" + fake("zd-1", alnum, 40)},
			NoMatch:     []string{"-u jdoe@example.com/token:{api_token}", "-u jdoe@example.com/token:" + fake("zd-2", lower, 40)},
		},
		{
			ID:          "shopify-legacy-access-token",
			Provider:    "shopify",
			Description: "Shopify Admin API access token of the unprefixed 32-character form (issued before April 2020) in its X-Shopify-Access-Token header",
			Source:      "https://shopify.dev/changelog/length-of-the-shopify-access-token-is-increasing",
			Keywords:    []string{"x-shopify-access-token"},
			Regex:       re(`(?i:x-shopify-access-token)["']?[ \t]*[:=,][ \t]*["']?(?P<secret>[A-Za-z0-9]{32})\b`),
			MinEntropy:  3.0,
			Severity:    detect.Critical,
			Examples:    []string{`curl -H "X-Shopify-Access-Token: ` + fake("shop-legacy-1", hexLower, 32) + `" https://acme.myshopify.com/admin/api/2020-01/orders.json`},
			NoMatch:     []string{`-H "X-Shopify-Access-Token: {access_token}"`, `-H "X-Shopify-Access-Token: shpat_` + fake("shop-legacy-2", hexLower, 32) + `x"`},
		},
	}
}

// except rejects the sample values a provider's own documentation prints,
// which are copied into READMEs far more often than they are anyone's
// credential.
func except(documented ...string) func([]byte) bool {
	return func(v []byte) bool { return !slices.Contains(documented, string(v)) }
}
