package redis

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rekeyhq/rekey/internal/provider"
)

func sha(s string) string {
	b := sha256.Sum256([]byte(s))
	return hex.EncodeToString(b[:])
}

func TestParseUser(t *testing.T) {
	h1, h2 := sha("one"), sha("two")
	tests := []struct {
		line string
		want User
	}{{
		line: "user default on nopass sanitize-payload ~* &* +@all",
		want: User{Name: "default", On: true, NoPass: true, Root: Selector{Commands: []string{"+@all"}, Keys: []string{"~*"}, Channels: []string{"&*"}}},
	}, {
		// Redis 7.0's ACL LIST of "+@read +@write -@dangerous", shortened,
		// with two passwords and a selector.
		line: "user rk on #" + h1 + " #" + strings.ToUpper(h2) + " ~app:* %R~ro:* resetchannels &news.* -@all +@string +@keyspace -flushall -keys +acl|whoami +select|0" +
			" (~tmp:* resetchannels -@all +config|get +get)",
		want: User{Name: "rk", On: true, Passwords: []string{h1, h2},
			Root: Selector{
				Commands: []string{"-@all", "+@string", "+@keyspace", "-flushall", "-keys", "+acl|whoami", "+select|0"},
				Keys:     []string{"~app:*", "%R~ro:*"}, Channels: []string{"&news.*"},
			},
			Selectors: []Selector{{Commands: []string{"-@all", "+config|get", "+get"}, Keys: []string{"~tmp:*"}}},
		},
	}, {
		line: "user rk off >one >two <one >two",
		want: User{Name: "rk", Passwords: []string{h2}},
	}, {
		line: "user rk on >one nopass",
		want: User{Name: "rk", On: true, NoPass: true},
	}, {
		line: "user rk on nopass >one resetpass >two !" + h2,
		want: User{Name: "rk", On: true},
	}, {
		// +@all and -@all start the rules again.
		line: "user rk +get +@all -@dangerous +flushdb",
		want: User{Name: "rk", Root: Selector{Commands: []string{"+@all", "-@dangerous", "+flushdb"}}},
	}, {
		line: "user rk allcommands nocommands +GET",
		want: User{Name: "rk", Root: Selector{Commands: []string{"-@all", "+get"}}},
	}, {
		line: "user rk ~a %RW~b %R~c %w~d ~a resetkeys ~Key:* allchannels",
		want: User{Name: "rk", Root: Selector{Keys: []string{"~Key:*"}, Channels: []string{"&*"}}},
	}, {
		line: "user rk %RW~* &a &b resetchannels",
		want: User{Name: "rk", Root: Selector{Keys: []string{"~*"}}},
	}, {
		line: "user rk ON (+get) (~x +set) clearselectors (%R~y   +@read)",
		want: User{Name: "rk", On: true, Selectors: []Selector{{Commands: []string{"-@all", "+@read"}, Keys: []string{"%R~y"}}}},
	}, {
		line: "user rk on >one ~* +@all (+get) reset",
		want: User{Name: "rk", Root: Selector{Commands: []string{"-@all"}}},
	}}
	for _, tc := range tests {
		u, err := ParseUser(tc.line)
		if err != nil {
			t.Errorf("ParseUser(%q): %v", tc.line, err)
			continue
		}
		if diff := cmp.Diff(tc.want, *u); diff != "" {
			t.Errorf("ParseUser(%q) (-want +got):\n%s", tc.line, diff)
		}
	}
}

func TestParseUserErrors(t *testing.T) {
	for _, line := range []string{
		"",
		"user",
		"role rk on",
		"user rk (~a +get",
		"user rk #0123",
		"user rk #" + strings.Repeat("zz", 32),
		"user rk bogus",
		"user rk %X~a",
		"user rk %R",
		"user rk +",
		"user rk -@",
		"user rk (>s3cret-in-selector)",
		"user rk (~a <s3cret-in-selector)",
	} {
		_, err := ParseUser(line)
		if err == nil {
			t.Errorf("ParseUser(%q): no error", line)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("ParseUser(%q): error quotes the password: %v", line, err)
		}
	}
}

// A Redis 6 ACL GETUSER reply: patterns as arrays, all-keys as a flag.
func TestUserFromGetUserRedis6(t *testing.T) {
	bulk := func(s string) value { return value{kind: '$', str: s} }
	arr := func(vs ...value) value { return value{kind: '*', arr: vs} }
	reply := arr(
		bulk("flags"), arr(bulk("on"), bulk("allkeys"), bulk("allchannels")),
		bulk("passwords"), arr(bulk(sha("one"))),
		bulk("commands"), bulk("+@all -debug"),
		bulk("keys"), arr(bulk("*")),
		bulk("channels"), arr(bulk("*")),
	)
	u, err := userFromGetUser("old", reply)
	if err != nil {
		t.Fatal(err)
	}
	want := User{Name: "old", On: true, Passwords: []string{sha("one")},
		Root: Selector{Commands: []string{"+@all", "-debug"}, Keys: []string{"~*"}, Channels: []string{"&*"}}}
	if diff := cmp.Diff(want, *u); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	reply = arr(bulk("flags"), arr(bulk("off")), bulk("passwords"), arr(), bulk("commands"), bulk("-@all +get"),
		bulk("keys"), arr(bulk("app:*"), bulk("log:*")))
	u, err = userFromGetUser("six", reply)
	if err != nil {
		t.Fatal(err)
	}
	want = User{Name: "six", Root: Selector{Commands: []string{"-@all", "+get"}, Keys: []string{"~app:*", "~log:*"}}}
	if diff := cmp.Diff(want, *u); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	if _, err := userFromGetUser("bad", arr(bulk("flags"))); err == nil {
		t.Error("odd-length reply: no error")
	}
}

