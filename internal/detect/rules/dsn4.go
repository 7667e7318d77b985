package rules

import (
	"strings"

	"github.com/rekeyhq/rekey/internal/detect"
)

// notPasswordHash rejects the stored forms SQL dumps and migrations carry
// instead of a password: PostgreSQL's md5… and SCRAM-SHA-256$… verifiers
// and MySQL's *… hashes.
func notPasswordHash(v []byte) bool {
	s := string(v)
	switch {
	case strings.HasPrefix(s, "SCRAM-SHA-256$"), strings.HasPrefix(s, "md5") && len(s) == 35,
		strings.HasPrefix(s, "*") && len(s) == 41:
		return false
	}
	return plausiblePassword(v)
}

// serverAccountRules are passwords set on database and broker accounts by
// their own commands and config files: SQL CREATE/ALTER USER, MongoDB's
// createUser, rabbitmqctl, Redis requirepass and ACLs, SSSD's LDAP bind.
func serverAccountRules() []*detect.Rule {
	pw := func(seed string) string { return fake(seed, alnum, 10) + "-" + fake(seed+"2", alnum, 6) }
	return []*detect.Rule{
		{
			ID:          "postgres-role-password",
			Provider:    "postgres",
			Description: "Password given to a PostgreSQL role in CREATE/ALTER ROLE or USER … PASSWORD '…' (a migration, an init script or a psql history); stored md5 and SCRAM verifiers are not reported",
			Source:      "https://www.postgresql.org/docs/current/sql-createrole.html",
			Keywords:    []string{"create role", "create user", "alter role", "alter user"},
			Regex:       re(`(?i:(?:create|alter)\s+(?:role|user))\s+(?P<user>"[^"]+"|[A-Za-z_][\w$]*)\s+(?i:(?:with\s+)?(?:[a-z]+\s+){0,6}?(?:encrypted\s+)?password)\s+'(?P<secret>[^'\s]{4,})'`),
			Validate:    notPasswordHash,
			MinEntropy:  3.0,
			Severity:    detect.Critical,
			Examples: []string{
				"CREATE ROLE orders_app WITH LOGIN PASSWORD '" + pw("pgrole-1") + "';",
				"ALTER USER reporting WITH ENCRYPTED PASSWORD '" + pw("pgrole-2") + "' VALID UNTIL 'infinity';",
			},
			NoMatch: []string{
				"CREATE ROLE app WITH LOGIN PASSWORD 'SCRAM-SHA-256$4096:" + fake("pgrole-3", b64, 24) + "';",
				"CREATE USER app WITH PASSWORD 'password';",
				"ALTER ROLE app PASSWORD :'app_password';",
			},
		},
		{
			ID:          "mysql-identified-by-password",
			Provider:    "mysql",
			Description: "Password given to a MySQL or MariaDB account in CREATE/ALTER USER or GRANT … IDENTIFIED BY '…'",
			Source:      "https://dev.mysql.com/doc/refman/8.4/en/create-user.html",
			Keywords:    []string{"identified by", "identified with"},
			Regex:       re(`(?P<user>'[^'\s]+'|"[^"\s]+"|\x60[^\x60\s]+\x60)@\S+?\s+(?i:identified\s+(?:with\s+\w+\s+)?by)\s+['"](?P<secret>[^'"\s]{4,})['"]`),
			Validate:    notPasswordHash,
			MinEntropy:  3.0,
			Severity:    detect.Critical,
			Examples: []string{
				"CREATE USER 'orders'@'%' IDENTIFIED BY '" + pw("myid-1") + "';",
				"ALTER USER 'repl'@'10.0.%' IDENTIFIED WITH caching_sha2_password BY '" + pw("myid-2") + "';",
			},
			NoMatch: []string{"CREATE USER 'jeffrey'@'localhost' IDENTIFIED BY 'password';", "CREATE USER 'app'@'%' IDENTIFIED BY '${MYSQL_PASSWORD}';"},
		},
		{
			ID:          "mongodb-create-user-password",
			Provider:    "mongodb",
			Description: "Password given to a MongoDB user in db.createUser or db.changeUserPassword (mongosh scripts and docker-entrypoint-initdb.d files)",
			Source:      "https://www.mongodb.com/docs/manual/reference/method/db.createUser/",
			Keywords:    []string{"createuser", "changeuserpassword"},
			Regex: re(`(?:createUser\(\s*\{[^}]*?\bpwd\s*:\s*|changeUserPassword\(\s*["'](?P<user>[^"']+)["']\s*,\s*)` +
				`["'](?P<secret>[^"'\s]{4,})["']`),
			Validate:   plausiblePassword,
			MinEntropy: 3.0,
			Severity:   detect.Critical,
			Window:     300,
			Examples: []string{
				"db.createUser({\n  user: \"orders\",\n  pwd: \"" + pw("mongo-cu-1") + "\",\n  roles: [{ role: \"readWrite\", db: \"orders\" }]\n})",
				"db.changeUserPassword(\"reporting\", \"" + pw("mongo-cu-2") + "\")",
			},
			NoMatch: []string{`db.createUser({user: "myUserAdmin", pwd: passwordPrompt(), roles: []})`, `db.createUser({user: "admin", pwd: "password", roles: ["root"]})`},
		},
		{
			ID:          "rabbitmqctl-user-password",
			Provider:    "rabbitmq",
			Description: "Password given to a RabbitMQ user on the rabbitmqctl command line (add_user, change_password)",
			Source:      "https://www.rabbitmq.com/docs/man/rabbitmqctl.8",
			Keywords:    []string{"rabbitmqctl"},
			Regex:       re(`rabbitmqctl(?:\s+-\S+(?:\s+[^-\s]\S*)?)*\s+(?:add_user|change_password)\s+["']?(?P<user>[\w.@-]+)["']?\s+["']?(?P<secret>[^\s"'|;&-][^\s"'|;&]{3,})`),
			Validate:    plausiblePassword,
			MinEntropy:  3.0,
			Severity:    detect.Critical,
			Examples:    []string{"rabbitmqctl add_user orders " + pw("rmq-1"), "docker exec rabbit rabbitmqctl change_password billing '" + pw("rmq-2") + "'"},
			NoMatch:     []string{"rabbitmqctl add_user 'username' 'password'", "rabbitmqctl add_user janeway --pre-hashed-password"},
		},
		{
			ID:          "redis-requirepass",
			Provider:    "redis",
			Description: "Redis server password in redis.conf or on redis-server's command line (requirepass, masterauth)",
			Source:      "https://redis.io/docs/latest/operate/oss_and_stack/management/security/",
			Keywords:    []string{"requirepass", "masterauth"},
			Regex:       re(`(?m)(?:^[ \t]*|--)(?:requirepass|masterauth)[ \t]+["']?(?P<secret>[^\s"']{4,})`),
			Validate:    func(v []byte) bool { return plausiblePassword(v) && except("foobared")(v) },
			MinEntropy:  3.0,
			Severity:    detect.Critical,
			Examples:    []string{"bind 0.0.0.0\nrequirepass " + pw("redis-rp-1") + "\n", "    command: redis-server --appendonly yes --requirepass \"" + pw("redis-rp-2") + "\""},
			NoMatch:     []string{"# requirepass foobared", "command: redis-server --requirepass $REDIS_PASSWORD"},
		},
		{
			ID:          "redis-acl-password",
			Provider:    "redis",
			Description: "Password of a Redis ACL user (>password) in ACL SETUSER or a users.acl file",
			Source:      "https://redis.io/docs/latest/commands/acl-setuser/",
			Keywords:    []string{"setuser", " on >"},
			Regex:       re(`(?:(?i:acl\s+setuser)|(?m:^user))\s+(?P<user>\S+)(?:\s+[^>\s]\S*)*?\s+>(?P<secret>[^\s"']{4,})`),
			Validate:    plausiblePassword,
			MinEntropy:  3.0,
			Severity:    detect.Critical,
			Examples:    []string{"ACL SETUSER orders on >" + pw("redis-acl-1") + " ~orders:* +@all", "user billing on >" + pw("redis-acl-2") + " ~billing:* &* +@all"},
			NoMatch:     []string{"ACL SETUSER alice on >p1pp0 ~cached:* +get", "user default on nopass ~* &* +@all"},
		},
		{
			ID:          "sssd-ldap-bind-password",
			Provider:    "ldap",
			Description: "LDAP bind password in sssd.conf (ldap_default_authtok): binds to the directory as the service account",
			Source:      "https://man7.org/linux/man-pages/man5/sssd-ldap.5.html",
			Keywords:    []string{"ldap_default_authtok"},
			Regex:       re(`ldap_default_authtok[ \t]*=[ \t]*(?P<secret>[^\s]{4,})`),
			Validate:    plausiblePassword,
			MinEntropy:  3.0,
			Severity:    detect.Critical,
			Examples:    []string{"[domain/acme.io]\nldap_default_bind_dn = cn=sssd,ou=svc,dc=acme,dc=io\nldap_default_authtok = " + pw("sssd-1") + "\n"},
			NoMatch:     []string{"ldap_default_authtok_type = password", "ldap_default_authtok = <bind password>"},
		},
	}
}
