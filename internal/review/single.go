package review

import "github.com/rekeyhq/rekey/internal/logs"

// This file exports what judging one event at a time (internal/watch)
// shares with the batch review, so that both apply one set of rules: the
// sensitive-action list, how sources and user agents are keyed, the
// severity of a new source, and the thresholds of bursts and volume.

// Thresholds shared with watch.
const (
	// BurstMin is the fewest refusals in ten minutes that make a
	// failed-auth burst; BurstFactor how many times the baseline's worst
	// ten minutes; BurstBucket the bucket.
	BurstMin    = burstMin
	BurstFactor = burstFactor
	BurstBucket = burstBucket
	// VolumeMin is the fewest events in an hour that can make a volume
	// jump; VolumeFactor how many times the baseline's busiest hour.
	VolumeMin    = volumeMin
	VolumeFactor = volumeFactor
	// MinBaselineEvents is the fewest baseline events from which its hours
	// and volume say what is usual.
	MinBaselineEvents = minBaselineEvents
)

// EvidenceOf is the evidence an event gives a finding.
func EvidenceOf(e *logs.Event) Evidence { return evidenceOf(e, false) }

// Sensitive says whether e is a sensitive action: its label (the action,
// or a statement kind such as "COPY … PROGRAM"), category and severity.
func Sensitive(e *logs.Event) (label, category string, sev Severity, ok bool) {
	label, s, ok := classify(e)
	return label, s.category, s.severity, ok
}

// Network is the /24 (IPv4) or /64 (IPv6) around an address, or "" for a
// host name.
func Network(src string) string { return network(src) }

// AgentKey is a user agent without the parts that name the single call.
func AgentKey(ua string) string { return agentKey(ua) }

// SuspiciousAgent reports a user agent of offensive tooling.
func SuspiciousAgent(ua string) bool { return suspiciousAgent(ua) }

// ServiceSource reports a source that is the provider itself acting for
// the credential, not a client.
func ServiceSource(src string) bool { return serviceSource(src) }

// NewSourceSeverity is the severity of a use from a source no consumer
// declares and the baseline lacks: hasBaseline says whether there is a
// baseline to compare with, succeeded whether any such use succeeded,
// networkSeen whether the baseline knows the source's network.
func NewSourceSeverity(hasBaseline, succeeded, networkSeen bool) Severity {
	if !hasBaseline {
		if succeeded {
			return Medium
		}
		return Low
	}
	sev := Medium
	if succeeded {
		sev = High
	}
	if networkSeen {
		sev = sev.lower()
	}
	return sev
}
