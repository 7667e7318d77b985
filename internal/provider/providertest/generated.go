package providertest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
)

// GeneratedHarness backs the suite for systems that generate secrets
// themselves and name them by a public key id (AWS access keys). Every
// method works out of band: the system's own fixtures API or clients
// signed with the key named, never the provider.
type GeneratedHarness interface {
	System() string
	Factory() provider.Factory
	Admin(t *testing.T) provider.Config
	Unreachable(t *testing.T) BadAdmin
	WrongAdmin(t *testing.T) BadAdmin
	// LimitedAdmin is an administrator that may do everything but revoke
	// a key, and the permission the error must name.
	LimitedAdmin(t *testing.T) (cfg BadAdmin, permission string)
	// CreateIdentity creates a principal holding one usable credential and
	// returns it. With risky it also gets a privilege that lets it create
	// credentials; without, nothing that does. It is removed when the test
	// ends.
	CreateIdentity(t *testing.T, name string, risky bool) (keyID, secret string)
	// CanUse authenticates as keyID/secret on a fresh client and runs an
	// operation CreateIdentity granted name; nil when both succeed.
	CanUse(t *testing.T, name, keyID, secret string) error
	// Keys lists the key ids name holds, whatever their status.
	Keys(t *testing.T, name string) []string
	Exists(t *testing.T, name string) bool
	// Risky reports whether name holds directly the privilege
	// CreateIdentity(…, risky=true) gives.
	Risky(t *testing.T, name string) bool
	// Signed counts the requests the system received authenticated (or
	// refused) as keyID.
	Signed(t *testing.T, keyID string) int
}

// SessionOpener is implemented by generated-secret harnesses whose
// system derives sessions from a key (AWS GetSessionToken).
type SessionOpener interface {
	// OpenSession derives temporary credentials from the key and returns a
	// function that uses them.
	OpenSession(t *testing.T, name, keyID, secret string) (use func() error)
}

// SecretInput is implemented by generated-secret harnesses whose secrets
// are handed over in another form than KEY_ID:SECRET (a Vault token is
// handed over alone).
type SecretInput interface {
	SecretInput(keyID, secret string) string
}

// GeneratedUnsupported is implemented by generated-secret harnesses whose
// system lacks some of the features below; the suite fails when a listed
// feature works, as when one not listed does not.
type GeneratedUnsupported interface {
	Unsupported() []string
}

// Features of generated-secret systems, for GeneratedUnsupported, beside
// FeatureIsolate (a live principal's privileges can be removed).
const (
	// FeatureKeyLimit: a principal holds a bounded number of keys, and
	// Generate at the bound is refused (IAM's two access keys).
	FeatureKeyLimit = "key-limit"
	// FeatureDeactivate: a key can be suspended and kept (Deactivator).
	FeatureDeactivate = "deactivate"
	// FeatureSessions: sessions derived from a key can be ended while the
	// key keeps working (SessionTerminator, with a SessionOpener harness).
	FeatureSessions = "sessions"
	// FeatureUseLeaked: proving a secret takes a request made with it
	// (IdentifyRequest.UseLeaked). A system without it proves the secret
	// from the administrator's side: IdentifyKey with the secret is a
	// proven match without a request authenticated as the key.
	FeatureUseLeaked = "use-leaked"
	// FeatureKeylessPrincipal: a principal outlives its last key (an IAM
	// user); without it, a principal is its keys.
	FeatureKeylessPrincipal = "keyless-principal"
)

var generatedFeatures = []string{FeatureKeyLimit, FeatureDeactivate, FeatureIsolate, FeatureSessions, FeatureUseLeaked, FeatureKeylessPrincipal}

