// Package keys reads a leaked private key (PKCS#1, PKCS#8, SEC1 EC,
// OpenSSH; RSA, ECDSA and Ed25519) and says what identifies it in public:
// its public key and fingerprints. A key is found by what it unlocks —
// certificates and authorized_keys lines carry the public key, never the
// private one — so the fingerprints are the bridge between a leaked secret
// and the systems that trust it. Nothing here signs with the key or keeps
// it: only the public half leaves Parse. Errors name the format and the
// place, never a byte of the key.
package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/secret"
)

// Formats of a private key, as Key.Format names them.
const (
	FormatPKCS1   = "PKCS#1"  // -----BEGIN RSA PRIVATE KEY-----
	FormatPKCS8   = "PKCS#8"  // -----BEGIN PRIVATE KEY----- / ENCRYPTED PRIVATE KEY
	FormatSEC1    = "SEC1"    // -----BEGIN EC PRIVATE KEY-----
	FormatOpenSSH = "OpenSSH" // -----BEGIN OPENSSH PRIVATE KEY-----
)

// Key is the public side of a leaked private key.
type Key struct {
	Format string `json:"format"`
	// Algorithm is "RSA-2048", "ECDSA-P256", "Ed25519"; empty when the key
	// is encrypted and its public half is nowhere to be read.
	Algorithm string `json:"algorithm,omitempty"`
	// Encrypted is set for a key protected by a passphrase. Its public key
	// is still known for OpenSSH keys (the format stores it in clear) or
	// when a .pub file lies beside it (ParseFile).
	Encrypted bool `json:"encrypted"`
	// Public is nil when the key is encrypted and nothing gave its public
	// half.
	Public       crypto.PublicKey `json:"-"`
	Fingerprints *Fingerprints    `json:"fingerprints,omitempty"`
	// PublicFrom says where the public key came from when not from the
	// private key itself: the .pub file's path.
	PublicFrom string `json:"public_from,omitempty"`
}

// ErrNotKey is the kind of failure for input that holds no private key
// rekey can read. Its messages never quote the input.
var ErrNotKey = errors.New("not a private key rekey reads (PKCS#1, PKCS#8, SEC1 EC or OpenSSH; PEM or DER)")

// Parse reads the private key in s: PEM (a block anywhere in the text,
// also with its newlines escaped as \n, as a key pasted into JSON or a
// .env file is) or raw DER. An encrypted key is not an error: it comes
// back with Encrypted set, and its public key when the format holds it in
// clear.
func Parse(s secret.Secret) (*Key, error) {
	data := s.Reveal()
	if block, kind := findPEM(data); block != nil {
		return parsePEM(block)
	} else if kind != "" {
		return nil, errs.New("keys", errs.Invalid, "", kind)
	}
	if k := parseDER(data); k != nil {
		return k, nil
	}
	if looksDER(data) {
		return nil, errs.E("keys", errs.Invalid, "", fmt.Errorf("DER data that does not parse as a private key (truncated or another structure): %w", ErrNotKey))
	}
	return nil, errs.E("keys", errs.Invalid, "", ErrNotKey)
}

// ParseFile reads the key file at path with Parse. For an encrypted key
// whose format does not hold the public key, it reads path+".pub" (an
// OpenSSH public key or a PEM PUBLIC KEY) when it exists. Errors name
// path, never its content.
func ParseFile(path string) (*Key, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, err
	}
	s := secret.New(b)
	clear(b)
	defer s.Wipe()
	k, err := Parse(s)
	if err != nil {
		return nil, errs.E("keys", errs.KindOf(err), path, errors.Unwrap(err))
	}
	if k.Public == nil {
		pubPath := path + ".pub"
		if pb, err := os.ReadFile(pubPath); err == nil {
			pub, err := ParsePublic(pb)
			if err != nil {
				return nil, errs.E("keys", errs.Invalid, pubPath, err)
			}
			if err := k.setPublic(pub); err != nil {
				return nil, errs.E("keys", errs.Invalid, pubPath, err)
			}
			k.PublicFrom = pubPath
		}
	}
	return k, nil
}

