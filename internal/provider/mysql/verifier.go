package mysql

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"filippo.io/edwards25519"
)

// Methods a Match can be proven by: the authentication plugin whose stored
// hash accepted the secret.
const (
	MethodNative      = "mysql_native_password"
	MethodOld         = "mysql_old_password"
	MethodEd25519     = "ed25519"
	MethodCachingSHA2 = "caching_sha2_password"
	MethodSHA256      = "sha256_password"
)

const (
	maxCryptRounds     = 10_000_000 // bounds one account's cost; MySQL's own limit is 4,095,000
	cachingSHA2SaltLen = 20
	cryptDigestLen     = 43
)

// noHashPlugins keep no password hash: the server asks the OS, PAM, a
// directory or a Kerberos realm.
var noHashPlugins = map[string]bool{
	"unix_socket": true, "auth_socket": true, "pam": true, "auth_pam": true, "authentication_pam": true,
	"gssapi": true, "auth_gssapi": true, "named_pipe": true, "authentication_windows": true,
	"authentication_ldap_simple": true, "authentication_ldap_sasl": true, "authentication_kerberos": true,
	"authentication_fido": true, "authentication_webauthn": true, "authentication_oci": true,
	"authentication_openid_connect": true, "mysql_no_login": true, "mysql_clear_password": true,
}

// invalidSHA2 is the placeholder MySQL stores for accounts that must
// never log in (mysql.sys, mysql.session…).
const invalidSHA2 = "$A$005$THISISACOMBINATIONOFINVALIDSALTANDPASSWORDTHATMUSTNEVERBRBEUSED"

// canAuthenticate reports whether a method can let anyone in: not
// mysql_no_login, not a placeholder where a password hash belongs.
func canAuthenticate(m method) bool {
	switch m.plugin {
	case "mysql_no_login":
		return false
	case MethodCachingSHA2:
		return m.auth != invalidSHA2
	case "", MethodNative, MethodOld:
		_, err := parseVerifier(m.plugin, m.auth)
		return err == nil || m.auth == ""
	}
	return true
}

// errSkip explains why a stored hash is not tested. Its text never quotes
// the hash.
type errSkip struct {
	reason      string
	unsupported bool // a format rekey does not implement, rather than no hash at all
}

func (e *errSkip) Error() string { return e.reason }

// verifier is one authentication method's stored hash, parsed. It holds no
// password but is enough to test guesses offline: never print it.
type verifier struct {
	method string
	digest []byte // native: SHA1(SHA1(pw)); old: 8 bytes; ed25519: public key; crypt: the 43 digest characters
	salt   []byte // crypt only
	rounds int    // crypt only
}

// parseVerifier reads one (plugin, authentication_string) pair.
func parseVerifier(plugin, auth string) (*verifier, error) {
	switch plugin {
	case "", MethodNative:
		switch {
		case auth == "":
			return nil, &errSkip{reason: "no password: the account logs in with an empty password"}
		case len(auth) == 41 && auth[0] == '*':
			d, err := hex.DecodeString(auth[1:])
			if err != nil {
				return nil, &errSkip{reason: "mysql_native_password hash is not 40 hex digits"}
			}
			return &verifier{method: MethodNative, digest: d}, nil
		case len(auth) == 16:
			return parseOld(auth)
		}
		return nil, &errSkip{reason: "mysql_native_password: the stored value is not a password hash (the account cannot log in with a password)"}
	case MethodOld:
		if auth == "" {
			return nil, &errSkip{reason: "no password: the account logs in with an empty password"}
		}
		return parseOld(auth)
	case MethodEd25519:
		if auth == "" {
			return nil, &errSkip{reason: "ed25519: no public key stored"}
		}
		k, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(auth, "="))
		if err != nil || len(k) != 32 {
			return nil, &errSkip{reason: "ed25519: the stored value is not a base64 public key"}
		}
		return &verifier{method: MethodEd25519, digest: k}, nil
	case MethodCachingSHA2:
		if auth == "" {
			return nil, &errSkip{reason: "no password: the account logs in with an empty password"}
		}
		return parseCachingSHA2(auth)
	case MethodSHA256:
		if auth == "" {
			return nil, &errSkip{reason: "no password: the account logs in with an empty password"}
		}
		return parseSHA256Crypt(auth)
	}
	if noHashPlugins[plugin] {
		return nil, &errSkip{reason: "authenticates through " + plugin + ", which keeps no password hash"}
	}
	return nil, &errSkip{reason: "authentication plugin " + strconv.Quote(plugin) + " is not supported: its stored value cannot be tested", unsupported: true}
}

