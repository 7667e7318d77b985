package sqlstore

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/store"
)

var _ store.WebSessions = (*Store)(nil)

// validIDHash refuses anything but a SHA-256 in hex, so that a session id
// passed by mistake (instead of its hash) is never stored.
func validIDHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil
}

// CreateWebSession implements store.WebSessions.
func (s *Store) CreateWebSession(ctx context.Context, w store.WebSession) error {
	const op = "store: create web session"
	if !validIDHash(w.IDHash) || w.Actor == "" || w.Role == "" || w.Via == "" || w.Expires.IsZero() {
		return errs.New(op, errs.Invalid, w.Actor, "a web session needs an id hash (64 hex digits), an actor, a role, how it signed in and an expiry")
	}
	if w.Created.IsZero() {
		w.Created = time.Now()
	}
	if w.LastSeen.IsZero() {
		w.LastSeen = w.Created
	}
	return s.tx(ctx, op, w.Actor, nil, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO web_sessions (id_hash, actor, role, via, credential, created, last_seen, expires)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, w.IDHash, w.Actor, w.Role, w.Via, w.Credential,
			store.FormatTime(w.Created), store.FormatTime(w.LastSeen), store.FormatTime(w.Expires))
		if err != nil && s.d.IsConflict != nil && s.d.IsConflict(err) {
			return errs.New(op, errs.Conflict, w.Actor, "a web session with this id exists")
		}
		return err
	})
}

// WebSession implements store.WebSessions.
func (s *Store) WebSession(ctx context.Context, idHash string) (store.WebSession, bool, error) {
	const op = "store: web session"
	var (
		w  store.WebSession
		ok bool
	)
	err := s.tx(ctx, op, "", readOnly, func(tx *sql.Tx) error {
		var created, seen, expires string
		err := tx.QueryRowContext(ctx, `SELECT id_hash, actor, role, via, credential, created, last_seen, expires FROM web_sessions WHERE id_hash = $1`, idHash).
			Scan(&w.IDHash, &w.Actor, &w.Role, &w.Via, &w.Credential, &created, &seen, &expires)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		ok = true
		return errors.Join(parseInto(&w.Created, created), parseInto(&w.LastSeen, seen), parseInto(&w.Expires, expires))
	})
	return w, ok, err
}

func parseInto(t *time.Time, s string) error {
	v, err := store.ParseTime(s)
	*t = v
	return err
}

// TouchWebSession implements store.WebSessions.
func (s *Store) TouchWebSession(ctx context.Context, idHash string, at time.Time) error {
	return s.tx(ctx, "store: touch web session", "", nil, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE web_sessions SET last_seen = $1 WHERE id_hash = $2 AND last_seen < $1`, store.FormatTime(at), idHash)
		return err
	})
}

// DeleteWebSession implements store.WebSessions.
func (s *Store) DeleteWebSession(ctx context.Context, idHash string) error {
	return s.tx(ctx, "store: delete web session", "", nil, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM web_sessions WHERE id_hash = $1`, idHash)
		return err
	})
}

// DeleteExpiredWebSessions implements store.WebSessions.
func (s *Store) DeleteExpiredWebSessions(ctx context.Context, now, idleSince time.Time) (int, error) {
	var n int64
	err := s.tx(ctx, "store: delete expired web sessions", "", nil, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM web_sessions WHERE expires <= $1 OR last_seen < $2`, store.FormatTime(now), store.FormatTime(idleSince))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}
