package mysql

import (
	"sort"
	"strconv"
	"strings"

	"github.com/rekeyhq/rekey/internal/provider"
)

// mariaBits names the bits of MariaDB's global access mask (sql/privilege.h),
// with the version that introduced each. Bits above the last are named
// "PRIVILEGE BIT n": their meaning differs between MariaDB branches.
var mariaBits = []struct {
	name  string
	since [3]int
}{
	{"SELECT", [3]int{}}, {"INSERT", [3]int{}}, {"UPDATE", [3]int{}}, {"DELETE", [3]int{}},
	{"CREATE", [3]int{}}, {"DROP", [3]int{}}, {"RELOAD", [3]int{}}, {"SHUTDOWN", [3]int{}},
	{"PROCESS", [3]int{}}, {"FILE", [3]int{}}, {"GRANT OPTION", [3]int{}}, {"REFERENCES", [3]int{}},
	{"INDEX", [3]int{}}, {"ALTER", [3]int{}}, {"SHOW DATABASES", [3]int{}}, {"SUPER", [3]int{}},
	{"CREATE TEMPORARY TABLES", [3]int{}}, {"LOCK TABLES", [3]int{}}, {"EXECUTE", [3]int{}},
	{"REPLICATION SLAVE", [3]int{}}, {"BINLOG MONITOR", [3]int{}}, // bit 20: REPLICATION CLIENT before 10.5.2
	{"CREATE VIEW", [3]int{}}, {"SHOW VIEW", [3]int{}}, {"CREATE ROUTINE", [3]int{}}, {"ALTER ROUTINE", [3]int{}},
	{"CREATE USER", [3]int{}}, {"EVENT", [3]int{}}, {"TRIGGER", [3]int{}}, {"CREATE TABLESPACE", [3]int{}},
	{"DELETE HISTORY", [3]int{10, 3, 4}},
	{"SET USER", [3]int{10, 5, 2}}, {"FEDERATED ADMIN", [3]int{10, 5, 2}}, {"CONNECTION ADMIN", [3]int{10, 5, 2}},
	{"READ_ONLY ADMIN", [3]int{10, 5, 2}}, {"REPLICATION SLAVE ADMIN", [3]int{10, 5, 2}},
	{"REPLICATION MASTER ADMIN", [3]int{10, 5, 2}}, {"BINLOG ADMIN", [3]int{10, 5, 2}}, {"BINLOG REPLAY", [3]int{10, 5, 2}},
	{"SLAVE MONITOR", [3]int{10, 5, 8}},
}

const grantBit = 10

// mariaGlobal decodes an access mask. all is true when every privilege
// this version knows is set (GRANT OPTION aside): SHOW GRANTS then says
// ALL PRIVILEGES.
func mariaGlobal(f flavor, access uint64) (names []string, all, grant bool) {
	var known uint64
	for bit, b := range mariaBits {
		if !f.atLeast(b.since[0], b.since[1], b.since[2]) {
			continue
		}
		known |= 1 << bit
	}
	grant = access&(1<<grantBit) != 0
	need := known &^ (1 << grantBit)
	if access&need == need {
		return nil, true, grant
	}
	for bit := range 64 {
		if access&(1<<bit) == 0 || bit == grantBit {
			continue
		}
		switch {
		case known&(1<<bit) != 0:
			name := mariaBits[bit].name
			if bit == 20 && !f.atLeast(10, 5, 2) {
				name = "REPLICATION CLIENT"
			}
			names = append(names, name)
		default:
			names = append(names, "PRIVILEGE BIT "+strconv.Itoa(bit))
		}
	}
	return names, false, grant
}

// privColumns maps mysql.user / mysql.db column stems (lower case, without
// "_priv") whose privilege name is not the stem in upper case.
var privColumns = map[string]string{
	"grant":             "GRANT OPTION",
	"show_db":           "SHOW DATABASES",
	"create_tmp_table":  "CREATE TEMPORARY TABLES",
	"repl_slave":        "REPLICATION SLAVE",
	"repl_client":       "REPLICATION CLIENT",
	"create_routine":    "CREATE ROUTINE",
	"alter_routine":     "ALTER ROUTINE",
	"create_user":       "CREATE USER",
	"create_view":       "CREATE VIEW",
	"show_view":         "SHOW VIEW",
	"create_tablespace": "CREATE TABLESPACE",
	"delete_history":    "DELETE HISTORY",
	"create_role":       "CREATE ROLE",
	"drop_role":         "DROP ROLE",
	"lock_tables":       "LOCK TABLES",
}

