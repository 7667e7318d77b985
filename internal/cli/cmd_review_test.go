package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/testutil"
)

// reviewJSON is the part of the review JSON the tests read.
type reviewJSON struct {
	Credential string `json:"credential"`
	Windows    struct {
		Baseline *struct{ Events int } `json:"baseline"`
		Exposure struct{ Events int }  `json:"exposure"`
		After    *struct{ Events int } `json:"after"`
	} `json:"windows"`
	Findings []struct {
		Kind, Severity, Summary string
		Evidence                []struct {
			File, Source, Action, Credential string
			Line                             int
			Time                             time.Time
		}
	} `json:"findings"`
	Related []struct {
		Credential, Kind string
		CreatedAt        time.Time `json:"created_at"`
		Evidence         []struct {
			File string
			Line int
		}
		Activity struct {
			Events        int
			AfterRotation int `json:"after_rotation"`
			Sources       []string
			Actions       []string
		}
	} `json:"related"`
	Timeline []struct {
		Action, Window string
		Kinds          []string
	} `json:"timeline"`
	Summary struct {
		Sources []struct {
			Name                      string
			Baseline, Exposure, After int
		}
	} `json:"summary"`
	HasBaseline bool `json:"has_baseline"`
}

func decodeReview(t *testing.T, r result) reviewJSON {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("review: exit %d: %s", r.code, r.stderr)
	}
	var rep reviewJSON
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	return rep
}

func (r reviewJSON) findings(kind string) []string {
	var out []string
	for _, f := range r.Findings {
		if f.Kind == kind {
			out = append(out, f.Severity+" "+f.Summary)
		}
	}
	return out
}

func (r reviewJSON) dump() string {
	var b strings.Builder
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "  %s %s: %s\n", f.Severity, f.Kind, f.Summary)
	}
	return b.String()
}

// connectSocket logs in over the cluster's Unix socket: the server logs
// the client as [local], a source apart from the consumers' TCP address.
func connectSocket(pg *testutil.PGCluster, usr, password, app string) (*pgx.Conn, error) {
	sock := filepath.Join(filepath.Dir(pg.DataDir), "sock")
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=postgres sslmode=disable application_name=%s", sock, pg.Port, usr, password, app))
	if err != nil {
		return nil, err
	}
	return pgx.ConnectConfig(context.Background(), cfg)
}

// pause makes sure the next log record's time is past the last one's
// (csvlog keeps milliseconds).
func pause() time.Time {
	time.Sleep(15 * time.Millisecond)
	t := time.Now()
	time.Sleep(15 * time.Millisecond)
	return t
}

