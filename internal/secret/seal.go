package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// SealKeyFile is the sealing key's file name in $REKEY_HOME. It is not the
// fingerprint key: a fingerprint must stay comparable forever, a sealed
// credential lives for minutes, and the two keys should not share a fate.
const SealKeyFile = "seal.key"

// Sealer encrypts credentials that must survive a crash between their
// creation and their delivery (AES-256-GCM). The slot a blob is sealed
// for (incident and name) is its additional data, so a blob copied to
// another slot does not open.
//
// A Sealer for one run (ForRun) seals under a data key of that run's
// own, which Destroy deletes once the run's secrets are wiped: a copy of
// a sealed blob taken before then (a database backup, a row PostgreSQL
// has not vacuumed, a page SQLite freed) no longer opens, even with
// seal.key.
type Sealer struct {
	key  []byte
	aead cipher.AEAD
	run  *runKey
}

// NewSealer builds a Sealer from a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("seal key is %d bytes, want 32", len(key))
	}
	aead, err := gcm(key)
	if err != nil {
		return nil, err
	}
	return &Sealer{key: append([]byte(nil), key...), aead: aead}, nil
}

func gcm(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Seal encrypts s for slot; the result is nonce || ciphertext.
func (x *Sealer) Seal(s Secret, slot string) ([]byte, error) {
	aead := x.aead
	if x.run != nil {
		var err error
		if aead, err = x.run.aead(x.key, true); err != nil {
			return nil, err
		}
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+s.Len()+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, s.b, []byte(slot)), nil
}

// ErrUnseal is why a blob does not open: another key, another slot, or
// altered bytes.
var ErrUnseal = errors.New("sealed credential does not open with this installation's key (wrong $REKEY_HOME, or altered)")

// Open decrypts a blob sealed for slot. A run's Sealer also opens blobs
// sealed under seal.key alone (by a rekey before run keys).
func (x *Sealer) Open(blob []byte, slot string) (Secret, error) {
	if x.run != nil {
		aead, keyErr := x.run.aead(x.key, false)
		if keyErr == nil {
			if s, err := open(aead, blob, slot); err == nil {
				return s, nil
			}
		}
		if s, err := open(x.aead, blob, slot); err == nil {
			return s, nil
		}
		if keyErr != nil && !errors.Is(keyErr, fs.ErrNotExist) {
			return Secret{}, fmt.Errorf("%w: %v", ErrUnseal, keyErr)
		}
		if keyErr != nil {
			return Secret{}, fmt.Errorf("%w: the run's key %s is gone (destroyed when the run's secrets were wiped, or this is not the $REKEY_HOME that sealed it)", ErrUnseal, x.run.path)
		}
		return Secret{}, ErrUnseal
	}
	return open(x.aead, blob, slot)
}

func open(aead cipher.AEAD, blob []byte, slot string) (Secret, error) {
	n := aead.NonceSize()
	if len(blob) < n+aead.Overhead() {
		return Secret{}, ErrUnseal
	}
	b, err := aead.Open(nil, blob[:n], blob[n:], []byte(slot))
	if err != nil {
		return Secret{}, ErrUnseal
	}
	return Secret{b: b}, nil
}

// RunKeyDir is where run keys live inside $REKEY_HOME.
const RunKeyDir = "runs"

// runKey is one run's random key in a file of its own (mode 0600), never
// in the store. The data key is derived from it and seal.key together,
// so neither file alone opens a blob.
type runKey struct {
	path, incident string
	mu             sync.Mutex // steps seal and open concurrently
	cached         cipher.AEAD
}

// ForRun returns a Sealer for the credentials of incident's run, whose
// key is kept in dir (created on the first Seal).
func (x *Sealer) ForRun(dir, incident string) *Sealer {
	name := incident
	if name == "" || strings.Trim(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		h := sha256.Sum256([]byte(incident))
		name = hex.EncodeToString(h[:8])
	}
	return &Sealer{key: x.key, aead: x.aead, run: &runKey{path: filepath.Join(dir, name+".key"), incident: incident}}
}

func (r *runKey) aead(sealKey []byte, create bool) (cipher.AEAD, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cached != nil {
		return r.cached, nil
	}
	var (
		k   []byte
		err error
	)
	if create {
		if err := os.MkdirAll(filepath.Dir(r.path), 0o700); err != nil {
			return nil, err
		}
		k, err = LoadOrCreateKey(filepath.Dir(r.path), filepath.Base(r.path))
	} else {
		k, err = LoadKey(r.path)
	}
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, sealKey)
	m.Write([]byte("rekey run key v1\x00" + r.incident + "\x00"))
	m.Write(k)
	for i := range k {
		k[i] = 0
	}
	a, err := gcm(m.Sum(nil))
	if err != nil {
		return nil, err
	}
	r.cached = a
	return a, nil
}

// Destroy deletes the run's key (overwritten, then removed): every blob
// sealed by this Sealer stops opening, wherever a copy of it is. Call it
// only once nothing the run still needs is sealed. A Sealer not made by
// ForRun has nothing to destroy.
func (x *Sealer) Destroy() error {
	if x.run == nil {
		return nil
	}
	x.run.mu.Lock()
	defer x.run.mu.Unlock()
	x.run.cached = nil
	return DestroyFile(x.run.path)
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
