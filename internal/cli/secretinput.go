package cli

import (
	"bytes"
	"io"

	"github.com/spf13/cobra"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/safefile"
	"github.com/rekeyhq/rekey/internal/secret"
)

// maxSecretFile bounds --secret-file: a token, a password, a key file.
const maxSecretFile = 1 << 20

// secretFlags are the only ways a secret enters rekey: never as an
// argument, where it would land in shell history and the process list.
type secretFlags struct {
	file  string
	stdin bool
	env   string
	// value is a secret already read (respond reads it once and hands it
	// to each stage: standard input cannot be read twice).
	value *secret.Secret
	// keyID is the public half of an AWS key pair read by read (or set
	// beside value); "" for a plain secret.
	keyID string
}

func (s *secretFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&s.file, "secret-file", "", "read the secret from this file (one trailing newline is dropped)")
	c.Flags().BoolVar(&s.stdin, "secret-stdin", false, "read the secret from standard input")
	c.Flags().StringVar(&s.env, "secret-env", "", "read the secret from this environment variable")
}

// read returns the secret. An AWS key pair (KEY_ID:SECRET, or a block of
// an AWS credentials file) yields its secret access key, so that the
// fingerprint, the preview and the copies traced are the secret's; its key
// id, which is public and identifies the key, is kept in s.keyID.
func (s *secretFlags) read(g *globals) (secret.Secret, error) {
	if s.value != nil {
		return *s.value, nil
	}
	n := 0
	for _, set := range []bool{s.file != "", s.stdin, s.env != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return secret.Secret{}, usagef("give the secret with exactly one of --secret-file, --secret-stdin or --secret-env")
	}
	var raw []byte
	switch {
	case s.file != "":
		f, err := safefile.OpenRegular("read secret", s.file)
		if err != nil {
			return secret.Secret{}, err
		}
		b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
		f.Close()
		if err != nil {
			return secret.Secret{}, errs.E("read secret", errs.Invalid, s.file, unwrapPath(err))
		}
		if len(b) > maxSecretFile {
			clear(b)
			return secret.Secret{}, errs.New("read secret", errs.Invalid, s.file, "larger than 1 MiB: not a secret")
		}
		raw = b
	case s.stdin:
		b, err := io.ReadAll(g.env.Stdin)
		if err != nil {
			return secret.Secret{}, errs.E("read secret", errs.Invalid, "stdin", err)
		}
		raw = b
	default:
		v := g.env.Getenv(s.env)
		if v == "" {
			return secret.Secret{}, errs.New("read secret", errs.NotFound, "$"+s.env, "variable is unset or empty")
		}
		raw = []byte(v)
	}
	raw = bytes.TrimSuffix(raw, []byte("\n"))
	raw = bytes.TrimSuffix(raw, []byte("\r"))
	defer clear(raw)
	if len(raw) == 0 {
		return secret.Secret{}, errs.New("read secret", errs.Invalid, "", "the secret is empty")
	}
	l, err := incident.ParseLeaked(raw)
	if err != nil {
		return secret.Secret{}, err
	}
	v := l.Secret
	s.keyID = l.KeyID
	g.given.secrets = append(g.given.secrets, v)
	if s.env != "" {
		g.given.envs = append(g.given.envs, s.env)
	}
	return v, nil
}