func TestGrade(t *testing.T) {
	const (
		crit = provider.RiskCritical
		high = provider.RiskHigh
		med  = provider.RiskMedium
		low  = provider.RiskLow
	)
	type P = provider.Privilege
	tests := []struct {
		rules    string
		want     []P
		creators []string
	}{{
		rules:    "~* &* +@all",
		want:     []P{{Name: "+@all", Risk: crit, CreatesCredentials: true}, {Name: "~*", Risk: med}, {Name: "&*", Risk: low}},
		creators: []string{"acl|setuser", "config|set", "module|load", "module|loadex"},
	}, {
		// Without every key, +@all still creates users.
		rules:    "~app:* +@all",
		want:     []P{{Name: "+@all", Risk: high, CreatesCredentials: true}, {Name: "~app:*", Risk: low}},
		creators: []string{"acl|setuser", "config|set", "module|load", "module|loadex"},
	}, {
		rules: "~* +@all -@dangerous",
		want:  []P{{Name: "+@all except -@dangerous", Risk: med}, {Name: "~*", Risk: med}},
	}, {
		// Taking ACL SETUSER away leaves CONFIG SET and MODULE LOAD.
		rules:    "~* +@all -acl|setuser",
		want:     []P{{Name: "+@all except -acl|setuser", Risk: crit, CreatesCredentials: true}, {Name: "~*", Risk: med}},
		creators: []string{"config|set", "module|load", "module|loadex"},
	}, {
		rules: "~* +@all -acl -config -module",
		want:  []P{{Name: "+@all except -acl -config -module", Risk: high}, {Name: "~*", Risk: med}},
	}, {
		rules:    "~* -@all +@admin",
		want:     []P{{Name: "+@admin", Risk: crit, CreatesCredentials: true}, {Name: "~*", Risk: low}},
		creators: []string{"acl|setuser", "config|set", "module|load", "module|loadex"},
	}, {
		rules:    "~* +@dangerous",
		want:     []P{{Name: "+@dangerous", Risk: crit, CreatesCredentials: true}, {Name: "~*", Risk: med}},
		creators: []string{"acl|setuser", "config|set", "module|load", "module|loadex"},
	}, {
		rules:    "~app:* +@read +@write +acl",
		want:     []P{{Name: "+acl", Risk: high, CreatesCredentials: true}, {Name: "+@write", Risk: med}, {Name: "+@read", Risk: low}, {Name: "~app:*", Risk: low}},
		creators: []string{"acl|setuser"},
	}, {
		// Without FLUSHALL, +@write still allows FUNCTION LOAD and FLUSH,
		// which no key pattern restricts either.
		rules: "~app:* +@read +@write -@dangerous",
		want:  []P{{Name: "+@write except -@dangerous", Risk: med}, {Name: "+@read except -@dangerous", Risk: low}, {Name: "~app:*", Risk: low}},
	}, {
		rules: "~app:* +@read +@write -@dangerous -function",
		want:  []P{{Name: "+@read except -@dangerous", Risk: low}, {Name: "+@write except -@dangerous -function", Risk: low}, {Name: "~app:*", Risk: low}},
	}, {
		rules: "~* +@read +@write -@dangerous",
		want:  []P{{Name: "+@write except -@dangerous", Risk: med}, {Name: "~*", Risk: med}, {Name: "+@read except -@dangerous", Risk: low}},
	}, {
		rules: "%R~* +@read",
		want:  []P{{Name: "%R~*", Risk: low}, {Name: "+@read", Risk: low}},
	}, {
		rules: "+acl|whoami +acl|getuser +config|get +debug",
		want:  []P{{Name: "+acl|getuser", Risk: high}, {Name: "+config|get", Risk: high}, {Name: "+debug", Risk: high}, {Name: "+acl|whoami", Risk: low}},
	}, {
		rules:    "+config|set +module|load",
		want:     []P{{Name: "+config|set", Risk: high, CreatesCredentials: true}, {Name: "+module|load", Risk: high, CreatesCredentials: true}},
		creators: []string{"config|set", "module|load"},
	}, {
		// Rules the table does not know: a first argument, a module's command.
		rules: "+select|0 +mymodule.cmd",
		want:  []P{{Name: "+mymodule.cmd", Risk: low}, {Name: "+select|0", Risk: low}},
	}, {
		// Allowed, then taken back whole: nothing left.
		rules: "+acl|setuser -acl",
	}, {
		rules: "~app:* +get (~* +@all) (~tmp:* +set)",
		want: []P{
			{Name: "+@all", Risk: crit, Via: "selector 1 (~* +@all)", CreatesCredentials: true},
			{Name: "~*", Risk: med, Via: "selector 1 (~* +@all)"},
			{Name: "+get", Risk: low}, {Name: "~app:*", Risk: low},
			{Name: "+set", Risk: low, Via: "selector 2 (~tmp:* +set)"}, {Name: "~tmp:*", Risk: low, Via: "selector 2 (~tmp:* +set)"},
		},
		creators: []string{"acl|setuser", "config|set", "module|load", "module|loadex"},
	}, {
		// Anyone holds what a nopass user holds.
		rules:    "nopass ~* +@all",
		want:     []P{{Name: "+@all", Risk: crit, CreatesCredentials: true}, {Name: "nopass", Risk: crit}, {Name: "~*", Risk: med}},
		creators: []string{"acl|setuser", "config|set", "module|load", "module|loadex"},
	}, {
		rules: "nopass ~cache:* +get",
		want:  []P{{Name: "+get", Risk: low}, {Name: "nopass", Risk: low}, {Name: "~cache:*", Risk: low}},
	}}
	cat := builtinCatalog()
	for _, tc := range tests {
		u, err := ParseUser("user rk on " + tc.rules)
		if err != nil {
			t.Fatalf("%s: %v", tc.rules, err)
		}
		got, creators := grade(u, cat)
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("grade(%s) privileges (-want +got):\n%s", tc.rules, diff)
		}
		if diff := cmp.Diff(tc.creators, creators); diff != "" {
			t.Errorf("grade(%s) credential commands (-want +got):\n%s", tc.rules, diff)
		}
	}
}

