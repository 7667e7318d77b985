package postgres

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
)

// Skip is a role whose stored verifier could not be tested, with why. The
// reason never quotes the verifier.
type Skip struct {
	Role   string
	Reason string
}

// Report is what IdentifyReport found.
type Report struct {
	Matches []provider.Match
	Checked int    // roles with a verifier that was tested
	Skipped []Skip // roles with a verifier rekey cannot read
}

func defaultWorkers() int { return runtime.GOMAXPROCS(0) }

// Identify returns every role whose stored verifier accepts s. It reads
// pg_authid (superuser only) and recomputes each verifier from s; it logs
// in as no one and changes nothing. See IdentifyReport for the roles it
// could not test.
func (p *Postgres) Identify(ctx context.Context, s secret.Secret) ([]provider.Match, error) {
	r, err := p.IdentifyReport(ctx, s)
	if err != nil {
		return nil, err
	}
	return r.Matches, nil
}

type stored struct {
	role, verifier string
}

// IdentifyReport is Identify that also says how many roles it tested and
// which verifiers it skipped as malformed. SCRAM makes each test cost a
// PBKDF2 of the role's iteration count (4096 by default) with the role's
// own salt, so the roles are spread over one worker per CPU.
func (p *Postgres) IdentifyReport(ctx context.Context, s secret.Secret) (*Report, error) {
	r, err := p.identify(ctx, s)
	return r, p.san.Scrub(err, string(s.Reveal()))
}

func (p *Postgres) identify(ctx context.Context, s secret.Secret) (*Report, error) {
	if s.IsZero() {
		return nil, errs.New(p.op, errs.Invalid, "", "identify: empty secret")
	}
	rows, err := p.pool.Query(ctx, "SELECT rolname, rolpassword FROM pg_authid WHERE rolpassword IS NOT NULL ORDER BY rolname")
	if err != nil {
		return nil, p.identifyErr(err)
	}
	var roles []stored
	for rows.Next() {
		var r stored
		if err := rows.Scan(&r.role, &r.verifier); err != nil {
			rows.Close()
			return nil, p.identifyErr(err)
		}
		roles = append(roles, r)
	}
	if err := rows.Err(); err != nil {
		return nil, p.identifyErr(err)
	}
	return p.match(ctx, roles, s)
}

func (p *Postgres) identifyErr(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42501" {
		return errs.New(p.op, errs.Permission, "", "identify needs a SUPERUSER administrator: the stored password verifiers are in pg_authid, which only superusers can read")
	}
	return p.queryErr("identify", err)
}

// match tests every role's verifier against s on p.workers goroutines.
func (p *Postgres) match(ctx context.Context, roles []stored, s secret.Secret) (*Report, error) {
	password := s.Reveal()
	forms := candidates(password)
	matched := make([]string, len(roles)) // method, or "" when no match
	skipped := make([]string, len(roles)) // reason, or "" when tested

	cerr := provider.Parallel(ctx, len(roles), p.workers, func(i int) {
		v, err := parseVerifier(roles[i].verifier)
		if err != nil {
			skipped[i] = err.Error()
			return
		}
		if v.matches(roles[i].role, password, forms) {
			matched[i] = v.method
		}
	})
	if cerr != nil {
		return nil, errs.E(p.op, errs.Other, "", fmt.Errorf("identify: %w", cerr))
	}
	r := &Report{}
	for i, ro := range roles {
		switch {
		case skipped[i] != "":
			r.Skipped = append(r.Skipped, Skip{Role: ro.role, Reason: skipped[i]})
		default:
			r.Checked++
			if matched[i] != "" {
				r.Matches = append(r.Matches, provider.Match{
					Ref:    provider.IdentityRef{System: p.system, Name: ro.role},
					Method: matched[i],
				})
			}
		}
	}
	sort.Slice(r.Matches, func(a, b int) bool { return r.Matches[a].Ref.Name < r.Matches[b].Ref.Name })
	return r, nil
}
