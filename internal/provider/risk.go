package provider

// Rank orders risks, most severe first: critical 0, high 1, medium 2,
// low (and anything else) 3.
func (r Risk) Rank() int {
	switch r {
	case RiskCritical:
		return 0
	case RiskHigh:
		return 1
	case RiskMedium:
		return 2
	}
	return 3
}

// MaxRisk returns the more severe of a and b.
func MaxRisk(a, b Risk) Risk {
	if b.Rank() < a.Rank() {
		return b
	}
	return a
}

// Dangerous reports whether a replacement or a lease must not get p
// unless the inventory keeps it: full control, or the power to mint
// credentials.
func (p Privilege) Dangerous() bool { return p.Risk == RiskCritical || p.CreatesCredentials }
