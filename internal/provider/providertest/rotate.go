package providertest

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
)

// RotateHarness extends Harness for the rotation suite; every method works
// out of band (its own connections as the system's administrator or as the
// named login), never through the provider.
type RotateHarness interface {
	Harness
	// CanUse opens a fresh connection as name/password and runs an
	// operation the identity made by CreateIdentity is granted
	// (CreateIdentity must grant one: a SELECT on a table, a GET on a key
	// pattern); nil when login and operation both succeed.
	CanUse(t *testing.T, name, password string) error
	// Exists reports whether the login exists.
	Exists(t *testing.T, name string) bool
	// SessionCount counts name's open sessions.
	SessionCount(t *testing.T, name string) int
	// Risky reports whether name holds (directly, not through a group) the
	// risky privilege CreateIdentity(…, risky=true) gives (CREATEROLE,
	// CREATE USER, +acl).
	Risky(t *testing.T, name string) bool
}

// Feature names for RotateHarness.Unsupported, beside
// FeatureApplicationName.
const (
	// FeatureIsolate: the provider does not implement provider.Isolator.
	FeatureIsolate = "isolate"
	// FeatureDualCredential: the provider does not implement
	// provider.DualCredential.
	FeatureDualCredential = "dual-credential"
	// FeatureExpiry: the system does not enforce IssueRequest.ExpiresAt
	// itself (Credential.Enforced is false; rekey must revoke in time).
	FeatureExpiry = "expiry"
	// FeatureIdentify: the administrator may rotate but not read the
	// stored verifiers (a least-privilege administrator on PostgreSQL,
	// where only a superuser reads pg_authid): Identify must then fail
	// with errs.Permission, and the suite checks that instead.
	FeatureIdentify = "identify"
)

// WithAdmin is h with admin as the administrator the suite opens the
// provider with, and more features listed as unsupported: the rotation
// suite run by a least-privilege administrator (docs/privileges.md) rather
// than the harness's own.
func WithAdmin(h RotateHarness, admin provider.Config, more ...string) RotateHarness {
	return adminHarness{RotateHarness: h, admin: admin, more: more}
}

type adminHarness struct {
	RotateHarness
	admin provider.Config
	more  []string
}

func (a adminHarness) Admin(*testing.T) provider.Config { return a.admin }

func (a adminHarness) Unsupported() []string {
	return append(slices.Clone(a.RotateHarness.Unsupported()), a.more...)
}

// knownFeatures are the names Harness.Unsupported may list.
var knownFeatures = []string{FeatureApplicationName, FeatureIsolate, FeatureDualCredential, FeatureExpiry, FeatureIdentify}

