package detect

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

func testRules() []*Rule {
	return []*Rule{
		{ID: "gh", Provider: "github", Keywords: []string{"ghp_"}, Severity: High,
			Regex: regexp.MustCompile(`\b(ghp_[A-Za-z0-9]{36})\b`)},
		{ID: "akid", Provider: "aws", Keywords: []string{"akia"}, Severity: High,
			Regex: regexp.MustCompile(`\b(AKIA[A-Z2-7]{16})\b`)},
		{ID: "aksecret", Provider: "aws", Keywords: []string{"aws_secret", "secret_access"}, Severity: Critical,
			Regex:    regexp.MustCompile(`(?i)aws_?secret_?access_?key\s*[:=]\s*["']?([A-Za-z0-9/+]{40})`),
			PairWith: "akid", PairDistance: 400, MinEntropy: 3.5},
		{ID: "pem", Provider: "pem", Keywords: []string{"-----begin"}, Severity: Critical, Window: 8192,
			Regex: regexp.MustCompile(`-----BEGIN (?:RSA )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA )?PRIVATE KEY-----`)},
		{ID: "generic", Provider: "generic", Keywords: []string{"password", "token"}, Severity: Medium, Generic: true, MinEntropy: 2.5,
			Regex: regexp.MustCompile(`(?i)(?:password|token)\s*[:=]\s*["']?(?P<secret>[^\s"']{8,})`)},
		{ID: "dsn", Provider: "postgres", Keywords: []string{"postgres://"}, Severity: High,
			Regex: regexp.MustCompile(`postgres://(?P<user>[^:@/\s]+):(?P<secret>[^@\s]+)@(?P<host>[^/:\s]+)`)},
	}
}

