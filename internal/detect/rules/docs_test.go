package rules

import (
	"bytes"
	"flag"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/rules.md from the rule set")

// docsPath is docs/rules.md at the repository root, three levels up.
var docsPath = filepath.Join("..", "..", "..", "docs", "rules.md")

// TestRulesDoc fails when docs/rules.md is not what the rule set
// generates, so the page cannot go stale; -update rewrites it.
func TestRulesDoc(t *testing.T) {
	got, err := Markdown(All())
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(docsPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatalf("%v (run: go test ./internal/detect/rules -run TestRulesDoc -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("docs/rules.md is stale: run go test ./internal/detect/rules -run TestRulesDoc -update")
	}
}

// TestSources checks each citation is an https URL that names a page,
// not a bare host.
func TestSources(t *testing.T) {
	for _, r := range All() {
		if r.Source == "" {
			continue
		}
		u, err := url.Parse(r.Source)
		if err != nil || u.Scheme != "https" || u.Host == "" || strings.Trim(u.Path, "/") == "" {
			t.Errorf("%s: source %q is not an https URL of a page", r.ID, r.Source)
		}
	}
}

func TestMask(t *testing.T) {
	tok := checksummed("ghp_", "mask-1")
	m := mask(tok)
	if strings.Contains(m, tok[10:30]) || !strings.HasPrefix(m, "ghp_") || !strings.Contains(m, "(40 chars)") {
		t.Errorf("mask(%s) = %s", tok, m)
	}
	pem := fakePEM("RSA PRIVATE KEY", "mask-2", 600)
	if m := mask(pem); !strings.HasPrefix(m, "-----BEGIN RSA PRIVATE KEY-----…") || strings.Contains(m, "\n") {
		t.Errorf("mask(pem) = %s", m)
	}
}
