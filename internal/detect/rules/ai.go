package rules

import "github.com/rekeyhq/rekey/internal/detect"

// prefixed is a rule for a token that is its prefix followed by body, where
// body has no characters that could continue the token (so the match needs
// no trailing boundary beyond the character class itself).
func prefixed(id, provider, what, prefix, body string, sev detect.Severity, examples, noMatch []string) *detect.Rule {
	return &detect.Rule{
		ID:          id,
		Provider:    provider,
		Description: what,
		Keywords:    []string{lowerASCII(prefix)},
		Regex:       re(`(?:^|[^\w-])(?P<secret>` + quoteLiteral(prefix) + body + `)(?:[^\w-]|$)`),
		MinEntropy:  3.0,
		Severity:    sev,
		Examples:    examples,
		NoMatch:     noMatch,
	}
}

// withValidate sets r's validator and returns r.
func withValidate(v func([]byte) bool, r *detect.Rule) *detect.Rule {
	r.Validate = v
	return r
}

func aiRules() []*detect.Rule {
	return []*detect.Rule{
		{
			ID:          "openai-api-key",
			Source:      "https://platform.openai.com/docs/api-reference/authentication",
			Provider:    "openai",
			Description: "OpenAI API key (sk-, sk-proj-, sk-svcacct-, sk-admin-; all carry the T3BlbkFJ marker)",
			Keywords:    []string{"t3blbkfj"},
			Regex:       re(`(?:^|[^\w-])(?P<secret>sk-(?:(?:proj|svcacct|admin|None)-)?[A-Za-z0-9_-]{16,}T3BlbkFJ[A-Za-z0-9_-]{16,})(?:[^\w-]|$)`),
			MinEntropy:  3.0,
			Severity:    detect.Critical,
			Examples: []string{
				"OPENAI_API_KEY=sk-proj-" + fake("oai-1", alnum+"_-", 74) + "T3BlbkFJ" + fake("oai-2", alnum+"_-", 74),
				`openai.api_key = "sk-` + fake("oai-3", alnum, 20) + "T3BlbkFJ" + fake("oai-4", alnum, 20) + `"`,
				"OPENAI_ADMIN_KEY=sk-admin-" + fake("oai-5", alnum+"_-", 58) + "T3BlbkFJ" + fake("oai-6", alnum+"_-", 58),
			},
			NoMatch: []string{
				"OPENAI_API_KEY=sk-proj-...",
				"# the base64 of \"Open\" is T3BlbkFJ, which is why every key carries it",
			},
		},
		{
			ID:          "anthropic-api-key",
			Source:      "https://docs.anthropic.com/en/api/getting-started",
			Provider:    "anthropic",
			Description: "Anthropic API key (sk-ant-api03-)",
			Keywords:    []string{"sk-ant-api"},
			Regex:       re(`(?:^|[^\w-])(?P<secret>sk-ant-api\d\d-[A-Za-z0-9_-]{93}AA)(?:[^\w-]|$)`),
			MinEntropy:  3.0,
			Severity:    detect.Critical,
			Examples:    []string{"ANTHROPIC_API_KEY=sk-ant-api03-" + fake("ant-1", alnum+"_-", 93) + "AA"},
			NoMatch:     []string{"ANTHROPIC_API_KEY=sk-ant-api03-...", `client = Anthropic(api_key="sk-ant-api03-` + fake("ant-2", alnum, 40) + `")`},
		},
		{
			ID:          "anthropic-admin-key",
			Source:      "https://anthropic.mintlify.app/en/api/administration-api",
			Provider:    "anthropic",
			Description: "Anthropic Admin API key (sk-ant-admin01-)",
			Keywords:    []string{"sk-ant-admin"},
			Regex:       re(`(?:^|[^\w-])(?P<secret>sk-ant-admin\d\d-[A-Za-z0-9_-]{93}AA)(?:[^\w-]|$)`),
			MinEntropy:  3.0,
			Severity:    detect.Critical,
			Examples:    []string{"ANTHROPIC_ADMIN_KEY=sk-ant-admin01-" + fake("ant-adm-1", alnum+"_-", 93) + "AA"},
			NoMatch:     []string{"ANTHROPIC_ADMIN_KEY=sk-ant-admin01-${SUFFIX}"},
		},
		withSource("https://huggingface.co/docs/hub/security-tokens", withValidate(mixedLetters, prefixed("huggingface-token", "huggingface", "Hugging Face user access token (hf_ + 34 letters)", "hf_", `[A-Za-z]{34}`, detect.High,
			[]string{"HF_TOKEN=hf_" + fake("hf-1", upper+lower, 34), "huggingface-cli login --token hf_" + fake("hf-2", upper+lower, 34)},
			[]string{"def hf_" + fake("hf-3", lower, 34) + "(x):"}))),
		withSource("https://huggingface.co/docs/hub/security-tokens", prefixed("huggingface-org-token", "huggingface", "Hugging Face organization API token (api_org_ + 34 letters)", "api_org_", `[A-Za-z]{34}`, detect.High,
			[]string{"HF_ORG_TOKEN=api_org_" + fake("hforg-1", upper+lower, 34)},
			[]string{"api_org_id = 12"})),
		withSource("https://replicate.com/docs/topics/security/api-tokens", prefixed("replicate-api-token", "replicate", "Replicate API token (r8_)", "r8_", `[A-Za-z0-9]{37}`, detect.High,
			[]string{"REPLICATE_API_TOKEN=r8_" + fake("r8-1", alnum, 37)},
			[]string{"r8_" + fake("r8-2", alnum, 12)})),
		withSource("https://console.groq.com/docs/quickstart", prefixed("groq-api-key", "groq", "Groq API key (gsk_)", "gsk_", `[A-Za-z0-9]{52}`, detect.High,
			[]string{"GROQ_API_KEY=gsk_" + fake("gsk-1", alnum, 52)},
			[]string{"gsk_" + fake("gsk-2", alnum, 20)})),
		prefixed("xai-api-key", "xai", "xAI API key (xai-)", "xai-", `[A-Za-z0-9]{80}`, detect.High,
			[]string{"XAI_API_KEY=xai-" + fake("xai-1", alnum, 80)},
			[]string{"model: xai-grok-2"}),
		prefixed("perplexity-api-key", "perplexity", "Perplexity API key (pplx-)", "pplx-", `[A-Za-z0-9]{48}`, detect.High,
			[]string{"PPLX_API_KEY=pplx-" + fake("pplx-1", alnum, 48)},
			[]string{"pplx-" + fake("pplx-2", alnum, 16)}),
		prefixed("langsmith-api-key", "langchain", "LangSmith API key or personal token (lsv2_pt_, lsv2_sk_)", "lsv2_", `(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}`, detect.High,
			[]string{"LANGCHAIN_API_KEY=lsv2_pt_" + fake("ls-1", hexLower, 32) + "_" + fake("ls-2", hexLower, 10)},
			[]string{"lsv2_pt_" + fake("ls-3", hexLower, 32)}),
		withSource("https://openrouter.ai/docs/api-reference/authentication", prefixed("openrouter-api-key", "openrouter", "OpenRouter API key (sk-or-v1-)", "sk-or-v1-", `[a-f0-9]{64}`, detect.High,
			[]string{"OPENROUTER_API_KEY=sk-or-v1-" + fake("or-1", hexLower, 64)},
			[]string{"sk-or-v1-" + fake("or-2", hexLower, 30)})),
	}
}

