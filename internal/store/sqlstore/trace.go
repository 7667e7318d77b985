package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/store"
)

// StartTrace implements store.Tracing.
func (s *Store) StartTrace(ctx context.Context, id string, sealed []byte, sources []store.TraceSource) ([]int, error) {
	const op = "store: start trace"
	if len(sealed) == 0 || len(sources) == 0 {
		return nil, errs.New(op, errs.Invalid, id, "a tracing needs the sealed secret and a source")
	}
	now := store.FormatTime(time.Now())
	seqs := make([]int, 0, len(sources))
	err := s.write(ctx, op, id, func(tx *sql.Tx) error {
		seqs = seqs[:0]
		var next int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) + 1 FROM trace_sources WHERE incident_id = $1`, id).Scan(&next); err != nil {
			return err
		}
		st, err := tx.PrepareContext(ctx, `INSERT INTO trace_sources (incident_id, seq, type, path, history, state, updated)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for i, src := range sources {
			if _, err := st.ExecContext(ctx, id, next+i, src.Type, src.Path, b2i(src.History), store.TracePending, now); err != nil {
				return err
			}
			seqs = append(seqs, next+i)
		}
		// A tracing in progress keeps its sealed secret: its jobs may
		// hold it, and its key goes only with its last source, which now
		// includes these (the incident's row lock orders this against
		// FinishTrace's removal).
		_, err = tx.ExecContext(ctx, `INSERT INTO trace_secrets (incident_id, ciphertext, created) VALUES ($1, $2, $3)
			ON CONFLICT (incident_id) DO NOTHING`,
			id, base64.StdEncoding.EncodeToString(sealed), now)
		return err
	})
	return seqs, err
}

const traceCols = `seq, type, path, history, state, copies, error, exposed_at, updated`

func scanTraceSource(r scanner) (store.TraceSource, error) {
	var (
		src              store.TraceSource
		history          int
		exposed, updated string
	)
	if err := r.Scan(&src.Seq, &src.Type, &src.Path, &history, &src.State, &src.Copies, &src.Error, &exposed, &updated); err != nil {
		return src, err
	}
	src.History = history != 0
	if exposed != "" {
		t, err := store.ParseTime(exposed)
		if err != nil {
			return src, err
		}
		src.ExposedAt = &t
	}
	var err error
	src.Updated, err = store.ParseTime(updated)
	return src, err
}

// TraceSource implements store.Tracing.
func (s *Store) TraceSource(ctx context.Context, id string, seq int) (store.TraceSource, []byte, error) {
	const op = "store: trace source"
	var (
		src    store.TraceSource
		sealed []byte
	)
	err := s.read(ctx, op, id, func(tx *sql.Tx) error {
		var err error
		src, err = scanTraceSource(tx.QueryRowContext(ctx, `SELECT `+traceCols+` FROM trace_sources WHERE incident_id = $1 AND seq = $2`, id, seq))
		if errors.Is(err, sql.ErrNoRows) {
			return errs.New(op, errs.NotFound, id, fmt.Sprintf("no source %d is traced", seq))
		}
		if err != nil {
			return err
		}
		var enc string
		err = tx.QueryRowContext(ctx, `SELECT ciphertext FROM trace_secrets WHERE incident_id = $1`, id).Scan(&enc)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		sealed, err = base64.StdEncoding.DecodeString(enc)
		return err
	})
	return src, sealed, err
}

// FinishTrace implements store.Tracing.
func (s *Store) FinishTrace(ctx context.Context, id string, out store.TraceSource, occ []store.Occurrence) (bool, int, error) {
	const op = "store: finish trace"
	if out.State != store.TraceDone && out.State != store.TraceFailed {
		return false, 0, errs.New(op, errs.Invalid, id, fmt.Sprintf("a source finishes done or failed, not %q", out.State))
	}
	for _, o := range occ {
		if err := store.CheckFingerprint(op, o.Fingerprint); err != nil {
			return false, 0, err
		}
	}
	var (
		changed bool
		left    int
	)
	exposed := ""
	if out.ExposedAt != nil {
		exposed = store.FormatTime(*out.ExposedAt)
	}
	err := s.write(ctx, op, id, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE trace_sources SET state = $3, copies = $4, error = $5, exposed_at = $6, updated = $7
			WHERE incident_id = $1 AND seq = $2 AND state = 'pending'`,
			id, out.Seq, out.State, out.Copies, out.Error, exposed, store.FormatTime(time.Now()))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		changed = n > 0
		if changed {
			if err := putOccurrences(ctx, tx, id, occ); err != nil {
				return err
			}
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM trace_sources WHERE incident_id = $1 AND state = 'pending'`, id).Scan(&left); err != nil {
			return err
		}
		if left == 0 {
			_, err = tx.ExecContext(ctx, `DELETE FROM trace_secrets WHERE incident_id = $1`, id)
		}
		return err
	})
	return changed, left, err
}

// TraceSources implements store.Tracing.
func (s *Store) TraceSources(ctx context.Context, id string, state string) ([]store.TraceSource, error) {
	const op = "store: trace sources"
	var out []store.TraceSource
	err := s.read(ctx, op, id, func(tx *sql.Tx) error {
		return queryAll(ctx, tx, `SELECT `+traceCols+` FROM trace_sources WHERE incident_id = $1 AND ($2 = '' OR state = $2) ORDER BY seq`,
			[]any{id, state}, func(r *sql.Rows) error {
				src, err := scanTraceSource(r)
				out = append(out, src)
				return err
			})
	})
	return out, err
}

// TraceCounts implements store.Tracing.
func (s *Store) TraceCounts(ctx context.Context, id string) (store.TraceCounts, error) {
	const op = "store: trace counts"
	var c store.TraceCounts
	err := s.read(ctx, op, id, func(tx *sql.Tx) error {
		return queryAll(ctx, tx, `SELECT state, COUNT(*), COALESCE(SUM(copies), 0) FROM trace_sources WHERE incident_id = $1 GROUP BY state`,
			[]any{id}, func(r *sql.Rows) error {
				var (
					state     string
					n, copies int
				)
				if err := r.Scan(&state, &n, &copies); err != nil {
					return err
				}
				switch state {
				case store.TracePending:
					c.Pending = n
				case store.TraceDone:
					c.Done = n
				case store.TraceFailed:
					c.Failed = n
				}
				c.Copies += copies
				return nil
			})
	})
	return c, err
}
