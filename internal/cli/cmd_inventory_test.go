package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/detect/rules"
)

const smallInventory = `version: 1
systems:
  - { name: shop-db, type: postgres, admin: env:SHOP_DB_ADMIN_DSN }
identities:
  - { name: orders_svc, system: shop-db, owner: { team: orders, contact: "#orders" } }
consumers:
  - name: acme
    identity: orders_svc
    third_party: true
    change_window: "Sat 02:00-04:00 UTC"
`

func writeInventory(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "inventory.yml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestInventoryCheckClean(t *testing.T) {
	p := writeInventory(t, smallInventory)
	r := run(t, map[string]string{"SHOP_DB_ADMIN_DSN": "postgres://rekey@db/postgres"}, "", "inventory", "check", p)
	if r.code != 0 || r.stdout != "inventory ok: 1 system, 1 identity, 1 consumer (0 warnings)\n" || r.stderr != "" {
		t.Fatalf("exit %d\nstdout %q\nstderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestInventoryCheckWarningsExitZero(t *testing.T) {
	p := writeInventory(t, smallInventory)
	r := run(t, nil, "", "inventory", "check", p)
	want := p + ":3:45: warning: system \"shop-db\": admin env:SHOP_DB_ADMIN_DSN: variable is unset or empty here\n" +
		"inventory ok: 1 system, 1 identity, 1 consumer (1 warning)\n"
	if r.code != 0 || r.stdout != want {
		t.Fatalf("exit %d\nstdout %q\nwant   %q", r.code, r.stdout, want)
	}

	// The documented example: no errors, warnings for what this machine lacks.
	r = run(t, nil, "", "inventory", "check", "../inventory/testdata/good.yml")
	if r.code != 0 || !regexp.MustCompile(`(?m)^inventory ok: 3 systems, 5 identities, 7 consumers \(\d+ warnings\)\n\z`).MatchString(r.stdout) ||
		strings.Contains(r.stdout, ": error: ") {
		t.Fatalf("exit %d\n%s", r.code, r.stdout)
	}
}

func TestInventoryCheckErrorsExitOne(t *testing.T) {
	p := writeInventory(t, strings.Replace(smallInventory, "identity: orders_svc", "identity: order_svc\n    reloads: x", 1))
	r := run(t, map[string]string{"SHOP_DB_ADMIN_DSN": "x"}, "", "inventory", "check", p)
	want := p + ":8:15: error: consumer \"acme\": identity \"order_svc\" is not defined; did you mean \"orders_svc\"?\n" +
		p + ":9:5: error: consumer \"acme\": unknown key \"reloads\"; did you mean \"reload\"?\n" +
		"inventory has 2 errors (0 warnings)\n"
	if r.code != 1 || r.stdout != want || r.stderr != "" {
		t.Fatalf("exit %d\nstdout %q\nwant   %q\nstderr %q", r.code, r.stdout, want, r.stderr)
	}
}

func TestInventoryCheckInlineSecret(t *testing.T) {
	var token string
	for _, rule := range rules.All() {
		if rule.ID == "github-pat-classic" {
			_, token, _ = strings.Cut(rule.Examples[0], "=")
		}
	}
	inline := strings.Replace(smallInventory, "admin: env:SHOP_DB_ADMIN_DSN", "admin: \"postgres://admin:"+dbPassword+"@db:5432/postgres\"", 1) +
		"    notes: deploys with " + token + "\n"
	p := writeInventory(t, inline)
	r := run(t, nil, "", "inventory", "check", p)
	if r.code != 1 || !strings.Contains(r.stdout, p+":3:63: error: inline secret (rule postgres-uri)") ||
		!strings.Contains(r.stdout, p+":11:25: error: inline secret (rule github-pat-classic)") {
		t.Fatalf("exit %d\n%s", r.code, r.stdout)
	}
	if strings.Contains(r.stdout+r.stderr, dbPassword) || strings.Contains(r.stdout+r.stderr, token[4:]) {
		t.Fatal("a secret is printed")
	}
}

func TestInventoryCheckJSON(t *testing.T) {
	p := writeInventory(t, strings.Replace(smallInventory, "type: postgres", "type: postgress", 1))
	r := run(t, nil, "", "inventory", "check", p, "--format", "json")
	if r.code != 1 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var got struct {
		Errors, Warnings []struct {
			File         string
			Line, Column int
			Message      string
		}
		Systems, Identities, Consumers int
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.stdout)
	}
	if len(got.Errors) != 1 || got.Errors[0].File != p || got.Errors[0].Line != 3 || got.Errors[0].Column != 28 ||
		!strings.Contains(got.Errors[0].Message, `did you mean "postgres"?`) || len(got.Warnings) != 1 || got.Systems != 1 {
		t.Fatalf("%+v", got)
	}

	p = writeInventory(t, smallInventory)
	r = run(t, map[string]string{"SHOP_DB_ADMIN_DSN": "x"}, "", "inventory", "check", p, "--format", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"errors": []`) || !strings.Contains(r.stdout, `"warnings": []`) {
		t.Fatalf("exit %d\n%s", r.code, r.stdout)
	}
}

func TestInventoryCheckUnreadableExitTwo(t *testing.T) {
	dir := t.TempDir()
	notYAML := filepath.Join(dir, "notes.yml")
	if err := os.WriteFile(notYAML, []byte("version: 1\nsystems: [unclosed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	text := filepath.Join(dir, "README")
	if err := os.WriteFile(text, []byte("Just some prose.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"inventory", "check", filepath.Join(dir, "missing.yml")}, "missing.yml: no such file or directory"},
		{[]string{"inventory", "check", notYAML}, "not YAML"},
		{[]string{"inventory", "check", text}, "not an inventory"},
		{[]string{"inventory", "check"}, "accepts 1 arg"},
		{[]string{"inventory", "check", text, "--format", "sarif"}, `--format "sarif"`},
	} {
		r := run(t, nil, "", c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.msg) || r.stdout != "" {
			t.Errorf("%v: exit %d\nstdout %q\nstderr %q", c.args, r.code, r.stdout, r.stderr)
		}
	}
}

func TestInventoryHelp(t *testing.T) {
	r := run(t, nil, "", "inventory")
	if r.code != 0 || !strings.Contains(r.stdout, "check") || !strings.Contains(r.stdout, "Usage:") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, nil, "", "inventory", "check", "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "EXIT STATUS") {
		t.Fatalf("exit %d\n%s", r.code, r.stdout)
	}
	if r := run(t, nil, "", "inventory", "chek"); r.code != 2 {
		t.Fatalf("a mistyped subcommand: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