// moreAIRules are inference providers whose key formats their own
// documentation states.
func moreAIRules() []*detect.Rule {
	return []*detect.Rule{
		withSource("https://docs.nvidia.com/nemo/retriever/latest/extraction/api-keys/index.html",
			prefixed("nvidia-api-key", "nvidia", "NVIDIA API catalog key (nvapi-) for hosted NIM endpoints", "nvapi-", `[A-Za-z0-9_-]{40,100}`, detect.High,
				[]string{`export NVIDIA_API_KEY="nvapi-` + fake("nvapi-1", alnum+"_-", 64) + `"`},
				[]string{`export NVIDIA_API_KEY="nvapi-..."`, "#include <nvapi-" + fake("nvapi-2", lower, 10) + ".h>"})),
		{
			ID:          "tavily-api-key",
			Provider:    "tavily",
			Description: "Tavily search API key (tvly-)",
			Source:      "https://docs.tavily.com/guides/quickstart",
			Keywords:    []string{"tvly-"},
			Regex:       re(`(?:^|[^\w-])(?P<secret>tvly-(?:(?:dev|prod)-)?[A-Za-z0-9]{24,})(?:[^\w-]|$)`),
			Validate:    mixedCase,
			MinEntropy:  3.5,
			Severity:    detect.High,
			Examples:    []string{`tavily_client = TavilyClient(api_key="tvly-dev-` + fake("tvly-1", alnum, 32) + `")`, "TAVILY_API_KEY=tvly-" + fake("tvly-2", alnum, 32)},
			NoMatch:     []string{`TavilyClient(api_key="tvly-YOUR_API_KEY")`, "TAVILY_API_KEY=tvly-..."},
		},
		{
			ID:          "qdrant-api-key",
			Provider:    "qdrant",
			Description: "Qdrant Cloud database API key with granular access control (a JWT, eyJhb…) assigned to a key naming Qdrant",
			Source:      "https://qdrant.tech/documentation/cloud/authentication/",
			// Qdrant documents only its granular keys' shape (they start with
			// eyJhb); "eyj" makes the value self-identifying so this rule, not
			// the generic jwt one, reports it. Older admin keys have no
			// documented shape and are left to the generic rules.
			Keywords: []string{"qdrant", "eyj"},
			Regex:    keyed(`qdrant[\w.-]{0,12}?api[_.-]?key`, `eyJhb[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{20,}`),
			Validate: validJWT,
			Identity: jwtIdentity,
			Severity: detect.High,
			Examples: []string{
				"QDRANT_URL=https://" + uuidLike("qd-1") + ".eu-central-1-0.aws.cloud.qdrant.io\nQDRANT_API_KEY=" + fakeJWT(`{"alg":"HS256","typ":"JWT"}`, `{"access":"m","exp":1767225600}`, "qd-2"),
				`{"qdrantApiKey": "` + fakeJWT(`{"alg":"HS256","typ":"JWT"}`, `{"access":"r"}`, "qd-3") + `"}`,
			},
			NoMatch: []string{"QDRANT_API_KEY=<your-api-key>", "QDRANT_API_KEY=${{ secrets.QDRANT_API_KEY }}"},
		},
	}
}

// withSource sets r's citation and returns r, for rules built by helpers.
func withSource(src string, r *detect.Rule) *detect.Rule {
	r.Source = src
	return r
}