func parseOld(auth string) (*verifier, error) {
	d, err := hex.DecodeString(auth)
	if err != nil || len(d) != 8 {
		return nil, &errSkip{reason: "mysql_old_password hash is not 16 hex digits"}
	}
	return &verifier{method: MethodOld, digest: d}, nil
}

// parseCachingSHA2 reads "$A$" + 3 hex digits (rounds / 1000) + "$" + a
// 20-byte salt + 43 digest characters (MySQL sql/auth/sha2_password.cc).
func parseCachingSHA2(auth string) (*verifier, error) {
	if len(auth) < 7 || auth[:3] != "$A$" || auth[6] != '$' {
		return nil, &errSkip{reason: "caching_sha2_password: not the $A$ crypt format", unsupported: true}
	}
	n, err := strconv.ParseUint(auth[3:6], 16, 16)
	if err != nil || n == 0 {
		return nil, &errSkip{reason: "caching_sha2_password: the round count is not three hex digits"}
	}
	rest := auth[7:]
	if auth == invalidSHA2 {
		return nil, &errSkip{reason: "caching_sha2_password: the placeholder of an account that cannot log in"}
	}
	if len(rest) != cachingSHA2SaltLen+cryptDigestLen {
		return nil, &errSkip{reason: "caching_sha2_password: salt and digest are not 20 + 43 characters (an account that cannot log in)"}
	}
	rounds := int(n) * 1000
	if rounds > maxCryptRounds {
		return nil, &errSkip{reason: "caching_sha2_password: more than " + strconv.Itoa(maxCryptRounds) + " rounds, not tested"}
	}
	return &verifier{method: MethodCachingSHA2, salt: []byte(rest[:cachingSHA2SaltLen]), digest: []byte(rest[cachingSHA2SaltLen:]), rounds: rounds}, nil
}

// parseSHA256Crypt reads "$5$[rounds=N$]salt$digest".
func parseSHA256Crypt(auth string) (*verifier, error) {
	if !strings.HasPrefix(auth, "$5$") {
		return nil, &errSkip{reason: "sha256_password: not the $5$ crypt format", unsupported: true}
	}
	rest := auth[3:]
	rounds := 5000
	if r, ok := strings.CutPrefix(rest, "rounds="); ok {
		num, tail, ok := strings.Cut(r, "$")
		n, err := strconv.Atoi(num)
		if !ok || err != nil || n < 1 {
			return nil, &errSkip{reason: "sha256_password: bad rounds= field"}
		}
		rounds, rest = max(n, 1000), tail // as crypt(3) does: below 1000 counts as 1000
	}
	i := strings.LastIndexByte(rest, '$')
	if i < 0 || len(rest)-i-1 != cryptDigestLen {
		return nil, &errSkip{reason: "sha256_password: no 43-character digest after the salt"}
	}
	if rounds > maxCryptRounds {
		return nil, &errSkip{reason: "sha256_password: more than " + strconv.Itoa(maxCryptRounds) + " rounds, not tested"}
	}
	return &verifier{method: MethodSHA256, salt: []byte(rest[:i]), digest: []byte(rest[i+1:]), rounds: rounds}, nil
}

// candidate is the secret with its unsalted hashes, each computed once
// for all accounts. Safe for concurrent use.
type candidate struct {
	pw      []byte
	once    [3]sync.Once
	native  []byte
	old     []byte
	ed25519 []byte
}

func newCandidate(pw []byte) *candidate { return &candidate{pw: pw} }

func (c *candidate) nativeHash() []byte {
	c.once[0].Do(func() { c.native = nativeHash(c.pw) })
	return c.native
}

func (c *candidate) oldHash() []byte {
	c.once[1].Do(func() { c.old = oldHash(c.pw) })
	return c.old
}

func (c *candidate) ed25519Key() []byte {
	c.once[2].Do(func() { c.ed25519 = ed25519Key(c.pw) })
	return c.ed25519
}

// matches reports whether v accepts the candidate. Comparisons are
// constant-time.
func (v *verifier) matches(c *candidate) bool {
	var got []byte
	switch v.method {
	case MethodNative:
		got = c.nativeHash()
	case MethodOld:
		got = c.oldHash()
	case MethodEd25519:
		got = c.ed25519Key()
	case MethodCachingSHA2, MethodSHA256:
		got = sha256Crypt(c.pw, v.salt, v.rounds)
	default:
		return false
	}
	return subtle.ConstantTimeCompare(got, v.digest) == 1
}

// nativeHash is SHA1(SHA1(password)), the 20 bytes behind "*" + 40 hex.
func nativeHash(pw []byte) []byte {
	s1 := sha1.Sum(pw)
	s2 := sha1.Sum(s1[:])
	return s2[:]
}

