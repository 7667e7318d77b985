package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/deliver"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
)

// do performs one step's side effect. Every branch is idempotent.
func (e *Engine) do(ctx context.Context, st *plan.Step, cur store.Step) (map[string]any, error) {
	if typ := e.keySystem(st); typ != "" {
		return e.doKey(ctx, st, typ)
	}
	switch st.Kind {
	case plan.Isolate:
		return e.isolate(ctx, st)
	case plan.Issue:
		return e.issue(ctx, st, beganAt(cur), cur.Attempts)
	case plan.Supply:
		return e.supplied(ctx, st)
	case plan.Deliver:
		return e.deliver(ctx, st)
	case plan.Verify:
		return e.verify(ctx, st)
	case plan.Revoke:
		return e.revoke(ctx, st)
	case plan.TerminateSessions:
		if st.Role != "" {
			return e.terminateRole(ctx, st)
		}
		n, err := e.terminate(ctx, st, st.KeepSources)
		if err != nil {
			return nil, err
		}
		return map[string]any{"terminated": n, "detail": fmt.Sprintf("%d session(s) ended", n)}, nil
	case plan.RevokeRelated:
		return e.revokeRelated(ctx, st)
	case plan.Notify:
		return e.notify(st)
	case plan.WaitWindow:
		return map[string]any{"detail": "the change window " + st.Window + " is open"}, nil
	case plan.RevokeLeases:
		return e.revokeLeases(ctx, st)
	case plan.MoveToLease:
		return e.moveToLease(ctx, st)
	}
	return nil, errs.New("run", errs.Unsupported, st.ID, "this rekey cannot execute steps of kind "+string(st.Kind))
}

func (e *Engine) ref(st *plan.Step, name string) provider.IdentityRef {
	return provider.IdentityRef{System: st.System, Name: name}
}

// leakedRef is the identity a revoke acts on: with the step's Key, that
// one key of the principal (the leaked access key), never its others.
func (e *Engine) leakedRef(st *plan.Step) provider.IdentityRef {
	return provider.IdentityRef{System: st.System, Name: st.Identity, Key: st.Key}
}

func (e *Engine) provider(ctx context.Context, system string) (provider.Provider, error) {
	return e.d.Provider(ctx, system)
}

func (e *Engine) rotator(ctx context.Context, st *plan.Step) (provider.Rotator, error) {
	p, err := e.provider(ctx, st.System)
	if err != nil {
		return nil, err
	}
	r, ok := p.(provider.Rotator)
	if !ok {
		return nil, errs.New("run", errs.Unsupported, st.ID, "system "+st.System+" cannot rotate credentials with this rekey")
	}
	return r, nil
}

// slot names a sealed credential: the login it is the password of.
func loginSlot(system, login string) string { return "login:" + system + "/" + login }

// previousSlot holds what a consumer's target held before the first
// delivery, for rollback.
func previousSlot(consumer string) string { return "previous:" + consumer }

func (e *Engine) aad(slot string) string { return e.inc.ID + "/" + slot }

// sealedSecret returns the secret sealed in slot, generating and sealing
// one first if there is none. SealOnce makes the first sealed value win:
// a crash after the seal and before the system saw it, followed by a
// resume, uses the same secret instead of a second one.
func (e *Engine) sealedSecret(ctx context.Context, slot string) (secret.Secret, error) {
	return e.sealOnce(ctx, slot, e.d.Generate)
}

// sealOnce returns the secret sealed in slot, or seals what make returns
// and returns the first value sealed there.
func (e *Engine) sealOnce(ctx context.Context, slot string, make func() (secret.Secret, error)) (secret.Secret, error) {
	if blob, ok, err := e.d.Store.Sealed(ctx, e.inc.ID, slot); err != nil {
		return secret.Secret{}, err
	} else if ok {
		return e.open(blob, slot)
	}
	s, err := make()
	if err != nil {
		return secret.Secret{}, err
	}
	blob, err := e.d.Sealer.Seal(s, e.aad(slot))
	if err != nil {
		return secret.Secret{}, err
	}
	stored, err := e.d.Store.SealOnce(ctx, e.inc.ID, slot, blob)
	if err != nil {
		return secret.Secret{}, err
	}
	return e.open(stored, slot)
}

