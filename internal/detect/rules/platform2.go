package rules

import (
	"strings"

	"github.com/rekeyhq/rekey/internal/detect"
)

// jwtValue is a JSON Web Token's shape; validJWT checks its parts decode.
const jwtValue = `eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{20,}`

// morePlatformRules are deployment platforms, secret managers and
// HashiCorp tools: Infisical, 1Password Connect, Nomad, Consul and Nomad
// gossip keys, Railway, Upstash, Turso, Convex, ngrok, MongoDB Atlas.
func morePlatformRules() []*detect.Rule {
	jwt := func(seed, claims string) string {
		return fakeJWT(`{"alg":"ES256","typ":"JWT"}`, claims, seed)
	}
	return []*detect.Rule{
		keyedRuleWith("infisical-universal-auth-client-secret", "infisical",
			"Infisical machine identity Universal Auth client secret (64 hex digits) in INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET or a key that names Infisical; with the client id it logs in as the identity",
			"https://infisical.com/docs/documentation/platform/identities/universal-auth", []string{"infisical"},
			`infisical[\w.-]{0,30}?client[_.-]?secret`, `[0-9a-f]{64}`, hasLetterAndDigit, detect.Critical,
			[]string{"INFISICAL_UNIVERSAL_AUTH_CLIENT_ID=" + uuidLike("inf-1") + "\nINFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET=" + fake("inf-2", hexLower, 64)},
			[]string{"INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET=${{ secrets.INFISICAL_CLIENT_SECRET }}"}),
		keyedRuleWith("infisical-service-token", "infisical",
			"Infisical service token (st. and three dot-separated hex parts) in INFISICAL_TOKEN or a key that names Infisical",
			"https://infisical.com/docs/documentation/platform/token", []string{"infisical"},
			`infisical[\w.-]{0,20}?token`, `st\.[0-9a-f]{24}\.[0-9a-f]{32}\.[0-9a-f]{32}`, nil, detect.Critical,
			[]string{"INFISICAL_TOKEN=st." + fake("inft-1", hexLower, 24) + "." + fake("inft-2", hexLower, 32) + "." + fake("inft-3", hexLower, 32)},
			[]string{"INFISICAL_TOKEN=st.xxxxxxxx.yyyyyyyy.zzzzzzzz"}),
		{
			ID:          "onepassword-connect-token",
			Provider:    "1password",
			Description: "1Password Connect server access token (a JWT) in OP_CONNECT_TOKEN: reads the vaults the token was granted",
			Source:      "https://developer.1password.com/docs/connect/manage-connect/",
			// "eyj" makes the value self-identifying, so this rule, not the
			// generic jwt one, reports the token.
			Keywords: []string{"op_connect_token", "eyj"},
			Regex:    re(`(?i:OP_CONNECT_TOKEN)["']?[ \t]*(?:=|:)[ \t]*["']?(?P<secret>` + jwtValue + `)`),
			Validate: validJWT,
			Identity: jwtIdentity,
			Severity: detect.Critical,
			Examples: []string{"OP_CONNECT_HOST=http://connect:8080\nOP_CONNECT_TOKEN=" + jwt("opc-1", `{"aud":["com.1password.connect"],"iss":"com.1password.b5","sub":"`+fake("opc-2", upperAlnum, 26)+`"}`)},
			NoMatch:  []string{"OP_CONNECT_TOKEN=<your-connect-token>", "OP_CONNECT_TOKEN: ${{ secrets.OP_CONNECT_TOKEN }}"},
		},
		keyedRuleWith("nomad-acl-token", "nomad",
			"HashiCorp Nomad ACL token secret ID (a UUID) in NOMAD_TOKEN or a key that names Nomad",
			"https://developer.hashicorp.com/nomad/docs/commands", []string{"nomad"},
			`nomad[\w.-]{0,12}?(?:token|secret[_.-]?id)`, uuidPattern, nil, detect.Critical,
			[]string{"export NOMAD_ADDR=https://nomad.acme.io:4646\nexport NOMAD_TOKEN=" + uuidLike("nomad-1")},
			[]string{"NOMAD_TOKEN=00000000-0000-0000-0000-000000000000", "NOMAD_TOKEN: ${{ secrets.NOMAD_TOKEN }}"}),
		{
			ID:          "hashicorp-gossip-encryption-key",
			Provider:    "hashicorp",
			Description: "Consul or Nomad gossip encryption key (encrypt = 32 bytes in base64, as consul keygen prints): anyone holding it can join and read the cluster's gossip",
			Source:      "https://developer.hashicorp.com/consul/docs/security/encryption/gossip",
			Keywords:    []string{"encrypt", "consul_gossip"},
			// "encrypt" is in every line of crypto code: the regex runs only
			// where a keyword starts, not over its line.
			Anchor:     detect.AtKeyword,
			WordStart:  true,
			Regex:      re(`(?:encrypt["']?|(?i:CONSUL_GOSSIP_(?:ENCRYPTION_)?KEY))[ \t]*(?:=|:)[ \t]*["'](?P<secret>[A-Za-z0-9+/]{43}=)["']`),
			Validate:   func(v []byte) bool { return mixedCase(v) && base64Bytes(32)(v) },
			MinEntropy: 4.0,
			Severity:   detect.High,
			Examples: []string{
				"server {\n  enabled = true\n  encrypt = \"" + b64std(string(fakeBytes("gossip-1", 32))) + "\"\n}",
				`{"datacenter": "dc1", "encrypt": "` + b64std(string(fakeBytes("gossip-2", 32))) + `"}`,
			},
			NoMatch: []string{`encrypt = "<gossip key>"`, `encrypt = "` + strings.Repeat("A", 43) + `="`},
		},
		keyedRuleWith("railway-token", "railway",
			"Railway project or account token (a UUID) in RAILWAY_TOKEN, RAILWAY_API_TOKEN or a key that names Railway",
			"https://docs.railway.com/guides/cli#tokens", []string{"railway"},
			`railway[\w.-]{0,12}?token`, uuidPattern, nil, detect.Critical,
			[]string{"RAILWAY_TOKEN=" + uuidLike("railway-1")},
			[]string{"RAILWAY_TOKEN: ${{ secrets.RAILWAY_TOKEN }}"}),
		keyedRuleWith("upstash-redis-rest-token", "upstash",
			"Upstash Redis REST token in UPSTASH_REDIS_REST_TOKEN or a key that names Upstash: reads and writes the database over HTTP",
			"https://upstash.com/docs/redis/features/restapi", []string{"upstash"},
			`upstash[\w.-]{0,20}?token`, `A[A-Za-z0-9_-]{50,}=*`, mixedCase, detect.Critical,
			[]string{"UPSTASH_REDIS_REST_URL=https://eu1-happy-fox-31337.upstash.io\nUPSTASH_REDIS_REST_TOKEN=AX" + fake("upstash-1", b64url, 70) + "="},
			[]string{"UPSTASH_REDIS_REST_TOKEN=********", "UPSTASH_REDIS_REST_TOKEN=AXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"}),
		{
			ID:          "turso-auth-token",
			Provider:    "turso",
			Description: "Turso / libSQL database auth token (a JWT) in TURSO_AUTH_TOKEN or LIBSQL_AUTH_TOKEN",
			Source:      "https://docs.turso.tech/sdk/authentication",
			Keywords:    []string{"turso_", "libsql_auth", "eyj"},
			Regex:       re(`(?i:TURSO_(?:AUTH_|DB_|DATABASE_)?TOKEN|LIBSQL_AUTH_TOKEN)["']?[ \t]*(?:=|:)[ \t]*["']?(?P<secret>` + jwtValue + `)`),
			Validate:    validJWT,
			Identity:    jwtIdentity,
			Severity:    detect.Critical,
			Examples:    []string{"TURSO_DATABASE_URL=libsql://orders-acme.turso.io\nTURSO_AUTH_TOKEN=" + fakeJWT(`{"alg":"EdDSA","typ":"JWT"}`, `{"a":"rw","iat":1717000000,"id":"`+uuidLike("turso-1")+`"}`, "turso-2")},
			NoMatch:     []string{"TURSO_AUTH_TOKEN=<token>", "TURSO_AUTH_TOKEN=${TURSO_AUTH_TOKEN}"},
		},
		{
			ID:          "convex-deploy-key",
			Provider:    "convex",
			Description: "Convex deploy key (prod:, preview:, dev: or project: deployment name | token) in CONVEX_DEPLOY_KEY: deploys code and reads data of the deployment",
			Source:      "https://docs.convex.dev/cli/deploy-key-types",
			Keywords:    []string{"convex_deploy"},
			Regex:       re(`(?i:CONVEX_DEPLOY_KEY)["']?[ \t]*(?:=|:)[ \t]*["']?(?P<secret>(?:prod|preview|dev|project):[a-z0-9-]{3,}\|[A-Za-z0-9+/=_-]{40,})`),
			MinEntropy:  4.0,
			Severity:    detect.Critical,
			Identity: func(v []byte, hints map[string]string) {
				if name, _, ok := strings.Cut(string(v), "|"); ok {
					hints["deployment"] = name
				}
			},
			Examples: []string{"CONVEX_DEPLOY_KEY=prod:happy-otter-123|" + fake("convex-1", b64url, 80)},
			NoMatch:  []string{"CONVEX_DEPLOY_KEY=prod:<deployment-name>|<key>", "CONVEX_DEPLOY_KEY: ${{ secrets.CONVEX_DEPLOY_KEY }}"},
		},
		{
			ID:          "ngrok-authtoken",
			Provider:    "ngrok",
			Description: "ngrok agent authtoken (two base62 parts joined by _) in ngrok.yml, NGROK_AUTHTOKEN or ngrok config add-authtoken: opens tunnels billed to the account",
			Source:      "https://ngrok.com/docs/agent/config/v3/",
			Keywords:    []string{"authtoken"},
			Regex:       re(`(?i:authtoken)["']?[ \t]*(?:=|:|\s)[ \t]*["']?(?P<secret>[0-9A-Za-z]{20,32}_[0-9A-Za-z]{17,32})(?:[^\w-]|$)`),
			Validate:    mixedCase,
			MinEntropy:  4.0,
			Severity:    detect.High,
			Examples: []string{
				"version: 3\nagent:\n  authtoken: 2" + fake("ngrok-1", alnum, 26) + "_" + fake("ngrok-2", alnum, 21) + "\n",
				"ngrok config add-authtoken 2" + fake("ngrok-3", alnum, 26) + "_" + fake("ngrok-4", alnum, 21),
			},
			NoMatch: []string{"ngrok config add-authtoken <token>", "  authtoken: YOUR_NGROK_AUTH_TOKEN_GOES_HERE"},
		},
		keyedRuleWith("mongodb-atlas-private-key", "mongodb",
			"MongoDB Atlas Administration API private key (a UUID) in MONGODB_ATLAS_PRIVATE_KEY or a key that names Atlas; with the public key it manages the organization's clusters",
			"https://www.mongodb.com/docs/atlas/configure-api-access/", []string{"atlas"},
			`atlas[\w.-]{0,12}?private[_.-]?(?:api[_.-]?)?key`, uuidPattern, nil, detect.Critical,
			[]string{"MONGODB_ATLAS_PUBLIC_KEY=" + fake("atlas-1", lowerAlnum, 8) + "\nMONGODB_ATLAS_PRIVATE_KEY=" + uuidLike("atlas-2")},
			[]string{"MONGODB_ATLAS_PRIVATE_KEY=<private-key>"}),
	}
}
