// Package drill is a leaked-password drill anyone can run (make drill): it
// starts a password-auth PostgreSQL cluster, three consumer processes that
// share one role's password, copies of that password in a git repository's
// history, a CI workflow, a Kubernetes Secret, a Slack export and a Jira
// export, and an attacker using it from an application nobody declared.
// Then it responds and reports what happened: copies found, the consumers'
// failed requests during the rotation, how long until the attacker was cut
// off, and the copies that remain (with why).
//
// It responds in one of two ways (Options.Via): `rekey respond --yes`, one
// person and one command; or through the API of `rekey serve`, as a team:
// a responder's token opens, reviews, plans and runs, the run waits for an
// approval that the responder may not give and an approver's token gives,
// then the responder remediates, reviews, fetches the report and closes.
// Both must end the same way.
//
// The same drill runs in the project's tests (drill_test.go), which assert
// those outcomes.
package drill

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
	"github.com/rekeyhq/rekey/internal/testutil"
)

// Options say how to start the programs the drill runs.
type Options struct {
	// Rekey returns the command that runs rekey with args.
	Rekey func(args ...string) *exec.Cmd
	// Consumer returns the command that runs one consumer process with
	// spec (see RunConsumer).
	Consumer func(spec string) *exec.Cmd
	// Out receives the narrative; nil is quiet.
	Out io.Writer
	// Via is how the response is driven: ViaCLI (the default) or ViaAPI.
	Via string
	// Keep leaves the drill's directory (repository with its rekey
	// branch, exports, report, rekey's home) for inspection; the cluster
	// is stopped either way.
	Keep bool
}

// The ways the drill responds.
const (
	ViaCLI = "cli" // rekey respond --yes
	ViaAPI = "api" // rekey serve, driven over HTTP with two people's tokens
)

func (o Options) via() string {
	if o.Via == "" {
		return ViaCLI
	}
	return o.Via
}

// Outcome is what the drill measured.
type Outcome struct {
	Via      string `json:"via"`
	Incident string `json:"incident"`
	Strategy string `json:"strategy"`
	// Copies is how many copies of the password the response found, by
	// location class.
	Copies      int            `json:"copies"`
	CopyClasses map[string]int `json:"copy_classes"`
	// Consumers: per consumer, requests that failed during the response
	// and the longest outage.
	Consumers map[string]ConsumerOutcome `json:"consumers"`
	// CutOff is the time from the start of the response (`rekey
	// respond`, or the API's first request) until the attacker's next
	// login with the password failed; AttackerAfter
	// counts its logins that still worked after that.
	CutOff        time.Duration `json:"cut_off"`
	AttackerAfter int64         `json:"attacker_logins_after_cut_off"`
	// AttackerSession is whether the attacker's open session survived.
	AttackerSession bool `json:"attacker_session_survived"`
	// OldPasswordWorks is whether the leaked password still logs in.
	OldPasswordWorks bool `json:"old_password_works"`
	// Remaining are the copies still present after remediation, with why.
	Remaining []string `json:"remaining"`
	// Done are the remediation tasks rekey completed.
	Done       []string      `json:"done"`
	Report     string        `json:"report"`
	RespondFor time.Duration `json:"respond_took"`
	ExitCode   int           `json:"respond_exit"`
	// Through the API: what the opener and the run's starter got when
	// they approved its step (403 is right), by token name; who approved
	// instead; and whether the incident ended closed.
	Refused map[string]Refusal `json:"refused,omitempty"`
	// Actors are who the audit log says did each action of the incident.
	Actors     map[string][]string `json:"actors"`
	ApprovedBy []string            `json:"approved_by,omitempty"`
	Closed     bool                `json:"closed,omitempty"`
}

// Refusal is the API's answer to an approval it should refuse.
type Refusal struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
}

// ConsumerOutcome is one consumer's view of the response.
type ConsumerOutcome struct {
	OK, Failed int64
	Login      string
	Outages    []time.Duration
}

var consumerNames = []string{"storefront", "billing", "reports"}

