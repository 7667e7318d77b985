package remediate

import (
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/trace"
)

const pw = "Vh3kP9sWq2Lx7Rtz"

// TestRewriteStyles: each file kind gets the reference its readers
// understand, named after the key the value was assigned to (or the URL's
// scheme), and the copy is gone.
func TestRewriteStyles(t *testing.T) {
	dsn := "postgres://orders_svc:" + pw + "@db:5432/shop"
	cases := []struct {
		path, in string
		want     []string
	}{
		{"web/db.js", "const pool = new Pool({ connectionString: '" + dsn + "' });\n",
			[]string{"connectionString: process.env.CONNECTION_STRING }"}},
		{"web/auth.ts", "const header = `Bearer " + pw + "`;\n", []string{"`Bearer ${process.env.HEADER}`"}},
		{"src/main/java/Db.java", "String dbPassword = \"" + pw + "\";\n", []string{`String dbPassword = System.getenv("DB_PASSWORD");`}},
		{"lib/db.rb", "PASSWORD = 'x" + pw + "y'\n", []string{`PASSWORD = 'x' + ENV.fetch("PASSWORD") + 'y'`}},
		{"bin/backup.sh", "#!/bin/sh\nexport PGPASSWORD=" + pw + "\npg_dump -h db shop\n", []string{`export PGPASSWORD="${PGPASSWORD}"`}},
		{"bin/check", "#!/usr/bin/env bash\ncurl -u 'admin:" + pw + "' https://x\n", []string{`curl -u 'admin:'"${LEAKED_SECRET}"'' https://x`}},
		{"config/app.json", "{\n  \"db\": {\n    \"password\": \"" + pw + "\"\n  }\n}\n", []string{`"password": "${PASSWORD}"`}},
		{"config/app.yaml", "db:\n  host: db\n  password: " + pw + "\n", []string{"password: ${DB_PASSWORD}"}},
		{"app.properties", "spring.datasource.url=" + dsn + "\n", []string{"spring.datasource.url=${SPRING_DATASOURCE_URL}"}},
		{"infra/main.tf", "resource \"aws_db_instance\" \"main\" {\n  password = \"" + pw + "\"\n}\n", []string{"password = var.password"}},
		{"web/settings.py", "DATABASES = {'default': {'PASSWORD': '" + pw + "'}}\n", []string{`'PASSWORD': os.environ["PASSWORD"]`, "import os\nDATABASES"}},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			w := &workspace{incident: "INC-20261126-3f9a", fallback: "LEAKED_SECRET", files: map[string][]byte{}, modes: map[string]string{},
				read: func(string) ([]byte, bool) { return nil, false }}
			m, err := trace.New(secret.FromString(pw))
			if err != nil {
				t.Fatal(err)
			}
			w.rewrite(c.path, []byte(c.in), m.Find([]byte(c.in)))
			w.finishTF([]string{c.path})
			got := string(w.files[c.path])
			if strings.Contains(got, pw) {
				t.Errorf("the copy is still there:\n%s", got)
			}
			for _, want := range c.want {
				if !strings.Contains(got, want) {
					t.Errorf("lacks %q:\n%s", want, got)
				}
			}
			if strings.HasSuffix(c.path, ".tf") && !strings.Contains(string(w.files["infra/variables.tf"]), "variable \"password\" {\n  type      = string\n  sensitive = true\n}") {
				t.Errorf("no sensitive declaration: %q", w.files["infra/variables.tf"])
			}
		})
	}
}

func TestUpperSnake(t *testing.T) {
	for in, want := range map[string]string{"db.password": "DB_PASSWORD", "dbPassword": "DB_PASSWORD", "DATABASE_URL": "DATABASE_URL", "api-key": "API_KEY", "2fa": "V_2FA"} {
		if got := upperSnake(in); got != want {
			t.Errorf("upperSnake(%q) = %q, want %q", in, got, want)
		}
	}
}
