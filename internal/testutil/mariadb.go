package testutil

import (
	"database/sql"
	"strings"
	"testing"

	_ "github.com/go-sql-driver/mysql" // the local MariaDB's driver
)

// MariaDBAddr is the local MariaDB that tests share (root, no password).
const MariaDBAddr = "127.0.0.1:3306"

// MariaDBRootDSN reaches MariaDBAddr as root, with placeholders filled in
// by the driver (CREATE USER and DROP USER take no server-side
// parameters).
const MariaDBRootDSN = "root@tcp(" + MariaDBAddr + ")/?interpolateParams=true"

// DropMariaDBUsers drops, when t ends, every account of the local MariaDB
// named one of users, at any host. Call it before creating them: a test
// that fails or skips midway then leaves nothing behind either. The drop
// runs on a connection of its own, because a test's deferred db.Close runs
// before its t.Cleanup functions (a cleanup sharing the test's *sql.DB
// finds it closed and drops nothing: how rkdeliver_… and rkcrm_… users
// were left behind).
func DropMariaDBUsers(t testing.TB, users ...string) {
	t.Helper()
	t.Cleanup(func() {
		if err := dropMariaDBUsers(users); err != nil {
			t.Errorf("dropping MariaDB users %s: %v", strings.Join(users, ", "), err)
		}
	})
}

func dropMariaDBUsers(users []string) error {
	db, err := sql.Open("mysql", MariaDBRootDSN)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, u := range users {
		accts, err := accounts(db, "User = ?", u)
		if err != nil {
			return err
		}
		for _, a := range accts {
			if _, err := db.Exec("DROP USER IF EXISTS ?@?", a[0], a[1]); err != nil {
				return err
			}
		}
	}
	return nil
}

// MariaDBUsersLike lists the local MariaDB's accounts whose name starts
// with prefix, as user@host.
func MariaDBUsersLike(t testing.TB, prefix string) []string {
	t.Helper()
	db, err := sql.Open("mysql", MariaDBRootDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	accts, err := accounts(db, "LEFT(User, ?) = ?", len(prefix), prefix)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range accts {
		out = append(out, a[0]+"@"+a[1])
	}
	return out
}

// accounts are the (user, host) pairs of mysql.user matching where.
func accounts(db *sql.DB, where string, args ...any) ([][2]string, error) {
	rows, err := db.Query("SELECT User, Host FROM mysql.user WHERE "+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var a [2]string
		if err := rows.Scan(&a[0], &a[1]); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
