package rules

import "github.com/rekeyhq/rekey/internal/detect"

// Observability, feature flags and LLM tracing: agents and SDKs that ship
// with an ingest or API key in their config.
func observabilityRules() []*detect.Rule {
	return []*detect.Rule{
		{
			ID:          "dynatrace-token",
			Provider:    "dynatrace",
			Description: "Dynatrace access token (dt0c01. / dt0s01. …: prefix, 24-character public portion, 64-character secret portion)",
			Source:      "https://docs.dynatrace.com/docs/manage/identity-access-management/access-tokens-and-oauth-clients/access-tokens-legacy",
			Keywords:    []string{"dt0c0", "dt0s0", "dt0a0"},
			Regex:       re(`\b(?P<secret>dt0[a-z][0-9]{2}\.[A-Z0-9]{24}\.[A-Z0-9]{64})\b`),
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples: []string{
				"DT_API_TOKEN=dt0c01." + fake("dt-1", upperAlnum, 24) + "." + fake("dt-2", upperAlnum, 64),
				"curl -H 'Authorization: Api-Token dt0s01." + fake("dt-3", upperAlnum, 24) + "." + fake("dt-4", upperAlnum, 64) + "'",
			},
			NoMatch: []string{
				"token id dt0c01." + fake("dt-5", upperAlnum, 24) + " (the public portion may be logged)",
				"dt0c01." + fake("dt-6", upperAlnum, 24) + "." + fake("dt-7", upperAlnum, 40),
			},
		},
		{
			ID:          "honeycomb-ingest-key",
			Provider:    "honeycomb",
			Description: "Honeycomb ingest key (hc?ik_ key id and secret, concatenated)",
			Source:      "https://docs.honeycomb.io/api/authentication",
			Keywords:    honeycombKeywords("ik_"),
			Regex:       re(`\b(?P<secret>hc[a-z]ik_[0-9a-z]{58})\b`),
			MinEntropy:  3.5,
			Severity:    detect.Medium,
			Examples:    []string{"OTEL_EXPORTER_OTLP_HEADERS=x-honeycomb-team=hcxik_" + fake("hcik-1", lowerAlnum, 58)},
			NoMatch:     []string{"key id hcxik_" + fake("hcik-2", lowerAlnum, 26) + " was disabled"},
		},
		{
			ID:          "honeycomb-management-key",
			Provider:    "honeycomb",
			Description: "Honeycomb management key (hc?mk_ key id, colon, key secret)",
			Source:      "https://docs.honeycomb.io/api/authentication",
			Keywords:    honeycombKeywords("mk_"),
			Regex:       re(`\b(?P<secret>hc[a-z]mk_[0-9a-z]{26}:[0-9a-z]{32})\b`),
			MinEntropy:  3.5,
			Severity:    detect.High,
			Examples:    []string{"Authorization: Bearer hcamk_" + fake("hcmk-1", lowerAlnum, 26) + ":" + fake("hcmk-2", lowerAlnum, 32)},
			NoMatch:     []string{"key id hcamk_" + fake("hcmk-3", lowerAlnum, 26)},
		},
		{
			ID:          "launchdarkly-sdk-key",
			Provider:    "launchdarkly",
			Description: "LaunchDarkly server-side SDK key (sdk- + UUID); mobile keys (mob-) and client-side ids are public and not reported",
			Source:      "https://launchdarkly.com/docs/home/account/environment/keys",
			Keywords:    []string{"sdk-"},
			Regex:       re(`(?:^|[^\w-])(?P<secret>sdk-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:[^\w-]|$)`),
			MinEntropy:  3.0,
			Severity:    detect.Medium,
			Examples:    []string{"LAUNCHDARKLY_SDK_KEY=sdk-" + uuidLike("ld-1")},
			NoMatch:     []string{"LAUNCHDARKLY_MOBILE_KEY=mob-" + uuidLike("ld-2"), `"aws-sdk-go": "v1.44.0"`},
		},
		{
			ID:          "langfuse-secret-key",
			Provider:    "langfuse",
			Description: "Langfuse project secret key (sk-lf-); the public key (pk-lf-) is its user name",
			Source:      "https://langfuse.com/faq/all/lost-secret-key",
			Keywords:    []string{"sk-lf-"},
			Regex:       re(`(?:^|[^\w-])(?P<secret>sk-lf-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:[^\w-]|$)`),
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples:    []string{"LANGFUSE_PUBLIC_KEY=pk-lf-" + uuidLike("lf-1") + "\nLANGFUSE_SECRET_KEY=sk-lf-" + uuidLike("lf-2")},
			NoMatch:     []string{"LANGFUSE_SECRET_KEY=sk-lf-...", "LANGFUSE_PUBLIC_KEY=pk-lf-" + uuidLike("lf-3")},
		},
	}
}

// honeycombKeywords lists hc?<kind> for every letter Honeycomb may put in
// the third place of a key id prefix, so the prefilter keys on the whole
// prefix rather than on a three-character tail.
func honeycombKeywords(kind string) []string {
	var out []string
	for c := 'a'; c <= 'z'; c++ {
		out = append(out, "hc"+string(c)+kind)
	}
	return out
}