// RunGenerated runs the rotation suite for a provider.Generator with
// provider.KeyIdentifier and provider.Rotator, and the capabilities of
// generatedFeatures the harness does not list as unsupported
// (GeneratedUnsupported); a listed one must be missing or answer
// ErrUnsupported.
//
// What it holds a provider to:
//   - IdentifyKey finds the principal from the key id without one request
//     signed with the key; the match is Unproven until UseLeaked, which
//     proves it with exactly the secret (a wrong one is no match); without
//     use-leaked, the secret is proven from the administrator's side with
//     no request made as the key;
//   - Inspect grades a credential-creating privilege high or critical and
//     lists the key under inspection among the related;
//   - Issue with a secret rekey chose is ErrUnsupported;
//   - Generate in place adds a working key beside the old one (both work:
//     graceful), and a third is refused with ErrUnsupported, changing
//     nothing (without key-limit, a third is made and works); Revoke of
//     the old key stops it, keeps the new one, twice is nil;
//   - write-ahead: a key Generate created whose answer was lost before the
//     caller sealed it (created after Began, not in Sealed) is deleted by
//     the next Generate, which returns a working key; sealed keys are
//     never deleted;
//   - Generate to another name copies the source's privileges minus Drop
//     (a split), converges when repeated, and Drop removes the user;
//   - Deactivate stops a key and keeps it;
//   - Drop of a generated key removes the key and keeps the principal
//     (without keyless-principal, the principal goes with its last key);
//     DropPrivileges removes the risky privilege and nothing the identity
//     needs;
//   - TerminateSessions ends sessions derived from the key and leaves the
//     long-term key working;
//   - Verify refuses a wrong secret and a missing key with errs.Permission,
//     holding no secret;
//   - a bad or limited administrator is a one-line error of the right
//     kind naming the system (and the missing permission), changing
//     nothing.
func RunGenerated(t *testing.T, h GeneratedHarness) {
	var lacks []string
	if u, ok := h.(GeneratedUnsupported); ok {
		lacks = u.Unsupported()
	}
	for _, f := range lacks {
		if !slices.Contains(generatedFeatures, f) {
			t.Fatalf("Unsupported lists %q, which the suite does not know", f)
		}
	}
	has := func(f string) bool { return !slices.Contains(lacks, f) }
	p := open(t, h)
	gen := capability[provider.Generator](t, p)
	ki := capability[provider.KeyIdentifier](t, p)
	r := capability[provider.Rotator](t, p)
	ref := func(name, key string) provider.IdentityRef {
		return provider.IdentityRef{System: h.System(), Name: name, Key: key}
	}
	mustUse := func(t *testing.T, what, name, keyID, sec string) {
		t.Helper()
		if err := h.CanUse(t, name, keyID, sec); err != nil {
			t.Errorf("%s: key %s of %s cannot authenticate and work: %v", what, keyID, name, err)
		}
	}
	mustNotUse := func(t *testing.T, what, name, keyID, sec string) {
		t.Helper()
		if err := h.CanUse(t, name, keyID, sec); err == nil {
			t.Errorf("%s: key %s of %s still works", what, keyID, name)
		}
	}
	generate := func(t *testing.T, req provider.GenerateRequest) *provider.Credential {
		t.Helper()
		c, err := gen.Generate(ctxT(t), req)
		if err != nil {
			t.Fatalf("Generate(%s from %s): %v", req.Name, req.From.Name, err)
		}
		if c.KeyID == "" || c.Secret.IsZero() || c.Ref.Name != req.Name || c.Ref.System != h.System() {
			t.Fatalf("Generate returned %+v (key id %q), want a key id, a secret and the ref %s/%s", c.Ref, c.KeyID, h.System(), req.Name)
		}
		return c
	}
	use := func(c *provider.Credential) string { return string(c.Secret.Reveal()) }

	t.Run("IdentifyByKeyID", func(t *testing.T) {
		t.Parallel()
		name := newName()
		keyID, sec := h.CreateIdentity(t, name, false)
		before := h.Signed(t, keyID)
		ms, err := ki.IdentifyKey(ctxT(t), provider.IdentifyRequest{KeyID: keyID, Secret: secret.FromString(sec)})
		if err != nil {
			t.Fatalf("IdentifyKey: %v", err)
		}
		if len(ms) != 1 || ms[0].Ref != ref(name, keyID) || ms[0].Unproven != has(FeatureUseLeaked) || ms[0].Method == "" {
			t.Errorf("IdentifyKey = %+v, want one match %s/%s key %s with a method, unproven=%v", ms, h.System(), name, keyID, has(FeatureUseLeaked))
		}
		if after := h.Signed(t, keyID); after != before {
			t.Errorf("IdentifyKey without UseLeaked made %d requests signed with the leaked key", after-before)
		}
		given := keyID + ":" + sec
		if in, ok := h.(SecretInput); ok {
			given = in.SecretInput(keyID, sec)
		}
		ms, err = p.Identify(ctxT(t), secret.FromString(given))
		if err != nil || len(ms) != 1 || ms[0].Ref.Name != name {
			t.Errorf("Identify(the secret as a person gives it) = %+v, %v; want %s", ms, err, name)
		}
		if ms, err := ki.IdentifyKey(ctxT(t), provider.IdentifyRequest{KeyID: "AKIA" + strings.ToUpper(randomHex(8)), Secret: secret.FromString(sec)}); err != nil || len(ms) != 0 {
			t.Errorf("IdentifyKey(unknown id) = %+v, %v; want no match, no error", ms, err)
		}
		ms, err = ki.IdentifyKey(ctxT(t), provider.IdentifyRequest{KeyID: keyID, Secret: secret.FromString(sec), UseLeaked: true})
		if err != nil || len(ms) != 1 || ms[0].Unproven {
			t.Errorf("IdentifyKey(UseLeaked) = %+v, %v; want one proven match", ms, err)
		}
		if used := h.Signed(t, keyID) != before; used != has(FeatureUseLeaked) {
			t.Errorf("IdentifyKey(UseLeaked) used the key: %v; want %v (features lacked: %v)", used, has(FeatureUseLeaked), lacks)
		}
		if ms, err := ki.IdentifyKey(ctxT(t), provider.IdentifyRequest{KeyID: keyID, Secret: secret.FromString(sec + "x"), UseLeaked: true}); err != nil || len(ms) != 0 {
			t.Errorf("IdentifyKey(UseLeaked, wrong secret) = %+v, %v; want no match", ms, err)
		}
		if !has(FeatureUseLeaked) {
			if ms, err := ki.IdentifyKey(ctxT(t), provider.IdentifyRequest{KeyID: keyID, Secret: secret.FromString(sec + "x")}); err != nil || len(ms) != 0 {
				t.Errorf("IdentifyKey(wrong secret) = %+v, %v; want no match", ms, err)
			}
		}
	})

	t.Run("Inspect", func(t *testing.T) {
		t.Parallel()
		risky, plain := newName(), newName()
		riskyKey, _ := h.CreateIdentity(t, risky, true)
		h.CreateIdentity(t, plain, false)
		id, err := p.Inspect(ctxT(t), ref(risky, riskyKey))
		if err != nil {
			t.Fatal(err)
		}
		if !id.Exists || !id.CanLogin {
			t.Errorf("Inspect(%s): exists=%v can_login=%v, want both", risky, id.Exists, id.CanLogin)
		}
		if !slices.ContainsFunc(id.Privileges, func(pr provider.Privilege) bool {
			return pr.CreatesCredentials && pr.Risk.Rank() <= provider.RiskHigh.Rank()
		}) {
			t.Errorf("Inspect(%s) privileges %+v, want one that creates credentials, high or critical", risky, id.Privileges)
		}
		if FindRelated(id, "this-key", riskyKey) == nil {
			t.Errorf("Inspect(%s) related %+v, want this-key %s", risky, id.Related, riskyKey)
		}
		for _, pr := range inspect(t, p, h, plain).Privileges {
			checkRisk(t, pr)
			if pr.CreatesCredentials || pr.Risk == provider.RiskCritical {
				t.Errorf("Inspect(%s), given nothing risky, reports %+v", plain, pr)
			}
		}
		if id := inspect(t, p, h, newName()); id.Exists {
			t.Errorf("Inspect(unknown) = %+v, want Exists false", id)
		}
	})

	t.Run("IssueChosenSecret", func(t *testing.T) {
		t.Parallel()
		_, err := r.Issue(ctxT(t), provider.IssueRequest{From: ref(newName(), ""), Name: newName(), Secret: secret.FromString(newPassword())})
		if !errors.Is(err, provider.ErrUnsupported) {
			t.Errorf("Issue with a chosen secret: %v, want provider.ErrUnsupported", err)
		}
	})

	t.Run("GracefulInPlace", func(t *testing.T) {
		t.Parallel()
		name := newName()
		oldID, oldSec := h.CreateIdentity(t, name, false)
		c := generate(t, provider.GenerateRequest{From: ref(name, oldID), Name: name, Began: time.Now()})
		if c.KeyID == oldID {
			t.Fatalf("Generate returned the old key")
		}
		mustUse(t, "the new key", name, c.KeyID, use(c))
		mustUse(t, "the old key beside the new one", name, oldID, oldSec)
		if err := r.Verify(ctxT(t), *c); err != nil {
			t.Errorf("Verify(new key): %v", err)
		}
		third, err := gen.Generate(ctxT(t), provider.GenerateRequest{From: ref(name, oldID), Name: name, Began: time.Now(), Sealed: []string{c.KeyID}})
		switch {
		case !has(FeatureKeyLimit):
			if err != nil {
				t.Fatalf("Generate of a third key (no key limit): %v", err)
			}
			mustUse(t, "a third key", name, third.KeyID, use(third))
			if err := r.Revoke(ctxT(t), ref(name, third.KeyID)); err != nil {
				t.Fatalf("Revoke(third key): %v", err)
			}
		case !errors.Is(err, provider.ErrUnsupported) || errs.KindOf(err) != errs.Unsupported:
			t.Errorf("Generate on a principal at its key limit: %v (kind %v), want ErrUnsupported of kind Unsupported", err, errs.KindOf(err))
		case strings.Contains(err.Error(), "\n"):
			t.Errorf("Generate at the key limit: error is not one line: %q", err)
		}
		if got := h.Keys(t, name); len(got) != 2 {
			t.Errorf("after the third Generate, %s holds keys %v, want the two it had", name, got)
		}
		if err := r.Revoke(ctxT(t), ref(name, oldID)); err != nil {
			t.Fatalf("Revoke(old key): %v", err)
		}
		mustNotUse(t, "the old key after Revoke", name, oldID, oldSec)
		mustUse(t, "the new key after the old one's Revoke", name, c.KeyID, use(c))
		checkRefused(t, "Verify(revoked key)", r.Verify(ctxT(t), provider.Credential{Ref: ref(name, oldID), KeyID: oldID, Secret: secret.FromString(oldSec)}), h.System(), oldSec)
		if err := r.Revoke(ctxT(t), ref(name, oldID)); err != nil {
			t.Errorf("Revoke twice: %v", err)
		}
		if err := r.Revoke(ctxT(t), ref(newName(), "")); err != nil {
			t.Errorf("Revoke(missing principal): %v", err)
		}
		// Rolling back an in-place rotation drops the key rekey made, not
		// the principal.
		if err := r.Drop(ctxT(t), ref(name, c.KeyID)); err != nil {
			t.Fatalf("Drop(the generated key): %v", err)
		}
		if h.Exists(t, name) != has(FeatureKeylessPrincipal) || len(h.Keys(t, name)) != 0 {
			t.Errorf("after dropping its last key, %s exists=%v with keys %v; want exists=%v, keyless", name, h.Exists(t, name), h.Keys(t, name), has(FeatureKeylessPrincipal))
		}
		mustNotUse(t, "a dropped key", name, c.KeyID, use(c))
	})

	t.Run("Deactivate", func(t *testing.T) {
		t.Parallel()
		if !has(FeatureDeactivate) {
			wantUnsupported(t, p, func(d provider.Deactivator) error { return d.Deactivate(ctxT(t), ref(newName(), "")) })
			return
		}
		d := capability[provider.Deactivator](t, p)
		name := newName()
		keyID, sec := h.CreateIdentity(t, name, false)
		if err := d.Deactivate(ctxT(t), ref(name, keyID)); err != nil {
			t.Fatalf("Deactivate: %v", err)
		}
		mustNotUse(t, "a deactivated key", name, keyID, sec)
		if !slices.Contains(h.Keys(t, name), keyID) {
			t.Errorf("Deactivate removed the key %s; it must keep it for a person to reactivate", keyID)
		}
		if err := d.Deactivate(ctxT(t), ref(name, keyID)); err != nil {
			t.Errorf("Deactivate twice: %v", err)
		}
		if err := d.Deactivate(ctxT(t), ref(newName(), "")); err != nil {
			t.Errorf("Deactivate(missing principal): %v", err)
		}
	})

	t.Run("Isolate", func(t *testing.T) {
		t.Parallel()
		if !has(FeatureIsolate) {
			wantUnsupported(t, p, func(iso provider.Isolator) error {
				_, err := iso.DropPrivileges(ctxT(t), ref(newName(), ""), []string{"x"})
				return err
			})
			return
		}
		iso := capability[provider.Isolator](t, p)
		name := newName()
		keyID, sec := h.CreateIdentity(t, name, true)
		var risky []string
		for _, pr := range inspect(t, p, h, name).Privileges {
			if pr.CreatesCredentials && pr.Via == "" {
				risky = append(risky, pr.Name)
			}
		}
		got, err := iso.DropPrivileges(ctxT(t), ref(name, keyID), risky)
		if err != nil {
			t.Fatalf("DropPrivileges(%v): %v", risky, err)
		}
		slices.Sort(got)
		slices.Sort(risky)
		if len(risky) == 0 || !slices.Equal(got, risky) {
			t.Errorf("DropPrivileges(%v) removed %v, want all of them", risky, got)
		}
		if h.Risky(t, name) {
			t.Errorf("after DropPrivileges, %s still holds the risky privilege", name)
		}
		mustUse(t, "after DropPrivileges", name, keyID, sec)
		if got, err := iso.DropPrivileges(ctxT(t), ref(name, keyID), risky); err != nil || len(got) != 0 {
			t.Errorf("DropPrivileges again = %v, %v; want nothing removed and no error", got, err)
		}
	})

	t.Run("ResumeAfterLostSecret", func(t *testing.T) {
		t.Parallel()
		name := newName()
		oldID, oldSec := h.CreateIdentity(t, name, false)
		req := provider.GenerateRequest{From: ref(name, oldID), Name: name, Began: time.Now()}
		lost := generate(t, req) // the caller crashed before sealing it
		got := generate(t, req)
		if got.KeyID == lost.KeyID {
			t.Fatalf("the second Generate returned the lost key again")
		}
		want := []string{oldID, got.KeyID}
		keys := h.Keys(t, name)
		slices.Sort(want)
		slices.Sort(keys)
		if !slices.Equal(keys, want) {
			t.Errorf("after a lost Generate and a retry, %s holds %v, want the old key and the retry's %v", name, keys, want)
		}
		mustNotUse(t, "the key whose secret was lost", name, lost.KeyID, use(lost))
		mustUse(t, "the retry's key", name, got.KeyID, use(got))
		mustUse(t, "the old key", name, oldID, oldSec)
	})

	t.Run("Split", func(t *testing.T) {
		t.Parallel()
		from := newName()
		fromID, fromSec := h.CreateIdentity(t, from, true)
		if !h.Risky(t, from) {
			t.Fatalf("harness: Risky(%s) is false for an identity created risky", from)
		}
		var drop []string
		for _, pr := range inspect(t, p, h, from).Privileges {
			if pr.CreatesCredentials && pr.Via == "" {
				drop = append(drop, pr.Name)
			}
		}
		if len(drop) == 0 {
			t.Fatalf("Inspect(%s) reports no direct privilege that creates credentials", from)
		}
		name := newName()
		t.Cleanup(func() {
			if err := r.Drop(context.Background(), ref(name, "")); err != nil {
				t.Errorf("cleanup: Drop(%s): %v", name, err)
			}
		})
		req := provider.GenerateRequest{From: ref(from, fromID), Name: name, Drop: drop, Began: time.Now()}
		c1 := generate(t, req)
		mustUse(t, "the split user's key", name, c1.KeyID, use(c1))
		if h.Risky(t, name) {
			t.Errorf("split user %s holds the risky privilege %v that Drop named", name, drop)
		}
		for _, pr := range inspect(t, p, h, name).Privileges {
			if slices.Contains(drop, pr.Name) {
				t.Errorf("Inspect(split user %s) lists %+v, which Drop named", name, pr)
			}
		}
		req.Sealed = []string{c1.KeyID}
		c2 := generate(t, req)
		mustUse(t, "a sealed key after another Generate", name, c1.KeyID, use(c1))
		mustUse(t, "the second key", name, c2.KeyID, use(c2))
		mustUse(t, "the source", from, fromID, fromSec)
		if err := r.Drop(ctxT(t), ref(name, "")); err != nil {
			t.Fatalf("Drop(%s): %v", name, err)
		}
		if h.Exists(t, name) {
			t.Errorf("after Drop, %s exists", name)
		}
		mustNotUse(t, "after Drop", name, c2.KeyID, use(c2))
		if err := r.Drop(ctxT(t), ref(name, "")); err != nil {
			t.Errorf("Drop twice: %v", err)
		}
	})

	t.Run("TerminateSessions", func(t *testing.T) {
		t.Parallel()
		if !has(FeatureSessions) {
			wantUnsupported(t, p, func(st provider.SessionTerminator) error {
				_, err := st.TerminateSessions(ctxT(t), ref(newName(), ""), nil)
				return err
			})
			return
		}
		st := capability[provider.SessionTerminator](t, p)
		opener, ok := h.(SessionOpener)
		if !ok {
			t.Fatalf("the harness lists sessions as supported but does not implement SessionOpener")
		}
		name := newName()
		keyID, sec := h.CreateIdentity(t, name, false)
		session := opener.OpenSession(t, name, keyID, sec)
		if err := session(); err != nil {
			t.Fatalf("a fresh session does not work: %v", err)
		}
		if _, err := st.TerminateSessions(ctxT(t), ref(name, keyID), nil); err != nil {
			t.Fatalf("TerminateSessions: %v", err)
		}
		if err := session(); err == nil {
			t.Errorf("the session still works after TerminateSessions")
		}
		mustUse(t, "the long-term key after TerminateSessions", name, keyID, sec)
		if n, err := st.TerminateSessions(ctxT(t), ref(newName(), ""), nil); err != nil || n != 0 {
			t.Errorf("TerminateSessions(missing) = %d, %v; want 0, nil", n, err)
		}
	})

	t.Run("VerifyRefuses", func(t *testing.T) {
		t.Parallel()
		name := newName()
		keyID, sec := h.CreateIdentity(t, name, false)
		if err := r.Verify(ctxT(t), provider.Credential{Ref: ref(name, keyID), KeyID: keyID, Secret: secret.FromString(sec)}); err != nil {
			t.Errorf("Verify(its key): %v", err)
		}
		// Change the last character to another one: appending a fixed
		// "x" was the same secret whenever the key already ended in x.
		wrong := sec[:len(sec)-1] + "x"
		if strings.HasSuffix(sec, "x") {
			wrong = sec[:len(sec)-1] + "y"
		}
		checkRefused(t, "Verify(wrong secret)", r.Verify(ctxT(t), provider.Credential{Ref: ref(name, keyID), KeyID: keyID, Secret: secret.FromString(wrong)}), h.System(), sec, wrong)
		missing := "AKIA" + strings.ToUpper(randomHex(8))
		checkRefused(t, "Verify(missing key)", r.Verify(ctxT(t), provider.Credential{Ref: ref(name, missing), KeyID: missing, Secret: secret.FromString(sec)}), h.System(), sec)
	})

	runBadAdmins(t, h)

	t.Run("LimitedAdmin", func(t *testing.T) {
		t.Parallel()
		bad, permission := h.LimitedAdmin(t)
		lp, err := h.Factory()(context.Background(), bad.Config)
		if err != nil {
			t.Fatalf("open as a limited administrator: %v", err)
		}
		defer lp.Close()
		name := newName()
		keyID, sec := h.CreateIdentity(t, name, false)
		err = lp.(provider.Rotator).Revoke(ctxT(t), ref(name, keyID))
		checkErr(t, "Revoke as a limited administrator", err, errs.Permission, bad)
		if err != nil && !strings.Contains(err.Error(), permission) {
			t.Errorf("error %q does not name the permission needed (%s)", err, permission)
		}
		mustUse(t, "a key a refused Revoke left", name, keyID, sec)
	})
}

// wantUnsupported passes when p does not implement the capability C, or
// when call returns provider.ErrUnsupported.
func wantUnsupported[C any](t *testing.T, p provider.Provider, call func(C) error) {
	t.Helper()
	c, ok := p.(C)
	if !ok {
		return
	}
	if err := call(c); !errors.Is(err, provider.ErrUnsupported) {
		t.Errorf("%T implements a capability the harness lists as unsupported, and it answered %v, not ErrUnsupported", p, err)
	}
}
