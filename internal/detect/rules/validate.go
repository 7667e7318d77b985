package rules

import (
	"bytes"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"math"
	"net/url"
	"regexp"
	"strings"

	"github.com/rekeyhq/rekey/internal/detect"
)

// re compiles a rule's pattern; a bad pattern is a programming error.
func re(pattern string) *regexp.Regexp { return regexp.MustCompile(pattern) }

// notPrefix is an RE2 fragment for one non-space character run that does
// not start with p (RE2 has no lookahead). Rules use it where a value with
// prefix p belongs to a more specific rule that would report the same bytes.
func notPrefix(p string) string {
	var alts []string
	for i := range len(p) {
		alts = append(alts, regexp.QuoteMeta(p[:i])+`[^\s"'`+regexp.QuoteMeta(p[i:i+1])+`]`)
	}
	return `(?:` + strings.Join(alts, "|") + `)`
}

// checksum62 validates the GitHub/npm token layout: a prefix, 30 base62
// characters, then the CRC32 (IEEE) of those 30 characters written as six
// base62 digits (0-9A-Za-z), most significant first, zero padded. This is
// the layout GitHub described when it introduced prefixed tokens in 2021 and
// npm adopted the same year.
func checksum62(prefixLen int) func([]byte) bool {
	return func(tok []byte) bool {
		if len(tok) != prefixLen+36 {
			return false
		}
		body, sum := tok[prefixLen:prefixLen+30], tok[prefixLen+30:]
		var n uint64
		for _, c := range sum {
			d := strings.IndexByte(alnum, c)
			if d < 0 {
				return false
			}
			n = n*62 + uint64(d)
		}
		return n == uint64(crc32.ChecksumIEEE(body))
	}
}

// awsAccount decodes the account number from an access key id of the
// current generation. After the four-character prefix the id is base32; in
// the decoded bytes the first bit marks the generation and the next 40 bits
// (mask 0x7fffffffff80 over the first six bytes, shifted right by 7) are the
// account. Ids of the older generation (first bit clear) do not encode it.
func awsAccount(id []byte) (string, bool) {
	if len(id) != 20 {
		return "", false
	}
	b, err := base32.StdEncoding.DecodeString(string(id[4:]))
	if err != nil || len(b) != 10 || b[0]&0x80 == 0 {
		return "", false
	}
	head := binary.BigEndian.Uint64(append([]byte{0, 0}, b[:6]...))
	return fmt.Sprintf("%012d", (head&0x7fffffffff80)>>7), true
}

func awsKeyIdentity(id []byte, hints map[string]string) {
	hints["key_id"] = string(id)
	if acct, ok := awsAccount(id); ok {
		hints["account"] = acct
	}
	kinds := map[string]string{
		"AKIA": "access-key", "ASIA": "temporary-access-key", "ABIA": "sts-bearer-token",
		"ACCA": "context-specific-credential",
	}
	if k, ok := kinds[string(id[:4])]; ok {
		hints["kind"] = k
	}
}

// mixedCase accepts a value holding upper and lower case letters and a
// digit, as any 40-character random base64 string does; it rejects hex
// digests and words that happen to have the right length.
func mixedCase(v []byte) bool {
	var u, l, d bool
	for _, c := range v {
		switch {
		case c >= 'A' && c <= 'Z':
			u = true
		case c >= 'a' && c <= 'z':
			l = true
		case c >= '0' && c <= '9':
			d = true
		}
	}
	return u && l && d
}