// maxKeyFile bounds what ParseFile reads: no key file is larger.
const maxKeyFile = 1 << 20

// readFile reads a key file, with an error that names it and says why in a
// few words.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errs.FS("keys", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, errs.FS("keys", path, err)
	}
	if len(b) > maxKeyFile {
		return nil, errs.New("keys", errs.Invalid, path, "larger than 1 MiB: not a key")
	}
	return b, nil
}

// findPEM returns the first PEM block in data whose type names a private
// key. When there is none, kind is "" for data with no key marker at all
// and a message for a key marker whose block does not decode (a cut or
// garbled key).
func findPEM(data []byte) (*pem.Block, string) {
	for _, d := range [][]byte{data, unescape(data)} {
		for _, blk := range pemBlocks(d) {
			if b, _ := pem.Decode(blk); b != nil && strings.HasSuffix(b.Type, "PRIVATE KEY") {
				return b, ""
			}
		}
	}
	if i := bytes.Index(data, []byte("-----BEGIN ")); i >= 0 {
		line, _, _ := bytes.Cut(data[i+len("-----BEGIN "):], []byte("-----"))
		if bytes.HasSuffix(line, []byte("PRIVATE KEY")) && len(line) < 40 {
			return nil, fmt.Sprintf("a %q PEM block that does not decode (cut short or garbled base64)", string(line))
		}
	}
	return nil, ""
}

// pemBlocks cuts every "-----BEGIN X-----" … "-----END X-----" out of
// data, wherever it starts: a key in a JSON string or after "KEY=" has no
// newline before its BEGIN line, which pem.Decode needs.
func pemBlocks(data []byte) [][]byte {
	var out [][]byte
	for {
		i := bytes.Index(data, []byte("-----BEGIN "))
		if i < 0 {
			return out
		}
		data = data[i:]
		j := bytes.Index(data, []byte("-----END "))
		if j < 0 {
			return out
		}
		k := bytes.Index(data[j+len("-----END "):], []byte("-----"))
		if k < 0 {
			return out
		}
		end := j + len("-----END ") + k + len("-----")
		out = append(out, data[:end])
		data = data[end:]
	}
}

// unescape turns the two characters \n into a newline, for a key copied
// into a JSON string or a quoted .env value.
func unescape(data []byte) []byte {
	if !bytes.Contains(data, []byte(`\n`)) {
		return nil
	}
	return bytes.ReplaceAll(data, []byte(`\n`), []byte("\n"))
}

// parsePEM reads one PEM private key block.
func parsePEM(b *pem.Block) (*Key, error) {
	bad := func(format string) error {
		return errs.New("keys", errs.Invalid, "", fmt.Sprintf("a %q PEM block that does not parse as a %s key", b.Type, format))
	}
	//lint:ignore SA1019 legacy PEM encryption is what leaked keys use; we only detect it, never decrypt.
	if x509.IsEncryptedPEMBlock(b) {
		return &Key{Format: pemFormat(b.Type), Encrypted: true}, nil
	}
	switch b.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
		if err != nil {
			return nil, bad(FormatPKCS1)
		}
		return newKey(FormatPKCS1, k.Public())
	case "EC PRIVATE KEY":
		k, err := x509.ParseECPrivateKey(b.Bytes)
		if err != nil {
			return nil, bad(FormatSEC1)
		}
		return newKey(FormatSEC1, k.Public())
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		if err != nil {
			return nil, bad(FormatPKCS8)
		}
		return newKey(FormatPKCS8, publicOf(k))
	case "ENCRYPTED PRIVATE KEY":
		return &Key{Format: FormatPKCS8, Encrypted: true}, nil
	case "OPENSSH PRIVATE KEY":
		raw, err := ssh.ParseRawPrivateKey(pem.EncodeToMemory(b))
		var missing *ssh.PassphraseMissingError
		switch {
		case errors.As(err, &missing):
			k := &Key{Format: FormatOpenSSH, Encrypted: true}
			if ck, ok := missing.PublicKey.(ssh.CryptoPublicKey); ok {
				if err := k.setPublic(ck.CryptoPublicKey()); err != nil {
					return nil, errs.E("keys", errs.Invalid, "", err)
				}
			}
			return k, nil
		case err != nil:
			return nil, bad(FormatOpenSSH)
		}
		return newKey(FormatOpenSSH, publicOf(raw))
	}
	return nil, errs.New("keys", errs.Unsupported, "", fmt.Sprintf("a %q PEM block: not a key format rekey reads (PKCS#1, PKCS#8, SEC1 EC, OpenSSH)", b.Type))
}

