package rules

import (
	"github.com/rekeyhq/rekey/internal/detect"
	"github.com/rekeyhq/rekey/internal/token"
)

// rekeyTokenFormat is where rekey documents its own API tokens.
const rekeyTokenFormat = "https://github.com/rekeyhq/rekey/blob/main/README.md#tokens"

// rekeyToken is a token of the format internal/token makes: prefix, 32
// base62 characters and their CRC32 in 6 base62 digits.
func rekeyToken(seed string) string {
	body := fake(seed, alnum, token.RandomLen)
	return token.Prefix + body + base62CRC(body)
}

// rekeyRules: rekey's own API tokens, which rekey serve accepts and a
// shared store's CLI needs. The checksum is checked by token.Valid, the
// code that makes them, so the two cannot drift apart.
func rekeyRules() []*detect.Rule {
	bad := []byte(rekeyToken("rekey-bad"))
	bad[len(bad)-1] ^= 1
	return []*detect.Rule{{
		ID:          "rekey-api-token",
		Provider:    "rekey",
		Description: "rekey API token (rekey_ + 32 base62 characters + CRC32 checksum in 6 base62 digits)",
		Source:      rekeyTokenFormat,
		Keywords:    []string{token.Prefix},
		Regex:       re(`\b(?P<secret>` + token.Prefix + `[A-Za-z0-9]{38})\b`),
		Validate:    token.Valid,
		Severity:    detect.Critical,
		Examples: []string{
			"export REKEY_TOKEN=" + rekeyToken("rekey-1"),
			`curl -H "Authorization: Bearer ` + rekeyToken("rekey-2") + `" https://rekey.internal/api/v1/incidents`,
			"  rekey-token: '" + rekeyToken("rekey-3") + "'",
		},
		NoMatch: []string{
			"rejected " + string(bad) + " (checksum)", // checksum does not match
			"rejected rekey_" + fake("rekey-short", alnum, 30) + " (short)",
			"REKEY_HOME=/var/lib/rekey_" + fake("rekey-path", alnum, 38) + "x",
		},
	}}
}