func mustNew(t *testing.T) *Detector {
	t.Helper()
	d, err := New(testRules())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestScanFindsOnlyNearKeywords(t *testing.T) {
	d := mustNew(t)
	data := []byte("x := 1\nGITHUB=ghp_abcdefghijklmnopqrstuvwxyz0123456789\nno tokens here\n")
	fs := d.Scan(data)
	if len(fs) != 1 || fs[0].Rule.ID != "gh" {
		t.Fatalf("got %+v", fs)
	}
	if got := string(data[fs[0].Start:fs[0].End]); got != "ghp_abcdefghijklmnopqrstuvwxyz0123456789" {
		t.Fatalf("offsets point at %q", got)
	}
}

func TestSpecificRuleWinsOverGeneric(t *testing.T) {
	d := mustNew(t)
	fs := d.Scan([]byte(`token: "ghp_abcdefghijklmnopqrstuvwxyz0123456789"`))
	if len(fs) != 1 || fs[0].Rule.ID != "gh" {
		t.Fatalf("want only the github finding, got %d: %+v", len(fs), fs)
	}
}

func TestPairAndIdentityHints(t *testing.T) {
	d := mustNew(t)
	data := []byte("[default]\naws_access_key_id = AKIAZ7VRSQ5TJN2LQXH4\naws_secret_access_key = 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\nurl=postgres://orders_svc:S3cure-Pa55@db.internal:5432/shop\n")
	fs := d.Scan(data)
	byRule := map[string]Finding{}
	for _, f := range fs {
		byRule[f.Rule.ID] = f
	}
	sk, ok := byRule["aksecret"]
	if !ok || sk.Pair < 0 || fs[sk.Pair].Rule.ID != "akid" {
		t.Fatalf("secret key not paired: %+v", fs)
	}
	dsn := byRule["dsn"]
	if dsn.Identity["user"] != "orders_svc" || dsn.Identity["host"] != "db.internal" || string(dsn.Secret.Reveal()) != "S3cure-Pa55" {
		t.Fatalf("dsn hints %v", dsn.Identity)
	}
}

func TestMultiLineWindow(t *testing.T) {
	d := mustNew(t)
	key := "-----BEGIN RSA PRIVATE KEY-----\n" + strings.Repeat("MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n", 20) + "-----END RSA PRIVATE KEY-----\n"
	fs := d.Scan([]byte("# deploy key\n" + key))
	if len(fs) != 1 || fs[0].Rule.ID != "pem" {
		t.Fatalf("got %+v", fs)
	}
}

func TestGenericFiltersPlaceholders(t *testing.T) {
	d := mustNew(t)
	for _, line := range []string{
		`password: "${DB_PASSWORD}"`,
		`password = "changeme123"`,
		`token: ${{ secrets.DEPLOY_TOKEN }}`,
		`password: "{{ .Values.db.password }}"`,
		`password="<your-password>"`,
		`token = "xxxxxxxxxxxxxxxx"`,
		`password = os.Getenv("DB_PASSWORD")`,
		`token = 0f2b6c1d8e9a7b3c4d5e6f708192a3b4c5d6e7f8`,
		`token = 123e4567-e89b-12d3-a456-426614174000`,
	} {
		if fs := d.Scan([]byte(line)); len(fs) != 0 {
			t.Errorf("%s: want nothing, got %s", line, fs[0].Rule.ID)
		}
	}
	if fs := d.Scan([]byte(`password: "Tr0ub4dor&3-horse"`)); len(fs) != 1 {
		t.Errorf("real password missed")
	}
}

func TestNewRejectsBadRules(t *testing.T) {
	bad := [][]*Rule{
		{{ID: "x", Provider: "p", Severity: Low, Regex: regexp.MustCompile(`x`)}},
		{{ID: "x", Provider: "p", Severity: Low, Regex: regexp.MustCompile(`x`), Keywords: []string{"ABC"}}},
		{{ID: "x", Provider: "p", Severity: Low, Regex: regexp.MustCompile(`x`), Keywords: []string{"abc"}}, {ID: "x", Provider: "p", Severity: Low, Regex: regexp.MustCompile(`x`), Keywords: []string{"abc"}}},
		{{ID: "x", Provider: "p", Severity: Low, Regex: regexp.MustCompile(`x`), Keywords: []string{"abc"}, PairWith: "nope"}},
	}
	for i, rs := range bad {
		if _, err := New(rs); err == nil {
			t.Errorf("case %d: want error", i)
		}
	}
}

func TestEntropy(t *testing.T) {
	if e := Entropy([]byte("aaaa")); e != 0 {
		t.Fatal(e)
	}
	if e := Entropy([]byte("abcd")); e != 2 {
		t.Fatal(e)
	}
}

func TestSameSpanKeepsTheSelfIdentifyingRule(t *testing.T) {
	rules := []*Rule{
		{ID: "auth-field", Provider: "docker", Keywords: []string{"password"}, Severity: High,
			Regex: regexp.MustCompile(`password: "([^"]+)"`)},
		{ID: "hub-token", Provider: "docker", Keywords: []string{"dckr_pat_"}, Severity: High,
			Regex: regexp.MustCompile(`(dckr_pat_[A-Za-z0-9_-]{27})`)},
	}
	d, err := New(rules)
	if err != nil {
		t.Fatal(err)
	}
	fs := d.Scan([]byte(`registry=docker.io user=ci password: "dckr_pat_Ab3dEf6hIj9kLm2nOp5qRs8tUv1"`))
	if len(fs) != 1 || fs[0].Rule.ID != "hub-token" {
		t.Fatalf("got %d findings, first %v", len(fs), fs)
	}
}

func TestLongLineWindowIsCapped(t *testing.T) {
	d := mustNew(t)
	pad := strings.Repeat("a,", 3<<20)
	line := []byte(pad + ` token: "Zx9-Qw3-Er7-Ty1-Ui5" ` + pad + `GITHUB=ghp_abcdefghijklmnopqrstuvwxyz0123456789 ` + pad)
	fs := d.Scan(line)
	if len(fs) != 2 || fs[0].Rule.ID != "generic" || fs[1].Rule.ID != "gh" {
		t.Fatalf("got %+v", fs)
	}
}

func TestAnchoredRuleMatchesLikeWindowed(t *testing.T) {
	mk := func(a Anchor) *Detector {
		d, err := New([]*Rule{{ID: "g", Provider: "generic", Keywords: []string{"password", "_pass"}, Severity: Medium, Generic: true, MinEntropy: 2.5, Anchor: a,
			Regex: regexp.MustCompile(`(?m)(?:^[ \t]*ENV[ \t]+(?i:[\w]*?(?:password|_pass))[ \t]+|(?i:password|_pass)\s*[:=]\s*)["']?(?P<secret>[^\s"',}]{8,64})`)}})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	windowed, anchored := mk(0), mk(AtKeyword|AtLineStart)
	inputs := []string{
		"DB_PASSWORD=Xq7-vN2-pLk9",
		"  ENV DB_PASSWORD Xq7-vN2-pLk9\n",
		"a=1\nuser_pass: 'Qw8rT5yU2iO9'\nsmtp_password = \"Zx9!Lm3#Pq7\"\n",
		strings.Repeat("{csrfToken:t,password:e.pw},", 2000) + `password:"Rt8!kQ2m#Lx9"`,
	}
	for _, in := range inputs {
		w, a := windowed.Scan([]byte(in)), anchored.Scan([]byte(in))
		if len(w) != len(a) {
			t.Fatalf("%.40q: windowed %d findings, anchored %d", in, len(w), len(a))
		}
		for i := range w {
			if w[i].Start != a[i].Start || w[i].End != a[i].End {
				t.Errorf("%.40q: finding %d at %d-%d windowed, %d-%d anchored", in, i, w[i].Start, w[i].End, a[i].Start, a[i].End)
			}
		}
		if len(w) == 0 {
			t.Errorf("%.40q: nothing found", in)
		}
	}
}

// TestWordStart drops an anchored match whose keyword continues a word,
// and keeps it at a word's start (the first byte of the data included).
func TestWordStart(t *testing.T) {
	d, err := New([]*Rule{{ID: "prose", Provider: "generic", Keywords: []string{"secret"}, Severity: Medium,
		Anchor: AtKeyword, WordStart: true, Regex: regexp.MustCompile(`(?i)secrets?: (?P<secret>\S{8,})`)}})
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]int{
		"secret: a1b2c3d4e5":            1,
		"the secret: a1b2c3d4e5":        1,
		"keyVaultSecrets: a1b2c3d4e5":   0,
		"my_secret: a1b2c3d4e5":         0,
		"(secret: a1b2c3d4e5)":          1,
		"x\nsecrets: a1b2c3d4e5 secret": 1,
	} {
		if got := len(d.Scan([]byte(in))); got != want {
			t.Errorf("%q: %d findings, want %d", in, got, want)
		}
	}
}

// TestScanReusesNoStateBetweenBuffers: the candidate lists are reused
// between scans; a scan must see only its own buffer's candidates, however
// many (past keepSpans) the previous buffer had.
func TestScanReusesNoStateBetweenBuffers(t *testing.T) {
	d := mustNew(t)
	var dense strings.Builder
	for i := range keepSpans * 3 {
		fmt.Fprintf(&dense, "password = Xk%06dQzr\ntoken: ghp_abcdefghijklmnopqrstuvwxyz0123456789\n\n", i)
	}
	second := []byte("db: postgres://app:Vq8rT2mLx9pW@pg-main/x\npassword = hunter2hunter2ok\n")
	fresh := mustNew(t).Scan(second)
	for range 3 {
		if n := len(d.Scan([]byte(dense.String()))); n < keepSpans*3 {
			t.Fatalf("dense buffer: %d findings, want at least %d", n, keepSpans*3)
		}
		got := d.Scan(second)
		if len(got) != len(fresh) || len(got) != 2 {
			t.Fatalf("after a dense buffer: %d findings, a fresh detector finds %d (want 2)", len(got), len(fresh))
		}
		for i := range got {
			if got[i].Rule.ID != fresh[i].Rule.ID || got[i].Start != fresh[i].Start || got[i].End != fresh[i].End {
				t.Fatalf("finding %d: %s %d-%d, fresh detector %s %d-%d", i, got[i].Rule.ID, got[i].Start, got[i].End, fresh[i].Rule.ID, fresh[i].Start, fresh[i].End)
			}
		}
	}
}
