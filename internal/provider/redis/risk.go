package redis

import (
	"sort"
	"strconv"
	"strings"

	"github.com/rekeyhq/rekey/internal/provider"
)

// credentialCommands can create or change users, or load code that can:
// what they allow survives rotating the holder's password.
var credentialCommands = map[string]string{
	"acl|setuser": "ACL SETUSER",
	"config|set":  "CONFIG SET", // requirepass is the default user's password
	"module|load": "MODULE LOAD",
	// Redis 7.0
	"module|loadex": "MODULE LOADEX",
	// Redis 6, whose command table has no subcommands: the whole command.
	"acl":    "ACL",
	"config": "CONFIG",
	"module": "MODULE",
}

// highCommands take over the server or read credentials without creating
// users: password hashes (fast SHA-256, open to offline guessing),
// requirepass and masterauth in clear, every user reset to the ACL file's,
// a replica of another server's data.
var highCommands = map[string]bool{
	"acl|getuser": true, "acl|list": true, "acl|deluser": true, "acl|load": true, "acl|save": true,
	"config|get": true, "config|rewrite": true,
	"module|unload": true,
	"debug":         true,
	"replicaof":     true, "slaveof": true,
}

// grade turns a user's ACL into privileges with risk. Each command rule
// that allows something is one privilege, named as Redis states it, with
// the later rules that take part of it back ("+@all except -@dangerous");
// each key and channel pattern is one more. A selector's privileges come
// "via" it. It also returns the credential commands the user may run
// (credentialCommands' names), for the related credentials.
//
// The risk of a command rule, from what it alone allows in the end:
//   - critical: +@all, +@admin or +@dangerous allowing a credential command,
//     on every key (~*): full control of the server and its data;
//   - high: a credential command (also CreatesCredentials), a command of
//     highCommands, or +@admin / +@dangerous allowing anything;
//   - medium: write commands on every key, or keyless writes, which key
//     patterns do not restrict: FLUSHALL, FLUSHDB and SWAPDB reach every
//     key, FUNCTION LOAD and FLUSH replace the code other users' FCALL
//     runs;
//   - low: everything else.
//
// A key pattern is medium when it is every key (~*, %W~*) and the selector
// allows writes; other patterns and channels are low. A nopass user gets a
// "nopass" privilege as risky as its riskiest: anyone who reaches the
// server holds it.
func grade(u *User, cat catalog) (privs []provider.Privilege, creators []string) {
	seen := map[string]bool{}
	add := func(p provider.Privilege) {
		if k := p.Via + "\x00" + p.Name; !seen[k] {
			seen[k] = true
			privs = append(privs, p)
		}
	}
	made := map[string]bool{}
	sels := append([]Selector{u.Root}, u.Selectors...)
	for i, s := range sels {
		via := ""
		if i > 0 {
			via = "selector " + strconv.Itoa(i) + " (" + s.String() + ")"
		}
		ps, cs := gradeSelector(s, cat, via)
		for _, p := range ps {
			add(p)
		}
		for _, c := range cs {
			made[c] = true
		}
	}
	if u.NoPass {
		worst := provider.RiskLow
		for _, p := range privs {
			worst = provider.MaxRisk(worst, p.Risk)
		}
		add(provider.Privilege{Name: "nopass", Risk: worst})
	}
	for c := range made {
		creators = append(creators, c)
	}
	sort.Strings(creators)
	sortPrivileges(privs)
	return privs, creators
}

func gradeSelector(s Selector, cat catalog, via string) (privs []provider.Privilege, creators []string) {
	ev := evaluate(s, cat)
	allKeys := false
	for _, k := range s.Keys {
		if k == "~*" || k == "%W~*" {
			allKeys = true
		}
	}
	writes := false
	for i, c := range ev.cmds {
		if !ev.allowed(i) {
			continue
		}
		writes = writes || c.write
		if _, ok := credentialCommands[c.name]; ok {
			creators = append(creators, c.name)
		}
	}
	for j, r := range ev.rules {
		if !r.allow {
			continue
		}
		var eff []*command
		matched := 0
		except := map[int]bool{}
		for i, c := range ev.cmds {
			if !r.matches(c) {
				continue
			}
			matched++
			switch l := ev.last[i]; {
			case l == j:
				eff = append(eff, c)
			case l > j && !ev.rules[l].allow:
				except[l] = true
			}
		}
		if matched > 0 && len(eff) == 0 {
			continue // taken back whole by later rules
		}
		name := r.text
		if len(except) > 0 {
			var ex []int
			for l := range except {
				ex = append(ex, l)
			}
			sort.Ints(ex)
			var txt []string
			for _, l := range ex {
				txt = append(txt, ev.rules[l].text)
			}
			name += " except " + strings.Join(txt, " ")
		}
		risk, creds := ruleRisk(r, eff, allKeys)
		privs = append(privs, provider.Privilege{Name: name, Risk: risk, Via: via, CreatesCredentials: creds})
	}
	for _, k := range s.Keys {
		risk := provider.RiskLow
		if (k == "~*" || k == "%W~*") && writes {
			risk = provider.RiskMedium
		}
		privs = append(privs, provider.Privilege{Name: k, Risk: risk, Via: via})
	}
	for _, c := range s.Channels {
		privs = append(privs, provider.Privilege{Name: c, Risk: provider.RiskLow, Via: via})
	}
	return privs, creators
}

// ruleRisk grades one allowing rule by eff, the commands it alone allows
// in the end (see grade).
func ruleRisk(r cmdRule, eff []*command, allKeys bool) (provider.Risk, bool) {
	var creds, high, admin, writes, keylessWrites bool
	for _, c := range eff {
		if _, ok := credentialCommands[c.name]; ok {
			creds = true
		}
		high = high || highCommands[c.name]
		admin = admin || c.cats["admin"] || c.cats["dangerous"]
		writes = writes || c.write
		keylessWrites = keylessWrites || c.write && c.keyless
	}
	broad := r.all || r.cat == "admin" || r.cat == "dangerous"
	switch {
	case broad && creds && allKeys:
		return provider.RiskCritical, true
	case creds:
		return provider.RiskHigh, true
	case high, broad && admin:
		return provider.RiskHigh, false
	case allKeys && writes, keylessWrites:
		return provider.RiskMedium, false
	}
	return provider.RiskLow, false
}

// sortPrivileges orders by risk, then the root's before selectors', then
// name.
func sortPrivileges(ps []provider.Privilege) {
	sort.SliceStable(ps, func(a, b int) bool {
		pa, pb := ps[a], ps[b]
		if ra, rb := pa.Risk.Rank(), pb.Risk.Rank(); ra != rb {
			return ra < rb
		}
		if pa.Via != pb.Via {
			return pa.Via < pb.Via
		}
		return pa.Name < pb.Name
	})
}