// open unseals blob and registers the secret with the Masker: whatever
// rekey unseals may come back in a command's output.
func (e *Engine) open(blob []byte, slot string) (secret.Secret, error) {
	s, err := e.d.Sealer.Open(blob, e.aad(slot))
	if err == nil {
		e.d.Masker.Add(s)
	}
	return s, err
}

// unseal returns the secret sealed in slot; its absence means it was
// wiped after delivery, which a step that needs it cannot recover from.
func (e *Engine) unseal(ctx context.Context, slot string) (sealedCred, error) {
	c, ok, err := e.sealed(ctx, slot)
	if err != nil {
		return sealedCred{}, err
	}
	if !ok {
		return sealedCred{}, errs.New("run", errs.NotFound, slot, "the new credential is no longer sealed in the store (already delivered and wiped); plan again to issue a fresh one")
	}
	return c, nil
}

// LeaseID is a lease's stable id: one per incident, system and login.
func LeaseID(incident, system, login string) string {
	return strings.TrimPrefix(incident, "INC-") + ":" + system + "/" + login
}

func (e *Engine) issue(ctx context.Context, st *plan.Step, began time.Time, attempts int) (map[string]any, error) {
	p, err := e.provider(ctx, st.System)
	if err != nil {
		return nil, err
	}
	if g, ok := p.(provider.Generator); ok {
		return e.generate(ctx, st, g, began, attempts)
	}
	rot, err := e.rotator(ctx, st)
	if err != nil {
		return nil, err
	}
	sec, err := e.sealedSecret(ctx, loginSlot(st.System, st.Login))
	if err != nil {
		return nil, err
	}
	now := e.d.Now()
	var exp time.Time
	if st.TTL > 0 {
		exp = now.Add(time.Duration(st.TTL)).Truncate(time.Second)
	}
	cred, err := rot.Issue(ctx, provider.IssueRequest{
		From: e.ref(st, st.Identity), Name: st.Login, Secret: sec, ExpiresAt: exp, Drop: st.Drop,
	})
	if err != nil {
		return nil, err
	}
	l := store.Lease{ID: LeaseID(e.inc.ID, st.System, st.Login), IncidentID: e.inc.ID, System: st.System, Login: st.Login,
		Consumer: st.Consumer, Issued: now, Enforced: cred.Enforced, State: store.LeaseActive}
	if !exp.IsZero() {
		l.Expires = &exp
	}
	if err := e.d.Store.PutLease(ctx, l); err != nil {
		return nil, err
	}
	detail := "issued " + st.System + "/" + st.Login
	if cred.Via != "" {
		detail += " (member of " + cred.Via + ")"
	}
	if !exp.IsZero() {
		detail += ", expires " + exp.UTC().Format(time.RFC3339)
		if !cred.Enforced {
			detail += " (not enforced by the system: `rekey leases` tracks it)"
		}
	}
	return map[string]any{"login": st.Login, "via": cred.Via, "expires": exp, "enforced": cred.Enforced, "detail": detail}, nil
}

func (e *Engine) consumer(st *plan.Step) (*inventory.Consumer, error) {
	c := e.d.Inventory.ConsumerByName(st.Consumer)
	if c == nil {
		return nil, errs.New("run", errs.NotFound, st.ID, "consumer "+st.Consumer+" is no longer in the inventory")
	}
	return c, nil
}

// userPart is the login name a client sends: a MySQL account without its
// host.
func userPart(login string) string {
	u, _, _ := strings.Cut(login, "@")
	return u
}

// previous is what a target held before rekey first wrote to it.
type previous struct {
	User   string `json:"user"`
	Secret []byte `json:"secret"`
	// Unreadable says the target never returns what it holds
	// (deliver.ErrWriteOnly): nothing was kept and a rollback cannot put
	// it back.
	Unreadable bool `json:"unreadable,omitempty"`
}

