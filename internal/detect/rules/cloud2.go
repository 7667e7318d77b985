package rules

import "github.com/rekeyhq/rekey/internal/detect"

// More clouds and CDNs: Scaleway, Akamai.
func moreCloudRules() []*detect.Rule {
	return []*detect.Rule{
		{
			ID:          "scaleway-secret-key",
			Provider:    "scaleway",
			Description: "Scaleway API secret key (a UUID) assigned to SCW_SECRET_KEY or a key that names Scaleway; the access key (SCW…) is its public half",
			Source:      "https://scaleway.com/en/docs/developer-tools/scaleway-cli/reference-content/environment-variables/",
			Keywords:    []string{"scw_secret", "scw-secret", "scaleway", "scw_token"},
			Regex:       keyed(`(?:scw|scaleway)[_.-]?(?:[\w.-]{0,12}?)(?:secret[_.-]?key|token)`, `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`),
			MinEntropy:  3.0,
			Severity:    detect.Critical,
			Examples: []string{
				"SCW_ACCESS_KEY=SCW" + fake("scw-1", upperAlnum, 17) + "\nSCW_SECRET_KEY=" + uuidLike("scw-2"),
				"scaleway_secret_key = \"" + uuidLike("scw-3") + "\"",
			},
			NoMatch: []string{"SCW_SECRET_KEY=xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", "SCW_DEFAULT_PROJECT_ID=" + uuidLike("scw-4")},
		},
		{
			ID:          "akamai-edgegrid-client-secret",
			Provider:    "akamai",
			Description: "Akamai EdgeGrid client secret in an .edgerc section (client_secret with the akab- host or tokens of the same API client)",
			Source:      "https://techdocs.akamai.com/developer/docs/set-up-authentication-credentials",
			Keywords:    []string{"client_secret"},
			Window:      600,
			Regex:       re(`client_secret[ \t]*=[ \t]*(?P<secret>[A-Za-z0-9+/]{43}=)[^\[]{0,400}?akab-`),
			MinEntropy:  4.0,
			Severity:    detect.Critical,
			Examples: []string{
				"[default]\nclient_secret = " + fake("akab-1", b64, 43) + "=\nhost = akab-" + fake("akab-2", lowerAlnum, 28) + "-" + fake("akab-3", lowerAlnum, 8) + ".luna.akamaiapis.net\naccess_token = akab-" + fake("akab-4", lowerAlnum, 26) + "-" + fake("akab-5", lowerAlnum, 6) + "\n",
				"[ccu]\nhost = akaa-" + fake("akab-6", lowerAlnum, 32) + ".luna.akamaiapis.net/\nclient_token = akab-" + fake("akab-7", lowerAlnum, 16) + "-" + fake("akab-8", lowerAlnum, 16) + "\nclient_secret = " + fake("akab-9", b64, 43) + "=\naccess_token = akab-" + fake("akab-10", lowerAlnum, 16) + "-" + fake("akab-11", lowerAlnum, 16) + "\n",
			},
			NoMatch: []string{"[default]\nclient_secret = XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX=\nhost = akab-XXXXXXXXXXXXXXXX.luna.akamaiapis.net/\n"},
		},
	}
}
