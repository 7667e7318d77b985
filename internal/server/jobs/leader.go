package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"hash/fnv"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Leadership and liveness are session advisory locks on one connection
// per replica (its presence), which PostgreSQL frees as soon as that
// session ends: a replica killed on the database's host, or whose
// connection the server sees break, loses both at once. River elects a
// leader too, but v0.51.2 gives its leader no public hook and lets a dead
// leader's term run out its 15 s TTL before another is elected, and its
// rescuer looks for stuck jobs every 30 s; neither is configurable, and
// together they miss the 10 s failover goal (docs/operations.md).

// ElectEvery is how often a replica that does not lead tries to, and
// how often the leader checks its session still holds the lock.
const ElectEvery = time.Second

// presence is a replica's liveness lock (keyed by its River client ID)
// and its bid for leadership.
type presence struct {
	cfg *pgx.ConnConfig
	id  string

	mu      sync.Mutex
	term    context.Context // the current term, nil when not leading
	end     context.CancelFunc
	changed chan struct{} // closed and replaced when leadership changes
	stopped chan struct{}
}

// newID is a replica's River client ID: unique per process, so that a
// replica's liveness lock names it and nobody else.
func newID() string {
	host, _ := os.Hostname()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	if len(host) > 40 {
		host = host[:40]
	}
	return "rekey-" + host + "-" + hex.EncodeToString(b)
}

func lockKey(namespace, name string) int64 {
	h := fnv.New64a()
	h.Write([]byte(namespace + "\x00" + name))
	return int64(h.Sum64())
}

// liveKey is the liveness lock of the replica whose River client ID is
// id; leaderKey the leader's.
func liveKey(id string) int64 { return lockKey("rekey replica", id) }

var leaderKey = lockKey("rekey leader", "")

// LeaderKey is the advisory lock the leader holds (for a test, or an
// operator's query of pg_locks: the high 32 bits are its classid, the
// low its objid).
func LeaderKey() int64 { return leaderKey }

func newPresence(cfg *pgx.ConnConfig, id string) *presence {
	return &presence{cfg: cfg, id: id, changed: make(chan struct{}), stopped: make(chan struct{})}
}

// run holds the liveness lock on conn (the first session, connected by
// the caller) and bids for leadership until ctx ends, reconnecting after
// a broken session (which ends any term at once).
func (p *presence) run(ctx context.Context, conn *pgx.Conn) {
	defer close(p.stopped)
	defer p.lead(false)
	for ctx.Err() == nil {
		if conn != nil {
			p.hold(ctx, conn)
			conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // the session's end frees its locks
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(ElectEvery):
		}
		conn, _ = p.connect(ctx)
	}
}

func (p *presence) connect(ctx context.Context) (*pgx.Conn, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, p.cfg.Copy())
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(cctx, `SELECT pg_advisory_lock($1)`, liveKey(p.id)); err != nil {
		conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // failed anyway
		return nil, err
	}
	return conn, nil
}

// hold bids for leadership on conn every ElectEvery while it is not the
// leader's, and while it is proves the session alive as often; it
// returns when the session fails or ctx ends, its term ended.
func (p *presence) hold(ctx context.Context, conn *pgx.Conn) {
	defer p.lead(false)
	t := time.NewTicker(ElectEvery)
	defer t.Stop()
	for {
		qctx, cancel := context.WithTimeout(ctx, ElectEvery*3)
		var got bool
		err := conn.QueryRow(qctx, `SELECT pg_try_advisory_lock($1)`, leaderKey).Scan(&got)
		cancel()
		if err != nil {
			return
		}
		// A held lock taken again stacks on itself: release the extra
		// one so that the session's end still frees it in one go.
		if got && p.leading() {
			if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, leaderKey); err != nil {
				return
			}
		}
		p.lead(got)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (p *presence) leading() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.term != nil
}

// lead starts or ends this replica's term.
func (p *presence) lead(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on == (p.term != nil) {
		return
	}
	if on {
		p.term, p.end = context.WithCancel(context.Background())
	} else {
		p.end()
		p.term, p.end = nil, nil
	}
	close(p.changed)
	p.changed = make(chan struct{})
}

// current is the term in progress (nil when this replica does not lead)
// and a channel closed at the next change.
func (p *presence) current() (context.Context, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.term, p.changed
}

// Lead runs f whenever this replica leads, with a context that ends with
// its term (or with ctx), until ctx ends. An error f returns while its
// term goes on is returned; one caused by the term's end is not.
func (p *presence) Lead(ctx context.Context, f func(context.Context) error) error {
	for {
		term, changed := p.current()
		if term == nil {
			select {
			case <-ctx.Done():
				return nil
			case <-changed:
				continue
			}
		}
		tctx, cancel := context.WithCancel(ctx)
		stop := context.AfterFunc(term, cancel)
		err := f(tctx)
		stop()
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case term.Err() == nil && err != nil && !errors.Is(err, context.Canceled):
			return err
		case term.Err() == nil:
			// f ended by itself while leading: nothing more to do
			// until the next term.
			select {
			case <-ctx.Done():
				return nil
			case <-changed:
			}
		}
	}
}