// delivery opens what a deliver step needs: its consumer, the target and
// the sealed new credential, with what the target held remembered for a
// rollback.
func (e *Engine) delivery(ctx context.Context, st *plan.Step) (*inventory.Consumer, deliver.Target, sealedCred, error) {
	c, err := e.consumer(st)
	if err != nil {
		return nil, nil, sealedCred{}, err
	}
	t, err := e.d.Target(c)
	if err != nil {
		return nil, nil, sealedCred{}, err
	}
	cred, err := e.unseal(ctx, loginSlot(st.System, st.Login))
	if err != nil {
		return nil, nil, sealedCred{}, err
	}
	if err := e.remember(ctx, c, t); err != nil {
		return nil, nil, sealedCred{}, err
	}
	return c, t, cred, nil
}

func (e *Engine) deliver(ctx context.Context, st *plan.Step) (map[string]any, error) {
	c, t, cred, err := e.delivery(ctx, st)
	if err != nil {
		return nil, err
	}
	v := deliver.Value{Secret: cred.Secret}
	switch {
	case cred.KeyID != "":
		// A generated key's id is part of what the consumer presents (an
		// AWS access key id): user_key receives it. A token's id (GitLab,
		// Vault) is not, and its consumer has no user_key.
		if c.Deliver != nil && c.Deliver.UserKey != "" {
			v.User = cred.KeyID
		}
	case st.Login != st.Identity:
		v.User = userPart(st.Login)
	}
	if err := t.Write(ctx, v); err != nil {
		return nil, err
	}
	if err := deliver.Reload(ctx, e.command(c, c.Reload)); err != nil {
		return nil, err
	}
	return map[string]any{"target": t.Describe(), "detail": "delivered to " + t.Describe()}, nil
}

// command is one of c's commands, run with the incident's Masker and
// without the variables the caller names.
func (e *Engine) command(c *inventory.Consumer, line string) deliver.Command {
	return deliver.Command{Consumer: c.Name, Line: line, Dir: e.d.Inventory.Dir, Mask: e.d.Masker, DropEnv: e.d.DropEnv}
}

// remember seals what the target holds before rekey's first write to it,
// so that a rollback can put it back. It is sealed once: a resumed
// delivery must not remember its own earlier write as the original.
func (e *Engine) remember(ctx context.Context, c *inventory.Consumer, t deliver.Target) error {
	slot := previousSlot(c.Name)
	if _, ok, err := e.d.Store.Sealed(ctx, e.inc.ID, slot); err != nil || ok {
		return err
	}
	cur, err := t.Current(ctx)
	p := previous{}
	switch {
	case errors.Is(err, deliver.ErrWriteOnly):
		p.Unreadable = true
	case err != nil:
		return err
	default:
		e.d.Masker.Add(cur.Secret)
		p = previous{User: cur.User, Secret: cur.Secret.Reveal()}
	}
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	blob, err := e.d.Sealer.Seal(secret.New(b), e.aad(slot))
	clear(b)
	if err != nil {
		return err
	}
	_, err = e.d.Store.SealOnce(ctx, e.inc.ID, slot, blob)
	return err
}

