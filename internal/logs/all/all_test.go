package all

import (
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/logs"
	_ "github.com/rekeyhq/rekey/internal/logs/logstest" // defines -update for go test ./internal/logs/... -update
	"github.com/rekeyhq/rekey/internal/logs/postgres"
)

func TestParsers(t *testing.T) {
	ps := Parsers()
	for _, name := range []string{"postgres-csv", "postgres-json", "postgres-stderr", "cloudtrail", "mysql-general", "mariadb-audit", "k8s-audit", "vault-audit", "github-audit"} {
		if ByName(ps, name) == nil {
			t.Errorf("no parser named %s", name)
		}
	}
}

func TestListPanicsOnDuplicate(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("List accepted two parsers with one name")
		}
	}()
	List(postgres.NewCSV(), postgres.NewCSV())
}

func TestDetect(t *testing.T) {
	ps := Parsers()
	for file, want := range map[string]string{
		"../postgres/testdata/live.csv":  "postgres-csv",
		"../postgres/testdata/live.json": "postgres-json",
	} {
		if got := detect(t, file, ps); got != want {
			t.Errorf("Detect(%s) = %q, want %q", file, got, want)
		}
	}
	def := "2026-11-20 10:00:00.001 UTC [77] LOG:  connection received: host=10.1.1.1 port=5000\n"
	if p := logs.Detect([]byte(def), ps); p == nil || p.Name() != "postgres-stderr" {
		t.Errorf("Detect(default stderr) = %v", p)
	}
	if p := logs.Detect([]byte("hello\n"), ps); p != nil {
		t.Errorf("Detect(hello) = %s", p.Name())
	}
	cts, _ := filepath.Glob("../cloudtrail/testdata/*.json*")
	for _, f := range cts {
		if strings.HasSuffix(f, ".golden.json") {
			continue
		}
		if got := detect(t, f, ps); got != "cloudtrail" && got != "" {
			t.Errorf("Detect(%s) = %q, want cloudtrail (or nothing, for a bad input)", f, got)
		}
	}
}

func detect(t *testing.T, file string, ps []logs.Parser) string {
	t.Helper()
	rc, err := logs.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	head := make([]byte, logs.HeadSize)
	n, _ := io.ReadFull(rc, head)
	if p := logs.Detect(head[:n], ps); p != nil {
		return p.Name()
	}
	return ""
}