// A review of the test cluster's real csv log: orders-api connects before
// the leak; during the exposure someone logs in over the local socket with
// psql and creates a backdoor role (logged: log_statement=ddl for the
// role), which then logs in; the password is rotated, orders-api comes
// back with the new one, and the intruder's guess with the old one is
// refused.
func TestReviewPostgresLogs(t *testing.T) {
	pg := testutil.SharedPostgres(t)
	ctx := context.Background()
	svc, backdoor := testutil.RandomName("orders_svc_"), testutil.RandomName("bk_")
	oldPW, newPW, bkPW := "old-"+testutil.RandomName("pw"), "new-"+testutil.RandomName("pw"), "bk-"+testutil.RandomName("pw")
	pg.CreateRole(t, svc, oldPW, "CREATEROLE")
	t.Cleanup(func() { pg.DropRole(t, backdoor) })
	pg.Exec(t, "ALTER ROLE "+testutil.QuoteIdent(svc)+" SET log_statement = 'ddl'")

	c := pg.Connect(t, svc, oldPW, "orders-api")
	c.Close(ctx)
	leaked := pause()
	intruder, err := connectSocket(pg, svc, oldPW, "psql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := intruder.Exec(ctx, "CREATE ROLE "+testutil.QuoteIdent(backdoor)+" LOGIN PASSWORD "+testutil.QuoteLiteral(bkPW)); err != nil {
		t.Fatal(err)
	}
	intruder.Close(ctx)
	pg.Connect(t, backdoor, bkPW, "psql").Close(ctx)
	rotated := pause()
	pg.Exec(t, "ALTER ROLE "+testutil.QuoteIdent(svc)+" PASSWORD "+testutil.QuoteLiteral(newPW))
	pg.Connect(t, svc, newPW, "orders-api")
	if conn, err := connectSocket(pg, svc, oldPW, "psql"); err == nil {
		conn.Close(ctx)
		t.Fatal("the old password still works")
	}
	pg.LogRecords(t)

	dir := t.TempDir()
	inv := filepath.Join(dir, "rekey.yml")
	writeFiles(t, dir, map[string]string{"rekey.yml": fmt.Sprintf(`version: 1
systems:
  - { name: shop-db, type: postgres, admin: env:SHOP_DB_ADMIN_DSN }
identities:
  - { name: %s, system: shop-db }
consumers:
  - { name: orders-api, identity: %s, sources: ["app:orders-api"] }
`, svc, svc)})
	args := []string{"review", "--logs", filepath.Join(pg.LogDir, "*.csv"), "--credential", svc, "--inventory", inv,
		"--leaked-at", leaked.Format(time.RFC3339Nano), "--rotated-at", rotated.Format(time.RFC3339Nano)}
	r := run(t, nil, "", append(args, "--format", "json")...)
	for _, pw := range []string{oldPW, newPW, bkPW} {
		if strings.Contains(r.stdout+r.stderr, pw) {
			t.Fatal("the review printed a password")
		}
	}
	rep := decodeReview(t, r)
	if !rep.HasBaseline || rep.Windows.Baseline.Events == 0 || rep.Windows.Exposure.Events == 0 || rep.Windows.After.Events == 0 {
		t.Fatalf("windows %+v", rep.Windows)
	}
	want := map[string]string{
		"new-source":           `[local]`,
		"sensitive-action":     "CREATE ROLE (credential creation)",
		"derived-credential":   "role " + backdoor,
		"use-after-revocation": "refused after the rotation",
	}
	for kind, frag := range want {
		if fs := rep.findings(kind); len(fs) == 0 || !strings.Contains(strings.Join(fs, "\n"), frag) {
			t.Errorf("%s: want %q in\n%s", kind, frag, rep.dump())
		}
	}
	// orders-api with the new password is expected, not a finding; the
	// intruder's guess is: from a source no consumer declares.
	if uar := rep.findings("use-after-revocation"); len(uar) != 1 || !strings.HasPrefix(uar[0], "high ") || !strings.Contains(uar[0], "[local]") {
		t.Errorf("use after revocation %v", uar)
	}
	for _, f := range rep.Findings {
		for _, e := range f.Evidence {
			if !strings.HasSuffix(e.File, ".csv") || e.Line == 0 {
				t.Errorf("%s evidence without a position: %+v", f.Kind, e)
			}
		}
	}
	// The backdoor's own login, found by reading the logs again.
	if len(rep.Related) != 1 || rep.Related[0].Credential != backdoor || rep.Related[0].Kind != "role" ||
		rep.Related[0].Activity.Events == 0 || !strings.Contains(strings.Join(rep.Related[0].Activity.Actions, " "), "connect") {
		t.Errorf("related %+v", rep.Related)
	}

	table := run(t, nil, "", args...)
	for _, want := range []string{"FINDINGS", "RELATED  1", backdoor, "TIMELINE", "BEFORE/AFTER BY SOURCE", "consumer orders-api"} {
		if table.code != 0 || !strings.Contains(table.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, table.stdout)
		}
	}
}

// ctRecord is one CloudTrail record as AWS documents its fields.
type ctRecord struct {
	t                          time.Time
	key, arn, src, ua          string
	service, name              string
	errorCode, req, resp, user string
}

