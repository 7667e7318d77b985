package rules

import "github.com/rekeyhq/rekey/internal/detect"

// Fragments of connection URIs. The user, host, port and database become
// identity hints: they say which role on which server to rotate.
const (
	uriUser = `(?P<user>[^:@/\s"'<>;,]{1,})`
	// A password runs to the last "@" before the host; encoded or not, it
	// holds no whitespace or quotes.
	uriPass = `(?P<secret>[^@\s"'<>]{1,})`
	uriHost = `(?P<host>[A-Za-z0-9._-]{1,}|\[[0-9A-Fa-f:.]+\])`
	uriPort = `(?::(?P<port>[0-9]{1,5}))?`
	uriDB   = `(?:/(?P<database>[A-Za-z0-9_.$-]{1,}))?`
	// notAfter keeps a scheme from matching inside a longer one
	// ("jdbc:mysql://", "x-postgres://").
	notAfter = `(?:^|[^\w+.:-])`
)

func uriRule(id, provider, what, scheme string, keywords []string, userOptional bool, examples, noMatch []string) *detect.Rule {
	user := uriUser + `:`
	if userOptional {
		user = `(?:` + uriUser + `)?:`
	}
	return &detect.Rule{
		ID:          id,
		Provider:    provider,
		Description: what,
		Keywords:    keywords,
		Regex:       re(notAfter + scheme + `://` + user + uriPass + `@` + uriHost + uriPort + uriDB),
		Validate:    plausiblePassword,
		Severity:    detect.Critical,
		Examples:    examples,
		NoMatch:     noMatch,
	}
}

