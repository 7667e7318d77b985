package broker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rekeyhq/rekey/internal/audit"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
)

// Audit actions of leases. The actor of each is the lease's holder
// (ISSUER:SUBJECT); detail.by names who ended a lease when it was not the
// holder (an administrator, the reaper).
const (
	ActionIssue  = "broker.lease.issue"
	ActionRenew  = "broker.lease.renew"
	ActionRevoke = "broker.lease.revoke"
	ActionReap   = "broker.lease.reap"
)

// ByReaper is detail.by of a lease the reaper ended.
const ByReaper = "reaper"

// passwordLen is a lease password's length (about 190 bits).
const passwordLen = 32

// LeaseConfig builds a Leases service.
type LeaseConfig struct {
	Inventory *inventory.Inventory
	Store     store.Store
	// Audit records every issue, renewal, revocation and reaping; a
	// lease whose issue cannot be recorded is not handed out.
	Audit *audit.Log
	// Systems are the inventory's systems, connected as administrators,
	// by name. A system's provider must be a provider.Rotator and a
	// provider.SessionTerminator.
	Systems map[string]provider.Provider
}

// Leases issues, renews and ends leases: real logins in a system, shaped
// like a role's template identity, that live until their expiry. The store
// holds every lease's state (never its secret), so any process with the
// same store (a restarted server, another replica) renews, revokes and
// reaps what another issued. It is safe for concurrent use.
type Leases struct {
	inv     *inventory.Inventory
	st      store.Store
	audit   *audit.Log
	systems map[string]provider.Provider
	now     func() time.Time
	// checked holds when each template last passed checkTemplate;
	// checking holds a channel, closed when done, per template being
	// inspected, so that the requests arriving meanwhile wait for that
	// check instead of each inspecting the template again.
	checkMu  sync.Mutex
	checked  map[provider.IdentityRef]checked
	checking map[provider.IdentityRef]chan struct{}
	checkFor time.Duration // templateCheckFor; tests lengthen it
	// rows commits the lease rows of concurrent calls in groups.
	rows rowGroup
	// withAudit is whether the audit log writes st's lease rows in its
	// entries' transactions (audit.Log.WritesLeasesOf).
	withAudit bool
}

// checked is a template's last passing check and what a lease of it
// leaves out.
type checked struct {
	ok   bool
	at   time.Time
	drop []string
}

// templateCheckFor is how long a template that passed checkTemplate is
// not inspected again; while it is being inspected again, a check up to
// twice as old is used rather than waited for. Inspecting is most of an
// issue's cost (half the rate in BenchmarkLeaseIssue), and the check is a
// snapshot whatever its age: a lease is a member of its template, so a
// privilege granted to the template after the check reaches the lease all
// the same. Failures are never remembered, and one makes the last pass
// forgotten, so a template put right is usable at once and a template gone
// wrong is not used on an older check.
const templateCheckFor = time.Second

// NewLeases checks cfg and returns the service.
func NewLeases(cfg LeaseConfig) (*Leases, error) {
	if cfg.Inventory == nil || cfg.Inventory.Broker == nil {
		return nil, errs.New("broker: leases", errs.Invalid, "", "the inventory has no broker: section")
	}
	if cfg.Store == nil || cfg.Audit == nil {
		return nil, errs.New("broker: leases", errs.Invalid, "", "leases need a store and an audit log")
	}
	return &Leases{inv: cfg.Inventory, st: cfg.Store, audit: cfg.Audit, systems: cfg.Systems, now: time.Now,
		checked: map[provider.IdentityRef]checked{}, checking: map[provider.IdentityRef]chan struct{}{}, checkFor: templateCheckFor,
		withAudit: cfg.Audit.WritesLeasesOf(cfg.Store)}, nil
}

