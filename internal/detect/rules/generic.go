package rules

import (
	"slices"
	"strings"

	"github.com/rekeyhq/rekey/internal/detect"
)

// Generic rules find a literal value assigned to a key whose name says it
// is a credential: DB_PASSWORD=…, "client_secret": "…", <password>…</password>.
// They must stay quiet on source code, which names things token, secret
// and password all the time, so they only accept
//   - a key that ends in the credential word (token_url, password_hash and
//     secretName are not credentials);
//   - "=", ":" or "=>" between key and value (not Go's ":=", not "==");
//   - a literal: a quoted string, or a bare value that ends the line (or
//     meets a comment, ";" or "&"), made of characters that cannot
//     form a call, an index or a block, so lexer.Next(), form["password"]
//     and {{ .Values.x }} never qualify;
// and the value must pass the engine's placeholder filter, an entropy
// floor of 3 bits per byte and genericValue (not a word, name, number, path,
// URL or e-mail address, at least 8 characters).

type genericFamily struct {
	id, what string
	keywords []string
	// endings is an alternation of the last word of the key.
	endings  string
	validate func([]byte) bool
	// hexValues: a quoted value of 32 hex digits is a credential under
	// this key (API keys are often hex; elsewhere, and bare in dotenv
	// files where provider rules judge each key name, hex is more often a
	// digest).
	hexValues bool
}

var genericFamilies = []genericFamily{
	{
		id: "generic-password", what: "password",
		keywords: []string{"password", "passwd", "pwd", "passphrase", "_pass", "-pass", ".pass"},
		endings:  `password|passwd|pwd|passphrase|[_.-]pass`,
		validate: genericPassword,
	},
	{
		id: "generic-secret", what: "secret or secret key",
		keywords: []string{"secret"},
		endings:  `secret|secret[_.-]?key|secret[_.-]?key[_.-]?base`,
		validate: genericValue,
	},
	{
		id: "generic-token", what: "token",
		keywords: []string{"token"},
		endings:  `token`,
		validate: genericValue,
	},
	{
		id: "generic-api-key", what: "API, access, private or signing key",
		keywords: []string{"api_key", "apikey", "api-key", "api.key", "access_key", "accesskey", "access-key",
			"private_key", "privatekey", "private-key", "auth_key", "authkey", "master_key", "masterkey",
			"encryption_key", "encryptionkey", "signing_key", "signingkey"},
		endings:   `api[_.-]?key|access[_.-]?key|private[_.-]?key|auth[_.-]?key|master[_.-]?key|encryption[_.-]?key|signing[_.-]?key`,
		validate:  genericValue,
		hexValues: true,
	},
}

const (
	// quotedValue is a quoted literal without whitespace or escapes.
	quotedValue = `["'` + "`" + `](?P<secret>[^\s"'` + "`" + `\\]{8,})["'` + "`" + `]`
	// bareValue is an unquoted literal, as dotenv, YAML, INI, properties
	// and shell write them; it must end the line or meet a comment, ";",
	// "&" or the end of a Markdown code fence (a KEY=value pasted in chat
	// as `+"```KEY=value```"+`), so code (calls, indexing, concatenation,
	// struct literals ending in ",") never fits.
	bareValue = `(?P<secret>[^\s"'` + "`" + `()\[\]{}<>,;&\\]{8,})(?:[ \t\r]*$|[ \t]+(?:#|//)|[;&]|` + "```" + `)`
	// bareSep is sep without the opening quote.
	bareSep = `["']?[ \t]*(?:=|:|=>)[ \t]*`
)

