package claim

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"hash/fnv"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/store"
)

// NewPostgres returns the Claimer of a PostgreSQL store's database: a
// session advisory lock per incident, on a connection taken out of the
// pool for as long as the claim is held.
func NewPostgres(db *sql.DB, o Options) Claimer {
	return &pgClaimer{db: db, o: o.withDefaults()}
}

type pgClaimer struct {
	db *sql.DB
	o  Options
}

// LockKey is the advisory lock key of incident's claim: a 64-bit FNV-1a
// hash, in a namespace of its own so that it cannot meet the store's
// migration and audit locks by design (only by a 2⁻⁶⁴ accident).
func LockKey(incident string) int64 {
	h := fnv.New64a()
	h.Write([]byte("rekey claim\x00" + incident))
	return int64(h.Sum64())
}

func (p *pgClaimer) Claim(ctx context.Context, incident string, actor string) (*Claim, error) {
	conn, err := p.db.Conn(ctx)
	if err != nil {
		return nil, errs.E("claim", errs.Unreachable, incident, err)
	}
	key := LockKey(incident)
	// The row is locked before the advisory lock is tried, by winner and
	// loser alike: a loser then reads the winner's row, not the one a
	// dead holder left behind.
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		conn.Close()
		return nil, errs.E("claim", errs.Other, incident, err)
	}
	fail := func(err error) (*Claim, error) {
		tx.Rollback() //nolint:errcheck // the session is discarded
		discard(conn)
		return nil, errs.E("claim", errs.Other, incident, err)
	}
	prevH, _, hadRow, err := holderOf(ctx, tx, incident, " FOR UPDATE")
	if err != nil {
		return fail(err)
	}
	var got bool
	if err := tx.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&got); err != nil {
		return fail(err)
	}
	if !got {
		tx.Rollback() //nolint:errcheck // nothing was written
		conn.Close()
		return nil, held(incident, p.holder(ctx, incident))
	}
	now := p.o.Now()
	h := Holder{Actor: actor, Host: p.o.Host, PID: p.o.PID, Since: now, Heartbeat: now}
	token := newToken()
	if _, err := tx.ExecContext(ctx, upsertSQL, incident, token, actor, h.Host, h.PID, store.FormatTime(now), store.FormatTime(now)); err != nil {
		return fail(err)
	}
	if err := tx.Commit(); err != nil {
		discard(conn)
		return nil, errs.E("claim", errs.Other, incident, err)
	}
	// A row left behind is a holder whose session ended: the lock says
	// it is gone.
	var prev *Holder
	if hadRow {
		prev = &prevH
	}
	c := newClaim(incident, h, prev)
	c.release = func(ctx context.Context) error {
		_, err := conn.ExecContext(ctx, `DELETE FROM claims WHERE incident_id = $1 AND token = $2`, incident, token)
		if err == nil {
			_, err = conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, key)
		}
		if err != nil {
			// Closing the session frees the lock whatever state it is in.
			discard(conn)
			return err
		}
		return conn.Close()
	}
	go c.beat(p.o.Beat, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), p.o.Beat)
		defer cancel()
		// The lock lives as long as this connection: a failed write
		// means the session, and with it the claim, may be gone.
		res, err := conn.ExecContext(ctx, `UPDATE claims SET heartbeat = $1 WHERE incident_id = $2 AND token = $3`,
			store.FormatTime(p.o.Now()), incident, token)
		if err != nil {
			return false
		}
		n, err := res.RowsAffected()
		return err == nil && n == 1
	})
	return c, nil
}

// discard closes conn's session instead of returning it to the pool, so
// that any advisory lock it holds is freed by the server.
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	conn.Close()
}

// holder reads who holds incident's lock for the refusal message. A
// winner that has locked but not yet committed its row shows within
// moments; past a second the message does without the name.
func (p *pgClaimer) holder(ctx context.Context, incident string) Holder {
	for deadline := time.Now().Add(time.Second); ; {
		h, _, ok, err := holderOf(ctx, p.db, incident, "")
		if ok || err != nil || time.Now().After(deadline) {
			return h
		}
		select {
		case <-ctx.Done():
			return h
		case <-time.After(20 * time.Millisecond):
		}
	}
}