// Run runs the drill. It cleans up after itself.
func Run(ctx context.Context, o Options) (*Outcome, error) {
	if o.Out != nil {
		// The narrative and rekey serve's log are written at once.
		o.Out = &syncWriter{w: o.Out}
	}
	say := func(format string, a ...any) {
		if o.Out != nil {
			fmt.Fprintf(o.Out, "drill: "+format+"\n", a...)
		}
	}
	say("starting a PostgreSQL cluster with password authentication")
	pg, err := testutil.StartCluster()
	if err != nil {
		return nil, fmt.Errorf("start PostgreSQL: %w", err)
	}
	defer pg.Stop()
	dir, err := os.MkdirTemp("", "rekey-drill-")
	if err != nil {
		return nil, err
	}
	if o.Keep {
		defer say("kept %s (rekey's home is %s)", dir, filepath.Join(dir, "rekey-home"))
	} else {
		defer os.RemoveAll(dir)
	}

	role, password := "shop_app", "Sh0p-"+randomHex(12)
	admin, err := pgx.Connect(ctx, pg.AdminURL())
	if err != nil {
		return nil, err
	}
	defer admin.Close(ctx)
	for _, q := range []string{
		fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", role, password),
		"CREATE TABLE orders (id serial PRIMARY KEY, total numeric)",
		"INSERT INTO orders (total) SELECT g FROM generate_series(1, 100) g",
		"GRANT SELECT ON orders TO " + role,
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("%s: %w", strings.Fields(q)[0], err)
		}
	}
	url := pg.URL(role, password, "postgres")

	say("writing copies of the password: git history, a CI workflow, a Kubernetes Secret, Slack, Jira")
	if err := writeCopies(dir, password, url); err != nil {
		return nil, err
	}
	// A team's policy: revoking waits for a second person. The CLI drill
	// has one person, who cannot approve their own run.
	var approve []string
	if o.via() == ViaAPI {
		approve = []string{"revoke"}
	}
	inv, err := writeInventory(dir, pg, role, approve)
	if err != nil {
		return nil, err
	}

	say("starting %d consumers sharing the password", len(consumerNames))
	procs := map[string]*exec.Cmd{}
	defer func() {
		for _, p := range procs {
			p.Process.Kill()
			p.Wait()
		}
	}()
	for _, name := range consumerNames {
		d := filepath.Join(dir, "apps", name)
		if err := os.WriteFile(filepath.Join(d, ".env"), []byte(fmt.Sprintf("# %s\nAPP_ENV=production\nDATABASE_URL=%s\n", name, url)), 0o640); err != nil {
			return nil, err
		}
		cmd := o.Consumer(strings.Join([]string{filepath.Join(d, ".env"), filepath.Join(d, "status"), filepath.Join(d, "report.json"), name}, "|"))
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("start consumer %s: %w", name, err)
		}
		procs[name] = cmd
	}
	if err := waitHealthy(ctx, dir); err != nil {
		return nil, err
	}

	say("an attacker logs in with the leaked password and keeps trying")
	att := &testutil.PGAttacker{URL: url + "&application_name=exfil"}
	if err := att.Start(ctx); err != nil {
		return nil, err
	}
	defer att.Close()

	home := filepath.Join(dir, "rekey-home")
	report := filepath.Join(dir, "incident-report.md")
	r := response{
		env:    []string{"REKEY_HOME=" + home, "DRILL_ADMIN_DSN=" + pg.AdminURL(), "REKEY_STORE=", "REKEY_TOKEN="},
		inv:    inv,
		secret: password,
		report: report,
		att:    att,
		say:    say,
		out:    io.Discard,
	}
	if o.Out != nil {
		r.out = &prefixed{w: o.Out, prefix: "  | "}
	}
	out := &Outcome{Via: o.via(), Consumers: map[string]ConsumerOutcome{}, CopyClasses: map[string]int{}}
	var respErr error
	if out.Via == ViaAPI {
		respErr = respondAPI(ctx, o, r, out)
	} else {
		respErr = respondCLI(o, r, out)
	}
	time.Sleep(300 * time.Millisecond) // the consumers settle on their new logins
	att.Stop()
	for name, p := range procs {
		p.Process.Signal(syscall.SIGTERM)
		p.Wait()
		delete(procs, name)
		var r testutil.ConsumerReport
		if b, err := os.ReadFile(filepath.Join(dir, "apps", name, "report.json")); err == nil {
			json.Unmarshal(b, &r)
		}
		out.Consumers[name] = ConsumerOutcome{OK: r.OK, Failed: r.Fail, Login: r.Login, Outages: r.Outages}
	}
	out.CutOff = att.CutOff()
	out.AttackerAfter = att.LoginsAfterCutOff()
	out.AttackerSession = att.SessionAlive(ctx)
	if c, err := pgx.Connect(ctx, url); err == nil {
		out.OldPasswordWorks = true
		c.Close(ctx)
	}
	storeErr := readStore(ctx, home, out)
	if b, err := os.ReadFile(report); err == nil {
		out.Report = string(b)
	}
	if respErr != nil {
		return out, respErr
	}
	return out, storeErr
}

