// Package places is what the providers of key-trust systems (x509
// certificates, sshd trust files) share: reading the files and globs an
// inventory names, with a one-line Problem for each place that cannot be
// read instead of an error that would hide the rest of the answer, and
// the public key of a leaked private key, never anything more of it.
package places

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/keys"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
)

// MaxFile bounds a file read as a place: certificates, manifests,
// keystores and trust files are far smaller.
const MaxFile = 16 << 20

// Problem is a place that could not be read, in one line that names it
// and never quotes its content.
type Problem struct {
	Where  string `json:"where"`
	Reason string `json:"reason"`
}

func (p Problem) String() string { return p.Where + ": " + p.Reason }

// Reader reads places, collecting their problems.
type Reader struct {
	Problems []Problem
}

// Problem records that where could not be read, and why.
func (r *Reader) Problem(where, format string, a ...any) {
	r.Problems = append(r.Problems, Problem{Where: where, Reason: fmt.Sprintf(format, a...)})
}

// Glob expands pattern to the files it matches, sorted. One that matches
// nothing is a problem: the place the inventory names is not looked at.
func (r *Reader) Glob(pattern, asWritten string) []string {
	paths, err := doublestar.FilepathGlob(pattern, doublestar.WithFilesOnly())
	if err != nil {
		r.Problem(asWritten, "not a valid glob")
		return nil
	}
	if len(paths) == 0 {
		r.Problem(asWritten, "matches no file")
	}
	sort.Strings(paths)
	return paths
}

// Read reads a file of at most MaxFile bytes; ok is false, with a
// problem recorded, when it cannot.
func (r *Reader) Read(path string) (data []byte, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		r.Problem(path, "cannot read: %v", cause(err))
		return nil, false
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFile+1))
	if err != nil {
		r.Problem(path, "cannot read: %v", cause(err))
		return nil, false
	}
	if len(b) > MaxFile {
		r.Problem(path, "larger than 16 MiB: not a file of keys or certificates")
		return nil, false
	}
	return b, true
}

func cause(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Unread turns problems into Related entries of kind "unread", so that a
// blind spot shows in the scope next to what was found.
func Unread(problems []Problem) []provider.Related {
	out := []provider.Related{}
	for _, p := range problems {
		out = append(out, provider.Related{Kind: RelatedUnread, Name: p.Where, Detail: p.Reason})
	}
	return out
}

// RelatedUnread is the Related kind of a place that could not be read.
const RelatedUnread = "unread"

// Fingerprints parses a leaked private key for its public key's
// fingerprints, for Identify. An encrypted key whose format does not hold
// the public key in clear is an Invalid error: there is nothing to
// compare. Errors are op's and never quote the key.
func Fingerprints(op string, s secret.Secret) (*keys.Fingerprints, error) {
	k, err := keys.Parse(s)
	if err != nil {
		return nil, errs.E(op, errs.KindOf(err), "", fmt.Errorf("identify: %w", err))
	}
	if k.Fingerprints == nil {
		return nil, errs.New(op, errs.Invalid, "", "identify: an encrypted "+k.Format+" key: its public key cannot be read without the passphrase (give its .pub or its certificate instead)")
	}
	return k.Fingerprints, nil
}

// Cause is err without the path an *os.PathError adds, for messages that
// name the path themselves.
func Cause(err error) error { return cause(err) }

// Writable reports whether a file can be created in dir, as an atomic
// replacement there will: it creates one and removes it.
func Writable(dir string) error {
	f, err := os.CreateTemp(dir, ".rekey-preflight-*")
	if err != nil {
		return cause(err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// Preflight collects a preflight's problems for the rotate steps of req,
// each line naming those steps.
type Preflight struct {
	Response provider.PreflightResponse
	steps    string
}

// NewPreflight starts the answer to req.
func NewPreflight(req provider.PreflightRequest) *Preflight {
	return &Preflight{Response: provider.PreflightResponse{Problems: []string{}}, steps: strings.Join(req.Steps[provider.NeedRotate], ", ")}
}

// Add records one problem.
func (p *Preflight) Add(format string, a ...any) {
	p.Response.Problems = append(p.Response.Problems, fmt.Sprintf(format, a...)+" (needed by "+p.steps+")")
}