// Lease is an issued lease as its holder gets it, once: the secret is in
// no store and no log.
type Lease struct {
	ID        string        `json:"lease_id"`
	Login     string        `json:"login"`
	Secret    secret.Secret `json:"-"`
	ExpiresAt time.Time     `json:"expires_at"`
	// Renewable is whether a renewal could move ExpiresAt (it is before
	// MaxExpiresAt).
	Renewable    bool      `json:"renewable"`
	MaxExpiresAt time.Time `json:"max_expires_at"`
	Role         string    `json:"role"`
	System       string    `json:"system"`
	Holder       string    `json:"holder"`
}

// Issue creates a lease for an allowed decision: a login named after the
// role's template identity (<like>_l<hex>, cut to the system's limit), a
// member of the template with a fresh password, valid for d.TTL, that
// renewals may keep alive until the role's max_ttl (or the policy's, when
// smaller) from now.
//
// A dangerous privilege of the template (critical, or one that mints
// credentials) that the inventory does not keep is left out of the lease
// where the system copies privileges onto it (provider.PrivilegeCopier:
// MariaDB, Redis). Where a lease is a member of its template (PostgreSQL)
// it would reach the privilege through the membership, and taking it away
// from the template would take it from every static consumer of that
// identity too: Issue refuses such a template and says so. Isolating the
// template (an incident's isolate step) or keeping the privilege is a
// person's call.
//
// The lease is written to the store (state issuing) before the login
// exists, so that a process dying mid-way leaves a row the reaper ends;
// it is active, and its issue audited, before the secret is returned.
func (l *Leases) Issue(ctx context.Context, d *Decision) (*Lease, error) {
	const op = "broker: issue lease"
	if d == nil || !d.Allowed {
		return nil, errs.New(op, errs.Permission, "", "the request was not allowed")
	}
	role := l.inv.Broker.RoleByName(d.Role)
	if role == nil {
		return nil, errs.New(op, errs.NotFound, d.Role, "no such role")
	}
	sys := l.inv.SystemByName(role.System)
	rot, _, p, err := l.rotator(op, role.System)
	if err != nil {
		return nil, err
	}
	from := provider.IdentityRef{System: role.System, Name: role.Like}
	drop, err := l.checkTemplate(ctx, op, p, role, from)
	if err != nil {
		return nil, err
	}
	pw, err := secret.Generate(passwordLen)
	if err != nil {
		return nil, errs.E(op, errs.Other, d.Role, err)
	}
	now := l.now().UTC()
	maxTTL := role.MaxTTL
	if maxTTL == 0 {
		maxTTL = role.TTL
	}
	if d.PolicyMaxTTL != nil {
		maxTTL = min(maxTTL, *d.PolicyMaxTTL)
	}
	maxTTL = max(maxTTL, d.TTL)
	rec := store.BrokerLease{Role: role.Name, System: role.System, Identity: role.Like, Holder: d.Workload.Holder(),
		IssuedAt: now, ExpiresAt: now.Add(d.TTL), MaxExpiresAt: now.Add(maxTTL), State: store.BrokerIssuing}
	// A random tag makes a collision with another lease's login (two
	// tags with the same hash suffix after a cut) unlikely; the store's
	// unique (system, login) turns one into another try.
	for try := 0; ; try++ {
		tag, err := randomHex(8)
		if err != nil {
			return nil, errs.E(op, errs.Other, d.Role, err)
		}
		if rec.ID, err = randomHex(16); err != nil {
			return nil, errs.E(op, errs.Other, d.Role, err)
		}
		rec.Login = plan.LoginName(sys.Type, role.Like, "l"+tag)
		err = l.createRow(ctx, rec)
		if err == nil {
			break
		}
		if errs.KindOf(err) != errs.Conflict || try == 3 {
			return nil, err
		}
	}
	ref := provider.IdentityRef{System: role.System, Name: rec.Login}
	if _, err := rot.Issue(ctx, provider.IssueRequest{From: from, Name: rec.Login, Secret: pw, ExpiresAt: rec.ExpiresAt, Drop: drop, Generated: true}); err != nil {
		// Nothing was handed out: end what may exist of the login now
		// rather than at its expiry. Drop alone, which removes only a
		// login rekey issued: the failure may be a role of that name that
		// is someone else's.
		_ = rot.Drop(context.WithoutCancel(ctx), ref)
		_, _ = l.st.UpdateBrokerLease(context.WithoutCancel(ctx), rec.ID, []string{store.BrokerIssuing}, store.BrokerRevoked, time.Time{})
		return nil, err
	}
	active := rec
	active.State = store.BrokerActive
	ok, err := l.activate(ctx, active, d.Policy)
	if err == nil && !ok {
		err = errs.New(op, errs.Conflict, rec.ID, "the lease was ended while it was being issued (its expiry passed)")
	}
	if err == nil {
		rec = active
	}
	if err != nil {
		// An unrecorded lease must not exist: end it.
		_, _ = l.revokeOne(context.WithoutCancel(ctx), rec, "", "issue-failed")
		return nil, err
	}
	return &Lease{ID: rec.ID, Login: rec.Login, Secret: pw, ExpiresAt: rec.ExpiresAt, Renewable: rec.ExpiresAt.Before(rec.MaxExpiresAt),
		MaxExpiresAt: rec.MaxExpiresAt, Role: rec.Role, System: rec.System, Holder: rec.Holder}, nil
}

