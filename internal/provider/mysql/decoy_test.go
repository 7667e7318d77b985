package mysql

import (
	"context"
	"database/sql"
	"testing"

	mysqldrv "github.com/go-sql-driver/mysql"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/secret"
)

// tryLogin logs in as user and runs q; the error of either.
func tryLogin(t *testing.T, s *server, user, password, q string) error {
	t.Helper()
	c := mysqldrv.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr = user, password, "tcp", s.cfg.Addr
	c.Logger = &mysqldrv.NopLogger{}
	conn, err := mysqldrv.NewConnector(c)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	if err := db.PingContext(context.Background()); err != nil {
		return err
	}
	_, err = db.ExecContext(context.Background(), q)
	return err
}

// A canary logs in and may read nothing; made again it takes the new
// password; an account of that name with a grant is refused and kept.
func TestCreateDecoy(t *testing.T) {
	t.Parallel()
	p, s := openTest(t)
	name := newName()
	t.Cleanup(func() { s.drop(t, "USER", name, "%") })
	for _, pw := range []string{"first-decoy-pw", "second-decoy-pw"} {
		if err := p.CreateDecoy(context.Background(), name, secret.FromString(pw)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tryLogin(t, s, name, "first-decoy-pw", "SELECT 1"); err == nil {
		t.Error("the first password still works")
	}
	if err := tryLogin(t, s, name, "second-decoy-pw", "SELECT 1"); err != nil {
		t.Fatalf("the canary cannot log in: %v", err)
	}
	if err := tryLogin(t, s, name, "second-decoy-pw", "SELECT user FROM mysql.user LIMIT 1"); err == nil {
		t.Error("the canary reads mysql.user")
	}
	other := newName()
	s.createUser(t, other, "%", "IDENTIFIED BY ?", "other-pw")
	s.exec(t, "GRANT SELECT ON mysql.* TO ?@'%'", other)
	if err := p.CreateDecoy(context.Background(), other, secret.FromString("taken-over")); errs.KindOf(err) != errs.Invalid {
		t.Errorf("CreateDecoy over an account with grants: %v, want invalid", err)
	}
	if err := tryLogin(t, s, other, "other-pw", "SELECT 1"); err != nil {
		t.Errorf("the refused CreateDecoy changed the account: %v", err)
	}
}