func privColumnName(stem string) string {
	stem = strings.ToLower(stem)
	if n, ok := privColumns[stem]; ok {
		return n
	}
	return strings.ToUpper(strings.ReplaceAll(stem, "_", " "))
}

// setPrivName maps a value of tables_priv.Table_priv, columns_priv.Column_priv
// or procs_priv.Proc_priv ("Select", "Create View", "Grant", "Delete
// versioning rows") to the privilege's name.
func setPrivName(v string) string {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "grant":
		return "GRANT OPTION"
	case "delete versioning rows":
		return "DELETE HISTORY"
	}
	return strings.ToUpper(strings.TrimSpace(v))
}

// globalRisk grades a privilege held ON *.*. creds marks those that let
// the holder make or change credentials: CREATE USER, GRANT OPTION, and
// writes on every table, the grant tables included.
func globalRisk(name string) (risk provider.Risk, creds bool) {
	switch name {
	case "SUPER":
		return provider.RiskCritical, false
	case "CREATE USER", "GRANT OPTION", "INSERT", "UPDATE", "ROLE_ADMIN":
		return provider.RiskHigh, true
	case "FILE", "PROCESS", "SHUTDOWN", "RELOAD", "SELECT", "DELETE", "DROP", "SET USER", "SYSTEM_USER",
		"SET_USER_ID", "SET_ANY_DEFINER", "BINLOG MONITOR", "SLAVE MONITOR", "BINLOG REPLAY":
		// SELECT reads the stored password hashes too.
		return provider.RiskHigh, false
	case "SHOW DATABASES", "USAGE":
		return provider.RiskLow, false
	}
	if strings.HasPrefix(name, "REPLICATION") || strings.HasSuffix(name, " ADMIN") || strings.HasSuffix(name, "_ADMIN") {
		return provider.RiskHigh, false
	}
	return provider.RiskMedium, false
}

// objectRisk grades a privilege on a database (db may be a LIKE pattern),
// table, column or routine. The mysql schema holds the grant tables and
// the password hashes: writing it is full control.
func objectRisk(name, db string) (risk provider.Risk, creds bool) {
	grantTables := likeMatch(db, "mysql")
	switch name {
	case "GRANT OPTION":
		return provider.RiskHigh, true
	case "INSERT", "UPDATE":
		if grantTables {
			return provider.RiskCritical, true
		}
		return provider.RiskMedium, false
	case "DELETE", "DROP", "DELETE HISTORY", "CREATE", "ALTER":
		if grantTables {
			return provider.RiskHigh, false
		}
		if name == "CREATE" || name == "ALTER" {
			return provider.RiskLow, false
		}
		return provider.RiskMedium, false
	case "SELECT":
		if grantTables {
			return provider.RiskHigh, false
		}
		return provider.RiskLow, false
	case "CREATE ROUTINE", "ALTER ROUTINE", "TRIGGER", "EVENT":
		// Objects that run with their definer's privileges.
		return provider.RiskMedium, false
	}
	return provider.RiskLow, false
}

func sortIdentity(id *provider.Identity) {
	sort.SliceStable(id.Privileges, func(a, b int) bool {
		pa, pb := id.Privileges[a], id.Privileges[b]
		if ra, rb := pa.Risk.Rank(), pb.Risk.Rank(); ra != rb {
			return ra < rb
		}
		if pa.Name != pb.Name {
			return pa.Name < pb.Name
		}
		return pa.Via < pb.Via
	})
	// Related keeps the order each kind was listed in (created users most
	// recently changed first), grouped by kind.
	sort.SliceStable(id.Related, func(a, b int) bool { return id.Related[a].Kind < id.Related[b].Kind })
	sort.SliceStable(id.Sessions, func(a, b int) bool {
		if !id.Sessions[a].Started.Equal(id.Sessions[b].Started) {
			return id.Sessions[a].Started.Before(id.Sessions[b].Started)
		}
		return id.Sessions[a].ID < id.Sessions[b].ID
	})
}
