package claim

import (
	"context"
	"database/sql"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/store"
)

// NewSQLite returns the Claimer of a SQLite store's database: the claims
// row is the claim (see the package comment). Claims on one file are
// exclusive across processes because the store's write transactions begin
// IMMEDIATE: two claimers read and write the row one after the other.
func NewSQLite(db *sql.DB, o Options) Claimer {
	return &sqliteClaimer{db: db, o: o.withDefaults()}
}

type sqliteClaimer struct {
	db *sql.DB
	o  Options
}

func (s *sqliteClaimer) Claim(ctx context.Context, incident, actor string) (*Claim, error) {
	now := s.o.Now()
	h := Holder{Actor: actor, Host: s.o.Host, PID: s.o.PID, Since: now, Heartbeat: now}
	token := newToken()
	var prev *Holder
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, errs.E("claim", errs.Other, incident, err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	cur, _, ok, err := holderOf(ctx, tx, incident, "")
	if err != nil {
		return nil, errs.E("claim", errs.Other, incident, err)
	}
	if ok {
		if !s.gone(cur) {
			return nil, held(incident, cur)
		}
		prev = &cur
	}
	if _, err := tx.ExecContext(ctx, upsertSQL, incident, token, actor, h.Host, h.PID, store.FormatTime(now), store.FormatTime(now)); err != nil {
		return nil, errs.E("claim", errs.Other, incident, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, errs.E("claim", errs.Other, incident, err)
	}

	c := newClaim(incident, h, prev)
	c.release = func(ctx context.Context) error {
		_, err := s.db.ExecContext(ctx, `DELETE FROM claims WHERE incident_id = $1 AND token = $2`, incident, token)
		return err
	}
	lastBeat := now
	go c.beat(s.o.Beat, func() bool {
		now := s.o.Now()
		ctx, cancel := context.WithTimeout(context.Background(), s.o.Beat)
		defer cancel()
		res, err := s.db.ExecContext(ctx, `UPDATE claims SET heartbeat = $1 WHERE incident_id = $2 AND token = $3`,
			store.FormatTime(now), incident, token)
		if err != nil {
			// A busy database: the claim holds until another worker
			// could take it over.
			return now.Sub(lastBeat) < s.o.Stale
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return false // taken over: our row is gone
		}
		lastBeat = now
		return true
	})
	return c, nil
}

// gone reports whether h's claim may be taken over: its heartbeat is
// stale, or its process, on this host, no longer runs.
func (s *sqliteClaimer) gone(h Holder) bool {
	if s.o.Now().Sub(h.Heartbeat) >= s.o.Stale {
		return true
	}
	return h.Host == s.o.Host && !alive(h.PID)
}
