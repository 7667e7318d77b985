package cli

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/rekeyhq/rekey/internal/testutil"
)

type scopeView struct {
	ID       string // the incident's, from incident open
	Identity struct {
		Status, Name, System string
		Privileges           []struct {
			Name, Risk         string
			CreatesCredentials bool `json:"creates_credentials"`
		}
	}
	Unexplained []struct{ Source string }
	Reuse       []struct{ System, Name string }
	Flags       struct {
		OverPrivileged bool `json:"over_privileged"`
		Agent          bool
	}
}

// openAndScope runs incident open and scope for the secret in $LEAKED.
func openAndScope(t *testing.T, env map[string]string, inv string) scopeView {
	t.Helper()
	dir := t.TempDir()
	invPath := filepath.Join(dir, "rekey.yml")
	if err := os.WriteFile(invPath, []byte(inv), 0o644); err != nil {
		t.Fatal(err)
	}
	env["REKEY_HOME"] = filepath.Join(dir, "home")
	r := run(t, env, "", "incident", "open", "--secret-env", "LEAKED", "--inventory", invPath, "--format", "json")
	if r.code != 0 {
		t.Fatalf("open: exit %d: %s", r.code, r.stderr)
	}
	var o struct{ ID string }
	if err := json.Unmarshal([]byte(r.stdout), &o); err != nil {
		t.Fatal(err)
	}
	s := run(t, env, "", "incident", "scope", o.ID, "--format", "json")
	if s.code != 0 {
		t.Fatalf("scope: exit %d: %s", s.code, s.stderr)
	}
	if strings.Contains(r.stdout+s.stdout, env["LEAKED"]) {
		t.Fatal("the secret is printed")
	}
	var v scopeView
	if err := json.Unmarshal([]byte(s.stdout), &v); err != nil {
		t.Fatal(err)
	}
	v.ID = o.ID
	return v
}

func randomSuffix() string { return fmt.Sprintf("%x", time.Now().UnixNano()&0xffffff) }

func TestIncidentAgainstMariaDB(t *testing.T) {
	testutil.NeedService(t, "mariadb", testutil.MariaDBAddr)
	admin := "root@tcp(" + testutil.MariaDBAddr + ")/"
	db, err := sql.Open("mysql", admin)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sfx := randomSuffix()
	user, other := "rkcrm_"+sfx, "rkold_"+sfx
	issued := user + "_crm_web" // the login the plan's issue step names
	testutil.DropMariaDBUsers(t, user, other, issued)
	password := "Crm-9vQ2xLp7Wz4k-" + sfx
	for _, q := range []string{
		fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", user, password),
		fmt.Sprintf("GRANT ALL PRIVILEGES ON *.* TO '%s'@'%%' WITH GRANT OPTION", user),
		fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", other, password),
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", strings.Split(q, " IDENTIFIED")[0], err)
		}
	}
	// An open session from 127.0.0.1, where no consumer is declared.
	sess, err := sql.Open("mysql", fmt.Sprintf("%s:%s@tcp(127.0.0.1:3306)/", user, password))
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	conn, err := sess.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	env := map[string]string{"CRM_ADMIN_DSN": admin, "LEAKED": password}
	v := openAndScope(t, env, fmt.Sprintf(`version: 1
systems:
  - { name: crm-db, type: mysql, admin: "env:CRM_ADMIN_DSN" }
identities:
  - { name: %s, system: crm-db, owner: { team: crm } }
consumers:
  - { name: crm-web, identity: %s, sources: ["10.20.0.0/16"] }
`, user, user))
	if v.Identity.Status != "identified" || v.Identity.System != "crm-db" || v.Identity.Name != user {
		t.Fatalf("identity %+v", v.Identity)
	}
	critical := false
	for _, p := range v.Identity.Privileges {
		critical = critical || p.Risk == "critical"
	}
	if !critical || !v.Flags.OverPrivileged {
		t.Errorf("ALL ON *.* WITH GRANT OPTION not critical: %+v %+v", v.Identity.Privileges, v.Flags)
	}
	if len(v.Reuse) != 1 || v.Reuse[0].Name != other {
		t.Errorf("reuse %+v", v.Reuse)
	}
	if len(v.Unexplained) != 1 || v.Unexplained[0].Source != "127.0.0.1" {
		t.Errorf("unexplained %+v", v.Unexplained)
	}

	// The dry run prints the statements the run would send, passwords
	// masked, and changes nothing.
	if r := run(t, env, "", "incident", "plan", v.ID); r.code != 0 {
		t.Fatalf("plan: exit %d: %s", r.code, r.stderr)
	}
	var connID string
	if err := conn.QueryRowContext(context.Background(), "SELECT CONNECTION_ID()").Scan(&connID); err != nil {
		t.Fatal(err)
	}
	r := run(t, env, "", "incident", "run", v.ID, "--dry-run")
	if r.code != 0 {
		t.Fatalf("dry run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"\n    ALTER USER IF EXISTS `" + user + "`@`%` IDENTIFIED BY PASSWORD '********' ACCOUNT LOCK\n",
		"\n    KILL CONNECTION " + connID + "\n",
		"\n    CREATE USER IF NOT EXISTS `" + issued + "`@`%` IDENTIFIED BY PASSWORD '********' ",
		"\n    ALTER USER `" + issued + "`@`%` IDENTIFIED BY PASSWORD '********' ",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the dry run lacks %q:\n%s", strings.TrimSpace(want), r.stdout)
		}
	}
	if strings.Contains(r.stdout+r.stderr, password) || regexp.MustCompile(`'\*[0-9A-F]{40}'`).MatchString(r.stdout) {
		t.Error("the dry run shows a password or a stored hash")
	}
	if err := conn.PingContext(context.Background()); err != nil {
		t.Errorf("the open session ended in a dry run: %v", err)
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM mysql.user WHERE User = ?", issued).Scan(&n); err != nil || n != 0 {
		t.Errorf("the dry run created %d account(s) %s (%v)", n, issued, err)
	}
}