func (e *Engine) verify(ctx context.Context, st *plan.Step) (map[string]any, error) {
	c, err := e.consumer(st)
	if err != nil {
		return nil, err
	}
	if c.Deliver == nil {
		// The approval was the verification: a person confirmed it.
		return map[string]any{"detail": "confirmed by the approver"}, nil
	}
	rot, err := e.rotator(ctx, st)
	if err != nil {
		return nil, err
	}
	slot := loginSlot(st.System, st.Login)
	cred, err := e.unseal(ctx, slot)
	if err != nil {
		return nil, err
	}
	ref := e.ref(st, st.Login)
	ref.Key = cred.KeyID
	if err := rot.Verify(ctx, provider.Credential{Ref: ref, Secret: cred.Secret, KeyID: cred.KeyID}); err != nil {
		return nil, fmt.Errorf("consumer %s: the system refuses the new login %s: %w", c.Name, st.Login, err)
	}
	// Logins from here on are the consumer's, not rekey's own check.
	since := e.d.Now()
	attempts, err := deliver.Health(ctx, e.command(c, c.Health), e.d.HealthRetry)
	if err != nil {
		return nil, err
	}
	detail := fmt.Sprintf("health check passed (%d attempt(s))", attempts)
	res := map[string]any{"login": st.Login}
	switch {
	case cred.KeyID != "":
		// A system of keys lists no sessions (IAM): the key was proven by
		// signing with it above, the consumer by its health check.
		detail += "; key " + cred.KeyID + " authenticates (the system lists no sessions to show the consumer on it)"
	case st.Login != st.Identity:
		seen, proof, err := e.seen(ctx, st, c, since)
		if err != nil {
			return nil, err
		}
		detail += "; " + seen
		// Where the consumer was seen on its new login: the review uses it
		// not to blame a proven consumer for the old login's refusals.
		if len(proof.Sources) > 0 {
			res["sources"] = proof.Sources
		}
		if len(proof.Applications) > 0 {
			res["applications"] = proof.Applications
		}
	}
	res["detail"] = detail
	return res, nil
}

// seenProof is where a consumer was seen using its new login.
type seenProof struct {
	Sources, Applications []string
}

func (p *seenProof) add(source, app string) {
	if source != "" && !slices.Contains(p.Sources, source) {
		p.Sources = append(p.Sources, source)
	}
	if app != "" && !slices.Contains(p.Applications, app) {
		p.Applications = append(p.Applications, app)
	}
}

