package cli

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/rekeyhq/rekey/internal/detect"
	"github.com/rekeyhq/rekey/internal/detect/rules"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/scan"
	"github.com/rekeyhq/rekey/internal/trace"
)

type traceOpts struct {
	in     inputFlags
	secret secretFlags
	format string
	reveal bool
}

func newTraceCmd(g *globals) *cobra.Command {
	o := &traceOpts{}
	c := &cobra.Command{
		Use:   "trace (--secret-file F | --secret-stdin | --secret-env VAR) PATH…",
		Short: "Find every copy of one secret, in any encoding",
		Long: `Trace finds every copy of one known secret, whether or not a detection rule
would recognise it: plain, base64 (standard and URL alphabets, padded or not,
and embedded inside a longer base64 blob), percent-encoded, JSON-escaped, hex,
and partial copies (redacted or truncated, keeping at least 8 leading
characters). A copy a rule also matches is reported under that rule's id;
otherwise the rule is "trace".

The secret is read from a file, standard input or an environment variable,
never from the command line.

EXIT STATUS
  0  no copy found
  1  at least one copy found
  2  usage or input error`,
		Example: `  rekey trace --secret-file leaked.txt --history ~/src/shop /etc/shop
  printf %s "$TOKEN" | rekey trace --secret-stdin . --format json`,
		RunE: func(c *cobra.Command, args []string) error {
			return runTrace(c.Context(), g, o, args, c.OutOrStdout())
		},
	}
	o.in.register(c)
	o.secret.register(c)
	c.Flags().StringVar(&o.format, "format", "table", "output format: table, json (one finding per line) or sarif")
	c.Flags().BoolVar(&o.reveal, "reveal", false, "print the secret in clear (redacted otherwise)")
	return c
}

func runTrace(ctx context.Context, g *globals, o *traceOpts, args []string, out io.Writer) error {
	if err := checkFormat(o.format, "table", "json", "sarif"); err != nil {
		return err
	}
	s, err := o.secret.read(g)
	if err != nil {
		return err
	}
	tm, err := trace.New(s)
	if err != nil {
		return errs.E("trace", errs.Invalid, "", err)
	}
	det, err := detect.New(rules.All())
	if err != nil {
		return err
	}
	fp, err := g.findingsFingerprinter()
	if err != nil {
		return err
	}
	m := &scan.Trace{Secret: s, Matcher: tm, Detector: det, Fingerprinter: fp, Reveal: o.reveal}
	return runFindings(ctx, g, &o.in, args, m, o.format, out, det)
}