// decodeB64 decodes standard or URL-safe base64, padded or not.
func decodeB64(s string) ([]byte, bool) {
	s = strings.TrimRight(s, "=")
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

// jsonObject decodes base64 text holding a JSON object.
func jsonObject(s string) (map[string]any, bool) {
	b, ok := decodeB64(s)
	if !ok {
		return nil, false
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil, false
	}
	return m, true
}

// validJWT accepts a token whose header is a JSON object naming an
// algorithm and whose claims are a JSON object. Supabase "anon" keys are
// JWTs meant to be public and are not reported.
func validJWT(tok []byte) bool {
	parts := strings.Split(string(tok), ".")
	if len(parts) != 3 {
		return false
	}
	h, ok := jsonObject(parts[0])
	if !ok {
		return false
	}
	if _, ok := h["alg"].(string); !ok {
		return false
	}
	c, ok := jsonObject(parts[1])
	if !ok {
		return false
	}
	return c["role"] != "anon"
}

func jwtIdentity(tok []byte, hints map[string]string) {
	parts := strings.Split(string(tok), ".")
	if len(parts) != 3 {
		return
	}
	c, ok := jsonObject(parts[1])
	if !ok {
		return
	}
	for claim, hint := range map[string]string{"iss": "issuer", "sub": "subject", "azp": "client"} {
		if s, ok := c[claim].(string); ok && s != "" {
			hints[hint] = s
		}
	}
}

// jsonTokenIdentity reads hints out of tokens whose body is base64 JSON
// (Grafana Cloud's glc_, Sentry's sntrys_): field name → hint name.
func jsonTokenIdentity(prefix string, fields map[string]string) func([]byte, map[string]string) {
	return func(tok []byte, hints map[string]string) {
		body := strings.TrimPrefix(string(tok), prefix)
		if i := strings.LastIndexByte(body, '_'); i > 0 && prefix == "sntrys_" {
			body = body[:i]
		}
		m, ok := jsonObject(body)
		if !ok {
			return
		}
		for f, h := range fields {
			switch v := m[f].(type) {
			case string:
				if v != "" {
					hints[h] = v
				}
			case float64:
				hints[h] = fmt.Sprintf("%.0f", v)
			}
		}
	}
}

func jsonTokenBody(prefix string) func([]byte) bool {
	return func(tok []byte) bool {
		body := strings.TrimPrefix(string(tok), prefix)
		if i := strings.LastIndexByte(body, '_'); i > 0 && prefix == "sntrys_" {
			body = body[:i]
		}
		_, ok := jsonObject(body)
		return ok
	}
}

// pemBody returns the decoded base64 of an armored block, skipping RFC 1421
// headers ("Proc-Type: …") and the PGP checksum line, and tolerating the
// block being JSON- or shell-escaped ("\n" written as two characters).
func pemBody(block []byte) ([]byte, bool) {
	s := strings.ReplaceAll(string(block), `\n`, "\n")
	s = strings.ReplaceAll(s, `\r`, "")
	lines := strings.Split(s, "\n")
	var sb strings.Builder
	for _, l := range lines {
		l = strings.TrimSpace(l)
		// A line of a string concatenation: "MIIE…" +
		if t := strings.TrimSpace(strings.TrimSuffix(l, "+")); t != l && strings.HasSuffix(t, `"`) {
			l = t
		}
		l = strings.Trim(l, `"',`)
		switch {
		case l == "", strings.HasPrefix(l, "-----"), strings.Contains(l, ": "):
			continue
		case strings.HasPrefix(l, "=") && len(l) == 5:
			continue
		}
		sb.WriteString(l)
	}
	b, err := base64.StdEncoding.DecodeString(sb.String())
	if err != nil {
		return nil, false
	}
	// 40 bytes: an Ed25519 or X25519 PKCS#8 key is 48, the smallest real key.
	return b, len(b) >= 40
}

// derKey accepts an unencrypted PEM block whose body is DER (a SEQUENCE):
// what RSA, EC, DSA and PKCS#8 keys are. A body of "MIIE…" or "<key>" is a
// placeholder, not a key.
func derKey(block []byte) bool {
	if bytes.Contains(block, []byte("ENCRYPTED")) {
		return false
	}
	b, ok := pemBody(block)
	return ok && b[0] == 0x30
}

// encryptedKey accepts PKCS#8 EncryptedPrivateKeyInfo, a traditional PEM
// key with a Proc-Type: 4,ENCRYPTED header, and an OpenSSH key whose
// container names a cipher other than "none".
func encryptedKey(block []byte) bool {
	if bytes.Contains(block, []byte("OPENSSH PRIVATE KEY")) {
		c, ok := opensshCipher(block)
		return ok && c != "none"
	}
	if !bytes.Contains(block, []byte("ENCRYPTED")) {
		return false
	}
	_, ok := pemBody(block)
	return ok
}

func plainOpenSSH(block []byte) bool {
	c, ok := opensshCipher(block)
	return ok && c == "none"
}

// opensshCipher reads the cipher name from an openssh-key-v1 container:
// the magic "openssh-key-v1\0", then a uint32-length-prefixed string.
func opensshCipher(block []byte) (string, bool) {
	b, ok := pemBody(block)
	const magic = "openssh-key-v1\x00"
	if !ok || !bytes.HasPrefix(b, []byte(magic)) || len(b) < len(magic)+4 {
		return "", false
	}
	b = b[len(magic):]
	n := binary.BigEndian.Uint32(b)
	if int(n) > len(b)-4 || n > 64 {
		return "", false
	}
	return string(b[4 : 4+n]), true
}

// pgpSecretKey accepts an armored block whose first packet is a secret-key
// packet (tag 5), in the old or the new packet format.
func pgpSecretKey(block []byte) bool {
	b, ok := pemBody(block)
	if !ok || b[0]&0x80 == 0 {
		return false
	}
	tag := b[0] & 0x3f
	if b[0]&0x40 == 0 {
		tag = (b[0] >> 2) & 0x0f
	}
	return tag == 5
}

// discordBotToken accepts a token whose first segment is the base64 of the
// bot's numeric user id.
func discordBotToken(tok []byte) bool {
	first, _, _ := strings.Cut(string(tok), ".")
	b, ok := decodeB64(first)
	if !ok || len(b) < 17 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// basicAuth accepts the base64 of "user:password" with a plausible
// password, and names the user.
func basicAuth(v []byte) bool {
	user, pass, ok := decodeBasic(v)
	return ok && user != "" && plausiblePassword([]byte(pass))
}

func basicAuthIdentity(v []byte, hints map[string]string) {
	if user, _, ok := decodeBasic(v); ok {
		hints["user"] = user
	}
}

func decodeBasic(v []byte) (user, pass string, ok bool) {
	b, err := base64.StdEncoding.DecodeString(string(v))
	if err != nil {
		return "", "", false
	}
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return "", "", false
		}
	}
	return strings.Cut(string(b), ":")
}

