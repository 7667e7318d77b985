package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"golang.org/x/crypto/ssh"

	"github.com/rekeyhq/rekey/internal/secret"
)

// NewLike makes the replacement of a leaked key: a new private key of the
// same algorithm and size as pub (RSA of the same size, 2048 bits at
// least; ECDSA on the same curve; Ed25519), in format (FormatPKCS8 for
// certificates, FormatOpenSSH for ssh). It returns the private key as PEM
// in a Secret, and its public key.
func NewLike(pub crypto.PublicKey, format string) (secret.Secret, crypto.PublicKey, error) {
	var priv crypto.Signer
	var err error
	switch k := pub.(type) {
	case *rsa.PublicKey:
		priv, err = rsa.GenerateKey(rand.Reader, max(k.N.BitLen(), 2048))
	case *ecdsa.PublicKey:
		priv, err = ecdsa.GenerateKey(k.Curve, rand.Reader)
	case ed25519.PublicKey:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return secret.Secret{}, nil, fmt.Errorf("a %T key: rekey makes RSA, ECDSA and Ed25519 keys", pub)
	}
	if err != nil {
		return secret.Secret{}, nil, err
	}
	var block *pem.Block
	switch format {
	case FormatPKCS8:
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return secret.Secret{}, nil, err
		}
		block = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	case FormatOpenSSH:
		if block, err = ssh.MarshalPrivateKey(priv, ""); err != nil {
			return secret.Secret{}, nil, err
		}
	default:
		return secret.Secret{}, nil, fmt.Errorf("key format %q: want %s or %s", format, FormatPKCS8, FormatOpenSSH)
	}
	p := pem.EncodeToMemory(block)
	clear(block.Bytes)
	s := secret.New(p)
	clear(p)
	return s, priv.Public(), nil
}
