// Package file delivers a secret into a consumer's config file: a dotenv
// file, YAML, JSON, INI or Java properties, at a key the inventory names.
//
// Only the bytes of the value change. Each format finds the byte span of
// the value (YAML through the yaml.v3 node tree, the others with their
// own small scanners), the new value is encoded in the style the old one
// was written in (quoted stays quoted, unquoted stays unquoted unless the
// new value needs quotes), and the file is re-read after the edit to prove
// that the key now holds the new value and, for YAML, that every other
// node, comment and anchor is unchanged. A value that is a connection
// string (URL, MySQL DSN, libpq or ADO key=value) has only its user and
// password replaced (package dsn).
//
// The file is replaced atomically: a temporary file in the same
// directory, written, synced, given the original's mode and owner, renamed
// over the original (through a symlink, onto the file it points to), and
// the directory synced. A failure at any step leaves the original intact.
package file

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/rekeyhq/rekey/internal/atomicfile"
	"github.com/rekeyhq/rekey/internal/deliver"
	"github.com/rekeyhq/rekey/internal/deliver/dsn"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/secret"
)

// Formats are the file formats a Config may name. "ini" on a file named
// *.properties reads it as Java properties.
var Formats = []string{"dotenv", "yaml", "json", "ini", "properties"}

// Config says where in which file the secret lives.
type Config struct {
	// Path is the file; a relative path is taken from the working
	// directory (FromInventory resolves it from the inventory's).
	Path string
	// Format is one of Formats.
	Format string
	// Key is where the secret is: a variable name (dotenv), a dotted path
	// (yaml, json: db.password, servers.0.password; a key that itself
	// holds dots matches too), section.key (ini; a key outside any
	// section matches whole) or a property name (properties).
	Key string
	// UserKey, optional, is where the login name is.
	UserKey string
}

// Target is a key in a config file.
type Target struct {
	cfg Config
	f   format
	// beforeRename, in tests, fails a write after the temporary file is
	// complete and before it replaces the original.
	beforeRename func() error
}

var _ deliver.Target = (*Target)(nil)

// New checks c and returns its target. It does not touch the file.
func New(c Config) (*Target, error) {
	const op = "deliver file"
	if c.Path == "" || c.Key == "" {
		return nil, errs.New(op, errs.Invalid, c.Path, "a file delivery needs a path and a key")
	}
	if c.Key == c.UserKey {
		return nil, errs.New(op, errs.Invalid, c.Path, "key and user_key are the same")
	}
	var f format
	switch c.Format {
	case "dotenv":
		f = dotenv{}
	case "yaml":
		f = yamlFormat{}
	case "json":
		f = jsonFormat{}
	case "ini":
		f = ini{properties: strings.EqualFold(filepath.Ext(c.Path), ".properties")}
	case "properties":
		f = ini{properties: true}
	default:
		return nil, errs.New(op, errs.Invalid, c.Path, fmt.Sprintf("unknown format %q (want one of %s)", c.Format, strings.Join(Formats, ", ")))
	}
	return &Target{cfg: c, f: f}, nil
}

// FromInventory builds the target of a consumer's file delivery, with its
// path taken from the inventory's directory.
func FromInventory(inv *inventory.Inventory, d *inventory.Delivery) (*Target, error) {
	if d == nil || d.Type != "file" {
		return nil, errs.New("deliver file", errs.Invalid, "", "not a file delivery")
	}
	return New(Config{Path: inv.Abs(d.Path), Format: d.Format, Key: d.Key, UserKey: d.UserKey})
}

// Describe names the file, format and keys.
func (t *Target) Describe() string {
	s := fmt.Sprintf("file %s (%s) key %s", t.cfg.Path, t.cfg.Format, t.cfg.Key)
	if t.cfg.UserKey != "" {
		s += ", user_key " + t.cfg.UserKey
	}
	return s
}

// field is one place in a file where a key is set.
type field struct {
	start, end int    // the value's bytes as written (quotes included)
	value      string // the value as the consumer reads it
	// encode writes a new value in this place's style (quotes, escapes).
	encode func(string) ([]byte, error)
	note   string
	id     int // a format's own handle on the place (yaml: the node's offset)
}

// format finds keys in one file syntax.
type format interface {
	// find returns every place key is set, in file order; none is nil.
	// Its errors must not quote values.
	find(data []byte, key string) ([]field, error)
	// check compares the file before and after an edit beyond the edited
	// fields (YAML: every other node); edited maps field.id to the new
	// value.
	check(old, new []byte, edited map[int]string) error
}

