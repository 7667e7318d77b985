package mysql

import (
	"context"
	"database/sql"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"
)

// method is one way an account may authenticate: a plugin and what it
// stores (a password hash for the password plugins).
type method struct {
	plugin, auth string
}

// account is one row of mysql.global_priv or mysql.user, read into what
// rekey needs. It holds stored password hashes: never print it.
type account struct {
	acct
	role    bool
	methods []method
	locked  bool
	// expired is PASSWORD EXPIRE; a lifetime that ran out is computed from
	// lastChanged and lifetimeDays by expiry.
	expired      bool
	lastChanged  time.Time // zero when unknown
	lifetimeDays int       // -1: the server's default_password_lifetime; 0: never
	// Global privileges: the access bitmask (MariaDB 10.4+), or the
	// privilege columns set to 'Y' (mysql.user), by privilege name.
	access    uint64
	hasAccess bool
	colPrivs  []string
	colTotal  int // privilege columns in the row, GRANT OPTION's aside
	// bad says why the row could not be read; such an account is skipped.
	bad string
}

// globalPriv is mysql.global_priv.Priv, the parts read here.
type globalPriv struct {
	Access     *uint64 `json:"access"`
	Plugin     string  `json:"plugin"`
	AuthString string  `json:"authentication_string"`
	AuthOr     []struct {
		Plugin     string `json:"plugin"`
		AuthString string `json:"authentication_string"`
	} `json:"auth_or"`
	IsRole              bool   `json:"is_role"`
	AccountLocked       bool   `json:"account_locked"`
	PasswordLastChanged *int64 `json:"password_last_changed"`
	PasswordLifetime    *int64 `json:"password_lifetime"`
}

// parseGlobalPriv reads one mysql.global_priv row.
func parseGlobalPriv(user, host string, priv []byte) account {
	a := account{acct: acct{user: user, host: host}, lifetimeDays: -1}
	var g globalPriv
	if err := json.Unmarshal(priv, &g); err != nil {
		a.bad = "mysql.global_priv.Priv is not valid JSON"
		return a
	}
	a.role = g.IsRole
	a.locked = g.AccountLocked
	if g.Access != nil {
		a.access, a.hasAccess = *g.Access, true
	}
	if g.PasswordLastChanged != nil {
		if *g.PasswordLastChanged == 0 {
			a.expired = true // ALTER USER … PASSWORD EXPIRE
		} else {
			a.lastChanged = time.Unix(*g.PasswordLastChanged, 0).UTC()
		}
	}
	if g.PasswordLifetime != nil {
		a.lifetimeDays = int(*g.PasswordLifetime)
	}
	if a.role {
		return a
	}
	top := method{plugin: g.Plugin, auth: g.AuthString}
	if top.plugin == "" {
		top.plugin = MethodNative
	}
	if len(g.AuthOr) == 0 {
		a.methods = []method{top}
		return a
	}
	// IDENTIFIED VIA a OR b: auth_or lists the alternatives; an empty
	// entry stands for the top-level plugin and string.
	seen := map[method]bool{}
	for _, o := range g.AuthOr {
		m := method{plugin: o.Plugin, auth: o.AuthString}
		if m.plugin == "" && m.auth == "" {
			m = top
		} else if m.plugin == "" {
			m.plugin = MethodNative
		}
		if !seen[m] {
			seen[m] = true
			a.methods = append(a.methods, m)
		}
	}
	return a
}

