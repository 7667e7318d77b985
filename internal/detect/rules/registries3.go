package rules

import "github.com/rekeyhq/rekey/internal/detect"

// envSecretRule is a keyedRule for a variable (name, a regex) whose value
// has no format of its own: any run of 12 or more characters that is not
// a reference or a documented default, with an entropy floor.
func envSecretRule(id, provider, what, src string, keywords []string, name string, examples, noMatch []string) *detect.Rule {
	r := keyedRuleWith(id, provider, what, src, keywords, name, `[^\s"'$]{12,}`, plausiblePassword, detect.Critical, examples, noMatch)
	r.MinEntropy = 3.5
	return r
}

// evenMoreRegistryRules are registry credentials passed through the
// environment or URLs of the publishing tools: Gemfury, packagecloud,
// Cargo alternative registries, Poetry, uv and twine.
func evenMoreRegistryRules() []*detect.Rule {
	pw := func(seed string) string { return fake(seed, alnum, 24) }
	return []*detect.Rule{
		{
			ID:          "gemfury-push-token",
			Provider:    "gemfury",
			Description: "Gemfury token in a push or repository URL (https://TOKEN@push.fury.io/account/)",
			Source:      "https://gemfury.com/help/upload-packages/",
			Keywords:    []string{".fury.io"},
			Regex:       re(`https://(?P<secret>[A-Za-z0-9_-]{16,}):?@(?:push|pypi|npm|repo|gem|api|git)\.fury\.io/(?P<user>[\w.-]+)`),
			Validate:    hasLetterAndDigit,
			MinEntropy:  3.5,
			Severity:    detect.Critical,
			Examples:    []string{"git remote add fury https://" + fake("fury-1", alnum, 20) + "@git.fury.io/acme/orders.git\ncurl -F package=@pkg.deb https://" + fake("fury-2", alnum, 20) + "@push.fury.io/acme/"},
			NoMatch:     []string{"curl -F package=@pkg.deb https://TOKEN@push.fury.io/USERNAME/"},
		},
		{
			ID:          "packagecloud-token",
			Provider:    "packagecloud",
			Description: "packagecloud.io API token (48 hex digits) in a repository URL (https://TOKEN:@packagecloud.io/…)",
			Source:      "https://packagecloud.io/docs#token_auth",
			Keywords:    []string{"packagecloud.io"},
			Regex:       re(`https://(?P<secret>[0-9a-f]{48}):?@packagecloud\.io/(?P<user>[\w.-]+)`),
			Validate:    hasLetterAndDigit,
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples:    []string{"deb https://" + fake("pc-1", hexLower, 48) + ":@packagecloud.io/acme/prod/ubuntu/ jammy main"},
			NoMatch:     []string{"https://<token>:@packagecloud.io/acme/prod/ubuntu/"},
		},
		envSecretRule("cargo-registry-token", "cargo",
			"Token for a Cargo registry in CARGO_REGISTRY_TOKEN or CARGO_REGISTRIES_<NAME>_TOKEN (crates.io's cio tokens are left to their own rule)",
			"https://doc.rust-lang.org/cargo/reference/config.html#registriesnametoken", []string{"cargo_registr"},
			`(?i:CARGO_REGISTRY_TOKEN|CARGO_REGISTRIES_[A-Z0-9_]+_TOKEN)`,
			[]string{"CARGO_REGISTRIES_ACME_TOKEN=" + pw("cargo-1"), "CARGO_REGISTRIES_SHIPYARD_TOKEN: Bearer-" + pw("cargo-2")},
			[]string{"CARGO_REGISTRY_TOKEN: ${{ secrets.CARGO_REGISTRY_TOKEN }}"}),
		envSecretRule("poetry-repository-password", "poetry",
			"Repository password or token for Poetry in POETRY_HTTP_BASIC_<NAME>_PASSWORD or POETRY_PYPI_TOKEN_<NAME>",
			"https://python-poetry.org/docs/repositories/#configuring-credentials", []string{"poetry_"},
			`(?i:POETRY_HTTP_BASIC_[A-Z0-9_]+_PASSWORD|POETRY_PYPI_TOKEN_[A-Z0-9_]+)`,
			[]string{"POETRY_HTTP_BASIC_ACME_USERNAME=ci\nPOETRY_HTTP_BASIC_ACME_PASSWORD=" + pw("poetry-1")},
			[]string{"POETRY_HTTP_BASIC_ACME_PASSWORD=${{ secrets.ACME_PASSWORD }}"}),
		envSecretRule("uv-index-password", "uv",
			"Package index password for uv in UV_INDEX_<NAME>_PASSWORD or UV_PUBLISH_PASSWORD/UV_PUBLISH_TOKEN",
			"https://docs.astral.sh/uv/configuration/environment/", []string{"uv_index_", "uv_publish_"},
			`(?i:UV_INDEX_[A-Z0-9_]+_PASSWORD|UV_PUBLISH_(?:PASSWORD|TOKEN))`,
			[]string{"UV_INDEX_INTERNAL_USERNAME=ci\nUV_INDEX_INTERNAL_PASSWORD=" + pw("uv-1")},
			[]string{"UV_PUBLISH_TOKEN=${PYPI_TOKEN}"}),
		envSecretRule("twine-password", "pypi",
			"Upload password or token for twine in TWINE_PASSWORD (PyPI tokens are left to their own rule)",
			"https://twine.readthedocs.io/en/stable/#environment-variables", []string{"twine_"},
			`(?i:TWINE_PASSWORD)`,
			[]string{"TWINE_USERNAME=deploy\nTWINE_PASSWORD=" + pw("twine-1")},
			[]string{"TWINE_PASSWORD: ${{ secrets.PYPI_API_TOKEN }}"}),
	}
}