func dsnRules() []*detect.Rule {
	pw := func(seed string) string { return fake(seed, alnum, 12) + "-" + fake(seed+"2", alnum, 6) }
	return []*detect.Rule{
		withSource("https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING-URIS", uriRule("postgres-uri", "postgres", "PostgreSQL connection URI with a password (also as jdbc:postgresql:// and SQLAlchemy's postgresql+driver://)",
			`(?:jdbc:)?postgres(?:ql)?(?:\+\w+)?`, []string{"postgres://", "postgresql://", "postgresql+", "postgres+"}, false,
			[]string{
				"DATABASE_URL=postgres://orders_svc:" + pw("pg-1") + "@db.internal:5432/shop?sslmode=require",
				`  url: "postgresql+psycopg2://report:` + pw("pg-2") + `@10.0.4.12/analytics"`,
				"spring.datasource.url=jdbc:postgresql://app:" + pw("pg-3") + "@pg.acme.io:5432/app",
			},
			[]string{
				"DATABASE_URL=postgres://postgres:postgres@localhost:5432/postgres",
				`db, err := sql.Open("postgres", "postgres://pqgotest:password@localhost/pqgotest?sslmode=verify-full")`,
				"DATABASE_URL=postgres://${DB_USER}:${DB_PASSWORD}@${DB_HOST}/app",
				`dsn := fmt.Sprintf("postgres://%s:%s@%s/%s", user, pass, host, db)`,
				"DATABASE_URL=postgres://localhost:5432/app",
			})),
		withSource("https://dev.mysql.com/doc/refman/8.4/en/connecting-using-uri-or-key-value-pairs.html", uriRule("mysql-uri", "mysql", "MySQL / MariaDB connection URI with a password (also as jdbc:mysql:// and mysql+driver://)",
			`(?:jdbc:)?(?:mysql|mysqlx|mariadb)(?:\+\w+)?`, []string{"mysql://", "mysql+", "mysqlx://", "mariadb://", "mariadb+"}, false,
			[]string{
				"DATABASE_URL=mysql://shop:" + pw("my-1") + "@mysql-primary.internal:3306/shop",
				"jdbc.url=jdbc:mysql://billing:" + pw("my-2") + "@10.1.2.3:3306/billing?useSSL=true",
			},
			[]string{"DATABASE_URL=mysql://root:root@127.0.0.1:3306/test", "mysql://user:<password>@host/db"})),
		{
			ID:          "mysql-go-dsn",
			Source:      "https://github.com/go-sql-driver/mysql#dsn-data-source-name",
			Provider:    "mysql",
			Description: "MySQL DSN in go-sql-driver form (user:password@tcp(host:port)/db)",
			Keywords:    []string{"@tcp(", "@unix("},
			Regex:       re(`(?:^|[^\w.-])` + `(?P<user>[A-Za-z0-9_.-]+):` + uriPass + `@(?:tcp\(` + uriHost + uriPort + `\)|unix\([^)\s]+\))/(?P<database>[A-Za-z0-9_$-]*)`),
			Validate:    plausiblePassword,
			Severity:    detect.Critical,
			Examples:    []string{`db, err := sql.Open("mysql", "orders:` + pw("mygo-1") + `@tcp(mysql.internal:3306)/orders?parseTime=true")`},
			NoMatch:     []string{`sql.Open("mysql", "root:secret@tcp(127.0.0.1:3306)/test")`, `dsn := user + ":" + pass + "@tcp(" + host + ")/" + db`},
		},
		withSource("https://www.mongodb.com/docs/manual/reference/connection-string-formats/", uriRule("mongodb-uri", "mongodb", "MongoDB connection string with a password (mongodb://, mongodb+srv://)",
			`mongodb(?:\+srv)?`, []string{"mongodb://", "mongodb+srv://"}, false,
			[]string{
				"MONGO_URL=mongodb+srv://app-rw:" + pw("mongo-1") + "@cluster0.ab1cd.mongodb.net/orders?retryWrites=true&w=majority",
				"mongodb://admin:" + pw("mongo-2") + "@mongo-0.mongo:27017,mongo-1.mongo:27017/admin?replicaSet=rs0",
			},
			[]string{"mongodb://<username>:<password>@cluster0.example.mongodb.net/test", "mongodb://localhost:27017/test"})),
		withSource("https://redis.io/docs/latest/develop/clients/connection-urls/", uriRule("redis-uri", "redis", "Redis connection URI with a password (redis://[user]:password@host, rediss://)",
			`rediss?`, []string{"redis://", "rediss://"}, true,
			[]string{
				"REDIS_URL=redis://:" + pw("redis-1") + "@cache.internal:6379/0",
				"CACHE_URL=rediss://worker:" + pw("redis-2") + "@redis-12345.c1.eu-west-1-2.ec2.cloud.redislabs.com:12345",
			},
			[]string{"REDIS_URL=redis://localhost:6379/0", "REDIS_URL=redis://:${REDIS_PASSWORD}@redis:6379"})),
		withSource("https://www.rabbitmq.com/uri-spec.html", uriRule("amqp-uri", "rabbitmq", "AMQP (RabbitMQ) connection URI with a password",
			`amqps?`, []string{"amqp://", "amqps://"}, false,
			[]string{"RABBITMQ_URL=amqps://orders:" + pw("amqp-1") + "@rabbit.internal:5671/orders"},
			[]string{"amqp://guest:guest@localhost:5672/"})),
		uriRule("mssql-uri", "sqlserver", "SQL Server connection URI with a password (sqlserver://, mssql://, mssql+driver://)",
			`(?:sqlserver|mssql)(?:\+\w+)?`, []string{"sqlserver://", "mssql://", "mssql+"}, false,
			[]string{"MSSQL_URL=sqlserver://reporting:" + pw("mssql-1") + "@sql01.corp.internal:1433?database=Sales"},
			[]string{"sqlserver://sa:<YourStrong@Passw0rd>@localhost:1433"}),
		{
			ID:          "ado-net-connection-string",
			Source:      "https://learn.microsoft.com/en-us/dotnet/framework/data/adonet/connection-string-syntax",
			Provider:    "sqlserver",
			Description: "ADO.NET / ODBC connection string with a password (Server=…;User ID=…;Password=…)",
			Keywords:    []string{"server=", "data source="},
			Regex: re(`(?i:server|data source|address|addr)[ \t]*=[ \t]*(?:tcp:)?(?P<host>[A-Za-z0-9._\\-]{1,})(?:,(?P<port>[0-9]{1,5}))?;` +
				`(?:[^"'\n]*?(?i:user id|uid|user|username)[ \t]*=[ \t]*(?P<user>[^;"'\n]{1,});)?` +
				`[^"'\n]*?(?i:password|pwd)[ \t]*=[ \t]*(?P<secret>[^;"'\s]{1,})`),
			Validate: plausiblePassword,
			Severity: detect.Critical,
			Examples: []string{
				`"DefaultConnection": "Server=tcp:sql-orders.database.windows.net,1433;Initial Catalog=orders;User ID=orders_app;Password=` + pw("ado-1") + `;Encrypt=True;"`,
				`<add name="Billing" connectionString="Data Source=SQL01;Initial Catalog=Billing;User Id=billing;Password=` + pw("ado-2") + `;" />`,
			},
			NoMatch: []string{
				`"DefaultConnection": "Server=(localdb)\\mssqllocaldb;Database=app;Trusted_Connection=True;"`,
				`"Db": "Server=db;Database=app;User Id=sa;Password=<YourStrong!Passw0rd>;"`,
			},
		},
		{
			ID:          "jdbc-url",
			Provider:    "jdbc",
			Description: "JDBC URL with the password as a parameter (?password=…, ;password=…); names the host, database and user",
			Keywords:    []string{"jdbc:"},
			Regex: re(`jdbc:[a-z0-9]+(?::[a-z0-9]+)?://` + uriHost + uriPort + `(?:/(?P<database>[A-Za-z0-9_.$-]{1,}))?` +
				`[^\s"'<>]*?[?&;](?:(?i:user|username|uid)=(?P<user>[^&;\s"'<>]{1,})[^\s"'<>]*?[&;])?` +
				`(?i:password|pwd)=(?P<secret>[^&;\s"'<>]{1,})` +
				`(?:[&;][^\s"'<>]*?(?i:user|username|uid)=(?P<user>[^&;\s"'<>]{1,}))?`),
			Validate: plausiblePassword,
			Severity: detect.Critical,
			Examples: []string{
				"spring.datasource.url=jdbc:postgresql://pg.acme.io:5432/orders?user=orders_app&password=" + pw("jdbc-1") + "&ssl=true",
				"url = jdbc:sqlserver://sql01.corp.internal:1433;databaseName=Sales;user=reporting;password=" + pw("jdbc-2") + ";encrypt=true",
			},
			NoMatch: []string{
				"jdbc:postgresql://localhost:5432/test?user=test&password=test",
				"jdbc:sqlserver://localhost:1433;databaseName=app;integratedSecurity=true",
			},
		},
		{
			ID:          "jdbc-oracle-thin",
			Source:      "https://docs.oracle.com/en/database/oracle/oracle-database/23/jjdbc/data-sources-and-URLs.html",
			Provider:    "oracle",
			Description: "Oracle JDBC thin URL with credentials (jdbc:oracle:thin:user/password@host)",
			Keywords:    []string{"jdbc:oracle:thin:"},
			Regex:       re(`jdbc:oracle:thin:(?P<user>[A-Za-z0-9_$#]{1,})/(?P<secret>[^@\s"'<>]{1,})@(?://)?` + uriHost + uriPort),
			Validate:    plausiblePassword,
			Severity:    detect.Critical,
			Examples:    []string{"db.url=jdbc:oracle:thin:fin_app/" + pw("ora-1") + "@//ora-prod.corp.internal:1521/FINPDB"},
			NoMatch:     []string{"db.url=jdbc:oracle:thin:@//ora-prod.corp.internal:1521/FINPDB", "jdbc:oracle:thin:scott/tiger@localhost:1521:orcl"},
		},
		{
			ID:          "url-basic-auth",
			Source:      "https://www.rfc-editor.org/rfc/rfc3986#section-3.2.1",
			Provider:    "url",
			Description: "Credentials in a URL's userinfo (https://user:password@host, git remotes and ~/.git-credentials, ftp, smtp, ldap…); names the user and host",
			Keywords:    []string{"://"},
			Regex:       re(`://` + uriUser + `:` + `(?P<secret>[^@/\s"'<>]{3,})@` + uriHost + uriPort),
			Validate:    plausibleURLPassword,
			MinEntropy:  2.5,
			Generic:     true,
			Severity:    detect.High,
			Examples: []string{
				"https://ci-bot:" + fake("url-1", alnum, 24) + "@git.acme.io/platform/infra.git",
				"git remote add origin https://oauth2:" + fake("url-2", alnum, 20) + "@gitlab.acme.io/shop/api.git",
				"SMTP_URL=smtps://alerts%40acme.io:" + pw("url-3") + "@smtp.mailgun.org:465",
			},
			NoMatch: []string{
				"https://user:password@example.com/path",
				"http://admin:admin@localhost:8080",
				"https://${GIT_USER}:${GIT_TOKEN}@github.com/acme/infra.git",
				"see https://golang.org/doc/install for details",
				"ssh://git@github.com:22/acme/infra.git",
			},
		},
		{
			ID:          "netrc-password",
			Source:      "https://unix.com/man-page/linux/5/netrc/",
			Provider:    "netrc",
			Description: "Password in a .netrc or _netrc entry (machine … login … password …); names the host and login",
			Keywords:    []string{"machine"},
			Window:      256,
			Regex:       re(`(?s)\bmachine\s+(?P<host>[A-Za-z0-9._:-]{1,})\s+(?:login\s+(?P<user>\S{1,})\s+)?password\s+(?P<secret>[^\s"']{3,})`),
			Validate:    plausibleURLPassword,
			Generic:     true,
			MinEntropy:  2.5,
			Severity:    detect.High,
			Examples: []string{
				"machine api.heroku.com\n  login ops@acme.io\n  password " + fake("netrc-1", alnum, 28) + "\n",
				"machine artifactory.acme.io login deploy password " + pw("netrc-2"),
			},
			NoMatch: []string{"machine ftp.gnu.org login anonymous password anonymous", "// the machine password is read from the TPM"},
		},
		{
			ID:          "http-basic-auth-header",
			Source:      "https://www.rfc-editor.org/rfc/rfc7617#section-2",
			Provider:    "http",
			Description: "HTTP Basic credentials (Authorization: Basic base64(user:password)); names the user",
			Keywords:    []string{"basic "},
			Regex:       re(`(?i:\bbasic)[ \t]+(?P<secret>[A-Za-z0-9+/]{8,}={0,2})(?:[^A-Za-z0-9+/=]|$)`),
			Validate:    basicAuth,
			Identity:    basicAuthIdentity,
			Severity:    detect.High,
			Examples:    []string{`curl -H "Authorization: Basic ` + b64std("deploy-bot:"+fake("basic-1", alnum, 20)) + `" https://nexus.acme.io/service/rest/v1/status`},
			NoMatch:     []string{"Authorization: Basic " + b64std("user:password"), "Use Basic authentication for the registry."},
		},
		{
			ID:          "http-bearer-token",
			Source:      "https://www.rfc-editor.org/rfc/rfc6750#section-2.1",
			Provider:    "http",
			Description: "Bearer token in an Authorization header or a curl command, for tokens with no format of their own",
			Keywords:    []string{"bearer"},
			Regex:       re(`(?i:bearer)[ \t]+(?P<secret>[A-Za-z0-9._~+/-]{20,}={0,2})(?:[^A-Za-z0-9._~+/=-]|$)`),
			Validate:    genericValue,
			MinEntropy:  3.5,
			Generic:     true,
			Severity:    detect.Medium,
			Examples:    []string{`curl -H "Authorization: Bearer ` + fake("bearer-1", alnum, 40) + `" https://api.acme.io/v1/orders`},
			NoMatch:     []string{`req.Header.Set("Authorization", "Bearer "+token)`, "Authorization: Bearer $ACCESS_TOKEN", "the bearer token is passed in the header"},
		},
	}
}
