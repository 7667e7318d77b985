package cli

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/keys/keytest"
)

// keysEstate is a self-signed server certificate and an authorized_keys
// file holding the same leaked key, and an inventory naming both.
func keysEstate(t *testing.T) (dir, leaked, inv string) {
	t.Helper()
	dir = t.TempDir()
	leaked = keytest.GenKey(t, dir, "leaked.pem", keytest.ECSEC1)
	keytest.SelfSigned(t, leaked, "api.example.org", []string{"api.example.org"}, filepath.Join(dir, "api.pem"))
	other := keytest.GenKey(t, dir, "other.pem", keytest.RSAPKCS8)
	pub := keytest.SSHPublic(t, leaked, filepath.Join(dir, "leaked.pub"))
	otherPub := keytest.SSHPublic(t, other, filepath.Join(dir, "other.pub"))
	a, _ := os.ReadFile(pub)
	b, _ := os.ReadFile(otherPub)
	keytest.WriteFile(t, filepath.Join(dir, "home/ci/.ssh/authorized_keys"), append(append([]byte(`command="/usr/local/bin/deploy" `), a...), b...), 0o600)
	inv = filepath.Join(dir, "inventory.yml")
	keytest.WriteFile(t, inv, []byte(`version: 1
systems:
  - {name: api-tls, type: x509, certs: ["*.pem"]}
  - {name: ci-hosts, type: ssh, authorized_keys: ["home/*/.ssh/authorized_keys"]}
`), 0o644)
	return dir, leaked, inv
}

func TestKeysInspect(t *testing.T) {
	_, leaked, inv := keysEstate(t)
	r := run(t, nil, "", "keys", "inspect", "--secret-file", leaked, "--inventory", inv)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (the key unlocks something); stderr %s", r.code, r.stderr)
	}
	for _, want := range []string{
		"key: ECDSA-P256 SEC1 (not encrypted)",
		"sha256:" + keytest.SPKISHA256(t, leaked, false),
		keytest.SPKISHA256Base64(t, leaked),
		keytest.SSHFingerprint(t, strings.TrimSuffix(leaked, ".pem")+".pub"),
		"api-tls (x509): 1 thing carries the key",
		"medium   server certificate CN=api.example.org",
		"ci-hosts (ssh): 1 thing carries the key",
		`high     login as root (command="/usr/local/bin/deploy")`,
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "unread") {
		t.Errorf("the key files caught by the certs glob are reported unread:\n%s", r.stdout)
	}
	noKeyMaterial(t, leaked, r.stdout+r.stderr)

	r = run(t, nil, "", "keys", "inspect", "--secret-file", leaked, "--inventory", inv, "--format", "json")
	var res struct {
		Key struct {
			Fingerprints struct {
				SSH string `json:"ssh_sha256"`
			} `json:"fingerprints"`
		} `json:"key"`
		Systems []struct {
			System   string
			Identity struct{ Exists bool }
			Report   json.RawMessage
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != 1 || len(res.Systems) != 2 || !res.Systems[0].Identity.Exists || !res.Systems[1].Identity.Exists {
		t.Fatalf("json: exit %d, err %v, %s", r.code, err, r.stdout)
	}
	var x509Report struct {
		Certificates []struct {
			SelfSigned bool   `json:"self_signed"`
			Risk       string `json:"risk"`
		}
	}
	if err := json.Unmarshal(res.Systems[0].Report, &x509Report); err != nil || len(x509Report.Certificates) != 1 ||
		!x509Report.Certificates[0].SelfSigned || x509Report.Certificates[0].Risk != "medium" {
		t.Errorf("x509 report %s (%v): want one self-signed certificate, medium", res.Systems[0].Report, err)
	}
	noKeyMaterial(t, leaked, r.stdout)
}

// inventory check knows the key system types.
func TestInventoryCheckKeySystems(t *testing.T) {
	_, _, inv := keysEstate(t)
	if r := run(t, nil, "", "inventory", "check", inv); r.code != 0 || !strings.Contains(r.stdout, "inventory ok: 2 systems") {
		t.Errorf("exit %d, out %s err %s", r.code, r.stdout, r.stderr)
	}
}

func TestKeysInspectNothingAndBadInput(t *testing.T) {
	dir, _, inv := keysEstate(t)
	stray := keytest.GenKey(t, dir, "stray.key", keytest.Ed25519PKCS8)
	if r := run(t, nil, "", "keys", "inspect", "--secret-file", stray, "--inventory", inv); r.code != 0 || !strings.Contains(r.stdout, "api-tls (x509): nothing carries the key") {
		t.Errorf("stray key: exit %d, out %s err %s", r.code, r.stdout, r.stderr)
	}
	garbage := filepath.Join(dir, "garbage.txt")
	keytest.WriteFile(t, garbage, []byte("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"), 0o600)
	r := run(t, nil, "", "keys", "inspect", "--secret-file", garbage, "--inventory", inv)
	if r.code != 2 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "does not decode") || strings.Contains(r.stderr, "MIIEvQ") {
		t.Errorf("garbage key: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := run(t, nil, "", "keys", "inspect", "--secret-file", stray); r.code != 2 || !strings.Contains(r.stderr, "--inventory is required") {
		t.Errorf("no inventory: exit %d, stderr %q", r.code, r.stderr)
	}
}

// An encrypted key is inspected by the public key beside it; without
// one there is nothing to compare, and the error says so.
func TestKeysInspectEncrypted(t *testing.T) {
	dir, leaked, inv := keysEstate(t)
	locked := filepath.Join(dir, "locked.key")
	keytest.Run(t, dir, nil, "openssl", "pkcs8", "-topk8", "-in", leaked, "-out", locked, "-passout", "pass:p4ss-word")
	r := run(t, nil, "", "keys", "inspect", "--secret-file", locked, "--inventory", inv)
	if r.code != 2 || !strings.Contains(r.stderr, "an encrypted PKCS#8 key: its public key cannot be read without the passphrase") {
		t.Errorf("without .pub: exit %d, stderr %q", r.code, r.stderr)
	}
	keytest.PublicPEM(t, leaked, locked+".pub")
	r = run(t, nil, "", "keys", "inspect", "--secret-file", locked, "--inventory", inv)
	if r.code != 1 || !strings.Contains(r.stdout, "(encrypted; public key from "+locked+".pub)") || !strings.Contains(r.stdout, "api-tls (x509): 1 thing carries the key") {
		t.Errorf("with .pub: exit %d, out %s err %s", r.code, r.stdout, r.stderr)
	}
}

// noKeyMaterial fails when any 16 characters of the key's base64 body
// appear in text.
func noKeyMaterial(t *testing.T, keyPath, text string) {
	t.Helper()
	b, err := os.ReadFile(keyPath)
	keytest.Must(t, err)
	var body strings.Builder
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "-----") {
			body.WriteString(l)
		}
	}
	raw, _ := base64.StdEncoding.DecodeString(body.String())
	enc := base64.StdEncoding.EncodeToString(raw)
	for i := 0; i+16 <= len(enc); i += 8 {
		if strings.Contains(text, enc[i:i+16]) {
			t.Fatalf("output holds key material: %q", enc[i:i+16])
		}
	}
}
