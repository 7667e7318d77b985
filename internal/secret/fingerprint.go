package secret

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
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
