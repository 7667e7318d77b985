package secret

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Fingerprint identifies a secret at rest: HMAC-SHA256 of the value under the
// installation key, hex encoded. Keyed, so a stolen store cannot be used to
// confirm guesses of a secret offline without the key as well.
type Fingerprint string

// Short is the first 12 hex digits, enough to tell secrets apart in a table.
func (f Fingerprint) Short() string {
	if len(f) > 12 {
		return string(f[:12])
	}
	return string(f)
}

// Fingerprinter computes fingerprints with one installation key.
type Fingerprinter struct{ key []byte }

// NewFingerprinter uses key as the HMAC key; it must be at least 32 bytes.
func NewFingerprinter(key []byte) (*Fingerprinter, error) {
	if len(key) < 32 {
		return nil, fmt.Errorf("installation key is %d bytes, want at least 32", len(key))
	}
	return &Fingerprinter{key: append([]byte(nil), key...)}, nil
}

// Of returns the fingerprint of s.
func (f *Fingerprinter) Of(s Secret) Fingerprint { return f.OfBytes(s.b) }

// OfBytes returns the fingerprint of raw bytes (a match not yet wrapped).
func (f *Fingerprinter) OfBytes(b []byte) Fingerprint {
	m := hmac.New(sha256.New, f.key)
	m.Write(b)
	return Fingerprint(hex.EncodeToString(m.Sum(nil)))
}

// InstallationKeyFile is the name of the key file inside $REKEY_HOME.
const InstallationKeyFile = "installation.key"

// Home returns $REKEY_HOME as getenv gives it (the CLI passes its
// command's environment, tests their own), or ~/.rekey when it is unset.
func Home(getenv func(string) string) (string, error) {
	if h := getenv("REKEY_HOME"); h != "" {
		return h, nil
	}
	u, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("REKEY_HOME is unset and the home directory is unknown: %w", err)
	}
	return filepath.Join(u, ".rekey"), nil
}

// LoadOrCreateKey reads the 32-byte key stored in dir/name, creating the
// directory (0700) and the key (0600, from crypto/rand) on first use. A key
// file readable by others is refused rather than silently used.
func LoadOrCreateKey(dir, name string) ([]byte, error) {
	path := filepath.Join(dir, name)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		st, serr := os.Stat(path)
		if serr != nil {
			return nil, serr
		}
		if st.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("%s: mode %04o lets others read the key; run chmod 600 %s", path, st.Mode().Perm(), path)
		}
		if len(b) != 32 {
			return nil, fmt.Errorf("%s: key is %d bytes, want 32", path, len(b))
		}
		return b, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	// O_EXCL: two processes starting at once must not each write a different key.
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return LoadOrCreateKey(dir, name)
	}
	if err != nil {
		return nil, fmt.Errorf("create key: %w", err)
	}
	if _, err := fh.Write(key); err != nil {
		fh.Close()
		os.Remove(path)
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	if err := fh.Close(); err != nil {
		return nil, err
	}
	return key, nil
}
