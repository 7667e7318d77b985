// Package providertest is the conformance suite every provider runs
// against a real server (or, for a cloud API that cannot be reached, a
// local server written from its published reference): RunInspect and
// RunRotate for systems where rekey chooses the secret, RunGenerated for
// systems that generate it themselves. The suite creates its fixtures
// through a Harness that talks to the system directly (out of band), never
// through the provider, and checks the provider's answers against them: a
// password the suite set, a session the suite opened, a login the system's
// own log recorded.
package providertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
)

// Harness is what a provider's test supplies: a way to open the provider
// and to set up fixtures in the same system without it. Every fixture it
// creates is removed in t.Cleanup. Names the suite passes are fresh, lower
// case and valid as a PostgreSQL role, a MySQL user and a Redis ACL user;
// passwords are printable ASCII.
type Harness interface {
	// System is the system name the provider is opened with; every
	// IdentityRef it returns must carry it.
	System() string
	// Factory opens the provider under test.
	Factory() provider.Factory
	// Admin is a working administrator configuration.
	Admin(t *testing.T) provider.Config
	// CreateIdentity creates a principal that can log in with password.
	// With risky it also gets a privilege that lets it create credentials
	// (PostgreSQL CREATEROLE, MySQL CREATE USER, Redis +acl); without, it
	// gets nothing that does.
	CreateIdentity(t *testing.T, name, password string, risky bool)
	// OpenSession logs in as name from 127.0.0.1, naming the client
	// application where the system records one, and keeps the connection
	// open until the test ends.
	OpenSession(t *testing.T, name, password, application string) Conn
	// AuthRecords counts the records in the system's own log (not the
	// provider's) of name logging in or trying to, everything logged
	// before the call included. ok is false when the system keeps no such
	// log; the suite then says so rather than passing silently.
	AuthRecords(t *testing.T, name string) (n int, ok bool)
	// Unreachable is an administrator configuration naming a port where
	// nothing listens.
	Unreachable(t *testing.T) BadAdmin
	// WrongAdmin is the system's real address with a wrong administrator
	// password.
	WrongAdmin(t *testing.T) BadAdmin
	// Unsupported lists the features of this list the system lacks:
	//   "application-name"  sessions carry no client application name
	// The suite fails when a feature listed works, as when one not listed
	// does not.
	Unsupported() []string
}

// Conn is a session the harness opened.
type Conn struct {
	// Local is the client end's address (host:port) as the server sees it.
	Local string
	// ID is the server's identifier for the connection (a backend pid, a
	// connection id, a client id), or "" when the harness cannot tell.
	ID string
}

// BadAdmin is an administrator configuration that must fail, with the
// password it holds: no error may contain it.
type BadAdmin struct {
	Config   provider.Config
	Password string
}

// LeftBehind is implemented by harnesses whose system records who made a
// grant or created a principal.
type LeftBehind interface {
	// LeaveBehind logs in as name (created risky) and uses its privilege
	// to leave something that would survive rotating its password: a new
	// principal, a grant to another one. It returns the Related kind and a
	// substring of the Related name Inspect must then report.
	LeaveBehind(t *testing.T, name, password string) (kind, contains string)
}

// LimitedAdmin is implemented by harnesses that can make an administrator
// able to log in but not to read the stored verifiers.
type LimitedAdmin interface {
	// LimitedAdmin returns such a configuration and the privilege the
	// error must name.
	LimitedAdmin(t *testing.T) (cfg BadAdmin, privilege string)
}

// Feature names for Harness.Unsupported.
const FeatureApplicationName = "application-name"