func genericRules() []*detect.Rule {
	var out []*detect.Rule
	var allKeywords, allEndings []string
	examples := genericExamples()
	for _, f := range genericFamilies {
		keyName := `[\w.-]*?(?:` + ci(f.endings) + `)`
		// The match starts at the credential word, which keeps the regex
		// cheap on long lines; the rest of the key name does not matter.
		key := `(?:` + ci(f.endings) + `)`
		ex := examples[f.id]
		out = append(out,
			&detect.Rule{
				ID:          f.id,
				Provider:    "generic",
				Description: "Quoted literal assigned to a key naming a " + f.what + " (JSON, YAML, TOML, HCL, code)",
				Keywords:    f.keywords,
				Regex:       re(key + `["']?[ \t]*(?:=|:|=>)[ \t]*` + quotedValue),
				Anchor:      detect.AtKeyword,
				Validate:    f.validate,
				MinEntropy:  3.0,
				Generic:     true,
				HexValues:   f.hexValues,
				Severity:    detect.Medium,
				Examples:    ex.quoted,
				NoMatch:     ex.noMatch,
			},
			&detect.Rule{
				ID:          f.id + "-bare",
				Provider:    "generic",
				Description: "Unquoted value assigned to a key naming a " + f.what + " (dotenv, YAML, INI, .properties, Dockerfile ENV/ARG)",
				Keywords:    f.keywords,
				Regex:       re(`(?m)(?:^[ \t]*(?:ENV|ARG|env|arg)[ \t]+` + keyName + `[ \t]+|` + key + bareSep + `)` + bareValue),
				Anchor:      detect.AtKeyword | detect.AtLineStart,
				Validate:    f.validate,
				MinEntropy:  3.0,
				Generic:     true,
				Severity:    detect.Medium,
				Examples:    ex.bare,
				NoMatch:     ex.noMatchBare,
			})
		allKeywords = append(allKeywords, f.keywords...)
		allEndings = append(allEndings, f.endings)
	}
	slices.Sort(allKeywords)
	allKeywords = slices.Compact(allKeywords)
	endings := `(?:` + strings.Join(allEndings, "|") + `)`
	pw := fake("xml-pw", alnum+"!#*-", 18)
	out = append(out,
		&detect.Rule{
			ID:          "generic-xml-element",
			Provider:    "generic",
			Description: "Credential in an XML element named for it (<password>…</password>, Maven settings, app configs)",
			Keywords:    allKeywords,
			Regex:       re(`<(?i:[\w.:-]*?` + endings + `)>(?P<secret>[^<>\s]{8,})</`),
			Validate:    genericValue,
			MinEntropy:  3.0,
			Generic:     true,
			Severity:    detect.Medium,
			Examples: []string{
				"<server>\n  <id>nexus-releases</id>\n  <username>deploy</username>\n  <password>" + pw + "</password>\n</server>",
				"<ApiKey>" + fake("xml-key", alnum, 32) + "</ApiKey>",
			},
			NoMatch: []string{
				"<password>{COQLCE6DU6GtcS5P=}</password>",
				"<password>${env.NEXUS_PASSWORD}</password>",
				"<xs:element name=\"password\" type=\"xs:string\"/>",
			},
		},
		&detect.Rule{
			ID:          "generic-xml-attribute",
			Provider:    "generic",
			Description: "Credential in a key/value XML element (<add key=\"ApiKey\" value=\"…\"/>, <property name=\"password\" value=\"…\"/>)",
			Keywords:    allKeywords,
			Regex: re(`<(?i:add|property|setting|entry|param|parameter|env|variable|arg|item)\s+(?i:key|name)\s*=\s*"(?i:[\w.:-]*?` + endings + `)"\s+` +
				`(?i:value)\s*=\s*"(?P<secret>[^"\s]{8,})"`),
			Validate:   genericValue,
			MinEntropy: 3.0,
			Generic:    true,
			Severity:   detect.Medium,
			Examples: []string{
				`<appSettings>` + "\n" + `  <add key="StripeApiKey" value="` + fake("xml-attr-1", alnum, 32) + `" />` + "\n" + `</appSettings>`,
				`<property name="hibernate.connection.password" value="` + fake("xml-attr-2", alnum+"!#-", 16) + `"/>`,
			},
			NoMatch: []string{
				`<add key="ApiKey" value="" />`,
				`<property name="connection.password" value="${db.password}"/>`,
				`<add key="ApiKeyHeader" value="X-Api-Key-Name" />`,
			},
		},
	)
	return out
}

