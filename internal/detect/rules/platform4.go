package rules

import (
	"encoding/hex"
	"strings"

	"github.com/rekeyhq/rekey/internal/detect"
)

// openvpnStaticKey accepts the body of an OpenVPN static key: 16 lines of
// 32 hex digits, the 2048-bit key tls-auth, tls-crypt and secret use.
func openvpnStaticKey(block []byte) bool {
	var sb strings.Builder
	for _, l := range strings.Split(strings.ReplaceAll(string(block), `\n`, "\n"), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "-----") || strings.HasPrefix(l, "#") {
			continue
		}
		sb.WriteString(l)
	}
	b, err := hex.DecodeString(sb.String())
	return err == nil && len(b) == 256 && detect.Entropy(b) > 6
}

func fakeOpenVPNKey(seed string) string {
	h := hex.EncodeToString(fakeBytes(seed, 256))
	var sb strings.Builder
	sb.WriteString("-----BEGIN OpenVPN Static key V1-----\n")
	for i := 0; i < len(h); i += 32 {
		sb.WriteString(h[i:i+32] + "\n")
	}
	sb.WriteString("-----END OpenVPN Static key V1-----\n")
	return sb.String()
}

// networkAndDataRules are VPN and overlay-network keys, tunnels' access
// secrets, and client-side passwords of databases and tools: OpenVPN,
// ZeroTier, NetBird, Cloudflare Access, Equinix Metal, GitLab sessions,
// Pulumi passphrases, Schema Registry, MySQL, SQL*Plus, SnowSQL, CouchDB,
// npm, Bundler and Harbor.
func networkAndDataRules() []*detect.Rule {
	pw := func(seed string) string { return fake(seed, alnum, 10) + "-" + fake(seed+"2", alnum, 6) }
	return []*detect.Rule{
		{
			ID:          "openvpn-static-key",
			Provider:    "openvpn",
			Description: "OpenVPN static key (tls-auth, tls-crypt or pre-shared secret key file, 2048 bits in hex), inline in a .ovpn profile or on its own",
			Source:      "https://openvpn.net/community-resources/reference-manual-for-openvpn-2-6/",
			Keywords:    []string{"openvpn static key"},
			Window:      1200,
			Regex:       re(`-----BEGIN OpenVPN Static key V1-----(?:\\n|\r?\n)(?P<secret>(?:[0-9a-f]{32}(?:\\n|\r?\n))+)-----END OpenVPN Static key V1-----`),
			Validate:    openvpnStaticKey,
			Severity:    detect.High,
			Examples:    []string{"client\nremote vpn.acme.io 1194\n<tls-crypt>\n" + fakeOpenVPNKey("ovpn-1") + "</tls-crypt>\n"},
			NoMatch:     []string{"<tls-auth>\n-----BEGIN OpenVPN Static key V1-----\n[paste your key here]\n-----END OpenVPN Static key V1-----\n</tls-auth>"},
		},
		keyedRuleWith("zerotier-central-token", "zerotier",
			"ZeroTier Central API token (32 letters and digits) in ZEROTIER_CENTRAL_TOKEN or a key that names ZeroTier: manages the account's networks and members",
			"https://docs.zerotier.com/api/tokens", []string{"zerotier"},
			`zerotier[\w.-]{0,20}?(?:token|api[_.-]?key)`, `[A-Za-z0-9]{32}`, mixedCase, detect.High,
			[]string{"ZEROTIER_CENTRAL_TOKEN=" + fake("zt-1", alnum, 32)},
			[]string{"ZEROTIER_CENTRAL_TOKEN=<api-token>"}),
		{
			ID:          "netbird-setup-key",
			Provider:    "netbird",
			Description: "NetBird setup key (a UUID) in NB_SETUP_KEY, --setup-key or a key that names NetBird: enrols machines into the network",
			Source:      "https://docs.netbird.io/how-to/register-machines-using-setup-keys",
			Keywords:    []string{"setup_key", "setup-key", "setupkey"},
			Regex: re(`(?:(?i:(?:\bnb|netbird)[_.-]?setup[_.-]?key)` + sep + `|--setup-key[ =]["']?)` +
				`(?P<secret>[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})\b`),
			MinEntropy: 3.0,
			Severity:   detect.High,
			Examples:   []string{"NB_SETUP_KEY=" + strings.ToUpper(uuidLike("nb-1")), "netbird up --setup-key " + uuidLike("nb-2")},
			NoMatch:    []string{"NB_SETUP_KEY=<SETUP KEY>", "NB_SETUP_KEY=00000000-0000-0000-0000-000000000000", "setup_key: " + uuidLike("nb-3")},
		},
		{
			ID:          "cloudflare-access-service-token",
			Provider:    "cloudflare",
			Description: "Cloudflare Access service token client secret (64 hex digits, sent as CF-Access-Client-Secret): passes Access policies that allow the token",
			Source:      "https://developers.cloudflare.com/cloudflare-one/identity/service-tokens/",
			Keywords:    []string{"cf-access", "cf_access"},
			Regex:       re(`(?i:cf[_-]access[_-]client[_-]secret)["']?[ \t]*[:=,][ \t]*["']?(?P<secret>[0-9a-f]{64})(?:[^\w-]|$)`),
			Validate:    hasLetterAndDigit,
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples:    []string{`curl -H "CF-Access-Client-Id: ` + fake("cfa-1", hexLower, 32) + `.access" -H "CF-Access-Client-Secret: ` + fake("cfa-2", hexLower, 64) + `" https://app.acme.io`},
			NoMatch:     []string{`-H "CF-Access-Client-Secret: <CLIENT_SECRET>"`},
		},
		keyedRuleWith("equinix-metal-api-token", "equinix",
			"Equinix Metal API key (32 letters and digits) in METAL_AUTH_TOKEN, PACKET_AUTH_TOKEN or a key that names Equinix Metal",
			"https://deploy.equinix.com/developers/docs/metal/identity-access-management/api-keys/", []string{"metal_auth_token", "packet_auth_token", "equinix"},
			`(?:metal|packet|equinix[\w.-]{0,12}?)[_.-]?(?:auth[_.-]?token|api[_.-]?key|api[_.-]?token)`, `[A-Za-z0-9]{32}`, mixedCase, detect.Critical,
			[]string{"METAL_AUTH_TOKEN=" + fake("metal-1", alnum, 32)},
			[]string{"METAL_AUTH_TOKEN=${METAL_AUTH_TOKEN}"}),
		{
			ID:          "gitlab-session-cookie",
			Provider:    "gitlab",
			Description: "GitLab session cookie (_gitlab_session, 32 hex digits): the signed-in browser session of a user",
			Source:      "https://docs.gitlab.com/security/tokens/",
			Keywords:    []string{"_gitlab_session"},
			Regex:       re(`_gitlab_session=(?P<secret>[0-9a-f]{32})\b`),
			Validate:    hasLetterAndDigit,
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples:    []string{`curl -b "_gitlab_session=` + fake("gls-1", hexLower, 32) + `" https://gitlab.acme.io/api/v4/user`},
			NoMatch:     []string{"Cookie: _gitlab_session=<session-id>"},
		},
		envSecretRule("pulumi-config-passphrase", "pulumi",
			"Pulumi passphrase secrets provider passphrase (PULUMI_CONFIG_PASSPHRASE): decrypts every secret in the stacks' config",
			"https://www.pulumi.com/docs/iac/concepts/secrets/", []string{"pulumi_config"},
			`(?i:PULUMI_CONFIG_PASSPHRASE)`,
			[]string{"PULUMI_CONFIG_PASSPHRASE=" + pw("pulumi-pp-1")},
			[]string{"PULUMI_CONFIG_PASSPHRASE: ${{ secrets.PULUMI_CONFIG_PASSPHRASE }}", "PULUMI_CONFIG_PASSPHRASE_FILE=/run/secrets/pulumi"}),
		{
			ID:          "schema-registry-basic-auth",
			Provider:    "confluent",
			Description: "Schema Registry credentials in a client's basic.auth.user.info (key:secret), for Confluent Cloud or a self-managed registry",
			Source:      "https://docs.confluent.io/platform/current/schema-registry/security/index.html",
			Keywords:    []string{"auth.user.info", "auth_user_info"},
			Regex:       re(`(?i:basic[._]auth[._]user[._]info)["']?[ \t]*(?:=|:)[ \t]*["']?(?P<user>[^\s:"']+):(?P<secret>[^\s"']{8,})`),
			Validate:    plausiblePassword,
			MinEntropy:  3.0,
			Severity:    detect.Critical,
			Examples:    []string{"schema.registry.url=https://psrc-" + fake("sr-1", lowerAlnum, 5) + ".eu-central-1.aws.confluent.cloud\nbasic.auth.credentials.source=USER_INFO\nbasic.auth.user.info=" + fake("sr-2", upperAlnum, 16) + ":" + fake("sr-3", b64, 64)},
			NoMatch:     []string{"basic.auth.user.info={{ SR_API_KEY }}:{{ SR_API_SECRET }}", "basic.auth.user.info=<SR_API_KEY>:<SR_API_SECRET>"},
		},
		keyedRuleWith("mysql-pwd-env", "mysql",
			"MySQL client password in the MYSQL_PWD environment variable",
			"https://dev.mysql.com/doc/refman/8.4/en/environment-variables.html", []string{"mysql_pwd"},
			`mysql_pwd`, `[^\s"'$]{8,}`, plausiblePassword, detect.Critical,
			[]string{"MYSQL_PWD=" + pw("mysqlpwd-1") + " mysql -h db.internal -u report shop"},
			[]string{"MYSQL_PWD=$DB_PASSWORD mysql -u root"}),
		{
			ID:          "oracle-sqlplus-password",
			Provider:    "oracle",
			Description: "Oracle Database password on a SQL*Plus, Data Pump or SQLcl command line (user/password@connect_identifier)",
			Source:      "https://docs.oracle.com/en/database/oracle/oracle-database/23/sqpug/SQLPLUS-command-reference.html",
			Keywords:    []string{"sqlplus", "expdp", "impdp", "sql -"},
			Regex:       re(`\b(?:sqlplus|expdp|impdp|sql)(?:\s+-\w+)*\s+["']?(?P<user>[A-Za-z][\w$#]*)/(?P<secret>[^\s@"'/]{4,})@`),
			Validate:    plausiblePassword,
			MinEntropy:  3.0,
			Severity:    detect.Critical,
			Examples:    []string{"sqlplus -s billing/" + pw("ora-pw-1") + "@ora-prod.internal:1521/BILLPDB @report.sql", "expdp system/" + pw("ora-pw-2") + "@ORCLPDB1 schemas=HR directory=DP"},
			NoMatch:     []string{"sqlplus scott/tiger@orcl", "sqlplus hr/your_password@localhost:1521/freepdb1"},
		},
		keyedRuleWith("snowsql-password", "snowflake",
			"Snowflake password for SnowSQL in SNOWSQL_PWD",
			"https://docs.snowflake.com/en/user-guide/snowsql-start", []string{"snowsql"},
			`snowsql_pwd`, `[^\s"'$]{8,}`, plausiblePassword, detect.Critical,
			[]string{"SNOWSQL_ACCOUNT=acme-xy12345\nSNOWSQL_USER=etl\nSNOWSQL_PWD=" + pw("snowsql-1")},
			[]string{"SNOWSQL_PWD=${SNOWFLAKE_PASSWORD}"}),
		{
			ID:          "couchdb-admin-password",
			Provider:    "couchdb",
			Description: "CouchDB server administrator password in the [admins] section of local.ini (before CouchDB hashes it on start)",
			Source:      "https://docs.couchdb.org/en/stable/config/auth.html",
			Keywords:    []string{"[admins]"},
			Window:      400,
			Regex:       re(`\[admins\][ \t]*\r?\n(?:[ \t]*(?:;[^\n]*)?\r?\n)*[ \t]*(?P<user>[\w.@-]+)[ \t]*=[ \t]*(?P<secret>[^\s;]{4,})`),
			Validate:    func(v []byte) bool { return !strings.HasPrefix(string(v), "-pbkdf2") && plausiblePassword(v) },
			MinEntropy:  3.0,
			Severity:    detect.Critical,
			Examples:    []string{"[couchdb]\nsingle_node=true\n\n[admins]\nadmin = " + pw("couch-1") + "\n"},
			NoMatch:     []string{"[admins]\nadmin = -pbkdf2-" + fake("couch-2", hexLower, 40) + "," + fake("couch-3", hexLower, 32) + ",600000", "[admins]\nadmin = mysecretpassword"},
		},
		{
			ID:          "npmrc-password",
			Provider:    "npm",
			Description: "Registry password in an .npmrc (_password, base64-encoded, beside username)",
			Source:      "https://docs.npmjs.com/cli/v10/configuring-npm/npmrc#auth-related-configuration",
			Keywords:    []string{"_password"},
			Regex:       re(`(?://(?P<host>[A-Za-z0-9.-]+)[^\s:]*:)?_password[ \t]*=[ \t]*["']?(?P<secret>[A-Za-z0-9+/]{8,}={0,2})(?:["'\s]|$)`),
			Validate: func(v []byte) bool {
				b, ok := decodeB64(string(v))
				if !ok {
					return false
				}
				for _, c := range b {
					if c < 0x20 || c > 0x7e {
						return false
					}
				}
				return plausiblePassword(b)
			},
			MinEntropy: 3.0,
			Severity:   detect.Critical,
			Examples:   []string{"//npm.acme.io/repository/npm/:username=ci\n//npm.acme.io/repository/npm/:_password=" + b64std(pw("npmpw-1")) + "\n"},
			NoMatch:    []string{"//npm.acme.io/:_password=${NPM_PASSWORD_B64}"},
		},
		{
			ID:          "bundler-source-credentials",
			Provider:    "rubygems",
			Description: "Credentials for a private gem source in a BUNDLE_<HOST> setting (user:password or a token), as bundle config and .bundle/config store them",
			Source:      "https://bundler.io/v2.5/man/bundle-config.1.html",
			Keywords:    []string{"bundle_"},
			Regex:       re(`\bBUNDLE_[A-Z0-9_]+__[A-Z0-9_]+["']?[ \t]*(?:=|:)[ \t]*["']?(?:(?P<user>[^\s"':]+):)?(?P<secret>[^\s"':]{8,})(?:["'\s]|$)`),
			Validate:    plausiblePassword,
			// Sidekiq Pro/Enterprise credentials are eight hex digits.
			MinEntropy: 2.5,
			Severity:   detect.Critical,
			Examples:   []string{"BUNDLE_GEMS__CONTRIBSYS__COM=" + fake("bundle-0", hexLower, 8) + ":" + fake("bundle-1", hexLower, 8), "---\nBUNDLE_RUBYGEMS__PKG__GITHUB__COM: \"deploy:" + pw("bundle-2") + "\"\n"},
			NoMatch:    []string{"BUNDLE_GEMS__CONTRIBSYS__COM=username:password", "BUNDLE_GEMS__ACME__IO: ${GEMS_TOKEN}"},
		},
		{
			ID:          "harbor-robot-secret",
			Provider:    "harbor",
			Description: "Harbor robot account secret (32 letters and digits) beside its robot$ name, in a docker login or the robot's JSON",
			Source:      "https://goharbor.io/docs/main/working-with-projects/project-configuration/create-robot-accounts/",
			Keywords:    []string{"robot$"},
			Regex:       re(`robot\$(?P<user>[\w.+-]+)["']?[^\n]*?(?:\s-p\s+|--password[ =]|"secret"\s*:\s*)["']?(?P<secret>[A-Za-z0-9]{32})(?:[^\w-]|$)`),
			Validate:    mixedCase,
			MinEntropy:  3.5,
			Severity:    detect.High,
			Examples:    []string{"docker login harbor.acme.io -u 'robot$ci+push' -p " + fake("harbor-1", alnum, 32), `{"name": "robot$shop+pull", "secret": "` + fake("harbor-2", alnum, 32) + `"}`},
			NoMatch:     []string{"docker login harbor.acme.io -u 'robot$ci' -p <secret>"},
		},
	}
}
