package sshtrust

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/places"
)

type examination struct {
	places.Reader
	key      string
	now      time.Time
	r        *Report
	isUserCA bool
}

// Examine finds every line of the system's trust files that accepts the
// public key named key ("SHA256:…"). A place that cannot be read is a
// Problem in the report, not an error.
func (s *SSH) Examine(ctx context.Context, key string) (*Report, error) {
	key = strings.TrimSpace(key)
	if !strings.HasPrefix(key, "SHA256:") || len(key) != len("SHA256:")+43 {
		return nil, errs.New(s.op, errs.Invalid, "", fmt.Sprintf("%q is not a key name: want an OpenSSH fingerprint, SHA256: and 43 base64 characters (ssh-keygen -lf)", key))
	}
	e := &examination{key: key, now: time.Now(), r: &Report{System: s.system, Key: key, Grants: []*Grant{}, Principals: []Principals{}, Problems: []Problem{}}}
	pl := s.places
	for _, g := range pl.TrustedUserCAKeys {
		for _, path := range e.Glob(pl.Abs(g), g) {
			e.keyFile(path, KindTrustedUserCA)
		}
	}
	for _, g := range pl.AuthorizedKeys {
		for _, path := range e.Glob(pl.Abs(g), g) {
			e.keyFile(path, KindAuthorizedKey)
		}
	}
	if e.isUserCA {
		for _, g := range pl.AuthorizedPrincipals {
			for _, path := range e.Glob(pl.Abs(g), g) {
				e.principalsFile(path)
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, errs.E(s.op, errs.Other, "", err)
	}
	e.r.Problems = append(e.r.Problems, e.Problems...)
	sort.SliceStable(e.r.Grants, func(i, j int) bool { return e.r.Grants[i].Risk.Rank() < e.r.Grants[j].Risk.Rank() })
	return e.r, nil
}

// keyFile reads an authorized_keys or TrustedUserCAKeys file line by line,
// as sshd does: a line that does not parse is skipped (and reported).
func (e *examination) keyFile(path, kind string) {
	data, ok := e.Read(path)
	if !ok {
		return
	}
	account := ""
	if kind == KindAuthorizedKey {
		account = accountOf(path)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), places.MaxFile)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		pub, comment, options, _, err := ssh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			// The line is never quoted: it may be anything, a key included.
			e.Problem(fmt.Sprintf("%s:%d", path, n), "not a public key line sshd reads")
			continue
		}
		if ssh.FingerprintSHA256(pub) != e.key {
			continue
		}
		g := &Grant{Kind: kind, File: path, Line: n, Account: account, Options: options, Comment: comment}
		if g.Options == nil {
			g.Options = []string{}
		}
		g.readOptions()
		if kind == KindAuthorizedKey && hasOption(options, "cert-authority") {
			g.Kind = KindCertAuthority
		}
		if g.Kind != KindAuthorizedKey {
			e.isUserCA = true
		}
		g.Risk, g.Why = grade(g, e.now)
		e.r.Grants = append(e.r.Grants, g)
	}
}

// principalsFile reads an AuthorizedPrincipals file: one principal a
// line, possibly after options.
func (e *examination) principalsFile(path string) {
	data, ok := e.Read(path)
	if !ok {
		return
	}
	p := Principals{File: path, Account: accountOf(path), Principals: []string{}}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		p.Principals = append(p.Principals, f[len(f)-1])
	}
	e.r.Principals = append(e.r.Principals, p)
}

// accountOf is who a trust file serves: the owner of the .ssh directory
// it is in (~/.ssh/authorized_keys), else the file's own name (sshd's
// AuthorizedKeysFile /etc/ssh/authorized_keys/%u and
// AuthorizedPrincipalsFile /etc/ssh/auth_principals/%u).
func accountOf(path string) string {
	dir := filepath.Dir(path)
	if filepath.Base(dir) != ".ssh" {
		return filepath.Base(path)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return filepath.Base(filepath.Dir(dir))
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return filepath.Base(filepath.Dir(dir))
	}
	uid := strconv.FormatUint(uint64(st.Uid), 10)
	if u, err := user.LookupId(uid); err == nil {
		return u.Username
	}
	return "uid " + uid
}

func hasOption(options []string, name string) bool {
	for _, o := range options {
		if strings.EqualFold(o, name) {
			return true
		}
	}
	return false
}

// readOptions fills the options that change what the key can do.
func (g *Grant) readOptions() {
	for _, o := range g.Options {
		name, val, ok := strings.Cut(o, "=")
		if !ok {
			if strings.EqualFold(o, "restrict") {
				g.Restrict = true
			}
			continue
		}
		val = strings.Trim(val, `"`)
		switch strings.ToLower(name) {
		case "from":
			g.From = val
		case "command":
			g.Command = val
		case "principals":
			g.Principals = val
		case "expiry-time":
			g.ExpiryTime = val
		}
	}
}

// grade says how much a line lets the leaked key do (see
// docs/providers/keys.md):
//   - critical: a user CA (TrustedUserCAKeys, or a cert-authority line):
//     it signs certificates sshd accepts, minting logins; a login as root;
//   - high: a login as another account;
//   - one step lower when the line forces a command or limits the source
//     addresses (from=), whichever it does;
//   - low: a line whose expiry-time has passed.
func grade(g *Grant, now time.Time) (provider.Risk, string) {
	if g.ExpiryTime != "" {
		if t, ok := expiry(g.ExpiryTime); ok && now.After(t) {
			g.Expired = true
			return provider.RiskLow, "expired (expiry-time " + g.ExpiryTime + "): sshd refuses it"
		}
	}
	switch g.Kind {
	case KindTrustedUserCA:
		return provider.RiskCritical, "sshd trusts the key as a user CA: a certificate it signs logs in as any account it names"
	case KindCertAuthority:
		return provider.RiskCritical, "a cert-authority line: a certificate the key signs logs in as " + g.Account
	}
	risk, why := provider.RiskHigh, "logs in as "+g.Account
	if g.Account == "root" || g.Account == "uid 0" {
		risk, why = provider.RiskCritical, "logs in as root"
	}
	var limits []string
	if g.Command != "" {
		limits = append(limits, "a forced command")
	}
	if g.From != "" {
		limits = append(limits, "source addresses "+g.From)
	}
	if len(limits) > 0 {
		risk = lower(risk)
		why += ", limited to " + strings.Join(limits, " and ")
	}
	return risk, why
}

func lower(r provider.Risk) provider.Risk {
	switch r {
	case provider.RiskCritical:
		return provider.RiskHigh
	case provider.RiskHigh:
		return provider.RiskMedium
	}
	return provider.RiskLow
}

// expiry reads sshd's expiry-time: YYYYMMDD[HHMM[SS]], local time unless
// it ends in Z.
func expiry(s string) (time.Time, bool) {
	loc := time.Local
	if v, ok := strings.CutSuffix(s, "Z"); ok {
		s, loc = v, time.UTC
	}
	for _, layout := range []string{"20060102", "200601021504", "20060102150405"} {
		if len(s) == len(layout) {
			if t, err := time.ParseInLocation(layout, s, loc); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}