type genericExample struct{ quoted, bare, noMatch, noMatchBare []string }

// genericExamples are real-looking lines for each family, in the file
// formats the rules are for, and the code and config lines they must not
// take for credentials.
func genericExamples() map[string]genericExample {
	v := func(seed string) string { return fake(seed, alnum+"!#*+-", 18) }
	return map[string]genericExample{
		"generic-password": {
			quoted: []string{
				`  "password": "` + v("gp-1") + `",`,
				`password = "` + v("gp-2") + `"`,
				`export PGPASSWORD='` + v("gp-3") + `'`,
				`  db_passwd: "` + v("gp-4") + `"`,
				`conn = psycopg2.connect(host="db", user="etl", password="` + v("gp-5") + `")`,
				`  dbPassword: "` + v("gp-6") + `"`,
			},
			bare: []string{
				"spring.datasource.password=" + v("gpb-1"),
				"DB_PASSWORD=" + v("gpb-2"),
				"  db_pass: " + v("gpb-3") + "  # rotated 2024-03",
				"ENV MYSQL_ROOT_PASSWORD=" + v("gpb-4"),
				"ENV REDIS_PASSWORD " + v("gpb-5"),
				"[client]\nuser = backup\npassword = " + v("gpb-6"),
				// A generated password that happens to hold no digit.
				"SMTP_PASSWORD=" + fake("gpb-7", alpha+"-", 20),
				"    db-password: " + v("gpb-8"),
			},
			noMatch: []string{
				`password = request.form["password"]`,
				`if password == "` + v("gpn-1") + `":`,
				"func login(user, password string) error {",
				"\tPassword string `json:\"password\" yaml:\"password\"`",
				`password := os.Getenv("DB_PASSWORD")`,
				`  "password": {"type": "string", "minLength": 12},`,
				`password = "changeme123"`,
				`  password: "{{ .Values.postgresql.auth.password }}"`,
				`    password: ${{ secrets.REGISTRY_PASSWORD }}`,
				`<input type="password" name="password" placeholder="Password">`,
				`password_hash = "$2b$12$` + fake("gpn-2", b64, 53) + `"`,
			},
			noMatchBare: []string{
				"DB_PASSWORD=${DB_PASSWORD:?required}",
				"ARG DB_PASSWORD",
				"password: !vault |",
				"spring.datasource.password=${SPRING_DATASOURCE_PASSWORD}",
				"DB_PASSWORD_FILE=/run/secrets/db_password",
				"password: hunter2",
				"password = getpass.getpass()",
				"password: str = Field(..., min_length=12)",
				"  password: {{ .Values.db.password | b64enc }}",
				"PGPASSWORD=$(vault kv get -field=password secret/db)",
				"password: " + strings.Repeat("*", 12),
				"SMTP_PASSWORD=smtp-password-goes-here",
			},
		},
		"generic-secret": {
			quoted: []string{
				`SECRET_KEY = "django-insecure-` + v("gs-1") + `"`,
				`  "clientSecret": "` + fake("gs-2", alnum+"~._-", 34) + `",`,
				`  "clientSecret": "` + fake("gs-5", alpha+".", 34) + `",`,
				`jwt_secret = '` + v("gs-3") + `'`,
			},
			bare: []string{
				"CLIENT_SECRET=" + v("gsb-1"),
				"  client_secret: " + v("gsb-2"),
				"secret_key_base: " + fake("gsb-3", hexLower, 48) + "x" + fake("gsb-4", hexLower, 79),
			},
			noMatch: []string{
				`secret = hmac.New(sha256.New, key)`,
				`  secretName: "orders-db-credentials"`,
				`secret: "{{ .Values.secret }}"`,
				`  "secret": "` + fake("gsn-1", hexLower, 64) + `",`,
				`const secretHeader = "X-Webhook-Secret"`,
			},
			noMatchBare: []string{
				"kind: Secret",
				"secretName: orders-db-credentials",
				"  secret: my-app-secret-name",
				"JWT_SECRET=${JWT_SECRET}",
				"secret = derive_secret(master, label)",
				"aws_secret_access_key = DONOTNORMALIZE_credentials_secret",
				"client_secret: " + uuidLike("gsn-2"),
			},
		},
		"generic-token": {
			quoted: []string{
				`  "access_token": "` + fake("gt-1", alnum+"._-", 48) + `",`,
				`slack_token: '` + fake("gt-2", alnum, 32) + `'`,
				`api.auth(token="` + fake("gt-3", alnum, 40) + `")`,
			},
			bare: []string{
				"API_TOKEN=" + fake("gtb-1", alnum, 40),
				"export CODECOV_TOKEN=" + uuidLike("gtb-x") + "x" + fake("gtb-2", alnum, 4),
				"auth_token = " + fake("gtb-3", alnum+"-_", 36),
				"https://api.acme.io/v1/export?token=" + fake("gtb-4", alnum, 32) + "&format=csv",
			},
			noMatch: []string{
				`token := lexer.Next()`,
				`  "token_type": "Bearer",`,
				`if tok.Token == "` + fake("gtn-1", alnum, 12) + `" {`,
				`  "max_tokens": 4096,`,
				`token_url: "https://oauth2.googleapis.com/token"`,
				`csrf_token: "{{ csrf_token() }}"`,
				`  token: "${{ secrets.GITHUB_TOKEN }}"`,
				`const token = "<your-token>";`,
				`					SessionToken:    "DoNotNormalize_config_session_token",`,
			},
			noMatchBare: []string{
				"tok, token = next_token()",
				"case token.IDENT:",
				"API_TOKEN=",
				"GITHUB_TOKEN=${{ secrets.GITHUB_TOKEN }}",
				"token: !!str 1234567890",
				"refresh_token = self.refresh_token",
				"\t(*TFts5Config)(unsafe.Pointer(pConfig)).FbPrefixInsttoken = bPrefixInsttoken",
				"id_token = jwt.encode(claims, key)",
				"NPM_TOKEN=xxxxxxxxxxxxxxxxxxxxxxxx",
				"TOKEN=" + fake("gtn-2", hexLower, 40),
			},
		},
		"generic-api-key": {
			quoted: []string{
				`  apiKey: "` + fake("gk-1", alnum, 39) + `",`,
				`"x-api-key": "` + fake("gk-2", alnum, 40) + `"`,
				`private_key = "0x` + fake("gk-3", hexLower, 64) + `"`,
				// Many providers issue API keys as 32 hex digits.
				`      "internalApiKey": "` + fake("gk-4", hexLower, 32) + `"`,
				`  partner-api-key: "` + fake("gk-5", hexLower, 32) + `"`,
			},
			bare: []string{
				"MAPS_API_KEY=" + fake("gkb-1", alnum, 32),
				"  access_key: " + fake("gkb-2", upperAlnum, 20),
				"export ENCRYPTION_KEY=" + fake("gkb-3", b64, 43) + "=",
				"for the partner: ```PARTNER_API_KEY=" + fake("gkb-5", alnum, 40) + "```",
			},
			noMatch: []string{
				`api_key = settings.API_KEY`,
				`private_key = file("~/.ssh/id_rsa")`,
				`const apiKeyHeader = "X-Api-Key"`,
				`  "private_key_id": "` + fake("gkn-1", hexLower, 40) + `",`,
				`  apiKeyHash: "` + fake("gkn-2", hexLower, 64) + `"`,
				`  apiKey: "` + strings.Repeat("0", 32) + `"`,
				`  apiKey: "` + fake("gkn-3", hexLower, 40) + `"`,
			},
			noMatchBare: []string{
				"apiKey: process.env.API_KEY,",
				"private_key_path: /etc/ssl/private/server.key",
				"private_key: /etc/ssl/private/server.key",
				"API_KEY=your-api-key",
				"SEARCH_API_KEY=" + fake("gkn-4", hexLower, 32),
				"```API_KEY=<your-api-key>```",
				"api_key: !ENV ${API_KEY}",
			},
		},
	}
}