// NativePassword formats a mysql_native_password hash as the server
// stores it (what PASSWORD('…') returns).
func NativePassword(pw []byte) string {
	return "*" + strings.ToUpper(hex.EncodeToString(nativeHash(pw)))
}

// oldHash is the pre-4.1 scramble (OLD_PASSWORD()): two 31-bit words
// built over the password's bytes, spaces and tabs skipped. Only the low
// 31 bits are kept, so 32-bit arithmetic gives the server's 64-bit result.
func oldHash(pw []byte) []byte {
	var nr, add, nr2 uint32 = 1345345333, 7, 0x12345671
	for _, b := range pw {
		if b == ' ' || b == '\t' {
			continue
		}
		tmp := uint32(b)
		nr ^= ((nr&63)+add)*tmp + nr<<8
		nr2 += nr2<<8 ^ nr
		add += tmp
	}
	out, _ := hex.DecodeString(fmt.Sprintf("%08x%08x", nr&0x7fffffff, nr2&0x7fffffff))
	return out
}

// ed25519Key is MariaDB's auth_ed25519 public key for a password: the
// password is the whole seed, SHA-512 expands it and the clamped first
// half is the secret scalar (plugin/auth_ed25519/ref10/keypair.c).
func ed25519Key(pw []byte) []byte {
	h := sha512.Sum512(pw)
	s, err := edwards25519.NewScalar().SetBytesWithClamping(h[:32])
	if err != nil {
		// Only a slice that is not 32 bytes long fails.
		panic(err)
	}
	return (&edwards25519.Point{}).ScalarBaseMult(s).Bytes()
}

// crypt64 is crypt(3)'s base-64 alphabet.
const crypt64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// sha256Crypt is the SHA-256 crypt digest (Ulrich Drepper, "Unix crypt
// using SHA-256 and SHA-512"), as its 43 base-64 characters, for any salt
// length (MySQL's salts are 20 bytes, beyond the 16 of crypt(3), and are
// used whole).
func sha256Crypt(pw, salt []byte, rounds int) []byte {
	// Digest B: password, salt, password.
	h := sha256.New()
	h.Write(pw)
	h.Write(salt)
	h.Write(pw)
	b := h.Sum(nil)

	// Digest A: password, salt, B for each byte of the password, then B or
	// the password for each bit of its length.
	h.Reset()
	h.Write(pw)
	h.Write(salt)
	n := len(pw)
	for ; n > 32; n -= 32 {
		h.Write(b)
	}
	h.Write(b[:n])
	for n = len(pw); n > 0; n >>= 1 {
		if n&1 != 0 {
			h.Write(b)
		} else {
			h.Write(pw)
		}
	}
	a := h.Sum(nil)

	// P: the password hashed len(password) times, stretched to its length.
	h.Reset()
	for range len(pw) {
		h.Write(pw)
	}
	p := repeat(h.Sum(nil), len(pw))

	// S: the salt hashed 16 + A[0] times, stretched to its length.
	h.Reset()
	for range 16 + int(a[0]) {
		h.Write(salt)
	}
	s := repeat(h.Sum(nil), len(salt))

	c := a
	for i := range rounds {
		h.Reset()
		if i&1 != 0 {
			h.Write(p)
		} else {
			h.Write(c)
		}
		if i%3 != 0 {
			h.Write(s)
		}
		if i%7 != 0 {
			h.Write(p)
		}
		if i&1 != 0 {
			h.Write(c)
		} else {
			h.Write(p)
		}
		c = h.Sum(c[:0])
	}

	out := make([]byte, 0, cryptDigestLen)
	enc := func(b2, b1, b0 byte, n int) {
		w := uint(b2)<<16 | uint(b1)<<8 | uint(b0)
		for range n {
			out = append(out, crypt64[w&0x3f])
			w >>= 6
		}
	}
	for i := range 10 {
		// The spec's byte order: (0,10,20), (21,1,11), (12,22,2), …
		x, y, z := i, (i+10)%30, (i+20)%30
		switch i % 3 {
		case 0:
			enc(c[x], c[y], c[z], 4)
		case 1:
			enc(c[z], c[x], c[y], 4)
		case 2:
			enc(c[y], c[z], c[x], 4)
		}
	}
	enc(0, c[31], c[30], 3)
	return out
}

func repeat(d []byte, n int) []byte {
	out := make([]byte, 0, n)
	for len(out)+len(d) <= n {
		out = append(out, d...)
	}
	return append(out, d[:n-len(out)]...)
}
