// Package sqlstore implements store.Store over database/sql, once for every
// SQL engine: the schema is portable (see store/migrations), queries use
// $N placeholders (which SQLite and PostgreSQL both accept), and what
// differs between engines — row locking, detecting a unique-key conflict —
// is a Dialect that store/sqlite and store/postgres supply.
//
// Concurrency: every write is one transaction that first locks the
// incident it touches (SELECT … FOR UPDATE on PostgreSQL; SQLite write
// transactions are exclusive already, begun IMMEDIATE). Opening an
// incident relies on a unique partial index (one open incident per
// fingerprint) with INSERT … ON CONFLICT DO NOTHING, so racing openers,
// in one process or many, end with one incident. Multi-query reads run in
// one read-only REPEATABLE READ transaction, so a reader never sees half a
// write.
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
)

// Dialect is what one SQL engine does differently.
type Dialect struct {
	// Name of the engine, for messages: "sqlite", "postgres".
	Name string
	// ForUpdate is appended to the queries that lock the row they read
	// in a write transaction (a token, a lease): " FOR UPDATE" where the
	// engine has row locks, "" where write transactions are exclusive
	// anyway.
	ForUpdate string
	// LockMigrations, when set, runs first in the migration transaction so
	// that two processes opening a new database at once migrate it once.
	LockMigrations string
	// LockAudit, when set, runs first in the transaction that appends to
	// the audit log, so that appenders in several processes take turns
	// (SQLite's write transactions take turns already).
	LockAudit string
	// AfterWipe, when set, runs after a sealed credential is deleted, so
	// that no copy of it stays in the engine's files (SQLite: checkpoint
	// the write-ahead log into the database, whose freed space
	// secure_delete has zeroed, and truncate the log).
	AfterWipe string
	// IsConflict reports a unique or primary key violation. OpenIncident
	// retries on one (two openers drew the same id).
	IsConflict func(error) bool
	// Batch, when set, runs qs on one connection in one read-only
	// transaction of one consistent snapshot (repeatable read), sent
	// together: one round trip where database/sql makes one per query and
	// two more for the transaction. Snapshot reads through it.
	Batch func(ctx context.Context, db *sql.DB, qs []Query) error
}

// Store is a store.Store on a database/sql handle.
type Store struct {
	db    *sql.DB
	d     Dialect
	where string // the database, for messages (a path, a URL without its password)
	snaps snapshotCache
}

var (
	_ store.Store = (*Store)(nil)
	_ store.Raw   = (*Store)(nil)
)

