package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
)

var _ provider.DecoyCreator = (*Postgres)(nil)

// decoyMark is the comment on every role CreateDecoy made.
const decoyMark = "rekey: canary"

// CreateDecoy implements provider.DecoyCreator: a LOGIN role with none of
// the attributes, no membership and no grant (what PUBLIC may do, such as
// CONNECT, it may do too), its password sent as a SCRAM verifier.
func (p *Postgres) CreateDecoy(ctx context.Context, name string, s secret.Secret) error {
	return p.san.Scrub(p.createDecoy(ctx, name, s), string(s.Reveal()))
}

func (p *Postgres) createDecoy(ctx context.Context, name string, s secret.Secret) error {
	what := "canary " + name
	if name == "" || s.Len() == 0 {
		return errs.New(p.op, errs.Invalid, "", what+": no login name or an empty secret")
	}
	v, err := newVerifier(string(s.Reveal()), p.scramIter)
	if err != nil {
		return errs.E(p.op, errs.Other, "", err)
	}
	err = pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		var comment *string
		err := tx.QueryRow(ctx, "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1", name).Scan(&comment)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			if _, err := tx.Exec(ctx, "CREATE ROLE "+quoteIdent(name)+" LOGIN "+noAttributes+" PASSWORD "+quoteLiteral(v)); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, "COMMENT ON ROLE "+quoteIdent(name)+" IS "+quoteLiteral(decoyMark))
			return err
		case err != nil:
			return err
		case comment == nil || *comment != decoyMark:
			return errs.New(p.op, errs.Invalid, "", what+": a role of that name exists and is not a canary rekey made: choose another name")
		}
		_, err = tx.Exec(ctx, "ALTER ROLE "+quoteIdent(name)+" LOGIN PASSWORD "+quoteLiteral(v))
		return err
	})
	if err != nil {
		return p.rotateErr(what, err)
	}
	return nil
}
