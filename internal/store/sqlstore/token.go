package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/store"
)

var _ store.Tokens = (*Store)(nil)

const tokenCols = `hash, name, name_key, role, created_at, created_by, expires_at, revoked_at, last_used_at`

// CreateToken implements store.Tokens.
func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	const op = "store: create token"
	if t.Name == "" || t.NameKey == "" || t.Role == "" || t.CreatedBy == "" || t.Created.IsZero() || t.Expires.IsZero() {
		return errs.New(op, errs.Invalid, t.Name, "a token needs a name, its key, a role, a creator and its times")
	}
	if !isSHA256Hex(t.Hash) {
		return errs.New(op, errs.Invalid, t.Name, "a token is stored as its SHA-256 in hex, never in clear")
	}
	err := s.tx(ctx, op, t.Name, nil, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO tokens (`+tokenCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			t.Hash, t.Name, t.NameKey, t.Role, store.FormatTime(t.Created), t.CreatedBy, store.FormatTime(t.Expires),
			nullTimeArg(t.Revoked), nullTimeArg(t.LastUsed))
		return err
	})
	if err != nil && s.d.IsConflict != nil && s.d.IsConflict(err) {
		return errs.New(op, errs.Conflict, t.Name, "a token named "+t.Name+" exists already; revoke it first or pick another name")
	}
	return err
}

func isSHA256Hex(h string) bool {
	if len(h) != 64 {
		return false
	}
	for _, c := range h {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func scanToken(r scanner) (store.Token, error) {
	var (
		t                 store.Token
		created, expires  string
		revoked, lastUsed sql.NullString
	)
	if err := r.Scan(&t.Hash, &t.Name, &t.NameKey, &t.Role, &created, &t.CreatedBy, &expires, &revoked, &lastUsed); err != nil {
		return t, err
	}
	var err error
	if t.Created, err = store.ParseTime(created); err != nil {
		return t, err
	}
	if t.Expires, err = store.ParseTime(expires); err != nil {
		return t, err
	}
	if t.Revoked, err = nullTime(revoked); err != nil {
		return t, err
	}
	t.LastUsed, err = nullTime(lastUsed)
	return t, err
}

// TokenByHash implements store.Tokens.
func (s *Store) TokenByHash(ctx context.Context, hash string) (store.Token, bool, error) {
	const op = "store: token"
	// One row of one table needs no transaction: every API request
	// makes this read, and BEGIN and COMMIT were two of its three
	// statements (round trips on PostgreSQL).
	t, err := scanToken(s.db.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM tokens WHERE hash = $1`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Token{}, false, nil
	}
	if err != nil {
		return store.Token{}, false, wrap(op, "", err)
	}
	return t, true, nil
}

// ListTokens implements store.Tokens.
func (s *Store) ListTokens(ctx context.Context) ([]store.Token, error) {
	const op = "store: list tokens"
	var out []store.Token
	err := s.tx(ctx, op, "", readOnly, func(tx *sql.Tx) error {
		return queryAll(ctx, tx, `SELECT `+tokenCols+` FROM tokens ORDER BY name_key, created_at, hash`, nil, func(r *sql.Rows) error {
			t, err := scanToken(r)
			out = append(out, t)
			return err
		})
	})
	return out, err
}

// RevokeToken implements store.Tokens.
func (s *Store) RevokeToken(ctx context.Context, nameKey string, at time.Time) (store.Token, error) {
	const op = "store: revoke token"
	var t store.Token
	err := s.tx(ctx, op, nameKey, nil, func(tx *sql.Tx) error {
		// The live token first, else the newest revoked one.
		row := tx.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM tokens WHERE name_key = $1
			ORDER BY CASE WHEN revoked_at IS NULL THEN 0 ELSE 1 END, created_at DESC LIMIT 1`+s.d.ForUpdate, nameKey)
		var err error
		t, err = scanToken(row)
		if errors.Is(err, sql.ErrNoRows) {
			return errs.New(op, errs.NotFound, nameKey, "no token named "+nameKey)
		}
		if err != nil || t.Revoked != nil {
			return err
		}
		t.Revoked = &at
		_, err = tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = $1 WHERE hash = $2`, store.FormatTime(at), t.Hash)
		return err
	})
	return t, err
}

// TouchToken implements store.Tokens.
func (s *Store) TouchToken(ctx context.Context, hash string, at time.Time, every time.Duration) error {
	const op = "store: touch token"
	return s.tx(ctx, op, "", nil, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE tokens SET last_used_at = $1 WHERE hash = $2 AND (last_used_at IS NULL OR last_used_at <= $3)`,
			store.FormatTime(at), hash, store.FormatTime(at.Add(-every)))
		return err
	})
}

// CountTokens implements store.Tokens.
func (s *Store) CountTokens(ctx context.Context) (int, error) {
	const op = "store: count tokens"
	var n int
	err := s.tx(ctx, op, "", readOnly, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM tokens`).Scan(&n)
	})
	return n, err
}