// New migrates db to the newest schema and returns a Store on it. where
// names the database in errors; it must not hold a password. On error the
// caller still owns db.
func New(ctx context.Context, db *sql.DB, d Dialect, where string) (*Store, error) {
	s := &Store{db: db, d: d, where: where}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// DB returns the database handle (store.Raw).
func (s *Store) DB() *sql.DB { return s.db }

// DialectName is "sqlite" or "postgres" (store.Raw): packages that use
// the database beside the store (internal/claim) pick their SQL by it.
func (s *Store) DialectName() string { return s.d.Name }

// Close closes the database handle.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) migrate(ctx context.Context) error {
	const op = "store: migrate"
	ms, err := store.Migrations()
	if err != nil {
		return errs.E(op, errs.Other, s.where, err)
	}
	return s.tx(ctx, op, s.where, nil, func(tx *sql.Tx) error {
		if s.d.LockMigrations != "" {
			if _, err := tx.ExecContext(ctx, s.d.LockMigrations); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at TEXT NOT NULL)`); err != nil {
			return err
		}
		var cur int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&cur); err != nil {
			return err
		}
		if cur > len(ms) {
			return errs.E(op, errs.Invalid, s.where, fmt.Errorf("%w: the database is at version %d, this rekey knows versions up to %d; upgrade rekey",
				store.ErrSchemaTooNew, cur, len(ms)))
		}
		now := store.FormatTime(time.Now())
		for _, m := range ms[cur:] {
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.Version, m.Name, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// readOnly is how multi-query reads run: one consistent snapshot.
var readOnly = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}

// tx runs fn in a transaction and commits it. Errors that are not already
// an *errs.Error are wrapped with op and path.
func (s *Store) tx(ctx context.Context, op, path string, opts *sql.TxOptions, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return wrap(op, path, err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if err := fn(tx); err != nil {
		return wrap(op, path, err)
	}
	return wrap(op, path, tx.Commit())
}

func wrap(op, path string, err error) error {
	if err == nil {
		return nil
	}
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	return errs.E(op, errs.Other, path, err)
}

// write runs fn in a write transaction holding incident id's row lock,
// which also raises the incident's version: a snapshot read before this
// commits is not served again after it (snapshotCache). An unknown id is
// errs.NotFound.
func (s *Store) write(ctx context.Context, op, id string, fn func(*sql.Tx) error) error {
	return s.tx(ctx, op, id, nil, func(tx *sql.Tx) error {
		if err := s.lockIncident(ctx, tx, op, id); err != nil {
			return err
		}
		return fn(tx)
	})
}

// read runs fn in a read-only transaction after checking that incident id
// exists.
func (s *Store) read(ctx context.Context, op, id string, fn func(*sql.Tx) error) error {
	return s.tx(ctx, op, id, readOnly, func(tx *sql.Tx) error {
		var got string
		err := tx.QueryRowContext(ctx, `SELECT id FROM incidents WHERE id = $1`, id).Scan(&got)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound(op, id)
		}
		if err != nil {
			return err
		}
		return fn(tx)
	})
}

// lockIncident raises incident id's version, which takes its row lock
// where the engine has row locks (an UPDATE does, as SELECT … FOR UPDATE
// would) and is serialised by the write transaction on SQLite.
func (s *Store) lockIncident(ctx context.Context, tx *sql.Tx, op, id string) error {
	res, err := tx.ExecContext(ctx, `UPDATE incidents SET version = version + 1 WHERE id = $1`, id)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound(op, id)
	}
	return nil
}

func notFound(op, id string) error { return errs.E(op, errs.NotFound, id, store.ErrNotFound) }

// ---- incidents ----

const incidentCols = `id, fingerprint, preview, kind, state, created, closed_at, leaked_at, inventory, identity_system, identity_name, notes`

type scanner interface{ Scan(dest ...any) error }

func scanIncident(r scanner) (store.Incident, error) {
	var (
		inc                    store.Incident
		fp, state, created     string
		closedAt, leakedAt     sql.NullString
		identSystem, identName string
	)
	err := r.Scan(&inc.ID, &fp, &inc.Preview, &inc.Kind, &state, &created, &closedAt, &leakedAt,
		&inc.Inventory, &identSystem, &identName, &inc.Notes)
	if err != nil {
		return inc, err
	}
	inc.Fingerprint = secret.Fingerprint(fp)
	inc.State = store.State(state)
	inc.Identity = store.IdentityRef{System: identSystem, Name: identName}
	if inc.Created, err = store.ParseTime(created); err != nil {
		return inc, err
	}
	if inc.ClosedAt, err = nullTime(closedAt); err != nil {
		return inc, err
	}
	inc.LeakedAt, err = nullTime(leakedAt)
	return inc, err
}

// OpenIncident implements store.Store.
func (s *Store) OpenIncident(ctx context.Context, inc store.Incident) (store.Incident, bool, error) {
	const op = "store: open incident"
	if err := store.CheckFingerprint(op, inc.Fingerprint); err != nil {
		return store.Incident{}, false, err
	}
	if inc.Created.IsZero() {
		inc.Created = time.Now()
	}
	for attempt := 0; ; attempt++ {
		var (
			out      store.Incident
			existing bool
		)
		err := s.tx(ctx, op, inc.Fingerprint.Short(), nil, func(tx *sql.Tx) error {
			byFingerprint := func() error {
				var err error
				out, err = scanIncident(tx.QueryRowContext(ctx,
					`SELECT `+incidentCols+` FROM incidents WHERE fingerprint = $1 AND state = 'open'`, string(inc.Fingerprint)))
				existing = err == nil
				return err
			}
			if err := byFingerprint(); !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			id, err := s.freshID(ctx, tx, inc.Created)
			if err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `INSERT INTO incidents (`+incidentCols+`)
				VALUES ($1, $2, $3, $4, 'open', $5, NULL, $6, $7, $8, $9, $10)
				ON CONFLICT (fingerprint) WHERE state = 'open' DO NOTHING`,
				id, string(inc.Fingerprint), inc.Preview, inc.Kind, store.FormatTime(inc.Created), nullTimeArg(inc.LeakedAt),
				inc.Inventory, inc.Identity.System, inc.Identity.Name, inc.Notes)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				// Another opener committed first (PostgreSQL waited for it).
				return byFingerprint()
			}
			out, err = scanIncident(tx.QueryRowContext(ctx, `SELECT `+incidentCols+` FROM incidents WHERE id = $1`, id))
			return err
		})
		if err != nil && attempt < 5 && s.d.IsConflict != nil && s.d.IsConflict(err) {
			continue
		}
		if err != nil {
			return store.Incident{}, false, err
		}
		return out, existing, nil
	}
}

// freshID draws incident ids until one is unused: four random hex digits
// while the day has room, longer after repeated collisions.
func (s *Store) freshID(ctx context.Context, tx *sql.Tx, created time.Time) (string, error) {
	for i := 0; i < 24; i++ {
		id := store.NewID(created, 4+4*(i/8))
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM incidents WHERE id = $1`, id).Scan(&n); err != nil {
			return "", err
		}
		if n == 0 {
			return id, nil
		}
	}
	return "", errors.New("no free incident id after 24 draws")
}

