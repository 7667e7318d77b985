package rules

import "github.com/rekeyhq/rekey/internal/detect"

func paymentRules() []*detect.Rule {
	return []*detect.Rule{
		withSource("https://docs.stripe.com/keys", withValidate(mixedCase, prefixed("stripe-secret-key", "stripe", "Stripe live secret key (sk_live_)", "sk_live_", `[0-9A-Za-z]{24,}`, detect.Critical,
			[]string{"STRIPE_SECRET_KEY=sk_live_" + fake("stripe-1", alnum, 99), `Stripe.api_key = "sk_live_` + fake("stripe-2", alnum, 24) + `"`},
			[]string{"STRIPE_SECRET_KEY=sk_live_...", "STRIPE_PUBLISHABLE_KEY=pk_live_" + fake("stripe-3", alnum, 99)}))),
		withSource("https://docs.stripe.com/keys", prefixed("stripe-restricted-key", "stripe", "Stripe live restricted key (rk_live_)", "rk_live_", `[0-9A-Za-z]{24,}`, detect.High,
			[]string{"STRIPE_RESTRICTED_KEY=rk_live_" + fake("stripe-rk-1", alnum, 99)},
			[]string{"rk_live_xxxxxxxxxxxxxxxxxxxxxxxx"})),
		{
			ID:          "stripe-test-key",
			Source:      "https://docs.stripe.com/keys",
			Provider:    "stripe",
			Description: "Stripe test-mode secret or restricted key (sk_test_, rk_test_); reaches only test data",
			Keywords:    []string{"sk_test_", "rk_test_"},
			Regex:       re(`(?:^|[^\w-])(?P<secret>[sr]k_test_[0-9A-Za-z]{24,})(?:[^\w-]|$)`),
			// Stripe keys are base62: a body of one case is another
			// provider's (Paystack's sk_test_ + 40 hex digits).
			Validate:   mixedCase,
			MinEntropy: 3.0,
			Severity:   detect.Low,
			Examples:   []string{"STRIPE_SECRET_KEY=sk_test_" + fake("stripe-test-1", alnum, 99)},
			NoMatch:    []string{"Stripe.api_key = 'sk_test_4eC39HqLyjWDarjtT1zdp7dc'"},
		},
		withSource("https://docs.stripe.com/webhooks", prefixed("stripe-webhook-secret", "stripe", "Stripe webhook signing secret (whsec_)", "whsec_", `[A-Za-z0-9+/=]{32,}`, detect.High,
			[]string{"STRIPE_WEBHOOK_SECRET=whsec_" + fake("whsec-1", alnum, 32)},
			[]string{"whsec_..."})),
		{
			ID:          "plaid-access-token",
			Source:      "https://plaid.com/docs/quickstart/glossary/",
			Provider:    "plaid",
			Description: "Plaid access token or asset report token ([type]-[environment]-[UUID]): it never expires; sandbox ones reach only test data",
			Keywords:    []string{"access-sandbox-", "access-development-", "access-production-", "asset-report-"},
			Regex: re(`(?:^|[^\w-])(?P<secret>(?:access|asset-report)-(?:sandbox|development|production)-` +
				`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:[^\w-]|$)`),
			MinEntropy: 3.0,
			Severity:   detect.High,
			Examples: []string{
				"PLAID_ACCESS_TOKEN=access-production-" + plaidUUID("plaid-1"),
				`{"access_token": "access-sandbox-` + plaidUUID("plaid-2") + `", "item_id": "M5eVJqLnv3tbzdngLDp9FL5OlDNxlNhlE55op"}`,
				"asset_report_token: asset-report-production-" + plaidUUID("plaid-3"),
			},
			NoMatch: []string{
				// Link's public and link tokens live minutes to hours.
				"DEBUG exchanged public-sandbox-" + plaidUUID("plaid-4") + " for an access token",
				"INFO created link-production-" + plaidUUID("plaid-5") + " for user 42",
				`assert token.startswith("access-sandbox-")`,
			},
		},
		{
			ID:          "square-access-token",
			Source:      "https://developer.squareup.com/docs/build-basics/access-tokens",
			Provider:    "square",
			Description: "Square access token (EAAA + 60 characters, or sq0atp- for older ones)",
			Keywords:    []string{"eaaa", "sq0atp-"},
			Regex:       re(`(?:^|[^\w-])(?P<secret>EAAA[A-Za-z0-9_-]{60}|sq0atp-[0-9A-Za-z_-]{22})(?:[^\w-]|$)`),
			MinEntropy:  3.5,
			Severity:    detect.Critical,
			Examples:    []string{"SQUARE_ACCESS_TOKEN=EAAA" + fake("square-1", alnum+"_-", 60), "square_token: sq0atp-" + fake("square-2", alnum+"_-", 22)},
			NoMatch:     []string{"graph_api: EAAG" + fake("square-3", alnum, 180)},
		},
		prefixed("square-oauth-secret", "square", "Square OAuth application secret (sq0csp-)", "sq0csp-", `[0-9A-Za-z_-]{43}`, detect.High,
			[]string{"SQUARE_APPLICATION_SECRET=sq0csp-" + fake("sq0csp-1", alnum+"_-", 43)},
			[]string{"sq0csp-" + fake("sq0csp-2", alnum, 20)}),
		{
			ID:          "braintree-access-token",
			Provider:    "paypal",
			Description: "PayPal Braintree production access token (access_token$production$…)",
			Keywords:    []string{"access_token$production$"},
			Regex:       re(`(?P<secret>access_token\$production\$[0-9a-z]{16}\$[0-9a-f]{32})\b`),
			MinEntropy:  3.0,
			Severity:    detect.Critical,
			Examples:    []string{"BRAINTREE_ACCESS_TOKEN=access_token$production$" + fake("bt-1", lowerAlnum, 16) + "$" + fake("bt-2", hexLower, 32)},
			NoMatch:     []string{"# sandbox tokens look like access_token$sandbox$<16 chars>$<32 hex>", "access_token$production$" + fake("bt-3", lowerAlnum, 10)},
		},
		{
			ID:          "shopify-access-token",
			Source:      "https://shopify.dev/changelog/length-of-the-shopify-access-token-is-increasing",
			Provider:    "shopify",
			Description: "Shopify Admin API access token (shpat_ app, shpca_ custom app, shppa_ private app)",
			Keywords:    []string{"shpat_", "shpca_", "shppa_"},
			Regex:       re(`\b(?P<secret>shp(?:at|ca|pa)_[a-fA-F0-9]{32})\b`),
			MinEntropy:  3.0,
			Severity:    detect.Critical,
			Examples:    []string{"SHOPIFY_ACCESS_TOKEN=shpat_" + fake("shpat-1", hexLower, 32), `"X-Shopify-Access-Token": "shpca_` + fake("shpca-1", hexLower, 32) + `"`},
			NoMatch:     []string{"shpat_" + fake("shpat-2", hexLower, 16)},
		},
		withSource("https://shopify.dev/changelog/app-secret-key-length-has-increased", prefixed("shopify-shared-secret", "shopify", "Shopify app shared secret (shpss_)", "shpss_", `[a-fA-F0-9]{32}`, detect.High,
			[]string{"SHOPIFY_API_SECRET=shpss_" + fake("shpss-1", hexLower, 32)},
			[]string{"shpss_" + fake("shpss-2", hexLower, 31)})),
		prefixed("shippo-api-token", "shippo", "Shippo live API token (shippo_live_)", "shippo_live_", `[a-f0-9]{40}`, detect.High,
			[]string{"SHIPPO_API_KEY=shippo_live_" + fake("shippo-1", hexLower, 40)},
			[]string{"shippo_live_" + fake("shippo-2", hexLower, 20)}),
		{
			ID:          "flutterwave-secret-key",
			Provider:    "flutterwave",
			Description: "Flutterwave live secret key (FLWSECK-…-X)",
			Keywords:    []string{"flwseck-"},
			Regex:       re(`\b(?P<secret>FLWSECK-[a-f0-9]{32}-X)\b`),
			MinEntropy:  3.0,
			Severity:    detect.Critical,
			Examples:    []string{"FLW_SECRET_KEY=FLWSECK-" + fake("flw-1", hexLower, 32) + "-X"},
			NoMatch:     []string{"FLUTTERWAVE_TEST_KEY=FLWSECK_TEST-" + fake("flw-2", hexLower, 32) + "-X"},
		},
	}
}

// plaidUUID is a version-4 UUID of test data, as Plaid's tokens end with.
func plaidUUID(seed string) string {
	h := fake(seed, hexLower, 32)
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:]
}