// resp sends one command on a Redis connection and returns the reply line.
func resp(t *testing.T, rw *bufio.ReadWriter, args ...string) string {
	t.Helper()
	fmt.Fprintf(rw, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(rw, "$%d\r\n%s\r\n", len(a), a)
	}
	if err := rw.Flush(); err != nil {
		t.Fatal(err)
	}
	line, err := rw.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(line, "-") {
		t.Fatalf("redis %s: %s", args[0], strings.TrimSpace(line))
	}
	return strings.TrimSpace(line)
}

func redisConn(t *testing.T) *bufio.ReadWriter {
	t.Helper()
	c, err := net.DialTimeout("tcp", "127.0.0.1:6379", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return bufio.NewReadWriter(bufio.NewReader(c), bufio.NewWriter(c))
}

func TestIncidentAgainstRedis(t *testing.T) {
	testutil.NeedService(t, "redis", "127.0.0.1:6379")
	admin := redisConn(t)
	sfx := randomSuffix()
	agent, other := "rkagent_"+sfx, "rkcache_"+sfx
	password := "Agent-7Hq2mXp9Lw3v-" + sfx
	// Deleted when the test ends, however it ends (registered before the
	// users exist; LIFO, so before admin's connection closes).
	t.Cleanup(func() { resp(t, admin, "ACL", "DELUSER", agent, other) })
	resp(t, admin, "ACL", "SETUSER", agent, "on", ">"+password, "~tickets:*", "+@read", "+@write", "+acl")
	resp(t, admin, "ACL", "SETUSER", other, "on", ">"+password, "~cache:*", "+@read")
	sess := redisConn(t)
	resp(t, sess, "AUTH", agent, password)

	v := openAndScope(t, map[string]string{"CACHE_ADMIN_URL": "redis://127.0.0.1:6379", "LEAKED": password}, fmt.Sprintf(`version: 1
systems:
  - { name: cache, type: redis, admin: "env:CACHE_ADMIN_URL" }
identities:
  - { name: %s, system: cache, kind: agent, owner: { team: support } }
consumers:
  - { name: support-agent, identity: %s, sources: ["app:support-agent"] }
`, agent, agent))
	if v.Identity.Status != "identified" || v.Identity.Name != agent || !v.Flags.Agent {
		t.Fatalf("identity %+v flags %+v", v.Identity, v.Flags)
	}
	acl := false
	for _, p := range v.Identity.Privileges {
		acl = acl || p.CreatesCredentials
	}
	if !acl || !v.Flags.OverPrivileged {
		t.Errorf("+acl not flagged: %+v", v.Identity.Privileges)
	}
	if len(v.Reuse) != 1 || v.Reuse[0].Name != other {
		t.Errorf("reuse %+v", v.Reuse)
	}
	if len(v.Unexplained) != 1 || v.Unexplained[0].Source != "127.0.0.1" {
		t.Errorf("unexplained %+v", v.Unexplained)
	}
}