// GetIncident implements store.Store.
func (s *Store) GetIncident(ctx context.Context, id string) (store.Incident, error) {
	const op = "store: get incident"
	inc, err := scanIncident(s.db.QueryRowContext(ctx, `SELECT `+incidentCols+` FROM incidents WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Incident{}, notFound(op, id)
	}
	if err != nil {
		return store.Incident{}, wrap(op, id, err)
	}
	return inc, nil
}

// ListIncidents implements store.Store.
func (s *Store) ListIncidents(ctx context.Context, f store.Filter) ([]store.Incident, error) {
	const op = "store: list incidents"
	var (
		conds []string
		args  []any
	)
	if f.State != "" {
		args = append(args, string(f.State))
		conds = append(conds, "state = $"+strconv.Itoa(len(args)))
	}
	if f.Fingerprint != "" {
		args = append(args, string(f.Fingerprint))
		conds = append(conds, "fingerprint = $"+strconv.Itoa(len(args)))
	}
	q := `SELECT ` + incidentCols + ` FROM incidents`
	if len(conds) > 0 {
		q += ` WHERE ` + strings.Join(conds, " AND ")
	}
	q += ` ORDER BY created, id`
	var out []store.Incident
	err := s.tx(ctx, op, "", readOnly, func(tx *sql.Tx) error {
		return queryAll(ctx, tx, q, args, func(r *sql.Rows) error {
			inc, err := scanIncident(r)
			out = append(out, inc)
			return err
		})
	})
	return out, err
}

// UpdateIncident implements store.Store.
func (s *Store) UpdateIncident(ctx context.Context, inc store.Incident) error {
	const op = "store: update incident"
	return s.write(ctx, op, inc.ID, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE incidents SET preview = $2, kind = $3, leaked_at = $4, inventory = $5,
			identity_system = $6, identity_name = $7, notes = $8 WHERE id = $1`,
			inc.ID, inc.Preview, inc.Kind, nullTimeArg(inc.LeakedAt), inc.Inventory, inc.Identity.System, inc.Identity.Name, inc.Notes)
		return err
	})
}

// SetIncidentSecret implements store.Store.
func (s *Store) SetIncidentSecret(ctx context.Context, id string, from, to secret.Fingerprint, preview string) error {
	const op = "store: set incident secret"
	if err := store.CheckFingerprint(op, to); err != nil {
		return err
	}
	return s.write(ctx, op, id, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE incidents SET fingerprint = $2, preview = $3 WHERE id = $1 AND fingerprint = $4 AND state = 'open'`,
			id, string(to), preview, string(from))
		if err != nil {
			if s.d.IsConflict != nil && s.d.IsConflict(err) {
				return errs.New(op, errs.Conflict, id, "another open incident is about that secret")
			}
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return errs.New(op, errs.Conflict, id, "the incident is closed or was given its secret already")
		}
		return nil
	})
}

// CloseIncident implements store.Store.
func (s *Store) CloseIncident(ctx context.Context, id string, at time.Time) error {
	const op = "store: close incident"
	if at.IsZero() {
		at = time.Now()
	}
	return s.write(ctx, op, id, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE incidents SET state = 'closed', closed_at = $2 WHERE id = $1 AND state = 'open'`,
			id, store.FormatTime(at))
		return err
	})
}

// ---- occurrences ----