var (
	// templateMarks anywhere in a value make it a template or a mask.
	templateMarks = []string{"${", "{{", "$(", "%s", "%d", "%v", "%(", "***", "...", "…"}
	// refPrefix starts a reference to a secret store or a file.
	refPrefix = re(`^(?:(?:env|file|vault|secret|secrets|ref|op|sm|akv|gcpsm|awssm|ssm|kms|k8s|keyvault|azurekeyvault|doppler|infisical)(?::|\+)|` +
		`arn:aws:(?:secretsmanager|ssm|kms):|projects/[^/]+/secrets/|(?:sha1|sha256|sha512|md5):)`)
	braced = re(`\{[A-Za-z0-9_.]*\}`)
)

// templated reports values that refer to a secret instead of holding one:
// interpolations (${X}, {{ x }}, $(cmd), %s, {0}), values wrapped in <>,
// [] or {} (stand-ins, and Maven's encrypted {…}), masked values and
// references to secret stores or files.
func templated(v []byte) bool {
	if len(v) == 0 {
		return false
	}
	s := string(v)
	for _, m := range templateMarks {
		if strings.Contains(s, m) {
			return true
		}
	}
	first, last := s[0], s[len(s)-1]
	switch {
	case first == '$' && len(s) > 1 && (s[1] == '_' || s[1] >= 'A' && s[1] <= 'Z' || s[1] >= 'a' && s[1] <= 'z'):
		return true
	case first == '<' && last == '>', first == '[' && last == ']', first == '{' && last == '}',
		first == '@' && last == '@', strings.HasPrefix(s, "__") && strings.HasSuffix(s, "__"):
		return true
	case strings.IndexByte(s, '{') >= 0 && braced.MatchString(s):
		return true
	}
	return refPrefix.MatchString(s)
}

