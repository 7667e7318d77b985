package redis

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// command is one command an ACL rule can allow: a command without
// subcommands ("get") or a subcommand ("acl|setuser").
type command struct {
	name  string
	cats  map[string]bool // ACL categories, without "@"
	write bool            // flagged write: it may change data
	// keyless commands take no key, so key patterns do not restrict them:
	// FLUSHALL empties every database whatever the user's ~patterns.
	keyless bool
}

func (c *command) parent() string {
	p, _, _ := strings.Cut(c.name, "|")
	return p
}

// catalog is every command by name, subcommands in place of their parent.
type catalog map[string]*command

// catalog returns the server's command table, read with COMMAND once per
// provider. An administrator that may not run COMMAND (or a reply rekey
// cannot read) falls back on the built-in table of the commands that
// matter for risk.
func (p *Redis) catalog(ctx context.Context) (catalog, error) {
	p.catMu.Lock()
	defer p.catMu.Unlock()
	if p.cat != nil {
		return p.cat, nil
	}
	vs, err := p.exec(ctx, "read the command table", []string{"COMMAND"})
	if err != nil {
		return nil, err
	}
	cat, perr := parseCommandTable(vs[0])
	if vs[0].err() != nil || perr != nil || len(cat) == 0 {
		cat = builtinCatalog()
	}
	p.cat = cat
	return cat, nil
}

// parseCommandTable reads the reply of COMMAND: per command its name,
// arity, flags, first key, last key, step, then (Redis 6) its ACL
// categories and (Redis 7) tips, key specs and subcommands.
func parseCommandTable(v value) (catalog, error) {
	if v.kind != '*' {
		return nil, fmt.Errorf("%w: COMMAND is not a list", errProtocol)
	}
	cat := catalog{}
	var add func(e value) error
	add = func(e value) error {
		if e.kind != '*' || len(e.arr) < 6 {
			return fmt.Errorf("%w: COMMAND entry", errProtocol)
		}
		name, ok := e.arr[0].text()
		if !ok {
			return fmt.Errorf("%w: COMMAND entry without a name", errProtocol)
		}
		if len(e.arr) > 9 && len(e.arr[9].arr) > 0 {
			for _, sub := range e.arr[9].arr {
				if err := add(sub); err != nil {
					return err
				}
			}
			return nil
		}
		c := &command{name: strings.ToLower(name), cats: map[string]bool{}}
		flags, _ := e.arr[2].strings()
		movable := false
		for _, f := range flags {
			switch strings.ToLower(f) {
			case "write":
				c.write = true
			case "movablekeys":
				movable = true
			}
		}
		c.keyless = e.arr[3].kind == ':' && e.arr[3].num == 0 && !movable
		if len(e.arr) > 6 {
			cats, _ := e.arr[6].strings()
			for _, k := range cats {
				c.cats[strings.TrimPrefix(strings.ToLower(k), "@")] = true
			}
		}
		cat[c.name] = c
		return nil
	}
	for _, e := range v.arr {
		if err := add(e); err != nil {
			return nil, err
		}
	}
	return cat, nil
}

// builtin is the part of Redis 7.0's command table that decides a risk:
// commands that create users, read credentials or load code, keyless
// writes (which key patterns do not restrict), and a few ordinary commands
// of each kind. Fields: name,
// categories, then "w" for write and "k" for keyless. Used when the
// administrator may not run COMMAND, and by the tests, which also check it
// against the server.
const builtin = `
acl|setuser admin,slow,dangerous k
acl|load admin,slow,dangerous k
acl|deluser admin,slow,dangerous k
acl|getuser admin,slow,dangerous k
acl|list admin,slow,dangerous k
acl|save admin,slow,dangerous k
acl|log admin,slow,dangerous k
acl|users admin,slow,dangerous k
acl|dryrun admin,slow,dangerous k
acl|whoami slow k
acl|cat slow k
acl|genpass slow k
config|set admin,slow,dangerous k
config|get admin,slow,dangerous k
config|rewrite admin,slow,dangerous k
config|resetstat admin,slow,dangerous k
module|load admin,slow,dangerous k
module|loadex admin,slow,dangerous k
module|unload admin,slow,dangerous k
module|list admin,slow,dangerous k
debug admin,slow,dangerous k
replicaof admin,slow,dangerous k
slaveof admin,slow,dangerous k
shutdown admin,slow,dangerous k
monitor admin,slow,dangerous k
client|kill admin,slow,dangerous,connection k
client|list admin,slow,dangerous,connection k
client|setname slow,connection k
flushall keyspace,write,slow,dangerous wk
flushdb keyspace,write,slow,dangerous wk
swapdb keyspace,write,fast,dangerous wk
keys keyspace,read,slow,dangerous k
del keyspace,write,slow w
get read,string,fast
set write,string,slow w
hset write,hash,fast w
lpush write,list,fast w
eval slow,scripting
function|load write,slow,scripting wk
function|flush write,slow,scripting wk
function|delete write,slow,scripting wk
function|restore write,slow,scripting wk
publish pubsub,fast k
subscribe pubsub,slow k
select fast,connection k
ping fast,connection k
`

func builtinCatalog() catalog {
	cat := catalog{}
	for _, line := range strings.Split(strings.TrimSpace(builtin), "\n") {
		f := strings.Fields(line)
		c := &command{name: f[0], cats: map[string]bool{}}
		for _, k := range strings.Split(f[1], ",") {
			c.cats[k] = true
		}
		if len(f) > 2 {
			c.write = strings.Contains(f[2], "w")
			c.keyless = strings.Contains(f[2], "k")
		}
		cat[c.name] = c
	}
	return cat
}

// cmdRule is one parsed command rule.
type cmdRule struct {
	text  string // as stated: "+@admin", "-acl|setuser"
	allow bool
	all   bool   // +@all, -@all
	cat   string // "admin" for +@admin
	cmd   string // "acl" for +acl and +acl|setuser
	sub   string // "setuser" for +acl|setuser; a first argument for +select|0
}

func parseCmdRule(r string) cmdRule {
	c := cmdRule{text: r, allow: r[0] == '+'}
	body := r[1:]
	switch {
	case body == "@all":
		c.all = true
	case strings.HasPrefix(body, "@"):
		c.cat = body[1:]
	default:
		c.cmd, c.sub, _ = strings.Cut(body, "|")
	}
	return c
}

func (r cmdRule) matches(c *command) bool {
	switch {
	case r.all:
		return true
	case r.cat != "":
		return c.cats[r.cat]
	case r.sub == "":
		return c.parent() == r.cmd
	}
	return c.name == r.cmd+"|"+r.sub
}

// evaluation is a selector's command rules applied to a catalog.
type evaluation struct {
	rules  []cmdRule
	cmds   []*command
	last   []int // per command, the index of the last rule that covers it, or -1
	byName map[string]int
}

// evaluate applies s's command rules to every command of cat. A rule
// naming a command or subcommand the catalog lacks (a module's command, a
// first-argument rule such as +select|0) adds it, with its parent's
// categories, so that it is judged by its name.
func evaluate(s Selector, cat catalog) *evaluation {
	ev := &evaluation{byName: map[string]int{}}
	names := make([]string, 0, len(cat))
	for n := range cat {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ev.add(cat[n])
	}
	for _, r := range s.Commands {
		cr := parseCmdRule(r)
		ev.rules = append(ev.rules, cr)
		if cr.cmd == "" {
			continue
		}
		name := cr.cmd
		if cr.sub != "" {
			name += "|" + cr.sub
		}
		if _, ok := ev.byName[name]; ok {
			continue
		}
		if cr.sub == "" && hasSubcommands(cat, cr.cmd) {
			continue
		}
		c := &command{name: name, cats: map[string]bool{}}
		if parent, ok := cat[cr.cmd]; ok {
			for k := range parent.cats {
				c.cats[k] = true
			}
			c.write, c.keyless = parent.write, parent.keyless
		}
		ev.add(c)
	}
	ev.last = make([]int, len(ev.cmds))
	for i, c := range ev.cmds {
		ev.last[i] = -1
		for j, r := range ev.rules {
			if r.matches(c) {
				ev.last[i] = j
			}
		}
	}
	return ev
}

func (ev *evaluation) add(c *command) {
	ev.byName[c.name] = len(ev.cmds)
	ev.cmds = append(ev.cmds, c)
}

func hasSubcommands(cat catalog, cmd string) bool {
	for n := range cat {
		if strings.HasPrefix(n, cmd+"|") {
			return true
		}
	}
	return false
}

// allowed reports whether the selector allows the command at index i.
func (ev *evaluation) allowed(i int) bool {
	return ev.last[i] >= 0 && ev.rules[ev.last[i]].allow
}