// PutOccurrences implements store.Store.
func (s *Store) PutOccurrences(ctx context.Context, id string, occ []store.Occurrence) error {
	const op = "store: put occurrences"
	for _, o := range occ {
		if err := store.CheckFingerprint(op, o.Fingerprint); err != nil {
			return err
		}
	}
	return s.write(ctx, op, id, func(tx *sql.Tx) error { return putOccurrences(ctx, tx, id, occ) })
}

// putOccurrences is PutOccurrences inside tx.
func putOccurrences(ctx context.Context, tx *sql.Tx, id string, occ []store.Occurrence) error {
	now := time.Now()
	st, err := tx.PrepareContext(ctx, `INSERT INTO occurrences (incident_id, fingerprint, preview, rule, provider, severity,
			path, line, col, commit_id, at_head, class, encoding, ref, match_kind, first_seen, last_seen)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
		ON CONFLICT (incident_id, fingerprint, path, line, col, commit_id, ref, encoding) DO UPDATE SET
			preview = excluded.preview, rule = excluded.rule, provider = excluded.provider,
			severity = excluded.severity, at_head = excluded.at_head, class = excluded.class,
			match_kind = excluded.match_kind,
			first_seen = CASE WHEN excluded.first_seen < occurrences.first_seen THEN excluded.first_seen ELSE occurrences.first_seen END,
			last_seen = CASE WHEN excluded.last_seen > occurrences.last_seen THEN excluded.last_seen ELSE occurrences.last_seen END`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, o := range occ {
		last := o.LastSeen
		if last.IsZero() {
			last = now
		}
		first := o.FirstSeen
		if first.IsZero() || first.After(last) {
			first = last
		}
		if _, err := st.ExecContext(ctx, id, string(o.Fingerprint), o.Preview, o.Rule, o.Provider, o.Severity,
			o.Path, o.Line, o.Column, o.Commit, b2i(o.AtHead), o.Class, o.Encoding, o.Ref, o.Match,
			store.FormatTime(first), store.FormatTime(last)); err != nil {
			return err
		}
	}
	return nil
}

// Occurrences implements store.Store.
func (s *Store) Occurrences(ctx context.Context, id string) ([]store.Occurrence, error) {
	return records(ctx, s, "store: occurrences", id, occurrences)
}

func occurrences(ctx context.Context, tx *sql.Tx, id string) ([]store.Occurrence, error) {
	return readNow(ctx, tx, id, readOccurrences)
}

func readOccurrences(q querier, id string, out *[]store.Occurrence) {
	q.query(`SELECT incident_id, fingerprint, preview, rule, provider, severity, path, line, col,
				commit_id, at_head, class, encoding, ref, match_kind, first_seen, last_seen
			FROM occurrences WHERE incident_id = $1
			ORDER BY path, line, col, commit_id, ref, encoding, fingerprint`, []any{id}, func(r scanner) error {
		var (
			o           store.Occurrence
			fp          string
			atHead      int
			first, last string
		)
		if err := r.Scan(&o.IncidentID, &fp, &o.Preview, &o.Rule, &o.Provider, &o.Severity, &o.Path, &o.Line, &o.Column,
			&o.Commit, &atHead, &o.Class, &o.Encoding, &o.Ref, &o.Match, &first, &last); err != nil {
			return err
		}
		o.Fingerprint, o.AtHead = secret.Fingerprint(fp), atHead != 0
		var err error
		if o.FirstSeen, err = store.ParseTime(first); err != nil {
			return err
		}
		if o.LastSeen, err = store.ParseTime(last); err != nil {
			return err
		}
		*out = append(*out, o)
		return nil
	})
}

// ---- identities ----

// PutIdentity implements store.Store.
func (s *Store) PutIdentity(ctx context.Context, id string, ident store.Identity) error {
	const op = "store: put identity"
	if ident.System == "" || ident.Name == "" {
		return errs.New(op, errs.Invalid, id, "an identity needs a system and a name")
	}
	flags, err := jsonList(ident.Flags)
	if err != nil {
		return errs.E(op, errs.Invalid, id, err)
	}
	return s.write(ctx, op, id, func(tx *sql.Tx) error {
		key := []any{id, ident.System, ident.Name}
		// Children first: correct whether or not the engine enforces the
		// foreign keys' ON DELETE CASCADE.
		for _, t := range []string{"privileges", "sessions", "related"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+t+` WHERE incident_id = $1 AND system = $2 AND identity = $3`, key...); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM identities WHERE incident_id = $1 AND system = $2 AND name = $3`, key...); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO identities (incident_id, system, name, method, inspected, inspect_error,
				inspected_at, present, can_login, valid_until, flags)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			id, ident.System, ident.Name, ident.Method, b2i(ident.Inspected), ident.InspectError,
			nullTimeArg(ident.InspectedAt), b2i(ident.Exists), b2i(ident.CanLogin), nullTimeArg(ident.ValidUntil), flags); err != nil {
			return err
		}
		for i, p := range ident.Privileges {
			if _, err := tx.ExecContext(ctx, `INSERT INTO privileges (incident_id, system, identity, pos, name, risk, via, creates_credentials)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
				id, ident.System, ident.Name, i, p.Name, p.Risk, p.Via, b2i(p.CreatesCredentials)); err != nil {
				return err
			}
		}
		for i, se := range ident.Sessions {
			var started any
			if !se.Started.IsZero() {
				started = store.FormatTime(se.Started)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (incident_id, system, identity, pos, session_id, client, application, started, db_name)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
				id, ident.System, ident.Name, i, se.ID, se.Client, se.Application, started, se.Database); err != nil {
				return err
			}
		}
		for i, r := range ident.Related {
			if _, err := tx.ExecContext(ctx, `INSERT INTO related (incident_id, system, identity, pos, kind, name, detail)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`,
				id, ident.System, ident.Name, i, r.Kind, r.Name, r.Detail); err != nil {
				return err
			}
		}
		return nil
	})
}

