package redis

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// User is one ACL user as the server describes it, its rules applied in
// order the way ACL SETUSER applies them.
type User struct {
	Name   string
	On     bool // "on": it may authenticate; "off": every login is refused
	NoPass bool // "nopass": any password authenticates it
	// Passwords are the lower-case hex SHA-256 of each password: a user may
	// have several, all valid at once.
	Passwords []string
	Root      Selector
	// Selectors are Redis 7's extra permission sets, "(…)" in ACL LIST: a
	// command is allowed when the root or any selector allows it, on the
	// keys and channels of the selector that allows it.
	Selectors []Selector
}

// Selector is one set of command, key and channel permissions.
type Selector struct {
	// Commands are the command rules in order, lower case: "+@all",
	// "-@dangerous", "+get", "-acl|setuser". A later rule overrides an
	// earlier one for the commands both cover; "+@all" and "-@all" start
	// the list again.
	Commands []string
	// Keys are the key patterns: "~*" (every key, read and write),
	// "%R~cache:*" (read only), "%W~log:*" (write only).
	Keys []string
	// Channels are the Pub/Sub channel patterns: "&*", "&news.*".
	Channels []string
}

// ParseUser reads one line of ACL LIST (or of an ACL file): "user <name>
// <rule>…". Passwords given in clear (">secret") are stored as their
// hash, as the server does.
func ParseUser(line string) (*User, error) {
	toks, err := tokenize(line)
	if err != nil {
		return nil, err
	}
	if len(toks) < 2 || toks[0] != "user" {
		return nil, errors.New("an ACL line starts with \"user <name>\"")
	}
	u := &User{Name: toks[1]}
	if err := u.Apply(toks[2:]...); err != nil {
		return nil, fmt.Errorf("user %s: %w", u.Name, err)
	}
	return u, nil
}

// tokenize splits an ACL line on spaces, keeping a selector "(…)" whole.
func tokenize(line string) ([]string, error) {
	var toks []string
	for i := 0; i < len(line); {
		switch line[i] {
		case ' ', '\t', '\r', '\n':
			i++
			continue
		case '(':
			end := strings.IndexByte(line[i:], ')')
			if end < 0 {
				return nil, errors.New("a selector \"(\" is not closed")
			}
			toks = append(toks, line[i:i+end+1])
			i += end + 1
			continue
		}
		j := i
		for j < len(line) && !strings.ContainsRune(" \t\r\n", rune(line[j])) {
			j++
		}
		toks = append(toks, line[i:j])
		i = j
	}
	return toks, nil
}

// Apply applies ACL SETUSER rules to u, in order.
func (u *User) Apply(rules ...string) error {
	for _, r := range rules {
		if err := u.apply(r); err != nil {
			return err
		}
	}
	return nil
}

func (u *User) apply(r string) error {
	switch strings.ToLower(r) {
	case "on":
		u.On = true
		return nil
	case "off":
		u.On = false
		return nil
	case "nopass":
		u.NoPass, u.Passwords = true, nil
		return nil
	case "resetpass":
		u.NoPass, u.Passwords = false, nil
		return nil
	case "reset":
		*u = User{Name: u.Name, Root: Selector{Commands: []string{"-@all"}}}
		return nil
	case "clearselectors":
		u.Selectors = nil
		return nil
	case "sanitize-payload", "skip-sanitize-payload":
		return nil // RESTORE payload checks: no bearing on credentials
	}
	switch r[0] {
	case '>', '<':
		sum := sha256.Sum256([]byte(r[1:]))
		u.password(r[0] == '>', hex.EncodeToString(sum[:]))
		return nil
	case '#', '!':
		h := strings.ToLower(r[1:])
		if !isHash(h) {
			return errors.New("a password hash (#…) is not 64 hex digits")
		}
		u.password(r[0] == '#', h)
		return nil
	case '(':
		if !strings.HasSuffix(r, ")") {
			return errors.New("a selector \"(\" is not closed")
		}
		toks, err := tokenize(r[1 : len(r)-1])
		if err != nil {
			return err
		}
		s := Selector{Commands: []string{"-@all"}}
		for _, t := range toks {
			if err := s.apply(t); err != nil {
				return fmt.Errorf("selector %d: %w", len(u.Selectors)+1, err)
			}
		}
		u.Selectors = append(u.Selectors, s)
		return nil
	}
	return u.Root.apply(r)
}

func (u *User) password(add bool, h string) {
	i := slices.Index(u.Passwords, h)
	switch {
	case add && i < 0:
		u.Passwords = append(u.Passwords, h)
		u.NoPass = false
	case add:
		u.NoPass = false
	case i >= 0:
		u.Passwords = slices.Delete(u.Passwords, i, i+1)
		if len(u.Passwords) == 0 {
			u.Passwords = nil
		}
	}
}

func isHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil
}

