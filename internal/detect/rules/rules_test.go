package rules

import (
	"encoding/base32"
	"fmt"
	"hash/crc32"
	"math/big"
	"regexp"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/detect"
	"github.com/rekeyhq/rekey/internal/token"
)

func newDetector(t testing.TB) *detect.Detector {
	t.Helper()
	d, err := detect.New(All())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var kebab = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)

func TestRuleSetShape(t *testing.T) {
	rules := All()
	if len(rules) < 60 {
		t.Errorf("%d rules, want at least 60", len(rules))
	}
	seen := map[string]bool{}
	for _, r := range rules {
		if seen[r.ID] {
			t.Errorf("duplicate id %s", r.ID)
		}
		seen[r.ID] = true
		if !kebab.MatchString(r.ID) {
			t.Errorf("%s: id is not kebab-case", r.ID)
		}
		if r.Description == "" || len(r.Examples) == 0 || len(r.NoMatch) == 0 {
			t.Errorf("%s: needs a description, examples and near-misses", r.ID)
		}
		// A rule with neither a validator nor an entropy floor would report
		// "ghp_xxxxxxxx…" placeholders as credentials.
		if r.Validate == nil && r.MinEntropy == 0 {
			t.Errorf("%s: no validator and no entropy floor", r.ID)
		}
	}
	if _, err := detect.New(rules); err != nil {
		t.Fatal(err)
	}
}

// isWordByte is what a credential's first or last character must not be
// glued to: a match that starts or stops inside a longer word has the
// wrong boundaries.
func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// gluedFormats write the secret right after a word: Telegram's API puts the
// token after "bot" in the URL path, mysql takes -pPASSWORD.
var gluedFormats = map[string]bool{"telegram-bot-token": true, "cli-password-flag": true}

func TestExamplesMatch(t *testing.T) {
	d := newDetector(t)
	for _, r := range d.Rules() {
		for i, ex := range r.Examples {
			var got *detect.Finding
			fs := d.Scan([]byte(ex))
			for j := range fs {
				if fs[j].Rule.ID == r.ID {
					got = &fs[j]
					break
				}
			}
			if got == nil {
				var ids []string
				for _, f := range fs {
					ids = append(ids, f.Rule.ID)
				}
				t.Errorf("%s example %d: no finding (got %v)\n%s", r.ID, i, ids, ex)
				continue
			}
			val := string(got.Secret.Reveal())
			if ex[got.Start:got.End] != val {
				t.Errorf("%s example %d: offsets do not point at the secret", r.ID, i)
			}
			if !gluedFormats[r.ID] && isWordByte(val[0]) && got.Start > 0 && isWordByte(ex[got.Start-1]) ||
				isWordByte(val[len(val)-1]) && got.End < len(ex) && isWordByte(ex[got.End]) {
				t.Errorf("%s example %d: secret %q is cut out of a longer word", r.ID, i, val)
			}
		}
	}
}

// TestKeywordsAreInsideMatches checks that every example's match holds one
// of its rule's keywords: the prefilter is only sound if a match cannot
// exist without one.
func TestKeywordsAreInsideMatches(t *testing.T) {
	// The .pypirc rule's keywords mark the file ([distutils], [pypi]); its
	// match is any section of that file, found within the rule's Window.
	fileMarked := map[string]bool{"pypirc-password": true}
	for _, r := range All() {
		if fileMarked[r.ID] {
			continue
		}
		for i, ex := range r.Examples {
			found := false
			for _, m := range r.Regex.FindAllString(ex, -1) {
				for _, k := range r.Keywords {
					if strings.Contains(strings.ToLower(m), k) {
						found = true
					}
				}
			}
			if !found {
				t.Errorf("%s example %d: no keyword inside the match", r.ID, i)
			}
		}
	}
}

func TestNoMatchIsQuiet(t *testing.T) {
	d := newDetector(t)
	for _, r := range d.Rules() {
		for i, nm := range r.NoMatch {
			for _, f := range d.Scan([]byte(nm)) {
				t.Errorf("%s near-miss %d: rule %s reported %q\n%s", r.ID, i, f.Rule.ID, f.Secret.Reveal(), nm)
			}
		}
	}
}

