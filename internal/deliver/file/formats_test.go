package file

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/deliver"
	"github.com/rekeyhq/rekey/internal/secret"
)

// fixture copies testdata/name into a fresh directory and returns its path.
func fixture(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o640); err != nil {
		t.Fatal(err)
	}
	return p
}

func value(user, pw string) deliver.Value {
	return deliver.Value{User: user, Secret: secret.FromString(pw)}
}

type formatCase struct {
	name         string
	file, format string
	key, userKey string
	user, pw     string
	repl         [][2]string // old → new raw text; nothing else in the file may change
	readUser     string      // what Current reads as the user ("" when none)
	note         string      // a substring of an edit's note
}

var formatCases = []formatCase{
	// YAML: a Rails database.yml with anchors, merge keys, ERB and comments.
	{name: "yaml single-quoted", file: "database.yml", format: "yaml", key: "production.password", pw: "N3w-Pa55",
		repl: [][2]string{{"password: 'prod-Old-Pa55'", "password: 'N3w-Pa55'"}}},
	{name: "yaml through merge key, double-quoted escapes", file: "database.yml", format: "yaml", key: "development.password", pw: `N3w "quoted" \ pw`,
		repl: [][2]string{{`password: "Old-Pa55word"   # rotated`, `password: "N3w \"quoted\" \\ pw"   # rotated`}}, note: "merged from &default"},
	{name: "yaml url with user_key", file: "database.yml", format: "yaml", key: "production.url", userKey: "production.username", user: "orders_prod_b", pw: "p@ss:w/rd?#% x",
		repl: [][2]string{
			{"url: postgres://orders_prod:prod-Old-Pa55@db", "url: postgres://orders_prod_b:p%40ss%3Aw%2Frd%3F%23%25%20x@db"},
			{"username: orders_prod\n", "username: orders_prod_b\n"},
		}, readUser: "orders_prod_b"},
	{name: "yaml flow mapping after unicode", file: "database.yml", format: "yaml", key: "reporting.password", pw: "n3w,pa55",
		repl: [][2]string{{"password: Old-Report-Pa55 }", "password: 'n3w,pa55' }"}}},
	{name: "yaml sequence index, value that would be a number", file: "database.yml", format: "yaml", key: "production.replicas.0.password", pw: "2024",
		repl: [][2]string{{"password: Old-Replica-Pa55", "password: '2024'"}}},
	{name: "yaml int becomes string", file: "database.yml", format: "yaml", key: "production.pin", pw: "S3cret",
		repl: [][2]string{{"pin: 12345", "pin: S3cret"}}},
	{name: "yaml plain that needs quotes", file: "database.yml", format: "yaml", key: "production.pin", pw: "#not a comment: x",
		repl: [][2]string{{"pin: 12345", "pin: '#not a comment: x'"}}},

	// dotenv: a docker compose .env.
	{name: "dotenv single-quoted", file: "compose.env", format: "dotenv", key: "POSTGRES_PASSWORD", pw: "N3w-Pa55",
		repl: [][2]string{{"POSTGRES_PASSWORD='Old-Pa55word'", "POSTGRES_PASSWORD='N3w-Pa55'"}}},
	{name: "dotenv single to double for a quote and a dollar", file: "compose.env", format: "dotenv", key: "POSTGRES_PASSWORD", pw: "it's $pecial",
		repl: [][2]string{{"POSTGRES_PASSWORD='Old-Pa55word'", `POSTGRES_PASSWORD="it's \$pecial"`}}},
	{name: "dotenv url in double quotes with a new user", file: "compose.env", format: "dotenv", key: "DATABASE_URL", user: "orders_b", pw: "p@ss:w/rd?#% x",
		repl: [][2]string{{`"postgres://orders_svc:Old-Pa55word@db`, `"postgres://orders_b:p%40ss%3Aw%2Frd%3F%23%25%20x@db`}}, readUser: "orders_b"},
	{name: "dotenv libpq inside double quotes, export kept", file: "compose.env", format: "dotenv", key: "PG_CONN", pw: `it's a "pw"`,
		repl: [][2]string{{`password=Old-Pa55word dbname`, `password='it\\'s a \"pw\"' dbname`}}, readUser: "orders_svc"},
	{name: "dotenv mysql dsn gains quotes for a space", file: "compose.env", format: "dotenv", key: "MYSQL_DSN", pw: "p@ss w/rd",
		repl: [][2]string{{"MYSQL_DSN=orders:Old-Pa55word@tcp(mariadb:3306)/shop?parseTime=true", "MYSQL_DSN='orders:p@ss w/rd@tcp(mariadb:3306)/shop?parseTime=true'"}}, readUser: "orders"},
	{name: "dotenv unquoted with a comment", file: "compose.env", format: "dotenv", key: "REDIS_URL", pw: "N3w-Redis",
		repl: [][2]string{{"redis://:Old-Redis-Pa55@cache", "redis://:N3w-Redis@cache"}}},
	{name: "dotenv unquoted gains quotes for a shell character", file: "compose.env", format: "dotenv", key: "SMTP_PASSWORD", pw: "N3w&pa55",
		repl: [][2]string{{"SMTP_PASSWORD=Old-Smtp-Pa55", "SMTP_PASSWORD='N3w&pa55'"}}},

	// Java properties: a Spring Boot application.properties.
	{name: "properties with user key, escapes", file: "application.properties", format: "ini", key: "spring.datasource.password", userKey: "spring.datasource.username", user: "orders_b", pw: `N3w\pa55ü`,
		repl: [][2]string{
			{"password=Old-Pa55word", `password=N3w\\pa55\u00fc`},
			{"username=orders_svc", "username=orders_b"},
		}, readUser: "orders_b"},
	{name: "properties colon separator, url", file: "application.properties", format: "properties", key: "spring.data.redis.url", pw: "p@ss w",
		repl: [][2]string{{"redis://:Old-Redis-Pa55@cache", "redis://:p%40ss%20w@cache"}}},
	{name: "properties continuation line", file: "application.properties", format: "properties", key: "app.description", pw: " lead",
		repl: [][2]string{{"Orders service \\\n    for the shop", `\ lead`}}},

	// JSON: a node-config style config.
	{name: "json escapes", file: "config.json", format: "json", key: "db.password", pw: `N3w "q" \ <&> é`,
		repl: [][2]string{{`"password": "Old-Pa55word"`, `"password": "N3w \"q\" \\ <&> é"`}}},
	{name: "json url with user key", file: "config.json", format: "json", key: "db.url", userKey: "db.user", user: "orders_b", pw: "p@ss:w/rd",
		repl: [][2]string{
			{`"user": "orders_svc"`, `"user": "orders_b"`},
			{"postgres://orders_svc:Old-Pa55word@db", "postgres://orders_b:p%40ss%3Aw%2Frd@db"},
		}, readUser: "orders_b"},
	{name: "json key with dots", file: "config.json", format: "json", key: "spring.datasource.password", pw: "N3w",
		repl: [][2]string{{`"Old-Dotted-Pa55"`, `"N3w"`}}},
	{name: "json number becomes string", file: "config.json", format: "json", key: "smtp.pin", pw: "N3w",
		repl: [][2]string{{`"pin": 1234`, `"pin": "N3w"`}}},
	{name: "json array index", file: "config.json", format: "json", key: "servers.1.password", pw: "N3w-B",
		repl: [][2]string{{`"Old-B-Pa55"`, `"N3w-B"`}}},

	// INI: a Gitea-style app.ini.
	{name: "ini backticks", file: "app.ini", format: "ini", key: "database.PASSWD", pw: "N3w;Pa55 #x",
		repl: [][2]string{{"`Old-Pa55word`", "`N3w;Pa55 #x`"}}},
	{name: "ini double quotes and an inline comment", file: "app.ini", format: "ini", key: "mailer.PASSWD", pw: "N3w Mail",
		repl: [][2]string{{`"Old Mail Pa55" ; quoted`, `"N3w Mail" ; quoted`}}},
	{name: "ini url", file: "app.ini", format: "ini", key: "cache.HOST", pw: "N3w",
		repl: [][2]string{{"redis://:Old-Redis-Pa55@cache", "redis://:N3w@cache"}}},
	{name: "ini top level gains quotes", file: "app.ini", format: "ini", key: "SECRET_TOP", pw: " lead;",
		repl: [][2]string{{"SECRET_TOP = Old-Top-Pa55", `SECRET_TOP = " lead;"`}}},
	{name: "ini dotted section, colon", file: "app.ini", format: "ini", key: "session.redis.password", pw: "N3w",
		repl: [][2]string{{"password: Old-Session-Pa55", "password: N3w"}}},
	{name: "ini user key", file: "app.ini", format: "ini", key: "database.PASSWD", userKey: "database.USER", user: "orders_b", pw: "N3w",
		repl: [][2]string{{"`Old-Pa55word`", "`N3w`"}, {"USER     = orders_svc", "USER     = orders_b"}}, readUser: "orders_b"},
}