// weakDefaults are passwords that installation guides, container images and
// tutorials print; a DSN or URL holding one is a documentation sample, or a
// development default that no rotation will fix.
var weakDefaults = map[string]bool{
	"password": true, "passwd": true, "pass": true, "pwd": true, "pw": true, "secret": true,
	"postgres": true, "postgresql": true, "root": true, "admin": true, "administrator": true,
	"mysql": true, "mariadb": true, "guest": true, "user": true, "username": true, "test": true,
	"tester": true, "testing": true, "demo": true, "default": true, "redis": true, "rabbitmq": true,
	"mongo": true, "mongodb": true, "sa": true, "oracle": true, "sql": true, "db": true, "dbpass": true,
	"dbpassword": true, "userpass": true, "mypassword": true, "mysecretpassword": true,
	"my-secret-pw": true, "supersecret": true, "secretpassword": true, "123456": true,
	"12345678": true, "qwerty": true, "abc123": true, "letmein": true, "welcome": true,
	"p@ssw0rd": true, "passw0rd": true, "pa55word": true, "password1": true, "password123": true,
	"admin123": true, "root123": true, "toor": true, "s3cret": true, "s3cr3t": true,
	"pgpass": true, "postgrespw": true, "pass123": true, "foo": true, "bar": true, "baz": true,
	"token": true, "apikey": true, "api_key": true, "key": true, "x-oauth-basic": true,
	"tiger": true, "anonymous": true, "changeit": true, "secret123": true, "hunter2": true,
	"opensesame": true, "pasword": true, "mypass": true,
}

// plausiblePassword accepts a password found in a URL, DSN or config
// format: not a template, a documented default or a marker word.
func plausiblePassword(v []byte) bool {
	if len(v) < 4 || templated(v) || weakDefaults[strings.ToLower(string(v))] || weakDefaults[normalized(v)] {
		return false
	}
	// Random hex and UUID passwords are common and real; the placeholder
	// filter treats them as hashes, so they skip it (but not 0000…).
	if hexOrUUID.Match(v) {
		return detect.Entropy(v) >= 2.5
	}
	return !detect.IsPlaceholder(v)
}

var hexOrUUID = re(`^(?:[0-9a-fA-F]{16,}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$`)

var (
	codeOperators = re(`\|\||&&|==|!=|=>|->`)
	numberLike    = re(`^[-+]?(?:0[xX][0-9a-fA-F]{1,16}|[0-9]+(?:\.[0-9]+)*)$`)
	pathLike      = re(`^(?:/|\./|\.\./|~/|[A-Za-z]:\\)|\.(?:pem|key|crt|cer|p12|pfx|jks|json|ya?ml|txt|env|cfg|conf|ini|properties|xml|toml|sh|asc|gpg|der|pub)$`)
	emailLike     = re(`^[^@\s]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$`)
)

