package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/store"
)

var _ store.Watch = (*Store)(nil)

// Offset implements store.Watch.
func (s *Store) Offset(ctx context.Context, key string) (store.Offset, bool, error) {
	const op = "store: watch offset"
	var (
		o  store.Offset
		ok bool
	)
	err := s.tx(ctx, op, key, readOnly, func(tx *sql.Tx) error {
		row := tx.QueryRowContext(ctx, `SELECT key, head_len, byte_off, line_no, done, path, updated FROM watch_offsets WHERE key = $1`, key)
		var err error
		o, err = scanOffset(row)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		ok = err == nil
		return err
	})
	return o, ok, err
}

func scanOffset(r scanner) (store.Offset, error) {
	var (
		o       store.Offset
		done    int
		updated string
	)
	if err := r.Scan(&o.Key, &o.HeadLen, &o.Bytes, &o.Line, &done, &o.Path, &updated); err != nil {
		return o, err
	}
	o.Done = done != 0
	var err error
	o.Updated, err = store.ParseTime(updated)
	return o, err
}

// PutOffset implements store.Watch.
func (s *Store) PutOffset(ctx context.Context, o store.Offset, replaces string) error {
	const op = "store: put watch offset"
	if o.Key == "" || o.HeadLen < 0 || o.Bytes < 0 {
		return errs.New(op, errs.Invalid, o.Path, "an offset needs a key and a position")
	}
	return s.tx(ctx, op, o.Path, nil, func(tx *sql.Tx) error {
		if replaces != "" && replaces != o.Key {
			if _, err := tx.ExecContext(ctx, `DELETE FROM watch_offsets WHERE key = $1`, replaces); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO watch_offsets (key, head_len, byte_off, line_no, done, path, updated)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (key) DO UPDATE SET head_len = excluded.head_len, byte_off = excluded.byte_off,
				line_no = excluded.line_no, done = excluded.done, path = excluded.path, updated = excluded.updated`,
			o.Key, o.HeadLen, o.Bytes, o.Line, b2i(o.Done), o.Path, store.FormatTime(time.Now()))
		return err
	})
}

// ShortOffsets implements store.Watch.
func (s *Store) ShortOffsets(ctx context.Context, headLen int) ([]store.Offset, error) {
	const op = "store: short watch offsets"
	var out []store.Offset
	err := s.tx(ctx, op, "", readOnly, func(tx *sql.Tx) error {
		return queryAll(ctx, tx, `SELECT key, head_len, byte_off, line_no, done, path, updated FROM watch_offsets WHERE head_len < $1 ORDER BY key`,
			[]any{headLen}, func(r *sql.Rows) error {
				o, err := scanOffset(r)
				out = append(out, o)
				return err
			})
	})
	return out, err
}

// Baselines implements store.Watch.
func (s *Store) Baselines(ctx context.Context, credentials []string) (map[string]json.RawMessage, error) {
	const op = "store: watch baselines"
	out := map[string]json.RawMessage{}
	err := s.tx(ctx, op, "", readOnly, func(tx *sql.Tx) error {
		for c := range slices.Chunk(credentials, 500) {
			ph := make([]string, len(c))
			args := make([]any, len(c))
			for i, v := range c {
				ph[i], args[i] = "$"+strconv.Itoa(i+1), v
			}
			err := queryAll(ctx, tx, `SELECT credential, body FROM watch_baselines WHERE credential IN (`+strings.Join(ph, ", ")+`)`, args,
				func(r *sql.Rows) error {
					var cred, body string
					if err := r.Scan(&cred, &body); err != nil {
						return err
					}
					out[cred] = json.RawMessage(body)
					return nil
				})
			if err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// PutBaselines implements store.Watch.
func (s *Store) PutBaselines(ctx context.Context, bs map[string]json.RawMessage) error {
	const op = "store: put watch baselines"
	now := store.FormatTime(time.Now())
	// Rows are written in credential order: two watchers writing
	// overlapping baselines at once then lock them in the same order,
	// where map order made PostgreSQL abort one of them as a deadlock.
	creds := slices.Sorted(maps.Keys(bs))
	return s.tx(ctx, op, "", nil, func(tx *sql.Tx) error {
		for _, cred := range creds {
			body := bs[cred]
			if cred == "" || !json.Valid(body) {
				return errs.New(op, errs.Invalid, cred, "a baseline needs a credential and a JSON body")
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO watch_baselines (credential, body, updated) VALUES ($1, $2, $3)
				ON CONFLICT (credential) DO UPDATE SET body = excluded.body, updated = excluded.updated`, cred, string(body), now); err != nil {
				return err
			}
		}
		return nil
	})
}

