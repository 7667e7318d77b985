package incident

import (
	"context"
	"io"
	"time"

	"github.com/rekeyhq/rekey/internal/audit"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
)

// Deps is what the workflow works through. The CLI builds it from its
// flags and environment; the server from its configuration and the
// caller's token.
type Deps struct {
	Store store.Store
	Audit *audit.Log
	// AuditVerifier, when set, is how Report verifies Audit: incrementally
	// for a server whose pages show the log's state on every load.
	AuditVerifier *audit.Verifier
	// Actor is who asks, as the audit log names them.
	Actor string
	// LoadInventory reads the inventory at path strictly (one with
	// structural errors is an error): a response must not run on a
	// half-understood inventory.
	LoadInventory func(path string) (*inventory.Inventory, error)
	// Inventories, when set, keeps the parses of the inventories that
	// scopes and reviews read again (made with RecordedInventoryOptions):
	// a server reads the same file for every request. Nil parses each time.
	Inventories *inventory.Cache
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Claim takes an incident for the caller before it changes anything
	// (see package claim): a second worker is refused. The context it
	// returns ends when the claim is lost; release gives it up.
	Claim func(ctx context.Context, id string) (_ context.Context, release func(), _ error)

	// What a run acts through (Engine, Run, Rollback).

	// Registry holds the providers systems are opened with; Getenv
	// resolves the inventory's env: references.
	Registry *provider.Registry
	Getenv   func(string) string
	// Sealer is the sealer of an incident's run (its new credentials
	// wait sealed in the store); Fingerprinter the installation's.
	Sealer        func(incident string) (*secret.Sealer, error)
	Fingerprinter func() (*secret.Fingerprinter, error)
	// Held are the secrets the caller was given (the leaked one), masked
	// wherever a run prints or stores; DropEnv names the variables they
	// came from, which consumers' commands must not inherit.
	Held    []secret.Secret
	DropEnv []string
	// Home is where rekey keeps its files ($REKEY_HOME): remediation's
	// mirrors and rewrite instructions.
	Home string
	// Progress receives one line per step event; nil is quiet.
	Progress io.Writer
	// Say reports progress to a person watching; Warn gets one line per
	// thing they should know that does not stop the work (a log file
	// skipped, an inventory copy used). Nil is quiet.
	Say  func(format string, a ...any)
	Warn func(line string)
	// SeenTimeout and Failpoint are passed to the engine as they are.
	SeenTimeout time.Duration
	Failpoint   func(stepID, phase string)
}

// Systems opens inv's systems with d's registry and environment.
func (d Deps) Systems(inv *inventory.Inventory) Systems {
	return Systems{Registry: d.Registry, Inventory: inv, Getenv: d.Getenv}
}

func (d Deps) now() time.Time {
	if d.Now == nil {
		return time.Now()
	}
	return d.Now()
}

func (d Deps) say(format string, a ...any) {
	if d.Say != nil {
		d.Say(format, a...)
	}
}

func (d Deps) warn(line string) {
	if d.Warn != nil {
		d.Warn(line)
	}
}