func pemFormat(typ string) string {
	switch typ {
	case "RSA PRIVATE KEY":
		return FormatPKCS1
	case "EC PRIVATE KEY":
		return FormatSEC1
	case "OPENSSH PRIVATE KEY":
		return FormatOpenSSH
	}
	return FormatPKCS8
}

// parseDER tries the DER encodings of a private key, most common first.
func parseDER(der []byte) *Key {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		if key, err := newKey(FormatPKCS8, publicOf(k)); err == nil {
			return key
		}
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		key, _ := newKey(FormatPKCS1, k.Public())
		return key
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		key, _ := newKey(FormatSEC1, k.Public())
		return key
	}
	return nil
}

// looksDER reports whether data starts like a DER SEQUENCE: what a
// truncated binary key looks like.
func looksDER(data []byte) bool { return len(data) >= 2 && data[0] == 0x30 && data[1]&0x80 != 0 }

// publicOf returns the public half of a parsed private key, or nil.
func publicOf(priv any) crypto.PublicKey {
	switch k := priv.(type) {
	case *ed25519.PrivateKey: // what golang.org/x/crypto/ssh returns
		return k.Public()
	case crypto.Signer:
		return k.Public()
	}
	return nil
}

func newKey(format string, pub crypto.PublicKey) (*Key, error) {
	k := &Key{Format: format}
	if err := k.setPublic(pub); err != nil {
		return nil, errs.E("keys", errs.Unsupported, "", err)
	}
	return k, nil
}

func (k *Key) setPublic(pub crypto.PublicKey) error {
	alg, err := Algorithm(pub)
	if err != nil {
		return err
	}
	fp, err := FingerprintsOf(pub)
	if err != nil {
		return err
	}
	k.Public, k.Algorithm, k.Fingerprints = pub, alg, fp
	return nil
}

// Algorithm names a public key's type and size: "RSA-2048", "ECDSA-P256",
// "Ed25519".
func Algorithm(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", k.N.BitLen()), nil
	case *ecdsa.PublicKey:
		return "ECDSA-" + strings.ReplaceAll(k.Curve.Params().Name, "-", ""), nil
	case ed25519.PublicKey:
		return "Ed25519", nil
	}
	return "", fmt.Errorf("a %T public key: not RSA, ECDSA or Ed25519", pub)
}

// ParsePublic reads a public key on its own: an OpenSSH public key line
// (a .pub file, an authorized_keys line) or a PEM PUBLIC KEY block.
func ParsePublic(data []byte) (crypto.PublicKey, error) {
	if b, _ := pem.Decode(data); b != nil {
		if b.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("a %q PEM block, want PUBLIC KEY or an OpenSSH public key", b.Type)
		}
		pub, err := x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			return nil, errors.New("a PUBLIC KEY PEM block that does not parse")
		}
		return pub, nil
	}
	pk, _, _, _, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		return nil, errors.New("not an OpenSSH public key or a PEM PUBLIC KEY")
	}
	ck, ok := pk.(ssh.CryptoPublicKey)
	if !ok {
		return nil, fmt.Errorf("an OpenSSH %s public key rekey cannot compare", pk.Type())
	}
	return ck.CryptoPublicKey(), nil
}
