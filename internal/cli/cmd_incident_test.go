package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rekeyhq/rekey/internal/source/git/gittest"
	"github.com/rekeyhq/rekey/internal/testutil"
)

// TestMain also lets the test binary stand in for two other programs, so
// that end-to-end tests run them as separate processes: rekey itself
// (REKEY_TEST_AS_REKEY=1; crash tests SIGKILL it) and a consumer workload
// (REKEY_TEST_PGCONSUMER set; see runConsumerProcess).
func TestMain(m *testing.M) {
	if os.Getenv("REKEY_TEST_AS_REKEY") == "1" {
		ctx, stop := SignalContext(context.Background(), os.Stderr)
		code := Main(ctx, Env{Args: os.Args[1:], Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
		stop()
		os.Exit(code)
	}
	if spec := os.Getenv("REKEY_TEST_PGCONSUMER"); spec != "" {
		os.Exit(runConsumerProcess(spec))
	}
	os.Exit(testutil.PostgresMain(m))
}

// shopIncident sets up what a real incident starts from: a PostgreSQL
// cluster with password auth where orders_svc (CREATEROLE, three declared
// consumers) shares its password with legacy_reports, two consumers and an
// undeclared psql session connected, a copy of the password in a working
// tree and one in git history, and an inventory describing it all.
func shopIncident(t *testing.T) (env map[string]string, invPath, password string) {
	pg := testutil.SharedPostgres(t)
	suffix := strings.ToLower(fmt.Sprintf("%x", os.Getpid()^len(t.Name())))
	password = "Qz7vN2wRpLk9xT4m-" + suffix
	svc, legacy := "orders_svc_"+suffix, "legacy_reports_"+suffix
	pg.CreateRole(t, svc, password, "CREATEROLE")
	pg.CreateRole(t, legacy, password, "")
	pg.CreateRole(t, "unrelated_"+suffix, "another-password-entirely", "")
	pg.Connect(t, svc, password, "orders-api")
	pg.Connect(t, svc, password, "psql")
	// An attacker guessing: a refused login, in the server's log only.
	if conn, err := pgx.Connect(context.Background(), pg.URL(svc, "wrong-guess", "postgres")); err == nil {
		conn.Close(context.Background())
		t.Fatal("a wrong password was accepted")
	}
	pg.LogRecords(t) // waits until the log holds everything so far

	dir := t.TempDir()
	tree := filepath.Join(dir, "etc-shop")
	writeFiles(t, tree, map[string]string{"orders.env": fmt.Sprintf("DATABASE_URL=postgres://%s:%s@db-prod.internal:5432/shop\n", svc, password)})
	repo := filepath.Join(dir, "shop")
	if err := os.MkdirAll(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	gittest.BuildRepo(t, repo, []gittest.Commit{
		{Files: map[string]string{"config/db.yaml": "user: " + svc + "\npassword: \"" + password + "\"\n"}},
		{Files: map[string]string{"config/db.yaml": "user: " + svc + "\npassword: \"${DB_PASSWORD}\"\n"}},
	})
	gittest.Git(t, repo, "checkout", "-q", "-f", "main")
	invPath = filepath.Join(dir, "rekey.yml")
	inv := fmt.Sprintf(`version: 1
systems:
  - name: shop-db
    type: postgres
    admin: env:SHOP_DB_ADMIN_DSN
  - name: old-db
    type: postgres
    admin: env:OLD_DB_ADMIN_DSN
identities:
  - name: %s
    system: shop-db
    owner: { team: orders, contact: "#orders-oncall" }
consumers:
  - name: orders-api
    identity: %s
    sources: ["app:orders-api"]
  - name: billing
    identity: %s
    sources: ["app:billing-worker"]
  - name: acme-partner
    identity: %s
    third_party: true
    change_window: "Sat 02:00-04:00 UTC"
sources:
  - { type: git, path: shop, history: true }
  - { type: dir, path: etc-shop }
`, svc, svc, svc, svc)
	if err := os.WriteFile(invPath, []byte(inv), 0o644); err != nil {
		t.Fatal(err)
	}
	env = map[string]string{
		"REKEY_HOME":        filepath.Join(dir, "home"),
		"SHOP_DB_ADMIN_DSN": pg.AdminURL(),
		"OLD_DB_ADMIN_DSN":  "postgres://postgres:x@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2",
		"LEAKED":            password,
		"PG_LOGS":           filepath.Join(pg.LogDir, "*.csv"),
	}
	return env, invPath, password
}

func TestIncidentOpenAndScopeAgainstPostgres(t *testing.T) {
	env, invPath, password := shopIncident(t)
	r := run(t, env, "", "incident", "open", "--secret-env", "LEAKED", "--inventory", invPath, "--logs", env["PG_LOGS"], "--format", "json")
	if r.code != 0 {
		t.Fatalf("open: exit %d: %s", r.code, r.stderr)
	}
	var opened struct {
		Events      int        `json:"events"`
		ID          string     `json:"id"`
		Existing    bool       `json:"existing"`
		LeakedAt    *time.Time `json:"leaked_at"`
		Identity    *struct{ System, Name string }
		Reuse       []struct{ System, Name string }
		Occurrences int                              `json:"occurrences"`
		NotSearched []struct{ System, Error string } `json:"not_searched"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &opened); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	if opened.Existing || opened.Identity == nil || !strings.HasPrefix(opened.Identity.Name, "orders_svc_") || opened.Identity.System != "shop-db" {
		t.Fatalf("open: %s", r.stdout)
	}
	if len(opened.Reuse) != 1 || !strings.HasPrefix(opened.Reuse[0].Name, "legacy_reports_") || opened.Occurrences != 2 {
		t.Errorf("reuse/occurrences: %s", r.stdout)
	}
	if len(opened.NotSearched) != 1 || opened.NotSearched[0].System != "old-db" || !strings.Contains(opened.NotSearched[0].Error, "reach") {
		t.Errorf("not searched: %+v", opened.NotSearched)
	}
	if strings.Contains(r.stdout+r.stderr, password) {
		t.Fatal("open printed the password")
	}
	// Without --leaked-at, the exposure starts with the oldest copy: the
	// commit that put the password in config/db.yaml.
	if opened.LeakedAt == nil || !opened.LeakedAt.Equal(time.Unix(gittest.Epoch, 0)) {
		t.Errorf("leaked_at %v, want the first commit's time", opened.LeakedAt)
	}

	// Opening again finds the same incident; the table output is the id alone.
	again := run(t, env, "", "incident", "open", "--secret-env", "LEAKED", "--inventory", invPath)
	if again.code != 0 || strings.TrimSpace(again.stdout) != opened.ID {
		t.Fatalf("second open: exit %d, %q, want %s", again.code, again.stdout, opened.ID)
	}

	s := run(t, env, "", "incident", "scope", opened.ID, "--format", "json")
	if s.code != 0 {
		t.Fatalf("scope: exit %d: %s", s.code, s.stderr)
	}
	var sc struct {
		Incident string
		Secret   struct{ Kind, Preview, Fingerprint string }
		Identity struct {
			Status, Name, System, Owner string
			Privileges                  []struct {
				Name, Risk         string
				CreatesCredentials bool `json:"creates_credentials"`
			}
		}
		Occurrences []struct {
			Class  string `json:"location_class"`
			Commit string
			AtHead bool `json:"at_head"`
		}
		Consumers []struct {
			Name               string
			Declared, Observed bool
			ThirdParty         bool `json:"third_party"`
		}
		Unexplained []struct {
			Source   string
			Evidence []string
		}
		Reuse []struct{ System, Name string }
		Flags struct {
			Shared         bool
			ThirdParty     bool `json:"third_party"`
			LongLived      bool `json:"long_lived"`
			OverPrivileged bool `json:"over_privileged"`
			Agent          bool
		}
		Risk struct {
			Score   int
			Reasons []string
		}
	}
	if err := json.Unmarshal([]byte(s.stdout), &sc); err != nil {
		t.Fatalf("%v: %s", err, s.stdout)
	}
	if sc.Incident != opened.ID || sc.Secret.Kind != "postgres password" || len(sc.Secret.Fingerprint) != 64 {
		t.Errorf("secret: %+v", sc.Secret)
	}
	if sc.Identity.Status != "identified" || sc.Identity.Owner != "orders #orders-oncall" {
		t.Errorf("identity: %+v", sc.Identity)
	}
	createrole := false
	for _, p := range sc.Identity.Privileges {
		if strings.EqualFold(p.Name, "CREATEROLE") && p.Risk == "high" && p.CreatesCredentials {
			createrole = true
		}
	}
	if !createrole {
		t.Errorf("CREATEROLE not reported as a high, credential-creating privilege: %+v", sc.Identity.Privileges)
	}
	classes := map[string]int{}
	for _, o := range sc.Occurrences {
		classes[o.Class]++
		if o.Class == "history" && (o.AtHead || len(o.Commit) != 40) {
			t.Errorf("history copy %+v", o)
		}
	}
	if classes["history"] != 1 || classes["config"] != 1 {
		t.Errorf("occurrences by class %v", classes)
	}
	seen := map[string]bool{}
	for _, c := range sc.Consumers {
		seen[c.Name] = c.Observed
		if !c.Declared {
			t.Errorf("consumer %+v not declared", c)
		}
	}
	if len(sc.Consumers) != 3 || !seen["orders-api"] || seen["billing"] || seen["acme-partner"] {
		t.Errorf("consumers %+v", sc.Consumers)
	}
	if len(sc.Unexplained) != 1 || sc.Unexplained[0].Source != "127.0.0.1" || !strings.Contains(strings.Join(sc.Unexplained[0].Evidence, " "), `"psql"`) {
		t.Errorf("unexplained %+v", sc.Unexplained)
	}
	// The logs add the refused guess and the psql login, each with the csv
	// file and line that records it.
	evidence := strings.Join(sc.Unexplained[0].Evidence, "\n")
	if opened.Events < 3 || !strings.Contains(evidence, ".csv:") || !strings.Contains(evidence, "connect failure") {
		t.Errorf("%d events; evidence:\n%s", opened.Events, evidence)
	}
	if len(sc.Reuse) != 1 {
		t.Errorf("reuse %+v", sc.Reuse)
	}
	if !sc.Flags.Shared || !sc.Flags.ThirdParty || !sc.Flags.LongLived || !sc.Flags.OverPrivileged || sc.Flags.Agent {
		t.Errorf("flags %+v", sc.Flags)
	}
	if sc.Risk.Score < 70 || len(sc.Risk.Reasons) < 5 {
		t.Errorf("risk %+v", sc.Risk)
	}

	for format, want := range map[string]string{
		"table":   "UNEXPLAINED USE",
		"md":      "## Consumers",
		"dot":     "digraph",
		"mermaid": "flowchart LR",
	} {
		out := run(t, env, "", "incident", "scope", opened.ID, "--format", format)
		if out.code != 0 || !strings.Contains(out.stdout, want) || strings.Contains(out.stdout, password) {
			t.Errorf("scope --format %s: exit %d, lacks %q or leaks:\n%s", format, out.code, want, out.stdout)
		}
	}

	// The store holds fingerprints and previews, never the password.
	db, err := os.ReadFile(filepath.Join(env["REKEY_HOME"], "rekey.db"))
	if err != nil {
		t.Fatal(err)
	}
	wal, _ := os.ReadFile(filepath.Join(env["REKEY_HOME"], "rekey.db-wal"))
	if strings.Contains(string(db)+string(wal), password) {
		t.Fatal("the store holds the password in clear")
	}
}

func TestIncidentBadInput(t *testing.T) {
	env, invPath, _ := shopIncident(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"incident", "scope", "INC-20990101-dead"}, "INC-20990101-dead"},
		{[]string{"incident", "open", "--secret-env", "LEAKED"}, "--inventory"},
		{[]string{"incident", "open", "--secret-env", "LEAKED", "--inventory", invPath + ".missing"}, ".missing"},
		{[]string{"incident", "open", "--secret-env", "LEAKED", "--inventory", invPath, "--leaked-at", "yesterday"}, "--leaked-at"},
		{[]string{"incident", "open", "--secret-env", "LEAKED", "--inventory", invPath, "--logs", "/nonexistent/**/*.csv"}, "matches no file"},
	}
	for _, c := range cases {
		r := run(t, env, "", c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q (want one line naming %q)", c.args, r.code, r.stderr, c.want)
		}
	}
	// A secret no system knows: the incident opens, the identity is unknown.
	env["LEAKED"] = "a-password-nobody-uses-9f8e7d"
	r := run(t, env, "", "incident", "open", "--secret-env", "LEAKED", "--inventory", invPath, "--format", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"identity": null`) {
		t.Fatalf("unknown secret: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	var o struct{ ID string }
	_ = json.Unmarshal([]byte(r.stdout), &o)
	s := run(t, env, "", "incident", "scope", o.ID)
	if !strings.Contains(s.stdout, "IDENTITY  unknown") {
		t.Errorf("scope of an unknown secret:\n%s", s.stdout)
	}
}
