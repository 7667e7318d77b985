package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/safefile"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/token"
)

// bearer is the caller's token: the content of --token-file, else
// $REKEY_TOKEN; ok is false when neither is given. A token is a secret:
// never an argument, and its file must be readable by its owner alone,
// as ssh insists of a private key.
func (g *globals) bearer() (_ secret.Secret, ok bool, _ error) {
	const op = "read token"
	if g.tokenFile == "" {
		v := g.env.Getenv("REKEY_TOKEN")
		if v == "" {
			return secret.Secret{}, false, nil
		}
		return secret.FromString(string(bytes.TrimSpace([]byte(v)))), true, nil
	}
	f, err := safefile.OpenRegular(op, g.tokenFile)
	if err != nil {
		return secret.Secret{}, false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return secret.Secret{}, false, errs.E(op, errs.Invalid, g.tokenFile, err)
	}
	if m := fi.Mode().Perm(); m&0o077 != 0 {
		return secret.Secret{}, false, errs.New(op, errs.Permission, g.tokenFile,
			fmt.Sprintf("readable by others (mode %04o); a token file must be private: chmod 600 %s", m, g.tokenFile))
	}
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return secret.Secret{}, false, errs.E(op, errs.Invalid, g.tokenFile, err)
	}
	defer clear(b)
	t := bytes.TrimSpace(b)
	if len(t) == 0 {
		return secret.Secret{}, false, errs.New(op, errs.Invalid, g.tokenFile, "the token file is empty")
	}
	return secret.New(bytes.Clone(t)), true, nil
}

// principal authenticates the caller's token against st; ok is false
// when no token is given.
func (g *globals) principal(ctx context.Context, st store.Store) (_ auth.Principal, ok bool, _ error) {
	tok, ok, err := g.bearer()
	if err != nil || !ok {
		return auth.Principal{}, false, err
	}
	defer tok.Wipe()
	a := &token.Authenticator{Store: st}
	p, err := a.Authenticate(ctx, string(tok.Reveal()))
	if err != nil {
		if errs.KindOf(err) == errs.Permission {
			return auth.Principal{}, true, errs.New("token", errs.Permission, g.tokenSource(), "the token is not valid here: mistyped, unknown to this store, revoked or expired")
		}
		return auth.Principal{}, true, err
	}
	return p, true, nil
}

func (g *globals) tokenSource() string {
	if g.tokenFile != "" {
		return g.tokenFile
	}
	return "$REKEY_TOKEN"
}

// actAs decides who a command that changes an incident (or renews a
// lease) acts as. Until
// the store holds a token that is --as, $REKEY_ACTOR or the login name.
// Once it holds one (revoked and expired ones count: a store does not go
// back to self-declared actors), it is the name of the caller's token,
// whose role must grant need, and --as is refused.
func (g *globals) actAs(ctx context.Context, st store.Store, need auth.Capability) error {
	n, err := st.CountTokens(ctx)
	if err != nil || n == 0 {
		return err
	}
	if g.as != "" {
		return usagef("--as is refused: this store holds tokens, so the actor is the name of your token (--token-file F or $REKEY_TOKEN)")
	}
	p, ok, err := g.principal(ctx, st)
	if err != nil {
		return err
	}
	if !ok {
		return errs.New("token", errs.Permission, "", "this store holds tokens: a command that changes an incident needs yours (--token-file F or $REKEY_TOKEN)")
	}
	if !p.Can(need) {
		return errs.New("token", errs.Permission, p.Name, fmt.Sprintf("the token's role %s cannot %s", p.Role, need))
	}
	g.who = p.Name
	return nil
}
