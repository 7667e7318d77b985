package certs

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/places"
)

var _ provider.Preflighter = (*Certs)(nil)

// Preflight checks, changing nothing, that the CA can be acted on as the
// plan's issue and revoke steps will: openssl is installed, the CA's
// config, certificate and key are readable, and the directories openssl
// ca writes (the index's, the certs directory, the CRL's) are writable.
// A system without a CA config has nothing to check: its plan asks a
// person instead.
func (c *Certs) Preflight(ctx context.Context, req provider.PreflightRequest) (*provider.PreflightResponse, error) {
	pf := places.NewPreflight(req)
	ca := c.places.CA
	if !req.Wants(provider.NeedRotate) || ca == nil || ca.Config == "" {
		return &pf.Response, nil
	}
	problem := pf.Add
	if _, err := exec.LookPath("openssl"); err != nil {
		problem("openssl is not installed here: the CA is run with openssl ca")
	}
	if _, err := c.Authority(); err != nil {
		problem("%s", oneLine(err))
	}
	read := []string{c.places.Abs(ca.Config), c.places.Abs(ca.Index)}
	if !ca.Key.IsZero() {
		read = append(read, ca.Key.Path())
	}
	for _, p := range read {
		if f, err := os.Open(p); err != nil {
			problem("%s cannot be read: %v", p, places.Cause(err))
		} else {
			f.Close()
		}
	}
	write := []string{filepath.Dir(c.places.Abs(ca.Index))}
	if ca.CertsDir != "" {
		write = append(write, c.places.Abs(ca.CertsDir))
	}
	if ca.CRL != "" {
		write = append(write, filepath.Dir(c.places.Abs(ca.CRL)))
	}
	for _, d := range write {
		if err := places.Writable(d); err != nil {
			problem("%s is not writable: openssl ca writes there (%v)", d, err)
		}
	}
	if !ca.KeyPassphrase.IsZero() {
		if err := ca.KeyPassphrase.Check(c.getenv); err != nil {
			problem("the CA key's passphrase: %v", err)
		}
	}
	return &pf.Response, nil
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }
