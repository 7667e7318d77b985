package incident

import (
	"context"

	"github.com/rekeyhq/rekey/internal/claim"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/store"
)

// StoreClaim is a Deps.Claim over st for actor, for a process that holds
// each claim for one call (a server request): the returned context ends
// when the claim is lost, and release gives it up. A takeover from a dead
// holder is audited by the caller's next entries, not here.
func StoreClaim(st store.Store, actor string) func(ctx context.Context, id string) (context.Context, func(), error) {
	return func(ctx context.Context, id string) (context.Context, func(), error) {
		cl, err := claim.For(st, claim.Options{})
		if err != nil {
			return nil, nil, err
		}
		c, err := cl.Claim(ctx, id, actor)
		if err != nil {
			return nil, nil, err
		}
		ctx, cancel := context.WithCancelCause(ctx)
		go func() {
			select {
			case <-c.Lost():
				cancel(errs.New("claim", errs.Conflict, id, "lost the claim"))
			case <-ctx.Done():
			}
		}()
		return ctx, func() { cancel(nil); _ = c.Release() }, nil
	}
}