// response is what the response needs, however it is driven.
type response struct {
	// env is rekey's environment: its own home and store, and the
	// system's admin credential the inventory refers to.
	env         []string
	inv, report string
	secret      string
	att         *testutil.PGAttacker
	say         func(format string, a ...any)
	// out receives rekey's own output.
	out io.Writer
}

// respondCLI runs `rekey respond --yes`: one person, one command.
func respondCLI(o Options, r response, out *Outcome) error {
	r.say("running: rekey respond --secret-env DRILL_LEAKED --inventory %s --yes", r.inv)
	cmd := o.Rekey("respond", "--secret-env", "DRILL_LEAKED", "--inventory", r.inv, "--yes", "--report", r.report, "--as", "drill")
	cmd.Env = append(append(cmd.Environ(), r.env...), "DRILL_LEAKED="+r.secret)
	var outBuf strings.Builder
	w := io.MultiWriter(&outBuf, r.out)
	cmd.Stdout, cmd.Stderr = w, w
	start := time.Now()
	r.att.Mark(start)
	err := cmd.Run()
	out.RespondFor = time.Since(start)
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		out.ExitCode = ee.ExitCode()
		return fmt.Errorf("rekey respond exited %d:\n%s", out.ExitCode, outBuf.String())
	}
	return err
}

// readStore reads what the response recorded: the copies and the
// remediation tasks.
func readStore(ctx context.Context, home string, out *Outcome) error {
	st, err := sqlite.Open(ctx, filepath.Join(home, store.DBFile))
	if err != nil {
		return err
	}
	defer st.Close()
	incs, err := st.ListIncidents(ctx, store.Filter{})
	if err != nil || len(incs) == 0 {
		return fmt.Errorf("no incident recorded: %v", err)
	}
	out.Incident = incs[len(incs)-1].ID
	if p, ok, err := st.GetPlan(ctx, out.Incident); err == nil && ok {
		out.Strategy = p.Strategy
	}
	occ, err := st.Occurrences(ctx, out.Incident)
	if err != nil {
		return err
	}
	out.Copies = len(occ)
	for _, o := range occ {
		out.CopyClasses[o.Class]++
	}
	log, err := st.AuditLog(ctx)
	if err != nil {
		return err
	}
	out.Actors = map[string][]string{}
	for _, e := range log {
		if e.IncidentID == out.Incident && !slices.Contains(out.Actors[e.Action], e.Actor) {
			out.Actors[e.Action] = append(out.Actors[e.Action], e.Actor)
		}
	}
	tasks, err := st.Tasks(ctx, out.Incident)
	if err != nil {
		return err
	}
	for _, t := range tasks {
		line := t.Kind + " " + t.Location + ": " + t.Action
		if t.State == store.TaskDone {
			out.Done = append(out.Done, line)
		} else {
			out.Remaining = append(out.Remaining, line+" ("+t.State+")")
		}
	}
	return nil
}

