package testutil

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStartPostgres(t *testing.T) {
	c := StartPostgres(t)
	name := RandomName("tu")
	c.CreateRole(t, name, "it's a pass%word", "")
	conn := c.Connect(t, name, "it's a pass%word", "testutil-app")
	var user, app string
	if err := conn.QueryRow(context.Background(), "SELECT current_user, current_setting('application_name')").Scan(&user, &app); err != nil {
		t.Fatal(err)
	}
	if user != name || app != "testutil-app" {
		t.Errorf("logged in as %q with application %q", user, app)
	}

	var authorized bool
	for _, r := range c.LogRecords(t) {
		if r.User == name && strings.HasPrefix(r.Message, "connection authorized") {
			authorized = true
			if !strings.Contains(r.Message, "application_name=testutil-app") || !strings.HasPrefix(r.From, "127.0.0.1:") {
				t.Errorf("log record %+v", r)
			}
		}
	}
	if !authorized {
		t.Error("the csv log has no connection authorized record for the login")
	}
	if c.Version >= 15 {
		if _, err := os.Stat(filepath.Join(c.LogDir, "postgresql.json")); err != nil {
			t.Errorf("json log: %v", err)
		}
	}
	if !strings.Contains(c.AdminURL(), c.AdminPassword()) || c.Port == 0 {
		t.Errorf("AdminURL %q, port %d", c.AdminURL(), c.Port)
	}

	// The data directory must be the server's, not the test's, to run as
	// the postgres user when the tests are root.
	if os.Geteuid() == 0 {
		fi, err := os.Stat(c.DataDir)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o700 {
			t.Errorf("data directory mode %v", fi.Mode().Perm())
		}
	}
}

func TestSharedPostgresNeedsMain(t *testing.T) {
	// This package's TestMain does not call PostgresMain: asking for the
	// shared cluster must fail loudly, not leak a server.
	ft := &fatalT{TB: t}
	func() {
		defer func() { _ = recover() }()
		SharedPostgres(ft)
	}()
	if !ft.fatal {
		t.Error("SharedPostgres without PostgresMain did not fail")
	}
}

// Without the binaries, a test skips; with REKEY_REQUIRE_SERVICES=1 it
// fails.
func TestStartPostgresWithoutBinaries(t *testing.T) {
	defer func(g string) { pgBinGlob = g }(pgBinGlob)
	pgBinGlob = filepath.Join(t.TempDir(), "*", "bin")
	for _, require := range []string{"", "1"} {
		t.Setenv(RequireServicesEnv, require)
		ft := &fatalT{TB: t}
		func() {
			defer func() { _ = recover() }()
			StartPostgres(ft)
		}()
		if require == "1" && (!ft.fatal || ft.skipped) || require == "" && (ft.fatal || !ft.skipped) {
			t.Errorf("%s=%q: fatal=%v skipped=%v", RequireServicesEnv, require, ft.fatal, ft.skipped)
		}
	}
}

// fatalT records a Fatal or Skip and stops the helper as they would.
type fatalT struct {
	testing.TB
	fatal, skipped bool
}

func (f *fatalT) Helper()               {}
func (f *fatalT) Fatal(...any)          { f.fatal = true; panic("fatal") }
func (f *fatalT) Fatalf(string, ...any) { f.fatal = true; panic("fatal") }
func (f *fatalT) Skipf(string, ...any)  { f.skipped = true; panic("skip") }
func (f *fatalT) Cleanup(fn func())     { f.TB.Cleanup(fn) }