func (r ctRecord) json() string {
	ident := fmt.Sprintf(`{"type":"IAMUser","principalId":"AIDAORDERS0000000001","arn":%q,"accountId":"123456789012","accessKeyId":%q,"userName":%q}`, r.arn, r.key, r.user)
	if strings.Contains(r.arn, ":assumed-role/") {
		ident = fmt.Sprintf(`{"type":"AssumedRole","principalId":"AROADEPLOY0000000001:s1","arn":%q,"accountId":"123456789012","accessKeyId":%q,"sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROADEPLOY0000000001","arn":"arn:aws:iam::123456789012:role/deploy","accountId":"123456789012","userName":"deploy"},"attributes":{"creationDate":%q,"mfaAuthenticated":"false"}}}`,
			r.arn, r.key, r.t.Add(-time.Minute).Format(time.RFC3339))
	}
	errs := ""
	if r.errorCode != "" {
		errs = fmt.Sprintf(`"errorCode":%q,"errorMessage":"The security token included in the request is invalid.",`, r.errorCode)
	}
	req, resp := cmpOr(r.req, "null"), cmpOr(r.resp, "null")
	return fmt.Sprintf(`{"eventVersion":"1.09","userIdentity":%s,"eventTime":%q,"eventSource":"%s.amazonaws.com","eventName":%q,"awsRegion":"us-east-1","sourceIPAddress":%q,"userAgent":%q,%s"requestParameters":%s,"responseElements":%s,"requestID":"%d","eventID":"%d","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"123456789012","eventCategory":"Management"}`,
		ident, r.t.UTC().Format(time.RFC3339), r.service, r.name, r.src, r.ua, errs, req, resp, r.t.UnixNano(), r.t.UnixNano()+1)
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// writeTrail writes records as CloudTrail delivers them: gzipped
// {"Records":[…]} files under AWSLogs/ACCOUNT/CloudTrail/REGION/Y/M/D/.
func writeTrail(t *testing.T, root, name string, recs []ctRecord) {
	t.Helper()
	day := recs[0].t.UTC()
	dir := filepath.Join(root, "AWSLogs", "123456789012", "CloudTrail", "us-east-1", day.Format("2006"), day.Format("01"), day.Format("02"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, r := range recs {
		parts = append(parts, r.json())
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	fmt.Fprintf(zw, `{"Records":[%s]}`, strings.Join(parts, ","))
	zw.Close()
	file := filepath.Join(dir, "123456789012_CloudTrail_us-east-1_"+day.Format("20060102T1504Z")+"_"+name+".json.gz")
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A CloudTrail review: the key's owner uses it from its office network for
// ten days, office hours; after the leak, at night, an intruder maps the account, creates a key
// for another user, assumes the deploy role and stops the trail; the
// session key is then used (in a file read before the one that created
// it), and after the rotation the intruder retries the old key.
func TestReviewCloudTrail(t *testing.T) {
	const (
		key     = "AKIAORDERSKEY0000001"
		newKey  = "AKIABACKDOOR00000007"
		session = "ASIADEPLOYSESSION001"
		arn     = "arn:aws:iam::123456789012:user/orders"
		cli     = "aws-cli/2.15.0 Python/3.11.6 Linux/6.5 exe/x86_64.ubuntu.22"
		kali    = "aws-cli/2.15.0 Python/3.11.6 Linux/6.6.9-amd64 exe/x86_64.kali.2024"
		evil    = "198.51.100.77"
	)
	leak := time.Date(2026, 3, 14, 1, 0, 0, 0, time.UTC)
	rot := leak.Add(6 * time.Hour)
	root := t.TempDir()
	for d := 10; d >= 1; d-- {
		var recs []ctRecord
		day := leak.Truncate(24 * time.Hour).Add(-time.Duration(d) * 24 * time.Hour)
		for h := 9; h < 18; h++ {
			at := day.Add(time.Duration(h) * time.Hour)
			recs = append(recs,
				ctRecord{t: at.Add(3 * time.Minute), key: key, arn: arn, user: "orders", src: "10.0.4.17", ua: cli, service: "s3", name: "GetObject",
					req: `{"bucketName":"orders-exports","key":"daily.csv"}`},
				ctRecord{t: at.Add(4 * time.Minute), key: key, arn: arn, user: "orders", src: "10.0.4.17", ua: cli, service: "s3", name: "PutObject",
					req: `{"bucketName":"orders-exports","key":"daily.csv"}`})
		}
		writeTrail(t, root, fmt.Sprintf("base%02d", d), recs)
	}
	at := func(m int) time.Time { return leak.Add(2*time.Hour + time.Duration(m)*time.Minute) }
	attack := []ctRecord{
		{t: at(0), key: key, arn: arn, user: "orders", src: evil, ua: kali, service: "sts", name: "GetCallerIdentity"},
		{t: at(1), key: key, arn: arn, user: "orders", src: evil, ua: kali, service: "iam", name: "ListUsers"},
		{t: at(2), key: key, arn: arn, user: "orders", src: evil, ua: kali, service: "iam", name: "CreateAccessKey",
			req: `{"userName":"backup-svc"}`, resp: fmt.Sprintf(`{"accessKey":{"accessKeyId":%q,"status":"Active","userName":"backup-svc","createDate":"Mar 14, 2026 10:02:00 AM"}}`, newKey)},
		{t: at(3), key: key, arn: arn, user: "orders", src: evil, ua: kali, service: "sts", name: "AssumeRole",
			req:  `{"roleArn":"arn:aws:iam::123456789012:role/deploy","roleSessionName":"s1"}`,
			resp: fmt.Sprintf(`{"credentials":{"accessKeyId":%q,"sessionToken":"HIDDEN_DUE_TO_SECURITY_REASONS","expiration":"Mar 14, 2026, 11:03:00 AM"},"assumedRoleUser":{"assumedRoleId":"AROADEPLOY0000000001:s1","arn":"arn:aws:sts::123456789012:assumed-role/deploy/s1"}}`, session)},
		{t: at(5), key: key, arn: arn, user: "orders", src: evil, ua: kali, service: "cloudtrail", name: "StopLogging",
			req: `{"name":"arn:aws:cloudtrail:us-east-1:123456789012:trail/management"}`},
	}
	writeTrail(t, root, "zz-attack", attack)
	var sessionUse []ctRecord
	for i := range 4 {
		sessionUse = append(sessionUse, ctRecord{t: at(10 + i), key: session, arn: "arn:aws:sts::123456789012:assumed-role/deploy/s1", src: evil, ua: kali,
			service: "s3", name: "GetObject", req: `{"bucketName":"prod-backups","key":"db.sql.gz"}`})
	}
	sessionUse = append(sessionUse, ctRecord{t: rot.Add(time.Hour), key: newKey, arn: "arn:aws:iam::123456789012:user/backup-svc", user: "backup-svc", src: evil, ua: kali, service: "s3", name: "ListBuckets"})
	writeTrail(t, root, "aa-session", sessionUse)
	writeTrail(t, root, "zz-retry", []ctRecord{{t: rot.Add(2 * time.Hour), key: key, arn: arn, user: "orders", src: evil, ua: kali, service: "sts", name: "GetCallerIdentity", errorCode: "InvalidClientTokenId"}})

	glob := filepath.Join(root, "AWSLogs", "**", "*.json.gz")
	r := run(t, nil, "", "review", "--logs", glob, "--credential", key, "--leaked-at", leak.Format(time.RFC3339), "--rotated-at", rot.Format(time.RFC3339), "--format", "json")
	rep := decodeReview(t, r)
	if rep.Credential != key || !rep.HasBaseline || rep.Windows.Baseline.Events != 180 || rep.Windows.Exposure.Events != 5 || rep.Windows.After.Events != 1 {
		t.Fatalf("windows %+v", rep.Windows)
	}
	want := map[string]string{
		"sensitive-action":     "critical " + key + " did cloudtrail:StopLogging (logging tampering)",
		"new-source":           "high " + key + " was used from " + evil,
		"new-user-agent":       "high",
		"use-after-revocation": "high",
		"derived-credential":   "access-key " + newKey,
		"off-hours":            "(03:00 UTC); before the leak it was active at 09:00–17:59 UTC",
	}
	for kind, frag := range want {
		if fs := rep.findings(kind); len(fs) == 0 || !strings.Contains(strings.Join(fs, "\n"), frag) {
			t.Errorf("%s: want %q in\n%s", kind, frag, rep.dump())
		}
	}
	rel := map[string]int{}
	for i, x := range rep.Related {
		rel[x.Credential] = i
	}
	if len(rep.Related) != 2 {
		t.Fatalf("related %+v", rep.Related)
	}
	s := rep.Related[rel[session]]
	if s.Kind != "session" || !s.CreatedAt.Equal(at(3)) || s.Activity.Events != 4 || s.Activity.Sources[0] != evil || len(s.Evidence) != 1 || !strings.HasSuffix(s.Evidence[0].File, "zz-attack.json.gz") {
		t.Errorf("session %+v", s)
	}
	k := rep.Related[rel[newKey]]
	if k.Kind != "access-key" || k.Activity.Events != 1 || k.Activity.AfterRotation != 1 {
		t.Errorf("new key %+v", k)
	}
	stop := false
	for _, m := range rep.Timeline {
		if m.Action == "cloudtrail:StopLogging" && m.Window == "exposure" && len(m.Kinds) > 0 {
			stop = true
		}
	}
	if !stop {
		t.Errorf("StopLogging not on the timeline: %+v", rep.Timeline)
	}
	// The same review, the glob given as a directory tree without **: no
	// file, exit 2.
	if bad := run(t, nil, "", "review", "--logs", filepath.Join(root, "*.json.gz"), "--credential", key); bad.code != 2 || !strings.Contains(bad.stderr, "matches no file") {
		t.Errorf("empty glob: exit %d %s", bad.code, bad.stderr)
	}
}

func TestReviewUsage(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"trail.json": `{"Records":[]}`})
	logsGlob := filepath.Join(dir, "*.json")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"review", "--logs", logsGlob}, "--credential REF is required"},
		{[]string{"review", "--credential", "AKIAX"}, "--logs GLOB is required"},
		{[]string{"review", "--logs", logsGlob, "--credential", "k", "--leaked-at", "yesterday"}, `--leaked-at "yesterday": want RFC 3339`},
		{[]string{"review", "--logs", logsGlob, "--credential", "k", "--rotated-at", "2026-13-01"}, "--rotated-at"},
		{[]string{"review", "--logs", logsGlob, "--credential", "k", "--leaked-at", "2026-03-02T00:00:00Z", "--rotated-at", "2026-03-01T00:00:00Z"}, "before --leaked-at"},
		{[]string{"review", "--logs", logsGlob, "--credential", "k", "--log-format", "syslog"}, `--log-format "syslog"`},
		{[]string{"review", "--logs", logsGlob, "--credential", "k", "--format", "md"}, "--format"},
		{[]string{"review", "--logs", logsGlob, "--credential", "k", "--baseline", "-1h"}, "--baseline"},
		{[]string{"review", "--logs", filepath.Join(dir, "none-*.json"), "--credential", "k"}, "matches no file"},
		{[]string{"incident", "review", "INC-20260101-0000"}, "INC-20260101-0000"},
	} {
		r := run(t, nil, "", tt.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tt.args, r.code, r.stderr, tt.want)
		}
	}
	// An empty log is a clean review that says it has no baseline.
	r := run(t, nil, "", "review", "--logs", logsGlob, "--log-format", "cloudtrail", "--credential", "AKIAORDERSKEY0000001")
	if r.code != 0 || !strings.Contains(r.stdout, "no-baseline") || r.stderr != "" {
		t.Errorf("empty review: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

func TestReviewProgressOnlyOnTerminal(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"trail.json": `{"Records":[]}`})
	var out, errb bytes.Buffer
	yes := true
	Main(context.Background(), Env{Args: []string{"review", "--logs", filepath.Join(dir, "*.json"), "--credential", "k"}, Stdout: &out, Stderr: &errb, Terminal: &yes,
		Getenv: func(string) string { return "" }})
	if !strings.Contains(errb.String(), "reading 1 log file(s) for k") {
		t.Fatalf("no progress on a terminal: %q", errb.String())
	}
}

