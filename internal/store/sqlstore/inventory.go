package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"
	"unicode/utf8"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/store"
)

// PutInventory implements store.Store.
func (s *Store) PutInventory(ctx context.Context, id string, inv store.InventoryCopy) error {
	const op = "store: put inventory"
	if !utf8.Valid(inv.Body) {
		return errs.New(op, errs.Invalid, id, "the inventory is not UTF-8 text")
	}
	if inv.Saved.IsZero() {
		inv.Saved = time.Now()
	}
	return s.write(ctx, op, id, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO incident_inventories (incident_id, path, body, saved) VALUES ($1, $2, $3, $4)
			ON CONFLICT (incident_id) DO UPDATE SET path = excluded.path, body = excluded.body, saved = excluded.saved`,
			id, inv.Path, string(inv.Body), store.FormatTime(inv.Saved))
		return err
	})
}

// GetInventory implements store.Store.
func (s *Store) GetInventory(ctx context.Context, id string) (store.InventoryCopy, bool, error) {
	const op = "store: get inventory"
	var (
		inv store.InventoryCopy
		ok  bool
	)
	err := s.read(ctx, op, id, func(tx *sql.Tx) error {
		var body, saved string
		err := tx.QueryRowContext(ctx, `SELECT path, body, saved FROM incident_inventories WHERE incident_id = $1`, id).Scan(&inv.Path, &body, &saved)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		ok, inv.Body = true, []byte(body)
		inv.Saved, err = store.ParseTime(saved)
		return err
	})
	return inv, ok, err
}
