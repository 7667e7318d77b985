package rules

import (
	"regexp"

	"github.com/rekeyhq/rekey/internal/detect"
)

// keyedRule is a rule for a provider key with no prefix of its own (or one
// too short to search for, such as sk- or re_): it is found by the
// provider's name in the key it is assigned to, and its value must have the
// documented alphabet and length and not be a placeholder.
func keyedRule(id, provider, what, src string, keywords []string, key, value string, sev detect.Severity, examples, noMatch []string) *detect.Rule {
	// keyed's [\w.-]{0,20}? compiles to twenty optional instructions;
	// the lazy star costs one and stays within the key's name.
	rx := re(`(?i:` + key + `)[\w.-]*?` + sep + `(?P<secret>` + value + `)(?:[^\w-]|$)`)
	return valueRule(id, provider, what, src, keywords, rx, plausiblePassword, sev, examples, noMatch)
}

// valueRule is a rule whose value, found by rx, has no structure to check
// beyond validate and an entropy floor: the shared body of keyedRule,
// keyedRuleWith and cliPasswordRule.
func valueRule(id, provider, what, src string, keywords []string, rx *regexp.Regexp, validate func([]byte) bool, sev detect.Severity, examples, noMatch []string) *detect.Rule {
	return &detect.Rule{
		ID:          id,
		Provider:    provider,
		Description: what,
		Source:      src,
		Keywords:    keywords,
		Regex:       rx,
		Validate:    validate,
		MinEntropy:  3.0,
		Severity:    sev,
		Examples:    examples,
		NoMatch:     noMatch,
	}
}

