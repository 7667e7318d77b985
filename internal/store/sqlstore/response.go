package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/store"
)

// ---- plans and steps ----

// PutPlan implements store.Responder.
func (s *Store) PutPlan(ctx context.Context, id string, p store.Plan) error {
	const op = "store: put plan"
	if !json.Valid(p.Body) {
		return errs.New(op, errs.Invalid, id, "plan body is not JSON")
	}
	now := time.Now()
	if p.Created.IsZero() {
		p.Created = now
	}
	state := p.RunState
	if state == "" {
		state = store.RunPlanned
	}
	return s.write(ctx, op, id, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM steps WHERE incident_id = $1`, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO plans (incident_id, strategy, created, body, run_state, updated)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (incident_id) DO UPDATE SET strategy = excluded.strategy, created = excluded.created,
				body = excluded.body, run_state = excluded.run_state, updated = excluded.updated`,
			id, p.Strategy, store.FormatTime(p.Created), string(p.Body), state, store.FormatTime(now))
		return err
	})
}

// GetPlan implements store.Responder.
func (s *Store) GetPlan(ctx context.Context, id string) (store.Plan, bool, error) {
	const op = "store: get plan"
	var (
		p  store.Plan
		ok bool
	)
	err := s.read(ctx, op, id, func(tx *sql.Tx) error {
		sp, err := storedPlan(ctx, tx, id)
		if sp != nil {
			p, ok = *sp, true
		}
		return err
	})
	return p, ok, err
}

// storedPlan is incident id's plan, nil before one is made.
func storedPlan(ctx context.Context, tx *sql.Tx, id string) (*store.Plan, error) {
	return readNow(ctx, tx, id, readPlan)
}

func readPlan(q querier, id string, out **store.Plan) {
	q.query(`SELECT strategy, created, body, run_state, updated FROM plans WHERE incident_id = $1`, []any{id}, func(r scanner) error {
		var (
			p                      store.Plan
			created, updated, body string
		)
		if err := r.Scan(&p.Strategy, &created, &body, &p.RunState, &updated); err != nil {
			return err
		}
		p.IncidentID, p.Body = id, json.RawMessage(body)
		var err error
		if p.Created, err = store.ParseTime(created); err != nil {
			return err
		}
		if p.Updated, err = store.ParseTime(updated); err != nil {
			return err
		}
		*out = &p
		return nil
	})
}

// SetRunState implements store.Responder.
func (s *Store) SetRunState(ctx context.Context, id, state string) error {
	const op = "store: set run state"
	return s.write(ctx, op, id, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE plans SET run_state = $2, updated = $3 WHERE incident_id = $1`,
			id, state, store.FormatTime(time.Now()))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.New(op, errs.NotFound, id, "the incident has no plan")
		}
		return nil
	})
}

// PutStep implements store.Responder.
func (s *Store) PutStep(ctx context.Context, id string, st store.Step) error {
	const op = "store: put step"
	if st.StepID == "" || st.State == "" {
		return errs.New(op, errs.Invalid, id, "a step needs an id and a state")
	}
	result := string(st.Result)
	if result == "" {
		result = "{}"
	}
	if !json.Valid([]byte(result)) {
		return errs.New(op, errs.Invalid, id, "step "+st.StepID+": result is not JSON")
	}
	return s.write(ctx, op, id, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO steps (incident_id, step_id, state, attempts, started, finished, error, result, approved_by, approved_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (incident_id, step_id) DO UPDATE SET state = excluded.state, attempts = excluded.attempts,
				started = excluded.started, finished = excluded.finished, error = excluded.error, result = excluded.result,
				approved_by = excluded.approved_by, approved_at = excluded.approved_at`,
			id, st.StepID, st.State, st.Attempts, nullTimeArg(st.Started), nullTimeArg(st.Finished), st.Error, result,
			st.ApprovedBy, nullTimeArg(st.ApprovedAt))
		return err
	})
}