// TestFormats: each edit changes exactly the value bytes listed, reads
// back through Current, and a second identical write changes nothing.
func TestFormats(t *testing.T) {
	ctx := context.Background()
	for _, tc := range formatCases {
		t.Run(tc.name, func(t *testing.T) {
			path := fixture(t, tc.file)
			before, _ := os.ReadFile(path)
			want := string(before)
			for _, r := range tc.repl {
				if n := strings.Count(want, r[0]); n != 1 {
					t.Fatalf("fixture holds %q %d times, want once", r[0], n)
				}
				want = strings.Replace(want, r[0], r[1], 1)
			}
			tg, err := New(Config{Path: path, Format: tc.format, Key: tc.key, UserKey: tc.userKey})
			if err != nil {
				t.Fatal(err)
			}
			v := value(tc.user, tc.pw)
			ch, err := tg.Plan(ctx, v)
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			if ch.Empty() {
				t.Fatalf("Plan says nothing to change: %s", ch)
			}
			if tc.note != "" && !strings.Contains(ch.String(), tc.note) {
				t.Errorf("Plan %q lacks note %q", ch, tc.note)
			}
			if after, _ := os.ReadFile(path); string(after) != string(before) {
				t.Fatal("Plan changed the file")
			}
			if err := tg.Write(ctx, v); err != nil {
				t.Fatalf("Write: %v", err)
			}
			got, _ := os.ReadFile(path)
			if string(got) != want {
				t.Fatalf("file after Write:\n%s\nwant:\n%s", got, want)
			}
			st, err := tg.Current(ctx)
			if err != nil {
				t.Fatalf("Current: %v", err)
			}
			if string(st.Secret.Reveal()) != tc.pw {
				t.Errorf("Current secret = %q, want %q", st.Secret.Reveal(), tc.pw)
			}
			if st.User != tc.readUser {
				t.Errorf("Current user = %q, want %q", st.User, tc.readUser)
			}
			if ok, err := deliver.Delivered(ctx, tg, v); !ok || err != nil {
				t.Errorf("Delivered = %v, %v after Write", ok, err)
			}
			// Idempotent: the same value again leaves the very same file.
			fi1, _ := os.Stat(path)
			if err := tg.Write(ctx, v); err != nil {
				t.Fatalf("second Write: %v", err)
			}
			again, _ := os.ReadFile(path)
			fi2, _ := os.Stat(path)
			if string(again) != string(got) || !os.SameFile(fi1, fi2) {
				t.Error("writing the same value twice rewrote the file")
			}
			if ch, err := tg.Plan(ctx, v); err != nil || !ch.Empty() {
				t.Errorf("Plan after Write = %q, %v; want nothing to change", ch, err)
			}
		})
	}
}