// TestSecretBoundaries pins the exact secret some formats yield, where the
// boundary is the point of the rule (a password inside a URI, a key inside
// a connection string, a value inside quotes).
func TestSecretBoundaries(t *testing.T) {
	d := newDetector(t)
	gh := checksummed("ghp_", "bound-1")
	storage := fake("bound-az", b64, 86) + "=="
	for _, c := range []struct{ rule, in, secret string }{
		{"github-pat-classic", `token: "` + gh + `"`, gh},
		{"postgres-uri", "postgres://app:p%40ss-W0rd-9x@db:5432/app", "p%40ss-W0rd-9x"},
		{"redis-uri", "redis://:Zx81-kq0P-s9@cache:6379/0", "Zx81-kq0P-s9"},
		{"mysql-go-dsn", `"orders:Qm4-zT8v-Lp2@tcp(db:3306)/orders"`, "Qm4-zT8v-Lp2"},
		{"jdbc-url", "jdbc:postgresql://pg:5432/app?user=app&password=Rk7-w9Qz-4Lm&ssl=true", "Rk7-w9Qz-4Lm"},
		{"ado-net-connection-string", "Server=sql01;Database=app;User ID=app;Password=Rk7-w9Qz-4Lm;", "Rk7-w9Qz-4Lm"},
		{"azure-storage-account-key", "AccountName=acme;AccountKey=" + storage + ";EndpointSuffix=core.windows.net", storage},
		{"generic-password", `"password": "Tr0ub4dor&3-horse",`, "Tr0ub4dor&3-horse"},
		{"generic-password-bare", "DB_PASSWORD=Tr0ub4dor-3-horse # prod", "Tr0ub4dor-3-horse"},
		{"generic-token-bare", "https://x.io/a?token=Ab3dE5gH7jK9mN1p&x=1", "Ab3dE5gH7jK9mN1p"},
		{"generic-xml-element", "<db.password>Tr0ub4dor-3-horse</db.password>", "Tr0ub4dor-3-horse"},
	} {
		fs := d.Scan([]byte(c.in))
		if len(fs) != 1 || fs[0].Rule.ID != c.rule || string(fs[0].Secret.Reveal()) != c.secret {
			var got []string
			for _, f := range fs {
				got = append(got, f.Rule.ID+"="+string(f.Secret.Reveal()))
			}
			t.Errorf("%s: want one %s finding %q, got %v", c.in, c.rule, c.secret, got)
		}
	}
}

// base62CRCIndependent computes the GitHub/npm checksum with math/big, as
// an implementation independent of the one under test.
func base62CRCIndependent(body string) string {
	n := new(big.Int).SetUint64(uint64(crc32.ChecksumIEEE([]byte(body))))
	s := n.Text(62) // math/big's base-62 digits are 0-9a-zA-Z
	var out []byte
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z':
			c = c - 'a' + 'A'
		case c >= 'A' && c <= 'Z':
			c = c - 'A' + 'a'
		}
		out = append(out, c)
	}
	return strings.Repeat("0", 6-len(out)) + string(out)
}

func TestChecksumValidators(t *testing.T) {
	for _, c := range []struct {
		prefix string
		valid  func([]byte) bool
	}{
		{"ghp_", checksum62(4)}, {"gho_", checksum62(4)}, {"ghu_", checksum62(4)}, {"ghs_", checksum62(4)},
		{"ghr_", checksum62(4)}, {"npm_", checksum62(4)},
	} {
		for seed := range 50 {
			body := fake(fmt.Sprint("cs-", c.prefix, seed), alnum, 30)
			tok := c.prefix + body + base62CRCIndependent(body)
			if tok != checksummed(c.prefix, fmt.Sprint("cs-", c.prefix, seed)) {
				t.Fatalf("test helper and independent checksum disagree on %s", tok)
			}
			if !c.valid([]byte(tok)) {
				t.Fatalf("%s: valid token rejected", tok)
			}
			// Any one character changed, in the body or the checksum, fails.
			for i := len(c.prefix); i < len(tok); i++ {
				b := []byte(tok)
				b[i] = alnum[(strings.IndexByte(alnum, b[i])+1+seed)%62]
				if b[i] == tok[i] {
					continue
				}
				if c.valid(b) {
					t.Errorf("%s: flipped character %d accepted", b, i)
				}
			}
		}
	}
	if checksum62(4)([]byte("ghp_" + strings.Repeat("A", 35))) {
		t.Error("short token accepted")
	}
}