// knownPrefix matches the start of values whose format a specific rule
// owns. A generic rule leaves them alone: a well-formed one is reported by
// its own rule (which the engine prefers), and one that its own rule
// rejects (a wrong checksum, a truncated or redacted copy, xoxb-123-abc in
// a README) is not a credential either. Public values with a recognisable
// prefix (Stripe publishable keys, Mapbox public tokens) are here too.
var knownPrefix = re(`^(?:gh[pousr]_|github_pat_|gl(?:pat|dt|rt|ptt|cbt|oas|ft|imt|agent|soat|ffct)-|GR1348941|` +
	`xox[abeoprs][-.]|xapp-|[sr]k_(?:live|test)_|pk_(?:live|test)_|whsec_|npm_|pypi-Ag|do[por]_v1_|HRKU-|sk-ant-|` +
	`sk-(?:proj|svcacct|admin)-|sk-or-v1-|hf_|api_org_|SG\.|dckr_(?:pat|oat)_|shp(?:at|ca|pa|ss)_|AIza|GOCSPX-|` +
	`bkua_|CCIPAT_|sgp_|PMAK-|NRAK-|NRII-|glc_|glsa_|sntry[su]_|lin_api_|rubygems_|hv[sbr]\.|A(?:KIA|SIA|BIA|CCA)[A-Z2-7]|` +
	`ATBB|AT[AC]TT3|BBDC-|CFPAT-|dapi[0-9a-f]|pul-[0-9a-f]|sbp_|sb_secret_|sb_publishable_|tskey-|figd_|ops_eyJ|sq[upa]_[0-9a-f]|` +
	`pnu_|rdme_|pscale_|r8_|gsk_|xai-|pplx-|lsv2_|AGE-SECRET-KEY-|pk\.eyJ|sk\.eyJ|xkeysib-|xsmtpsib-|shippo_|` +
	`FLWSECK|EAAA|sq0(?:atp|csp)-|nfp_|rnd_|ntn_|LTAI|ya29\.|1//0|oy2[a-z0-9]{43}$|AKCp|cmVmdGtu|` +
	`re_[A-Za-z0-9]|ph[xc]_|xa[ap]t-|pdl_(?:live|sdbx)_|xnd_|(?:SB-)?Mid-(?:server|client)-|APP_USR-|EZ[AT]K|pat-(?:na|eu|ap)[0-9]-|` +
	`pk_[0-9]|tfp_|lin_oauth_|fio-u-|fc-[0-9a-f]|cu_[0-9a-f]|csk-|pcsk_|fw_|ser\.|md-)`)

// genericValue is the extra check every Generic rule applies on top of the
// engine's placeholder filter: the value must look like a credential rather
// than a word, a name, a number, a path, a URL or an e-mail address, and
// must not be a value whose format a specific rule owns.
func genericValue(v []byte) bool {
	if len(v) < 8 || templated(v) || pathLike.Match(v) || emailLike.Match(v) || bytes.Contains(v, []byte("://")) || knownPrefix.Match(v) || knownPrefixMore.Match(v) {
		return false
	}
	if numberLike.Match(v) || identifierLike(v) || codeOperators.Match(v) {
		return false
	}
	var hasDigit, hasLetter, hasSymbol bool
	for _, c := range v {
		switch {
		case c >= '0' && c <= '9':
			hasDigit = true
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			hasLetter = true
		case c == '_' || c == '-' || c == '.':
			// Word separators in identifiers and names.
		default:
			hasSymbol = true
		}
	}
	// Identifiers, names and type annotations are letters only; counters
	// and ids are digits only. A long value of mixed-case letters that
	// reads as no words (identifierLike said so above) is a generated
	// secret that happens to hold no digit.
	return hasLetter && (hasDigit || hasSymbol) || hasLetter && randomLetters(v)
}

// randomLetters accepts a value of letters (and separators) long enough,
// mixed in case and varied enough to be drawn at random: 16 or more
// characters, both cases, an entropy of at least 0.85 × log2(length) bits
// per character (names joined in camelCase repeat their letters and stay
// under it), and few vowels (a random draw from 52 letters has a fifth;
// words, DoNotNormalize_session_token, over a quarter).
func randomLetters(v []byte) bool {
	if len(v) < 16 || !mixedLetters(v) || detect.Entropy(v) < 0.85*math.Log2(float64(len(v))) {
		return false
	}
	vowels, letters := 0, 0
	for _, c := range v {
		switch c | 0x20 {
		case 'a', 'e', 'i', 'o', 'u':
			vowels++
		}
		if c|0x20 >= 'a' && c|0x20 <= 'z' {
			letters++
		}
	}
	return vowels*100 < letters*27
}

// genericPassword is genericValue for a key that names a password, where
// a run of letters with a symbol is as good as a digit but known defaults
// are not worth reporting.
func genericPassword(v []byte) bool {
	return genericValue(v) && !weakDefaults[strings.ToLower(string(v))]
}

func lowerASCII(s string) string   { return strings.ToLower(s) }
func quoteLiteral(s string) string { return regexp.QuoteMeta(s) }