// RunRotate runs the rotation suite. Subtests run in parallel, each on
// identities of its own; logins the suite issues are dropped through the
// provider when the subtest ends.
//
// What it holds a provider to (provider.Rotator and
// provider.SessionTerminator are required, the other capabilities are
// checked against Unsupported):
//   - Issue from a risky identity, dropping its credential-creating
//     privileges (as Inspect names them), gives a login that works, is not
//     risky, and leaves the source working; the same Issue again converges
//     (no error, one login, same secret works), as the engine's retry after
//     a crash needs; Inspect of the issued login lists none of the dropped
//     privileges, not even through a group; Issue from a missing identity is errs.NotFound and
//     creates nothing;
//   - Issue with Name equal to From.Name replaces the identity's password
//     in place: the new one works, the old one no longer does;
//   - Verify accepts the issued credential and refuses a wrong password, a
//     revoked login and a missing one with errs.Permission, without either
//     password in the error;
//   - Revoke stops the source's new logins while the issued login keeps
//     working (its privileges do not depend on the source's ability to log
//     in); it leaves open sessions to TerminateSessions, which honours keep
//     and reports how many it ended; Revoke twice, or of a missing login,
//     is nil;
//   - Drop removes an issued login; twice, or of a missing login, is nil;
//   - an expiry the system enforces shows as Inspect's ValidUntil, and
//     Renew moves it;
//   - DropPrivileges removes the risky privilege and nothing the identity
//     needs; DualCredential holds two secrets, then drops the old one.
func RunRotate(t *testing.T, h RotateHarness) {
	for _, f := range h.Unsupported() {
		if !slices.Contains(knownFeatures, f) {
			t.Fatalf("Unsupported lists %q, which the suite does not know", f)
		}
	}
	p := open(t, h)
	r := capability[provider.Rotator](t, p)
	st := capability[provider.SessionTerminator](t, p)
	unsupported := func(f string) bool { return slices.Contains(h.Unsupported(), f) }
	ref := func(name string) provider.IdentityRef { return provider.IdentityRef{System: h.System(), Name: name} }

	// issue calls Issue and drops the login when the test ends (unless it
	// is the source itself, which the harness removes).
	issue := func(t *testing.T, req provider.IssueRequest) *provider.Credential {
		t.Helper()
		if req.Name != req.From.Name {
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				if err := r.Drop(ctx, ref(req.Name)); err != nil {
					t.Errorf("cleanup: Drop(%s): %v", req.Name, err)
				}
			})
		}
		c, err := r.Issue(ctxT(t), req)
		if err != nil {
			t.Fatalf("Issue(%s from %s): %v", req.Name, req.From.Name, err)
		}
		if c == nil {
			t.Fatalf("Issue(%s from %s) returned no credential", req.Name, req.From.Name)
		}
		if c.Ref.System != h.System() {
			t.Errorf("Issue: credential system %q, want %q", c.Ref.System, h.System())
		}
		if !sameLogin(c.Ref.Name, req.Name) {
			t.Errorf("Issue: credential names %q, want %q", c.Ref.Name, req.Name)
		}
		if !c.Secret.Equal(req.Secret) {
			t.Errorf("Issue: credential does not carry the secret asked for")
		}
		return c
	}
	// riskySource creates a risky identity and returns its
	// credential-creating privileges held directly, as Inspect names them.
	riskySource := func(t *testing.T) (name, pw string, risky []string) {
		t.Helper()
		name, pw = newName(), newPassword()
		h.CreateIdentity(t, name, pw, true)
		if !h.Risky(t, name) {
			t.Fatalf("harness: Risky(%s) is false for an identity created risky", name)
		}
		id := inspect(t, p, h, name)
		for _, pr := range id.Privileges {
			if pr.CreatesCredentials && pr.Via == "" {
				risky = append(risky, pr.Name)
			}
		}
		if len(risky) == 0 {
			t.Fatalf("Inspect(%s) reports no direct privilege that creates credentials: %+v", name, id.Privileges)
		}
		return name, pw, risky
	}
	mustUse := func(t *testing.T, what, name, pw string) {
		t.Helper()
		if err := h.CanUse(t, name, pw); err != nil {
			t.Errorf("%s: %s cannot log in and work: %v", what, name, err)
		}
	}
	mustNotUse := func(t *testing.T, what, name, pw string) {
		t.Helper()
		if err := h.CanUse(t, name, pw); err == nil {
			t.Errorf("%s: %s can still log in and work", what, name)
		}
	}

	// Write-ahead holds because the engine seals the secret it hands to
	// Issue. A provider whose system generates the secret cannot be held
	// to it here: RunGenerated's ResumeAfterLostSecret case does.
	t.Run("SecretChosenByRekey", func(t *testing.T) {
		if _, ok := p.(provider.Generator); ok {
			t.Errorf("%T generates its secrets (provider.Generator): run providertest.RunGenerated on it", p)
		}
	})

	t.Run("IssueFromRisky", func(t *testing.T) {
		t.Parallel()
		from, fromPW, risky := riskySource(t)
		name, pw := newName(), newPassword()
		req := provider.IssueRequest{From: ref(from), Name: name, Secret: secret.FromString(pw), Drop: risky}
		issue(t, req)
		mustUse(t, "after Issue", name, pw)
		if h.Risky(t, name) {
			t.Errorf("issued login %s holds the risky privilege %v that Drop named", name, risky)
		}
		// The harness sees direct privileges only; Inspect also follows
		// groups, which is where the group-role pattern would leak them.
		for _, pr := range inspect(t, p, h, name).Privileges {
			if slices.Contains(risky, pr.Name) {
				t.Errorf("Inspect(issued login %s) lists %+v, which Drop named", name, pr)
			}
		}
		mustUse(t, "the source after Issue", from, fromPW)

		// The engine retries Issue after a crash with the same request.
		issue(t, req)
		if !h.Exists(t, name) {
			t.Fatalf("after a second Issue, %s does not exist", name)
		}
		mustUse(t, "after a second Issue", name, pw)
		if h.Risky(t, name) {
			t.Errorf("after a second Issue, %s holds the risky privilege", name)
		}
		if unsupported(FeatureIdentify) {
			if _, err := p.Identify(ctxT(t), secret.FromString(pw)); errs.KindOf(err) != errs.Permission {
				t.Errorf("Identify with an administrator listed as unable to identify: %v, want an errs.Permission error", err)
			}
			return
		}
		ms := identify(t, p, pw)
		if len(ms) != 1 || !sameLogin(ms[0].Ref.Name, name) {
			t.Errorf("Identify(issued secret) after two Issues = %+v, want exactly one login, %s", ms, name)
		}
	})

	t.Run("IssueFromMissing", func(t *testing.T) {
		t.Parallel()
		from, name := newName(), newName()
		_, err := r.Issue(ctxT(t), provider.IssueRequest{From: ref(from), Name: name, Secret: secret.FromString(newPassword())})
		if errs.KindOf(err) != errs.NotFound {
			t.Errorf("Issue from missing %s: error %v (kind %v), want kind NotFound", from, err, errs.KindOf(err))
		}
		if h.Exists(t, name) {
			t.Errorf("Issue from a missing identity created %s", name)
			_ = r.Drop(ctxT(t), ref(name))
		}
	})

	t.Run("IssueInPlace", func(t *testing.T) {
		t.Parallel()
		name, old := newName(), newPassword()
		h.CreateIdentity(t, name, old, false)
		pw := newPassword()
		req := provider.IssueRequest{From: ref(name), Name: name, Secret: secret.FromString(pw)}
		issue(t, req)
		mustUse(t, "after Issue in place", name, pw)
		mustNotUse(t, "the old password after Issue in place", name, old)
		issue(t, req)
		mustUse(t, "after a second Issue in place", name, pw)
	})

	t.Run("Verify", func(t *testing.T) {
		t.Parallel()
		from, _, risky := riskySource(t)
		name, pw := newName(), newPassword()
		c := issue(t, provider.IssueRequest{From: ref(from), Name: name, Secret: secret.FromString(pw), Drop: risky})
		if err := r.Verify(ctxT(t), *c); err != nil {
			t.Errorf("Verify(issued credential): %v", err)
		}
		wrong := newPassword()
		bad := *c
		bad.Secret = secret.FromString(wrong)
		checkRefused(t, "Verify(wrong password)", r.Verify(ctxT(t), bad), h.System(), pw, wrong)

		missing := provider.Credential{Ref: ref(newName()), Secret: secret.FromString(wrong)}
		checkRefused(t, "Verify(missing login)", r.Verify(ctxT(t), missing), h.System(), wrong)
	})

	t.Run("RevokeAndTerminate", func(t *testing.T) {
		t.Parallel()
		from, fromPW, risky := riskySource(t)
		name, pw := newName(), newPassword()
		issue(t, provider.IssueRequest{From: ref(from), Name: name, Secret: secret.FromString(pw), Drop: risky})
		kept := h.OpenSession(t, from, fromPW, "rekey-suite-kept")
		h.OpenSession(t, from, fromPW, "rekey-suite-ended")
		waitSessions(t, h, from, 2)

		keep := func(s provider.Session) bool { return sameConn(kept, s) }
		n, err := st.TerminateSessions(ctxT(t), ref(from), keep)
		if err != nil {
			t.Fatalf("TerminateSessions(keep one): %v", err)
		}
		if n != 1 {
			t.Errorf("TerminateSessions(keep one of two) = %d, want 1", n)
		}
		waitSessions(t, h, from, 1)

		if err := r.Revoke(ctxT(t), ref(from)); err != nil {
			t.Fatalf("Revoke(%s): %v", from, err)
		}
		mustNotUse(t, "the source after Revoke", from, fromPW)
		mustUse(t, "the issued login after the source's Revoke", name, pw)
		checkRefused(t, "Verify(revoked source)", r.Verify(ctxT(t), provider.Credential{Ref: ref(from), Secret: secret.FromString(fromPW)}), h.System(), fromPW)

		// The contract leaves open sessions to TerminateSessions; a
		// system that ends them itself on revocation is told, not failed.
		left := h.SessionCount(t, from)
		if left == 0 {
			t.Logf("the system ended %s's session itself on Revoke", from)
		}
		n, err = st.TerminateSessions(ctxT(t), ref(from), nil)
		if err != nil {
			t.Fatalf("TerminateSessions(all): %v", err)
		}
		if left > 0 && n < 1 {
			t.Errorf("TerminateSessions(all) = %d with %d sessions open, want ≥ 1", n, left)
		}
		waitSessions(t, h, from, 0)
		if n, err := st.TerminateSessions(ctxT(t), ref(from), nil); err != nil || n != 0 {
			t.Errorf("TerminateSessions with none open = %d, %v; want 0, nil", n, err)
		}
		mustUse(t, "the issued login after the source's sessions ended", name, pw)

		if err := r.Revoke(ctxT(t), ref(from)); err != nil {
			t.Errorf("Revoke twice: %v", err)
		}
		if err := r.Revoke(ctxT(t), ref(newName())); err != nil {
			t.Errorf("Revoke(missing login): %v", err)
		}
		if n, err := st.TerminateSessions(ctxT(t), ref(newName()), nil); err != nil || n != 0 {
			t.Errorf("TerminateSessions(missing login) = %d, %v; want 0, nil", n, err)
		}
	})

	t.Run("Drop", func(t *testing.T) {
		t.Parallel()
		from, fromPW, risky := riskySource(t)
		name, pw := newName(), newPassword()
		issue(t, provider.IssueRequest{From: ref(from), Name: name, Secret: secret.FromString(pw), Drop: risky})
		if !h.Exists(t, name) {
			t.Fatalf("issued login %s does not exist", name)
		}
		if err := r.Drop(ctxT(t), ref(name)); err != nil {
			t.Fatalf("Drop(%s): %v", name, err)
		}
		if h.Exists(t, name) {
			t.Errorf("after Drop, %s exists", name)
		}
		mustNotUse(t, "after Drop", name, pw)
		mustUse(t, "the source after the issued login's Drop", from, fromPW)
		if err := r.Drop(ctxT(t), ref(name)); err != nil {
			t.Errorf("Drop twice: %v", err)
		}
	})

	t.Run("Expiry", func(t *testing.T) {
		t.Parallel()
		from, _, risky := riskySource(t)
		name, pw := newName(), newPassword()
		until := time.Now().Add(48 * time.Hour).Truncate(time.Second)
		c := issue(t, provider.IssueRequest{From: ref(from), Name: name, Secret: secret.FromString(pw), Drop: risky, ExpiresAt: until})
		if !c.ExpiresAt.Equal(until) {
			t.Errorf("credential ExpiresAt %v, want %v", c.ExpiresAt, until)
		}
		if unsupported(FeatureExpiry) {
			if c.Enforced {
				t.Errorf("credential says its expiry is enforced, but the harness lists %q as unsupported", FeatureExpiry)
			}
			t.Logf("the system does not enforce expiry (%q unsupported)", FeatureExpiry)
			if err := r.Renew(ctxT(t), ref(name), until.Add(time.Hour)); err != nil && !errors.Is(err, provider.ErrUnsupported) {
				t.Errorf("Renew on a system without expiry: %v, want nil or ErrUnsupported", err)
			}
			return
		}
		if !c.Enforced {
			t.Fatalf("credential says its expiry is not enforced; list %q in Unsupported if the system cannot", FeatureExpiry)
		}
		mustUse(t, "before expiry", name, pw)
		wantValidUntil(t, inspect(t, p, h, name), until)
		later := until.Add(72 * time.Hour)
		if err := r.Renew(ctxT(t), ref(name), later); err != nil {
			t.Fatalf("Renew(%s): %v", name, err)
		}
		wantValidUntil(t, inspect(t, p, h, name), later)
		mustUse(t, "after Renew", name, pw)
		if err := r.Renew(ctxT(t), ref(name), later); err != nil {
			t.Errorf("Renew twice: %v", err)
		}
	})

	t.Run("Isolate", func(t *testing.T) {
		t.Parallel()
		iso, ok := p.(provider.Isolator)
		if !ok {
			if !unsupported(FeatureIsolate) {
				t.Fatalf("%T does not implement provider.Isolator, and the harness does not list %q as unsupported", p, FeatureIsolate)
			}
			t.Logf("%T does not isolate (no provider.Isolator)", p)
			return
		}
		if unsupported(FeatureIsolate) {
			t.Errorf("%T implements provider.Isolator, but the harness lists %q as unsupported", p, FeatureIsolate)
		}
		from, fromPW, risky := riskySource(t)
		got, err := iso.DropPrivileges(ctxT(t), ref(from), risky)
		if err != nil {
			t.Fatalf("DropPrivileges(%s, %v): %v", from, risky, err)
		}
		slices.Sort(got)
		want := slices.Clone(risky)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("DropPrivileges(%v) removed %v, want all of them", risky, got)
		}
		if h.Risky(t, from) {
			t.Errorf("after DropPrivileges, %s still holds the risky privilege", from)
		}
		mustUse(t, "after DropPrivileges", from, fromPW)
		got, err = iso.DropPrivileges(ctxT(t), ref(from), risky)
		if err != nil || len(got) != 0 {
			t.Errorf("DropPrivileges again = %v, %v; want nothing removed and no error", got, err)
		}
	})

	t.Run("DualCredential", func(t *testing.T) {
		t.Parallel()
		dc, ok := p.(provider.DualCredential)
		if !ok {
			if !unsupported(FeatureDualCredential) {
				t.Fatalf("%T does not implement provider.DualCredential, and the harness does not list %q as unsupported", p, FeatureDualCredential)
			}
			t.Logf("%T holds one secret per login (no provider.DualCredential)", p)
			return
		}
		name, old := newName(), newPassword()
		h.CreateIdentity(t, name, old, false)
		pw := newPassword()
		err := dc.AddSecret(ctxT(t), ref(name), secret.FromString(pw))
		if unsupported(FeatureDualCredential) {
			// Implemented for some servers of this kind, not this one: the
			// answer must say so, and change nothing.
			if !errors.Is(err, provider.ErrUnsupported) {
				t.Fatalf("AddSecret on a server listed without dual secrets: %v, want provider.ErrUnsupported", err)
			}
			mustNotUse(t, "a secret AddSecret refused", name, pw)
			mustUse(t, "the old secret after a refused AddSecret", name, old)
			return
		}
		if err != nil {
			t.Fatalf("AddSecret: %v", err)
		}
		mustUse(t, "the new secret after AddSecret", name, pw)
		mustUse(t, "the old secret after AddSecret", name, old)
		if err := dc.RemoveSecret(ctxT(t), ref(name), secret.FromString(old)); err != nil {
			t.Fatalf("RemoveSecret(old): %v", err)
		}
		mustNotUse(t, "the old secret after RemoveSecret", name, old)
		mustUse(t, "the new secret after RemoveSecret(old)", name, pw)
		if err := dc.RemoveSecret(ctxT(t), ref(name), secret.FromString(old)); err != nil {
			t.Errorf("RemoveSecret twice: %v", err)
		}
	})
}

