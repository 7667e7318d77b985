package rules

import "github.com/rekeyhq/rekey/internal/detect"

// More connection URIs with a password, for servers whose own
// documentation gives the URI form. They name the role and host to rotate,
// which the catch-all url-basic-auth rule reports only as a URL.
func moreDSNRules() []*detect.Rule {
	pw := func(seed string) string { return fake(seed, alnum, 12) + "-" + fake(seed+"2", alnum, 6) }
	return []*detect.Rule{
		withSource("https://github.com/ClickHouse/ClickHouse/blob/master/docs/en/interfaces/cli.md",
			uriRule("clickhouse-uri", "clickhouse", "ClickHouse connection string with a password (clickhouse://user:password@host:port/database)",
				`clickhouse`, []string{"clickhouse://"}, false,
				[]string{"CLICKHOUSE_URL=clickhouse://analytics_rw:" + pw("ch-1") + "@ch-prod.internal:9440/events?secure=true"},
				[]string{"clickhouse://{userName}:{password}@{host}:{port}/{database}", "clickhouse://default:@localhost:9000/default"})),
		withSource("https://docs.nats.io/developing-with-nats/security/userpass",
			uriRule("nats-uri", "nats", "NATS server URL with a user and password (nats://user:password@server:port, tls://)",
				`(?:nats|tls)`, []string{"nats://", "tls://"}, false,
				[]string{"NATS_URL=nats://orders-svc:" + pw("nats-1") + "@nats.internal:4222", "servers: [\"tls://billing:" + pw("nats-2") + "@nats-0.nats:4222\"]"},
				[]string{"nats://myname:password@demo.nats.io:4222", "nats://derek:s3cr3t@localhost:4222"})),
	}
}
