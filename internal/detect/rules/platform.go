package rules

import "github.com/rekeyhq/rekey/internal/detect"

// Platform credentials: Kubernetes bootstrap tokens and managed API keys
// of cloud platform services.
func platformRules() []*detect.Rule {
	const bootstrapSrc = "https://kubernetes.io/docs/reference/access-authn-authz/bootstrap-tokens"
	return []*detect.Rule{
		{
			ID:          "kubernetes-bootstrap-token",
			Provider:    "kubernetes",
			Description: "Kubernetes bootstrap token (6-character token id . 16-character token secret) passed to kubeadm or set in its configuration",
			Source:      bootstrapSrc,
			Keywords:    []string{"--token", "--discovery-token", "bootstraptokens"},
			Window:      300,
			Regex:       re(`(?:--(?:discovery-)?token[ =]+|(?s:bootstrapTokens:.{0,200}?token:[ \t]*)["']?)(?P<secret>[a-z0-9]{6}\.[a-z0-9]{16})\b`),
			MinEntropy:  3.0,
			Validate:    bootstrapTokenValue,
			Severity:    detect.High,
			Examples: []string{
				"kubeadm join 10.0.0.10:6443 --token " + fake("kbt-1", lowerAlnum, 6) + "." + fake("kbt-2", lowerAlnum, 16) + " --discovery-token-ca-cert-hash sha256:" + fake("kbt-3", hexLower, 64),
				"apiVersion: kubeadm.k8s.io/v1beta3\nkind: InitConfiguration\nbootstrapTokens:\n- groups:\n  - system:bootstrappers:kubeadm:default-node-token\n  token: \"" + fake("kbt-4", lowerAlnum, 6) + "." + fake("kbt-5", lowerAlnum, 16) + "\"\n",
			},
			NoMatch: []string{
				"kubeadm join 10.0.0.10:6443 --token abcdef.0123456789abcdef",
				"kubeadm join 10.0.0.10:6443 --token <token> --discovery-token-ca-cert-hash sha256:<hash>",
			},
		},
		{
			ID:          "kubernetes-bootstrap-token-secret",
			Provider:    "kubernetes",
			Description: "Kubernetes bootstrap token Secret (type bootstrap.kubernetes.io/token, token-secret: 16 characters); names the token id",
			Source:      bootstrapSrc,
			Keywords:    []string{"token-secret"},
			Regex:       re(`token-secret["']?[ \t]*:[ \t]*["']?(?P<secret>[a-z0-9]{16})\b`),
			MinEntropy:  3.0,
			Validate:    bootstrapTokenValue,
			Severity:    detect.High,
			Examples:    []string{"type: bootstrap.kubernetes.io/token\nstringData:\n  token-id: \"" + fake("kbs-1", lowerAlnum, 6) + "\"\n  token-secret: \"" + fake("kbs-2", lowerAlnum, 16) + "\"\n"},
			NoMatch:     []string{"  token-secret: \"\"", "  token-secret: ${BOOTSTRAP_SECRET}"},
		},
		withSource("https://docs.aws.amazon.com/appsync/latest/APIReference/API_ApiKey.html",
			prefixed("aws-appsync-api-key", "aws", "AWS AppSync GraphQL API key of the current version (da2-), sent as x-api-key", "da2-", `[a-z0-9]{20,40}`, detect.Medium,
				[]string{"const client = new AWSAppSyncClient({ auth: { type: 'API_KEY', apiKey: 'da2-" + fake("da2-1", lowerAlnum, 26) + "' } })"},
				[]string{"apiKey: 'da2-xxxxxxxxxxxxxxxxxxxxxxxxxx'", "da2-" + fake("da2-2", lowerAlnum, 10)})),
	}
}

// bootstrapTokenValue rejects the sequential sample secrets Kubernetes'
// documentation uses (0123456789abcdef) and other runs without variety.
func bootstrapTokenValue(v []byte) bool {
	s := string(v)
	if i := len(s) - 16; i >= 0 {
		s = s[i:]
	}
	return s != "0123456789abcdef" && !detect.IsPlaceholder(v)
}