// userRow reads one mysql.user row given as column name → value (MySQL,
// and MariaDB before 10.4, where it is a table; MariaDB 10.4+ keeps a view
// of the same shape).
func userRow(cols map[string]sql.NullString) account {
	get := func(name string) string { return cols[name].String }
	yes := func(name string) bool { return strings.EqualFold(get(name), "Y") }
	a := account{acct: acct{user: get("user"), host: strings.ToLower(get("host"))}, lifetimeDays: -1}
	a.role = yes("is_role")
	a.locked = yes("account_locked")
	a.expired = yes("password_expired")
	if v := cols["rk_last_changed"]; v.Valid {
		if f, err := strconv.ParseFloat(v.String, 64); err == nil && f > 0 {
			a.lastChanged = time.Unix(int64(f), 0).UTC()
		}
	}
	if v := cols["password_lifetime"]; v.Valid {
		if n, err := strconv.Atoi(v.String); err == nil {
			a.lifetimeDays = n
		}
	}
	for name := range cols {
		col, ok := strings.CutSuffix(name, "_priv")
		if !ok {
			continue
		}
		if col != "grant" {
			a.colTotal++
		}
		if yes(name) {
			a.colPrivs = append(a.colPrivs, privColumnName(col))
		}
	}
	sort.Strings(a.colPrivs)
	if a.role {
		return a
	}
	plugin, auth := get("plugin"), get("authentication_string")
	// Before MySQL 5.7 and MariaDB 10.4 the native and old hashes lived in
	// Password, with plugin '' or the native plugin.
	if pw := get("password"); auth == "" && pw != "" && (plugin == "" || plugin == MethodNative || plugin == MethodOld) {
		auth = pw
		if len(pw) == 16 {
			plugin = MethodOld
		}
	}
	if plugin == "" {
		plugin = MethodNative
	}
	a.methods = []method{{plugin: plugin, auth: auth}}
	return a
}

// loadAccounts reads every account and role, or those of one user name
// when user is not nil.
func (p *MySQL) loadAccounts(ctx context.Context, user *string) ([]account, error) {
	if p.flavor.globalPriv() {
		q := "SELECT User, Host, Priv FROM mysql.global_priv"
		var args []any
		if user != nil {
			q += " WHERE User = ?"
			args = append(args, *user)
		}
		rows, err := p.db.QueryContext(ctx, q+" ORDER BY User, Host", args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []account
		for rows.Next() {
			var u, h string
			var priv []byte
			if err := rows.Scan(&u, &h, &priv); err != nil {
				return nil, err
			}
			out = append(out, parseGlobalPriv(u, strings.ToLower(h), priv))
		}
		return out, rows.Err()
	}
	return p.loadUserTable(ctx, user)
}

// loadUserTable reads mysql.user whatever its columns: they differ from
// version to version.
func (p *MySQL) loadUserTable(ctx context.Context, user *string) ([]account, error) {
	cols, err := p.userColumns(ctx)
	if err != nil {
		return nil, err
	}
	q := "SELECT *"
	if cols["password_last_changed"] {
		q += ", UNIX_TIMESTAMP(password_last_changed) AS rk_last_changed"
	}
	q += " FROM mysql.user"
	var args []any
	if user != nil {
		q += " WHERE User = ?"
		args = append(args, *user)
	}
	rows, err := p.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []account
	for rows.Next() {
		vals := make([]sql.NullString, len(names))
		ptrs := make([]any, len(names))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		m := make(map[string]sql.NullString, len(names))
		for i, n := range names {
			m[strings.ToLower(n)] = vals[i]
		}
		out = append(out, userRow(m))
	}
	return out, rows.Err()
}

func (p *MySQL) userColumns(ctx context.Context) (map[string]bool, error) {
	rows, err := p.db.QueryContext(ctx, "SELECT * FROM mysql.user LIMIT 0")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	cols := map[string]bool{}
	for _, n := range names {
		cols[strings.ToLower(n)] = true
	}
	return cols, rows.Err()
}

// expiry says when the account's password stops working (nil: never or
// unknown) and whether it already has. defaultDays is the server's
// default_password_lifetime.
func (a account) expiry(now time.Time, defaultDays int) (*time.Time, bool) {
	if a.expired {
		return nil, true
	}
	days := a.lifetimeDays
	if days < 0 {
		days = defaultDays
	}
	if days <= 0 || a.lastChanged.IsZero() {
		return nil, false
	}
	until := a.lastChanged.Add(time.Duration(days) * 24 * time.Hour)
	return &until, !now.Before(until)
}
