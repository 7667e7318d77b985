package keys_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/keys"
	"github.com/rekeyhq/rekey/internal/keys/keytest"
	"github.com/rekeyhq/rekey/internal/secret"
)

// Every PEM format openssl writes parses, and every fingerprint equals
// what openssl and ssh-keygen print for the same key.
func TestParsePEMMatchesOpenSSL(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		kind, format, alg string
		sshCheck          bool // ssh-keygen -y reads this PEM key
	}{
		{keytest.RSAPKCS1, keys.FormatPKCS1, "RSA-2048", true},
		{keytest.RSAPKCS8, keys.FormatPKCS8, "RSA-2048", true},
		{keytest.ECSEC1, keys.FormatSEC1, "ECDSA-P256", true},
		{keytest.ECPKCS8, keys.FormatPKCS8, "ECDSA-P384", true},
		{keytest.Ed25519PKCS8, keys.FormatPKCS8, "Ed25519", false}, // OpenSSH 9.2 reads no PEM Ed25519 key
	} {
		t.Run(c.kind, func(t *testing.T) {
			path := keytest.GenKey(t, dir, c.kind+".pem", c.kind)
			k, err := keys.ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if k.Format != c.format || k.Algorithm != c.alg || k.Encrypted {
				t.Errorf("got format %s, algorithm %s, encrypted %v; want %s, %s, false", k.Format, k.Algorithm, k.Encrypted, c.format, c.alg)
			}
			if want := keytest.SPKISHA256(t, path, false); k.Fingerprints.SPKISHA256 != want {
				t.Errorf("SPKI SHA-256 = %s, openssl says %s", k.Fingerprints.SPKISHA256, want)
			}
			if want := keytest.SPKISHA256Base64(t, path); k.Fingerprints.SPKISHA256Base64 != want {
				t.Errorf("SPKI SHA-256 base64 = %s, openssl says %s", k.Fingerprints.SPKISHA256Base64, want)
			}
			if c.sshCheck {
				pub := keytest.SSHPublic(t, path, path+".ssh.pub")
				if want := keytest.SSHFingerprint(t, pub); k.Fingerprints.SSH != want {
					t.Errorf("SSH fingerprint = %s, ssh-keygen says %s", k.Fingerprints.SSH, want)
				}
			}
		})
	}
}

// OpenSSH keys of each type parse; their SSH fingerprint is ssh-keygen's
// and, where ssh-keygen exports a PKCS#8 public key, their SPKI digest is
// openssl's.
func TestParseOpenSSHMatchesSSHKeygen(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ typ, alg string }{{"rsa", "RSA-2048"}, {"ecdsa", "ECDSA-P256"}, {"ed25519", "Ed25519"}} {
		t.Run(c.typ, func(t *testing.T) {
			path := keytest.SSHKey(t, dir, "id_"+c.typ, c.typ, "")
			k, err := keys.ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if k.Format != keys.FormatOpenSSH || k.Algorithm != c.alg || k.Encrypted {
				t.Errorf("got %s %s encrypted=%v, want OpenSSH %s", k.Format, k.Algorithm, k.Encrypted, c.alg)
			}
			if want := keytest.SSHFingerprint(t, path+".pub"); k.Fingerprints.SSH != want {
				t.Errorf("SSH fingerprint = %s, ssh-keygen says %s", k.Fingerprints.SSH, want)
			}
			if c.typ == "ed25519" {
				return // ssh-keygen -e -m PKCS8 has no Ed25519 form
			}
			pem := keytest.Run(t, dir, nil, "ssh-keygen", "-e", "-m", "PKCS8", "-f", path+".pub")
			pemPath := path + ".pkcs8.pub"
			keytest.WriteFile(t, pemPath, pem, 0o644)
			if want := keytest.SPKISHA256(t, pemPath, true); k.Fingerprints.SPKISHA256 != want {
				t.Errorf("SPKI SHA-256 = %s, openssl says %s", k.Fingerprints.SPKISHA256, want)
			}
		})
	}
}