// Identities implements store.Store.
func (s *Store) Identities(ctx context.Context, id string) ([]store.Identity, error) {
	return records(ctx, s, "store: identities", id, identities)
}

func identities(ctx context.Context, tx *sql.Tx, id string) ([]store.Identity, error) {
	return readNow(ctx, tx, id, readIdentities)
}

// readIdentities reads the identities, then their privileges, sessions
// and related credentials, each row given to its identity by name (the
// identities' rows are all read before the next query's).
func readIdentities(q querier, id string, out *[]store.Identity) {
	index := map[[2]string]int{}
	q.query(`SELECT system, name, method, inspected, inspect_error, inspected_at, present, can_login, valid_until, flags
		FROM identities WHERE incident_id = $1 ORDER BY system, name`, []any{id}, func(r scanner) error {
		var (
			ident                        store.Identity
			inspected, present, canLogin int
			inspectedAt, validUntil      sql.NullString
			flags                        string
		)
		if err := r.Scan(&ident.System, &ident.Name, &ident.Method, &inspected, &ident.InspectError, &inspectedAt,
			&present, &canLogin, &validUntil, &flags); err != nil {
			return err
		}
		ident.IncidentID = id
		ident.Inspected, ident.Exists, ident.CanLogin = inspected != 0, present != 0, canLogin != 0
		var err error
		if ident.InspectedAt, err = nullTime(inspectedAt); err != nil {
			return err
		}
		if ident.ValidUntil, err = nullTime(validUntil); err != nil {
			return err
		}
		if ident.Flags, err = parseList(flags); err != nil {
			return err
		}
		index[[2]string{ident.System, ident.Name}] = len(*out)
		*out = append(*out, ident)
		return nil
	})
	owner := func(system, name string) (*store.Identity, error) {
		i, ok := index[[2]string{system, name}]
		if !ok {
			return nil, fmt.Errorf("row for identity %s/%s, which is not stored", system, name)
		}
		return &(*out)[i], nil
	}
	q.query(`SELECT system, identity, name, risk, via, creates_credentials
		FROM privileges WHERE incident_id = $1 ORDER BY system, identity, pos`, []any{id}, func(r scanner) error {
		p := store.Privilege{IncidentID: id}
		var creates int
		if err := r.Scan(&p.System, &p.Identity, &p.Name, &p.Risk, &p.Via, &creates); err != nil {
			return err
		}
		p.CreatesCredentials = creates != 0
		ident, err := owner(p.System, p.Identity)
		if err == nil {
			ident.Privileges = append(ident.Privileges, p)
		}
		return err
	})
	q.query(`SELECT system, identity, session_id, client, application, started, db_name
		FROM sessions WHERE incident_id = $1 ORDER BY system, identity, pos`, []any{id}, func(r scanner) error {
		se := store.Session{IncidentID: id}
		var started sql.NullString
		if err := r.Scan(&se.System, &se.Identity, &se.ID, &se.Client, &se.Application, &started, &se.Database); err != nil {
			return err
		}
		t, err := nullTime(started)
		if err != nil {
			return err
		}
		if t != nil {
			se.Started = *t
		}
		ident, err := owner(se.System, se.Identity)
		if err == nil {
			ident.Sessions = append(ident.Sessions, se)
		}
		return err
	})
	q.query(`SELECT system, identity, kind, name, detail
		FROM related WHERE incident_id = $1 ORDER BY system, identity, pos`, []any{id}, func(r scanner) error {
		rel := store.Related{IncidentID: id}
		if err := r.Scan(&rel.System, &rel.Identity, &rel.Kind, &rel.Name, &rel.Detail); err != nil {
			return err
		}
		ident, err := owner(rel.System, rel.Identity)
		if err == nil {
			ident.Related = append(ident.Related, rel)
		}
		return err
	})
}

