package inventory

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"strings"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/safefile"
	"github.com/rekeyhq/rekey/internal/secret"
)

// Reference schemes.
const (
	RefEnv  = "env"
	RefFile = "file"
)

// Ref points at a secret held outside the inventory: an environment
// variable (env:VAR) or a file (file:PATH). A Ref is safe to print; the
// value it points at is not.
type Ref struct {
	Scheme string // RefEnv or RefFile
	// Name is the variable name or the path, as written.
	Name string
	// Dir is the directory a relative file path is taken from.
	Dir string
	Pos Pos
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

var errNotRef = errors.New("not a reference")

// ParseRef parses "env:VAR" or "file:PATH". Its errors never quote s,
// which may be a secret pasted where a reference belongs.
func ParseRef(s string) (Ref, error) {
	scheme, rest, ok := strings.Cut(s, ":")
	switch {
	case !ok:
		return Ref{}, errNotRef
	case scheme == RefEnv:
		if !envName.MatchString(rest) {
			return Ref{}, errors.New("env: wants a variable name (letters, digits and _), like env:SHOP_DB_ADMIN_DSN")
		}
	case scheme == RefFile:
		if strings.TrimSpace(rest) == "" || strings.ContainsRune(rest, 0) {
			return Ref{}, errors.New("file: wants a path, like file:/etc/rekey/shop-db.dsn")
		}
	default:
		return Ref{}, errNotRef
	}
	return Ref{Scheme: scheme, Name: rest}, nil
}

// String is the reference as written ("env:VAR"), never the value.
func (r Ref) String() string {
	if r.Scheme == "" {
		return ""
	}
	return r.Scheme + ":" + r.Name
}

// IsZero reports whether r is unset.
func (r Ref) IsZero() bool { return r.Scheme == "" }

// Path is a file reference's path, taken from Dir when relative.
func (r Ref) Path() string {
	if r.Scheme != RefFile {
		return ""
	}
	return absFrom(r.Dir, r.Name)
}

// maxRefFile bounds what a file reference may hold: a DSN, a key file.
const maxRefFile = 1 << 20

// Resolve reads the secret r points at: the variable's value, or the file's
// content without one trailing newline. An unset or empty variable, a
// missing, unreadable or empty file is an error; errors name the reference,
// never the value.
func (r Ref) Resolve(getenv func(string) string) (secret.Secret, error) {
	op := "resolve " + r.String()
	switch r.Scheme {
	case RefEnv:
		if getenv == nil {
			getenv = os.Getenv
		}
		v := getenv(r.Name)
		if v == "" {
			return secret.Secret{}, errs.New(op, errs.NotFound, "", "variable is unset or empty")
		}
		return secret.FromString(v), nil
	case RefFile:
		f, err := safefile.OpenRegular(op, r.Path())
		if err != nil {
			return secret.Secret{}, err
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxRefFile+1))
		if err != nil {
			return secret.Secret{}, errs.E(op, errs.Invalid, "", unwrapPath(err))
		}
		if len(b) > maxRefFile {
			return secret.Secret{}, errs.New(op, errs.Invalid, "", "file is larger than 1 MiB")
		}
		b = bytes.TrimSuffix(b, []byte("\n"))
		b = bytes.TrimSuffix(b, []byte("\r"))
		s := secret.New(b)
		clear(b)
		if s.IsZero() {
			return secret.Secret{}, errs.New(op, errs.NotFound, "", "file is empty")
		}
		return s, nil
	}
	return secret.Secret{}, errs.New(op, errs.Invalid, "", "not a reference")
}

// Check says why r cannot be resolved safely on this machine, without
// reading the secret: an unset or empty variable; a file that is missing,
// not a regular file, empty, or open to group or others (as libpq requires
// of .pgpass). It returns nil when r looks usable.
func (r Ref) Check(getenv func(string) string) error {
	switch r.Scheme {
	case RefEnv:
		if getenv == nil {
			getenv = os.Getenv
		}
		if getenv(r.Name) == "" {
			return fmt.Errorf("%s: variable is unset or empty here", r)
		}
		return nil
	case RefFile:
		fi, err := os.Stat(r.Path())
		switch {
		case errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("%s: no such file here", r)
		case err != nil:
			return fmt.Errorf("%s: %v", r, unwrapPath(err))
		case !fi.Mode().IsRegular():
			return fmt.Errorf("%s: not a regular file", r)
		case fi.Size() == 0:
			return fmt.Errorf("%s: file is empty", r)
		case runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0:
			return fmt.Errorf("%s: mode %04o lets group or others read it; chmod 600 it", r, fi.Mode().Perm())
		}
		return nil
	}
	return errors.New("not a reference")
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
