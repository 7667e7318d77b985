package rules

import (
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"hash/fnv"
	"strings"
)

// Rules carry examples, and an example of a credential format has to look
// like one. Rather than write literals that scanners (ours and GitHub's push
// protection) would take for live credentials, examples are generated here
// from a seed: deterministic, well-formed where the format has a checksum,
// and nobody's credential.

const (
	digits     = "0123456789"
	upper      = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	lower      = "abcdefghijklmnopqrstuvwxyz"
	alpha      = upper + lower
	alnum      = digits + upper + lower
	lowerAlnum = digits + lower
	upperAlnum = digits + upper
	hexLower   = "0123456789abcdef"
	hexUpper   = "0123456789ABCDEF"
	b64        = upper + lower + digits + "+/"
	b64url     = upper + lower + digits + "-_"
	base32Std  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	base32Low  = "abcdefghijklmnopqrstuvwxyz234567"
)

// rng is splitmix64: small, fast and good enough to make example strings.
type rng struct{ s uint64 }

func newRNG(seed string) *rng {
	h := fnv.New64a()
	h.Write([]byte(seed))
	return &rng{s: h.Sum64()}
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

func (r *rng) bytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.next())
	}
	return b
}

// fake returns n characters drawn from alphabet, determined by seed.
func fake(seed, alphabet string, n int) string {
	r := newRNG(seed)
	var sb strings.Builder
	for range n {
		sb.WriteByte(alphabet[r.next()%uint64(len(alphabet))])
	}
	return sb.String()
}

// fakeBytes returns n pseudo-random bytes determined by seed.
func fakeBytes(seed string, n int) []byte { return newRNG(seed).bytes(n) }

// checksummed returns prefix + 30 base62 characters + their CRC32 in six
// base62 digits: the GitHub and npm token layout.
func checksummed(prefix, seed string) string {
	body := fake(seed, alnum, 30)
	return prefix + body + base62CRC(body)
}

func base62CRC(body string) string {
	n := crc32.ChecksumIEEE([]byte(body))
	out := make([]byte, 6)
	for i := 5; i >= 0; i-- {
		out[i] = alnum[n%62]
		n /= 62
	}
	return string(out)
}

// fakeAWSKeyID builds an access key id of the current generation for
// account: after the four-character prefix, the base32 payload's first bit
// is set, the next 40 bits hold the account number shifted left by 7 bits
// inside the first six bytes, and the rest is random.
func fakeAWSKeyID(prefix string, account uint64, seed string) string {
	payload := fakeBytes(seed, 10)
	head := uint64(1)<<47 | account<<7 | uint64(payload[5]&0x7f)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], head)
	copy(payload[:6], b[2:])
	return prefix + base32.StdEncoding.EncodeToString(payload)
}

// fakePEM wraps a DER-shaped body (a SEQUENCE header and random content) in
// the armor for label, 64 columns a line, as the tools write it.
func fakePEM(label, seed string, size int, headers ...string) string {
	der := append([]byte{0x30, 0x82, byte(size >> 8), byte(size)}, fakeBytes(seed, size)...)
	return armor(label, der, headers...)
}

func armor(label string, body []byte, headers ...string) string {
	var sb strings.Builder
	sb.WriteString("-----BEGIN " + label + "-----\n")
	for _, h := range headers {
		sb.WriteString(h + "\n")
	}
	if len(headers) > 0 {
		sb.WriteString("\n")
	}
	enc := base64.StdEncoding.EncodeToString(body)
	for len(enc) > 64 {
		sb.WriteString(enc[:64] + "\n")
		enc = enc[64:]
	}
	sb.WriteString(enc + "\n-----END " + label + "-----\n")
	return sb.String()
}

// fakeOpenSSH builds an openssh-key-v1 container whose header names cipher.
func fakeOpenSSH(cipher, seed string) string {
	var b []byte
	str := func(s string) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	b = append(b, "openssh-key-v1\x00"...)
	str(cipher)
	if cipher == "none" {
		str("none")
		str("")
	} else {
		str("bcrypt")
		str(string(fakeBytes(seed+"salt", 24)))
	}
	b = binary.BigEndian.AppendUint32(b, 1)
	b = append(b, fakeBytes(seed, 360)...)
	return armor("OPENSSH PRIVATE KEY", b)
}

// fakePGP builds an armored private key block whose first packet is a
// secret-key packet (new-format tag 5).
func fakePGP(seed string) string {
	body := append([]byte{0xc5, 0xff}, fakeBytes(seed, 600)...)
	s := armor("PGP PRIVATE KEY BLOCK", body)
	return strings.Replace(s, "-----\n", "-----\n\n", 1)
}

// rawURL64 is unpadded URL-safe base64, as JWTs and many token formats
// write their parts.
func rawURL64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// fakeJWT builds a signed-looking JWT with the given header and claims.
func fakeJWT(header, claims, seed string) string {
	return rawURL64(header) + "." + rawURL64(claims) + "." + fake(seed, b64url, 43)
}

// b64 is standard padded base64.
func b64std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
