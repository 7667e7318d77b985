package provider

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/rekeyhq/rekey/internal/errs"
)

func TestSanitizerScrubsAndKeepsKind(t *testing.T) {
	var s Sanitizer
	s.Add("postgres://admin:Adm1nPassw0rd@db:5432/postgres", "Adm1nPassw0rd", "x")
	err := errs.New("postgres shop-db", errs.Permission, "", "login as admin with Adm1nPassw0rd\nrefused")
	got := s.Scrub(err, "leaked-candidate-1")
	if strings.Contains(got.Error(), "Adm1nPassw0rd") || strings.Contains(got.Error(), "\n") || errs.KindOf(got) != errs.Permission {
		t.Fatalf("scrubbed: %q kind %v", got, errs.KindOf(got))
	}
	if clean := errors.New("nothing secret here"); s.Scrub(clean) != clean {
		t.Fatal("a clean error was rebuilt")
	}
	if got := s.Clean("a candidate leaked-candidate-1 in text", "leaked-candidate-1"); strings.Contains(got, "leaked-candidate-1") {
		t.Fatal(got)
	}
	if got := s.Clean("an x stays"); got != "an x stays" {
		t.Fatalf("a one-letter value was replaced: %q", got)
	}
}

func TestNetCause(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	cases := map[error]string{
		fmt.Errorf("connect: %w", refused):                      "connection refused",
		&net.DNSError{Name: "db.internal", Err: "no such host"}: "cannot resolve host db.internal",
		fmt.Errorf("x: %w", syscall.EHOSTUNREACH):               "no route to host",
	}
	for err, want := range cases {
		if got, ok := NetCause(err); !ok || got != want {
			t.Errorf("%v: %q %v, want %q", err, got, ok, want)
		}
	}
	if _, ok := NetCause(errors.New("syntax error")); ok {
		t.Error("a non-network error has a cause")
	}
}

func TestRiskOrder(t *testing.T) {
	if MaxRisk(RiskLow, RiskHigh) != RiskHigh || MaxRisk(RiskCritical, RiskMedium) != RiskCritical || RiskCritical.Rank() != 0 || Risk("").Rank() != 3 {
		t.Fatal("risk order")
	}
}