// RunInspect runs the inspection suite. Subtests run in parallel, each on
// identities of its own, so the system must allow a few dozen connections.
//
// What it holds a provider to:
//   - Identify matches an identity by its password and not by a near miss;
//     a fresh random password matches exactly the identities given it (so a
//     principal that accepts any password, like a Redis nopass user, is not
//     a match: it proves nothing about the secret);
//   - two identities sharing a password are both matched (reuse);
//   - Identify leaves no login or login attempt as the identity in the
//     system's own log, and no session;
//   - Inspect grades a credential-creating privilege high or critical with
//     CreatesCredentials, and reports nothing of the kind for an identity
//     given nothing risky;
//   - Inspect lists a session the harness opened, with its client port,
//     loopback address, application name and start time, and only it;
//   - an unknown identity is Exists=false without an error;
//   - an unreachable system and a refused administrator are one-line
//     errors of kind Unreachable and Permission naming the system and
//     holding neither the password nor the connection string.
func RunInspect(t *testing.T, h Harness) {
	for _, f := range h.Unsupported() {
		// The rotation suite's features share the list (see RunRotate).
		if !slices.Contains(knownFeatures, f) {
			t.Fatalf("Unsupported lists %q, which the suite does not know", f)
		}
	}
	p := open(t, h)
	started := time.Now()

	t.Run("IdentifyByPassword", func(t *testing.T) {
		t.Parallel()
		name, pw := newName(), newPassword()
		h.CreateIdentity(t, name, pw, false)
		ms := identify(t, p, pw)
		m := find(ms, name)
		if m == nil {
			t.Fatalf("Identify(its password) = %v, want a match for %s", ms, name)
		}
		if m.Ref.System != h.System() {
			t.Errorf("match system = %q, want %q", m.Ref.System, h.System())
		}
		if m.Method == "" {
			t.Error("match has no Method saying how it was proven")
		}
		if len(ms) != 1 {
			t.Errorf("Identify(a fresh random password) = %v, want only %s", ms, name)
		}
		if ms := identify(t, p, pw+"x"); find(ms, name) != nil {
			t.Errorf("Identify(wrong password) matched %s", name)
		}
		if ms := identify(t, p, pw[:len(pw)-1]); find(ms, name) != nil {
			t.Errorf("Identify(password minus its last character) matched %s", name)
		}
	})

	t.Run("IdentifyReuse", func(t *testing.T) {
		t.Parallel()
		a, b, other := newName(), newName(), newName()
		pw := newPassword()
		h.CreateIdentity(t, a, pw, false)
		h.CreateIdentity(t, b, pw, true)
		h.CreateIdentity(t, other, newPassword(), false)
		ms := identify(t, p, pw)
		var got []string
		for _, m := range ms {
			got = append(got, m.Ref.Name)
		}
		want := []string{a, b}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("Identify(shared password) matched %v, want exactly %v (password reuse)", got, want)
		}
	})

	t.Run("IdentifyLogsInAsNoOne", func(t *testing.T) {
		t.Parallel()
		name, pw := newName(), newPassword()
		h.CreateIdentity(t, name, pw, false)
		before, ok := h.AuthRecords(t, name)
		if !ok {
			t.Skip("the system keeps no log of logins to check against")
		}
		if ms := identify(t, p, pw); find(ms, name) == nil {
			t.Fatalf("Identify did not match %s", name)
		}
		identify(t, p, pw+"x")
		if after, _ := h.AuthRecords(t, name); after != before {
			t.Errorf("the system logged %d login records for %s during Identify: it must not log in or try to", after-before, name)
		}
		if id := inspect(t, p, h, name); len(id.Sessions) != 0 {
			t.Errorf("sessions as %s after Identify: %+v", name, id.Sessions)
		}
	})

	t.Run("InspectRiskyPrivilege", func(t *testing.T) {
		t.Parallel()
		risky, plain := newName(), newName()
		h.CreateIdentity(t, risky, newPassword(), true)
		h.CreateIdentity(t, plain, newPassword(), false)

		id := inspect(t, p, h, risky)
		if !id.Exists || !id.CanLogin {
			t.Fatalf("Inspect(%s): exists=%v can_login=%v, want both", risky, id.Exists, id.CanLogin)
		}
		found := false
		for _, pr := range id.Privileges {
			if pr.CreatesCredentials && (pr.Risk == provider.RiskHigh || pr.Risk == provider.RiskCritical) {
				found = true
			}
			checkRisk(t, pr)
		}
		if !found {
			t.Errorf("Inspect(%s) privileges = %+v, want one that creates credentials, with risk high or critical", risky, id.Privileges)
		}

		id = inspect(t, p, h, plain)
		if !id.Exists || !id.CanLogin {
			t.Fatalf("Inspect(%s): exists=%v can_login=%v, want both", plain, id.Exists, id.CanLogin)
		}
		for _, pr := range id.Privileges {
			checkRisk(t, pr)
			if pr.CreatesCredentials || pr.Risk == provider.RiskCritical {
				t.Errorf("Inspect(%s), an identity given nothing risky, reports %+v", plain, pr)
			}
		}
	})

	t.Run("InspectSessions", func(t *testing.T) {
		t.Parallel()
		name, pw := newName(), newPassword()
		h.CreateIdentity(t, name, pw, false)
		if id := inspect(t, p, h, name); len(id.Sessions) != 0 {
			t.Errorf("Inspect(%s) before any login lists sessions %+v", name, id.Sessions)
		}
		app := "rekey-suite-" + name
		c := h.OpenSession(t, name, pw, app)
		_, port, err := net.SplitHostPort(c.Local)
		if err != nil {
			t.Fatalf("harness Conn.Local %q: %v", c.Local, err)
		}
		id := inspect(t, p, h, name)
		var s *provider.Session
		for i := range id.Sessions {
			if _, sp, err := net.SplitHostPort(id.Sessions[i].Client); err == nil && sp == port {
				s = &id.Sessions[i]
			}
		}
		if s == nil {
			t.Fatalf("Inspect(%s) sessions = %+v, want one from client port %s", name, id.Sessions, port)
		}
		if len(id.Sessions) != 1 {
			t.Errorf("Inspect(%s) lists %d sessions, the harness opened one: %+v", name, len(id.Sessions), id.Sessions)
		}
		if host, _, _ := net.SplitHostPort(s.Client); host != "127.0.0.1" && host != "localhost" && host != "::1" {
			t.Errorf("session client %q, want the loopback address the harness connected from", s.Client)
		}
		if c.ID != "" && s.ID != c.ID {
			t.Errorf("session id %q, want %q", s.ID, c.ID)
		}
		if slices.Contains(h.Unsupported(), FeatureApplicationName) {
			if s.Application != "" {
				t.Errorf("application name %q reported, but the harness lists %s as unsupported", s.Application, FeatureApplicationName)
			}
		} else if s.Application != app {
			t.Errorf("session application = %q, want %q", s.Application, app)
		}
		if s.Started.Before(started.Add(-time.Minute)) || s.Started.After(time.Now().Add(time.Minute)) {
			t.Errorf("session started %v, want about now", s.Started)
		}
	})

	t.Run("InspectUnknown", func(t *testing.T) {
		t.Parallel()
		name := newName()
		id, err := p.Inspect(context.Background(), provider.IdentityRef{System: h.System(), Name: name})
		if err != nil {
			t.Fatalf("Inspect(unknown) error = %v, want none", err)
		}
		if id == nil || id.Exists {
			t.Fatalf("Inspect(unknown) = %+v, want Exists false", id)
		}
		if len(id.Privileges)+len(id.Sessions)+len(id.Related) != 0 {
			t.Errorf("Inspect(unknown) reports %+v", id)
		}
	})

	t.Run("InspectLeftBehind", func(t *testing.T) {
		t.Parallel()
		lb, ok := h.(LeftBehind)
		if !ok {
			t.Skip("the harness does not implement LeftBehind")
		}
		name, pw := newName(), newPassword()
		h.CreateIdentity(t, name, pw, true)
		kind, contains := lb.LeaveBehind(t, name, pw)
		id := inspect(t, p, h, name)
		for _, r := range id.Related {
			if r.Kind == kind && strings.Contains(r.Name, contains) {
				if r.Detail == "" {
					t.Errorf("related %+v says nothing of why it is listed", r)
				}
				return
			}
		}
		t.Errorf("Inspect(%s) related = %+v, want a %s naming %q", name, id.Related, kind, contains)
	})

	runBadAdmins(t, h)

	t.Run("LimitedAdmin", func(t *testing.T) {
		t.Parallel()
		la, ok := h.(LimitedAdmin)
		if !ok {
			t.Skip("the harness does not implement LimitedAdmin")
		}
		bad, privilege := la.LimitedAdmin(t)
		lp, err := h.Factory()(context.Background(), bad.Config)
		if err != nil {
			t.Fatalf("open as a limited administrator: %v", err)
		}
		defer lp.Close()
		_, err = lp.Identify(context.Background(), secret.FromString(newPassword()))
		checkErr(t, "Identify as a limited administrator", err, errs.Permission, bad)
		if err != nil && !strings.Contains(err.Error(), privilege) {
			t.Errorf("error %q does not name the privilege needed (%s)", err, privilege)
		}
	})
}

