package keys

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"

	"golang.org/x/crypto/ssh"
)

// Fingerprints name a public key the ways the tools that trust it do.
type Fingerprints struct {
	// SPKISHA256 is the SHA-256 of the DER SubjectPublicKeyInfo, in lower
	// case hex: `openssl pkey -pubout -outform DER | openssl dgst -sha256`.
	// It is what ties a key to its X.509 certificates.
	SPKISHA256 string `json:"spki_sha256"`
	// SPKISHA256Base64 is the same digest in standard base64: the pin of
	// HPKP and `curl --pinnedpubkey sha256//…`.
	SPKISHA256Base64 string `json:"spki_sha256_base64"`
	// SSH is OpenSSH's "SHA256:…" fingerprint (`ssh-keygen -lf`), which
	// sshd writes to its log for every accepted key.
	SSH string `json:"ssh_sha256"`
}

// FingerprintsOf computes every fingerprint of an RSA, ECDSA or Ed25519
// public key.
func FingerprintsOf(pub crypto.PublicKey) (*Fingerprints, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("a %T public key has no SubjectPublicKeyInfo", pub)
	}
	sum := sha256.Sum256(spki)
	fp := &Fingerprints{
		SPKISHA256:       hex.EncodeToString(sum[:]),
		SPKISHA256Base64: base64.StdEncoding.EncodeToString(sum[:]),
	}
	spk, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("a %T public key has no OpenSSH form", pub)
	}
	fp.SSH = ssh.FingerprintSHA256(spk)
	return fp, nil
}

// SPKIRef is the identity name of a key in an x509 system:
// "sha256:" and the SPKI digest in hex.
func (f *Fingerprints) SPKIRef() string { return "sha256:" + f.SPKISHA256 }

// SPKIFingerprint is the "sha256:<hex>" SPKI digest of pub (see SPKIRef).
func SPKIFingerprint(pub crypto.PublicKey) (string, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", errors.New("a public key with no SubjectPublicKeyInfo")
	}
	sum := sha256.Sum256(spki)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}