// AI model providers, vector databases and speech APIs whose keys have no
// distinctive prefix, or one too common to search for alone.
func ai2Rules() []*detect.Rule {
	return []*detect.Rule{
		keyedRule("cohere-api-key", "cohere", "Cohere API key (40 characters) assigned to CO_API_KEY or a key naming Cohere",
			"https://docs.cohere.com/reference/about", []string{"cohere", "co_api_key"},
			`cohere[_.-]?(?:api[_.-]?)?key|\bco_api_key`, `[A-Za-z0-9]{40}`, detect.High,
			[]string{"CO_API_KEY=" + fake("cohere-1", alnum, 40), `cohere_api_key: "` + fake("cohere-2", alnum, 40) + `"`},
			[]string{"CO_API_KEY=${CO_API_KEY}", `COHERE_API_KEY="<your-api-key>"`}),
		keyedRule("mistral-api-key", "mistral", "Mistral AI API key (32 characters) assigned to a key naming Mistral",
			"https://docs.mistral.ai/getting-started/quickstart/", []string{"mistral"},
			`mistral[\w.-]*?api[_.-]?key`, `[A-Za-z0-9]{32}`, detect.High,
			[]string{"MISTRAL_API_KEY=" + fake("mistral-1", alnum, 32), `mistralApiKey: "` + fake("mistral-2", alnum, 32) + `"`},
			[]string{`MISTRAL_API_KEY=os.environ["MISTRAL_API_KEY"]`, "MISTRAL_API_KEY=your_mistral_api_key_here"}),
		keyedRule("fireworks-api-key", "fireworks", "Fireworks AI API key (fw_ key, or 48 characters for older ones) assigned to a key naming Fireworks",
			"https://docs.fireworks.ai/api-reference/introduction", []string{"fireworks"},
			`fireworks[\w.-]*?api[_.-]?key`, `fw_[A-Za-z0-9]{24,}|[A-Za-z0-9]{48}`, detect.High,
			[]string{"FIREWORKS_API_KEY=fw_" + fake("fw-1", alnum, 24), `fireworks_api_key = "` + fake("fw-2", alnum, 48) + `"`},
			[]string{"FIREWORKS_API_KEY=your_fireworks_api_key_here", "fireworks_api_key = get_secret()"}),
		keyedRule("deepseek-api-key", "deepseek", "DeepSeek API key (sk- and 32 hex digits) assigned to a key naming DeepSeek",
			"https://platform.deepseek.com/api-docs/zh-cn/api/deepseek-api", []string{"deepseek"},
			`deepseek[\w.-]*?api[_.-]?key`, `sk-[a-f0-9]{32}`, detect.High,
			[]string{"DEEPSEEK_API_KEY=sk-" + fake("deepseek-1", hexLower, 32), `deepseek_api_key: "sk-` + fake("deepseek-2", hexLower, 32) + `"`},
			[]string{"DEEPSEEK_API_KEY=sk-...", "DEEPSEEK_API_KEY=<DeepSeek API Key>"}),
		keyedRule("pinecone-api-key", "pinecone", "Pinecone API key (pcsk_ key, or a UUID for older ones) assigned to a key naming Pinecone",
			"https://docs.pinecone.io/guides/projects/manage-api-keys", []string{"pinecone"},
			`pinecone[\w.-]*?api[_.-]?key`, `pcsk_[A-Za-z0-9_]{40,}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`, detect.High,
			[]string{"PINECONE_API_KEY=pcsk_" + fake("pc-1", alnum, 5) + "_" + fake("pc-2", alnum, 64), `pinecone_api_key = "` + uuidLike("pc-3") + `"`},
			[]string{`PINECONE_API_KEY="{{YOUR_API_KEY}}"`, "PINECONE_API_KEY=pcsk_..."}),
		keyedRule("elevenlabs-api-key", "elevenlabs", "ElevenLabs API key (sk_ and 48 hex digits, or 32 hex digits for older ones) in xi-api-key or a key naming ElevenLabs",
			"https://elevenlabs.io/docs/api-reference/authentication", []string{"elevenlabs", "eleven_labs", "xi-api-key", "xi_api_key"},
			`eleven[_.-]?labs[\w.-]*?api[_.-]?key|\bxi[_-]api[_-]key`, `sk_[a-f0-9]{48}|[a-f0-9]{32}`, detect.High,
			[]string{"ELEVENLABS_API_KEY=sk_" + fake("el-1", hexLower, 48), `curl -H "xi-api-key: ` + fake("el-2", hexLower, 32) + `" https://api.elevenlabs.io/v1/voices`},
			[]string{`-H "xi-api-key: $ELEVENLABS_API_KEY"`, "ELEVENLABS_API_KEY=<your_api_key>"}),
		keyedRule("assemblyai-api-key", "assemblyai", "AssemblyAI API key (32 hex digits) assigned to a key naming AssemblyAI",
			"https://www.assemblyai.com/docs/api-reference/overview", []string{"assemblyai", "assembly_ai", "assembly-ai"},
			`assembly[_.-]?ai[\w.-]*?(?:api[_.-]?)?key`, `[a-f0-9]{32}`, detect.High,
			[]string{"ASSEMBLYAI_API_KEY=" + fake("aai-1", hexLower, 32), `"assemblyai_api_key": "` + fake("aai-2", hexLower, 32) + `"`},
			[]string{"ASSEMBLYAI_API_KEY=<YOUR_API_KEY>", "ASSEMBLYAI_API_KEY=${ASSEMBLYAI_API_KEY}"}),
		keyedRule("deepgram-api-key", "deepgram", "Deepgram API key (40 hex digits) assigned to a key naming Deepgram",
			"https://developers.deepgram.com/reference/authentication", []string{"deepgram"},
			`deepgram[\w.-]*?(?:api[_.-]?)?key`, `[a-f0-9]{40}`, detect.High,
			[]string{"DEEPGRAM_API_KEY=" + fake("dg-1", hexLower, 40), `deepgram_key: "` + fake("dg-2", hexLower, 40) + `"`},
			[]string{"DEEPGRAM_API_KEY=YOUR_DEEPGRAM_API_KEY", "DEEPGRAM_API_KEY=${DEEPGRAM_API_KEY}"}),
		keyedRule("stability-api-key", "stability", "Stability AI API key (sk- and 48 characters) assigned to a key naming Stability",
			"https://platform.stability.ai/docs/getting-started/authentication", []string{"stability"},
			`stability[\w.-]*?api[_.-]?key`, `sk-[A-Za-z0-9]{48}`, detect.High,
			[]string{"STABILITY_API_KEY=sk-" + fake("stab-1", alnum, 48)},
			[]string{"STABILITY_API_KEY=sk-...", "STABILITY_API_KEY=<your key>"}),
		keyedRule("firecrawl-api-key", "firecrawl", "Firecrawl API key (fc- and 32 hex digits) assigned to a key naming Firecrawl",
			"https://docs.firecrawl.dev/authentication", []string{"firecrawl"},
			`firecrawl[\w.-]*?(?:api[_.-]?)?key`, `fc-[a-f0-9]{32}`, detect.High,
			[]string{"FIRECRAWL_API_KEY=fc-" + fake("fc-1", hexLower, 32), `firecrawlApiKey: "fc-` + fake("fc-2", hexLower, 32) + `"`},
			[]string{"FIRECRAWL_API_KEY=fc-YOUR-API-KEY", "FIRECRAWL_API_KEY=fc-123456789"}),
		keyedRule("cerebras-api-key", "cerebras", "Cerebras Inference API key (csk-) assigned to a key naming Cerebras",
			"https://github.com/Cerebras/cerebras-code-mcp/blob/main/SUPPORT.md", []string{"cerebras"},
			`cerebras[\w.-]*?api[_.-]?key`, `csk-[A-Za-z0-9]{32,64}`, detect.High,
			[]string{"CEREBRAS_API_KEY=csk-" + fake("csk-1", lowerAlnum, 48)},
			[]string{`export CEREBRAS_API_KEY="your-api-key"`, "CEREBRAS_API_KEY=csk-..."}),
		keyedRule("wandb-api-key", "wandb", "Weights & Biases API key (40 hex digits) in WANDB_API_KEY or a key naming wandb",
			"https://docs.wandb.ai/guides/track/environment-variables/", []string{"wandb"},
			`wandb[\w.-]*?api[_.-]?key`, `[a-f0-9]{40}`, detect.High,
			[]string{"WANDB_API_KEY=" + fake("wandb-1", hexLower, 40)},
			[]string{"WANDB_API_KEY=$WANDB_API_KEY", "WANDB_API_KEY=<your-api-key>"}),
		keyedRule("voyage-api-key", "voyage", "Voyage AI API key (pa- and 43 characters) assigned to a key naming Voyage",
			"https://github.com/voyage-ai/voyageai-python/blob/main/tests/test_unit.py", []string{"voyage"},
			`voyage[\w.-]*?api[_.-]?key`, `pa-[A-Za-z0-9_-]{43}`, detect.High,
			[]string{"VOYAGE_API_KEY=pa-" + fake("voyage-1", b64url, 43)},
			[]string{"VOYAGE_API_KEY=pa-...", `VOYAGE_API_KEY="<your secret key>"`}),
		keyedRule("jina-api-key", "jina", "Jina AI API key (jina_) assigned to a key naming Jina",
			"https://jina.ai/embeddings/", []string{"jina"},
			`jina[\w.-]*?api[_.-]?key`, `jina_[A-Za-z0-9_-]{50,70}`, detect.High,
			[]string{"JINA_API_KEY=jina_" + fake("jina-1", hexLower, 32) + fake("jina-2", alnum+"_-", 28)},
			[]string{"JINA_API_KEY=jina_...", "JINA_API_KEY=<your key>"}),
		keyedRule("serpapi-api-key", "serpapi", "SerpApi API key (64 hex digits) assigned to a key naming SerpApi",
			"https://serpapi.com/search-api", []string{"serpapi", "serp_api"},
			`serp[_.-]?api[\w.-]*?(?:api[_.-]?)?key`, `[a-f0-9]{64}`, detect.Medium,
			[]string{"SERPAPI_API_KEY=" + fake("serp-1", hexLower, 64)},
			[]string{"SERPAPI_API_KEY=your_serpapi_api_key"}),
		keyedRule("exa-api-key", "exa", "Exa search API key (UUID) assigned to a key naming Exa",
			"https://docs.exa.ai/reference/getting-started", []string{"exa_", "exa-"},
			`\bexa[_.-]?api[_.-]?key`, `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`, detect.Medium,
			[]string{"EXA_API_KEY=" + uuidLike("exa-1")},
			[]string{"EXA_API_KEY=<your-exa-api-key>"}),
		keyedRule("runpod-api-key", "runpod", "RunPod API key (rpa_) assigned to a key naming RunPod",
			"https://docs.runpod.io/get-started/api-keys", []string{"runpod"},
			`runpod[\w.-]*?api[_.-]?key`, `rpa_[A-Za-z0-9]{32,}|[A-Z0-9]{32}`, detect.High,
			[]string{"RUNPOD_API_KEY=rpa_" + fake("rp-1", upperAlnum, 46)},
			[]string{"RUNPOD_API_KEY=rpa_...", "RUNPOD_API_KEY=<your api key>"}),
		keyedRule("ai21-api-key", "ai21", "AI21 Labs API key assigned to a key naming AI21",
			"https://docs.ai21.com/reference/authentication", []string{"ai21"},
			`\bai21[\w.-]*?api[_.-]?key`, `[A-Za-z0-9]{32}`, detect.High,
			[]string{"AI21_API_KEY=" + fake("ai21-1", alnum, 32)},
			[]string{"AI21_API_KEY=<your api key>"}),
		withSource("https://docs.cloud.llamaindex.ai/api_key",
			withValidate(mixedCase, prefixed("llamacloud-api-key", "llamaindex", "LlamaCloud (LlamaIndex, LlamaParse) API key (llx-)", "llx-", `[A-Za-z0-9]{48}`, detect.High,
				[]string{"LLAMA_CLOUD_API_KEY=llx-" + fake("llx-1", alnum, 48)},
				[]string{"LLAMA_CLOUD_API_KEY=llx-...", "llx-" + fake("llx-2", lower, 48)}))),
		keyedRule("deepinfra-api-key", "deepinfra", "DeepInfra API token (32 characters) assigned to a key naming DeepInfra",
			"https://deepinfra.com/docs/deep_infra_api", []string{"deepinfra"},
			`deepinfra[\w.-]*?(?:api[_.-]?)?(?:key|token)`, `[A-Za-z0-9]{32}`, detect.High,
			[]string{"DEEPINFRA_API_TOKEN=" + fake("di-1", alnum, 32)},
			[]string{"DEEPINFRA_API_TOKEN=<your token>"}),
		keyedRule("modal-token-secret", "modal", "Modal token secret (as- and 22 characters); the token id (ak-) is its user name",
			"https://modal.com/docs/reference/modal.config", []string{"modal_token", "modal-token", "modal.token"},
			`\bmodal[_.-]?token[_.-]?secret`, `as-[A-Za-z0-9]{22}`, detect.High,
			[]string{"MODAL_TOKEN_ID=ak-" + fake("modal-1", alnum, 22) + "\nMODAL_TOKEN_SECRET=as-" + fake("modal-2", alnum, 22)},
			[]string{"MODAL_TOKEN_SECRET=as-...", "MODAL_TOKEN_SECRET=${{ secrets.MODAL_TOKEN_SECRET }}"}),
		keyedRule("clarifai-pat", "clarifai", "Clarifai personal access token or API key (32 hex digits) assigned to a key naming Clarifai",
			"https://docs.clarifai.com/control/authentication/pat", []string{"clarifai"},
			`clarifai[\w.-]*?(?:pat|api[_.-]?key|key)`, `[a-f0-9]{32}`, detect.High,
			[]string{"CLARIFAI_PAT=" + fake("clf-1", hexLower, 32)},
			[]string{"CLARIFAI_PAT=YOUR_PAT_HERE"}),
		keyedRule("brave-search-api-key", "brave", "Brave Search API subscription token (BSA…) assigned to a key naming Brave",
			"https://api-dashboard.search.brave.com/app/documentation/web-search/get-started", []string{"brave"},
			`brave[\w.-]*?(?:api[_.-]?key|subscription[_.-]?token|token)`, `BSA[A-Za-z0-9_-]{20,40}`, detect.Medium,
			[]string{"BRAVE_API_KEY=BSA" + fake("brave-1", alnum+"_-", 28)},
			[]string{"BRAVE_API_KEY=<your subscription token>"}),
		// Helicone's worker accepts only keys its own regexes call well
		// formed: sk-helicone-, then eu- for the EU region and rl- (rate
		// limited) or cp-, then four groups of seven lowercase letters and
		// digits. pk-helicone- keys are write-only and not reported here.
		withSource("https://github.com/Helicone/helicone/blob/main/worker/src/lib/util/apiKeyRegex.ts",
			prefixed("helicone-api-key", "helicone", "Helicone API key (sk-helicone-, sk-helicone-eu-, -rl- and -cp- variants; four groups of seven)", "sk-helicone-", `(?:eu-)?(?:rl-|cp-)?[a-z0-9]{7}(?:-[a-z0-9]{7}){3}`, detect.High,
				[]string{
					"HELICONE_API_KEY=sk-helicone-" + fake("hel-1", lowerAlnum, 7) + "-" + fake("hel-2", lowerAlnum, 7) + "-" + fake("hel-3", lowerAlnum, 7) + "-" + fake("hel-4", lowerAlnum, 7),
					`"Helicone-Auth": "Bearer sk-helicone-eu-` + fake("hel-5", lowerAlnum, 7) + "-" + fake("hel-6", lowerAlnum, 7) + "-" + fake("hel-7", lowerAlnum, 7) + "-" + fake("hel-8", lowerAlnum, 7) + `"`,
					"HELICONE_API_KEY=sk-helicone-rl-" + fake("hel-9", lowerAlnum, 7) + "-" + fake("hel-10", lowerAlnum, 7) + "-" + fake("hel-11", lowerAlnum, 7) + "-" + fake("hel-12", lowerAlnum, 7),
				},
				[]string{"HELICONE_API_KEY=sk-helicone-...", "Helicone-Auth: Bearer sk-helicone-<key>", "HELICONE_API_KEY=sk-helicone-eu-..."})),
	}
}
