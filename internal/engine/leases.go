package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/store"
)

// Leases is what the broker steps need of the broker's leases
// (broker.Leases implements it; the engine sits below the broker, so the
// caller builds it).
type Leases interface {
	// RevokeIdentity ends every live lease issued from identity (revoke,
	// end its sessions, drop), audits each, and returns how many it
	// ended. Ending ended leases is not an error.
	RevokeIdentity(ctx context.Context, identity provider.IdentityRef, by string) (int, error)
	// ActiveLogin reports whether login is an active lease of role.
	ActiveLogin(ctx context.Context, role, login string) (bool, error)
}

// revokeLeases ends every lease of the step's identity. It is idempotent:
// a resumed step ends what is still live, and none left is done.
func (e *Engine) revokeLeases(ctx context.Context, st *plan.Step) (map[string]any, error) {
	ref := provider.IdentityRef{System: st.System, Name: st.Identity}
	if e.d.Leases == nil {
		// Without the broker's service nothing can be ended; nothing
		// live is fine, anything else is the step's failure.
		live, err := e.d.Store.BrokerLeases(ctx, store.BrokerLeaseFilter{System: st.System, Identity: st.Identity,
			States: []string{store.BrokerIssuing, store.BrokerActive}})
		if err != nil {
			return nil, err
		}
		if len(live) > 0 {
			return nil, errs.New("run", errs.Unsupported, st.ID, fmt.Sprintf("%d lease(s) of %s are live and this run has no broker to end them", len(live), st.Target))
		}
		return map[string]any{"revoked": 0, "detail": "no live lease of " + st.Target}, nil
	}
	l, err := e.d.Leases(ctx)
	if err != nil {
		return nil, err
	}
	n, err := l.RevokeIdentity(ctx, ref, e.d.Actor)
	if err != nil {
		return nil, err
	}
	return map[string]any{"revoked": n, "detail": fmt.Sprintf("%d lease(s) of %s ended with their sessions", n, st.Target)}, nil
}

// moveToLease is done once the consumer's config holds an active lease of
// the step's role: its agent put it there. It waits up to SeenTimeout for
// the agent, then fails saying what to start; a resumed run checks again.
func (e *Engine) moveToLease(ctx context.Context, st *plan.Step) (map[string]any, error) {
	c, err := e.consumer(st)
	if err != nil {
		return nil, err
	}
	if c.Deliver == nil {
		return map[string]any{"detail": "confirmed by a person"}, nil
	}
	if e.d.Leases == nil {
		return nil, errs.New("run", errs.Unsupported, st.ID, "this run has no broker to check leases with")
	}
	l, err := e.d.Leases(ctx)
	if err != nil {
		return nil, err
	}
	t, err := e.d.Target(c)
	if err != nil {
		return nil, err
	}
	deadline := e.d.Now().Add(e.d.SeenTimeout)
	for {
		cur, err := t.Current(ctx)
		if err != nil && errs.KindOf(err) != errs.NotFound {
			return nil, err
		}
		if cur.User != "" {
			ok, err := l.ActiveLogin(ctx, st.Role, cur.User)
			if err != nil {
				return nil, err
			}
			if ok {
				return map[string]any{"login": cur.User, "detail": fmt.Sprintf("%s holds lease login %s of role %s", c.Name, cur.User, st.Role)}, nil
			}
		}
		if e.d.Now().After(deadline) {
			return nil, errs.New("run", errs.Invalid, st.ID, fmt.Sprintf(
				"consumer %s does not hold an active lease of role %s after %s: start its agent (rekey agent --role %s --inventory INVENTORY --consumer %s) and run again",
				c.Name, st.Role, e.d.SeenTimeout, st.Role, c.Name))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
