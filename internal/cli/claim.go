package cli

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/rekeyhq/rekey/internal/claim"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/store"
)

// claims are the incidents this process holds, so that a command run
// inside another (respond runs run and remediate) uses its claim instead
// of being refused by it.
type claims struct {
	mu   sync.Mutex
	held map[string]*claim.Claim
}

// claim takes incident id for this command (see package claim): a second
// rekey working on it is refused, exit 2, with who holds it. The returned
// context ends when the claim is lost (the holder must stop); release
// gives the claim up, and does nothing for a claim an enclosing command
// holds.
func (g *globals) claim(ctx context.Context, st store.Store, id string) (context.Context, func(), error) {
	g.claims.mu.Lock()
	defer g.claims.mu.Unlock()
	if c := g.claims.held[id]; c != nil {
		return ctx, func() {}, nil
	}
	cl, err := claim.For(st, claim.Options{})
	if err != nil {
		return nil, nil, err
	}
	c, err := cl.Claim(ctx, id, g.actor())
	if err != nil {
		return nil, nil, err
	}
	if p := c.Previous; p != nil {
		fmt.Fprintf(g.env.Stderr, "rekey: took over %s from %s (pid %d on %s), whose process is gone or silent since %s\n",
			id, p.Actor, p.PID, p.Host, p.Heartbeat.UTC().Format(time.RFC3339))
		al, err := g.auditLog(st)
		if err == nil {
			_, err = al.Append(ctx, g.actor(), "claim.taken-over", id, map[string]any{
				"actor": p.Actor, "pid": p.PID, "host": p.Host, "since": p.Since, "heartbeat": p.Heartbeat})
		}
		if err != nil {
			c.Release()
			return nil, nil, err
		}
	}
	if g.claims.held == nil {
		g.claims.held = map[string]*claim.Claim{}
	}
	g.claims.held[id] = c
	ctx, cancel := context.WithCancelCause(ctx)
	go func() {
		select {
		case <-c.Lost():
			fmt.Fprintf(g.env.Stderr, "rekey: lost the claim on %s (its heartbeat could not be written, or another rekey took it over): stopping\n", id)
			cancel(errs.New("claim", errs.Conflict, id, "lost the claim"))
		case <-ctx.Done():
		}
	}()
	release := func() {
		cancel(nil)
		g.claims.mu.Lock()
		delete(g.claims.held, id)
		g.claims.mu.Unlock()
		if err := c.Release(); err != nil {
			fmt.Fprintf(g.env.Stderr, "rekey: releasing the claim on %s: %v\n", id, err)
		}
	}
	return ctx, release, nil
}
