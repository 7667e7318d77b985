package rules

import "github.com/rekeyhq/rekey/internal/detect"

// evenMoreDSNRules are connection strings and client configs of databases
// and brokers whose documentation gives their form: Snowflake and Oracle
// SQLAlchemy URLs, Kafka SASL JAAS configs, the Neo4j image's NEO4J_AUTH.
func evenMoreDSNRules() []*detect.Rule {
	pw := func(seed string) string { return fake(seed, alnum, 12) + "-" + fake(seed+"2", alnum, 6) }
	return []*detect.Rule{
		withSource("https://docs.snowflake.com/en/developer-guide/python-connector/sqlalchemy",
			uriRule("snowflake-uri", "snowflake", "Snowflake SQLAlchemy connection URL with a password (snowflake://user:password@account/database)",
				`snowflake`, []string{"snowflake://"}, false,
				[]string{"SNOWFLAKE_URL=snowflake://etl_svc:" + pw("sf-1") + "@acme-xy12345/analytics/public?warehouse=etl_wh"},
				[]string{"snowflake://<user_login_name>:<password>@<account_identifier>/<database_name>/<schema_name>", "snowflake://{user}:{password}@{account}/"})),
		withSource("https://docs.sqlalchemy.org/en/20/dialects/oracle.html",
			uriRule("oracle-sqlalchemy-uri", "oracle", "Oracle Database SQLAlchemy URL with a password (oracle+oracledb://user:password@host:port/…, oracle+cx_oracle://)",
				`oracle(?:\+(?:oracledb|cx_oracle))?`, []string{"oracle://", "oracle+oracledb://", "oracle+cx_oracle://"}, false,
				[]string{`engine = create_engine("oracle+oracledb://billing:` + pw("ora-1") + `@ora-prod.internal:1521/?service_name=BILLPDB")`},
				[]string{"oracle+oracledb://scott:tiger@hostname:port/?service_name=myservice", "oracle+oracledb://user:pass@hostname:port[/dbname][?service_name=<service>]"})),
		withSource("https://github.com/trinodb/trino-python-client#sqlalchemy",
			uriRule("trino-uri", "trino", "Trino (or Presto) SQLAlchemy connection URL with a password (trino://user:password@host:port/catalog)",
				`(?:trino|presto)`, []string{"trino://", "presto://"}, false,
				[]string{"TRINO_URL=trino://analyst:" + pw("trino-1") + "@trino.internal:443/hive/default"},
				[]string{"trino://<username>:<password>@<host>:<port>/<catalog>"})),
		withSource("https://github.com/ibmdb/python-ibmdbsa",
			uriRule("db2-uri", "db2", "IBM Db2 SQLAlchemy connection URL with a password (db2+ibm_db://user:password@host:port/database, ibm_db_sa://)",
				`(?:db2\+ibm_db|ibm_db_sa)`, []string{"db2+ibm_db://", "ibm_db_sa://"}, false,
				[]string{`engine = create_engine("db2+ibm_db://db2inst1:` + pw("db2-1") + `@db2.internal:50000/SAMPLE")`},
				[]string{"db2+ibm_db://user:pass@host[:port]/database"})),
		withSource("https://github.com/sqlalchemy-redshift/sqlalchemy-redshift",
			uriRule("redshift-uri", "redshift", "Amazon Redshift SQLAlchemy connection URL with a password (redshift+psycopg2://user:password@cluster:5439/db, redshift+redshift_connector://)",
				`redshift(?:\+\w+)?`, []string{"redshift://", "redshift+"}, false,
				[]string{"REDSHIFT_URL=redshift+psycopg2://etl:" + pw("rs-1") + "@dw.abc123xyz.eu-west-1.redshift.amazonaws.com:5439/analytics"},
				[]string{"redshift+psycopg2://username@host.amazonaws.com:5439/database"})),
		withSource("https://www.cockroachlabs.com/docs/stable/connection-parameters",
			uriRule("cockroachdb-uri", "cockroachdb", "CockroachDB connection URL with a password in the cockroachdb:// form of sqlalchemy-cockroachdb and the Cockroach tools (postgresql:// ones are the PostgreSQL rule's)",
				`cockroachdb(?:\+\w+)?`, []string{"cockroachdb://", "cockroachdb+"}, false,
				[]string{"DATABASE_URL=cockroachdb://maxroach:" + pw("crdb-1") + "@free-tier.gcp-us-central1.cockroachlabs.cloud:26257/bank?sslmode=verify-full"},
				[]string{"cockroachdb://{username}:{password}@{host}:{port}/{database}"})),
		{
			ID:          "kafka-jaas-password",
			Provider:    "kafka",
			Description: "Password in a Kafka client's sasl.jaas.config (PlainLoginModule or ScramLoginModule required username=… password=…)",
			Source:      "https://kafka.apache.org/documentation/#security_sasl_plain_clientconfig",
			Keywords:    []string{"loginmodule"},
			Regex:       re(`(?:Plain|Scram)LoginModule\s+required\s+(?:[\w.]+\s*=\s*\\?"[^"\\]*\\?"\s+)*?username\s*=\s*\\?"(?P<user>[^"\\]+)\\?"\s+password\s*=\s*\\?"(?P<secret>[^"\\]+)\\?"`),
			Validate:    plausiblePassword,
			MinEntropy:  3.0,
			Severity:    detect.Critical,
			Examples: []string{
				`sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="orders-producer" password="` + pw("kafka-1") + `";`,
				`"sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"etl\" password=\"` + pw("kafka-2") + `\";"`,
			},
			NoMatch: []string{
				`org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="${KAFKA_PASSWORD}";`,
				`PlainLoginModule required username="{{ CLUSTER_API_KEY }}" password="{{ CLUSTER_API_SECRET }}";`,
			},
		},
		{
			ID:          "neo4j-auth",
			Provider:    "neo4j",
			Description: "Neo4j initial password set through the Docker image's NEO4J_AUTH=neo4j/password",
			Source:      "https://neo4j.com/docs/operations-manual/current/docker/introduction/",
			Keywords:    []string{"neo4j_auth"},
			Regex:       re(`(?i:NEO4J_AUTH)["']?[ \t]*(?:=|:)[ \t]*["']?(?P<user>[A-Za-z0-9_.-]+)/(?P<secret>[^\s"']{8,})`),
			Validate:    plausiblePassword,
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples:    []string{"    environment:\n      - NEO4J_AUTH=neo4j/" + pw("neo-1")},
			NoMatch:     []string{"NEO4J_AUTH=neo4j/password", "NEO4J_AUTH=none", "--env NEO4J_AUTH=neo4j/your_password"},
		},
	}
}