// ctxT bounds one provider call.
func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// sameLogin compares a login name the provider returns with the one the
// suite asked for; MySQL names accounts user@host, and a bare name means
// user@'%'.
func sameLogin(got, want string) bool {
	if got == want {
		return true
	}
	user, host, ok := strings.Cut(got, "@")
	return ok && user == want && strings.Trim(host, "'`\"") == "%"
}

// sameConn reports whether s is the session the harness opened as c.
func sameConn(c Conn, s provider.Session) bool {
	if c.ID != "" {
		return s.ID == c.ID
	}
	_, cp, err1 := net.SplitHostPort(c.Local)
	_, sp, err2 := net.SplitHostPort(s.Client)
	return err1 == nil && err2 == nil && cp == sp
}

// waitSessions waits until name has want open sessions: a terminated
// session leaves the server's list a moment after the call returns.
func waitSessions(t *testing.T, h RotateHarness, name string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := h.SessionCount(t, name)
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has %d open sessions, want %d", name, n, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkRefused wants an errs.Permission on one line, naming the system and
// holding none of the passwords.
func checkRefused(t *testing.T, what string, err error, system string, passwords ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want kind Permission", what)
		return
	}
	msg := err.Error()
	if k := errs.KindOf(err); k != errs.Permission {
		t.Errorf("%s: error kind %v, want Permission (%s)", what, k, msg)
	}
	for _, pw := range passwords {
		if strings.Contains(msg, pw) {
			t.Errorf("%s: error contains a password: %s", what, msg)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("%s: error is not one line: %q", what, msg)
	}
	if !strings.Contains(msg, system) {
		t.Errorf("%s: error %q does not name the system %q", what, msg, system)
	}
}

// wantValidUntil wants Inspect to show the expiry, to the second.
func wantValidUntil(t *testing.T, id *provider.Identity, want time.Time) {
	t.Helper()
	if id.ValidUntil == nil {
		t.Errorf("Inspect(%s).ValidUntil is empty, want %v", id.Ref.Name, want)
		return
	}
	if d := id.ValidUntil.Sub(want); d < -time.Second || d > time.Second {
		t.Errorf("Inspect(%s).ValidUntil = %v, want %v", id.Ref.Name, *id.ValidUntil, want)
	}
}