func (t *Target) errf(kind errs.Kind, format string, a ...any) error {
	return errs.E("deliver file", kind, t.cfg.Path, fmt.Errorf(format, a...))
}

func (t *Target) find(data []byte, key string) ([]field, error) {
	fs, err := t.f.find(data, key)
	if err != nil {
		return nil, t.errf(errs.Invalid, "%s: %w", t.cfg.Format, err)
	}
	if len(fs) == 0 {
		return nil, t.errf(errs.NotFound, "key %s not found", key)
	}
	return fs, nil
}

func (t *Target) read() ([]byte, error) {
	data, err := os.ReadFile(t.cfg.Path)
	if err != nil {
		kind := errs.Other
		switch {
		case errors.Is(err, os.ErrNotExist):
			kind = errs.NotFound
		case errors.Is(err, os.ErrPermission):
			kind = errs.Permission
		}
		return nil, errs.E("deliver file", kind, t.cfg.Path, errors.Unwrap(err))
	}
	return data, nil
}

// Current reads the key (the last place it is set, which is the one
// readers take) and the user: the connection string's own user, or the
// user key's value when the key holds a bare password.
func (t *Target) Current(ctx context.Context) (deliver.State, error) {
	if err := ctx.Err(); err != nil {
		return deliver.State{}, err
	}
	data, err := t.read()
	if err != nil {
		return deliver.State{}, err
	}
	fs, err := t.find(data, t.cfg.Key)
	if err != nil {
		return deliver.State{}, err
	}
	c := dsn.Parse(fs[len(fs)-1].value)
	st := deliver.State{Secret: secret.FromString(c.Password), User: c.User}
	if !c.HasUser && t.cfg.UserKey != "" {
		us, err := t.find(data, t.cfg.UserKey)
		if err != nil {
			return deliver.State{}, err
		}
		st.User = us[len(us)-1].value
	}
	return st, nil
}

// Plan says which parts of which keys Write would change.
func (t *Target) Plan(ctx context.Context, v deliver.Value) (deliver.Change, error) {
	if err := ctx.Err(); err != nil {
		return deliver.Change{}, err
	}
	data, err := t.read()
	if err != nil {
		return deliver.Change{}, err
	}
	_, ch, err := t.edit(data, v)
	return ch, err
}

// Write puts v in the file, changing only the value bytes. If the file
// already holds v it is left untouched (not even rewritten). A file that
// changes while Write prepares its edit is read again (three tries).
func (t *Target) Write(ctx context.Context, v deliver.Value) error {
	for try := 0; ; try++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		data, err := t.read()
		if err != nil {
			return err
		}
		out, _, err := t.edit(data, v)
		if err != nil {
			return err
		}
		if bytes.Equal(out, data) {
			return nil
		}
		err = atomicfile.Replace("deliver file", t.cfg.Path, out, data, 0, t.beforeRename)
		if errors.Is(err, atomicfile.ErrChanged) {
			if try < 2 {
				continue
			}
			return errs.E("deliver file", errs.Other, t.cfg.Path, err)
		}
		return err
	}
}

type replacement struct {
	start, end int
	raw        []byte
}