// badAdmins is the part of every harness that makes failing
// administrator configurations.
type badAdmins interface {
	opener
	Unreachable(t *testing.T) BadAdmin
	WrongAdmin(t *testing.T) BadAdmin
}

// runBadAdmins wants an unreachable system and a refused administrator to
// be one-line errors of kind Unreachable and Permission.
func runBadAdmins(t *testing.T, h badAdmins) {
	t.Run("Unreachable", func(t *testing.T) {
		t.Parallel()
		checkBadAdmin(t, h, h.Unreachable(t), errs.Unreachable)
	})
	t.Run("WrongAdmin", func(t *testing.T) {
		t.Parallel()
		checkBadAdmin(t, h, h.WrongAdmin(t), errs.Permission)
	})
}

// capability returns p as the capability C, failing the test when p does
// not implement it.
func capability[C any](t *testing.T, p provider.Provider) C {
	t.Helper()
	c, ok := p.(C)
	if !ok {
		var zero *C
		t.Fatalf("%T does not implement %T", p, zero)
	}
	return c
}

// opener is the part of every harness that opens the provider.
type opener interface {
	System() string
	Factory() provider.Factory
	Admin(t *testing.T) provider.Config
}

func open(t *testing.T, h opener) provider.Provider {
	t.Helper()
	p, err := h.Factory()(context.Background(), h.Admin(t))
	if err != nil {
		t.Fatalf("open provider: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

func identify(t *testing.T, p provider.Provider, password string) []provider.Match {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ms, err := p.Identify(ctx, secret.FromString(password))
	if err != nil {
		t.Fatalf("Identify: %v", err)
	}
	return ms
}

func inspect(t *testing.T, p provider.Provider, h opener, name string) *provider.Identity {
	t.Helper()
	ref := provider.IdentityRef{System: h.System(), Name: name}
	id, err := p.Inspect(context.Background(), ref)
	if err != nil {
		t.Fatalf("Inspect(%s): %v", name, err)
	}
	if id.Ref != ref {
		t.Errorf("Inspect(%s).Ref = %+v, want %+v", name, id.Ref, ref)
	}
	return id
}

func find(ms []provider.Match, name string) *provider.Match {
	for i := range ms {
		if ms[i].Ref.Name == name {
			return &ms[i]
		}
	}
	return nil
}

func checkRisk(t *testing.T, pr provider.Privilege) {
	t.Helper()
	switch pr.Risk {
	case provider.RiskCritical, provider.RiskHigh, provider.RiskMedium, provider.RiskLow:
	default:
		t.Errorf("privilege %+v has risk %q, not one of critical, high, medium, low", pr, pr.Risk)
	}
	if pr.Name == "" {
		t.Errorf("privilege %+v has no name", pr)
	}
}

// checkBadAdmin opens the provider with a configuration that must fail;
// a provider that connects lazily may fail on first use instead.
func checkBadAdmin(t *testing.T, h opener, bad BadAdmin, want errs.Kind) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := h.Factory()(ctx, bad.Config)
	if err == nil {
		defer p.Close()
		_, err = p.Inspect(ctx, provider.IdentityRef{System: h.System(), Name: newName()})
	}
	checkErr(t, "open", err, want, bad)
}

func checkErr(t *testing.T, what string, err error, want errs.Kind, bad BadAdmin) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want kind %v", what, want)
	}
	msg := err.Error()
	if got := errs.KindOf(err); got != want {
		t.Errorf("%s: error kind %v, want %v (%s)", what, got, want, msg)
	}
	if bad.Password != "" && strings.Contains(msg, bad.Password) {
		t.Errorf("%s: error contains the administrator password: %s", what, msg)
	}
	if admin := string(bad.Config.Admin.Reveal()); admin != "" && strings.Contains(msg, admin) {
		t.Errorf("%s: error contains the administrator connection string: %s", what, msg)
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("%s: error is not one line: %q", what, msg)
	}
	if !strings.Contains(msg, bad.Config.System) {
		t.Errorf("%s: error %q does not name the system %q", what, msg, bad.Config.System)
	}
}

func newName() string { return "rk" + randomHex(5) }

// newPassword is random printable ASCII with a quote, a backslash and a
// percent sign in it, which DSNs, SQL literals and URL encodings must all
// survive.
func newPassword() string { return "P'w\\%" + randomHex(10) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