// A key with a passphrase is reported as encrypted, not as an error, and
// its fingerprint still comes from what is readable without the
// passphrase: the OpenSSH file's public section, or a .pub beside it.
func TestEncryptedKeys(t *testing.T) {
	dir := t.TempDir()

	t.Run("openssh", func(t *testing.T) {
		path := keytest.SSHKey(t, dir, "id_locked", "ed25519", "correct horse")
		k, err := keys.ParseFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !k.Encrypted || k.Format != keys.FormatOpenSSH {
			t.Fatalf("got %+v, want an encrypted OpenSSH key", k)
		}
		if k.Fingerprints == nil || k.Fingerprints.SSH != keytest.SSHFingerprint(t, path+".pub") {
			t.Errorf("fingerprints %+v, want ssh-keygen's %s", k.Fingerprints, keytest.SSHFingerprint(t, path+".pub"))
		}
		if k.PublicFrom != "" {
			t.Errorf("PublicFrom = %q: an OpenSSH key holds its public key itself", k.PublicFrom)
		}
	})

	t.Run("pkcs8-with-pub-beside", func(t *testing.T) {
		plain := keytest.GenKey(t, dir, "plain.pem", keytest.RSAPKCS8)
		locked := filepath.Join(dir, "locked.pem")
		keytest.Run(t, dir, nil, "openssl", "pkcs8", "-topk8", "-in", plain, "-out", locked, "-passout", "pass:secret1")
		k, err := keys.ParseFile(locked)
		if err != nil {
			t.Fatal(err)
		}
		if !k.Encrypted || k.Format != keys.FormatPKCS8 || k.Fingerprints != nil {
			t.Fatalf("without a .pub: got %+v, want an encrypted PKCS#8 key with no fingerprint", k)
		}
		keytest.PublicPEM(t, plain, locked+".pub")
		k, err = keys.ParseFile(locked)
		if err != nil {
			t.Fatal(err)
		}
		if k.Fingerprints == nil || k.Fingerprints.SPKISHA256 != keytest.SPKISHA256(t, plain, false) {
			t.Errorf("with a .pub: fingerprints %+v, want openssl's %s", k.Fingerprints, keytest.SPKISHA256(t, plain, false))
		}
		if k.PublicFrom != locked+".pub" {
			t.Errorf("PublicFrom = %q, want the .pub path", k.PublicFrom)
		}
	})

	t.Run("legacy-pkcs1", func(t *testing.T) {
		path := filepath.Join(dir, "legacy.pem")
		keytest.Run(t, dir, nil, "openssl", "genrsa", "-traditional", "-aes128", "-passout", "pass:secret2", "-out", path, "2048")
		k, err := keys.ParseFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !k.Encrypted || k.Format != keys.FormatPKCS1 {
			t.Errorf("got %+v, want an encrypted PKCS#1 key", k)
		}
	})
}

// A key leaks inside other text: a .env value with its newlines escaped,
// a JSON document, raw DER. Each gives the same fingerprint.
func TestParseEmbeddedAndDER(t *testing.T) {
	dir := t.TempDir()
	path := keytest.GenKey(t, dir, "k.pem", keytest.ECSEC1)
	want := keytest.SPKISHA256(t, path, false)
	pemBytes, err := os.ReadFile(path)
	keytest.Must(t, err)
	js, _ := json.Marshal(map[string]string{"private_key": string(pemBytes)})
	der := keytest.Run(t, dir, nil, "openssl", "pkcs8", "-topk8", "-nocrypt", "-in", path, "-outform", "DER")
	for name, data := range map[string][]byte{
		"dotenv": []byte("DEBUG=1\nTLS_KEY=\"" + strings.ReplaceAll(string(pemBytes), "\n", `\n`) + "\"\n"),
		"json":   js,
		"der":    der,
	} {
		k, err := keys.Parse(secret.New(data))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if k.Fingerprints.SPKISHA256 != want {
			t.Errorf("%s: SPKI %s, want %s", name, k.Fingerprints.SPKISHA256, want)
		}
	}
}

