package providertest

import (
	"context"
	"testing"

	"github.com/rekeyhq/rekey/internal/provider"
)

// PreflightProblems opens a provider with cfg and returns what its
// Preflight finds for a plan that rotates and ends sessions.
func PreflightProblems(t *testing.T, open provider.Factory, cfg provider.Config) []string {
	t.Helper()
	p, err := open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	pf, ok := p.(provider.Preflighter)
	if !ok {
		t.Fatalf("%T is no provider.Preflighter", p)
	}
	res, err := pf.Preflight(context.Background(), provider.PreflightRequest{Needs: []provider.Need{provider.NeedRotate, provider.NeedTerminate},
		Steps: map[provider.Need][]string{provider.NeedTerminate: {"terminate-sessions:x"}}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Problems
}