func TestAtlassianChecksum(t *testing.T) {
	tok := withCRC32Hex("ATBB" + fake("atl-1", alnum, 24))
	if !crc32Hex([]byte(tok)) || crc32Hex([]byte(flipLast(tok))) {
		t.Fatal("bitbucket checksum")
	}
}

// awsKeyIDIndependent lays out an access key id from the published
// description: base32 of 80 bits whose first bit is 1 and whose next 40
// bits are the account id.
func awsKeyIDIndependent(prefix string, account uint64, low uint64) string {
	n := new(big.Int).Lsh(big.NewInt(1), 79)
	n.Or(n, new(big.Int).Lsh(new(big.Int).SetUint64(account), 39))
	n.Or(n, new(big.Int).SetUint64(low&(1<<39-1)))
	b := n.FillBytes(make([]byte, 10))
	return prefix + base32.StdEncoding.EncodeToString(b)
}

func TestAWSAccountFromKeyID(t *testing.T) {
	d := newDetector(t)
	for _, acct := range []uint64{123456789012, 1, 999999999999, 609629065308} {
		id := awsKeyIDIndependent("AKIA", acct, 0x5a5a5a5a5a)
		if got, ok := awsAccount([]byte(id)); !ok || got != fmt.Sprintf("%012d", acct) {
			t.Errorf("%s: account %q, want %012d", id, got, acct)
		}
		if gen := fakeAWSKeyID("ASIA", acct, "acct"); gen[4:] == "" {
			t.Fatal("empty")
		} else if got, _ := awsAccount([]byte(gen)); got != fmt.Sprintf("%012d", acct) {
			t.Errorf("fakeAWSKeyID(%d) decodes to %s", acct, got)
		}
	}
	id := awsKeyIDIndependent("AKIA", 123456789012, 0x3a5c96e1f7)
	secret := fake("acct-secret", alnum+"/+", 40)
	data := "[prod]\naws_access_key_id = " + id + "\naws_secret_access_key = " + secret + "\nregion = eu-west-1\n"
	fs := d.Scan([]byte(data))
	if len(fs) != 2 {
		t.Fatalf("want key id and secret, got %d findings", len(fs))
	}
	kid, sk := fs[0], fs[1]
	if kid.Rule.ID != "aws-access-key-id" || sk.Rule.ID != "aws-secret-access-key" {
		t.Fatalf("got %s, %s", kid.Rule.ID, sk.Rule.ID)
	}
	if kid.Identity["account"] != "123456789012" || kid.Identity["kind"] != "access-key" || kid.Identity["key_id"] != id {
		t.Errorf("key id hints %v", kid.Identity)
	}
	if sk.Pair != 0 || kid.Pair != 1 || sk.Identity["account"] != "123456789012" || sk.Identity["key_id"] != id {
		t.Errorf("secret not paired with its key id: pair %d, hints %v", sk.Pair, sk.Identity)
	}
	// Ids of the older generation do not hold the account.
	old := "AKIAI" + fake("old-gen", base32Std[:16], 15)
	if acct, ok := awsAccount([]byte(old)); ok {
		t.Errorf("%s: decoded account %s from an old-generation id", old, acct)
	}
}

