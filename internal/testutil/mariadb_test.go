package testutil

import (
	"database/sql"
	"testing"
)

// A user created after DropMariaDBUsers is gone when its test ends, even
// when the test stops midway and its own connection is closed first.
func TestDropMariaDBUsersAfterAnEarlyStop(t *testing.T) {
	NeedService(t, "mariadb", MariaDBAddr)
	user := RandomName("rktu_")
	t.Run("stops midway", func(t *testing.T) {
		db, err := sql.Open("mysql", MariaDBRootDSN)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		DropMariaDBUsers(t, user)
		for _, host := range []string{"%", "localhost"} {
			if _, err := db.Exec("CREATE USER ?@? IDENTIFIED BY 'x-Pa55-word'", user, host); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(MariaDBUsersLike(t, user)); n != 2 {
			t.Fatalf("created %d accounts, want 2", n)
		}
		t.SkipNow() // as a failing t.Fatal would stop it
	})
	if left := MariaDBUsersLike(t, user); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
	if left := MariaDBUsersLike(t, "rktu_"); len(left) != 0 {
		t.Errorf("accounts of this package's tests left behind: %v", left)
	}
}
