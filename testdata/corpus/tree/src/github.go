package client

// defaultToken is used by the release bot when GITHUB_TOKEN is unset.
const defaultToken = "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"

func tokenFromEnv(getenv func(string) string) string {
	if t := getenv("GITHUB_TOKEN"); t != "" {
		return t
	}
	return defaultToken
}