// Steps implements store.Responder.
func (s *Store) Steps(ctx context.Context, id string) ([]store.Step, error) {
	const op = "store: steps"
	var out []store.Step
	err := s.read(ctx, op, id, func(tx *sql.Tx) error {
		return queryAll(ctx, tx, `SELECT step_id, state, attempts, started, finished, error, result, approved_by, approved_at
			FROM steps WHERE incident_id = $1 ORDER BY step_id`, []any{id}, func(r *sql.Rows) error {
			st := store.Step{IncidentID: id}
			var started, finished, approvedAt sql.NullString
			var result string
			if err := r.Scan(&st.StepID, &st.State, &st.Attempts, &started, &finished, &st.Error, &result,
				&st.ApprovedBy, &approvedAt); err != nil {
				return err
			}
			st.Result = json.RawMessage(result)
			var err error
			if st.Started, err = nullTime(started); err != nil {
				return err
			}
			if st.Finished, err = nullTime(finished); err != nil {
				return err
			}
			st.ApprovedAt, err = nullTime(approvedAt)
			out = append(out, st)
			return err
		})
	})
	return out, err
}

// ---- sealed credentials ----

// SealOnce implements store.Responder.
func (s *Store) SealOnce(ctx context.Context, id, name string, blob []byte) ([]byte, error) {
	const op = "store: seal"
	if name == "" || len(blob) == 0 {
		return nil, errs.New(op, errs.Invalid, id, "sealing needs a name and a blob")
	}
	var out []byte
	err := s.write(ctx, op, id, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO sealed (incident_id, name, ciphertext, created) VALUES ($1, $2, $3, $4)
			ON CONFLICT (incident_id, name) DO NOTHING`,
			id, name, base64.StdEncoding.EncodeToString(blob), store.FormatTime(time.Now())); err != nil {
			return err
		}
		var enc string
		if err := tx.QueryRowContext(ctx, `SELECT ciphertext FROM sealed WHERE incident_id = $1 AND name = $2`, id, name).Scan(&enc); err != nil {
			return err
		}
		var err error
		out, err = base64.StdEncoding.DecodeString(enc)
		return err
	})
	return out, err
}

// Sealed implements store.Responder.
func (s *Store) Sealed(ctx context.Context, id, name string) ([]byte, bool, error) {
	const op = "store: sealed"
	var (
		out []byte
		ok  bool
	)
	err := s.read(ctx, op, id, func(tx *sql.Tx) error {
		var enc string
		err := tx.QueryRowContext(ctx, `SELECT ciphertext FROM sealed WHERE incident_id = $1 AND name = $2`, id, name).Scan(&enc)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		ok = true
		out, err = base64.StdEncoding.DecodeString(enc)
		return err
	})
	return out, ok, err
}

// Wipe implements store.Responder.
func (s *Store) Wipe(ctx context.Context, id, name string) error {
	const op = "store: wipe"
	if err := s.write(ctx, op, id, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM sealed WHERE incident_id = $1 AND name = $2`, id, name)
		return err
	}); err != nil {
		return err
	}
	if s.d.AfterWipe == "" {
		return nil
	}
	// When a reader in another process holds an older snapshot the log
	// cannot be emptied now (busy): its old frames go at a later
	// checkpoint. Not an error: the blob is sealed under a run key that is
	// destroyed with the run's last secret, so what lingers does not open.
	var busy, logFrames, done int
	if err := s.db.QueryRowContext(ctx, s.d.AfterWipe).Scan(&busy, &logFrames, &done); err != nil {
		return wrap(op, id, err)
	}
	return nil
}

// SealedNames implements store.Responder.
func (s *Store) SealedNames(ctx context.Context, id string) ([]string, error) {
	const op = "store: sealed names"
	var out []string
	err := s.read(ctx, op, id, func(tx *sql.Tx) error {
		return queryAll(ctx, tx, `SELECT name FROM sealed WHERE incident_id = $1 ORDER BY name`, []any{id}, func(r *sql.Rows) error {
			var n string
			out = append(out, n)
			return r.Scan(&out[len(out)-1])
		})
	})
	return out, err
}

// ---- leases ----