// Print writes the outcome for a person.
func (o *Outcome) Print(w io.Writer) {
	fmt.Fprintf(w, "\nDrill outcome (incident %s, %s strategy, through the %s, the response took %s)\n",
		o.Incident, o.Strategy, strings.ToUpper(cmp.Or(o.Via, ViaCLI)), o.RespondFor.Round(time.Millisecond))
	fmt.Fprintf(w, "  copies found:        %d (%s)\n", o.Copies, classCounts(o.CopyClasses))
	for _, name := range consumerNames {
		c := o.Consumers[name]
		fmt.Fprintf(w, "  consumer %-10s  %d requests ok, %d failed during the response, longest outage %s, now on login %s\n",
			name, c.OK, c.Failed, longest(c.Outages), c.Login)
	}
	if o.Via == ViaAPI {
		names := make([]string, 0, len(o.Refused))
		for n := range o.Refused {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(w, "  approval by %-16s answered %d: %s\n", n, o.Refused[n].Status, o.Refused[n].Message)
		}
		fmt.Fprintf(w, "  approved by:         %s; the incident is %s\n",
			strings.Join(o.ApprovedBy, ", "), map[bool]string{true: "closed", false: "NOT closed"}[o.Closed])
	}
	fmt.Fprintf(w, "  attacker cut off:    %s after the response started (logins after that: %d; open session survived: %v)\n",
		o.CutOff.Round(time.Millisecond), o.AttackerAfter, o.AttackerSession)
	fmt.Fprintf(w, "  leaked password:     %s\n", map[bool]string{true: "STILL WORKS", false: "refused"}[o.OldPasswordWorks])
	fmt.Fprintf(w, "  copies removed:      %d\n", len(o.Done))
	fmt.Fprintf(w, "  copies remaining:    %d\n", len(o.Remaining))
	for _, r := range o.Remaining {
		fmt.Fprintf(w, "    - %s\n", r)
	}
}

// classCounts reads "code 2, history 1, chat 1": most copies first, then
// by name, so the line is the same from run to run.
func classCounts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if m[names[i]] != m[names[j]] {
			return m[names[i]] > m[names[j]]
		}
		return names[i] < names[j]
	})
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", n, m[n])
	}
	return strings.Join(parts, ", ")
}

func longest(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m.Round(time.Millisecond)
}

func waitHealthy(ctx context.Context, dir string) error {
	deadline := time.Now().Add(20 * time.Second)
	for _, name := range consumerNames {
		for {
			b, _ := os.ReadFile(filepath.Join(dir, "apps", name, "status"))
			if strings.HasPrefix(string(b), "ok") {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("consumer %s did not come up: %q", name, b)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}

// writeCopies lays out where the password leaked.
func writeCopies(dir, password, url string) error {
	repo := filepath.Join(dir, "src", "shop")
	files := map[string]string{
		"README.md":        "# shop\n\nThe storefront and its workers.\n",
		"config/db.yml":    "production:\n  adapter: postgresql\n  host: db.internal\n  username: shop_app\n  password: \"" + password + "\"\n",
		"cmd/shop/main.go": "package main\n\nfunc main() {}\n",
	}
	if err := writeTree(repo, files); err != nil {
		return err
	}
	git := func(args ...string) error {
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Dev", "GIT_AUTHOR_EMAIL=dev@shop.example", "GIT_COMMITTER_NAME=Dev",
			"GIT_COMMITTER_EMAIL=dev@shop.example", "GIT_AUTHOR_DATE=2026-11-20T09:00:00Z", "GIT_COMMITTER_DATE=2026-11-20T09:00:00Z")
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("git %s: %v: %s", args[0], err, b)
		}
		return nil
	}
	for _, step := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-q", "-m", "initial import"}} {
		if err := git(step...); err != nil {
			return err
		}
	}
	// The password leaves the config file (it stays in history) but is
	// pasted into CI and a Kubernetes Secret.
	later := map[string]string{
		"config/db.yml": "production:\n  adapter: postgresql\n  host: db.internal\n  username: shop_app\n  password: <%= ENV[\"DB_PASSWORD\"] %>\n",
		".github/workflows/deploy.yml": "name: deploy\non:\n  push:\n    branches: [main]\njobs:\n  migrate:\n    runs-on: ubuntu-latest\n" +
			"    env:\n      PGPASSWORD: " + password + "\n    steps:\n      - uses: actions/checkout@v4\n      - run: psql -h db.internal -U shop_app -c 'select 1'\n",
		"deploy/k8s/db-secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: shop-db\n  namespace: shop\ntype: Opaque\ndata:\n" +
			"  password: " + base64.StdEncoding.EncodeToString([]byte(password)) + "\n",
	}
	if err := writeTree(repo, later); err != nil {
		return err
	}
	for _, step := range [][]string{{"add", "-A"}, {"commit", "-q", "-m", "deploy pipeline and k8s manifests"}} {
		if err := git(step...); err != nil {
			return err
		}
	}
	slack := filepath.Join(dir, "exports", "slack")
	if err := writeTree(slack, map[string]string{
		"channels.json": `[{"id":"C07DEPLOYS","name":"deploys","created":1700000000,"creator":"U01DEV","is_archived":false,"members":["U01DEV","U02OPS"]}]`,
		"users.json":    `[{"id":"U01DEV","name":"dev","real_name":"Dana Dev"},{"id":"U02OPS","name":"ops","real_name":"Omar Ops"}]`,
		"deploys/2026-11-20.json": `[{"type":"message","user":"U02OPS","text":"db is slow, can someone check? connect with ` + url +
			`","ts":"1795165200.000100"},{"type":"message","user":"U01DEV","text":"looking","ts":"1795165260.000200"}]`,
	}); err != nil {
		return err
	}
	jira := map[string]any{"startAt": 0, "maxResults": 50, "total": 1, "issues": []any{map[string]any{
		"id": "10042", "key": "OPS-42", "fields": map[string]any{
			"summary": "Storefront cannot reach the database", "description": "Started after the 09:00 deploy.",
			"created": "2026-11-20T09:30:00.000+0000",
			"comment": map[string]any{"comments": []any{map[string]any{
				"id": "10101", "body": "Works for me with PGPASSWORD=" + password + " psql -h db.internal -U shop_app",
				"author": map[string]any{"displayName": "Omar Ops"}, "created": "2026-11-20T09:41:00.000+0000",
			}}},
		}}}}
	b, _ := json.MarshalIndent(jira, "", "  ")
	return writeTree(filepath.Join(dir, "exports"), map[string]string{"jira.json": string(b)})
}