// seen waits until the system shows the new login in use: a consumer
// whose health check passes on a cached connection may still hold the
// old credential. A session of the login shows it; so does, for a
// consumer that connects only now and then, a successful login recorded
// in the system's connection log (the inventory's logs) since the check
// began, from the consumer's declared sources when it declares any.
func (e *Engine) seen(ctx context.Context, st *plan.Step, c *inventory.Consumer, since time.Time) (string, seenProof, error) {
	var proof seenProof
	p, err := e.provider(ctx, st.System)
	if err != nil {
		return "", proof, err
	}
	deadline := e.d.Now().Add(e.d.SeenTimeout)
	lastLog := time.Time{}
	for {
		id, err := p.Inspect(ctx, e.ref(st, st.Login))
		if err != nil {
			return "", proof, err
		}
		if len(id.Sessions) > 0 {
			for _, s := range id.Sessions {
				proof.add(s.Client, s.Application)
			}
			return fmt.Sprintf("%s has %d session(s) of login %s", st.System, len(id.Sessions), st.Login), proof, nil
		}
		// The logs are read again at most every second: they may be large.
		if e.d.Logins != nil && e.d.Now().Sub(lastLog) >= time.Second {
			lastLog = e.d.Now()
			evs, err := e.d.Logins(ctx, st.System, userPart(st.Login), since)
			if err != nil {
				return "", proof, err
			}
			for _, ev := range evs {
				if len(c.Sources) == 0 || c.Matches(ev.Source, ev.Application) {
					proof.add(ev.Source, ev.Application)
					return fmt.Sprintf("the connection log shows login %s from %s at %s (%s:%d)",
						st.Login, ev.Source, ev.Time.UTC().Format(time.RFC3339), ev.File, ev.Line), proof, nil
				}
			}
		}
		if e.d.Now().After(deadline) {
			return "", proof, fmt.Errorf("consumer %s: its health check passes but %s shows no session of login %s, nor its logs a login, after %s: is it still using the old credential?",
				st.Consumer, st.System, st.Login, e.d.SeenTimeout)
		}
		select {
		case <-ctx.Done():
			return "", proof, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// forgetRunKey destroys the run's key (Sealer.Destroy) once nothing is
// sealed for the incident, so that no copy of a blob (a backup of the
// store, a row the database has not reclaimed) opens after. It runs only
// where no step is in flight (the end of a run or a rollback): a step
// sealing a new secret at that moment would otherwise lose it.
func (e *Engine) forgetRunKey(ctx context.Context) error {
	left, err := e.d.Store.SealedNames(ctx, e.inc.ID)
	if err != nil || len(left) > 0 {
		return err
	}
	return e.d.Sealer.Destroy()
}

// sweep wipes each login's sealed secret once every consumer that uses
// it is verified: nothing needs it after that, and a copy at rest is only
// a liability. It runs after a step is recorded done, never inside a
// side effect, so a crash between a verify and its record cannot leave
// the re-run verify without its secret; the next run sweeps what a crash
// left.
func (e *Engine) sweep(ctx context.Context, states map[string]store.Step) error {
	pending := map[string]bool{}
	issued := map[string]bool{}
	for _, st := range e.p.Steps {
		slot := loginSlot(st.System, st.Login)
		switch st.Kind {
		case plan.Issue, plan.Supply:
			issued[slot] = true
		case plan.Verify, plan.Deliver:
			if states[st.ID].State != Done {
				pending[slot] = true
			}
		}
	}
	for slot := range issued {
		if !pending[slot] {
			if err := e.d.Store.Wipe(ctx, e.inc.ID, slot); err != nil {
				return err
			}
		}
	}
	// An original sealed after its identity was revoked (an emergency
	// plan revokes before it delivers) can never be restored: it is the
	// leaked secret, kept for nothing.
	for _, st := range e.p.Steps {
		if st.Kind != plan.Revoke || states[st.ID].State != Done {
			continue
		}
		for _, c := range e.consumersOf(&st) {
			if err := e.d.Store.Wipe(ctx, e.inc.ID, previousSlot(c.Name)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *Engine) revoke(ctx context.Context, st *plan.Step) (map[string]any, error) {
	rot, err := e.rotator(ctx, st)
	if err != nil {
		return nil, err
	}
	ref := e.leakedRef(st)
	if ref.Key == "" {
		// Without the leaked key's id a revoke takes every key of the
		// user: the one this run added beside it too.
		if is := e.plannedIssue(st.System, st.Identity); is != nil && is.Generated {
			return nil, errs.New("run", errs.Invalid, st.ID, "the step names no key of "+st.Identity+", so it would revoke the new key "+is.ID+" made too; plan again with the leaked key's id")
		}
	}
	what := "no longer accepts the leaked secret"
	if st.Suspend {
		d, ok := rot.(provider.Deactivator)
		if !ok {
			return nil, errs.New("run", errs.Unsupported, st.ID, "system "+st.System+" cannot deactivate a credential with this rekey")
		}
		if err := d.Deactivate(ctx, ref); err != nil {
			return nil, err
		}
		what = "has the leaked key " + st.Key + " inactive (kept until every consumer is verified)"
	} else if err := rot.Revoke(ctx, ref); err != nil {
		sr, ok := rot.(provider.SecretRevoker)
		if !errors.Is(err, provider.ErrUnsupported) || !ok {
			return nil, err
		}
		if e.d.Leaked.IsZero() {
			return nil, fmt.Errorf("%w: give rekey the leaked secret (rekey respond --secret-file F) so that the system revokes it by its value", err)
		}
		if err := sr.RevokeSecret(ctx, e.d.Leaked); err != nil {
			return nil, err
		}
		what = "was asked to revoke the leaked secret by its value (the system tells its owner)"
	} else if st.Key != "" {
		what = "no longer has the leaked key " + st.Key
	}
	// No way back now: the originals kept for rollback go.
	for _, c := range e.consumersOf(st) {
		if err := e.d.Store.Wipe(ctx, e.inc.ID, previousSlot(c.Name)); err != nil {
			return nil, err
		}
	}
	return map[string]any{"detail": st.System + "/" + st.Identity + " " + what}, nil
}

func (e *Engine) consumersOf(st *plan.Step) []*inventory.Consumer {
	id := e.d.Inventory.IdentityByName(st.System + "/" + st.Identity)
	return e.d.Inventory.ConsumersOf(id)
}

// terminate ends the identity's sessions, sparing those from keep's
// sources (empty keep ends all).
func (e *Engine) terminate(ctx context.Context, st *plan.Step, keep []string) (int, error) {
	p, err := e.provider(ctx, st.System)
	if err != nil {
		return 0, err
	}
	t, ok := p.(provider.SessionTerminator)
	if !ok {
		return 0, errs.New("run", errs.Unsupported, st.ID, "system "+st.System+" cannot end sessions with this rekey")
	}
	var keepFn func(provider.Session) bool
	if len(keep) > 0 {
		cs := e.consumersOf(st)
		keepFn = func(s provider.Session) bool {
			for _, c := range cs {
				if c.Matches(s.Client, s.Application) {
					return true
				}
			}
			return false
		}
	}
	return t.TerminateSessions(ctx, e.ref(st, st.Identity), keepFn)
}

func (e *Engine) isolate(ctx context.Context, st *plan.Step) (map[string]any, error) {
	p, err := e.provider(ctx, st.System)
	if err != nil {
		return nil, err
	}
	iso, ok := p.(provider.Isolator)
	if !ok {
		return nil, errs.New("run", errs.Unsupported, st.ID, "system "+st.System+" cannot drop privileges with this rekey")
	}
	dropped, err := iso.DropPrivileges(ctx, e.ref(st, st.Identity), st.Drop)
	if err != nil {
		return nil, err
	}
	n, err := e.terminate(ctx, st, []string{"declared"})
	if err != nil {
		return nil, err
	}
	return map[string]any{"dropped": dropped, "terminated": n,
		"detail": fmt.Sprintf("dropped %s; ended %d session(s) from undeclared sources", strings.Join(dropped, ", "), n)}, nil
}

func (e *Engine) notify(st *plan.Step) (map[string]any, error) {
	c, err := e.consumer(st)
	if err != nil {
		return nil, err
	}
	owner := c.Name
	if id := e.d.Inventory.IdentityOf(c); id != nil && id.Owner.Contact != "" {
		owner += " (" + id.Owner.Contact + ")"
	}
	what := "its password is sealed"
	if is := e.issueOf(st); is != nil && is.Generated {
		what = "its new access key (id and secret) is sealed"
	}
	msg := fmt.Sprintf("tell %s to switch to login %s; %s in the store: hand it over through the partner's secure channel", owner, st.Login, what)
	e.say("%s", msg)
	return map[string]any{"detail": msg}, nil
}

// restore writes back what a consumer's target held before the first
// delivery, and reloads the consumer.
func (e *Engine) restore(ctx context.Context, st *plan.Step) error {
	c, err := e.consumer(st)
	if err != nil {
		return err
	}
	prev, ok, err := e.previous(ctx, c.Name)
	if err != nil || !ok {
		return err // never written: nothing to restore
	}
	t, err := e.d.Target(c)
	if err != nil {
		return err
	}
	if prev.Unreadable {
		// Leaving the new value is no worse than any other: its login is
		// removed next, and the previous value was never rekey's to read.
		e.say("consumer %s: %s never returns what it holds, so its previous value could not be kept: write it back by hand", c.Name, t.Describe())
		return nil
	}
	sec := secret.New(prev.Secret)
	clear(prev.Secret)
	v := deliver.Value{User: prev.User, Secret: sec}
	if r, ok := t.(deliver.Restorer); ok {
		err = r.Restore(ctx, v)
	} else {
		err = t.Write(ctx, v)
	}
	if err != nil {
		return err
	}
	return deliver.Reload(ctx, e.command(c, c.Reload))
}

func (e *Engine) previous(ctx context.Context, consumer string) (previous, bool, error) {
	slot := previousSlot(consumer)
	blob, ok, err := e.d.Store.Sealed(ctx, e.inc.ID, slot)
	if err != nil || !ok {
		return previous{}, false, err
	}
	s, err := e.d.Sealer.Open(blob, e.aad(slot))
	if err != nil {
		return previous{}, false, err
	}
	var p previous
	err = json.Unmarshal(s.Reveal(), &p)
	s.Wipe()
	e.d.Masker.Add(secret.New(p.Secret))
	return p, err == nil, err
}

// unissue removes a login the run created. A password changed in place
// gets the consumers' original back (the only copy rekey has of it is
// the one it sealed before the first delivery).
func (e *Engine) unissue(ctx context.Context, st *plan.Step) error {
	if typ := e.keySystem(st); typ != "" {
		return e.unissuePrivateKey(ctx, st, typ)
	}
	rot, err := e.rotator(ctx, st)
	if err != nil {
		return err
	}
	if st.Generated && st.Login == st.Identity {
		return e.unissueKey(ctx, st, rot)
	}
	if st.Login == st.Identity {
		for _, c := range e.consumersOf(st) {
			prev, ok, err := e.previous(ctx, c.Name)
			if err != nil {
				return err
			}
			if ok && !prev.Unreadable {
				_, err := rot.Issue(ctx, provider.IssueRequest{From: e.ref(st, st.Identity), Name: st.Identity, Secret: secret.New(prev.Secret)})
				return err
			}
		}
		return errs.New("rollback", errs.NotFound, st.ID, "the password of "+st.Identity+" was changed in place and rekey holds no copy of the original; set it again by hand")
	}
	if err := rot.Drop(ctx, e.ref(st, st.Login)); err != nil {
		return err
	}
	l := LeaseID(e.inc.ID, st.System, st.Login)
	ls, err := e.d.Store.Leases(ctx, store.LeaseFilter{ID: l})
	if err != nil || len(ls) == 0 {
		return err
	}
	ls[0].State = store.LeaseDropped
	return e.d.Store.PutLease(ctx, ls[0])
}

// Credential returns the sealed new secret of login (for a consumer
// rekey cannot deliver to). A reveal is recorded in the audit log.
func (e *Engine) Credential(ctx context.Context, login string, reveal bool) (secret.Secret, error) {
	_, s, err := e.NewCredential(ctx, login, reveal)
	return s, err
}

// NewCredential is Credential with the public key id of a credential the
// system generated ("" for a password): an AWS access key is handed over
// as its id and its secret together.
func (e *Engine) NewCredential(ctx context.Context, login string, reveal bool) (keyID string, s secret.Secret, err error) {
	for _, st := range e.p.Steps {
		// SYSTEM/LOGIN names one when two systems issue the same name (a
		// key's replacement in its x509 and ssh systems).
		if st.Kind != plan.Issue || st.Login != login && st.System+"/"+st.Login != login {
			continue
		}
		c, err := e.unseal(ctx, loginSlot(st.System, st.Login))
		if err != nil {
			return "", secret.Secret{}, err
		}
		if reveal {
			if err := e.audit(ctx, "credential.revealed", map[string]string{"system": st.System, "login": login, "key_id": c.KeyID}); err != nil {
				return "", secret.Secret{}, err
			}
		}
		return c.KeyID, c.Secret, nil
	}
	return "", secret.Secret{}, errs.New("credential", errs.NotFound, e.inc.ID, "the plan issues no login "+login)
}

// revokeRelated disables a login the leaked credential created or
// changed, and ends its sessions.
func (e *Engine) revokeRelated(ctx context.Context, st *plan.Step) (map[string]any, error) {
	if st.Remove != "" {
		return e.removeRelated(ctx, st)
	}
	rot, err := e.rotator(ctx, st)
	if err != nil {
		return nil, err
	}
	if err := rot.Revoke(ctx, e.leakedRef(st)); err != nil {
		return nil, err
	}
	n, err := e.terminate(ctx, st, nil)
	if err != nil {
		return nil, err
	}
	return map[string]any{"terminated": n, "detail": fmt.Sprintf("%s/%s disabled, %d session(s) ended", st.System, st.Identity, n)}, nil
}

// userRemover and loginProfileRemover are what a system of keys offers
// for a user the leaked key created and a console password it gave
// (awsiam.Provider).
type userRemover interface {
	RemoveUser(ctx context.Context, ref provider.IdentityRef) error
}

type loginProfileRemover interface {
	RemoveLoginProfile(ctx context.Context, ref provider.IdentityRef) error
}

// prefixRevoker ends every lease under a path (vault.Provider).
type prefixRevoker interface {
	RevokePrefix(ctx context.Context, prefix string) error
}

// removeRelated removes a whole user, or a console password and the
// user's sessions issued until now (a console session among them may
// have begun with it), or every lease under a prefix. A removed user needs no session step: its
// sessions act as a user that no longer exists.
func (e *Engine) removeRelated(ctx context.Context, st *plan.Step) (map[string]any, error) {
	p, err := e.provider(ctx, st.System)
	if err != nil {
		return nil, err
	}
	ref := provider.IdentityRef{System: st.System, Name: st.Identity}
	if r, ok := p.(userRemover); ok && st.Remove == plan.RemoveUser {
		if err := r.RemoveUser(ctx, ref); err != nil {
			return nil, err
		}
		return map[string]any{"detail": fmt.Sprintf("user %s/%s deleted with its keys, password and policies", st.System, st.Identity)}, nil
	}
	if r, ok := p.(prefixRevoker); ok && st.Remove == plan.RemoveLeasePrefix && st.Prefix != "" {
		if err := r.RevokePrefix(ctx, st.Prefix); err != nil {
			return nil, err
		}
		return map[string]any{"prefix": st.Prefix, "detail": "every lease under " + st.Prefix + " on " + st.System + " ended"}, nil
	}
	if r, ok := p.(loginProfileRemover); ok && st.Remove == plan.RemoveLoginProfile {
		if err := r.RemoveLoginProfile(ctx, ref); err != nil {
			return nil, err
		}
		n, err := e.terminate(ctx, st, nil)
		if err != nil {
			return nil, err
		}
		return map[string]any{"terminated": n, "detail": fmt.Sprintf("console password of %s/%s deleted, its sessions issued until now ended", st.System, st.Identity)}, nil
	}
	return nil, errs.New("run", errs.Unsupported, st.ID, "system "+st.System+" cannot remove a related "+st.Remove+" with this rekey")
}

// terminateRole ends the sessions of a role the leaked key assumed.
func (e *Engine) terminateRole(ctx context.Context, st *plan.Step) (map[string]any, error) {
	p, err := e.provider(ctx, st.System)
	if err != nil {
		return nil, err
	}
	t, ok := p.(provider.RoleSessionTerminator)
	if !ok {
		return nil, errs.New("run", errs.Unsupported, st.ID, "system "+st.System+" cannot end a role's sessions with this rekey")
	}
	if err := t.TerminateRoleSessions(ctx, provider.IdentityRef{System: st.System, Name: st.Role}); err != nil {
		return nil, err
	}
	return map[string]any{"role": st.Role, "detail": "role " + st.Role + " refuses every session issued until now"}, nil
}

// unissueKey removes the key an in-place issue generated beside the leaked
// one: that key alone, by its id (the step's result, or the sealed
// credential), never the user and its other keys.
func (e *Engine) unissueKey(ctx context.Context, st *plan.Step, rot provider.Rotator) error {
	states, err := e.states(ctx)
	if err != nil {
		return err
	}
	var res struct {
		KeyID string `json:"key_id"`
	}
	_ = json.Unmarshal(states[st.ID].Result, &res)
	if res.KeyID == "" {
		c, ok, err := e.sealed(ctx, loginSlot(st.System, st.Login))
		if err != nil {
			return err
		}
		if ok {
			res.KeyID = c.KeyID
		}
	}
	if res.KeyID == "" {
		// Generated but never sealed: the next issue's Generate removes it,
		// and nothing else may guess which key of the user it was.
		return nil
	}
	return rot.Drop(ctx, provider.IdentityRef{System: st.System, Name: st.Login, Key: res.KeyID})
}

// issueOf is the step that issues st's login, nil when the plan has none.
func (e *Engine) issueOf(st *plan.Step) *plan.Step { return e.plannedIssue(st.System, st.Login) }

// plannedIssue is the step that issues login on system, nil when the plan
// has none.
func (e *Engine) plannedIssue(system, login string) *plan.Step {
	for i := range e.p.Steps {
		if is := &e.p.Steps[i]; is.Kind == plan.Issue && is.System == system && is.Login == login {
			return is
		}
	}
	return nil
}
