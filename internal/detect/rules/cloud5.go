package rules

import (
	"strings"

	"github.com/rekeyhq/rekey/internal/detect"
)

// clusterAndBackupRules are cluster join tokens, object-store client
// aliases, backup repository passphrases and security scanners' keys: k3s
// and RKE2, MinIO's mc, restic, Borg, Perforce, Veracode and
// Dependency-Track.
func clusterAndBackupRules() []*detect.Rule {
	pw := func(seed string) string { return fake(seed, alnum, 12) + "-" + fake(seed+"2", alnum, 8) }
	return []*detect.Rule{
		{
			ID:          "k3s-join-token",
			Provider:    "k3s",
			Description: "k3s or RKE2 secure join token (K10, the cluster CA hash, ::server: or ::node: and the password): joins servers or agents to the cluster",
			Source:      "https://docs.k3s.io/cli/token",
			Keywords:    []string{"::server:", "::node:"},
			Regex:       re(`\b(?P<secret>K10[0-9a-f]{64}::(?:server|node):[A-Za-z0-9]{16,})\b`),
			Validate:    func(v []byte) bool { _, p, _ := strings.Cut(string(v)[69:], ":"); return hasLetterAndDigit([]byte(p)) },
			MinEntropy:  3.0,
			Severity:    detect.Critical,
			Examples:    []string{"K3S_TOKEN=K10" + fake("k3s-1", hexLower, 64) + "::server:" + fake("k3s-2", hexLower, 32), "token: K10" + fake("k3s-3", hexLower, 64) + "::node:" + fake("k3s-4", lowerAlnum, 20)},
			NoMatch:     []string{"K3S_TOKEN=K10<CA-HASH>::server:<PASSWORD>", "K10" + fake("k3s-5", hexLower, 64) + "::server:aaaaaaaaaaaaaaaa"},
		},
		{
			ID:          "minio-client-alias-secret",
			Provider:    "minio",
			Description: "Secret key given to the MinIO client on the command line (mc alias set ALIAS URL ACCESS_KEY SECRET_KEY, or the older mc config host add)",
			Source:      "https://min.io/docs/minio/linux/reference/minio-mc/mc-alias-set.html",
			Keywords:    []string{"alias set", "host add"},
			Regex:       re(`\bmc(?:\.exe)?\s+(?:alias\s+set|config\s+host\s+add)\s+\S+\s+https?://\S+\s+["']?(?P<user>[^\s"']{3,})["']?\s+["']?(?P<secret>[^\s"'$-][^\s"']{7,})`),
			Validate:    func(v []byte) bool { return plausiblePassword(v) && except("minioadmin", "minio123")(v) },
			MinEntropy:  3.0,
			Severity:    detect.Critical,
			Examples:    []string{"mc alias set prod https://s3.acme.io:9000 backup-svc " + pw("mc-1")},
			NoMatch:     []string{"mc alias set local http://127.0.0.1:9000 minioadmin minioadmin", "mc alias set myminio https://minio.example.net ACCESS_KEY $SECRET_KEY"},
		},
		envSecretRule("restic-repository-password", "restic",
			"restic repository password in RESTIC_PASSWORD: decrypts every snapshot in the repository",
			"https://restic.readthedocs.io/en/stable/040_backup.html#environment-variables", []string{"restic_password"},
			`\bRESTIC_PASSWORD`,
			[]string{"export RESTIC_REPOSITORY=s3:s3.amazonaws.com/acme-backups\nexport RESTIC_PASSWORD=" + pw("restic-1")},
			[]string{"RESTIC_PASSWORD_FILE=/etc/restic/password", "RESTIC_PASSWORD=${{ secrets.RESTIC_PASSWORD }}"}),
		envSecretRule("borg-passphrase", "borg",
			"BorgBackup repository passphrase in BORG_PASSPHRASE: unlocks the repository key and every archive",
			"https://borgbackup.readthedocs.io/en/stable/usage/general.html#environment-variables", []string{"borg_passphrase"},
			`\bBORG_PASSPHRASE`,
			[]string{"export BORG_REPO=ssh://backup@nas.internal/./acme\nexport BORG_PASSPHRASE='" + pw("borg-1") + "'"},
			[]string{"BORG_PASSCOMMAND='pass show backup'", "BORG_PASSPHRASE=${BORG_PASSPHRASE}"}),
		keyedRuleWith("perforce-p4passwd", "perforce",
			"Perforce (Helix Core) password or ticket in P4PASSWD",
			"https://www.perforce.com/manuals/cmdref/Content/CmdRef/P4PASSWD.html", []string{"p4passwd"},
			`p4passwd`, `[^\s"'$]{8,}`, plausiblePassword, detect.Critical,
			[]string{"P4PORT=ssl:perforce.acme.io:1666\nP4USER=build\nP4PASSWD=" + pw("p4-1")},
			[]string{"P4PASSWD=$(cat /run/secrets/p4)"}),
		keyedRuleWith("veracode-api-key-secret", "veracode",
			"Veracode API key secret (128 hex digits) in VERACODE_API_KEY_SECRET or the veracode_api_key_secret of ~/.veracode/credentials",
			"https://docs.veracode.com/r/c_configure_api_cred_file", []string{"veracode"},
			`veracode[_.-]?api[_.-]?(?:key[_.-]?)?secret`, `[0-9a-f]{128}`, hasLetterAndDigit, detect.High,
			[]string{"[default]\nveracode_api_key_id = " + fake("vc-1", hexLower, 32) + "\nveracode_api_key_secret = " + fake("vc-2", hexLower, 128) + "\n"},
			[]string{"veracode_api_key_secret = <YOUR_API_KEY_SECRET>"}),
		{
			ID:          "dependency-track-api-key",
			Provider:    "dependency-track",
			Description: "OWASP Dependency-Track API key (odt_ prefix) sent as X-Api-Key: uploads BOMs and reads findings with its team's permissions",
			Source:      "https://docs.dependencytrack.org/integrations/rest-api/",
			Keywords:    []string{"odt_"},
			Regex:       re(`(?:^|[^\w-])(?P<secret>odt_[A-Za-z0-9]{32,})(?:[^\w-]|$)`),
			Validate:    mixedCase,
			MinEntropy:  4.0,
			Severity:    detect.High,
			Examples:    []string{`curl -X POST -H "X-Api-Key: odt_` + fake("odt-1", alnum, 32) + `" -F bom=@bom.json https://dtrack.acme.io/api/v1/bom`},
			NoMatch:     []string{"X-Api-Key: odt_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
		},
	}
}
