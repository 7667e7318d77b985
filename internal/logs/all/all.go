// Package all lists every log parser rekey has, explicitly: no init()
// registration, so a test can build a list holding only what it needs.
package all

import (
	"fmt"

	"github.com/rekeyhq/rekey/internal/logs"
	"github.com/rekeyhq/rekey/internal/logs/cloudtrail"
	"github.com/rekeyhq/rekey/internal/logs/github"
	"github.com/rekeyhq/rekey/internal/logs/k8saudit"
	"github.com/rekeyhq/rekey/internal/logs/mysql"
	"github.com/rekeyhq/rekey/internal/logs/postgres"
	"github.com/rekeyhq/rekey/internal/logs/vault"
)

// Parsers returns every parser, in the order detection tries them (the
// most specific Sniff first). postgres-stderr reads the default
// log_line_prefix; a server with another builds its own with
// postgres.NewStderr.
func Parsers() []logs.Parser {
	stderr, err := postgres.NewStderr(postgres.DefaultPrefix)
	if err != nil {
		panic(err)
	}
	return List(
		postgres.NewCSV(),
		postgres.NewJSON(),
		stderr,
		cloudtrail.New(),
		mysql.NewGeneral(),
		mysql.NewAudit(),
		k8saudit.New(),
		vault.New(),
		// The loosest Sniff of the detected formats: last.
		github.New(),
	)
}

// List returns ps, panicking when two share a name: a name selects a
// parser (--log-format, the inventory's type), so it must be unique.
func List(ps ...logs.Parser) []logs.Parser {
	seen := map[string]bool{}
	for _, p := range ps {
		if seen[p.Name()] {
			panic(fmt.Sprintf("logs/all: two parsers named %q", p.Name()))
		}
		seen[p.Name()] = true
	}
	return ps
}

// ByName returns the parser named name from ps, or nil.
func ByName(ps []logs.Parser, name string) logs.Parser {
	for _, p := range ps {
		if p.Name() == name {
			return p
		}
	}
	return nil
}
