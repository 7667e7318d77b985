package sshtrust

import (
	"context"
	"os"
	"path/filepath"

	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/places"
)

var _ provider.Preflighter = (*SSH)(nil)

// Preflight checks, changing nothing, that the trust files the plan's
// steps edit can be: each one the globs match is readable and its
// directory takes a new file (the atomic replacement is written there).
func (s *SSH) Preflight(ctx context.Context, req provider.PreflightRequest) (*provider.PreflightResponse, error) {
	pf := places.NewPreflight(req)
	if !req.Wants(provider.NeedRotate) {
		return &pf.Response, nil
	}
	var rd places.Reader
	pl := s.places
	dirs := map[string]bool{}
	for _, g := range append(append([]string{}, pl.AuthorizedKeys...), pl.TrustedUserCAKeys...) {
		for _, p := range rd.Glob(pl.Abs(g), g) {
			f, err := os.Open(p)
			if err != nil {
				pf.Add("%s cannot be read: %v", p, places.Cause(err))
				continue
			}
			f.Close()
			if d := filepath.Dir(p); !dirs[d] {
				dirs[d] = true
				if err := places.Writable(d); err != nil {
					pf.Add("%s is not writable: its trust files are replaced there (%v)", d, err)
				}
			}
		}
	}
	return &pf.Response, nil
}