// edit returns data with v in place, and the change it makes.
func (t *Target) edit(data []byte, v deliver.Value) ([]byte, deliver.Change, error) {
	ch := deliver.Change{Target: t.Describe()}
	if v.Secret.IsZero() {
		return nil, ch, t.errf(errs.Invalid, "no secret to deliver")
	}
	pw := string(v.Secret.Reveal())
	if strings.ContainsRune(pw, 0) {
		return nil, ch, t.errf(errs.Invalid, "the secret holds a NUL byte, which no config file can carry")
	}
	keys, err := t.find(data, t.cfg.Key)
	if err != nil {
		return nil, ch, err
	}
	var reps []replacement
	edited := map[int]string{}
	want := map[string][]string{} // key → the value each place must read back as
	for _, f := range keys {
		if isReference(f.value) {
			return nil, ch, t.errf(errs.Invalid, "key %s holds a reference to a variable or template, not the secret: deliver to where it points", t.cfg.Key)
		}
		c := dsn.Parse(f.value)
		if c.Form != dsn.Plain && isReference(c.Password) {
			return nil, ch, t.errf(errs.Invalid, "key %s: its %s takes the password from a variable or template: deliver to where it points", t.cfg.Key, c.Form)
		}
		user := ""
		if c.Form == dsn.Plain {
			if v.User != "" && t.cfg.UserKey == "" {
				return nil, ch, t.errf(errs.Invalid, "key %s holds only a password and the delivery has no user_key, so the new login name has nowhere to go", t.cfg.Key)
			}
		} else if v.User != "" && c.User != v.User {
			user = v.User
		}
		e := deliver.Edit{Where: where(t.cfg.Path, data, f.start), Key: t.cfg.Key, Form: string(c.Form), Note: f.note}
		if user != "" {
			e.Parts = append(e.Parts, deliver.PartUser)
		}
		if !c.HasPassword || c.Password != pw {
			e.Parts = append(e.Parts, deliver.PartPassword)
		}
		ch.Edits = append(ch.Edits, e)
		newVal := f.value
		if len(e.Parts) > 0 {
			if newVal, err = dsn.Set(f.value, user, pw); err != nil {
				return nil, ch, t.errf(errs.Invalid, "key %s (%s): %w", t.cfg.Key, c.Form, err)
			}
			raw, err := f.encode(newVal)
			if err != nil {
				return nil, ch, t.errf(errs.Unsupported, "key %s: %w", t.cfg.Key, err)
			}
			reps = append(reps, replacement{f.start, f.end, raw})
			edited[f.id] = newVal
		}
		want[t.cfg.Key] = append(want[t.cfg.Key], newVal)
	}
	if t.cfg.UserKey != "" && v.User != "" {
		users, err := t.find(data, t.cfg.UserKey)
		if err != nil {
			return nil, ch, err
		}
		for _, f := range users {
			if isReference(f.value) {
				return nil, ch, t.errf(errs.Invalid, "user_key %s holds a reference to a variable or template, not the user name", t.cfg.UserKey)
			}
			e := deliver.Edit{Where: where(t.cfg.Path, data, f.start), Key: t.cfg.UserKey, Form: string(dsn.Plain), Note: f.note}
			if f.value != v.User {
				e.Parts = []deliver.Part{deliver.PartUser}
				raw, err := f.encode(v.User)
				if err != nil {
					return nil, ch, t.errf(errs.Unsupported, "user_key %s: %w", t.cfg.UserKey, err)
				}
				reps = append(reps, replacement{f.start, f.end, raw})
				edited[f.id] = v.User
			}
			ch.Edits = append(ch.Edits, e)
			want[t.cfg.UserKey] = append(want[t.cfg.UserKey], v.User)
		}
	}
	if len(reps) == 0 {
		return data, ch, nil
	}
	out, err := splice(data, reps)
	if err != nil {
		return nil, ch, t.errf(errs.Unsupported, "%w", err)
	}
	// Read the result back as the consumer will: each key must hold what
	// was meant, and nothing else may have moved.
	for key, vals := range want {
		fs, err := t.f.find(out, key)
		if err != nil || len(fs) != len(vals) {
			return nil, ch, t.errf(errs.Unsupported, "the edited file does not read back (key %s): not written", key)
		}
		for i, f := range fs {
			if f.value != vals[i] {
				return nil, ch, t.errf(errs.Unsupported, "key %s does not read back as written: not written", key)
			}
		}
	}
	if err := t.f.check(data, out, edited); err != nil {
		return nil, ch, t.errf(errs.Unsupported, "the edit would change more than the value (%w): not written", err)
	}
	return out, ch, nil
}

// splice replaces non-overlapping spans of data.
func splice(data []byte, reps []replacement) ([]byte, error) {
	slices.SortFunc(reps, func(a, b replacement) int { return a.start - b.start })
	var out []byte
	last := 0
	for _, r := range reps {
		if r.start < last {
			return nil, errors.New("key and user_key are the same value")
		}
		out = append(out, data[last:r.start]...)
		out = append(out, r.raw...)
		last = r.end
	}
	return append(out, data[last:]...), nil
}

// where is path:line of offset off.
func where(path string, data []byte, off int) string {
	return fmt.Sprintf("%s:%d", path, 1+bytes.Count(data[:off], []byte("\n")))
}

// reference matches a value that points elsewhere rather than holding a
// secret: ${VAR}, $VAR, <%= ERB %>, {{ template }}, %(interp)s.
var reference = regexp.MustCompile(`^(\$\{[^}]+\}|\$[A-Z_][A-Z0-9_]*|<%.*%>|\{\{.*\}\}|%\([A-Za-z0-9_]+\)s)$`)

func isReference(v string) bool { return reference.MatchString(strings.TrimSpace(v)) }
