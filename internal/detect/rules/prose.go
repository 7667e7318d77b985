package rules

import (
	"bytes"
	"strings"

	"github.com/rekeyhq/rekey/internal/detect"
)

// proseValue is a character of a value in prose: printable ASCII without
// quotes, brackets, backslash, "&", "," or "=" (base64 padding may end
// it), so a value ends where code, a sentence or a key=value list goes on.
var uuidIn = re(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)

const proseValue = `[A-Za-z0-9!#$%*+\-./:?@^_|~]`

// proseValueOK is genericPassword, less values that name a credential
// rather than hold one (password16, tokenValue: variables in code), values
// built around a UUID (request and idempotency ids that docs describe as
// tokens), and values without a digit unless random letters
// (Create/Update).
func proseValueOK(v []byte) bool {
	if uuidIn.Match(v) {
		return false
	}
	l := strings.ToLower(string(v))
	for _, w := range []string{"pass", "token", "secret", "cred"} {
		if strings.Contains(l, w) {
			return false
		}
	}
	return genericPassword(v) && (bytes.ContainsAny(v, digits) || randomLetters(v))
}

// proseRules find a credential written in a sentence, as people paste one
// in chat, tickets and docs: "the password is …", "Attached creds for the
// vendor sandbox: …", "DB password: … for the replica". A credential word
// (a whole word: tokenTtl, passwordPolicy and keyVaultSecrets are not), up
// to five more words (no code punctuation), then ":" or "is", "are", "was",
// "has been" (with "now", "still", "set/changed/reset/rotated to"), then
// the value, quoted or not, ending at a blank or the end of the sentence.
// "=" is left to the generic rules' KEY=value (in code it is an
// expression). Prose talks about passwords far more often than it holds
// one, so the value must pass the generic rules' checks: not a word, name,
// number, path, URL or placeholder (<your-token>, ********), at least 8
// characters with letters and a digit or symbol (or long random letters),
// and 3 bits of entropy per byte.
func proseRules() []*detect.Rule {
	v := func(seed string) string { return fake(seed, alnum+"!#%*-_", 20) }
	return []*detect.Rule{{
		ID:          "prose-credential",
		Provider:    "generic",
		Description: "Credential in a sentence after a credential word and \":\" or \"is\" (chat, tickets, docs)",
		Keywords:    []string{"password", "passwd", "pwd", "passphrase", "token", "api key", "secret", "creds", "credential", "access key"},
		Regex: re(`(?i:pass(?:word|wd|phrase)?s?|pwd|tokens?|api key|secrets?|creds|credentials?|access keys?)\b` +
			`(?:[ \t]+[\w,'-]+){0,5}?(?:[ \t]*:[ \t]+|[ \t]+(?i:is|are|was|has been|have been)(?:[ \t]+(?i:now|still))?(?:[ \t]+(?i:set|changed|reset|rotated|updated)[ \t]+to)?[ \t]*:?[ \t]+)` +
			"[`\"']?" + `(?P<secret>` + proseValue + `{7,127}[A-Za-z0-9#$%*+\-/@^_|~]={0,2})` +
			"(?:[`\"']|[.,;:!?)]*(?:\\s|$))"),
		Anchor:     detect.AtKeyword,
		WordStart:  true,
		Validate:   proseValueOK,
		MinEntropy: 3.0,
		Generic:    true,
		Severity:   detect.Medium,
		Examples: []string{
			"Attached creds for the vendor sandbox: " + fake("prose-1", alnum, 28) + " (expires Friday)",
			"redis for the cache: the password is " + v("prose-2"),
			"<p>Relay wants auth now. DB password: " + v("prose-3") + " for the reporting replica too.</p>",
			"The break-glass admin for staging: user `admin`, password is `" + v("prose-4") + "` (rotate after use).",
			"the new token is " + fake("prose-5", alnum, 32) + ".",
			"reset it again, the smoke user's password is now " + v("prose-6") + " (please rotate after the run)",
			"the API key has been rotated to " + fake("prose-7", alnum, 32),
		},
		NoMatch: []string{
			"can someone reset the password for the staging db? I get \"password authentication failed\"",
			"the token is in 1Password under \"route-etl\", don't paste it here",
			"set REDIS_PASSWORD=<your-redis-password> and API token: <your-token> locally; prod password is ********",
			"Reset your password in the self-service portal if it expired.",
			"Your password: ******** (hidden in the portal).",
			"The password is: changeme123",
			"password: see the vault entry secret/data/orders-db",
			"Please do not post passwords in tickets; the password field is masked for a reason.",
			"// token: the lexer's current token, advanced by Next",
			"the secret is stored in Vault at secret/data/partner",
			"password is required",
			"tokens are 40 characters: 4 of prefix, 30 random and a 6 digit checksum",
			"tokenTtl: 3600seconds",
			"passwordPolicy: minLength=12requireDigits=true",
			`builder.WriteString("password=longpasswordwithmanycharacters123456789\n")`,
			"// machine or a default token is encountered.”",
			"tokens = 2*maxCompilerConcurrency + minTokens*cfg.BuildP",
			`cmd.Env = append(cmd.Env, "PWD="+cmd.Dir)`,
			`const jsFetchCreds = "js.fetch:credentials"`,
			"\t\t\tPassword: password16,",
			"the token is: tokenValue2",
			"The password: stored in the vault under qa/smoke.",
			"// stack event would be assigned the same token in the following format: Console-CreateStack-7f59c3cf-00d2-40c7-b2ff-e75db0987002.",
			"the password has been changed to something stronger",
			"This release adds a Client Token parameter to the following AppFlow APIs: Create/Update Connector Profile",
			`pgx-test-scram-password-conn-string: "host=127.0.0.1 user=pgx_scram password=secret dbname=pgx_test"`,
			"  keyVaultToStoreSecrets: cmp2-qat-1208358310",
		},
	}}
}
