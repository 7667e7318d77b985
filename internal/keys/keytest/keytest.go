// Package keytest makes real key material for tests with the tools
// responders use: private keys with `openssl genpkey`/`genrsa`/`ecparam`
// and `ssh-keygen`, an internal CA with `openssl ca` (its index.txt and
// newcerts directory, as a team runs one), certificates issued and
// revoked by it, and the fingerprints those tools print. Tests compare
// rekey's answers with the tools', never with values rekey computed.
package keytest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/secret"
)

// Run runs a command in dir and returns its stdout, failing the test with
// its stderr when it fails.
func Run(t testing.TB, dir string, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, errb.String())
	}
	return out.Bytes()
}

// Key kinds GenKey makes.
const (
	RSAPKCS1     = "rsa-pkcs1"     // openssl genrsa -traditional
	RSAPKCS8     = "rsa-pkcs8"     // openssl genpkey -algorithm RSA
	ECSEC1       = "ec-sec1"       // openssl ecparam -genkey -noout
	ECPKCS8      = "ec-pkcs8"      // openssl genpkey -algorithm EC
	Ed25519PKCS8 = "ed25519-pkcs8" // openssl genpkey -algorithm ED25519
)

// GenKey writes a new PEM private key of kind to dir/name and returns its
// path.
func GenKey(t testing.TB, dir, name, kind string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	switch kind {
	case RSAPKCS1:
		Run(t, dir, nil, "openssl", "genrsa", "-traditional", "-out", path, "2048")
	case RSAPKCS8:
		Run(t, dir, nil, "openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path)
	case ECSEC1:
		Run(t, dir, nil, "openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", path)
	case ECPKCS8:
		Run(t, dir, nil, "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", path)
	case Ed25519PKCS8:
		Run(t, dir, nil, "openssl", "genpkey", "-algorithm", "ED25519", "-out", path)
	default:
		t.Fatalf("keytest: unknown key kind %q", kind)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// SSHKey writes a new OpenSSH key pair (typ rsa, ecdsa or ed25519) to
// dir/name and dir/name.pub, protected by passphrase when it is not
// empty, and returns the private key's path.
func SSHKey(t testing.TB, dir, name, typ, passphrase string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	args := []string{"-q", "-t", typ, "-N", passphrase, "-C", name + "@rekey-test", "-f", path}
	if typ == "rsa" {
		args = append(args, "-b", "2048")
	}
	Run(t, dir, nil, "ssh-keygen", args...)
	return path
}

// SPKISHA256 is what `openssl pkey -pubout -outform DER | openssl dgst
// -sha256` prints for a key file (private, or public with pubin), in hex.
func SPKISHA256(t testing.TB, keyPath string, pubin bool) string {
	t.Helper()
	args := []string{"pkey", "-in", keyPath, "-pubout", "-outform", "DER"}
	if pubin {
		args = []string{"pkey", "-pubin", "-in", keyPath, "-outform", "DER"}
	}
	der := Run(t, filepath.Dir(keyPath), nil, "openssl", args...)
	out := string(Run(t, filepath.Dir(keyPath), der, "openssl", "dgst", "-sha256", "-r"))
	hexsum, _, _ := strings.Cut(out, " ")
	return strings.TrimSpace(hexsum)
}

// SPKISHA256Base64 is the same digest as `openssl dgst -sha256 -binary |
// base64` prints it: the form of an HPKP or curl pin.
func SPKISHA256Base64(t testing.TB, keyPath string) string {
	t.Helper()
	dir := filepath.Dir(keyPath)
	der := Run(t, dir, nil, "openssl", "pkey", "-in", keyPath, "-pubout", "-outform", "DER")
	bin := Run(t, dir, der, "openssl", "dgst", "-sha256", "-binary")
	return strings.TrimSpace(string(Run(t, dir, bin, "openssl", "base64", "-A")))
}

// SSHFingerprint is the "SHA256:…" that `ssh-keygen -lf` prints for a
// public key file (or a private key file ssh-keygen reads).
func SSHFingerprint(t testing.TB, path string) string {
	t.Helper()
	f := strings.Fields(string(Run(t, filepath.Dir(path), nil, "ssh-keygen", "-l", "-E", "sha256", "-f", path)))
	if len(f) < 2 {
		t.Fatalf("ssh-keygen -lf %s: unexpected output %q", path, f)
	}
	return f[1]
}

// SSHPublic writes the OpenSSH public key of a PEM private key
// (`ssh-keygen -y`) to out and returns out.
func SSHPublic(t testing.TB, keyPath, out string) string {
	t.Helper()
	pub := Run(t, filepath.Dir(keyPath), nil, "ssh-keygen", "-y", "-f", keyPath)
	if err := os.WriteFile(out, pub, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// PublicPEM writes the PEM PUBLIC KEY of a private key file to out.
func PublicPEM(t testing.TB, keyPath, out string) string {
	t.Helper()
	Run(t, filepath.Dir(keyPath), nil, "openssl", "pkey", "-in", keyPath, "-pubout", "-out", out)
	return out
}

// WriteFile writes data to path, failing the test on error.
func WriteFile(t testing.TB, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
}

// Serial reads a certificate's serial in upper case hex, as `openssl
// x509 -serial` prints it and index.txt stores it.
func Serial(t testing.TB, certPath string) string {
	t.Helper()
	out := strings.TrimSpace(string(Run(t, filepath.Dir(certPath), nil, "openssl", "x509", "-in", certPath, "-noout", "-serial")))
	s, ok := strings.CutPrefix(out, "serial=")
	if !ok {
		t.Fatalf("openssl x509 -serial: %q", out)
	}
	return s
}

// Must fails the test on err.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Secret reads a key file as the secret a responder hands rekey.
func Secret(t testing.TB, path string) secret.Secret {
	t.Helper()
	b, err := os.ReadFile(path)
	Must(t, err)
	return secret.New(b)
}

// Daemon starts cmd (a server in the foreground) in its own process
// group, stopped with its children when the test ends (SIGTERM, then
// SIGKILL after 10 seconds). The channel closes when it exits.
func Daemon(t testing.TB, cmd *exec.Cmd) <-chan struct{} {
	t.Helper()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	Must(t, cmd.Start())
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	return done
}
