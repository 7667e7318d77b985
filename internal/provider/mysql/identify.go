package mysql

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"

	mysqldrv "github.com/go-sql-driver/mysql"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
)

// Skip is an account method whose stored value could not be tested, with
// why. The reason never quotes the stored value.
type Skip struct {
	Account string // the IdentityRef name
	Plugin  string
	Reason  string
	// Unsupported is true for a hash format or plugin rekey does not
	// implement (Err then wraps provider.ErrUnsupported), false when there
	// is no password hash to test (unix_socket, an empty password, a
	// placeholder that cannot log in).
	Unsupported bool
}

// Err is the skip as an error; for an unsupported format it wraps
// provider.ErrUnsupported and is of kind errs.Unsupported.
func (s Skip) Err() error {
	msg := s.Account + " (" + s.Plugin + "): " + s.Reason
	if s.Unsupported {
		return errs.E("", errs.Unsupported, "", fmt.Errorf("%s: %w", msg, provider.ErrUnsupported))
	}
	return errors.New(msg)
}

// Report is what IdentifyReport found.
type Report struct {
	Matches []provider.Match
	Checked int    // account methods whose stored hash was tested
	Skipped []Skip // those that could not be
}

func defaultWorkers() int { return runtime.GOMAXPROCS(0) }

// Identify returns every account whose stored password hash accepts s. It
// reads mysql.global_priv (MariaDB 10.4+) or mysql.user and recomputes
// each hash from s; it logs in as no one and changes nothing. See
// IdentifyReport for the accounts it could not test.
func (p *MySQL) Identify(ctx context.Context, s secret.Secret) ([]provider.Match, error) {
	r, err := p.IdentifyReport(ctx, s)
	if err != nil {
		return nil, err
	}
	return r.Matches, nil
}

// IdentifyReport is Identify that also says how many stored hashes it
// tested and which it skipped. The unsalted formats (native, old, ed25519)
// are computed from s once for all accounts; SHA-256 crypt costs its round
// count per account, spread over one worker per CPU.
func (p *MySQL) IdentifyReport(ctx context.Context, s secret.Secret) (*Report, error) {
	r, err := p.identify(ctx, s)
	return r, p.san.Scrub(err, string(s.Reveal()))
}

// hashTable is where the stored hashes are, for messages.
func (p *MySQL) hashTable() string {
	if p.flavor.globalPriv() {
		return "mysql.global_priv"
	}
	return "mysql.user"
}

func (p *MySQL) identify(ctx context.Context, s secret.Secret) (*Report, error) {
	if s.IsZero() {
		return nil, errs.New(p.op, errs.Invalid, "", "identify: empty secret")
	}
	accounts, err := p.loadAccounts(ctx, nil)
	if err != nil {
		var me *mysqldrv.MySQLError
		if errors.As(err, &me) && isPermission(me.Number) {
			return nil, errs.New(p.op, errs.Permission, "", "identify needs SELECT on "+p.hashTable()+
				", where the password hashes are: the administrator lacks it")
		}
		return nil, p.queryErr("identify", err)
	}
	type job struct {
		acct acct
		v    *verifier
	}
	r := &Report{}
	var jobs []job
	for _, a := range accounts {
		if a.role {
			continue
		}
		if a.bad != "" {
			r.Skipped = append(r.Skipped, Skip{Account: a.String(), Reason: a.bad})
			continue
		}
		for _, m := range a.methods {
			v, err := parseVerifier(m.plugin, m.auth)
			if err != nil {
				var sk *errSkip
				errors.As(err, &sk)
				reason := err.Error()
				if a.locked {
					reason += " (the account is locked)"
				}
				r.Skipped = append(r.Skipped, Skip{Account: a.String(), Plugin: m.plugin, Reason: reason, Unsupported: sk != nil && sk.unsupported})
				continue
			}
			jobs = append(jobs, job{a.acct, v})
		}
	}
	r.Checked = len(jobs)

	c := newCandidate(s.Reveal())
	matched := make([]bool, len(jobs))
	cerr := provider.Parallel(ctx, len(jobs), p.workers, func(i int) { matched[i] = jobs[i].v.matches(c) })
	if cerr != nil {
		return nil, errs.E(p.op, errs.Other, "", fmt.Errorf("identify: %w", cerr))
	}
	seen := map[acct]bool{}
	for i, j := range jobs {
		if matched[i] && !seen[j.acct] {
			seen[j.acct] = true
			r.Matches = append(r.Matches, provider.Match{
				Ref:    provider.IdentityRef{System: p.system, Name: j.acct.String()},
				Method: j.v.method,
			})
		}
	}
	sort.Slice(r.Matches, func(a, b int) bool { return r.Matches[a].Ref.Name < r.Matches[b].Ref.Name })
	return r, nil
}