// incident review takes the incident's identity, leak time and inventory;
// it reads the logs again when given, and the uses stored at open when
// not.
func TestIncidentReview(t *testing.T) {
	env, invPath, password := shopIncident(t)
	r := run(t, env, "", "incident", "open", "--secret-env", "LEAKED", "--inventory", invPath, "--logs", env["PG_LOGS"])
	if r.code != 0 {
		t.Fatalf("open: exit %d: %s", r.code, r.stderr)
	}
	id := strings.TrimSpace(r.stdout)
	for _, args := range [][]string{
		{"incident", "review", id, "--logs", env["PG_LOGS"], "--format", "json"},
		{"incident", "review", id, "--format", "json"},
	} {
		out := run(t, env, "", args...)
		if strings.Contains(out.stdout+out.stderr, password) {
			t.Fatal("the review printed the password")
		}
		rep := decodeReview(t, out)
		// The leak is the first commit, long before these logs: no use
		// before it, so no baseline, and the psql session is a source no
		// consumer declares.
		if !strings.HasPrefix(rep.Credential, "orders_svc_") || rep.HasBaseline || rep.Windows.Exposure.Events < 3 || len(rep.findings("no-baseline")) != 1 {
			t.Errorf("%v: %+v\n%s", args, rep.Windows, rep.dump())
		}
		if ns := rep.findings("new-source"); len(ns) == 0 || !strings.Contains(strings.Join(ns, "\n"), `"psql"`) {
			t.Errorf("%v: new-source %v", args, ns)
		}
	}
	// Logs of which no file can be read are not a clean review.
	garbage := filepath.Join(t.TempDir(), "garbage.log")
	writeFiles(t, filepath.Dir(garbage), map[string]string{"garbage.log": "not a log line\n"})
	out := run(t, env, "", "incident", "review", id, "--logs", garbage)
	if out.code != 2 || !strings.Contains(out.stderr, "no log file could be read (0 log files read, 0 unreadable, 1 unparseable)") {
		t.Errorf("incident review of unparseable logs: exit %d, stderr %q", out.code, out.stderr)
	}
}

