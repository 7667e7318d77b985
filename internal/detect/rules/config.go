package rules

import (
	"strings"

	"github.com/rekeyhq/rekey/internal/detect"
)

// Credentials passed on command lines and in name/value lists, which no
// key = value rule sees.
func configRules() []*detect.Rule {
	var endings []string
	var keywords []string
	for _, f := range genericFamilies {
		endings = append(endings, f.endings)
		keywords = append(keywords, f.keywords...)
	}
	credName := `[\w.-]*?(?:` + ci(strings.Join(endings, "|")) + `)`
	pw := func(seed string) string { return fake(seed, alnum, 10) + "!" + fake(seed+"2", alnum, 4) }
	return []*detect.Rule{
		{
			ID:          "cli-password-flag",
			Provider:    "generic",
			Description: "Password given on a command line (--password X, docker/helm login -p X, sshpass -p X, mysql -pX)",
			Keywords:    []string{"--password", " -p"},
			Regex: re(`(?:--password[ \t]+|\b(?:docker|podman|buildah|nerdctl|helm|skopeo|oras)\b[^\n]*?\blogin\b[^\n]*?[ \t]-p[ \t]+|\bsshpass[ \t]+-p[ \t]*|\bmysql(?:dump|admin)?\b[^\n]*?[ \t]-p)` +
				`["']?(?P<secret>[^\s"'$<{-][^\s"']*)`),
			Validate:   plausibleURLPassword,
			MinEntropy: 2.5,
			Generic:    true,
			Severity:   detect.High,
			Examples: []string{
				"docker login -u ci-bot -p " + pw("cli-1") + " registry.acme.io",
				"mysqldump -h db.internal -u backup -p" + pw("cli-2") + " orders > orders.sql",
				"sshpass -p '" + pw("cli-3") + "' ssh deploy@10.0.4.12",
				"vault login -method=userpass username=ops --password " + pw("cli-4"),
			},
			NoMatch: []string{
				"echo $REGISTRY_TOKEN | docker login -u ci-bot --password-stdin registry.acme.io",
				"mysql -u root -p orders",
				"docker login -u ci -p $CI_REGISTRY_PASSWORD $CI_REGISTRY",
				"go test -p 4 ./...",
			},
		},
		{
			ID:          "curl-user-password",
			Source:      "https://curl.se/docs/manpage.html#-u",
			Provider:    "generic",
			Description: "User and password given to curl or wget (-u user:password, --user user:password); names the user",
			Keywords:    []string{"curl", "wget"},
			Regex:       re(`\b(?:curl|wget)\b[^\n]*?[ \t](?:-u|--user|--http-user)[ \t=]+["']?(?P<user>[^\s:"'$]+):(?P<secret>[^\s"'$@][^\s"'@]*)["']?(?:\s|$)`),
			Validate:    plausibleURLPassword,
			MinEntropy:  2.5,
			Generic:     true,
			Severity:    detect.High,
			Examples:    []string{"curl -fsS -u deploy:" + pw("curl-1") + " -T app.jar https://nexus.acme.io/repository/releases/"},
			NoMatch:     []string{"curl -u admin:admin http://localhost:8080/api", `curl -u "$USER:$TOKEN" https://api.acme.io`, "curl -u elastic https://localhost:9200"},
		},
		{
			ID:          "generic-name-value-pair",
			Provider:    "generic",
			Description: "Credential in a name/value list (Kubernetes env, ECS task definitions, Terraform and CI variable lists): name: DB_PASSWORD, value: …",
			Keywords:    keywords,
			Window:      256,
			Regex: re(`["']?(?:[Nn]ame|NAME|[Kk]ey)["']?[ \t]*[:=][ \t]*["']?` + credName + `["']?[ \t]*(?:,[ \t]*|\r?\n[ \t]*-?[ \t]*)` +
				`["']?(?:[Vv]alue|VALUE)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[^\s"',}{$<]{8,})["']?`),
			Validate:   genericValue,
			MinEntropy: 3.0,
			Generic:    true,
			Severity:   detect.Medium,
			Examples: []string{
				"        env:\n        - name: API_TOKEN\n          value: \"" + fake("nv-1", alnum, 24) + "\"",
				`"environment": [{"name": "DB_PASSWORD", "value": "` + pw("nv-2") + `"}]`,
				`  { name = "STRIPE_WEBHOOK_SECRET", value = "` + fake("nv-3", alnum, 32) + `" },`,
			},
			NoMatch: []string{
				"        - name: DB_PASSWORD\n          valueFrom:\n            secretKeyRef:\n              name: orders-db\n              key: password",
				`{"name": "API_TOKEN", "value": "${API_TOKEN}"}`,
				"- name: TOKEN_TTL\n  value: \"3600\"",
			},
		},
	}
}
