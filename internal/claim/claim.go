// Package claim makes sure one worker at a time changes an incident: the
// commands that act on systems (run, resume, rollback, remediate, respond)
// claim the incident first, and a second one is refused with who holds it,
// instead of issuing a second credential, overwriting the first run's step
// states or dropping a login the first run is delivering. ("Lease" already
// means a credential rekey issued, hence "claim".)
//
// A claim ends when its holder releases it or dies:
//
//   - On PostgreSQL it is a session advisory lock (pg_try_advisory_lock) on
//     a connection kept for the claim alone: the server frees it when that
//     connection ends, however the holder died. A row in the claims table
//     says who holds it, for the refusal message.
//   - On SQLite, which has no such lock across processes, the row in the
//     claims table is the claim. Its holder writes a heartbeat every few
//     seconds; another worker takes it over when the holder's process is
//     gone (same host, pid not running) or its heartbeat is older than
//     Options.Stale (15 s).
//
// A holder that can no longer prove its claim (the heartbeat cannot be
// written, the lock's connection broke, another worker took the row over)
// sees Lost close and must stop: the CLI cancels the command's context.
//
// Claims are exclusive between goroutines of one process too, so that
// `rekey serve` (409 conflict) and its replicas reuse them; a process that
// nests commands (respond calls run) holds its claim once and passes it on.
package claim

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/store"
)

// Holder is who holds a claim.
type Holder struct {
	Actor string
	Host  string
	PID   int
	// Since is when the claim was taken; Heartbeat when its holder last
	// proved it was alive.
	Since, Heartbeat time.Time
}

// HeldError is why a claim was refused: someone else holds it. Its kind
// is errs.Conflict.
type HeldError struct {
	Incident string
	Holder   Holder
}

func (e *HeldError) Error() string {
	h := e.Holder
	if h.Actor == "" {
		// A PostgreSQL lock whose holder has not written its row yet.
		return fmt.Sprintf("incident %s is being worked on by another rekey process", e.Incident)
	}
	return fmt.Sprintf("incident %s is being worked on by %s (pid %d on %s) since %s",
		e.Incident, h.Actor, h.PID, h.Host, h.Since.UTC().Format(time.RFC3339))
}

// Claimer takes claims on incidents.
type Claimer interface {
	// Claim takes the claim on incident for actor, or fails with an
	// error of kind errs.Conflict wrapping a *HeldError when another
	// worker (process or goroutine) holds it. The claim is held until
	// Release, or until its holder dies.
	Claim(ctx context.Context, incident, actor string) (*Claim, error)
}

// Claim is a claim held.
type Claim struct {
	Incident string
	Holder   Holder
	// Previous is the holder this claim took over from (its process gone
	// or its heartbeat stale), nil when the incident was free.
	Previous *Holder

	lost    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	release func(context.Context) error
	err     error
}

// Lost is closed when the claim can no longer be proved held: the holder
// must stop changing the incident.
func (c *Claim) Lost() <-chan struct{} { return c.lost }

// Release gives the claim up. It is safe to call more than once and after
// the claim is lost.
func (c *Claim) Release() error {
	c.once.Do(func() {
		close(c.stop)
		<-c.done
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c.err = c.release(ctx)
	})
	return c.err
}

// Options tune a Claimer; zero values are the defaults.
type Options struct {
	// Stale is how old a SQLite claim's heartbeat may be before another
	// worker takes it over (15 s); Beat how often a holder writes it
	// (Stale/3).
	Stale, Beat time.Duration
	// Now is the clock (time.Now).
	Now func() time.Time
	// Host and PID name this process (os.Hostname, os.Getpid).
	Host string
	PID  int
}

// DefaultStale is Options.Stale's default.
const DefaultStale = 15 * time.Second

func (o Options) withDefaults() Options {
	if o.Stale <= 0 {
		o.Stale = DefaultStale
	}
	if o.Beat <= 0 {
		o.Beat = o.Stale / 3
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Host == "" {
		o.Host, _ = os.Hostname()
	}
	if o.PID == 0 {
		o.PID = os.Getpid()
	}
	return o
}

// For returns the Claimer for a store: advisory locks on PostgreSQL, claim
// rows on SQLite.
func For(st store.Store, o Options) (Claimer, error) {
	raw, ok := st.(store.Raw)
	if !ok {
		return nil, errs.New("claim", errs.Unsupported, "", "this store cannot hold claims")
	}
	switch raw.DialectName() {
	case "postgres":
		return NewPostgres(raw.DB(), o), nil
	case "sqlite":
		return NewSQLite(raw.DB(), o), nil
	}
	return nil, errs.New("claim", errs.Unsupported, raw.DialectName(), "this store cannot hold claims")
}

func held(incident string, h Holder) error {
	// No op: the message is the whole story.
	return errs.E("", errs.Conflict, "", &HeldError{Incident: incident, Holder: h})
}

func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// holderOf reads the claims row of incident; ok is false when there is
// none. lock is appended to the query (" FOR UPDATE" on PostgreSQL).
func holderOf(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, incident, lock string) (h Holder, token string, ok bool, err error) {
	var since, beat string
	err = q.QueryRowContext(ctx, `SELECT token, actor, host, pid, since, heartbeat FROM claims WHERE incident_id = $1`+lock, incident).
		Scan(&token, &h.Actor, &h.Host, &h.PID, &since, &beat)
	if errors.Is(err, sql.ErrNoRows) {
		return Holder{}, "", false, nil
	}
	if err != nil {
		return Holder{}, "", false, err
	}
	if h.Since, err = store.ParseTime(since); err != nil {
		return Holder{}, "", false, err
	}
	if h.Heartbeat, err = store.ParseTime(beat); err != nil {
		return Holder{}, "", false, err
	}
	return h, token, true, nil
}

// upsertSQL writes the claims row of a new holder (both engines take
// INSERT … ON CONFLICT).
const upsertSQL = `INSERT INTO claims (incident_id, token, actor, host, pid, since, heartbeat) VALUES ($1, $2, $3, $4, $5, $6, $7)
	ON CONFLICT (incident_id) DO UPDATE SET token = excluded.token, actor = excluded.actor, host = excluded.host,
	pid = excluded.pid, since = excluded.since, heartbeat = excluded.heartbeat`

// beat runs a holder's heartbeat every interval until c is released,
// closing c.lost when proof fails (see each implementation).
func (c *Claim) beat(interval time.Duration, prove func() bool) {
	defer close(c.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			if !prove() {
				close(c.lost)
				<-c.stop
				return
			}
		}
	}
}

func newClaim(incident string, h Holder, prev *Holder) *Claim {
	return &Claim{Incident: incident, Holder: h, Previous: prev,
		lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
}