// On Redis 6 the command table has no subcommands: +acl is ACL whole, and
// +acl|whoami a first-argument rule judged by its name.
func TestGradeRedis6Table(t *testing.T) {
	cat := catalog{
		"acl":    {name: "acl", cats: map[string]bool{"admin": true, "slow": true, "dangerous": true}, keyless: true},
		"config": {name: "config", cats: map[string]bool{"admin": true, "slow": true, "dangerous": true}, keyless: true},
		"get":    {name: "get", cats: map[string]bool{"read": true, "string": true}},
	}
	u, err := ParseUser("user rk on ~* +get +acl|whoami +config|get")
	if err != nil {
		t.Fatal(err)
	}
	privs, creators := grade(u, cat)
	want := []provider.Privilege{{Name: "+config|get", Risk: provider.RiskHigh}, {Name: "+acl|whoami", Risk: provider.RiskLow},
		{Name: "+get", Risk: provider.RiskLow}, {Name: "~*", Risk: provider.RiskLow}}
	if diff := cmp.Diff(want, privs); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if len(creators) != 0 {
		t.Errorf("credential commands %v, want none", creators)
	}
	u, _ = ParseUser("user rk on +acl")
	if privs, creators := grade(u, cat); !privs[0].CreatesCredentials || len(creators) != 1 {
		t.Errorf("+acl on Redis 6: %+v %v, want it to create credentials", privs, creators)
	}
}

func TestSessions(t *testing.T) {
	const list = "id=3 addr=10.0.0.5:40000 laddr=10.0.0.1:6379 fd=8 name=orders-api age=120 idle=0 flags=N db=2 sub=0 user=orders resp=2\n" +
		"id=4 addr=127.0.0.1:50000 laddr=127.0.0.1:6379 fd=9 name= age=5 idle=0 flags=N db=0 user=default resp=2\n" +
		"id=5 addr=/tmp/redis.sock:0 laddr=/tmp/redis.sock:0 fd=10 name=cron age=60 idle=0 flags=U db=0 user=orders resp=2\n" +
		"id=6 addr=10.0.0.6:40001 laddr=10.0.0.1:6379 fd=11 name=rekey age=1 idle=0 flags=N db=0 user=orders resp=2\n" +
		"id=7 addr=10.0.0.7:40002 laddr=10.0.0.1:6379 fd=12 name= age=60 idle=0 flags=N db=0 user=orders2 resp=2\n"
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	got := sessions(list, "orders", map[string]bool{"6": true}, now)
	want := []provider.Session{
		{ID: "3", Client: "10.0.0.5:40000", Application: "orders-api", Started: now.Add(-120 * time.Second), Database: "2"},
		{ID: "5", Client: "local", Application: "cron", Started: now.Add(-60 * time.Second), Database: "0"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := sessions("", "orders", nil, now); got == nil || len(got) != 0 {
		t.Errorf("sessions of an empty list = %#v, want an empty slice", got)
	}
}