// Malformed input gives one line that names the file and says what is
// wrong, and never a byte of the key.
func TestMalformedInput(t *testing.T) {
	dir := t.TempDir()
	good := keytest.GenKey(t, dir, "good.pem", keytest.RSAPKCS8)
	goodPEM, err := os.ReadFile(good)
	keytest.Must(t, err)
	block, _ := pem.Decode(goodPEM)
	der := block.Bytes
	b64 := base64.StdEncoding.EncodeToString(der)

	cutPEM := []byte("-----BEGIN PRIVATE KEY-----\n" + b64[:200] + "\n")
	garbageBody := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der[:len(der)/2]})
	files := map[string][]byte{
		"garbage.pem":   []byte("-----BEGIN PRIVATE KEY-----\nthis is not base64 at all!!\n-----END PRIVATE KEY-----\n"),
		"cut.pem":       cutPEM,
		"half-body.pem": garbageBody,
		"truncated.der": der[:len(der)/3],
		"notes.txt":     []byte("nothing to see here\n"),
	}
	want := map[string]string{
		"garbage.pem":   "does not decode",
		"cut.pem":       "does not decode",
		"half-body.pem": "does not parse as a PKCS#8 key",
		"truncated.der": "truncated",
		"notes.txt":     "not a private key",
	}
	for name, data := range files {
		path := filepath.Join(dir, name)
		keytest.WriteFile(t, path, data, 0o600)
		_, err := keys.ParseFile(path)
		checkErr(t, err, path, want[name], der)
	}

	_, err = keys.ParseFile(filepath.Join(dir, "missing.pem"))
	checkErr(t, err, filepath.Join(dir, "missing.pem"), "no such file", der)
	if errs.KindOf(err) != errs.NotFound {
		t.Errorf("missing file: kind %v, want NotFound", errs.KindOf(err))
	}
	// A directory stands for an unreadable file: tests run as root, which
	// reads a mode 000 file.
	_, err = keys.ParseFile(dir)
	checkErr(t, err, dir, "is a directory", der)
}

func checkErr(t *testing.T, err error, path, want string, key []byte) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want one saying %q", path, want)
		return
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("%s: error is not one line: %q", path, msg)
	}
	if !strings.Contains(msg, path) || !strings.Contains(msg, want) {
		t.Errorf("%s: error %q, want it to name the file and say %q", path, msg, want)
	}
	b64 := base64.StdEncoding.EncodeToString(key)
	for i := 0; i+16 <= len(b64); i += 16 {
		if strings.Contains(msg, b64[i:i+16]) {
			t.Fatalf("%s: error quotes the key's base64: %q", path, msg)
		}
	}
	if bytes.Contains([]byte(msg), key[8:24]) {
		t.Fatalf("%s: error quotes the key's bytes", path)
	}
}

// ParsePublic reads both forms of a public key a .pub file may hold.
func TestParsePublic(t *testing.T) {
	dir := t.TempDir()
	path := keytest.GenKey(t, dir, "k.pem", keytest.RSAPKCS1)
	want := keytest.SPKISHA256(t, path, false)
	for _, pub := range []string{keytest.PublicPEM(t, path, path+".pem.pub"), keytest.SSHPublic(t, path, path+".ssh.pub")} {
		data, err := os.ReadFile(pub)
		keytest.Must(t, err)
		pk, err := keys.ParsePublic(data)
		if err != nil {
			t.Fatalf("%s: %v", pub, err)
		}
		if got, _ := keys.SPKIFingerprint(pk); got != "sha256:"+want {
			t.Errorf("%s: %s, want sha256:%s", pub, got, want)
		}
	}
	if _, err := keys.ParsePublic([]byte("ssh-rsa AAAAnotakey")); err == nil {
		t.Error("ParsePublic(garbage) succeeded")
	}
}

// Parse never panics and never returns a key without saying what it is,
// whatever the input.
func FuzzParse(f *testing.F) {
	dir := f.TempDir()
	for _, kind := range []string{keytest.RSAPKCS1, keytest.ECSEC1, keytest.Ed25519PKCS8} {
		b, err := os.ReadFile(keytest.GenKey(f, dir, kind, kind))
		keytest.Must(f, err)
		f.Add(b)
		blk, _ := pem.Decode(b)
		f.Add(blk.Bytes)
	}
	b, err := os.ReadFile(keytest.SSHKey(f, dir, "id", "ed25519", "pass"))
	keytest.Must(f, err)
	f.Add(b)
	f.Add([]byte("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := keys.Parse(secret.New(data))
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error on several lines: %q", err)
			}
			return
		}
		if k.Format == "" || (!k.Encrypted && k.Fingerprints == nil) {
			t.Fatalf("key without format or fingerprints: %+v", k)
		}
	})
}
