package file

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"go.yaml.in/yaml/v3"

	"github.com/rekeyhq/rekey/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.PostgresMain(m)) }

// awkwardPassword holds every character that DSN and file syntaxes treat
// specially.
const awkwardPassword = `n3w p@ss:w/rd?#%&='"\;`

// TestConsumersConnectToPostgres: a YAML config holding a URL and a .env
// holding a libpq string, after Write, connect to a real server with the
// new password and, for a new login, as the new role; each file read the
// way its consumer reads it (a YAML decoder, a shell).
func TestConsumersConnectToPostgres(t *testing.T) {
	c := testutil.SharedPostgres(t)
	ctx := context.Background()
	role, role2 := testutil.RandomName("deliver_a_"), testutil.RandomName("deliver_b_")
	c.CreateRole(t, role, "Old-Pa55word", "")
	c.CreateRole(t, role2, awkwardPassword+"2", "")
	c.Exec(t, fmt.Sprintf("ALTER ROLE %s PASSWORD %s", testutil.QuoteIdent(role), testutil.QuoteLiteral(awkwardPassword)))

	connectAs := func(t *testing.T, connString, want string) {
		t.Helper()
		conn, err := pgx.Connect(ctx, connString)
		if err != nil {
			t.Fatalf("consumer cannot connect with the delivered config: %v", err)
		}
		defer conn.Close(ctx)
		var who string
		if err := conn.QueryRow(ctx, "SELECT current_user").Scan(&who); err != nil || who != want {
			t.Fatalf("connected as %q (%v), want %q", who, err, want)
		}
	}

	dir := t.TempDir()
	yml := filepath.Join(dir, "settings.yml")
	os.WriteFile(yml, []byte(fmt.Sprintf(`# orders-api settings
database:
  # primary
  url: "postgres://%s:Old-Pa55word@127.0.0.1:%d/postgres?sslmode=disable&application_name=orders-api"
  pool: 5
`, role, c.Port)), 0o600)
	readYAML := func() string {
		var cfg struct{ Database struct{ URL string } }
		b, _ := os.ReadFile(yml)
		if err := yaml.Unmarshal(b, &cfg); err != nil {
			t.Fatal(err)
		}
		return cfg.Database.URL
	}
	tg := mustNew(t, Config{Path: yml, Format: "yaml", Key: "database.url"})
	if err := tg.Write(ctx, value("", awkwardPassword)); err != nil {
		t.Fatal(err)
	}
	connectAs(t, readYAML(), role)
	// A new login (split, alternating users): user and password change.
	if err := tg.Write(ctx, value(role2, awkwardPassword+"2")); err != nil {
		t.Fatal(err)
	}
	connectAs(t, readYAML(), role2)

	env := filepath.Join(dir, ".env")
	os.WriteFile(env, []byte(fmt.Sprintf("PG_CONN=\"host=127.0.0.1 port=%d user=%s password=Old-Pa55word dbname=postgres sslmode=disable\"\n", c.Port, role)), 0o600)
	if err := mustNew(t, Config{Path: env, Format: "dotenv", Key: "PG_CONN"}).Write(ctx, value("", awkwardPassword)); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("sh", "-c", `. "$1"; printf %s "$PG_CONN"`, "sh", env).Output()
	if err != nil {
		t.Fatal(err)
	}
	connectAs(t, string(out), role)
}

// TestConsumerConnectsToMariaDB: a JSON config holding a go-sql-driver DSN,
// after Write, connects to a real MariaDB with the new password.
func TestConsumerConnectsToMariaDB(t *testing.T) {
	testutil.NeedService(t, "mariadb", "127.0.0.1:3306")
	admin, err := sql.Open("mysql", "root@tcp(127.0.0.1:3306)/")
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	user := testutil.RandomName("rkdeliver_")
	testutil.DropMariaDBUsers(t, user)
	lit := "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(awkwardPassword) + "'"
	if _, err := admin.Exec(fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY %s", user, lit)); err != nil {
		t.Fatal("create user failed")
	}
	path := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(path, []byte(fmt.Sprintf(`{
  "name": "billing",
  "mysql": {
    "dsn": "%s:Old-Pa55word@tcp(127.0.0.1:3306)/?parseTime=true&timeout=5s"
  }
}
`, user)), 0o600)
	if err := mustNew(t, Config{Path: path, Format: "json", Key: "mysql.dsn"}).Write(context.Background(), value("", awkwardPassword)); err != nil {
		t.Fatal(err)
	}
	var cfg struct{ MySQL struct{ DSN string } }
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("mysql", cfg.MySQL.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var who string
	if err := db.QueryRow("SELECT CURRENT_USER()").Scan(&who); err != nil || !strings.HasPrefix(who, user+"@") {
		t.Fatalf("connected as %q: %v", who, err)
	}
}