// activate moves rec's row to active and audits its issue, and reports
// whether the row moved (false: the lease was ended meanwhile). The
// secret is returned only when both are written; when either fails the
// login is ended, and an issue entry already written is followed by the
// revocation's. Where the audit log writes the store's lease rows, both
// go in the entry's transaction (one commit, grouped with the entries of
// concurrent issues); otherwise they are two commits that overlap rather
// than follow each other.
func (l *Leases) activate(ctx context.Context, rec store.BrokerLease, policy string) (bool, error) {
	u := store.BrokerLeaseUpdate{ID: rec.ID, From: []string{store.BrokerIssuing}, State: store.BrokerActive}
	if l.withAudit {
		_, moved, err := l.audit.AppendWithLeases(ctx, rec.Holder, ActionIssue, "", leaseDetail(rec, policy, ""), []store.BrokerLeaseUpdate{u})
		return err == nil && moved[0], err
	}
	audited := make(chan error, 1)
	go func() { audited <- l.record(ctx, rec.Holder, ActionIssue, leaseDetail(rec, policy, "")) }()
	ok, err := l.updateRow(ctx, u)
	if auditErr := <-audited; err == nil {
		err = auditErr
	}
	return ok, err
}

// checkTemplate returns the template's dangerous privileges the inventory
// does not keep, for a system that copies privileges; for one that does
// not, it refuses a template holding any (see Issue).
func (l *Leases) checkTemplate(ctx context.Context, op string, p provider.Provider, role *inventory.BrokerRole, from provider.IdentityRef) ([]string, error) {
	for {
		l.checkMu.Lock()
		ok := l.checked[from]
		if ok.ok && time.Since(ok.at) < l.checkFor {
			l.checkMu.Unlock()
			return ok.drop, nil
		}
		wait, busy := l.checking[from]
		if busy && ok.ok && time.Since(ok.at) < 2*l.checkFor {
			// The template is being checked again and passed a moment
			// ago: use that rather than wait. Every second all the
			// requests in flight used to stop for the check's round
			// trips, a good part of the p99 over HTTP.
			l.checkMu.Unlock()
			return ok.drop, nil
		}
		if !busy {
			done := make(chan struct{})
			l.checking[from] = done
			l.checkMu.Unlock()
			defer func() {
				l.checkMu.Lock()
				delete(l.checking, from)
				l.checkMu.Unlock()
				close(done)
			}()
			return l.inspectTemplate(ctx, op, p, role, from)
		}
		l.checkMu.Unlock()
		// A check that fails is not shared: the next caller checks again.
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// inspectTemplate is checkTemplate's inspection, remembered when it passes.
func (l *Leases) inspectTemplate(ctx context.Context, op string, p provider.Provider, role *inventory.BrokerRole, from provider.IdentityRef) ([]string, error) {
	start := time.Now()
	id, err := p.Inspect(ctx, from)
	if err == nil && !id.Exists {
		err = errs.New(op, errs.NotFound, role.Name, "its template identity "+from.Name+" does not exist in "+from.System)
	}
	if err != nil {
		l.forget(from)
		return nil, err
	}
	keep := map[string]bool{}
	if inv := role.Identity(l.inv); inv != nil {
		for _, k := range inv.Keep {
			keep[strings.ToLower(k)] = true
		}
	}
	var bad []string
	for _, pr := range id.Privileges {
		// A membership's own privileges go with the membership, which is
		// listed itself when it is risky (as plan's drops has it).
		if pr.Via == "" && pr.Dangerous() && !keep[strings.ToLower(pr.Name)] {
			bad = append(bad, pr.Name)
		}
	}
	if _, copies := p.(provider.PrivilegeCopier); copies || len(bad) == 0 {
		l.checkMu.Lock()
		l.checked[from] = checked{ok: true, at: start, drop: bad}
		l.checkMu.Unlock()
		return bad, nil
	}
	l.forget(from)
	return nil, errs.New(op, errs.Invalid, role.Name, fmt.Sprintf(
		"template %s holds %s, which a lease would reach through its membership; removing it from %s would also take it from the identity's static consumers: isolate %s first or add it to its keep list in the inventory",
		from.Name, strings.Join(bad, ", "), from.Name, from.Name))
}

// forget drops the last passing check of a template that has just
// failed one: no request uses it while the template is checked again.
func (l *Leases) forget(from provider.IdentityRef) {
	l.checkMu.Lock()
	delete(l.checked, from)
	l.checkMu.Unlock()
}

// Renew moves lease id's expiry to now+ttl (the role's ttl when 0), no
// further than its max_expires_at, and returns the new expiry. Only its
// holder renews it; another workload, or a lease no longer active, is
// errs.NotFound (a workload learns nothing of others' leases). A renewal
// that cannot move the expiry (max_expires_at reached) is errs.Invalid.
func (l *Leases) Renew(ctx context.Context, id, holder string, ttl time.Duration) (time.Time, error) {
	const op = "broker: renew lease"
	rec, err := l.get(ctx, op, id, holder)
	if err != nil {
		return time.Time{}, err
	}
	if rec.State != store.BrokerActive {
		return time.Time{}, errs.New(op, errs.NotFound, id, "no such active lease")
	}
	if ttl <= 0 {
		if role := l.inv.Broker.RoleByName(rec.Role); role != nil {
			ttl = role.TTL
		}
	}
	until := l.now().UTC().Add(ttl)
	if until.After(rec.MaxExpiresAt) {
		until = rec.MaxExpiresAt
	}
	if !until.After(rec.ExpiresAt) {
		return time.Time{}, errs.New(op, errs.Invalid, id, "the lease is at its max_ttl ("+rec.MaxExpiresAt.Format(time.RFC3339)+"): request a new one")
	}
	rot, _, _, err := l.rotator(op, rec.System)
	if err != nil {
		return time.Time{}, err
	}
	// The system first: a lease the store shows longer than the system
	// enforces would be dropped by the server early, never kept late.
	if err := rot.Renew(ctx, provider.IdentityRef{System: rec.System, Name: rec.Login}, until); err != nil {
		return time.Time{}, err
	}
	ok, err := l.updateRow(ctx, store.BrokerLeaseUpdate{ID: id, From: []string{store.BrokerActive}, State: store.BrokerActive, ExpiresAt: until})
	if err != nil {
		return time.Time{}, err
	}
	if !ok {
		return time.Time{}, errs.New(op, errs.NotFound, id, "the lease ended during its renewal")
	}
	rec.ExpiresAt = until
	if err := l.record(ctx, rec.Holder, ActionRenew, leaseDetail(rec, "", "")); err != nil {
		return time.Time{}, err
	}
	return until, nil
}

// Revoke ends lease id now: the login stops working, its sessions end
// and it is dropped. With holder set (a workload ending its own lease)
// a lease of another holder is errs.NotFound; by is who asked (the holder,
// or an administrator's name). Ending an ended lease is not an error.
func (l *Leases) Revoke(ctx context.Context, id, holder, by string) error {
	const op = "broker: revoke lease"
	rec, err := l.get(ctx, op, id, holder)
	if err != nil {
		return err
	}
	_, err = l.revokeOne(ctx, rec, by, ActionRevoke)
	return err
}

// RevokeHolder ends every live lease of a workload (ISSUER:SUBJECT) and
// returns how many it ended.
func (l *Leases) RevokeHolder(ctx context.Context, holder, by string) (int, error) {
	return l.revokeAll(ctx, store.BrokerLeaseFilter{Holder: holder}, by)
}

// RevokeRole ends every live lease of a role.
func (l *Leases) RevokeRole(ctx context.Context, role, by string) (int, error) {
	return l.revokeAll(ctx, store.BrokerLeaseFilter{Role: role}, by)
}

// RevokeIdentity ends every live lease issued from identity (system and
// name): the plan's revoke-leases step for an identity under incident.
func (l *Leases) RevokeIdentity(ctx context.Context, id provider.IdentityRef, by string) (int, error) {
	return l.revokeAll(ctx, store.BrokerLeaseFilter{System: id.System, Identity: id.Name}, by)
}

// ActiveLogin reports whether login is an active lease of role: the plan's
// move-to-lease step asks it of the login a consumer's config holds.
func (l *Leases) ActiveLogin(ctx context.Context, role, login string) (bool, error) {
	recs, err := l.st.BrokerLeases(ctx, store.BrokerLeaseFilter{Role: role, States: []string{store.BrokerActive}})
	if err != nil {
		return false, err
	}
	for _, r := range recs {
		if r.Login == login && r.ExpiresAt.After(l.now()) {
			return true, nil
		}
	}
	return false, nil
}

// List returns the leases matching f, by expiry.
func (l *Leases) List(ctx context.Context, f store.BrokerLeaseFilter) ([]store.BrokerLease, error) {
	return l.st.BrokerLeases(ctx, f)
}

// live are the states of a lease whose login may exist.
var live = []string{store.BrokerIssuing, store.BrokerActive}

func (l *Leases) revokeAll(ctx context.Context, f store.BrokerLeaseFilter, by string) (int, error) {
	f.States = live
	recs, err := l.st.BrokerLeases(ctx, f)
	if err != nil {
		return 0, err
	}
	n := 0
	var errList []error
	l.endAll(ctx, recs, by, ActionRevoke, func(_ store.BrokerLease, ended bool, err error) {
		if ended {
			n++
		}
		if err != nil {
			errList = append(errList, err)
		}
	})
	return n, errors.Join(errList...)
}

// endWorkers is how many leases endAll ends at once.
const endWorkers = 8

// endAll ends recs (revokeOne) several at a time and tells done of each,
// one call at a time. Ending a lease is round trips to its system, a row
// update and an audit entry: one after the other, a revocation of a
// holder's or a role's leases, or a reaper's pass, paid a store commit
// and an audit commit with its witness for each lease; at once, the rows
// and the entries of the leases being ended are committed in groups
// (rowGroup, audit.Log's group commit) and the systems' round trips
// overlap.
func (l *Leases) endAll(ctx context.Context, recs []store.BrokerLease, by, action string, done func(rec store.BrokerLease, ended bool, err error)) {
	var mu sync.Mutex
	next := make(chan store.BrokerLease)
	var wg sync.WaitGroup
	for range min(endWorkers, len(recs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rec := range next {
				ended, err := l.revokeOne(ctx, rec, by, action)
				mu.Lock()
				done(rec, ended, err)
				mu.Unlock()
			}
		}()
	}
	for _, rec := range recs {
		next <- rec
	}
	close(next)
	wg.Wait()
}

// revokeOne ends rec's login (revoke, end sessions, drop), moves the lease
// to its final state and audits it, and reports whether this call moved
// it: two processes ending one lease both make sure the login is gone,
// and one records it.
func (l *Leases) revokeOne(ctx context.Context, rec store.BrokerLease, by, action string) (bool, error) {
	if rec.State != store.BrokerIssuing && rec.State != store.BrokerActive {
		return false, nil
	}
	rot, term, _, err := l.rotator("broker: end lease", rec.System)
	if err != nil {
		return false, err
	}
	ref := provider.IdentityRef{System: rec.System, Name: rec.Login}
	endErr := l.end(ctx, rot, term, ref)
	if endErr != nil && errs.KindOf(endErr) != errs.Invalid {
		// Unreachable or refused: the login may still work; leave the
		// lease live so that the next revocation or reaping tries again.
		return false, endErr
	}
	final := store.BrokerRevoked
	if action == ActionReap {
		final = store.BrokerReaped
	}
	ok, err := l.updateRow(ctx, store.BrokerLeaseUpdate{ID: rec.ID, From: live, State: final})
	if err != nil || !ok {
		return false, errors.Join(endErr, err)
	}
	rec.State = final
	if action == "issue-failed" {
		action = ActionRevoke
		by = "issue-failed"
	}
	note := ""
	if endErr != nil {
		// Revoked and its sessions ended, but not dropped (it owns
		// objects): the operator reassigns them and drops the login.
		note = endErr.Error()
	}
	if err := l.record(ctx, rec.Holder, action, leaseDetail(rec, "", by, note)); err != nil {
		return true, errors.Join(endErr, err)
	}
	return true, endErr
}

// end makes the login stop working, ends its sessions and drops it. A
// login that cannot be dropped (it owns objects: errs.Invalid) is left
// revoked with no sessions.
func (l *Leases) end(ctx context.Context, rot provider.Rotator, term provider.SessionTerminator, ref provider.IdentityRef) error {
	if err := rot.Revoke(ctx, ref); err != nil {
		return err
	}
	if _, err := term.TerminateSessions(ctx, ref, nil); err != nil {
		return err
	}
	return rot.Drop(ctx, ref)
}

func (l *Leases) get(ctx context.Context, op, id, holder string) (store.BrokerLease, error) {
	recs, err := l.st.BrokerLeases(ctx, store.BrokerLeaseFilter{ID: id, Holder: holder})
	if err != nil {
		return store.BrokerLease{}, err
	}
	if len(recs) == 0 {
		return store.BrokerLease{}, errs.New(op, errs.NotFound, id, "no such lease")
	}
	return recs[0], nil
}

func (l *Leases) rotator(op, system string) (provider.Rotator, provider.SessionTerminator, provider.Provider, error) {
	p := l.systems[system]
	if p == nil {
		return nil, nil, nil, errs.New(op, errs.Unreachable, system, "no connection to system "+system)
	}
	rot, ok1 := p.(provider.Rotator)
	term, ok2 := p.(provider.SessionTerminator)
	if !ok1 || !ok2 {
		return nil, nil, nil, errs.New(op, errs.Unsupported, system, "system "+system+" cannot issue and end logins")
	}
	return rot, term, p, nil
}

// detail is what the audit log keeps of a lease: its record (never a
// secret), the policy version that allowed it, who ended it and why.
type detail struct {
	store.BrokerLease
	Policy string `json:"policy,omitempty"`
	By     string `json:"by,omitempty"`
	Note   string `json:"note,omitempty"`
}

func leaseDetail(rec store.BrokerLease, policy, by string, note ...string) detail {
	return detail{BrokerLease: rec, Policy: policy, By: by, Note: strings.Join(note, "; ")}
}

// record appends one audit entry (audit.Log serialises appends in one
// process).
func (l *Leases) record(ctx context.Context, actor, action string, d detail) error {
	_, err := l.audit.Append(ctx, actor, action, "", d)
	return err
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