// A review says how many of its log files it read, could not read, and
// could not parse; when it read none, it is an input error, not "0 events".
func TestReviewCountsTheLogFilesItCouldNotRead(t *testing.T) {
	dir := t.TempDir()
	rec := ctRecord{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), key: "AKIAORDERSKEY0000001", arn: "arn:aws:iam::123456789012:user/orders",
		user: "orders", src: "10.0.4.17", ua: "aws-cli/2.15.0", service: "s3", name: "GetObject"}
	writeFiles(t, dir, map[string]string{"trail.json": `{"Records":[` + rec.json() + `]}`, "garbage.log": "\x00\x01 nothing rekey reads\n"})
	mkfifo(t, dir, "pipe.log")
	for _, c := range []struct {
		glob, want string
	}{
		{"garbage.log", "no log file could be read (0 log files read, 0 unreadable, 1 unparseable)"},
		{"*.log", "no log file could be read (0 log files read, 1 unreadable, 1 unparseable)"},
	} {
		r := runWithin(t, nil, "review", "--logs", filepath.Join(dir, c.glob), "--credential", "k")
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q, want %q", c.glob, r.code, r.stderr, c.want)
		}
	}
	r := runWithin(t, nil, "review", "--logs", filepath.Join(dir, "*"), "--credential", "k", "--format", "json")
	var got struct {
		Logs *incident.LogTally `json:"logs"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != 0 || got.Logs == nil || *got.Logs != (incident.LogTally{Read: 1, Unreadable: 1, Unparseable: 1}) {
		t.Fatalf("exit %d, logs %+v (%v)\n%s\n%s", r.code, got.Logs, err, r.stdout, r.stderr)
	}
	for _, want := range []string{"pipe.log: unreadable, skipped: ", "garbage.log: not a log format rekey reads, skipped"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	r = runWithin(t, nil, "review", "--logs", filepath.Join(dir, "*"), "--credential", "k")
	if r.code != 0 || !strings.Contains(r.stdout, "LOGS    1 log file read, 1 unreadable, 1 unparseable") {
		t.Errorf("table: exit %d\n%s", r.code, r.stdout)
	}
}
