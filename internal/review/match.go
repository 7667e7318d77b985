package review

import (
	"regexp"
	"strings"

	"github.com/rekeyhq/rekey/internal/logs"
)

// ref is the credential under review as the logs may name it.
type ref struct {
	raw string
	// role is set for an IAM role ARN: its sessions are
	// arn:PARTITION:sts::ACCOUNT:assumed-role/NAME/SESSION.
	sessionPrefix string
	// bound is true when the reference names this one secret (an access
	// key id, a token accessor or fingerprint): a success after rotation
	// can then only be the old secret. A name (a database role, an IAM
	// user) keeps its name across rotations.
	bound bool
	name  bool // a plain name: also matched as a user name and user@host
}

var (
	awsKeyID    = regexp.MustCompile(`^(AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}$`)
	hexDigest   = regexp.MustCompile(`^[0-9a-f]{40,128}$`)
	roleARN     = regexp.MustCompile(`^arn:([a-z-]+):iam::(\d{12}):role/(?:[^/]+/)*([^/]+)$`)
	instanceID  = regexp.MustCompile(`^i-[0-9a-f]{8,17}$`)
	assumedRole = regexp.MustCompile(`^arn:[a-z-]+:sts::\d{12}:assumed-role/[^/]+/(.+)$`)
)

func parseRef(s string) ref {
	r := ref{raw: s}
	switch {
	case awsKeyID.MatchString(s), hexDigest.MatchString(s), strings.HasPrefix(s, "hmac-sha256:"):
		r.bound = true
	case strings.HasPrefix(s, "arn:"):
		if m := roleARN.FindStringSubmatch(s); m != nil {
			r.sessionPrefix = "arn:" + m[1] + ":sts::" + m[2] + ":assumed-role/" + m[3] + "/"
		}
	default:
		r.name = true
	}
	return r
}

// matches decides whether an event is a use of the credential: its
// credential or identity field is the reference; for a role ARN, a
// session of that role; for a plain name, the IAM user name, the issuer
// role's name or the user part of user@host.
func (r *ref) matches(e *logs.Event) bool {
	if e.Credential == r.raw || e.Identity == r.raw {
		return true
	}
	if r.sessionPrefix != "" {
		return strings.HasPrefix(e.Identity, r.sessionPrefix) || e.Detail["session_issuer_arn"] == r.raw
	}
	if r.name {
		if e.Detail["user_name"] == r.raw {
			return true
		}
		if u, _, ok := strings.Cut(e.Identity, "@"); ok && u == r.raw {
			return true
		}
		// An account named user@host is used under its user name.
		if u, _, ok := strings.Cut(r.raw, "@"); ok && e.Credential == u {
			return true
		}
		if iss := e.Detail["session_issuer_arn"]; iss != "" && strings.HasSuffix(iss, ":role/"+r.raw) {
			return true
		}
	}
	return false
}

// FilterKeys returns byte strings at least one of which every record that
// uses ref contains, for a byte-level prefilter such as
// cloudtrail.NewFiltered.
func FilterKeys(s string) []string {
	r := parseRef(s)
	keys := []string{s}
	if r.sessionPrefix != "" {
		keys = append(keys, r.sessionPrefix)
	}
	return keys
}

// workload names the one machine or pod a credential was issued to, when
// the event says: an assumed-role session named after an EC2 instance, a
// Kubernetes token bound to a pod.
func workload(e *logs.Event) string {
	if m := assumedRole.FindStringSubmatch(e.Identity); m != nil && instanceID.MatchString(m[1]) {
		return "instance " + m[1]
	}
	if p := e.Detail["bound_pod"]; p != "" {
		return "pod " + p
	}
	if n := e.Detail["bound_node"]; n != "" {
		return "node " + n
	}
	return ""
}

// boundSource is the address a workload credential was issued to, when
// the log records it.
func boundSource(e *logs.Event) string {
	for _, k := range []string{"bound_ip", "bound_pod_ip", "bound_node_ip"} {
		if v := e.Detail[k]; v != "" {
			return v
		}
	}
	return ""
}

// serviceSource reports whether a source is the provider itself acting on
// the credential's behalf (CloudTrail's "ec2.amazonaws.com", "AWS
// Internal"): not a client that could be an attacker.
func serviceSource(s string) bool {
	return s == "AWS Internal" || strings.HasSuffix(s, ".amazonaws.com")
}