func TestIdentityHints(t *testing.T) {
	d := newDetector(t)
	for _, c := range []struct {
		rule, in string
		want     map[string]string
	}{
		{"postgres-uri", "DATABASE_URL=postgres://orders_svc:Zq8-rT1v-N0x@db.internal:5432/shop?sslmode=require",
			map[string]string{"user": "orders_svc", "host": "db.internal", "port": "5432", "database": "shop"}},
		{"mongodb-uri", "mongodb+srv://app-rw:Zq8-rT1v-N0x@cluster0.ab1cd.mongodb.net/orders",
			map[string]string{"user": "app-rw", "host": "cluster0.ab1cd.mongodb.net", "database": "orders"}},
		{"redis-uri", "redis://:Zq8-rT1v-N0x@cache.internal:6380", map[string]string{"host": "cache.internal", "port": "6380"}},
		{"mysql-go-dsn", `"shop:Zq8-rT1v-N0x@tcp(mysql.internal:3306)/shop"`, map[string]string{"user": "shop", "host": "mysql.internal", "port": "3306", "database": "shop"}},
		{"jdbc-url", "jdbc:postgresql://pg.acme.io:5432/orders?password=Zq8-rT1v-N0x&user=orders_app",
			map[string]string{"user": "orders_app", "host": "pg.acme.io", "port": "5432", "database": "orders"}},
		{"ado-net-connection-string", "Server=tcp:sql01.corp,1433;Initial Catalog=app;User ID=app_rw;Password=Zq8-rT1v-N0x;",
			map[string]string{"user": "app_rw", "host": "sql01.corp", "port": "1433"}},
		{"url-basic-auth", "https://ci-bot:Zq8rT1vN0xW3yB6c@git.acme.io/infra.git", map[string]string{"user": "ci-bot", "host": "git.acme.io"}},
		{"netrc-password", "machine nexus.acme.io\n  login deploy\n  password Zq8-rT1v-N0x\n", map[string]string{"user": "deploy", "host": "nexus.acme.io"}},
		{"http-basic-auth-header", "Authorization: Basic " + b64std("deploy-bot:Zq8-rT1v-N0x"), map[string]string{"user": "deploy-bot"}},
		{"slack-webhook-url", "https://hooks.slack.com/services/T0ABCDEFGH/B0ABCDEFGH/" + fake("hint-slack", alnum, 24), map[string]string{"account": "T0ABCDEFGH"}},
		{"azure-storage-account-key", "AccountName=ordersdata;AccountKey=" + fake("hint-az", b64, 86) + "==", map[string]string{"account": "ordersdata"}},
		{"jwt", "token: " + fakeJWT(`{"alg":"RS256"}`, `{"iss":"https://sts.acme.io","sub":"svc-orders"}`, "hint-jwt"), map[string]string{"issuer": "https://sts.acme.io", "subject": "svc-orders"}},
	} {
		var got *detect.Finding
		fs := d.Scan([]byte(c.in))
		for i := range fs {
			if fs[i].Rule.ID == c.rule {
				got = &fs[i]
			}
		}
		if got == nil {
			t.Errorf("%s: no %s finding", c.in, c.rule)
			continue
		}
		for k, v := range c.want {
			if got.Identity[k] != v {
				t.Errorf("%s: hint %s = %q, want %q (all: %v)", c.rule, k, got.Identity[k], v, got.Identity)
			}
		}
	}
	// Hints that come from decoding the token itself.
	for _, r := range All() {
		switch r.ID {
		case "gcp-service-account-key", "grafana-cloud-token", "sentry-org-token", "twilio-api-key":
			fs := d.Scan([]byte(r.Examples[0]))
			var hints map[string]string
			for _, f := range fs {
				if f.Rule.ID == r.ID {
					hints = f.Identity
				}
			}
			want := map[string]map[string]string{
				"gcp-service-account-key": {"user": "orders-api@orders-prod-4412.iam.gserviceaccount.com", "project": "orders-prod-4412"},
				"grafana-cloud-token":     {"account": "918273", "user": "stack-918273-alloy-metrics"},
				"sentry-org-token":        {"account": "acme-shop", "host": "https://sentry.io"},
				"twilio-api-key":          {"account": "AC" + fake("twilio-ac", hexLower, 32)},
			}[r.ID]
			for k, v := range want {
				if hints[k] != v {
					t.Errorf("%s: hint %s = %q, want %q", r.ID, k, hints[k], v)
				}
			}
		}
	}
}