// PutLease implements store.Responder.
func (s *Store) PutLease(ctx context.Context, l store.Lease) error {
	const op = "store: put lease"
	if l.ID == "" || l.System == "" || l.Login == "" || l.State == "" {
		return errs.New(op, errs.Invalid, l.IncidentID, "a lease needs an id, a system, a login and a state")
	}
	if l.Issued.IsZero() {
		l.Issued = time.Now()
	}
	return s.write(ctx, op, l.IncidentID, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO leases (id, incident_id, system, login, key_id, consumer, issued, expires, enforced, state, updated)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
			ON CONFLICT (id) DO UPDATE SET key_id = excluded.key_id, consumer = excluded.consumer, expires = excluded.expires,
				enforced = excluded.enforced, state = excluded.state, updated = excluded.updated`,
			l.ID, l.IncidentID, l.System, l.Login, l.KeyID, l.Consumer, store.FormatTime(l.Issued), nullTimeArg(l.Expires),
			b2i(l.Enforced), l.State, store.FormatTime(time.Now()))
		return err
	})
}

// Leases implements store.Responder.
func (s *Store) Leases(ctx context.Context, f store.LeaseFilter) ([]store.Lease, error) {
	const op = "store: leases"
	var w conds
	w.eq("incident_id", f.IncidentID)
	w.eq("id", f.ID)
	w.eq("state", f.State)
	if !f.ExpiresBefore.IsZero() {
		w.add("expires IS NOT NULL AND expires < ?", store.FormatTime(f.ExpiresBefore))
	}
	q := `SELECT id, incident_id, system, login, key_id, consumer, issued, expires, enforced, state, updated FROM leases` + w.sql()
	args := w.args
	q += ` ORDER BY CASE WHEN expires IS NULL THEN 1 ELSE 0 END, expires, id`
	var out []store.Lease
	err := s.tx(ctx, op, "", readOnly, func(tx *sql.Tx) error {
		return queryAll(ctx, tx, q, args, func(r *sql.Rows) error {
			var (
				l               store.Lease
				issued, updated string
				expires         sql.NullString
				enforced        int
			)
			if err := r.Scan(&l.ID, &l.IncidentID, &l.System, &l.Login, &l.KeyID, &l.Consumer, &issued, &expires, &enforced,
				&l.State, &updated); err != nil {
				return err
			}
			l.Enforced = enforced != 0
			var err error
			if l.Issued, err = store.ParseTime(issued); err != nil {
				return err
			}
			if l.Updated, err = store.ParseTime(updated); err != nil {
				return err
			}
			l.Expires, err = nullTime(expires)
			out = append(out, l)
			return err
		})
	})
	return out, err
}

// ---- audit log ----

// AppendAudit implements store.Responder.
func (s *Store) AppendAudit(ctx context.Context, e store.AuditEntry, sign func(store.AuditEntry) (string, string)) (store.AuditEntry, error) {
	out, err := s.AppendAudits(ctx, []store.AuditEntry{e}, sign)
	if len(out) == 1 {
		e = out[0]
	}
	return e, err
}

// AppendAudits implements store.Responder.
func (s *Store) AppendAudits(ctx context.Context, es []store.AuditEntry, sign func(store.AuditEntry) (string, string)) ([]store.AuditEntry, error) {
	out, _, err := s.appendAudits(ctx, "store: append audit", es, sign, nil)
	return out, err
}

// AppendAuditsWithLeases implements store.AuditedLeaseWriter.
func (s *Store) AppendAuditsWithLeases(ctx context.Context, es []store.AuditEntry, sign func(store.AuditEntry) (string, string), updates []store.BrokerLeaseUpdate) ([]store.AuditEntry, []bool, error) {
	const op = "store: append audit with leases"
	for _, u := range updates {
		if err := validUpdate(op, u); err != nil {
			return es, nil, err
		}
	}
	return s.appendAudits(ctx, op, es, sign, updates)
}

// appendAudits appends es and applies updates in one transaction.
func (s *Store) appendAudits(ctx context.Context, op string, es []store.AuditEntry, sign func(store.AuditEntry) (string, string), updates []store.BrokerLeaseUpdate) ([]store.AuditEntry, []bool, error) {
	es = append([]store.AuditEntry(nil), es...)
	for i := range es {
		e := &es[i]
		if e.Actor == "" || e.Action == "" {
			return es, nil, errs.New(op, errs.Invalid, "", "an audit entry needs an actor and an action")
		}
		if len(e.Detail) == 0 {
			e.Detail = json.RawMessage("{}")
		}
		if !json.Valid(e.Detail) {
			return es, nil, errs.New(op, errs.Invalid, "", "audit detail is not JSON")
		}
		if e.Time.IsZero() {
			e.Time = time.Now()
		}
		// The stored text is what the hash covers: round the time to what
		// the column keeps before hashing.
		var err error
		if e.Time, err = store.ParseTime(store.FormatTime(e.Time)); err != nil {
			return es, nil, errs.E(op, errs.Invalid, "", err)
		}
	}
	var updated []bool
	err := s.tx(ctx, op, "", nil, func(tx *sql.Tx) error {
		if s.d.LockAudit != "" {
			if _, err := tx.ExecContext(ctx, s.d.LockAudit); err != nil {
				return err
			}
		}
		// After the audit lock, which every writer that takes both takes first, so
		// that two of them cannot wait on each other.
		updated = make([]bool, len(updates))
		for i, u := range updates {
			ok, err := s.updateLease(ctx, tx, u)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			updated[i] = ok
		}
		var (
			last int64
			prev sql.NullString
		)
		err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&last, &prev)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		for i := range es {
			e := &es[i]
			e.Seq, e.PrevHash = last+1, prev.String
			e.Hash, e.MAC = sign(*e)
			if _, err := tx.ExecContext(ctx, `INSERT INTO audit_log (seq, at_time, actor, action, incident_id, detail, prev_hash, hash, mac)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
				e.Seq, store.FormatTime(e.Time), e.Actor, e.Action, e.IncidentID, string(e.Detail), e.PrevHash, e.Hash, e.MAC); err != nil {
				return err
			}
			last, prev = e.Seq, sql.NullString{String: e.Hash, Valid: true}
		}
		return nil
	})
	if err != nil {
		updated = nil
	}
	return es, updated, err
}

