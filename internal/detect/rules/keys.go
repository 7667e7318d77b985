package rules

import (
	"regexp"
	"strings"

	"github.com/rekeyhq/rekey/internal/detect"
)

// pemWindow is how far past its BEGIN line a PEM block may end: an 8192-bit
// RSA key is about 6.4 KB of base64.
const pemWindow = 8192

func pemRule(id, provider, label, what string, sev detect.Severity, validate func([]byte) bool, examples, noMatch []string) *detect.Rule {
	l := regexp.QuoteMeta(label)
	return &detect.Rule{
		ID:          id,
		Provider:    provider,
		Description: what,
		Keywords:    []string{"begin " + strings.ToLower(label) + "-----"},
		Window:      pemWindow,
		Regex:       re(`(?P<secret>-----BEGIN ` + l + `-----[\s\S]{64,}?-----END ` + l + `-----)`),
		Validate:    validate,
		Severity:    sev,
		Examples:    examples,
		NoMatch:     noMatch,
	}
}

// indent prefixes every line of s, as YAML block scalars hold PEM files.
func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+prefix) + "\n"
}

func keyRules() []*detect.Rule {
	placeholder := func(label string) string {
		return "-----BEGIN " + label + "-----\nMIIEpAIBAAKCAQEA...\n...\n-----END " + label + "-----\n"
	}
	return []*detect.Rule{
		withSource("https://docs.openssl.org/master/man3/PEM_read_bio_PrivateKey/#pem-encryption-format", pemRule("private-key-rsa", "pem", "RSA PRIVATE KEY", "RSA private key (PKCS#1 PEM), unencrypted", detect.Critical, derKey,
			[]string{
				fakePEM("RSA PRIVATE KEY", "rsa-1", 1190),
				"deploy:\n  ssh_key: |\n" + indent(fakePEM("RSA PRIVATE KEY", "rsa-2", 1190), "    "),
			},
			[]string{placeholder("RSA PRIVATE KEY"), "-----BEGIN RSA TESTING KEY-----\n" + fake("rsa-t", b64, 64) + "\n-----END RSA TESTING KEY-----"})),
		withSource("https://learn.microsoft.com/en-us/dotnet/api/system.security.cryptography.ecalgorithm.exportecprivatekeypem", pemRule("private-key-ec", "pem", "EC PRIVATE KEY", "Elliptic-curve private key (SEC 1 PEM), unencrypted", detect.Critical, derKey,
			[]string{fakePEM("EC PRIVATE KEY", "ec-1", 119)},
			[]string{placeholder("EC PRIVATE KEY")})),
		pemRule("private-key-dsa", "pem", "DSA PRIVATE KEY", "DSA private key (PEM), unencrypted", detect.Critical, derKey,
			[]string{fakePEM("DSA PRIVATE KEY", "dsa-1", 443)},
			[]string{placeholder("DSA PRIVATE KEY")}),
		withSource("https://www.rfc-editor.org/rfc/rfc7468#section-10", pemRule("private-key-pkcs8", "pem", "PRIVATE KEY", "Private key (PKCS#8 PEM), unencrypted", detect.Critical, derKey,
			[]string{
				fakePEM("PRIVATE KEY", "pkcs8-1", 1214),
				`TLS_KEY="` + strings.ReplaceAll(strings.TrimRight(fakePEM("PRIVATE KEY", "pkcs8-2", 135), "\n"), "\n", `\n`) + `"`,
			},
			[]string{placeholder("PRIVATE KEY"), "-----BEGIN PUBLIC KEY-----\n" + fake("pub-1", b64, 64) + "\n-----END PUBLIC KEY-----\n"})),
		withSource("https://github.com/openssh/openssh-portable/blob/master/PROTOCOL.key", pemRule("private-key-openssh", "openssh", "OPENSSH PRIVATE KEY", "OpenSSH private key, unencrypted (cipher none)", detect.Critical, plainOpenSSH,
			[]string{fakeOpenSSH("none", "ssh-1")},
			[]string{placeholder("OPENSSH PRIVATE KEY"), "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + fake("ssh-pub", b64, 43) + " deploy@ci"})),
		{
			ID:          "private-key-encrypted",
			Source:      "https://www.rfc-editor.org/rfc/rfc7468#section-11",
			Provider:    "pem",
			Description: "Passphrase-protected private key (PKCS#8 ENCRYPTED, PEM with Proc-Type: 4,ENCRYPTED, or OpenSSH with a cipher); useless without the passphrase, but open to offline guessing",
			Keywords:    []string{"private key-----"},
			Window:      pemWindow,
			Regex:       re(`(?P<secret>-----BEGIN (?:ENCRYPTED |RSA |EC |DSA |OPENSSH )?PRIVATE KEY-----[\s\S]{64,}?-----END (?:ENCRYPTED |RSA |EC |DSA |OPENSSH )?PRIVATE KEY-----)`),
			Validate:    encryptedKey,
			Severity:    detect.Medium,
			Examples: []string{
				fakePEM("ENCRYPTED PRIVATE KEY", "enc-1", 1298),
				fakePEM("RSA PRIVATE KEY", "enc-2", 1190, "Proc-Type: 4,ENCRYPTED", "DEK-Info: AES-128-CBC,"+strings.ToUpper(fake("enc-iv", hexLower, 32))),
				fakeOpenSSH("aes256-ctr", "enc-3"),
			},
			NoMatch: []string{placeholder("ENCRYPTED PRIVATE KEY"), "ssh-keygen -p -f ~/.ssh/id_ed25519  # encrypt the private key with a passphrase"},
		},
		{
			ID:          "pgp-private-key",
			Source:      "https://www.rfc-editor.org/rfc/rfc4880#section-6.2",
			Provider:    "pgp",
			Description: "OpenPGP private key block (armored secret-key packets)",
			Keywords:    []string{"begin pgp private key block-----"},
			Window:      16384,
			Regex:       re(`(?P<secret>-----BEGIN PGP PRIVATE KEY BLOCK-----[\s\S]{64,}?-----END PGP PRIVATE KEY BLOCK-----)`),
			Validate:    pgpSecretKey,
			Severity:    detect.Critical,
			Examples:    []string{fakePGP("pgp-1")},
			NoMatch:     []string{"-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n<paste your key here>\n-----END PGP PRIVATE KEY BLOCK-----\n"},
		},
		{
			ID:          "putty-private-key",
			Source:      "https://tartarus.org/~simon/putty-snapshots/htmldoc/AppendixC.html",
			Provider:    "putty",
			Description: "PuTTY private key file (.ppk) stored without encryption",
			Keywords:    []string{"putty-user-key-file-"},
			Window:      4096,
			Regex:       re(`(?s)PuTTY-User-Key-File-[23]: [\w@.-]+\r?\nEncryption: none\r?\n.*?Private-Lines: \d+\r?\n(?P<secret>(?:[A-Za-z0-9+/=]{4,64}\r?\n)+)`),
			MinEntropy:  4.0,
			Severity:    detect.Critical,
			Examples: []string{"PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: deploy@ci\nPublic-Lines: 2\nAAAAC3NzaC1lZDI1NTE5AAAAI" + fake("ppk-pub", b64, 39) + "\n" + fake("ppk-pub2", b64, 8) +
				"\nPrivate-Lines: 1\n" + fake("ppk-priv", b64, 48) + "\nPrivate-MAC: " + fake("ppk-mac", hexLower, 64) + "\n"},
			NoMatch: []string{"PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: aes256-cbc\nComment: deploy@ci\nPublic-Lines: 1\n" + fake("ppk-2", b64, 64) + "\nPrivate-Lines: 1\n" + fake("ppk-3", b64, 48) + "\n"},
		},
		{
			ID:          "age-secret-key",
			Source:      "https://age-encryption.org/v1",
			Provider:    "age",
			Description: "age file encryption identity (AGE-SECRET-KEY-1…)",
			Keywords:    []string{"age-secret-key-1"},
			Regex:       re(`\b(?P<secret>AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})\b`),
			MinEntropy:  3.0,
			Severity:    detect.Critical,
			Examples:    []string{"# created: 2024-05-01T10:00:00Z\n# public key: age1" + fake("age-pub", "qpzry9x8gf2tvdw0s3jn54khce6mua7l", 58) + "\nAGE-SECRET-KEY-1" + fake("age-1", "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58)},
			NoMatch:     []string{"AGE-SECRET-KEY-1" + fake("age-2", "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 30)},
		},
		{
			ID:          "jwt",
			Source:      "https://www.rfc-editor.org/rfc/rfc7519#section-3",
			Provider:    "jwt",
			Description: "JSON Web Token (signed; header names an algorithm); the issuer and subject are identity hints. Supabase anon keys, public by design, are skipped",
			Keywords:    []string{"eyj"},
			Regex:       re(`(?:^|[^\w.-])(?P<secret>eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{20,})`),
			Validate:    validJWT,
			Identity:    jwtIdentity,
			Severity:    detect.Medium,
			Examples: []string{
				"users:\n- name: deployer\n  user:\n    token: " + fakeJWT(`{"alg":"RS256","kid":"k1"}`, `{"iss":"kubernetes/serviceaccount","sub":"system:serviceaccount:orders:deployer"}`, "jwt-1"),
				"SUPABASE_SERVICE_ROLE_KEY=" + fakeJWT(`{"alg":"HS256","typ":"JWT"}`, `{"iss":"supabase","ref":"abcdefghijklmnopqrst","role":"service_role","iat":1700000000,"exp":2015576000}`, "jwt-2"),
			},
			NoMatch: []string{
				"Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
				"NEXT_PUBLIC_SUPABASE_ANON_KEY=" + fakeJWT(`{"alg":"HS256","typ":"JWT"}`, `{"iss":"supabase","ref":"abcdefghijklmnopqrst","role":"anon","iat":1700000000,"exp":2015576000}`, "jwt-3"),
				"data: eyJ" + fake("jwt-4", alnum, 30) + ".eyJ" + fake("jwt-5", alnum, 30) + "." + fake("jwt-6", alnum, 30),
			},
		},
		{
			ID:          "kubeconfig-client-key",
			Source:      "https://man.archlinux.org/man/kubectl-config-set.1.en",
			Provider:    "kubernetes",
			Description: "Client private key embedded in a kubeconfig (client-key-data: base64 PEM)",
			Keywords:    []string{"client-key-data"},
			Regex:       re(`client-key-data"?\s*:\s*"?(?P<secret>LS0tLS1CRUdJTi[A-Za-z0-9+/]{100,}={0,2})`),
			Validate: func(v []byte) bool {
				b, ok := decodeB64(string(v))
				return ok && (derKey(b) || plainOpenSSH(b))
			},
			Severity: detect.Critical,
			Examples: []string{"users:\n- name: admin\n  user:\n    client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t" + fake("kube-cert", b64, 60) + "\n    client-key-data: " + b64std(fakePEM("RSA PRIVATE KEY", "kube-1", 1190))},
			NoMatch:  []string{"    client-key-data: " + b64std(placeholder("RSA PRIVATE KEY")), "    client-key: /home/ci/.kube/admin.key"},
		},
	}
}
