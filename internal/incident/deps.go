package incident

import (
	"context"
	"time"

	"github.com/rekeyhq/rekey/internal/audit"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/store"
)

// Deps is what the workflow works through. The CLI builds it from its
// flags and environment; the server from its configuration and the
// caller's token.
type Deps struct {
	Store store.Store
	Audit *audit.Log
	// Actor is who asks, as the audit log names them.
	Actor string
	// LoadInventory reads the inventory at path strictly (one with
	// structural errors is an error): a response must not run on a
	// half-understood inventory.
	LoadInventory func(path string) (*inventory.Inventory, error)
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Claim takes an incident for the caller before it changes anything
	// (see package claim): a second worker is refused. The context it
	// returns ends when the claim is lost; release gives it up.
	Claim func(ctx context.Context, id string) (_ context.Context, release func(), _ error)
}

func (d Deps) now() time.Time {
	if d.Now == nil {
		return time.Now()
	}
	return d.Now()
}
