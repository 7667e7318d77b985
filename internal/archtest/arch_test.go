// Package archtest checks the shape of the code base: imports go downward
// only (see docs/architecture.md) and every package says what it is for.
package archtest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/rekeyhq/rekey/"

type pkg struct {
	dir     string
	imports map[string]bool
	hasDoc  bool
}

func loadPackages(t *testing.T) map[string]*pkg {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	pkgs := map[string]*pkg{}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bench" || name == "examples") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(p))
		rel = filepath.ToSlash(rel)
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		k := pkgs[rel]
		if k == nil {
			k = &pkg{dir: rel, imports: map[string]bool{}}
			pkgs[rel] = k
		}
		if f.Doc != nil && strings.HasPrefix(strings.TrimSpace(f.Doc.Text()), "Package "+f.Name.Name) ||
			f.Doc != nil && f.Name.Name == "main" && strings.HasPrefix(strings.TrimSpace(f.Doc.Text()), "Command ") {
			k.hasDoc = true
		}
		for _, im := range f.Imports {
			path, _ := strconv.Unquote(im.Path.Value)
			if strings.HasPrefix(path, module) {
				k.imports[strings.TrimPrefix(path, module)] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 5 {
		t.Fatalf("found only %d packages; is the walk rooted right?", len(pkgs))
	}
	return pkgs
}

// layer of a package: it may import packages of a strictly lower layer
// and packages of its own family (see sameFamily).
func layer(dir string) int {
	top := func(prefixes ...string) bool {
		for _, p := range prefixes {
			if dir == p || strings.HasPrefix(dir, p+"/") {
				return true
			}
		}
		return false
	}
	// The response packages build on each other in the order a response
	// runs: scope and review feed plan, plan feeds engine (and remediate),
	// report shows all of them, server serves it all.
	switch {
	case top("cmd"):
		return 50
	case top("internal/cli"):
		return 40
	case top("internal/server"):
		return 39
	case top("internal/web"):
		// The browser side of the service, mounted by the server.
		return 38
	case top("internal/watch/watcher"):
		// Acts on watch's findings through the incident service; the
		// server runs it (serve --watch).
		return 38
	case top("internal/incident"):
		// The response as a service: the CLI and the server call it.
		return 37
	case top("internal/broker"):
		return 36
	case top("internal/report"):
		return 35
	case top("internal/engine", "internal/remediate"):
		return 34
	case top("internal/plan"):
		return 33
	case top("internal/watch"):
		// Follows logs and judges with the review's rules; the incident
		// service acts on its findings.
		return 33
	case top("internal/scope", "internal/review"):
		return 32
	case top("internal/scan"):
		return 20
	case top("internal/provider", "internal/deliver", "internal/logs", "internal/detect", "internal/source", "internal/trace", "internal/decode"):
		return 10
	case top("internal/notify"):
		// Tells people what needs them (the inventory's notify:); the
		// server and the watcher call it.
		return 10
	case top("internal/inventory"):
		// The model of the user's systems: plugins may read it (a
		// delivery target is an inventory entry).
		return 5
	}
	return 0 // secret, store, audit, errs, testutil
}

// allowed says whether package dir may import package im.
func allowed(dir, im string) bool {
	if strings.HasPrefix(im, "internal/cli") {
		return strings.HasPrefix(dir, "cmd/")
	}
	return layer(im) < layer(dir) || sameFamily(dir, im) || layer(dir) == 0 && layer(im) == 0
}

func TestImportsGoDownward(t *testing.T) {
	for dir, p := range loadPackages(t) {
		for im := range p.imports {
			if !allowed(dir, im) {
				t.Errorf("%s (layer %d) imports %s (layer %d): imports must go downward", dir, layer(dir), im, layer(im))
			}
		}
	}
}

func TestAllowedRejectsUpwardImports(t *testing.T) {
	bad := [][2]string{
		{"internal/detect", "internal/cli"},
		{"internal/provider/postgres", "internal/engine"},
		{"internal/logs/cloudtrail", "internal/server"},
		{"internal/source/git", "internal/scan"},
		{"internal/detect", "internal/source"},
		{"internal/secret", "internal/detect"},
		{"internal/scope", "internal/cli"},
		{"internal/plan", "internal/engine"},
		{"internal/scope", "internal/plan"},
		{"internal/engine", "internal/report"},
		{"internal/incident", "internal/cli"},
		{"internal/incident", "internal/server"},
		{"internal/engine", "internal/incident"},
	}
	for _, c := range bad {
		if allowed(c[0], c[1]) {
			t.Errorf("%s importing %s is allowed", c[0], c[1])
		}
	}
	good := [][2]string{{"cmd/rekey", "internal/cli"}, {"internal/detect/rules", "internal/detect"}, {"internal/source/git", "internal/source"}, {"internal/scan", "internal/trace"}, {"internal/report", "internal/scan"}, {"internal/engine", "internal/plan"}, {"internal/plan", "internal/scope"}, {"internal/report", "internal/engine"}, {"internal/server", "internal/incident"}, {"internal/incident", "internal/engine"}, {"internal/incident", "internal/report"}}
	for _, c := range good {
		if !allowed(c[0], c[1]) {
			t.Errorf("%s importing %s is refused", c[0], c[1])
		}
	}
}

// sameFamily allows a plugin to use its family's shared types: the git
// source the source package, the rules the detect package.
func sameFamily(a, b string) bool {
	pa, pb := strings.Split(a, "/"), strings.Split(b, "/")
	return len(pa) >= 2 && len(pb) >= 2 && pa[0] == pb[0] && pa[1] == pb[1]
}

func TestEveryPackageHasADocComment(t *testing.T) {
	for dir, p := range loadPackages(t) {
		if !p.hasDoc {
			t.Errorf("%s has no package doc comment (\"Package x …\")", dir)
		}
	}
}

func TestNoPackageUsesInit(t *testing.T) {
	// Registries are explicit (see STYLE.md); init() side effects hide them.
	root, _ := filepath.Abs("../..")
	_ = filepath.WalkDir(filepath.Join(root, "internal"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), "\nfunc init()") {
			t.Errorf("%s defines init()", p)
		}
		return nil
	})
}

