package postgres

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Methods a Match can be proven by.
const (
	MethodSCRAM = "scram-sha-256"
	MethodMD5   = "md5"
)

// maxIterations bounds the work one verifier may demand (PostgreSQL 16
// lets scram_iterations go to 2^31-1: hours of PBKDF2 for one role). The
// default is 4096; a role above this is skipped with a reason.
const maxIterations = 10_000_000

// verifier is one role's stored password verifier (pg_authid.rolpassword),
// parsed. It holds no password, but it is enough to test guesses offline:
// never print it.
type verifier struct {
	method string
	// SCRAM-SHA-256 (RFC 5802, RFC 7677): PostgreSQL stores
	// SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>.
	iter      int
	salt      []byte
	storedKey []byte
	serverKey []byte
	// md5: "md5" + hex(md5(password + role name)).
	md5 []byte
}

// errMalformed explains why a stored verifier is skipped. Its text never
// quotes the verifier.
type errMalformed string

func (e errMalformed) Error() string { return string(e) }

// parseVerifier reads a pg_authid.rolpassword value.
func parseVerifier(s string) (*verifier, error) {
	switch {
	case strings.HasPrefix(s, "SCRAM-SHA-256$"):
		return parseSCRAM(strings.TrimPrefix(s, "SCRAM-SHA-256$"))
	case strings.HasPrefix(s, "md5"):
		h := strings.TrimPrefix(s, "md5")
		if len(h) != 32 {
			return nil, errMalformed("md5 verifier is not 32 hex digits")
		}
		sum, err := hex.DecodeString(h)
		if err != nil {
			return nil, errMalformed("md5 verifier is not 32 hex digits")
		}
		return &verifier{method: MethodMD5, md5: sum}, nil
	case s == "":
		return nil, errMalformed("empty verifier")
	}
	return nil, errMalformed("unrecognised verifier format (neither SCRAM-SHA-256 nor md5)")
}

func parseSCRAM(s string) (*verifier, error) {
	params, keys, ok := strings.Cut(s, "$")
	if !ok {
		return nil, errMalformed("SCRAM verifier: missing '$' before the keys")
	}
	iterS, saltS, ok := strings.Cut(params, ":")
	if !ok {
		return nil, errMalformed("SCRAM verifier: missing ':' between iterations and salt")
	}
	iter, err := strconv.Atoi(iterS)
	if err != nil || iter < 1 {
		return nil, errMalformed("SCRAM verifier: iteration count is not a positive integer")
	}
	if iter > maxIterations {
		return nil, errMalformed("SCRAM verifier: iteration count above " + strconv.Itoa(maxIterations) + ", not tested")
	}
	salt, err := base64.StdEncoding.DecodeString(saltS)
	if err != nil || len(salt) == 0 {
		return nil, errMalformed("SCRAM verifier: salt is not base64")
	}
	storedS, serverS, ok := strings.Cut(keys, ":")
	if !ok {
		return nil, errMalformed("SCRAM verifier: missing ':' between StoredKey and ServerKey")
	}
	stored, err := base64.StdEncoding.DecodeString(storedS)
	if err != nil || len(stored) != sha256.Size {
		return nil, errMalformed("SCRAM verifier: StoredKey is not a base64 SHA-256 value")
	}
	server, err := base64.StdEncoding.DecodeString(serverS)
	if err != nil || len(server) != sha256.Size {
		return nil, errMalformed("SCRAM verifier: ServerKey is not a base64 SHA-256 value")
	}
	return &verifier{method: MethodSCRAM, iter: iter, salt: salt, storedKey: stored, serverKey: server}, nil
}

// matches reports whether password (in the forms the server may have
// hashed, see candidates) is accepted by v for role.
func (v *verifier) matches(role string, password []byte, forms []string) bool {
	switch v.method {
	case MethodSCRAM:
		for _, p := range forms {
			if subtle.ConstantTimeCompare(scramStoredKey(p, v.salt, v.iter), v.storedKey) == 1 {
				return true
			}
		}
	case MethodMD5:
		h := md5.New()
		h.Write(password)
		h.Write([]byte(role))
		return subtle.ConstantTimeCompare(h.Sum(nil), v.md5) == 1
	}
	return false
}

// scramStoredKey is StoredKey = H(HMAC(SaltedPassword, "Client Key")) with
// SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, iter). The PBKDF2 is
// the whole cost: every role has its own salt, so nothing computed for one
// role helps with the next.
func scramStoredKey(password string, salt []byte, iter int) []byte {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iter, sha256.Size)
	if err != nil {
		// Only a key length out of range fails, and ours is fixed.
		panic(err)
	}
	m := hmac.New(sha256.New, salted)
	m.Write([]byte("Client Key"))
	sum := sha256.Sum256(m.Sum(nil))
	return sum[:]
}

// scramVerifier builds a verifier as PostgreSQL would store it (tests and
// benchmarks use it to create roles without making the server hash).
func scramVerifier(password string, salt []byte, iter int) string {
	prepared := saslPrep(password)
	salted, err := pbkdf2.Key(sha256.New, prepared, salt, iter, sha256.Size)
	if err != nil {
		panic(err)
	}
	ck := hmac.New(sha256.New, salted)
	ck.Write([]byte("Client Key"))
	stored := sha256.Sum256(ck.Sum(nil))
	sk := hmac.New(sha256.New, salted)
	sk.Write([]byte("Server Key"))
	b64 := base64.StdEncoding.EncodeToString
	return "SCRAM-SHA-256$" + strconv.Itoa(iter) + ":" + b64(salt) + "$" + b64(stored[:]) + ":" + b64(sk.Sum(nil))
}

// candidates lists the strings a SCRAM verifier may have been computed
// from. PostgreSQL hashes SASLprep(password) (RFC 4013) when preparation
// succeeds and the raw password when it does not (invalid UTF-8, prohibited
// or unassigned code points). Rather than reproduce every table of
// RFC 3454 (Unicode 3.2), rekey tries the prepared form and, when it
// differs, the raw one; ASCII passwords — nearly all generated ones — have
// one form and cost one PBKDF2 per role.
func candidates(password []byte) []string {
	raw := string(password)
	p := saslPrep(raw)
	if p == raw {
		return []string{raw}
	}
	return []string{p, raw}
}

// saslPrep maps non-ASCII spaces to U+0020, removes the characters
// "commonly mapped to nothing" and normalises to NFKC, in PostgreSQL's order
// (src/common/saslprep.c). ASCII and invalid UTF-8 are returned unchanged.
// The prohibited-output and bidirectional checks are not applied: candidates
// also tries the raw password, which is what the server hashes when they
// fail.
func saslPrep(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii || !utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case isNonASCIISpace(r):
			b.WriteByte(' ')
		case isMappedToNothing(r):
		default:
			b.WriteRune(r)
		}
	}
	return norm.NFKC.String(b.String())
}

// RFC 3454 table C.1.2.
func isNonASCIISpace(r rune) bool {
	return r == 0x00A0 || r == 0x1680 || r >= 0x2000 && r <= 0x200B || r == 0x202F || r == 0x205F || r == 0x3000
}

// RFC 3454 table B.1.
func isMappedToNothing(r rune) bool {
	switch {
	case r == 0x00AD, r == 0x034F, r == 0x1806, r >= 0x180B && r <= 0x180D,
		r >= 0x200B && r <= 0x200D, r == 0x2060, r >= 0xFE00 && r <= 0xFE0F, r == 0xFEFF:
		return true
	}
	return false
}
