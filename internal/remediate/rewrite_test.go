package remediate

import (
	"encoding/base64"
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

// TestRetiredLoginIsRewrittenBesideThePassword: after a rotation to new
// logins the old user no longer logs in, so a copy that names it beside
// the password gets the user rewritten too (PGUSER beside PGPASSWORD in a
// workflow, DB_USER in a .env file, a Kubernetes Secret's username in
// stringData and base64 data), when the file singles out the new login:
// the only one issued, or the login of the consumer whose delivery file
// it is. When it does not (a split, a file no consumer is delivered to),
// the user stays and the change says which logins to choose from. A
// connection URL becomes a reference whose value must name the new user.
func TestRetiredLoginIsRewrittenBesideThePassword(t *testing.T) {
	graceful := []LoginChange{{Old: "orders_svc", New: []NewLogin{{Login: "orders_svc_r3f9a", Consumer: "orders-api"}, {Login: "orders_svc_r3f9a", Consumer: "billing"}}}}
	split := []LoginChange{{Old: "orders_svc", New: []NewLogin{
		{Login: "orders_svc_orders_api", Consumer: "orders-api", Path: "/repo/deploy/orders.env"},
		{Login: "orders_svc_billing", Consumer: "billing"}}}}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	secretDoc := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  username: orders_svc\n  password: " + pw + "\n" +
		"---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: other\ndata:\n  username: " + b64("orders_svc") + "\n"
	cases := []struct {
		name, path, in string
		logins         []LoginChange
		want, not      []string
		note           string
	}{
		{"workflow", ".github/workflows/ci.yml",
			"jobs:\n  test:\n    env:\n      PGUSER: orders_svc\n      PGPASSWORD: " + pw + "\n    steps:\n      - run: psql -c 'select 1'\n",
			graceful, []string{"PGUSER: orders_svc_r3f9a", "PGPASSWORD: ${{ secrets.PGPASSWORD }}"}, []string{"PGUSER: orders_svc\n"}, "PGUSER now names orders_svc_r3f9a"},
		{"k8s secret", "k8s/secret.yaml", secretDoc, graceful,
			[]string{"username: orders_svc_r3f9a", "username: " + b64("orders_svc")}, nil, "username now names orders_svc_r3f9a"},
		{"k8s secret data", "k8s/data.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  DB_USER: " + b64("orders_svc") + "\n  DB_PASSWORD: " + b64(pw) + "\n",
			graceful, []string{"DB_USER: " + b64("orders_svc_r3f9a")}, []string{b64(pw)}, "DB_USER now names orders_svc_r3f9a"},
		{"split, a consumer's file", "deploy/orders.env", "DB_USER=orders_svc\nDB_PASSWORD=" + pw + "\n", split,
			[]string{"DB_USER=orders_svc_orders_api"}, nil, "DB_USER now names orders_svc_orders_api"},
		{"split, nobody's file", ".github/workflows/ci.yml",
			"env:\n  PGUSER: orders_svc\n  PGPASSWORD: " + pw + "\n", split,
			[]string{"PGUSER: orders_svc\n"}, nil, "one of orders_svc_orders_api (consumer orders-api), orders_svc_billing (consumer billing)"},
		{"dsn", "config/app.yaml", "db:\n  url: postgres://orders_svc:" + pw + "@db:5432/shop\n", graceful,
			[]string{"url: ${DB_URL}"}, nil, "must now name user orders_svc_r3f9a, not orders_svc"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := &workspace{incident: "INC-20261126-3f9a", fallback: "LEAKED_SECRET", files: map[string][]byte{}, modes: map[string]string{},
				read: func(string) ([]byte, bool) { return nil, false }, logins: c.logins, dir: "/repo"}
			m, err := trace.New(secret.FromString(pw))
			if err != nil {
				t.Fatal(err)
			}
			w.rewrite(c.path, []byte(c.in), m.Find([]byte(c.in)))
			got := string(w.files[c.path])
			for _, want := range c.want {
				if !strings.Contains(got, want) {
					t.Errorf("lacks %q:\n%s", want, got)
				}
			}
			for _, not := range c.not {
				if strings.Contains(got, not) {
					t.Errorf("still has %q:\n%s", not, got)
				}
			}
			var notes []string
			users := 0
			for _, ch := range w.changes {
				notes = append(notes, ch.Note)
				if ch.OldUser == "orders_svc" {
					users++
				}
			}
			if users == 0 || !strings.Contains(strings.Join(notes, "\n"), c.note) {
				t.Errorf("changes %+v: want a login change noting %q", w.changes, c.note)
			}
		})
	}
	// Without a retired login nothing but the password changes.
	w := &workspace{incident: "INC-1", fallback: "X", files: map[string][]byte{}, modes: map[string]string{}, read: func(string) ([]byte, bool) { return nil, false }}
	m, _ := trace.New(secret.FromString(pw))
	in := "PGUSER=orders_svc\nPGPASSWORD=" + pw + "\n"
	w.rewrite("run.sh", []byte(in), m.Find([]byte(in)))
	if !strings.Contains(string(w.files["run.sh"]), "PGUSER=orders_svc\n") || len(w.changes) != 1 {
		t.Errorf("no login change, yet: %q %+v", w.files["run.sh"], w.changes)
	}
}
