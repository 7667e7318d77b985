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
	// One statement is both the existence check and the read (GET
	// /scope makes it on every request whose inventory file is gone).
	var (
		inv               store.InventoryCopy
		got               string
		path, body, saved sql.NullString
	)
	err := s.db.QueryRowContext(ctx, `SELECT i.id, v.path, v.body, v.saved FROM incidents i
		LEFT JOIN incident_inventories v ON v.incident_id = i.id WHERE i.id = $1`, id).Scan(&got, &path, &body, &saved)
	if errors.Is(err, sql.ErrNoRows) {
		return inv, false, notFound(op, id)
	}
	if err != nil {
		return inv, false, wrap(op, id, err)
	}
	if !path.Valid {
		return inv, false, nil
	}
	inv.Path, inv.Body = path.String, []byte(body.String)
	if inv.Saved, err = store.ParseTime(saved.String); err != nil {
		return store.InventoryCopy{}, false, wrap(op, id, err)
	}
	return inv, true, nil
}

// readInventoryCopy reads incident id's kept inventory, nil when none
// was kept.
func readInventoryCopy(q querier, id string, out **store.InventoryCopy) {
	q.query(`SELECT path, body, saved FROM incident_inventories WHERE incident_id = $1`, []any{id}, func(r scanner) error {
		var (
			inv         store.InventoryCopy
			body, saved string
		)
		if err := r.Scan(&inv.Path, &body, &saved); err != nil {
			return err
		}
		inv.Body = []byte(body)
		var err error
		if inv.Saved, err = store.ParseTime(saved); err != nil {
			return err
		}
		*out = &inv
		return nil
	})
}
