package inventory

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/bmatcuk/doublestar/v4"
)

// local reports, as warnings, what this machine cannot confirm: references
// that do not resolve here, paths that do not exist here, globs that match
// nothing. The inventory is also checked where the secrets are absent (a
// CI job, a laptop), so none of these is an error.
func (p *parser) local(inv *Inventory) {
	getenv := p.opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	for _, s := range inv.Systems {
		if s.Admin.IsZero() {
			continue
		}
		if err := s.Admin.Check(getenv); err != nil {
			p.warnf(s.Admin.Pos, "system %s: admin %v", quote(s.Name), err)
		} else if s.Type == TypeAWSIAM && !awsAdminShape(s.Admin, getenv) {
			p.warnf(s.Admin.Pos, `system %s: admin %v does not hold {"AccessKeyId","SecretAccessKey","SessionToken"?} JSON (the credential_process shape)`, quote(s.Name), s.Admin)
		} else if s.Type == TypeGitHub && !githubAdminShape(s.Admin, getenv) {
			p.warnf(s.Admin.Pos, "%s", githubAdminWarning(&s))
		}
	}
	p.localKeyPlaces(inv, getenv)
	for _, c := range inv.Consumers {
		if c.Deliver == nil || c.Deliver.Path == "" || c.Deliver.Type != "file" {
			continue
		}
		if _, err := os.Stat(inv.Abs(c.Deliver.Path)); errors.Is(err, fs.ErrNotExist) {
			p.warnf(c.Deliver.Pos, "consumer %s: deliver path %s does not exist here", quote(c.Name), quote(c.Deliver.Path))
		}
	}
	for _, s := range inv.Sources {
		if !s.Token.IsZero() {
			if err := s.Token.Check(getenv); err != nil {
				p.warnf(s.Token.Pos, "sources: %s token %v", s.Type, err)
			}
		}
		if s.Path == "" {
			continue
		}
		if _, err := os.Stat(inv.Abs(s.Path)); errors.Is(err, fs.ErrNotExist) {
			p.warnf(s.Pos, "sources: %s path %s does not exist here", s.Type, quote(s.Path))
		}
	}
	for _, l := range inv.Logs {
		if l.Path == "" || !doublestar.ValidatePattern(filepath.ToSlash(l.Path)) {
			continue
		}
		if !globMatches(inv.Abs(l.Path)) {
			p.warnf(l.Pos, "logs: %s matches no file here", quote(l.Path))
		}
	}
	for _, t := range inv.Notify {
		if t.URL.IsZero() {
			continue
		}
		if err := t.URL.Check(getenv); err != nil {
			p.warnf(t.URL.Pos, "notify: %s url %v", t.Type, err)
		}
	}
	p.brokerLocal(inv)
}

// awsAdminShape reports whether ref holds an AWS credential as JSON with a
// key id and a secret. Machines differ, so a wrong shape is a warning, as
// an unresolved reference is.
func awsAdminShape(ref Ref, getenv func(string) string) bool {
	v, err := ref.Resolve(getenv)
	if err != nil {
		return false
	}
	defer v.Wipe()
	var a struct{ AccessKeyId, SecretAccessKey string }
	return json.Unmarshal(v.Reveal(), &a) == nil && a.AccessKeyId != "" && a.SecretAccessKey != ""
}

var errFound = errors.New("found")

// globMatches reports whether pattern matches at least one file, stopping
// at the first.
func globMatches(pattern string) bool {
	base, pat := doublestar.SplitPattern(filepath.ToSlash(filepath.Clean(pattern)))
	if pat == "" {
		_, err := os.Stat(base)
		return err == nil
	}
	err := doublestar.GlobWalk(os.DirFS(filepath.FromSlash(base)), pat, func(string, fs.DirEntry) error { return errFound })
	return errors.Is(err, errFound)
}
