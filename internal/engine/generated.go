package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
)

// A credential the system generated (an AWS access key) is sealed with its
// public key id: generatedForm, the id, a newline, the secret. A password
// rekey generated is sealed as it is; secret.Generate never makes one that
// starts with this form. generatedFormExpiry also carries the expiry the
// system set (a Vault or GitLab token): the id, a newline, the expiry
// (RFC 3339, "" for none), a space and "enforced" or "asked", a newline,
// the secret — so that a step resumed between the seal and its lease still
// knows it. v1 blobs (sealed by an earlier build mid-run) still open.
const (
	generatedForm       = "rekey-generated-key/v1\n"
	generatedFormExpiry = "rekey-generated-key/v2\n"
)

// sealedCred is a new credential as sealed: the secret, and the key id of
// one the system generated ("" for a password) with the expiry the system
// set on it (nil for none; Enforced whether the system enforces it).
type sealedCred struct {
	Secret   secret.Secret
	KeyID    string
	Expires  *time.Time
	Enforced bool
}

// openCred unseals a login slot's blob and registers its secret with the
// Masker.
func (e *Engine) openCred(blob []byte, slot string) (sealedCred, error) {
	s, err := e.d.Sealer.Open(blob, e.aad(slot))
	if err != nil {
		return sealedCred{}, err
	}
	b := s.Reveal()
	var c sealedCred
	switch {
	case bytes.HasPrefix(b, []byte(generatedForm)):
		id, sec, _ := bytes.Cut(b[len(generatedForm):], []byte("\n"))
		c = sealedCred{Secret: secret.New(bytes.Clone(sec)), KeyID: string(id)}
	case bytes.HasPrefix(b, []byte(generatedFormExpiry)):
		id, rest, _ := bytes.Cut(b[len(generatedFormExpiry):], []byte("\n"))
		exp, sec, _ := bytes.Cut(rest, []byte("\n"))
		c = sealedCred{Secret: secret.New(bytes.Clone(sec)), KeyID: string(id)}
		at, how, _ := strings.Cut(string(exp), " ")
		if at != "" {
			t, err := time.Parse(time.RFC3339Nano, at)
			if err != nil {
				s.Wipe()
				c.Secret.Wipe()
				return sealedCred{}, errs.E("run", errs.Invalid, slot, fmt.Errorf("the sealed credential's expiry: %w", err))
			}
			c.Expires, c.Enforced = &t, how == "enforced"
		}
	default:
		e.d.Masker.Add(s)
		return sealedCred{Secret: s}, nil
	}
	s.Wipe()
	e.d.Masker.Add(c.Secret)
	return c, nil
}

// sealGenerated seals a credential the system just generated, once: the
// first value sealed in the slot wins, and is what it returns.
func (e *Engine) sealGenerated(ctx context.Context, slot string, c *provider.Credential) (sealedCred, error) {
	exp := ""
	if !c.ExpiresAt.IsZero() {
		exp = c.ExpiresAt.UTC().Format(time.RFC3339Nano) + " asked"
		if c.Enforced {
			exp = c.ExpiresAt.UTC().Format(time.RFC3339Nano) + " enforced"
		}
	}
	b := append([]byte(generatedFormExpiry+c.KeyID+"\n"+exp+"\n"), c.Secret.Reveal()...)
	s := secret.New(b)
	blob, err := e.d.Sealer.Seal(s, e.aad(slot))
	s.Wipe()
	if err != nil {
		return sealedCred{}, err
	}
	stored, err := e.d.Store.SealOnce(ctx, e.inc.ID, slot, blob)
	if err != nil {
		return sealedCred{}, err
	}
	return e.openCred(stored, slot)
}

// sealedKeyIDs are the key ids of the credentials sealed for this
// incident on system: Generate never takes them for orphans.
func (e *Engine) sealedKeyIDs(ctx context.Context, system string) ([]string, error) {
	names, err := e.d.Store.SealedNames(ctx, e.inc.ID)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, n := range names {
		if !strings.HasPrefix(n, "login:"+system+"/") {
			continue
		}
		c, ok, err := e.sealed(ctx, n)
		if err != nil {
			return nil, err
		}
		if ok && c.KeyID != "" {
			ids = append(ids, c.KeyID)
		}
	}
	return ids, nil
}

// sealed returns the credential sealed in slot, ok false when there is none.
func (e *Engine) sealed(ctx context.Context, slot string) (sealedCred, bool, error) {
	blob, ok, err := e.d.Store.Sealed(ctx, e.inc.ID, slot)
	if err != nil || !ok {
		return sealedCred{}, false, err
	}
	c, err := e.openCred(blob, slot)
	return c, err == nil, err
}

