package rules

import (
	"strings"

	"github.com/rekeyhq/rekey/internal/detect"
)

// cliPasswordRule is a password passed to a database shell on its command
// line (tool, then any arguments, then flag and the password): shell
// histories, scripts and CI logs keep it.
func cliPasswordRule(id, provider, what, src string, keywords []string, tool, flag string, examples, noMatch []string) *detect.Rule {
	rx := re(`\b` + tool + `\b[^\n|;&]*?\s` + flag + `(?:[ \t]+|=)?["']?(?P<secret>[^\s"'|;&$-][^\s"'|;&]{3,})`)
	return valueRule(id, provider, what, src, keywords, rx, plausiblePassword, detect.Critical, examples, noMatch)
}

// toolAndServiceRules are database shells' password flags, credentials in
// the config files of Docker, Jenkins and OpenLDAP, CI runner secrets and
// Vercel storage tokens.
func toolAndServiceRules() []*detect.Rule {
	pw := func(seed string) string { return fake(seed, alnum, 10) + "-" + fake(seed+"2", alnum, 6) }
	return []*detect.Rule{
		cliPasswordRule("redis-cli-password", "redis",
			"Redis password on redis-cli's command line (-a, --pass) or in REDISCLI_AUTH",
			"https://redis.io/docs/latest/develop/tools/cli/", []string{"redis-cli", "rediscli"},
			`(?:redis-cli|REDISCLI_AUTH=)`, `(?:-a|--pass)`,
			[]string{"redis-cli -h cache.internal -p 6379 -a " + pw("rcli-1") + " --no-auth-warning info", "redis-cli --pass '" + pw("rcli-2") + "' ping"},
			[]string{"redis-cli -a $REDIS_PASSWORD ping", "redis-cli -h localhost -a password ping"}),
		cliPasswordRule("sqlcmd-password", "sqlserver",
			"SQL Server password on the sqlcmd or bcp command line (-P)",
			"https://learn.microsoft.com/en-us/sql/tools/sqlcmd/sqlcmd-utility", []string{"sqlcmd", "bcp "},
			`(?:sqlcmd|bcp)`, `-P`,
			[]string{"/opt/mssql-tools18/bin/sqlcmd -S db.internal -U sa -P '" + pw("sqlcmd-1") + "' -C -Q \"SELECT 1\"", "bcp dbo.orders out orders.dat -S sql01 -U etl -P " + pw("sqlcmd-2") + " -c"},
			[]string{"sqlcmd -S localhost -U sa -P \"$MSSQL_SA_PASSWORD\" -Q \"SELECT 1\"", "sqlcmd -S localhost -U SA -P '<YourStrong@Passw0rd>'"}),
		cliPasswordRule("cqlsh-password", "cassandra",
			"Cassandra password on the cqlsh command line (-p, --password)",
			"https://cassandra.apache.org/doc/latest/cassandra/managing/tools/cqlsh.html", []string{"cqlsh"},
			`cqlsh`, `(?:-p|--password)`,
			[]string{"cqlsh cass-0.internal 9042 -u orders -p " + pw("cqlsh-1")},
			[]string{"cqlsh -u cassandra -p cassandra"}),
		cliPasswordRule("cypher-shell-password", "neo4j",
			"Neo4j password on the cypher-shell command line (-p, --password)",
			"https://neo4j.com/docs/operations-manual/current/cypher-shell/", []string{"cypher-shell"},
			`cypher-shell`, `(?:-p|--password)`,
			[]string{"cypher-shell -a neo4j+s://graph.acme.io -u neo4j -p '" + pw("cypher-1") + "' -f load.cypher"},
			[]string{"cypher-shell -u neo4j -p <password>"}),
		{
			ID:          "docker-config-identity-token",
			Provider:    "docker",
			Description: "Registry identity token in a Docker config.json (identitytoken: the refresh token a registry such as ACR issues at docker login)",
			Source:      "https://docs.docker.com/reference/cli/docker/login/",
			Keywords:    []string{`"identitytoken"`},
			Regex:       re(`(?:"(?P<host>[A-Za-z0-9.-]+(?::\d+)?(?:/[^"]*)?)"\s*:\s*\{\s*)?"identitytoken"\s*:\s*"(?P<secret>[^"\s]{20,})"`),
			Validate:    plausiblePassword,
			MinEntropy:  3.5,
			Severity:    detect.Critical,
			Window:      200,
			Examples:    []string{"{\n  \"auths\": {\n    \"acme.azurecr.io\": {\n      \"auth\": \"MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAwOg==\",\n      \"identitytoken\": \"" + fake("idt-1", b64url, 120) + "\"\n    }\n  }\n}"},
			NoMatch:     []string{`"identitytoken": "<token>"`},
		},
		{
			ID:          "jenkins-encrypted-secret",
			Provider:    "jenkins",
			Description: "Jenkins encrypted secret ({AQAAABAAAA…}) in credentials.xml, a job config or a JCasC export: anyone with the controller's secrets/ directory, or script console access, decrypts it",
			Source:      "https://www.jenkins.io/doc/developer/security/secrets/",
			Keywords:    []string{"{aqaaab"},
			Regex:       re(`(?P<secret>\{AQAAABAAAA[A-Za-z0-9+/]{40,}={0,2}\})`),
			Validate:    func(v []byte) bool { return base64Decodes(strings.Trim(string(v), "{}")) },
			MinEntropy:  3.5,
			Severity:    detect.Medium,
			Examples:    []string{"<password>{AQAAABAAAAAQ" + b64std(string(fakeBytes("jenc-1", 48)))[:64] + "}</password>"},
			NoMatch:     []string{"<password>{AQAAABAAAA...}</password>"},
		},
		keyedRuleWith("drone-rpc-secret", "drone",
			"Drone RPC secret (DRONE_RPC_SECRET) shared by the server and its runners: a runner holding it receives every pipeline's secrets",
			"https://docs.drone.io/runner/docker/configuration/reference/drone-rpc-secret/", []string{"drone_rpc"},
			`drone_rpc_secret`, `[A-Za-z0-9]{16,}`, hasLetterAndDigit, detect.Critical,
			[]string{"DRONE_RPC_SECRET=" + fake("drpc-1", hexLower, 32)},
			[]string{"DRONE_RPC_SECRET=super-duper-secret", "DRONE_RPC_SECRET=${DRONE_RPC_SECRET}"}),
		keyedRuleWith("woodpecker-agent-secret", "woodpecker",
			"Woodpecker CI agent secret (WOODPECKER_AGENT_SECRET) shared by the server and its agents",
			"https://woodpecker-ci.org/docs/administration/configuration/server", []string{"woodpecker"},
			`woodpecker_agent_secret`, `[A-Za-z0-9]{16,}`, hasLetterAndDigit, detect.Critical,
			[]string{"WOODPECKER_AGENT_SECRET=" + fake("wp-1", hexLower, 64)},
			[]string{"WOODPECKER_AGENT_SECRET=${WOODPECKER_AGENT_SECRET}"}),
		{
			ID:          "vercel-blob-token",
			Provider:    "vercel",
			Description: "Vercel Blob read-write token (vercel_blob_rw_<store id>_<secret>) in BLOB_READ_WRITE_TOKEN: reads, writes and deletes the store's files",
			Source:      "https://vercel.com/docs/vercel-blob",
			Keywords:    []string{"vercel_blob_rw_"},
			Regex:       re(`\b(?P<secret>vercel_blob_rw_[A-Za-z0-9]{16}_[A-Za-z0-9]{30})\b`),
			Validate:    func(v []byte) bool { return mixedCase(v[len(v)-30:]) },
			MinEntropy:  3.5,
			Severity:    detect.Critical,
			Examples:    []string{"BLOB_READ_WRITE_TOKEN=vercel_blob_rw_" + fake("vblob-1", alnum, 16) + "_" + fake("vblob-2", alnum, 30)},
			NoMatch:     []string{"BLOB_READ_WRITE_TOKEN=vercel_blob_rw_xxxxxxxxxxxxxxxx_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
		},
		{
			ID:          "vercel-edge-config-token",
			Provider:    "vercel",
			Description: "Vercel Edge Config read access token in an EDGE_CONFIG connection string (https://edge-config.vercel.com/ecfg_…?token=…)",
			Source:      "https://vercel.com/docs/edge-config/using-edge-config",
			Keywords:    []string{"edge-config.vercel.com"},
			Regex:       re(`https://edge-config\.vercel\.com/(?P<user>ecfg_[a-z0-9]{20,40})\?token=(?P<secret>` + uuidPattern + `)`),
			MinEntropy:  3.0,
			Severity:    detect.Medium,
			Examples:    []string{"EDGE_CONFIG=https://edge-config.vercel.com/ecfg_" + fake("ecfg-1", lowerAlnum, 28) + "?token=" + uuidLike("ecfg-2")},
			NoMatch:     []string{"EDGE_CONFIG=https://edge-config.vercel.com/ecfg_xxx?token=yyy"},
		},
		{
			ID:          "openldap-rootpw",
			Provider:    "ldap",
			Description: "OpenLDAP rootDN password written in clear in slapd.conf (rootpw) or cn=config (olcRootPW); {SSHA} and other hashed forms are not reported",
			Source:      "https://www.openldap.org/doc/admin26/slapdconfig.html",
			Keywords:    []string{"rootpw"},
			Regex:       re(`(?m)^[ \t]*(?:rootpw|(?i:olcRootPW):)[ \t]+(?P<secret>[^\s{]\S{3,})`),
			Validate:    plausiblePassword,
			MinEntropy:  3.0,
			Severity:    detect.Critical,
			Examples:    []string{"database mdb\nsuffix \"dc=acme,dc=io\"\nrootdn \"cn=Manager,dc=acme,dc=io\"\nrootpw " + pw("ldaprp-1") + "\n", "dn: olcDatabase={1}mdb,cn=config\nolcRootPW: " + pw("ldaprp-2") + "\n"},
			NoMatch:     []string{"rootpw {SSHA}" + b64std(string(fakeBytes("ldaprp-3", 24))), "rootpw secret"},
		},
	}
}

// base64Decodes reports whether s is standard base64 of at least 32 bytes.
func base64Decodes(s string) bool {
	b, ok := decodeB64(s)
	return ok && len(b) >= 32
}