// AuditLog implements store.Responder.
func (s *Store) AuditLog(ctx context.Context) ([]store.AuditEntry, error) {
	return s.AuditFrom(ctx, 0)
}

// AuditFrom implements store.Responder.
func (s *Store) AuditFrom(ctx context.Context, seq int64) ([]store.AuditEntry, error) {
	return s.audit(ctx, `seq >= $1`, seq)
}

// IncidentAudit implements store.Responder.
func (s *Store) IncidentAudit(ctx context.Context, incident string) ([]store.AuditEntry, error) {
	return s.audit(ctx, `incident_id = $1`, incident)
}

// audit reads the entries matching where (one placeholder, arg), by seq.
func (s *Store) audit(ctx context.Context, where string, arg any) ([]store.AuditEntry, error) {
	const op = "store: audit log"
	var out []store.AuditEntry
	err := s.tx(ctx, op, "", readOnly, func(tx *sql.Tx) error {
		return queryAll(ctx, tx, `SELECT `+auditCols+` FROM audit_log WHERE `+where+` ORDER BY seq`,
			[]any{arg}, func(r *sql.Rows) error {
				e, err := scanAudit(r)
				out = append(out, e)
				return err
			})
	})
	return out, err
}

const auditCols = `seq, at_time, actor, action, incident_id, detail, prev_hash, hash, mac`

func scanAudit(r scanner) (store.AuditEntry, error) {
	var (
		e         store.AuditEntry
		t, detail string
	)
	if err := r.Scan(&e.Seq, &t, &e.Actor, &e.Action, &e.IncidentID, &detail, &e.PrevHash, &e.Hash, &e.MAC); err != nil {
		return e, err
	}
	e.Detail = json.RawMessage(detail)
	var err error
	// A time edited into something unparsable is still an entry
	// to report, not a failure to read the log: keep it zero and
	// let the hash check catch it.
	e.Time, err = store.ParseTime(t)
	if err != nil {
		e.Time = time.Time{}
	}
	return e, nil
}

// opener is incident id's first incident.open audit entry, nil without
// one; the (incident_id, seq) index finds it without reading the log.
func readOpener(q querier, id string, out **store.AuditEntry) {
	q.query(`SELECT `+auditCols+` FROM audit_log WHERE incident_id = $1 AND action = 'incident.open' ORDER BY seq LIMIT 1`,
		[]any{id}, func(r scanner) error {
			e, err := scanAudit(r)
			*out = &e
			return err
		})
}

// ---- reviews and tasks ----

