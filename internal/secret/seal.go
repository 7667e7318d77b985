package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// SealKeyFile is the sealing key's file name in $REKEY_HOME. It is not the
// fingerprint key: a fingerprint must stay comparable forever, a sealed
// credential lives for minutes, and the two keys should not share a fate.
const SealKeyFile = "seal.key"

// Sealer encrypts credentials that must survive a crash between their
// creation and their delivery (AES-256-GCM). The slot a blob is sealed
// for (incident and name) is its additional data, so a blob copied to
// another slot does not open.
type Sealer struct{ aead cipher.AEAD }

// NewSealer builds a Sealer from a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("seal key is %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts s for slot; the result is nonce || ciphertext.
func (x *Sealer) Seal(s Secret, slot string) ([]byte, error) {
	nonce := make([]byte, x.aead.NonceSize(), x.aead.NonceSize()+s.Len()+x.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return x.aead.Seal(nonce, nonce, s.b, []byte(slot)), nil
}

// ErrUnseal is why a blob does not open: another key, another slot, or
// altered bytes.
var ErrUnseal = errors.New("sealed credential does not open with this installation's key (wrong $REKEY_HOME, or altered)")

// Open decrypts a blob sealed for slot.
func (x *Sealer) Open(blob []byte, slot string) (Secret, error) {
	n := x.aead.NonceSize()
	if len(blob) < n+x.aead.Overhead() {
		return Secret{}, ErrUnseal
	}
	b, err := x.aead.Open(nil, blob[:n], blob[n:], []byte(slot))
	if err != nil {
		return Secret{}, ErrUnseal
	}
	return Secret{b: b}, nil
}

// passwordAlphabet avoids characters that need quoting in a URL, a DSN,
// a shell or YAML, so a delivered password never depends on escaping
// being right everywhere; 32 of them carry about 190 bits.
const passwordAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"

// Generate returns a random password of n characters from an alphabet
// that needs no quoting anywhere.
func Generate(n int) (Secret, error) {
	out := make([]byte, n)
	max := byte(256 - 256%len(passwordAlphabet)) // reject to stay uniform
	buf := make([]byte, 1)
	for i := 0; i < n; {
		if _, err := rand.Read(buf); err != nil {
			return Secret{}, err
		}
		if buf[0] >= max {
			continue
		}
		out[i] = passwordAlphabet[int(buf[0])%len(passwordAlphabet)]
		i++
	}
	return Secret{b: out}, nil
}
