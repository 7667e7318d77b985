package broker

import (
	"context"
	"sync"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/store"
)

// rowGroup commits the lease rows of concurrent issues, renewals and ends
// together, as
// audit.Log commits its appends: a caller that finds no commit under way
// commits every row queued, again and again until the queue is empty; the
// others wait for the commit that holds theirs. Each issue writes two rows
// (the lease in state issuing before its login exists, then active), and
// on SQLite each write was a commit with an fsync of its own on the
// store's one connection: what bounded the issuance rate once the
// PostgreSQL side took one round trip.
type rowGroup struct {
	mu    sync.Mutex
	busy  bool
	queue []*pendingRow
}

// pendingRow is one queued write, a create or an update, and once done is
// closed its result.
type pendingRow struct {
	create *store.BrokerLease
	update store.BrokerLeaseUpdate
	ok     bool
	err    error
	done   chan struct{}
}

// createRow inserts rec with the rows of concurrent issues; a lease whose
// id or login exists is errs.Conflict, as store.CreateBrokerLease says.
func (l *Leases) createRow(ctx context.Context, rec store.BrokerLease) error {
	ok, err := l.rows.write(ctx, l.st, &pendingRow{create: &rec})
	if err == nil && !ok {
		err = errs.New("broker: issue lease", errs.Conflict, rec.ID, "a lease with this id or login exists already")
	}
	return err
}

// updateRow is store.UpdateBrokerLease with the rows of concurrent
// issues, renewals and ends (a missing lease reports false).
func (l *Leases) updateRow(ctx context.Context, u store.BrokerLeaseUpdate) (bool, error) {
	return l.rows.write(ctx, l.st, &pendingRow{update: u})
}

func (g *rowGroup) write(ctx context.Context, st store.BrokerLeases, p *pendingRow) (bool, error) {
	p.done = make(chan struct{})
	g.mu.Lock()
	g.queue = append(g.queue, p)
	if g.busy {
		g.mu.Unlock()
		<-p.done
		return p.ok, p.err
	}
	g.busy = true
	for len(g.queue) > 0 {
		batch := g.queue
		g.queue = nil
		g.mu.Unlock()
		// Not the leader's cancellation: the batch holds other requests'
		// rows.
		commitRows(context.WithoutCancel(ctx), st, batch)
		g.mu.Lock()
	}
	g.busy = false
	g.mu.Unlock()
	<-p.done
	return p.ok, p.err
}

// commitRows writes batch in one store call and hands each row its result.
func commitRows(ctx context.Context, st store.BrokerLeases, batch []*pendingRow) {
	var creates []store.BrokerLease
	var updates []store.BrokerLeaseUpdate
	for _, p := range batch {
		if p.create != nil {
			creates = append(creates, *p.create)
		} else {
			updates = append(updates, p.update)
		}
	}
	created, updated, err := st.WriteBrokerLeases(ctx, creates, updates)
	c, u := 0, 0
	for _, p := range batch {
		switch {
		case err != nil:
			p.err = err
		case p.create != nil:
			p.ok = created[c]
			c++
		default:
			p.ok = updated[u]
			u++
		}
		close(p.done)
	}
}
