package rules

import (
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"strings"

	"github.com/rekeyhq/rekey/internal/detect"
)

// githubToken is the shared shape of GitHub's prefixed tokens: prefix, 30
// random base62 characters and a 6-character CRC32 checksum.
func githubToken(id, prefix, what string, sev detect.Severity, examples []string) *detect.Rule {
	bad := flipLast(checksummed(prefix, id+"-bad"))
	return &detect.Rule{
		ID:          id,
		Provider:    "github",
		Description: what + " (" + prefix + " + 30 base62 characters + CRC32 checksum)",
		Source:      githubTokenFormats,
		Keywords:    []string{prefix},
		Regex:       re(`\b(?P<secret>` + prefix + `[A-Za-z0-9]{36})\b`),
		Validate:    checksum62(len(prefix)),
		Severity:    sev,
		Examples:    examples,
		NoMatch: []string{
			`"sha": "` + bad + `"`, // checksum does not match
			"curl -H 'Authorization: token " + prefix + "16C7e42F292c6912E7710c838347Ae178B4a'", // GitHub's documented sample
			prefix + fake(id+"-short", alnum, 30),
		},
	}
}

// githubTokenFormats is GitHub's announcement of its prefixed token
// formats (ghp_, gho_, ghu_, ghs_, ghr_).
const githubTokenFormats = "https://github.blog/changelog/2021-03-31-authentication-token-format-updates-are-generally-available"

func githubRules() []*detect.Rule {
	return []*detect.Rule{
		githubToken("github-pat-classic", "ghp_", "GitHub personal access token (classic)", detect.Critical, []string{
			"GITHUB_TOKEN=" + checksummed("ghp_", "gh-1"),
			"git clone https://" + checksummed("ghp_", "gh-2") + "@github.com/acme/infra.git",
			`{"github-oauth": {"github.com": "` + checksummed("ghp_", "gh-3") + `"}}`,
		}),
		githubToken("github-oauth-token", "gho_", "GitHub OAuth app access token", detect.High, []string{
			"    oauth_token: " + checksummed("gho_", "gho-1"),
		}),
		githubToken("github-user-to-server-token", "ghu_", "GitHub App user-to-server access token", detect.High, []string{
			`const userToken = "` + checksummed("ghu_", "ghu-1") + `";`,
		}),
		githubToken("github-server-to-server-token", "ghs_", "GitHub App installation (server-to-server) access token", detect.High, []string{
			"remote: https://x-access-token:" + checksummed("ghs_", "ghs-1") + "@github.com/acme/app",
		}),
		{
			ID:          "github-refresh-token",
			Provider:    "github",
			Source:      githubTokenFormats,
			Description: "GitHub App user refresh token (ghr_); 36-character ones carry the CRC32 checksum",
			Keywords:    []string{"ghr_"},
			Regex:       re(`\b(?P<secret>ghr_[A-Za-z0-9]{36}(?:[A-Za-z0-9]{40})?)\b`),
			Validate: func(tok []byte) bool {
				return len(tok) != 40 || checksum62(4)(tok)
			},
			Severity: detect.High,
			Examples: []string{
				`{"access_token": "` + checksummed("ghu_", "ghr-at") + `", "refresh_token": "` + checksummed("ghr_", "ghr-1") + `"}`,
				"refresh_token=ghr_" + fake("ghr-long", alnum, 76),
			},
			NoMatch: []string{
				"refresh: ghr_" + fake("ghr-bad", alnum, 36), // wrong checksum
				"ghr_" + fake("ghr-mid", alnum, 50),
			},
		},
		{
			ID:          "github-pat-fine-grained",
			Source:      "https://docs.github.com/en/authentication/keeping-your-account-and-data-secure/about-authentication-to-github#githubs-token-formats",
			Provider:    "github",
			Description: "GitHub fine-grained personal access token (github_pat_ + 22 + _ + 59 base62 characters)",
			Keywords:    []string{"github_pat_"},
			Regex:       re(`\b(?P<secret>github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})\b`),
			MinEntropy:  3.0,
			Severity:    detect.Critical,
			Examples: []string{
				"export GH_TOKEN=github_pat_" + fake("ghfg-1", alnum, 22) + "_" + fake("ghfg-2", alnum, 59),
				"  token: 'github_pat_" + fake("ghfg-3", alnum, 22) + "_" + fake("ghfg-4", alnum, 59) + "'",
			},
			NoMatch: []string{
				"see https://github.com/settings/tokens?type=beta for github_pat_ tokens",
				"github_pat_" + fake("ghfg-5", alnum, 22) + "_" + fake("ghfg-6", alnum, 40),
			},
		},
	}
}