func writeInventory(dir string, pg *testutil.PGCluster, role string, approve []string) (string, error) {
	var sb strings.Builder
	fmt.Fprintf(&sb, `version: 1
systems:
  - name: shop-db
    type: postgres
    admin: env:DRILL_ADMIN_DSN
identities:
  - name: %s
    system: shop-db
    owner: { team: shop, contact: "#shop-oncall" }
consumers:
`, role)
	for _, name := range consumerNames {
		if err := os.MkdirAll(filepath.Join(dir, "apps", name), 0o755); err != nil {
			return "", err
		}
		fmt.Fprintf(&sb, "  - name: %s\n    identity: %s\n    deliver: { type: file, path: apps/%s/.env, format: dotenv, key: DATABASE_URL }\n"+
			"    health: \"grep -q '^ok' apps/%s/status\"\n    sources: [\"app:%s\"]\n", name, role, name, name, name)
	}
	fmt.Fprintf(&sb, `sources:
  - { type: git, path: src/shop, history: true }
  - { type: slack, path: exports/slack }
  - { type: jira, path: exports/jira.json }
logs:
  - { type: postgres-csv, path: %q }
policy:
  ttl: 720h
`, filepath.Join(pg.LogDir, "*.csv"))
	if len(approve) > 0 {
		fmt.Fprintf(&sb, "  approve: [%s]\n", strings.Join(approve, ", "))
	}
	p := filepath.Join(dir, "rekey.yml")
	return p, os.WriteFile(p, []byte(sb.String()), 0o644)
}

func writeTree(root string, files map[string]string) error {
	for rel, content := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// RunConsumer is the consumer process: spec is "envfile|status|report|app"
// (see testutil.RunConsumerProcess); it queries the orders table.
func RunConsumer(spec string) int {
	return testutil.RunConsumerProcess(spec, "SELECT count(*) FROM orders")
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// syncWriter lets several goroutines write to one writer.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

// prefixed writes each line it is given with a prefix, so rekey's own
// output stands apart from the drill's.
type prefixed struct {
	w      io.Writer
	prefix string
	mid    bool
}

func (p *prefixed) Write(b []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line == "" {
			continue
		}
		if !p.mid {
			io.WriteString(p.w, p.prefix)
		}
		io.WriteString(p.w, line)
		p.mid = !strings.HasSuffix(line, "\n")
	}
	return len(b), nil
}
