package detect

import (
	"bytes"
	"math"
	"regexp"
)

// Entropy is the Shannon entropy of b in bits per byte.
func Entropy(b []byte) float64 {
	if len(b) == 0 {
		return 0
	}
	var counts [256]int
	for _, c := range b {
		counts[c]++
	}
	n := float64(len(b))
	var h float64
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// exampleValues are credentials that providers publish in their own
// documentation; they appear in countless READMEs and are never live.
var exampleValues = map[string]bool{
	"AKIAIOSFODNN7EXAMPLE":                     true,
	"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY": true,
	"AKIAI44QH8DHBEXAMPLE":                     true,
	"je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY": true,
	"ASIAIOSFODNN7EXAMPLE":                     true,
	"sk_test_4eC39HqLyjWDarjtT1zdp7dc":         true,
	"pk_test_TYooMQauvdEDq54NiTphI7jx":         true,
	"xoxb-not-a-real-token-this-will-not-work": true,
	// RFC 7617's Basic authentication example, "Aladdin:open sesame".
	"QWxhZGRpbjpvcGVuIHNlc2FtZQ==": true,
	"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c": true,
}

// IsExample reports whether v is a documented example credential.
func IsExample(v []byte) bool {
	if exampleValues[string(v)] {
		return true
	}
	// AWS documents its examples with an EXAMPLE marker; real keys are
	// random base32/base64 and never spell it.
	return bytes.Contains(v, []byte("EXAMPLE"))
}

var (
	templateRef  = regexp.MustCompile(`^\$\{\{?[^}]*\}\}?$|^\{\{[^}]*\}\}$|^\$[A-Za-z_][A-Za-z0-9_]*$|^\$\([^)]*\)$|^%\(?[A-Za-z_][A-Za-z0-9_]*\)?s?%?$|^#\{[^}]*\}$|^<[^<>]*>$|^\[[A-Za-z _-]*\]$|^@[A-Za-z_][A-Za-z0-9_.]*@$|^__[A-Z0-9_]+__$|^%[A-Z_][A-Z0-9_]*%$`)
	templatePart = regexp.MustCompile(`\$\{\{|\$\{[A-Za-z_]|\{\{[ .$A-Za-z_]|\{%|<%=?|%\{`)
	uuidRe       = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	hexHashRe    = regexp.MustCompile(`^(?:[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{56}|[0-9a-f]{64}|[0-9a-f]{96}|[0-9a-f]{128}|[0-9A-F]{32}|[0-9A-F]{40}|[0-9A-F]{64})$`)
	// Crypt-style and SRI hashes stored in configs are not usable secrets.
	cryptHashRe      = regexp.MustCompile(`^(?:\$(?:2[abxy]?|1|5|6|argon2i|argon2id|argon2d|scrypt|pbkdf2[-a-z0-9]*)\$|sha(?:256|384|512)-|SCRAM-SHA-256\$|md5[0-9a-f]{32}$|\{SSHA\}|\{SHA\})`)
	codeRef          = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*(?:\(.*)?$`)
	placeholderWords = []string{
		"changeme", "change_me", "change-me", "changeit", "replaceme", "replace_me", "replace-me",
		"placeholder", "your_", "your-", "yourpassword", "yourtoken", "yourkey", "yoursecret", "<your",
		"example", "dummy", "redacted", "notasecret", "not-a-secret", "not_a_secret", "notreal", "not-real",
		"fake", "foobar", "insert", "todo", "fixme", "secret_here", "token_here", "key_here", "password_here",
		"xxxxxx", "******", "......", "------", "000000",
	}
	literalNonSecrets = map[string]bool{
		"true": true, "false": true, "null": true, "nil": true, "none": true, "undefined": true,
		"password": true, "secret": true, "token": true, "passwd": true, "pass": true, "test": true,
		"string": true, "required": true, "optional": true, "empty": true, "default": true,
	}
)

// IsPlaceholder reports whether v looks like a stand-in rather than a real
// credential: a templated reference (${{ secrets.X }}, ${VAR}, {{ .Values.x }},
// <your-token>), a documented example, a marker word (changeme, xxxx…), a
// value made of one repeated character, a UUID or a bare hash.
func IsPlaceholder(v []byte) bool { return isPlaceholder(v, false) }

// isPlaceholder is IsPlaceholder; hex32OK takes a value of 32 hex digits
// for a credential rather than an MD5 digest, as it is under a key naming
// an API key.
func isPlaceholder(v []byte, hex32OK bool) bool {
	if len(v) == 0 || IsExample(v) {
		return true
	}
	hash := hexHashRe.Match(v) && !(hex32OK && len(v) == 32)
	if templateRef.Match(v) || templatePart.Match(v) || uuidRe.Match(v) || hash || cryptHashRe.Match(v) {
		return true
	}
	if literalNonSecrets[string(bytes.ToLower(v))] {
		return true
	}
	lower := bytes.ToLower(v)
	for _, w := range placeholderWords {
		if bytes.Contains(lower, []byte(w)) {
			return true
		}
	}
	return repeatsOneChar(v)
}

// looksLikeCode catches generic assignments whose value is an expression,
// not a literal: os.Getenv("X"), config.Password, someFunc().
func looksLikeCode(v []byte) bool {
	if !codeRef.Match(v) {
		return false
	}
	// A part too long and too random for a name (20 or more characters,
	// 4.3 bits each; long class names stay near 4) is a literal with a
	// dot in it, as generated client secrets have.
	for _, part := range bytes.Split(v, []byte{'.'}) {
		if len(part) >= 20 && Entropy(part) >= 4.3 {
			return false
		}
	}
	return bytes.ContainsAny(v, ".(") || bytes.IndexByte(v, '_') > 0 && isUpperSnake(v)
}

func isUpperSnake(v []byte) bool {
	for _, c := range v {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func repeatsOneChar(v []byte) bool {
	distinct := map[byte]bool{}
	for _, c := range v {
		distinct[c] = true
		if len(distinct) > 2 {
			return false
		}
	}
	return true
}