func TestValidators(t *testing.T) {
	for _, c := range []struct {
		name string
		fn   func([]byte) bool
		in   string
		want bool
	}{
		{"jwt", validJWT, fakeJWT(`{"alg":"HS256"}`, `{"sub":"x"}`, "v1"), true},
		{"jwt without alg", validJWT, fakeJWT(`{"typ":"JWT"}`, `{"sub":"x"}`, "v2"), false},
		{"jwt claims not json", validJWT, rawURL64(`{"alg":"HS256"}`) + ".eyJ" + fake("v3", alnum, 20) + "." + fake("v4", alnum, 43), false},
		{"rsa der", derKey, fakePEM("RSA PRIVATE KEY", "v5", 600), true},
		{"rsa encrypted", derKey, fakePEM("RSA PRIVATE KEY", "v6", 600, "Proc-Type: 4,ENCRYPTED", "DEK-Info: AES-128-CBC,00"), false},
		{"not der", derKey, armor("PRIVATE KEY", fakeBytes("v7", 300)), false},
		{"openssh none", plainOpenSSH, fakeOpenSSH("none", "v8"), true},
		{"openssh aes", plainOpenSSH, fakeOpenSSH("aes256-ctr", "v9"), false},
		{"openssh aes encrypted", encryptedKey, fakeOpenSSH("aes256-ctr", "v10"), true},
		{"pgp secret key", pgpSecretKey, fakePGP("v11"), true},
		{"discord", discordBotToken, rawURL64("119012345678901234567") + ".AbCdEf." + fake("v12", alnum, 38), true},
		{"discord not id", discordBotToken, rawURL64("3abcdefghijklmnopq") + ".AbCdEf." + fake("v13", alnum, 38), false},
		{"basic", basicAuth, b64std("svc:Zq8-rT1v-N0x"), true},
		{"basic default", basicAuth, b64std("admin:admin"), false},
		{"password template", plausiblePassword, "${DB_PASSWORD}", false},
		{"password hex", plausiblePassword, fake("v14", hexLower, 32), true},
		{"password default", plausiblePassword, "mysecretpassword", false},
		{"generic path", genericValue, "/etc/ssl/private/key.pem", false},
		{"generic word", genericValue, "AccessToken", false},
		{"generic number", genericValue, "1234567890", false},
		{"generic ok", genericValue, "Zq8-rT1v-N0x", true},
		{"generic secret ref", genericValue, "vault:secret/data/db#password", false},
	} {
		if got := c.fn([]byte(c.in)); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

// TestGoCodeIsQuiet holds lines typical of Go, Python and JS source that
// name credentials without holding one.
func TestGoCodeIsQuiet(t *testing.T) {
	d := newDetector(t)
	for _, line := range []string{
		"token := lexer.Next()",
		"\tif tok := p.token; tok == token.EOF {",
		"func (c *Client) SetToken(token string) {",
		"\tc.token = token",
		"\tsecret, err := hex.DecodeString(s)",
		"\tpassword, ok := u.User.Password()",
		"password = request.form[\"password\"]",
		"const passwordEnv = \"PGPASSWORD\"",
		"type Credentials struct { Password string `json:\"password\"` }",
		"if password != confirmPassword {",
		"\treturn &Token{AccessToken: tok.AccessToken, TokenType: \"Bearer\"}, nil",
		"secretKey: aws.String(os.Getenv(\"AWS_SECRET_ACCESS_KEY\")),",
		"api_key = os.environ.get('API_KEY')",
		"const apiKey = process.env.API_KEY || '';",
		"// The private key is loaded from disk; see loadKey.",
		"log.Printf(\"token=%s expires=%v\", tok, exp)",
		"\tvar secret = make([]byte, 32)",
		"\t{name: \"bad password\", password: \"\", wantErr: true},",
	} {
		for _, f := range d.Scan([]byte(line)) {
			t.Errorf("%q: %s reported %q", line, f.Rule.ID, f.Secret.Reveal())
		}
	}
}

// TestRekeyRuleFindsRealTokens: the rule finds what internal/token
// makes, and nothing once one character is changed.
func TestRekeyRuleFindsRealTokens(t *testing.T) {
	var rule *detect.Rule
	for _, r := range All() {
		if r.ID == "rekey-api-token" {
			rule = r
		}
	}
	if rule == nil {
		t.Fatal("no rekey-api-token rule")
	}
	for range 50 {
		tok, err := token.New()
		if err != nil {
			t.Fatal(err)
		}
		s := tok.Reveal()
		m := rule.Regex.FindSubmatch(append([]byte("REKEY_TOKEN="), s...))
		if m == nil || !rule.Validate(m[rule.Regex.SubexpIndex("secret")]) {
			t.Fatalf("the rule misses %s", s)
		}
		typo := append([]byte(nil), s...)
		typo[len(token.Prefix)+5] ^= 0x01
		if rule.Validate(typo) && string(typo) != string(s) {
			t.Fatalf("the rule takes a mistyped token %s", typo)
		}
	}
}