// TestTestServersDoNotImportTheirProvider: a provider's test server
// (internal/provider/NAME/NAMEtest, written from the service's published
// API reference) shares no code with the provider or the API clients it
// stands in front of, so that a misreading of the reference in one
// cannot hide the same misreading in the other.
func TestTestServersDoNotImportTheirProvider(t *testing.T) {
	servers := 0
	for dir, p := range loadPackages(t) {
		parts := strings.Split(dir, "/")
		if len(parts) != 4 || parts[0] != "internal" || parts[1] != "provider" || !strings.HasSuffix(parts[3], "test") {
			continue
		}
		servers++
		for im := range p.imports {
			if forbiddenToTestServers(im) {
				t.Errorf("test server %s imports %s", dir, im)
			}
		}
	}
	if servers < 5 {
		t.Errorf("found %d test servers under internal/provider/*/, want at least the five of the cloud systems", servers)
	}
	for _, im := range []string{"internal/provider", "internal/provider/awsiam", "internal/kubeapi", "internal/gitlabapi", "internal/deliver/k8ssecret"} {
		if !forbiddenToTestServers(im) {
			t.Errorf("a test server importing %s is allowed", im)
		}
	}
}

// forbiddenToTestServers: the providers, their shared API clients and
// the deliveries that reach the same services.
func forbiddenToTestServers(im string) bool {
	for _, p := range []string{"internal/provider", "internal/kubeapi", "internal/gitlabapi", "internal/deliver"} {
		if im == p || strings.HasPrefix(im, p+"/") {
			return true
		}
	}
	return false
}