// ---- consumers ----

// PutConsumers implements store.Store.
func (s *Store) PutConsumers(ctx context.Context, id string, cs []store.Consumer) error {
	const op = "store: put consumers"
	seen := map[string]bool{}
	sources := make([]string, len(cs))
	for i, c := range cs {
		if c.Name == "" || seen[c.Name] {
			return errs.New(op, errs.Invalid, id, fmt.Sprintf("consumer %d: name %q is empty or repeated", i, c.Name))
		}
		seen[c.Name] = true
		var err error
		if sources[i], err = jsonList(c.Sources); err != nil {
			return errs.E(op, errs.Invalid, id, err)
		}
	}
	return s.write(ctx, op, id, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM consumers WHERE incident_id = $1`, id); err != nil {
			return err
		}
		for i, c := range cs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO consumers (incident_id, name, identity, declared, observed, sources, third_party)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`,
				id, c.Name, c.Identity, b2i(c.Declared), b2i(c.Observed), sources[i], b2i(c.ThirdParty)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Consumers implements store.Store.
func (s *Store) Consumers(ctx context.Context, id string) ([]store.Consumer, error) {
	return records(ctx, s, "store: consumers", id, consumers)
}

func consumers(ctx context.Context, tx *sql.Tx, id string) ([]store.Consumer, error) {
	return readNow(ctx, tx, id, readConsumers)
}

func readConsumers(q querier, id string, out *[]store.Consumer) {
	q.query(`SELECT name, identity, declared, observed, sources, third_party
			FROM consumers WHERE incident_id = $1 ORDER BY name`, []any{id}, func(r scanner) error {
		c := store.Consumer{IncidentID: id}
		var (
			declared, observed, third int
			sources                   string
		)
		if err := r.Scan(&c.Name, &c.Identity, &declared, &observed, &sources, &third); err != nil {
			return err
		}
		c.Declared, c.Observed, c.ThirdParty = declared != 0, observed != 0, third != 0
		var err error
		c.Sources, err = parseList(sources)
		*out = append(*out, c)
		return err
	})
}

// ---- events ----

// AddEvents implements store.Store.
func (s *Store) AddEvents(ctx context.Context, id string, evs []store.Event) error {
	const op = "store: add events"
	for i, e := range evs {
		if e.Time.IsZero() {
			return errs.New(op, errs.Invalid, id, fmt.Sprintf("event %d has no time", i))
		}
	}
	return s.write(ctx, op, id, func(tx *sql.Tx) error {
		var seq int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM events WHERE incident_id = $1`, id).Scan(&seq); err != nil {
			return err
		}
		st, err := tx.PrepareContext(ctx, `INSERT INTO events (incident_id, seq, event_time, credential, identity, source,
				user_agent, application, action, outcome, file, line, detail)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
			ON CONFLICT (incident_id, file, line, event_time, action, source, credential) DO NOTHING`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, e := range evs {
			detail, err := jsonMap(e.Detail)
			if err != nil {
				return err
			}
			res, err := st.ExecContext(ctx, id, seq+1, store.FormatTime(e.Time), e.Credential, e.Identity, e.Source,
				e.UserAgent, e.Application, e.Action, e.Outcome, e.File, e.Line, detail)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err == nil && n > 0 {
				seq++
			}
		}
		return nil
	})
}

// Events implements store.Store.
func (s *Store) Events(ctx context.Context, id string) ([]store.Event, error) {
	return records(ctx, s, "store: events", id, events)
}

func events(ctx context.Context, tx *sql.Tx, id string) ([]store.Event, error) {
	return readNow(ctx, tx, id, readEvents)
}

func readEvents(q querier, id string, out *[]store.Event) {
	q.query(`SELECT event_time, credential, identity, source, user_agent, application, action, outcome, file, line, detail
			FROM events WHERE incident_id = $1 ORDER BY event_time, seq`, []any{id}, func(r scanner) error {
		e := store.Event{IncidentID: id}
		var t, detail string
		if err := r.Scan(&t, &e.Credential, &e.Identity, &e.Source, &e.UserAgent, &e.Application, &e.Action,
			&e.Outcome, &e.File, &e.Line, &detail); err != nil {
			return err
		}
		// Most events have no detail: "{}" needs no decoder.
		if detail != "{}" {
			if err := json.Unmarshal([]byte(detail), &e.Detail); err != nil {
				return err
			}
			if len(e.Detail) == 0 {
				e.Detail = nil
			}
		}
		var err error
		e.Time, err = store.ParseTime(t)
		*out = append(*out, e)
		return err
	})
}

// ---- snapshot ----

// Snapshot implements store.Store. The incident's row is read first, in
// the same transaction, which is also the check that it exists.
//
// A snapshot read before is served again while the incident's version
// (raised by every write that holds the incident, in any process) is
// the one it was read at: one indexed read instead of a dozen.
func (s *Store) Snapshot(ctx context.Context, id string, with ...store.SnapshotPart) (store.Snapshot, error) {
	const op = "store: snapshot"
	key := snapshotKey{id: id, parts: partsOf(with)}
	if snap, ok := s.cachedSnapshot(ctx, key); ok {
		return snap, nil
	}
	var (
		out     store.Snapshot
		version int64
		found   bool
	)
	err := s.readAll(ctx, op, id, func(q querier) {
		q.query(`SELECT `+incidentCols+`, version FROM incidents WHERE id = $1`, []any{id}, func(r scanner) (err error) {
			found = true
			out.Incident, err = scanIncident(withVersion{r, &version})
			return err
		})
		readOccurrences(q, id, &out.Occurrences)
		readIdentities(q, id, &out.Identities)
		readConsumers(q, id, &out.Consumers)
		readEvents(q, id, &out.Events)
		readReviews(q, id, &out.Reviews)
		if key.parts.has(store.WithInventory) {
			readInventoryCopy(q, id, &out.Inventory)
		}
		if key.parts.has(store.WithRun) {
			readOpener(q, id, &out.Opener)
			readPlan(q, id, &out.Plan)
		}
	})
	if err == nil && !found {
		err = notFound(op, id)
	}
	if err != nil {
		return store.Snapshot{}, err
	}
	// The opener is an audit entry, which an append adds without the
	// incident's lock: an incident without one yet is read again.
	if !key.parts.has(store.WithRun) || out.Opener != nil {
		s.snaps.put(key, version, out)
	}
	return out.Clone(), nil
}

// ---- helpers ----

// records runs read, which reads one kind of incident id's records, in a
// read-only transaction after checking that the incident exists.
func records[T any](ctx context.Context, s *Store, op, id string, read func(context.Context, *sql.Tx, string) ([]T, error)) ([]T, error) {
	var out []T
	err := s.read(ctx, op, id, func(tx *sql.Tx) (err error) {
		out, err = read(ctx, tx, id)
		return err
	})
	return out, err
}

func queryAll(ctx context.Context, tx *sql.Tx, q string, args []any, row func(*sql.Rows) error) error {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func nullTimeArg(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return store.FormatTime(*t)
}

func nullTime(s sql.NullString) (*time.Time, error) {
	if !s.Valid {
		return nil, nil
	}
	t, err := store.ParseTime(s.String)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

func jsonList(l []string) (string, error) {
	if len(l) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(l)
	return string(b), err
}

func jsonMap(m map[string]string) (string, error) {
	if len(m) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// parseList reads a stored JSON list; an empty list reads as nil.
func parseList(s string) ([]string, error) {
	var l []string
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return nil, err
	}
	if len(l) == 0 {
		return nil, nil
	}
	return l, nil
}