// mixedLetters accepts a value holding upper and lower case letters, as
// tokens drawn from a mixed-case alphabet do; an identifier in one case
// with the right length is not one.
func mixedLetters(v []byte) bool {
	var u, l bool
	for _, c := range v {
		u = u || c >= 'A' && c <= 'Z'
		l = l || c >= 'a' && c <= 'z'
	}
	return u && l
}

// identifierLike reports a name from code rather than a credential: two to
// five runs (camelCase words, ACRONYMS, digit groups, joined by _ . : or -)
// where every letter run is a word (pronounceable, or a short acronym) and
// one is at least four letters long, as in testKey, encryptionKey1024,
// testEd25519PrivateKey or GID:user_list. Random tokens break into many
// short, unpronounceable runs.
func identifierLike(v []byte) bool {
	isUpper := func(c byte) bool { return c >= 'A' && c <= 'Z' }
	isLower := func(c byte) bool { return c >= 'a' && c <= 'z' }
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	runs, words, long := 0, 0, false
	for i := 0; i < len(v); {
		c := v[i]
		j := i + 1
		switch {
		case c == '_' || c == '.' || c == ':' || c == '-':
			i = j
			continue
		case isDigit(c):
			for j < len(v) && isDigit(v[j]) {
				j++
			}
		case isLower(c) || isUpper(c) && j < len(v) && isLower(v[j]):
			for j < len(v) && isLower(v[j]) {
				j++
			}
			w := bytes.ToLower(v[i:j])
			if len(w) < 2 || !bytes.ContainsAny(w, "aeiouy") {
				return false
			}
			long = long || len(w) >= 4
			words++
		case isUpper(c):
			for j < len(v) && isUpper(v[j]) && !(j+1 < len(v) && isLower(v[j+1])) {
				j++
			}
			if j-i < 2 || j-i > 8 {
				return false
			}
			words++
		default:
			return false
		}
		runs++
		i = j
	}
	return words >= 2 && runs <= 5 && long
}

// normalized undoes the disguises documentation puts on sample passwords
// (p%40ssw0rd, pa$$word, passwo^rd): percent-decoding, case, digits and
// symbols that stand for letters, then drops anything else that is not a
// letter.
func normalized(v []byte) string {
	s := string(v)
	if u, err := url.PathUnescape(s); err == nil {
		s = u
	}
	leet := map[rune]rune{'@': 'a', '4': 'a', '0': 'o', '1': 'i', '!': 'i', '3': 'e', '5': 's', '$': 's', '7': 't'}
	var sb strings.Builder
	for _, r := range strings.ToLower(s) {
		if l, ok := leet[r]; ok {
			r = l
		}
		if r >= 'a' && r <= 'z' {
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

// plausibleURLPassword is plausiblePassword for the catch-all URL and
// .netrc rules, which see every test fixture and README: a password made of
// words only (opensesame, too-late-in-file) is a sample, not a secret.
func plausibleURLPassword(v []byte) bool {
	if !plausiblePassword(v) {
		return false
	}
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.' || c == ' ') {
			return true
		}
	}
	return false
}

// ci makes the ASCII letters of a regex fragment match either case with
// explicit classes ([Tt][Oo][Kk][Ee][Nn]) instead of (?i), which also folds
// in Unicode look-alikes (the Kelvin sign for k, long s for s) and costs a
// fold lookup per byte on long lines. Letters inside [...] are left alone.
func ci(fragment string) string {
	var sb strings.Builder
	depth := 0
	for i := 0; i < len(fragment); i++ {
		c := fragment[i]
		switch {
		case c == '\\' && i+1 < len(fragment):
			sb.WriteByte(c)
			i++
			sb.WriteByte(fragment[i])
			continue
		case c == '[':
			depth++
		case c == ']' && depth > 0:
			depth--
		case depth == 0 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'):
			l, u := c|0x20, c&^0x20
			sb.WriteString("[" + string(u) + string(l) + "]")
			continue
		}
		sb.WriteByte(c)
	}
	return sb.String()
}