func gitlabToken(id, prefix, body, what string, sev detect.Severity, example string) *detect.Rule {
	keyword := strings.ToLower(prefix)
	return &detect.Rule{
		ID:          id,
		Provider:    "gitlab",
		Description: "GitLab " + what + " (" + prefix + ")",
		Source:      "https://docs.gitlab.com/17.5/ee/security/tokens",
		Keywords:    []string{keyword},
		Regex:       re(`(?:^|[^\w-])(?P<secret>` + prefix + body + `)`),
		MinEntropy:  3.0,
		Severity:    sev,
		Examples:    []string{example},
		NoMatch: []string{
			"# tokens start with " + prefix + ", see https://docs.gitlab.com/ee/security/tokens/",
			"name: my" + prefix + fake(id+"-nm", alnum, 20),
		},
	}
}

func gitlabRules() []*detect.Rule {
	return []*detect.Rule{
		gitlabToken("gitlab-pat", "glpat-", `[A-Za-z0-9_-]{20,}(?:\.[0-9a-z]{2}\.[0-9a-z]{7,9})?`,
			"personal, project or group access token", detect.Critical,
			"GITLAB_TOKEN=glpat-"+fake("glpat-1", alnum+"_-", 20)),
		gitlabToken("gitlab-deploy-token", "gldt-", `[A-Za-z0-9_-]{20,}`, "deploy token", detect.High,
			"  password: gldt-"+fake("gldt-1", alnum, 20)),
		gitlabToken("gitlab-runner-token", "glrt-", `[A-Za-z0-9_.-]{20,}`, "runner authentication token", detect.High,
			`token = "glrt-`+fake("glrt-1", alnum+"_-", 20)+`"`),
		gitlabToken("gitlab-runner-registration-token", "GR1348941", `[A-Za-z0-9_-]{20,}`, "runner registration token (deprecated)", detect.High,
			"gitlab-runner register --registration-token GR1348941"+fake("glreg-1", alnum, 20)),
		gitlabToken("gitlab-pipeline-trigger-token", "glptt-", `[0-9a-f]{40}`, "pipeline trigger token", detect.Medium,
			"curl -X POST -F token=glptt-"+fake("glptt-1", hexLower, 40)+" -F ref=main https://gitlab.com/api/v4/projects/1/trigger/pipeline"),
		gitlabToken("gitlab-cicd-job-token", "glcbt-", `[0-9a-fA-F]{1,5}_[A-Za-z0-9_-]{20,}`, "CI/CD job token", detect.Medium,
			"CI_JOB_TOKEN=glcbt-64_"+fake("glcbt-1", alnum, 20)),
		gitlabToken("gitlab-oauth-app-secret", "gloas-", `[0-9a-f]{64}`, "OAuth application secret", detect.High,
			"gitlab_oauth_secret: gloas-"+fake("gloas-1", hexLower, 64)),
		gitlabToken("gitlab-feed-token", "glft-", `[A-Za-z0-9_-]{20,}`, "feed token", detect.Low,
			"https://gitlab.com/dashboard/projects.atom?feed_token=glft-"+fake("glft-1", alnum, 20)),
		gitlabToken("gitlab-incoming-mail-token", "glimt-", `[A-Za-z0-9_-]{25,}`, "incoming mail token", detect.Medium,
			"reply-to: incoming+glimt-"+fake("glimt-1", lowerAlnum, 25)+"@gitlab.example.org"),
		gitlabToken("gitlab-agent-token", "glagent-", `[A-Za-z0-9_-]{50,}`, "agent for Kubernetes token", detect.High,
			"helm upgrade --install gitlab-agent gitlab/gitlab-agent --set config.token=glagent-"+fake("glagent-1", alnum+"_-", 50)),
		gitlabToken("gitlab-scim-token", "glsoat-", `[A-Za-z0-9_-]{20,}`, "SCIM OAuth access token", detect.High,
			"scim_token: glsoat-"+fake("glsoat-1", alnum, 20)),
		gitlabToken("gitlab-feature-flags-token", "glffct-", `[A-Za-z0-9_-]{20,}`, "feature flags client token", detect.Low,
			"UNLEASH_INSTANCE_ID=glffct-"+fake("glffct-1", alnum, 20)),
	}
}

// flipLast changes the last character of s: a checksummed token with one
// character wrong.
func flipLast(s string) string {
	c := byte('a')
	if s[len(s)-1] == c {
		c = 'b'
	}
	return s[:len(s)-1] + string(c)
}

// crc32Hex validates Atlassian's token layout: everything but the last 8
// characters, then their CRC32 (IEEE) in hexadecimal.
func crc32Hex(tok []byte) bool {
	if len(tok) <= 8 {
		return false
	}
	sum, err := hex.DecodeString(strings.ToLower(string(tok[len(tok)-8:])))
	if err != nil {
		return false
	}
	want := crc32.ChecksumIEEE(tok[:len(tok)-8])
	return uint32(sum[0])<<24|uint32(sum[1])<<16|uint32(sum[2])<<8|uint32(sum[3]) == want
}

// withCRC32Hex appends the 8-hex-digit CRC32 of s to it.
func withCRC32Hex(s string) string { return s + fmt.Sprintf("%08X", crc32.ChecksumIEEE([]byte(s))) }