// PutReview implements store.Remediation.
func (s *Store) PutReview(ctx context.Context, id string, r store.Review) error {
	const op = "store: put review"
	if r.Phase == "" || !json.Valid(r.Body) {
		return errs.New(op, errs.Invalid, id, "a review needs a phase and a JSON body")
	}
	if r.Created.IsZero() {
		r.Created = time.Now()
	}
	return s.write(ctx, op, id, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO reviews (incident_id, phase, created, body) VALUES ($1, $2, $3, $4)
			ON CONFLICT (incident_id, phase) DO UPDATE SET created = excluded.created, body = excluded.body`,
			id, r.Phase, store.FormatTime(r.Created), string(r.Body))
		return err
	})
}

// UpdateReview implements store.Remediation: the read and the write are
// in one transaction that holds the incident's row (PostgreSQL: FOR
// UPDATE; SQLite: the write transaction begun IMMEDIATE), so a second
// writer reads what the first wrote.
func (s *Store) UpdateReview(ctx context.Context, id, phase string, fn func(json.RawMessage) (json.RawMessage, error)) error {
	const op = "store: update review"
	if phase == "" {
		return errs.New(op, errs.Invalid, id, "a review needs a phase")
	}
	return s.write(ctx, op, id, func(tx *sql.Tx) error {
		var cur json.RawMessage
		var body string
		err := tx.QueryRowContext(ctx, `SELECT body FROM reviews WHERE incident_id = $1 AND phase = $2`, id, phase).Scan(&body)
		switch {
		case err == nil:
			cur = json.RawMessage(body)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		next, err := fn(cur)
		if err != nil || next == nil {
			return err
		}
		if !json.Valid(next) {
			return errs.New(op, errs.Invalid, id, "a review needs a JSON body")
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO reviews (incident_id, phase, created, body) VALUES ($1, $2, $3, $4)
			ON CONFLICT (incident_id, phase) DO UPDATE SET created = excluded.created, body = excluded.body`,
			id, phase, store.FormatTime(time.Now()), string(next))
		return err
	})
}

// Reviews implements store.Remediation.
func (s *Store) Reviews(ctx context.Context, id string) ([]store.Review, error) {
	return records(ctx, s, "store: reviews", id, reviews)
}

func reviews(ctx context.Context, tx *sql.Tx, id string) ([]store.Review, error) {
	return readNow(ctx, tx, id, readReviews)
}

func readReviews(q querier, id string, out *[]store.Review) {
	q.query(`SELECT phase, created, body FROM reviews WHERE incident_id = $1 ORDER BY phase`, []any{id},
		func(r scanner) error {
			rv := store.Review{IncidentID: id}
			var created, body string
			if err := r.Scan(&rv.Phase, &created, &body); err != nil {
				return err
			}
			rv.Body = json.RawMessage(body)
			var err error
			rv.Created, err = store.ParseTime(created)
			*out = append(*out, rv)
			return err
		})
}

// PutTasks implements store.Remediation.
func (s *Store) PutTasks(ctx context.Context, id string, ts []store.Task) error {
	const op = "store: put tasks"
	for _, t := range ts {
		if t.ID == "" || t.Kind == "" || t.State == "" {
			return errs.New(op, errs.Invalid, id, "a task needs an id, a kind and a state")
		}
		if len(t.Detail) > 0 && !json.Valid(t.Detail) {
			return errs.New(op, errs.Invalid, id, "task "+t.ID+": detail is not JSON")
		}
	}
	now := store.FormatTime(time.Now())
	return s.write(ctx, op, id, func(tx *sql.Tx) error {
		for _, t := range ts {
			detail := string(t.Detail)
			if detail == "" {
				detail = "{}"
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO tasks (incident_id, task_id, kind, location, action, state, detail, updated)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
				ON CONFLICT (incident_id, task_id) DO UPDATE SET kind = excluded.kind, location = excluded.location,
					action = excluded.action, state = excluded.state, detail = excluded.detail, updated = excluded.updated`,
				id, t.ID, t.Kind, t.Location, t.Action, t.State, detail, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// Tasks implements store.Remediation.
func (s *Store) Tasks(ctx context.Context, id string) ([]store.Task, error) {
	const op = "store: tasks"
	var out []store.Task
	err := s.read(ctx, op, id, func(tx *sql.Tx) error {
		return queryAll(ctx, tx, `SELECT task_id, kind, location, action, state, detail, updated FROM tasks
			WHERE incident_id = $1 ORDER BY task_id`, []any{id}, func(r *sql.Rows) error {
			t := store.Task{IncidentID: id}
			var detail, updated string
			if err := r.Scan(&t.ID, &t.Kind, &t.Location, &t.Action, &t.State, &detail, &updated); err != nil {
				return err
			}
			t.Detail = json.RawMessage(detail)
			var err error
			t.Updated, err = store.ParseTime(updated)
			out = append(out, t)
			return err
		})
	})
	return out, err
}
