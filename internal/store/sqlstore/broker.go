package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/store"
)

var _ store.BrokerLeases = (*Store)(nil)

const brokerLeaseCols = `id, role, system, identity, login, holder, issued_at, expires_at, max_expires_at, state, updated`

func validLease(op string, l store.BrokerLease) error {
	if l.ID == "" || l.Role == "" || l.System == "" || l.Identity == "" || l.Login == "" || l.Holder == "" || l.State == "" ||
		l.IssuedAt.IsZero() || l.ExpiresAt.IsZero() || l.MaxExpiresAt.IsZero() {
		return errs.New(op, errs.Invalid, l.ID, "a broker lease needs an id, role, system, identity, login, holder, state and its times")
	}
	return nil
}

const insertLease = `INSERT INTO broker_leases (` + brokerLeaseCols + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`

func leaseArgs(l store.BrokerLease) []any {
	return []any{l.ID, l.Role, l.System, l.Identity, l.Login, l.Holder, store.FormatTime(l.IssuedAt), store.FormatTime(l.ExpiresAt),
		store.FormatTime(l.MaxExpiresAt), l.State, store.FormatTime(time.Now())}
}

// CreateBrokerLease implements store.BrokerLeases.
func (s *Store) CreateBrokerLease(ctx context.Context, l store.BrokerLease) error {
	const op = "store: create broker lease"
	if err := validLease(op, l); err != nil {
		return err
	}
	err := s.tx(ctx, op, l.ID, nil, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, insertLease, leaseArgs(l)...)
		return err
	})
	if err != nil && s.d.IsConflict != nil && s.d.IsConflict(err) {
		return errs.New(op, errs.Conflict, l.ID, "a lease with this id or login exists already")
	}
	return err
}

// BrokerLeases implements store.BrokerLeases.
func (s *Store) BrokerLeases(ctx context.Context, f store.BrokerLeaseFilter) ([]store.BrokerLease, error) {
	const op = "store: broker leases"
	var w conds
	w.eq("id", f.ID)
	w.eq("role", f.Role)
	w.eq("system", f.System)
	w.eq("identity", f.Identity)
	w.eq("holder", f.Holder)
	w.in("state", f.States)
	if !f.ExpiresBefore.IsZero() {
		w.add("expires_at < ?", store.FormatTime(f.ExpiresBefore))
	}
	q := `SELECT ` + brokerLeaseCols + ` FROM broker_leases` + w.sql()
	args := w.args
	q += ` ORDER BY expires_at, id`
	var out []store.BrokerLease
	err := s.tx(ctx, op, "", readOnly, func(tx *sql.Tx) error {
		return queryAll(ctx, tx, q, args, func(r *sql.Rows) error {
			var l store.BrokerLease
			var issued, expires, maxExp, updated string
			if err := r.Scan(&l.ID, &l.Role, &l.System, &l.Identity, &l.Login, &l.Holder, &issued, &expires, &maxExp,
				&l.State, &updated); err != nil {
				return err
			}
			for _, t := range []struct {
				dst *time.Time
				s   string
			}{{&l.IssuedAt, issued}, {&l.ExpiresAt, expires}, {&l.MaxExpiresAt, maxExp}, {&l.Updated, updated}} {
				var err error
				if *t.dst, err = store.ParseTime(t.s); err != nil {
					return err
				}
			}
			out = append(out, l)
			return nil
		})
	})
	return out, err
}

// UpdateBrokerLease implements store.BrokerLeases.
func (s *Store) UpdateBrokerLease(ctx context.Context, id string, from []string, state string, expiresAt time.Time) (bool, error) {
	const op = "store: update broker lease"
	u := store.BrokerLeaseUpdate{ID: id, From: from, State: state, ExpiresAt: expiresAt}
	if err := validUpdate(op, u); err != nil {
		return false, err
	}
	var done bool
	err := s.tx(ctx, op, id, nil, func(tx *sql.Tx) error {
		var err error
		done, err = s.updateLease(ctx, tx, u)
		if errors.Is(err, sql.ErrNoRows) {
			return errs.New(op, errs.NotFound, id, "no such lease")
		}
		return err
	})
	return done, err
}

func validUpdate(op string, u store.BrokerLeaseUpdate) error {
	if u.State == "" || len(u.From) == 0 {
		return errs.New(op, errs.Invalid, u.ID, "an update needs the states it moves from and the state it moves to")
	}
	return nil
}

// updateLease moves lease u.ID when its state is one of u.From; a missing
// lease is sql.ErrNoRows.
func (s *Store) updateLease(ctx context.Context, tx *sql.Tx, u store.BrokerLeaseUpdate) (bool, error) {
	var cur string
	if err := tx.QueryRowContext(ctx, `SELECT state FROM broker_leases WHERE id = $1`+s.d.ForUpdate, u.ID).Scan(&cur); err != nil {
		return false, err
	}
	if !slices.Contains(u.From, cur) {
		return false, nil
	}
	q := `UPDATE broker_leases SET state = $1, updated = $2`
	args := []any{u.State, store.FormatTime(time.Now()), u.ID}
	if !u.ExpiresAt.IsZero() {
		q += `, expires_at = $4`
		args = append(args, store.FormatTime(u.ExpiresAt))
	}
	if _, err := tx.ExecContext(ctx, q+` WHERE id = $3`, args...); err != nil {
		return false, err
	}
	return true, nil
}

// WriteBrokerLeases implements store.BrokerLeases. A create that
// conflicts is skipped by ON CONFLICT DO NOTHING (SQLite and PostgreSQL
// both), which leaves the transaction usable for the others.
func (s *Store) WriteBrokerLeases(ctx context.Context, creates []store.BrokerLease, updates []store.BrokerLeaseUpdate) (created, updated []bool, err error) {
	const op = "store: write broker leases"
	for _, l := range creates {
		if err := validLease(op, l); err != nil {
			return nil, nil, err
		}
	}
	for _, u := range updates {
		if err := validUpdate(op, u); err != nil {
			return nil, nil, err
		}
	}
	err = s.tx(ctx, op, "", nil, func(tx *sql.Tx) error {
		created, updated = make([]bool, len(creates)), make([]bool, len(updates))
		for i, l := range creates {
			r, err := tx.ExecContext(ctx, insertLease+` ON CONFLICT DO NOTHING`, leaseArgs(l)...)
			if err != nil {
				return err
			}
			n, err := r.RowsAffected()
			if err != nil {
				return err
			}
			created[i] = n == 1
		}
		for i, u := range updates {
			ok, err := s.updateLease(ctx, tx, u)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			updated[i] = ok
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return created, updated, nil
}

// conds builds a WHERE clause of ANDed conditions with numbered
// placeholders, for the list queries whose filters have optional fields.
type conds struct {
	where []string
	args  []any
}

// add adds cond, whose one "?" stands for v.
func (c *conds) add(cond string, v any) {
	c.args = append(c.args, v)
	c.where = append(c.where, strings.Replace(cond, "?", "$"+strconv.Itoa(len(c.args)), 1))
}

// eq adds col = v unless v is empty (a filter field left zero).
func (c *conds) eq(col, v string) {
	if v != "" {
		c.add(col+" = ?", v)
	}
}

// in adds col IN vs unless vs is empty.
func (c *conds) in(col string, vs []string) {
	if len(vs) == 0 {
		return
	}
	var ph []string
	for _, v := range vs {
		c.args = append(c.args, v)
		ph = append(ph, "$"+strconv.Itoa(len(c.args)))
	}
	c.where = append(c.where, col+" IN ("+strings.Join(ph, ", ")+")")
}

// sql is " WHERE …", or "" without conditions.
func (c *conds) sql() string {
	if len(c.where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(c.where, " AND ")
}

var _ store.AuditedLeaseWriter = (*Store)(nil)