// generate is the issue step of a system that generates its secrets
// (provider.Generator). The secret exists only in the system's answer, so
// it cannot be sealed before the side effect, as a password is; instead:
//
//   - a credential already sealed for the step means it was generated:
//     the system is not called again;
//   - the step records when it first began (Step.Result's began, written
//     before the first call and kept by every retry), and Generate removes
//     what the login got at or after it that is not sealed: the credential
//     of an attempt that crashed between the system's answer and the seal;
//   - the answer is sealed at once, before anything else is recorded.
func (e *Engine) generate(ctx context.Context, st *plan.Step, g provider.Generator, began time.Time, attempts int) (map[string]any, error) {
	slot := loginSlot(st.System, st.Login)
	cred, ok, err := e.sealed(ctx, slot)
	if err != nil {
		return nil, err
	}
	// gen is this attempt's answer: its expiry is not part of the sealed
	// form, so a resumed step keeps the expiry its lease already holds.
	var gen *provider.Credential
	if !ok {
		keep, err := e.sealedKeyIDs(ctx, st.System)
		if err != nil {
			return nil, err
		}
		// The keys the principal held when it was inspected are no
		// orphans either, whenever they were made.
		for _, k := range st.KeepKeys {
			if !slices.Contains(keep, k) {
				keep = append(keep, k)
			}
		}
		var c *provider.Credential
		if st.Rotate {
			c, err = e.rotateKey(ctx, st, g, attempts)
		} else {
			c, err = g.Generate(ctx, provider.GenerateRequest{
				From: provider.IdentityRef{System: st.System, Name: st.Identity, Key: st.Key}, Name: st.Login, Drop: st.Drop,
				Began: began, Sealed: keep,
			})
		}
		if err != nil {
			return nil, err
		}
		e.d.Masker.Add(c.Secret)
		gen = c
		e.failpoint(st.ID, "generated")
		if cred, err = e.sealGenerated(ctx, slot, c); err != nil {
			return nil, err
		}
		e.failpoint(st.ID, "sealed")
	}
	now := e.d.Now()
	l := store.Lease{ID: LeaseID(e.inc.ID, st.System, st.Login), IncidentID: e.inc.ID, System: st.System, Login: st.Login,
		KeyID: cred.KeyID, Consumer: st.Consumer, Issued: now, State: store.LeaseActive}
	if err := e.leaseExpiry(ctx, &l, gen, cred); err != nil {
		return nil, err
	}
	if err := e.d.Store.PutLease(ctx, l); err != nil {
		return nil, err
	}
	detail := fmt.Sprintf("generated key %s for %s/%s (it lives until it expires or is revoked)", cred.KeyID, st.System, st.Login)
	if st.Rotate {
		detail = fmt.Sprintf("rotated key %s of %s/%s into %s: the leaked one no longer works", st.Key, st.System, st.Identity, cred.KeyID)
	}
	return map[string]any{"login": st.Login, "key_id": cred.KeyID, "detail": detail}, nil
}

// leaseExpiry gives l the expiry the system set on the generated
// credential (a Vault or GitLab token; an IAM key has none), so that
// `rekey leases --expiring` lists it before it lapses. Without this
// attempt's answer (a resumed step), the lease already stored keeps its,
// and one not yet stored (the step was cut off between the seal and the
// lease) takes the expiry sealed with the credential.
func (e *Engine) leaseExpiry(ctx context.Context, l *store.Lease, gen *provider.Credential, sealed sealedCred) error {
	if gen != nil {
		if !gen.ExpiresAt.IsZero() {
			until := gen.ExpiresAt.UTC()
			l.Expires, l.Enforced = &until, gen.Enforced
		}
		return nil
	}
	ls, err := e.d.Store.Leases(ctx, store.LeaseFilter{ID: l.ID})
	if err != nil {
		return err
	}
	if len(ls) == 0 {
		l.Expires, l.Enforced = sealed.Expires, sealed.Enforced
		return nil
	}
	l.Expires, l.Enforced = ls[0].Expires, ls[0].Enforced
	return nil
}

// rotateKey replaces the leaked key st.Key in one call
// (provider.InPlaceRotator). A rotation is not idempotent: on a later
// attempt with nothing sealed, an earlier one may have rotated and
// crashed before the seal, and the system then refuses the revoked key;
// the error says so rather than guessing which key is the orphan.
func (e *Engine) rotateKey(ctx context.Context, st *plan.Step, g provider.Generator, attempts int) (*provider.Credential, error) {
	r, ok := g.(provider.InPlaceRotator)
	if !ok {
		return nil, errs.New("run", errs.Unsupported, st.ID, "system "+st.System+" cannot rotate a key in one call with this rekey: plan graceful instead")
	}
	c, err := r.Rotate(ctx, provider.IdentityRef{System: st.System, Name: st.Identity, Key: st.Key}, time.Time{})
	if err != nil && attempts > 1 {
		return nil, fmt.Errorf("%w (an earlier attempt of %s may have rotated key %s and stopped before sealing the new one: if %s shows a newer key of %s that nobody holds, revoke it, then plan graceful)",
			err, st.ID, st.Key, st.System, st.Identity)
	}
	return c, err
}

// beganAt is when an issue step first began, as its state records it.
func beganAt(s store.Step) time.Time {
	var r struct {
		Began time.Time `json:"began"`
	}
	if len(s.Result) > 0 && json.Unmarshal(s.Result, &r) == nil {
		return r.Began
	}
	return time.Time{}
}

// supplied is a supply-secret step: the secret a person created was
// sealed when they approved the step, so there is nothing to do but
// check it is there (a step approved by an older rekey without one is
// approved again with the secret).
func (e *Engine) supplied(ctx context.Context, st *plan.Step) (map[string]any, error) {
	_, ok, err := e.sealed(ctx, loginSlot(st.System, st.Login))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errs.New("run", errs.NotFound, st.ID, "no new secret was handed in: `rekey incident approve "+e.inc.ID+" "+st.ID+" --secret-file F`")
	}
	return map[string]any{"login": st.Login, "detail": "the new secret a person created is sealed (handed in with the approval)"}, nil
}
