package testutil

import (
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// RequireServicesEnv, set to 1 (as CI does), turns a missing service from
// a skip into a failure, so that a CI run cannot pass by skipping.
const RequireServicesEnv = "REKEY_REQUIRE_SERVICES"

// NeedService skips t when nothing accepts a TCP connection at addr within
// 2 seconds, or fails it when REKEY_REQUIRE_SERVICES=1. name says what the
// service is, for the message.
func NeedService(t testing.TB, name, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		c.Close()
		return
	}
	if os.Getenv(RequireServicesEnv) == "1" {
		t.Fatalf("%s at %s is required (%s=1) but unreachable: %v", name, addr, RequireServicesEnv, err)
	}
	t.Skipf("%s at %s unreachable, skipping (set %s=1 to fail instead): %v", name, addr, RequireServicesEnv, err)
}

// PostgresURLEnv overrides the URL of the test PostgreSQL server.
const PostgresURLEnv = "REKEY_TEST_PG_URL"

// PostgresURL returns the URL of the local PostgreSQL server that tests
// use (trust authentication, user postgres, database test), or
// $REKEY_TEST_PG_URL, after NeedService has checked that it answers.
func PostgresURL(t testing.TB) string {
	t.Helper()
	raw := os.Getenv(PostgresURLEnv)
	if raw == "" {
		raw = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("%s: %v", PostgresURLEnv, err)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "5432")
	}
	NeedService(t, "postgresql", host)
	return raw
}

// PostgresDB creates a uniquely named database on the local PostgreSQL
// server (PostgresURL) and drops it, with any sessions a failing test left
// open, when t ends; it returns the database's URL. Packages running in
// parallel each get their own.
func PostgresDB(t testing.TB) string {
	t.Helper()
	base := PostgresURL(t)
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		t.Fatal(err)
	}
	admin := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { admin.Close() })
	name := RandomName("rekey_test_")
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		// FORCE: a store a failing test left open must not keep it alive.
		if _, err := admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// NeedTool returns the path of the program name, found on $PATH or in the
// sbin directories daemons live in (a root shell's PATH may lack them);
// without it, it skips t, or fails it when REKEY_REQUIRE_SERVICES=1, like
// NeedService. install says how to get it, for the message.
func NeedTool(t testing.TB, name, install string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	if os.Getenv(RequireServicesEnv) == "1" {
		t.Fatalf("%s is required (%s=1) but not on $PATH; %s", name, RequireServicesEnv, install)
	}
	t.Skipf("%s is not on $PATH, skipping (%s; set %s=1 to fail instead)", name, install, RequireServicesEnv)
	return ""
}
