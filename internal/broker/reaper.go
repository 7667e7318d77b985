package broker

import (
	"context"
	"errors"
	"time"

	"github.com/rekeyhq/rekey/internal/store"
)

// DefaultReapInterval is how often the reaper looks for expired leases.
const DefaultReapInterval = time.Second

// Reaped is one lease the reaper ended, with how long after its expiry.
type Reaped struct {
	Lease store.BrokerLease
	Lag   time.Duration
}

// Reap ends every lease whose expiry has passed (revoke, end its sessions,
// drop) and marks it reaped. Its state is in the store, so it ends leases
// that another process issued, one that died included; a lease still
// issuing past its expiry is one whose process died mid-way. Leases it
// could not end (the system unreachable) stay live for the next pass, and
// their errors are joined.
func (l *Leases) Reap(ctx context.Context) ([]Reaped, error) {
	recs, err := l.st.BrokerLeases(ctx, store.BrokerLeaseFilter{States: live, ExpiresBefore: l.now()})
	if err != nil {
		return nil, err
	}
	var out []Reaped
	var errList []error
	l.endAll(ctx, recs, ByReaper, ActionReap, func(rec store.BrokerLease, moved bool, err error) {
		if moved {
			out = append(out, Reaped{Lease: rec, Lag: l.now().Sub(rec.ExpiresAt)})
		}
		if err != nil {
			errList = append(errList, err)
		}
	})
	return out, errors.Join(errList...)
}

// Reaper runs Reap in a loop.
type Reaper struct {
	Leases *Leases
	// Interval between passes; DefaultReapInterval when 0.
	Interval time.Duration
	// OnReap, when set, is told of every lease reaped (the lag is what
	// the benchmark and the server's metrics report).
	OnReap func(Reaped)
	// OnError, when set, is told of a pass's error; the loop goes on.
	OnError func(error)
}

// Run reaps until ctx ends, then returns ctx's error. A pass that fails
// is retried at the next interval.
func (r *Reaper) Run(ctx context.Context) error {
	every := r.Interval
	if every <= 0 {
		every = DefaultReapInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		reaped, err := r.Leases.Reap(ctx)
		// Leases ended by a pass that ctx cut short were ended all the
		// same: they are reported.
		if r.OnReap != nil {
			for _, x := range reaped {
				r.OnReap(x)
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil && r.OnError != nil {
			r.OnError(err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
