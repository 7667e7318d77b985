package rules

import "github.com/rekeyhq/rekey/internal/detect"

// More clouds and CDNs: Cloudflare's scannable tokens, Hetzner, Oracle
// Cloud Infrastructure, Scaleway, Akamai.
func moreCloudRules() []*detect.Rule {
	return []*detect.Rule{
		{
			ID:          "hetzner-cloud-token",
			Provider:    "hetzner",
			Description: "Hetzner Cloud API token (64 letters and digits) in HCLOUD_TOKEN or a key that names hcloud or Hetzner; it manages every server of its project",
			Source:      "https://docs.ansible.com/ansible/12/collections/hetzner/hcloud/docsite/guides.html",
			Keywords:    []string{"hcloud", "hetzner"},
			Regex:       keyed(`(?:hcloud|hetzner)[\w.-]{0,20}?(?:token|api[_.-]?key)`, `[A-Za-z0-9]{64}`),
			// The documentation's sample token is printed in every guide
			// to the collection and in the READMEs that copy them.
			Validate:   func(v []byte) bool { return mixedCase(v) && except(hcloudDocumentedToken)(v) },
			MinEntropy: 4.0,
			Severity:   detect.Critical,
			Examples: []string{
				"export HCLOUD_TOKEN='" + fake("hcloud-1", alnum, 64) + "'",
				"hetzner_api_token: " + fake("hcloud-2", alnum, 64),
			},
			NoMatch: []string{"HCLOUD_TOKEN: ${{ secrets.HCLOUD_TOKEN }}", "hcloud token list -o columns=id,name"},
		},
		{
			ID:          "oci-config-pass-phrase",
			Provider:    "oci",
			Description: "Passphrase of an Oracle Cloud Infrastructure API signing key written into an OCI CLI/SDK config file (pass_phrase=, deprecated by Oracle); with the key_file beside it, it signs API requests as the user",
			Source:      "https://docs.oracle.com/en-us/iaas/Content/API/Concepts/sdkconfig.htm",
			Keywords:    []string{"pass_phrase"},
			Regex:       re(`(?m)^[ \t]*pass_phrase[ \t]*=[ \t]*(?P<secret>[^\s"']\S*(?:[ \t]+\S+)*)`),
			Validate:    plausiblePassword,
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples: []string{
				"[DEFAULT]\nuser=ocid1.user.oc1.." + fake("oci-1", lowerAlnum, 60) + "\nfingerprint=" + fake("oci-2", hexLower, 2) + ":" + fake("oci-3", hexLower, 2) + "\nkey_file=~/.oci/oci_api_key.pem\npass_phrase=" + fake("oci-4", alnum+"!#%", 18) + "\ntenancy=ocid1.tenancy.oc1.." + fake("oci-5", lowerAlnum, 60) + "\nregion=us-ashburn-1\n",
			},
			NoMatch: []string{"pass_phrase=<passphrase>", "pass_phrase = ${OCI_KEY_PASSPHRASE}", `config = {"pass_phrase": pw}`},
		},
		{
			ID:          "cloudflare-scannable-token",
			Provider:    "cloudflare",
			Description: "Cloudflare API credential of the scannable form: global API key (cfk_), user API token (cfut_) or account API token (cfat_), 40 characters and a checksum",
			Source:      "https://developers.cloudflare.com/fundamentals/api/get-started/token-formats",
			Keywords:    []string{"cfk_", "cfut_", "cfat_"},
			// The documentation gives the checksum's presence, not its
			// length or algorithm, so the rule asks for at least one
			// character after the 40 and relies on the mixed-case check
			// and the entropy floor instead of a checksum.
			Regex:      re(`(?:^|[^\w-])(?P<secret>cf(?:k|ut|at)_[A-Za-z0-9]{40}[A-Za-z0-9]{1,16})(?:[^\w-]|$)`),
			Validate:   mixedCase,
			MinEntropy: 4.0,
			Severity:   detect.Critical,
			Examples: []string{
				"CLOUDFLARE_API_TOKEN=cfut_" + fake("cfut-1", alnum, 40) + fake("cfut-2", alnum, 6),
				`cloudflare_api_key = "cfk_` + fake("cfk-n-1", alnum, 40) + fake("cfk-n-2", alnum, 8) + `"`,
				"CF_ACCOUNT_TOKEN: cfat_" + fake("cfat-1", alnum, 46),
			},
			NoMatch: []string{
				"CLOUDFLARE_API_TOKEN=cfut_[40 characters][checksum]",
				"rotated cfut_" + fake("cfut-3", alnum, 40) + " (no checksum)",
				"cfut_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
			},
		},
		{
			ID:          "doppler-service-account-identity-token",
			Provider:    "doppler",
			Description: "Doppler short-lived service account identity token (dp.said.)",
			Source:      "https://docs.doppler.com/docs/Auth-token-formats",
			Keywords:    []string{"dp.said."},
			Regex:       re(`\b(?P<secret>dp\.said\.[A-Za-z0-9]{40,44})\b`),
			MinEntropy:  3.0,
			Severity:    detect.Medium,
			Examples:    []string{"DOPPLER_TOKEN=dp.said." + fake("dpsaid-1", alnum, 43)},
			NoMatch:     []string{"DOPPLER_TOKEN=dp.said." + fake("dpsaid-2", alnum, 20)},
		},
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

// moreAzureRules are Azure connection strings whose key is not caught by
// the storage and Service Bus rules.
func moreAzureRules() []*detect.Rule {
	return []*detect.Rule{
		{
			ID:          "azure-signalr-connection-string",
			Provider:    "azure",
			Description: "Azure SignalR Service connection string (Endpoint=https://….service.signalr.net;AccessKey=…); names the resource",
			Source:      "https://learn.microsoft.com/ja-jp/azure/azure-signalr/concept-connection-string",
			Keywords:    []string{".service.signalr.net"},
			Regex:       re(`Endpoint=https://(?P<host>[a-z0-9-]+\.service\.signalr\.net)(?::\d+)?/?;\s*AccessKey=(?P<secret>[A-Za-z0-9+/]{43}=)`),
			MinEntropy:  4.0,
			Severity:    detect.Critical,
			Examples:    []string{`"Azure:SignalR:ConnectionString": "Endpoint=https://orders-live.service.signalr.net;AccessKey=` + fake("signalr-1", b64, 43) + `=;Version=1.0;"`},
			NoMatch:     []string{"Endpoint=https://<resource_name>.service.signalr.net;AccessKey=<access_key>;Version=1.0;"},
		},
		{
			ID:          "azure-iot-device-connection-string",
			Provider:    "azure",
			Description: "Azure IoT Hub device connection string (HostName=….azure-devices.net;DeviceId=…;SharedAccessKey=…); names the hub and device",
			Source:      "https://learn.microsoft.com/en-us/javascript/api/azure-iot-common/connectionstring",
			Keywords:    []string{".azure-devices.net"},
			Regex:       re(`HostName=(?P<host>[A-Za-z0-9-]+\.azure-devices\.net);\s*DeviceId=(?P<user>[^;"'\s]+);\s*(?:ModuleId=[^;"'\s]+;\s*)?SharedAccessKey=(?P<secret>[A-Za-z0-9+/]{43}=)`),
			MinEntropy:  4.0,
			Severity:    detect.High,
			Examples:    []string{"IOTHUB_DEVICE_CONNECTION_STRING=HostName=plant-7.azure-devices.net;DeviceId=press-12;SharedAccessKey=" + fake("iot-1", b64, 43) + "="},
			NoMatch:     []string{"HostName=[IoT Hub name goes here].azure-devices.net;DeviceId=[Device ID goes here];SharedAccessKey=[Device key goes here];"},
		},
	}
}

// hcloudDocumentedToken is the sample token in the Hetzner Cloud Ansible
// collection's guide; it is no one's credential.
const hcloudDocumentedToken = "LRK9DAWQ1ZAEFSrCNEEzLCUwhYX1U3g7wMg4dTlkkDC96fyDuyJ39nVbVjCKSDfj"
