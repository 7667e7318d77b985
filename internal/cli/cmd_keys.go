package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/keys"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/all"
	"github.com/rekeyhq/rekey/internal/provider/certs"
	"github.com/rekeyhq/rekey/internal/provider/sshtrust"
)

func newKeysCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "keys",
		Short: "Work with leaked private keys and what trusts them",
		Args:  cobra.NoArgs,
		RunE:  func(c *cobra.Command, args []string) error { return c.Help() },
	}
	c.AddCommand(newKeysInspectCmd(g))
	return c
}

type keysInspectOpts struct {
	secret    secretFlags
	inventory string
	format    string
}

func newKeysInspectCmd(g *globals) *cobra.Command {
	o := &keysInspectOpts{}
	c := &cobra.Command{
		Use:   "inspect (--secret-file F|--secret-stdin|--secret-env V) --inventory FILE",
		Short: "Say what a leaked private key unlocks: the certificates and sshd lines that carry its public key",
		Long: `Inspect reads a leaked private key (PKCS#1, PKCS#8, SEC1 EC or OpenSSH; PEM,
PEM with escaped newlines, or DER) for its public key only, prints its
fingerprints (SHA-256 of the SubjectPublicKeyInfo in hex and base64, and
OpenSSH's SHA256:), and looks in every system of type x509 and ssh in the
inventory for what carries that public key: certificates in files,
Kubernetes TLS Secrets, keystores, at TLS endpoints and in an openssl ca
index (a CA key lists everything the CA issued), and authorized_keys,
TrustedUserCAKeys and AuthorizedPrincipals lines. Each is graded by risk
(see docs/providers/keys.md). A place that cannot be read is listed as
unread, so the answer's blind spots show. The key is never printed or used.

EXIT STATUS
  0  nothing in the inventory carries the key
  1  something carries it: act on it
  2  usage or input error (no key in the input, an encrypted key whose public
     key is unknown, an unreadable inventory)`,
		Example: `  rekey keys inspect --secret-file leaked.pem --inventory inventory.yml
  rekey keys inspect --secret-stdin --inventory inventory.yml --format json < id_ed25519`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return runKeysInspect(c.Context(), g, o, c.OutOrStdout())
		},
	}
	o.secret.register(c)
	c.Flags().StringVar(&o.inventory, "inventory", "", "the inventory whose x509 and ssh systems to look in (required)")
	c.Flags().StringVar(&o.format, "format", "table", "output format: table or json")
	return c
}

// keysSystemJSON is one system's answer: the generic identity the scope
// uses and the provider's full report.
type keysSystemJSON struct {
	System   string             `json:"system"`
	Type     string             `json:"type"`
	Identity *provider.Identity `json:"identity"`
	Report   any                `json:"report"`
}

type keysInspectJSON struct {
	Key     *keys.Key        `json:"key"`
	Systems []keysSystemJSON `json:"systems"`
}

func runKeysInspect(ctx context.Context, g *globals, o *keysInspectOpts, out io.Writer) error {
	if err := checkFormat(o.format, "table", "json"); err != nil {
		return err
	}
	if o.inventory == "" {
		return usagef("--inventory is required: the x509 and ssh systems to look in")
	}
	s, err := o.secret.read(g)
	if err != nil {
		return err
	}
	defer s.Wipe()
	key, err := keys.Parse(s)
	if err != nil {
		return err
	}
	if key.Fingerprints == nil && o.secret.file != "" {
		// An encrypted key's public half may lie beside it (id_rsa.pub).
		if k, err := keys.ParseFile(o.secret.file); err == nil {
			key = k
		}
	}
	if key.Fingerprints == nil {
		return errs.New("keys inspect", errs.Invalid, "", "an encrypted "+key.Format+" key: its public key cannot be read without the passphrase; give its .pub instead")
	}
	opts, err := inventoryOptions(g)
	if err != nil {
		return err
	}
	inv, rep, err := inventory.Load(o.inventory, opts)
	if err != nil {
		return err
	}
	if !rep.OK() {
		return errs.New("keys inspect", errs.Invalid, o.inventory, fmt.Sprintf("%s (rekey inventory check %s)", rep.Errors[0], o.inventory))
	}
	res := keysInspectJSON{Key: key, Systems: []keysSystemJSON{}}
	found := false
	reg := all.Registry()
	for i := range inv.Systems {
		sys := &inv.Systems[i]
		if sys.X509 == nil && sys.SSH == nil {
			continue
		}
		p, err := reg.Open(ctx, sys.Type, provider.Config{System: sys.Name, Spec: sys, Getenv: g.env.Getenv})
		if err != nil {
			return err
		}
		sj := keysSystemJSON{System: sys.Name, Type: sys.Type}
		var name string
		switch p := p.(type) {
		case *certs.Certs:
			name = key.Fingerprints.SPKIRef()
			r, err := p.Examine(ctx, name)
			if err != nil {
				return err
			}
			sj.Report = r
		case *sshtrust.SSH:
			name = key.Fingerprints.SSH
			r, err := p.Examine(ctx, name)
			if err != nil {
				return err
			}
			sj.Report = r
		}
		if sj.Identity, err = p.Inspect(ctx, provider.IdentityRef{System: sys.Name, Name: name}); err != nil {
			return err
		}
		p.Close()
		found = found || sj.Identity.Exists
		res.Systems = append(res.Systems, sj)
	}
	if o.format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		printKeys(out, res)
	}
	if found {
		return foundError{}
	}
	return nil
}

func printKeys(out io.Writer, res keysInspectJSON) {
	k := res.Key
	state := "not encrypted"
	if k.Encrypted {
		state = "encrypted; public key from " + orText(k.PublicFrom, "the key file")
	}
	// Paths, subjects and SANs come from files and certificates anyone may
	// have written: every line goes through the one escaping (tablef).
	tablef(out, "key: %s %s (%s)\n", k.Algorithm, k.Format, state)
	fmt.Fprintf(out, "  SPKI SHA-256   %s\n  SPKI base64    %s\n  OpenSSH        %s\n", k.Fingerprints.SPKIRef(), k.Fingerprints.SPKISHA256Base64, k.Fingerprints.SSH)
	if len(res.Systems) == 0 {
		fmt.Fprintln(out, "\nthe inventory has no system of type x509 or ssh to look in")
	}
	for _, s := range res.Systems {
		id := s.Identity
		tablef(out, "\n%s (%s): ", s.System, s.Type)
		if !id.Exists {
			fmt.Fprintln(out, "nothing carries the key")
		} else {
			fmt.Fprintf(out, "%s\n", plural(len(id.Privileges), "thing carries the key", "things carry the key"))
		}
		for _, pv := range id.Privileges {
			tablef(out, "  %-8s %s\n", pv.Risk, pv.Name)
			for _, place := range strings.Split(pv.Via, ", ") {
				tablef(out, "           %s\n", place)
			}
		}
		for _, r := range id.Related {
			tablef(out, "  %s: %s: %s\n", r.Kind, r.Name, r.Detail)
		}
	}
}

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
