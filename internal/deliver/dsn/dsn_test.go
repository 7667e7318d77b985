package dsn

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Creds
	}{
		{"postgres://orders_svc:s3cr%40t@db.internal:5432/shop?sslmode=require",
			Creds{Form: URL, User: "orders_svc", HasUser: true, Password: "s3cr@t", HasPassword: true}},
		{"postgresql://db.internal/shop?user=orders_svc&password=a%2Bb+c",
			Creds{Form: URL, User: "orders_svc", HasUser: true, Password: "a+b+c", HasPassword: true}},
		{"jdbc:postgresql://db:5432/shop?user=app&password=pw&ssl=true",
			Creds{Form: URL, User: "app", HasUser: true, Password: "pw", HasPassword: true}},
		{"redis://:hunter2@cache:6379/0", Creds{Form: URL, Password: "hunter2", HasPassword: true}},
		{"rediss://default:hunter2@cache:6380", Creds{Form: URL, User: "default", HasUser: true, Password: "hunter2", HasPassword: true}},
		{"mongodb://app:pw@a.example:27017,b.example:27017/shop?replicaSet=rs0",
			Creds{Form: URL, User: "app", HasUser: true, Password: "pw", HasPassword: true}},
		// A password nobody percent-encoded, with a '/' in it.
		{"postgres://app:pa/ss@db/shop", Creds{Form: URL, User: "app", HasUser: true, Password: "pa/ss", HasPassword: true}},
		{"postgres://db.internal/shop", Creds{Form: URL}},
		{"orders:p@ss:w/rd@tcp(db.internal:3306)/shop?parseTime=true",
			Creds{Form: MySQL, User: "orders", HasUser: true, Password: "p@ss:w/rd", HasPassword: true}},
		{"orders@unix(/run/mysqld/mysqld.sock)/shop", Creds{Form: MySQL, User: "orders", HasUser: true}},
		{"host=db.internal port=5432 dbname=shop user=orders password='it\\'s a \\\\secret' sslmode=verify-full",
			Creds{Form: KeyValue, User: "orders", HasUser: true, Password: `it's a \secret`, HasPassword: true}},
		{"Host=db.internal;Port=5432;Database=shop;Username=orders;Password=\"a;b\"\"c\"",
			Creds{Form: ADO, User: "orders", HasUser: true, Password: `a;b"c`, HasPassword: true}},
		{"Server=tcp:db.example,1433;Initial Catalog=shop;User ID=orders;Password=pw;Encrypt=True;",
			Creds{Form: ADO, User: "orders", HasUser: true, Password: "pw", HasPassword: true}},
		{"Tr0ub4dor&3", Creds{Form: Plain, Password: "Tr0ub4dor&3", HasPassword: true}},
		{"a=b", Creds{Form: Plain, Password: "a=b", HasPassword: true}},
		{"user@example.com/x", Creds{Form: Plain, Password: "user@example.com/x", HasPassword: true}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, Parse(tt.in)); diff != "" {
			t.Errorf("Parse(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

// TestSetChangesOnlyCredentials: every byte outside the user and password
// stays, including parameter order and spelling.
func TestSetChangesOnlyCredentials(t *testing.T) {
	tests := []struct{ in, user, pw, want string }{
		{"postgres://orders_svc:old@db.internal:5432/shop?sslmode=require&application_name=orders", "", "n@w:p/w?#% x",
			"postgres://orders_svc:n%40w%3Ap%2Fw%3F%23%25%20x@db.internal:5432/shop?sslmode=require&application_name=orders"},
		{"postgres://orders_svc:old@db.internal:5432/shop?sslmode=require", "orders_svc_b", "new",
			"postgres://orders_svc_b:new@db.internal:5432/shop?sslmode=require"},
		{"postgres://orders_svc@db.internal/shop", "", "new", "postgres://orders_svc:new@db.internal/shop"},
		{"jdbc:postgresql://db/shop?user=app&password=old&ssl=true", "app2", "a&b=c",
			"jdbc:postgresql://db/shop?user=app2&password=a%26b%3Dc&ssl=true"},
		{"redis://:old@cache:6379/0", "", "new pw", "redis://:new%20pw@cache:6379/0"},
		{"redis://:old@cache:6379/0", "orders", "new", "redis://orders:new@cache:6379/0"},
		{"postgres://app:pa/ss@db/shop", "", "x", "postgres://app:x@db/shop"},
		{"orders:old@tcp(db:3306)/shop?parseTime=true&loc=Local", "", "p@ss:w/rd?#% x",
			"orders:p@ss:w/rd?#% x@tcp(db:3306)/shop?parseTime=true&loc=Local"},
		{"orders@tcp(db:3306)/shop", "", "pw", "orders:pw@tcp(db:3306)/shop"},
		{"host=db port=5432 user=orders password=old dbname=shop", "orders_b", "it's \\ new",
			"host=db port=5432 user=orders_b password='it\\'s \\\\ new' dbname=shop"},
		{"host=db user=orders dbname=shop", "", "new", "host=db user=orders password=new dbname=shop"},
		{"Host=db;Username=orders;Password=old;Database=shop", "", "a;b\"c",
			"Host=db;Username=orders;Password=\"a;b\"\"c\";Database=shop"},
		{"Tr0ub4dor&3", "", "new", "new"},
	}
	for _, tt := range tests {
		got, err := Set(tt.in, tt.user, tt.pw)
		if err != nil {
			t.Errorf("Set(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Set(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
		again, err := Set(got, tt.user, tt.pw)
		if err != nil || again != got {
			t.Errorf("Set twice on %q: %q, %v; want the same string", tt.in, again, err)
		}
	}
}

var awkward = []string{
	"p@ss:w/rd?#% x",
	`it's "quoted" \ back`,
	"semi;colon=eq&amp+plus",
	"unicodé-密码",
	"%41%zz",
}

// TestSetRoundTripsThroughClients: what Set writes, the real client
// libraries read back as the same user and password.
func TestSetRoundTripsThroughClients(t *testing.T) {
	for _, pw := range awkward {
		t.Run(pw, func(t *testing.T) {
			for _, in := range []string{
				"postgres://old:old@db.internal:5432/shop?sslmode=disable",
				"postgresql://db.internal:5432/shop?user=old&password=old&sslmode=disable",
				"host=db.internal port=5432 user=old password=old dbname=shop sslmode=disable",
			} {
				out, err := Set(in, "orders b", pw)
				if err != nil {
					t.Fatal(err)
				}
				cfg, err := pgconn.ParseConfig(out)
				if err != nil {
					t.Fatalf("pgconn cannot parse what Set wrote from %q: %v", in, err)
				}
				if cfg.User != "orders b" || cfg.Password != pw || cfg.Database != "shop" {
					t.Errorf("pgconn read user %q password %q db %q from %q", cfg.User, cfg.Password, cfg.Database, out)
				}
			}

			out, err := Set("old:old@tcp(db.internal:3306)/shop?parseTime=true", "orders", pw)
			if err != nil {
				t.Fatal(err)
			}
			mc, err := mysql.ParseDSN(out)
			if err != nil {
				t.Fatalf("go-sql-driver cannot parse %q: %v", out, err)
			}
			if mc.User != "orders" || mc.Passwd != pw || mc.Addr != "db.internal:3306" || mc.DBName != "shop" || !mc.ParseTime {
				t.Errorf("go-sql-driver read %+v from %q", mc, out)
			}

			out, err = Set("redis://:old@cache:6379/0", "orders", pw)
			if err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(out)
			if err != nil {
				t.Fatalf("net/url cannot parse %q: %v", out, err)
			}
			if p, _ := u.User.Password(); u.User.Username() != "orders" || p != pw || u.Host != "cache:6379" || u.Path != "/0" {
				t.Errorf("net/url read %q:%q@%s%s from %q", u.User.Username(), p, u.Host, u.Path, out)
			}
			if got := Parse(out); got.Password != pw || got.User != "orders" {
				t.Errorf("Parse(%q) = %+v", out, got)
			}
		})
	}
}

func TestSetErrors(t *testing.T) {
	tests := []struct {
		in, user string
		want     error
	}{
		{"postgres://db.internal/shop", "", ErrNoCredentials},
		{"postgres://db.internal/shop", "app", ErrNoCredentials},
		{"Tr0ub4dor&3", "app", ErrNoUser},
		{"old:pw@tcp(db:3306)/shop", "a:b", ErrUserSyntax},
	}
	for _, tt := range tests {
		_, err := Set(tt.in, tt.user, "Sup3r-S3cret")
		if !errors.Is(err, tt.want) {
			t.Errorf("Set(%q, %q): %v, want %v", tt.in, tt.user, err, tt.want)
		}
		if err != nil && (strings.Contains(err.Error(), "Sup3r") || strings.Contains(err.Error(), tt.in)) {
			t.Errorf("error quotes its input: %v", err)
		}
	}
}
