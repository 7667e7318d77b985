package remediate

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// LoginChange is a login the run retired (its revoke step finished, so it
// no longer logs in) and the logins issued in its place. After a split or
// a rotation to new logins, a copy that names the old user beside the
// password is as broken as one holding the old password: remediation
// rewrites the user too, or says exactly what must change.
type LoginChange struct {
	// Old is the retired login (user@host for MySQL: its user part is what
	// files name).
	Old string     `json:"old"`
	New []NewLogin `json:"new"`
}

// NewLogin is one replacement login and whom it was issued for.
type NewLogin struct {
	Login    string `json:"login"`
	Consumer string `json:"consumer"`
	// Path is the consumer's delivery file, absolute, when it has one: a
	// copy in that file is that consumer's.
	Path string `json:"path,omitempty"`
}

// user is the name files use for a login: MySQL's user@host is written
// as its user.
func user(login string) string {
	u, _, _ := strings.Cut(login, "@")
	return u
}

// pick is the new login a file should name instead of old: the only one
// issued, or the one of the consumer whose delivery file it is. "" when
// the file does not single one out.
func (lc LoginChange) pick(abs string) string {
	var logins []string
	for _, n := range lc.New {
		if !slices.Contains(logins, n.Login) {
			logins = append(logins, n.Login)
		}
	}
	if len(logins) == 1 {
		return user(logins[0])
	}
	for _, n := range lc.New {
		if n.Path != "" && abs != "" && filepath.Clean(n.Path) == filepath.Clean(abs) {
			return user(n.Login)
		}
	}
	return ""
}

// choices lists the new logins for a person to choose from.
func (lc LoginChange) choices() string {
	var out []string
	for _, n := range lc.New {
		out = append(out, fmt.Sprintf("%s (consumer %s)", user(n.Login), n.Consumer))
	}
	return strings.Join(out, ", ")
}

// userField is a field of a file whose value names a login: a key that
// names a user (PGUSER, DB_USER, *_USERNAME, user, username, login, a
// Kubernetes env entry named so) and its value's bytes.
type userField struct {
	line     int // 1-based
	vs, ve   int
	key      string
	old, new string // the login named and the one to name instead ("" when the file does not say which)
	base64   bool   // the value is base64 (a Kubernetes Secret's data)
	change   LoginChange
}

// fieldRE is one `key: value` / `key = value` / `export KEY=value` /
// `"key": "value",` line; group 1 is the key, group 2 the value with
// its quotes.
var fieldRE = regexp.MustCompile(`^\s*(?:-\s+)?(?:export\s+)?["']?([A-Za-z_][A-Za-z0-9_.\-]*)["']?\s*[:=]\s*(.*?)\s*,?\s*$`)

// userKey reports whether a key names a login.
func userKey(k string) bool {
	k = strings.ToLower(k)
	for _, suf := range []string{"user", "username", "user_name", "user-name", "login"} {
		if k == suf || strings.HasSuffix(k, suf) && !strings.HasSuffix(k, "superuser") {
			return true
		}
	}
	return false
}

// userFields finds, in data[from:to], the user fields naming a retired
// login. abs is the file's absolute path (to recognise a consumer's
// delivery file).
func userFields(data []byte, from, to int, changes []LoginChange, abs string) []userField {
	var out []userField
	line := bytes.Count(data[:from], []byte("\n")) + 1
	for ls := from; ls < to; line++ {
		le := to
		if i := bytes.IndexByte(data[ls:to], '\n'); i >= 0 {
			le = ls + i
		}
		l := string(data[ls:le])
		if m := fieldRE.FindStringSubmatchIndex(l); m != nil {
			key := l[m[2]:m[3]]
			vs, ve := m[4], m[5]
			if strings.EqualFold(key, "value") {
				key = siblingName(data, ls, strings.Index(l, "value"))
			}
			if q := l[vs:ve]; len(q) >= 2 && (q[0] == '"' || q[0] == '\'') && q[len(q)-1] == q[0] {
				vs, ve = vs+1, ve-1
			} else if i := strings.Index(q, " #"); i >= 0 {
				ve = vs + i
			}
			val := l[vs:ve]
			if userKey(key) && val != "" {
				for _, lc := range changes {
					f := userField{line: line, vs: ls + vs, ve: ls + ve, key: key, old: user(lc.Old), change: lc}
					switch {
					case val == f.old:
					case decodes(val, f.old):
						f.base64 = true
					default:
						continue
					}
					f.new = lc.pick(abs)
					out = append(out, f)
					break
				}
			}
		}
		ls = le + 1
	}
	return out
}

// dsnLogin is the retired login a connection URL's user part names.
func dsnLogin(v []byte, changes []LoginChange) (LoginChange, bool) {
	u, err := url.Parse(string(v))
	if err != nil || u.User == nil {
		return LoginChange{}, false
	}
	for _, lc := range changes {
		if u.User.Username() == user(lc.Old) {
			return lc, true
		}
	}
	return LoginChange{}, false
}

// asChange is the change a user field needs; without a new login the
// note says what a person must put there.
func (f userField) asChange(p string) Change {
	ch := Change{Path: p, Line: f.line, Name: f.key, OldUser: f.old, NewUser: f.new}
	if f.new == "" {
		ch.Note = fmt.Sprintf("%s still names login %s, which the rotation retired (it no longer logs in): change it to the login of whoever reads this file, one of %s, or give that reader a login of its own",
			f.key, f.old, f.change.choices())
	}
	return ch
}

func decodes(v, want string) bool {
	b, err := base64.StdEncoding.DecodeString(v)
	return err == nil && string(b) == want
}

// userEdits rewrites the user fields that name a retired login, in the
// part of the file a copy of the secret is in (its YAML document in a
// Kubernetes manifest, else the whole file), and records each as a
// change: rewritten when the file singles out the new login, else a note
// saying what a person must put there.
func (w *workspace) userEdits(p string, data []byte, st style, at []int) []edit {
	if len(w.logins) == 0 {
		return nil
	}
	type span struct{ from, to int }
	var spans []span
	if st == styleK8s {
		for _, off := range at {
			s, e := docBounds(data, off)
			if !slices.Contains(spans, span{s, e}) {
				spans = append(spans, span{s, e})
			}
		}
	} else {
		spans = []span{{0, len(data)}}
	}
	var eds []edit
	for _, sp := range spans {
		for _, f := range userFields(data, sp.from, sp.to, w.logins, w.abs(p)) {
			ch := f.asChange(p)
			if f.new != "" {
				text := f.new
				if f.base64 {
					text = base64.StdEncoding.EncodeToString([]byte(f.new))
				}
				eds = append(eds, edit{f.vs, f.ve, text})
				ch.Reference = f.new
				ch.Note = fmt.Sprintf("login %s was retired by the rotation; %s now names %s", f.old, f.key, f.new)
			}
			w.changes = append(w.changes, ch)
		}
	}
	return eds
}
