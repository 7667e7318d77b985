package provider

import "context"

// Need is one kind of change a plan will make in a system, for Preflight.
type Need string

const (
	// NeedRotate: create, alter (password, login, expiry, privileges) and
	// drop logins, and copy an identity's grants to a new one (issue,
	// revoke, isolate, revoke-related steps).
	NeedRotate Need = "rotate"
	// NeedTerminate: end another login's sessions (terminate-sessions,
	// and isolate's cut of unexplained sessions).
	NeedTerminate Need = "terminate"
)

// PreflightRequest says what a plan will do in the system.
type PreflightRequest struct {
	Needs []Need
	// Steps name, per need, the plan's steps that need it, for messages.
	Steps map[Need][]string
}

// PreflightResponse lists what the administrator lacks, one line each,
// naming the privilege and the steps that need it; none means go.
type PreflightResponse struct {
	Problems []string
}

// Preflighter is implemented by systems that can tell, before a run, whether
// their administrator holds the privileges the run's steps need.
type Preflighter interface {
	// Preflight connects as the administrator and reads its own
	// privileges. It changes nothing. An error is for what prevented the
	// check (unreachable, refused); missing privileges are Problems.
	Preflight(ctx context.Context, req PreflightRequest) (*PreflightResponse, error)
}

// Wants reports whether req needs n.
func (req PreflightRequest) Wants(n Need) bool {
	for _, x := range req.Needs {
		if x == n {
			return true
		}
	}
	return false
}

// For names the steps that need n ("" when the request names none), for
// the end of a problem line: " (steps issue:…, revoke:…)".
func (req PreflightRequest) For(n Need) string {
	steps := req.Steps[n]
	if len(steps) == 0 {
		return ""
	}
	out := " (steps "
	for i, s := range steps {
		if i > 0 {
			out += ", "
		}
		out += s
	}
	return out + ")"
}