// PutCanary implements store.Watch.
func (s *Store) PutCanary(ctx context.Context, c store.Canary) error {
	const op = "store: put canary"
	if c.System == "" || c.Login == "" {
		return errs.New(op, errs.Invalid, c.Login, "a canary needs a system and a login")
	}
	if c.Created.IsZero() {
		c.Created = time.Now()
	}
	return s.tx(ctx, op, c.Login, nil, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO canaries (system, login, key_id, created_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (system, login) DO UPDATE SET key_id = excluded.key_id`, c.System, c.Login, c.KeyID, store.FormatTime(c.Created))
		return err
	})
}

// Canaries implements store.Watch.
func (s *Store) Canaries(ctx context.Context) ([]store.Canary, error) {
	const op = "store: canaries"
	var out []store.Canary
	err := s.tx(ctx, op, "", readOnly, func(tx *sql.Tx) error {
		return queryAll(ctx, tx, `SELECT system, login, key_id, created_at FROM canaries ORDER BY system, login`, nil, func(r *sql.Rows) error {
			var (
				c  store.Canary
				at string
			)
			if err := r.Scan(&c.System, &c.Login, &c.KeyID, &at); err != nil {
				return err
			}
			var err error
			c.Created, err = store.ParseTime(at)
			out = append(out, c)
			return err
		})
	})
	return out, err
}

// planSteps is the part of internal/plan's JSON that names what a step
// revokes (the store does not import plan).
type planSteps struct {
	Steps []struct {
		ID       string `json:"id"`
		Kind     string `json:"kind"`
		System   string `json:"system"`
		Identity string `json:"identity"`
		Login    string `json:"login"`
	} `json:"steps"`
}

// RevokedLogins implements store.Watch.
func (s *Store) RevokedLogins(ctx context.Context) ([]store.Revoked, error) {
	const op = "store: revoked logins"
	var out []store.Revoked
	err := s.tx(ctx, op, "", readOnly, func(tx *sql.Tx) error {
		err := queryAll(ctx, tx, `SELECT p.incident_id, p.body, st.step_id, st.finished FROM plans p
			JOIN steps st ON st.incident_id = p.incident_id WHERE st.state = 'done' AND st.finished IS NOT NULL`, nil,
			func(r *sql.Rows) error {
				var id, body, step, fin string
				if err := r.Scan(&id, &body, &step, &fin); err != nil {
					return err
				}
				var p planSteps
				if err := json.Unmarshal([]byte(body), &p); err != nil {
					return fmt.Errorf("plan of %s: %w", id, err)
				}
				at, err := store.ParseTime(fin)
				if err != nil {
					return err
				}
				for _, ps := range p.Steps {
					if ps.ID != step || ps.Kind != "revoke" {
						continue
					}
					login := cmp.Or(ps.Identity, ps.Login)
					if login != "" {
						out = append(out, store.Revoked{System: ps.System, Login: login, At: at, IncidentID: id, Via: "step"})
					}
				}
				return nil
			})
		if err != nil {
			return err
		}
		return queryAll(ctx, tx, `SELECT incident_id, system, login, updated FROM leases WHERE state IN ($1, $2)`,
			[]any{store.LeaseRevoked, store.LeaseDropped}, func(r *sql.Rows) error {
				var rv store.Revoked
				var at string
				if err := r.Scan(&rv.IncidentID, &rv.System, &rv.Login, &at); err != nil {
					return err
				}
				var err error
				rv.At, err = store.ParseTime(at)
				rv.Via = "lease"
				out = append(out, rv)
				return err
			})
	})
	slices.SortFunc(out, func(a, b store.Revoked) int {
		return cmp.Or(strings.Compare(a.Login, b.Login), strings.Compare(a.System, b.System), a.At.Compare(b.At))
	})
	return out, err
}
