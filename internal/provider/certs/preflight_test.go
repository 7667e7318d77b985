package certs

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/provider"
)

// Preflight reads the CA as issue and revoke will, changing nothing: a
// CRL in a directory that does not exist is a problem naming it; a
// system without a CA config, or a plan that revokes nothing, has none.
func TestPreflightOfTheCA(t *testing.T) {
	req := provider.PreflightRequest{Needs: []provider.Need{provider.NeedRotate}, Steps: map[provider.Need][]string{provider.NeedRotate: {"revoke:web-tls/k"}}}
	p := newPKI(t, nil, nil)
	if res, err := p.certs.Preflight(context.Background(), req); err != nil || len(res.Problems) != 0 {
		t.Errorf("a working CA: %+v %v", res, err)
	}
	missing := filepath.Join(t.TempDir(), "gone", "ca.crl")
	p = newPKI(t, nil, func(ca *inventory.CAIndex) { ca.CRL = missing })
	res, err := p.certs.Preflight(context.Background(), req)
	if err != nil || len(res.Problems) != 1 || !strings.Contains(res.Problems[0], filepath.Dir(missing)+" is not writable") ||
		!strings.Contains(res.Problems[0], "revoke:web-tls/k") {
		t.Errorf("a CRL directory that does not exist: %+v %v", res, err)
	}
	if res, _ := p.certs.Preflight(context.Background(), provider.PreflightRequest{}); len(res.Problems) != 0 {
		t.Errorf("nothing to rotate: %+v", res)
	}
	p.certs.places.CA.Config = ""
	if res, _ := p.certs.Preflight(context.Background(), req); len(res.Problems) != 0 {
		t.Errorf("no CA config (a person's plan): %+v", res)
	}
}