// apply applies one rule about commands, keys or channels.
func (s *Selector) apply(r string) error {
	if r == "" {
		return nil
	}
	l := strings.ToLower(r)
	switch l {
	case "allkeys", "~*", "%rw~*", "%wr~*":
		s.Keys = []string{"~*"}
		return nil
	case "resetkeys":
		s.Keys = nil
		return nil
	case "allchannels", "&*":
		s.Channels = []string{"&*"}
		return nil
	case "resetchannels":
		s.Channels = nil
		return nil
	case "allcommands", "+@all":
		s.Commands = []string{"+@all"}
		return nil
	case "nocommands", "-@all":
		s.Commands = []string{"-@all"}
		return nil
	}
	switch r[0] {
	case '>', '<', '#', '!':
		// Never quoted: it may be a password in clear.
		return errors.New("a password rule is not allowed in a selector")
	case '~':
		s.Keys = addPattern(s.Keys, r)
		return nil
	case '%':
		perm, pat, ok := strings.Cut(r[1:], "~")
		switch strings.ToUpper(perm) {
		case "R", "W":
			if ok {
				s.Keys = addPattern(s.Keys, "%"+strings.ToUpper(perm)+"~"+pat)
				return nil
			}
		case "RW", "WR":
			if ok {
				s.Keys = addPattern(s.Keys, "~"+pat)
				return nil
			}
		}
		return fmt.Errorf("key rule %q is not %%R~, %%W~ or %%RW~ followed by a pattern", r)
	case '&':
		s.Channels = addPattern(s.Channels, r)
		return nil
	case '+', '-':
		if len(r) == 1 || r == "+@" || r == "-@" {
			return fmt.Errorf("command rule %q names nothing", r)
		}
		s.Commands = append(s.Commands, l)
		return nil
	}
	return fmt.Errorf("unknown ACL rule %q", r)
}

func addPattern(ps []string, p string) []string {
	if slices.Contains(ps, p) {
		return ps
	}
	return append(ps, p)
}

// String is the selector's rules in ACL LIST's order, without the
// "-@all" every selector starts from.
func (s Selector) String() string {
	var parts []string
	parts = append(parts, s.Keys...)
	parts = append(parts, s.Channels...)
	cmds := s.Commands
	if len(cmds) > 0 && cmds[0] == "-@all" {
		cmds = cmds[1:]
	}
	parts = append(parts, cmds...)
	return strings.Join(parts, " ")
}

// userFromGetUser reads an ACL GETUSER reply. Redis 7 states keys,
// channels and commands as rule strings and lists selectors; Redis 6 gives
// key and channel patterns as arrays and all-keys, all-channels as flags.
func userFromGetUser(name string, v value) (*User, error) {
	m, ok := v.fields()
	if !ok {
		return nil, fmt.Errorf("%w: ACL GETUSER %s is not a map", errProtocol, name)
	}
	u := &User{Name: name, Root: Selector{Commands: []string{"-@all"}}}
	flags, _ := m["flags"].strings()
	for _, f := range flags {
		switch strings.ToLower(f) {
		case "on":
			u.On = true
		case "nopass":
			u.NoPass = true
		case "allkeys":
			u.Root.Keys = []string{"~*"}
		case "allchannels":
			u.Root.Channels = []string{"&*"}
		}
	}
	pws, ok := m["passwords"].strings()
	if !ok && m["passwords"].kind != 0 {
		return nil, fmt.Errorf("%w: ACL GETUSER %s passwords is not a list", errProtocol, name)
	}
	for _, h := range pws {
		u.Passwords = append(u.Passwords, strings.ToLower(h))
	}
	if err := selectorFromMap(&u.Root, m); err != nil {
		return nil, fmt.Errorf("user %s: %w", name, err)
	}
	if sels, ok := m["selectors"]; ok && sels.kind == '*' {
		for _, sv := range sels.arr {
			sm, ok := sv.fields()
			if !ok {
				return nil, fmt.Errorf("%w: ACL GETUSER %s selector is not a map", errProtocol, name)
			}
			s := Selector{Commands: []string{"-@all"}}
			if err := selectorFromMap(&s, sm); err != nil {
				return nil, fmt.Errorf("user %s: selector: %w", name, err)
			}
			u.Selectors = append(u.Selectors, s)
		}
	}
	return u, nil
}

func selectorFromMap(s *Selector, m map[string]value) error {
	for _, f := range []struct{ field, prefix string }{{"keys", "~"}, {"channels", "&"}, {"commands", ""}} {
		v, ok := m[f.field]
		if !ok {
			continue
		}
		var rules []string
		if str, ok := v.text(); ok {
			rules = strings.Fields(str) // Redis 7: "~app:* %R~ro:*"
		} else if pats, ok := v.strings(); ok {
			for _, p := range pats { // Redis 6: ["app:*"]
				rules = append(rules, f.prefix+p)
			}
		}
		for _, r := range rules {
			if err := s.apply(r); err != nil {
				return err
			}
		}
	}
	return nil
}
