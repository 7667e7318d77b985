package provider

import "testing"

func TestPreflightRequestNames(t *testing.T) {
	req := PreflightRequest{Needs: []Need{NeedRotate}, Steps: map[Need][]string{NeedRotate: {"issue:a", "revoke:a"}}}
	if !req.Wants(NeedRotate) || req.Wants(NeedTerminate) {
		t.Errorf("Wants: %v", req.Needs)
	}
	if got := req.For(NeedRotate); got != " (steps issue:a, revoke:a)" {
		t.Errorf("For = %q", got)
	}
	if got := req.For(NeedTerminate); got != "" {
		t.Errorf("For without steps = %q", got)
	}
}
