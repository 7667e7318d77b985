package certs

import (
	"fmt"
	"testing"

	"github.com/rekeyhq/rekey/internal/provider"
)

// The risk table of docs/providers/keys.md, one row each.
func TestGrade(t *testing.T) {
	many := make([]string, manySANs)
	for i := range many {
		many[i] = fmt.Sprintf("DNS:h%d.example.org", i)
	}
	for _, c := range []struct {
		name string
		cert Certificate
		want provider.Risk
	}{
		{"valid CA", Certificate{IsCA: true, Status: StatusValid}, provider.RiskCritical},
		{"revoked CA", Certificate{IsCA: true, Status: StatusRevoked}, provider.RiskLow},
		{"code signing", Certificate{ExtKeyUsage: []string{"codeSigning"}, Status: StatusValid}, provider.RiskHigh},
		{"no EKU", Certificate{ExtKeyUsage: []string{}, Status: StatusValid}, provider.RiskHigh},
		{"client", Certificate{ExtKeyUsage: []string{"clientAuth"}, Status: StatusValid}, provider.RiskHigh},
		{"wildcard server", Certificate{ExtKeyUsage: []string{"serverAuth"}, SANs: []string{"DNS:*.example.org"}, Status: StatusValid}, provider.RiskHigh},
		{"server for many names", Certificate{ExtKeyUsage: []string{"serverAuth"}, SANs: many, Status: StatusValid}, provider.RiskHigh},
		{"server for a few names", Certificate{ExtKeyUsage: []string{"serverAuth"}, SANs: many[:manySANs-1], Status: StatusValid}, provider.RiskMedium},
		{"not yet valid server", Certificate{ExtKeyUsage: []string{"serverAuth"}, Status: StatusNotYetValid}, provider.RiskMedium},
		{"expired client", Certificate{ExtKeyUsage: []string{"clientAuth"}, Status: StatusExpired}, provider.RiskLow},
		{"email only", Certificate{ExtKeyUsage: []string{"emailProtection"}, Status: StatusValid}, provider.RiskLow},
	} {
		if got, why := grade(&c.cert); got != c.want || why == "" {
			t.Errorf("%s: %s (%q), want %s", c.name, got, why, c.want)
		}
	}
}