func vcsRules() []*detect.Rule {
	return []*detect.Rule{
		{
			ID:          "bitbucket-app-password",
			Source:      "https://support.atlassian.com/bitbucket-cloud/docs/app-passwords/",
			Provider:    "bitbucket",
			Description: "Bitbucket Cloud app password (ATBB + 24 characters + CRC32)",
			Keywords:    []string{"atbb"},
			Regex:       re(`\b(?P<secret>ATBB[A-Za-z0-9]{24}[0-9A-Fa-f]{8})\b`),
			Validate:    crc32Hex,
			Severity:    detect.High,
			Examples:    []string{"BITBUCKET_APP_PASSWORD=" + withCRC32Hex("ATBB"+fake("atbb-1", alnum, 24))},
			NoMatch:     []string{"id: ATBB" + fake("atbb-2", alnum, 24) + "0000ABCD"},
		},
		{
			ID:          "atlassian-api-token",
			Source:      "https://docs.atlassian.com/atlassian-bamboo/11.0.7/com/atlassian/bamboo/repository/configuration/BitbucketCloudApiTokenUtils.html",
			Provider:    "atlassian",
			Description: "Atlassian Cloud API token or Bitbucket access token (ATATT3… / ATCTT3…, ending in a CRC32)",
			Keywords:    []string{"atatt3", "atctt3"},
			Regex:       re(`\b(?P<secret>AT[AC]TT3[A-Za-z0-9_=-]{170,}[0-9A-Fa-f]{8})(?:[^A-Za-z0-9_=-]|$)`),
			Validate:    crc32Hex,
			Severity:    detect.High,
			Examples: []string{
				"JIRA_API_TOKEN=" + withCRC32Hex("ATATT3xFfGF0"+fake("atatt-1", alnum+"_-", 170)+"="),
				"bitbucket_access_token: " + withCRC32Hex("ATCTT3xFfGN0"+fake("atctt-1", alnum+"_-", 170)+"="),
			},
			NoMatch: []string{"ATATT3xFfGF0" + fake("atatt-2", alnum+"_-", 170) + "=0BADC0DE"},
		},
		{
			ID:          "bitbucket-data-center-token",
			Source:      "https://confluence.atlassian.com/bitbucketserver/http-access-tokens-939515499.html",
			Provider:    "bitbucket",
			Description: "Bitbucket Data Center HTTP access token (BBDC- + base64 of id:secret)",
			Keywords:    []string{"bbdc-"},
			Regex:       re(`\b(?P<secret>BBDC-[A-Za-z0-9+/_-]{40,}={0,2})`),
			Validate: func(tok []byte) bool {
				b, ok := decodeB64(string(tok[5:]))
				if !ok {
					return false
				}
				id, _, found := strings.Cut(string(b), ":")
				return found && id != "" && strings.Trim(id, digits) == ""
			},
			Severity: detect.High,
			Examples: []string{"Authorization: Bearer BBDC-" + rawURL64("731944562019:"+string(fakeBytes("bbdc-1", 24)))},
			NoMatch:  []string{"Authorization: Bearer BBDC-" + fake("bbdc-2", alnum, 44)},
		},
		{
			ID:          "buildkite-agent-or-api-token",
			Source:      "https://buildkite.com/docs/platform/security/tokens",
			Provider:    "buildkite",
			Description: "Buildkite user API access token (bkua_)",
			Keywords:    []string{"bkua_"},
			Regex:       re(`\b(?P<secret>bkua_[a-f0-9]{40})\b`),
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples:    []string{"BUILDKITE_API_TOKEN=bkua_" + fake("bkua-1", hexLower, 40)},
			NoMatch:     []string{"BUILDKITE_API_TOKEN=bkua_" + fake("bkua-2", hexLower, 20)},
		},
		{
			ID:          "circleci-personal-token",
			Source:      "https://circleci.com/changelog/new-format-for-api-access-tokens/",
			Provider:    "circleci",
			Description: "CircleCI personal API token (CCIPAT_)",
			Keywords:    []string{"ccipat_"},
			Regex:       re(`\b(?P<secret>CCIPAT_[A-Za-z0-9]{22}_[a-f0-9]{40})\b`),
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples:    []string{"circle-token: CCIPAT_" + fake("cci-1", alnum, 22) + "_" + fake("cci-2", hexLower, 40)},
			NoMatch:     []string{"CCIPAT_ tokens are created under User Settings"},
		},
		{
			ID:          "sourcegraph-access-token",
			Source:      "https://sourcegraph.com/docs/cli/how-tos/revoking_an_access_token",
			Provider:    "sourcegraph",
			Description: "Sourcegraph access token (sgp_)",
			Keywords:    []string{"sgp_"},
			Regex:       re(`\b(?P<secret>sgp_(?:[a-f0-9]{16}|local)_[a-f0-9]{40})\b`),
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples:    []string{"SRC_ACCESS_TOKEN=sgp_" + fake("sgp-1", hexLower, 16) + "_" + fake("sgp-2", hexLower, 40)},
			NoMatch:     []string{"sgp_" + fake("sgp-3", hexLower, 40)},
		},
	}
}
