package rules

import (
	"strings"

	"github.com/rekeyhq/rekey/internal/detect"
)

// Package registries: publishing tokens, and the files package managers
// keep them in.
func registryRules() []*detect.Rule {
	return []*detect.Rule{
		{
			ID:          "npm-access-token",
			Source:      "https://github.blog/2021-09-23-announcing-npms-new-access-token-format/",
			Provider:    "npm",
			Description: "npm access token (npm_ + 30 base62 characters + CRC32 checksum, the same layout as GitHub's)",
			Keywords:    []string{"npm_"},
			Regex:       re(`\b(?P<secret>npm_[A-Za-z0-9]{36})\b`),
			Validate:    checksum62(4),
			Severity:    detect.Critical,
			Examples: []string{
				"//registry.npmjs.org/:_authToken=" + checksummed("npm_", "npm-1"),
				"NPM_TOKEN=" + checksummed("npm_", "npm-2"),
			},
			NoMatch: []string{
				"cache: " + flipLast(checksummed("npm_", "npm-3")),
				"const npm_config_registry = process.env.npm_config_registry",
			},
		},
		{
			ID:          "npmrc-auth-token",
			Source:      "https://docs.npmjs.com/cli/v10/configuring-npm/npmrc#auth-related-configuration",
			Provider:    "npm",
			Description: "Registry auth token in an .npmrc (_authToken=), for registries whose tokens have no format of their own; names the registry",
			Keywords:    []string{"_authtoken"},
			Regex:       re(`(?://(?P<host>[A-Za-z0-9.-]+)[^\s:]*:)?_authToken[ \t]*=[ \t]*["']?(?P<secret>` + notPrefix("npm_") + `[^\s"']{7,})`),
			Validate:    plausiblePassword,
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples: []string{
				"@acme:registry=https://npm.pkg.github.com/\n//npm.pkg.github.com/:_authToken=" + fake("npmrc-1", alnum, 40),
				"//nexus.acme.io/repository/npm-private/:_authToken=NpmToken." + uuidLike("npmrc-2"),
			},
			NoMatch: []string{
				"//registry.npmjs.org/:_authToken=${NPM_TOKEN}",
				"//registry.npmjs.org/:always-auth=true",
			},
		},
		{
			ID:          "npmrc-basic-auth",
			Source:      "https://docs.npmjs.com/cli/v10/configuring-npm/npmrc#auth-related-configuration",
			Provider:    "npm",
			Description: "Registry basic auth in an .npmrc (_auth= base64 of user:password); names the user",
			Keywords:    []string{"_auth"},
			Regex:       re(`(?://(?P<host>[A-Za-z0-9.-]+)[^\s:]*:)?_auth[ \t]*=[ \t]*["']?(?P<secret>[A-Za-z0-9+/]{8,}={0,2})`),
			Validate:    basicAuth,
			Identity:    basicAuthIdentity,
			Severity:    detect.High,
			Examples:    []string{"registry=https://nexus.acme.io/repository/npm/\n_auth=" + b64std("deploy:"+fake("npm-basic-1", alnum, 20))},
			NoMatch:     []string{"_auth=" + b64std("deploy:password")},
		},
		{
			ID:          "pypi-upload-token",
			Source:      "https://pypi.org/help/#apitoken",
			Provider:    "pypi",
			Description: "PyPI or TestPyPI API token (pypi-AgEIcHlwaS5vcmc… macaroon)",
			Keywords:    []string{"pypi-ageichlwas5vcmc", "pypi-agendgvzdc5wexbplm9yzw"},
			Regex:       re(`(?:^|[^\w-])(?P<secret>pypi-Ag(?:EIcHlwaS5vcmc|ENdGVzdC5weXBpLm9yZw)[A-Za-z0-9_-]{50,})`),
			MinEntropy:  4.0,
			Severity:    detect.Critical,
			Examples: []string{
				"[pypi]\n  username = __token__\n  password = pypi-AgEIcHlwaS5vcmc" + fake("pypi-1", alnum+"_-", 160),
				"TWINE_PASSWORD=pypi-AgENdGVzdC5weXBpLm9yZw" + fake("pypi-2", alnum+"_-", 140),
			},
			NoMatch: []string{"TWINE_PASSWORD=pypi-AgEIcHlwaS5vcmc..."},
		},
		{
			ID:          "pypirc-password",
			Source:      "https://packaging.python.org/en/latest/specifications/pypirc/",
			Provider:    "pypi",
			Description: "Repository password in a .pypirc (username/password under a [section]); names the user and repository",
			Keywords:    []string{"[pypi]", "[testpypi]", "[distutils]", "index-servers"},
			Window:      1024,
			Regex: re(`(?s)\[[\w.-]+\][ \t]*\r?\n(?:[^\[]*?repository[ \t]*[:=][ \t]*(?P<host>[^\s]+))?[^\[]*?` +
				`username[ \t]*[:=][ \t]*(?P<user>[^\s]+)[^\[]*?password[ \t]*[:=][ \t]*(?P<secret>` + notPrefix("pypi-") + `[^\s]{3,})`),
			Validate: plausiblePassword,
			Severity: detect.High,
			Examples: []string{
				"[distutils]\nindex-servers =\n    pypi\n    internal\n\n[internal]\nrepository = https://nexus.acme.io/repository/pypi-internal/\nusername = deploy\npassword = " + fake("pypirc-1", alnum+"!#%", 18) + "\n",
			},
			NoMatch: []string{"[pypi]\nusername = __token__\npassword = <your PyPI token>\n"},
		},
		withSource("https://guides.rubygems.org/api-key-scopes/", prefixed("rubygems-api-key", "rubygems", "RubyGems.org API key (rubygems_)", "rubygems_", `[a-f0-9]{48}`, detect.Critical,
			[]string{"---\n:rubygems_api_key: rubygems_" + fake("gem-1", hexLower, 48)},
			[]string{":rubygems_api_key: rubygems_" + fake("gem-2", hexLower, 20)})),
		{
			ID:          "nuget-api-key",
			Provider:    "nuget",
			Description: "NuGet.org API key (oy2 + 43 characters)",
			Keywords:    []string{"oy2"},
			Regex:       re(`\b(?P<secret>oy2[a-z0-9]{43})\b`),
			MinEntropy:  3.5,
			Severity:    detect.High,
			Examples:    []string{"dotnet nuget push pkg.nupkg --api-key oy2" + fake("nuget-1", lowerAlnum, 43) + " --source https://api.nuget.org/v3/index.json"},
			NoMatch:     []string{"toy2" + fake("nuget-2", lowerAlnum, 43)},
		},
		{
			ID:          "jfrog-api-key",
			Source:      "https://jfrog.com/help/r/jfrog-platform-administration-documentation/access-tokens",
			Provider:    "jfrog",
			Description: "JFrog Artifactory API key (AKCp + 69 characters) or reference token (cmVmdGtu…)",
			Keywords:    []string{"akcp", "cmvmdgtu"},
			Regex:       re(`\b(?P<secret>AKCp[A-Za-z0-9]{69}|cmVmdGtuOjAxOj[A-Za-z0-9]{50,})\b`),
			MinEntropy:  3.5,
			Severity:    detect.High,
			Examples:    []string{"ARTIFACTORY_API_KEY=AKCp" + fake("jfrog-1", alnum, 69), "JFROG_ACCESS_TOKEN=cmVmdGtuOjAxOj" + fake("jfrog-2", alnum, 50)},
			NoMatch:     []string{"AKCp" + fake("jfrog-3", alnum, 30)},
		},
		{
			ID:          "crates-io-token",
			Provider:    "crates.io",
			Description: "crates.io API token (cio + 32 characters)",
			Keywords:    []string{"cio"},
			Regex:       re(`\b(?P<secret>cio[A-Za-z0-9]{32})\b`),
			MinEntropy:  3.5,
			Validate:    mixedCase,
			Severity:    detect.High,
			Examples:    []string{"[registry]\ntoken = \"cio" + fake("cio-1", alnum, 32) + "\""},
			NoMatch:     []string{"precious := ciofmt.Sprintf()", "cio" + fake("cio-2", lower, 32)},
		},
		{
			ID:          "packagist-token",
			Provider:    "packagist",
			Description: "Private Packagist authentication token (packagist_ort_ / packagist_out_ / packagist_uut_ + 60 hex digits + CRC32 of prefix and random part)",
			Source:      "https://github.com/packagist/private-packagist-docs/blob/main/docs/composer-authentication.md",
			Keywords:    []string{"packagist_ort_", "packagist_out_", "packagist_uut_"},
			Regex:       re(`\b(?P<secret>packagist_(?:ort|out|uut)_[0-9a-f]{60}[0-9a-f]{8})\b`),
			Validate:    crc32Hex,
			Severity:    detect.High,
			Examples: []string{
				`composer config --global --auth http-basic.repo.packagist.com token ` + packagistToken("packagist_out_", "pkgst-1"),
				`{"http-basic": {"repo.packagist.com": {"username": "token", "password": "` + packagistToken("packagist_uut_", "pkgst-2") + `"}}}`,
			},
			NoMatch: []string{"token " + flipLast(packagistToken("packagist_ort_", "pkgst-3")), "packagist_ort_" + fake("pkgst-4", hexLower, 60)},
		},
		{
			ID:          "docker-config-auth",
			Source:      "https://docs.docker.com/reference/cli/docker/login/",
			Provider:    "docker",
			Description: "Registry credentials in a Docker config.json (auths → auth: base64 of user:password); names the registry and user",
			Keywords:    []string{`"auth"`},
			Regex:       re(`(?:"(?P<host>[A-Za-z0-9.-]+(?::\d+)?(?:/[^"]*)?)"\s*:\s*\{\s*)?"auth"\s*:\s*"(?P<secret>[A-Za-z0-9+/]{8,}={0,2})"`),
			Validate:    basicAuth,
			Identity:    basicAuthIdentity,
			Severity:    detect.High,
			Examples:    []string{`{"auths": {"registry.acme.io": {"auth": "` + b64std("ci-bot:"+fake("docker-1", alnum, 24)) + `"}}}`},
			NoMatch:     []string{`{"auths": {"registry.acme.io": {"auth": ""}}, "credsStore": "desktop"}`},
		},
	}
}

// packagistToken is prefix, 60 random hex digits and the lower-case hex
// CRC32 of both, as Private Packagist documents its tokens.
func packagistToken(prefix, seed string) string {
	return strings.ToLower(withCRC32Hex(prefix + fake(seed, hexLower, 60)))
}
