package keytest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// CA is an internal certificate authority run with `openssl ca`: a key,
// a self-signed CA certificate, the index.txt database (one V, R or E row
// per certificate issued) and the newcerts directory holding a copy of
// each, named by serial.
type CA struct {
	Dir      string // holds ca.key, ca.crt, index.txt, serial, newcerts/
	Key      string
	Cert     string
	Index    string
	NewCerts string
	Config   string // its openssl.cnf
}

const caConf = `[ ca ]
default_ca = CA_default

[ CA_default ]
dir             = DIR
database        = $dir/index.txt
new_certs_dir   = $dir/newcerts
serial          = $dir/serial
crlnumber       = $dir/crlnumber
certificate     = $dir/ca.crt
private_key     = $dir/ca.key
default_md      = sha256
default_days    = 365
default_crl_days = 30
policy          = policy_any
copy_extensions = copy
unique_subject  = no

[ policy_any ]
commonName      = supplied
organizationName = optional

[ req ]
distinguished_name = dn
[ dn ]

[ v3_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ server ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth

[ client ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
`

// NewCA sets up a CA named cn in a new directory under dir.
func NewCA(t testing.TB, dir, cn string) *CA {
	t.Helper()
	d := filepath.Join(dir, "ca")
	ca := &CA{Dir: d, Key: filepath.Join(d, "ca.key"), Cert: filepath.Join(d, "ca.crt"),
		Index: filepath.Join(d, "index.txt"), NewCerts: filepath.Join(d, "newcerts"), Config: filepath.Join(d, "openssl.cnf")}
	WriteFile(t, ca.Config, []byte(strings.ReplaceAll(caConf, "DIR", d)), 0o644)
	Must(t, os.MkdirAll(ca.NewCerts, 0o755))
	WriteFile(t, ca.Index, nil, 0o644)
	WriteFile(t, filepath.Join(d, "serial"), []byte("1000\n"), 0o644)
	WriteFile(t, filepath.Join(d, "crlnumber"), []byte("1000\n"), 0o644)
	GenKey(t, d, "ca.key", ECSEC1)
	Run(t, d, nil, "openssl", "req", "-x509", "-new", "-config", ca.Config, "-extensions", "v3_ca",
		"-key", ca.Key, "-subj", "/CN="+cn, "-days", "3650", "-out", ca.Cert)
	return ca
}

// Issue has the CA sign a certificate for key (a private key file) with
// subject CN cn and the given DNS names, with the extensions of profile
// ("server" or "client"), writes it to out and returns out.
func (ca *CA) Issue(t testing.TB, key, cn string, dns []string, profile, out string) string {
	t.Helper()
	csr := out + ".csr"
	args := []string{"req", "-new", "-config", ca.Config, "-key", key, "-subj", "/CN=" + cn, "-out", csr}
	if len(dns) > 0 {
		args = append(args, "-addext", "subjectAltName=DNS:"+strings.Join(dns, ",DNS:"))
	}
	Run(t, ca.Dir, nil, "openssl", args...)
	Run(t, ca.Dir, nil, "openssl", "ca", "-batch", "-config", ca.Config, "-extensions", profile,
		"-in", csr, "-out", out, "-notext")
	Must(t, os.Remove(csr))
	return out
}

// Revoke marks the certificate at cert revoked in the CA's index.
func (ca *CA) Revoke(t testing.TB, cert string) {
	t.Helper()
	Run(t, ca.Dir, nil, "openssl", "ca", "-config", ca.Config, "-revoke", cert)
}

// SelfSigned writes a self-signed server certificate (not a CA's) for
// key with CN cn and the DNS names to out, not recorded by any CA.
func SelfSigned(t testing.TB, key, cn string, dns []string, out string) string {
	t.Helper()
	args := []string{"req", "-x509", "-new", "-key", key, "-subj", "/CN=" + cn, "-days", "30", "-out", out,
		"-addext", "basicConstraints=critical,CA:FALSE", "-addext", "extendedKeyUsage=serverAuth"}
	if len(dns) > 0 {
		args = append(args, "-addext", "subjectAltName=DNS:"+strings.Join(dns, ",DNS:"))
	}
	Run(t, filepath.Dir(out), nil, "openssl", args...)
	return out
}

// SignOutsideIndex signs a certificate for key with the CA's key without
// recording it in the index (`openssl x509 -req -CA`): what someone
// holding a leaked CA key mints.
func (ca *CA) SignOutsideIndex(t testing.TB, key, cn, out string) string {
	t.Helper()
	csr := out + ".csr"
	Run(t, ca.Dir, nil, "openssl", "req", "-new", "-config", ca.Config, "-key", key, "-subj", "/CN="+cn, "-out", csr)
	Run(t, ca.Dir, nil, "openssl", "x509", "-req", "-in", csr, "-CA", ca.Cert, "-CAkey", ca.Key, "-set_serial", "0x7777",
		"-days", "30", "-out", out)
	Must(t, os.Remove(csr))
	return out
}
