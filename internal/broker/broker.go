// Package broker issues just-in-time credentials: a workload proves what
// it is with a signed identity token from its platform (package identity),
// a Rego policy decides at that request whether it may have a lease of a
// role and for how long (package policy), and the lease is a real login
// that dies at its expiry. This package holds the decision that ties the
// two together, built from the inventory's broker: section; leases and
// their reaper build on it.
//
// A decision is made afresh for every request: nothing is cached between
// requests but the issuers' keys and the compiled policy.
package broker

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/broker/identity"
	"github.com/rekeyhq/rekey/internal/broker/policy"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/secret"
)

// Reasons the broker adds to the policy's own.
const (
	// ReasonNotAllowed is given when the policy's allow is false and it
	// gave no reason of its own, so that every refusal says something.
	ReasonNotAllowed = "not-allowed"
	// ReasonNoTTL is given when the granted lifetime would be zero.
	ReasonNoTTL = "no-ttl"
)

// IdentityState is what the store knows of an identity at request time.
// The server answers it from the store's open incidents; without one (the
// CLI, tests) no identity is under incident.
type IdentityState interface {
	// State reports whether an incident is open on identity (system/name)
	// and its risk score (0–100, 0 without an incident). It must not
	// cache across requests: an incident opened a second ago counts.
	State(ctx context.Context, identity string) (underIncident bool, risk int, err error)
}

// Config builds a Broker.
type Config struct {
	// Inventory holds the broker: section (it must be valid).
	Inventory *inventory.Inventory
	State     IdentityState
	// HTTPClient fetches issuers' discovery documents and keys.
	HTTPClient *http.Client
	// OnPolicyError is told when a new version of the policy file does not
	// compile (the previous version stays in force).
	OnPolicyError func(error)
}

// Broker decides credential requests. It is safe for concurrent use.
type Broker struct {
	inv      *inventory.Inventory
	verifier identity.TokenVerifier
	policy   *policy.Engine
	state    IdentityState
	now      func() time.Time
}

// New builds a Broker from the inventory's broker: section. It reads the
// policy file (which must compile) but reaches no issuer.
func New(ctx context.Context, cfg Config) (*Broker, error) {
	inv := cfg.Inventory
	if inv == nil || inv.Broker == nil {
		return nil, errs.New("broker", errs.Invalid, "", "the inventory has no broker: section")
	}
	var issuers []identity.Issuer
	for _, is := range inv.Broker.Issuers {
		c := identity.Issuer{Name: is.Name, Issuer: is.Issuer, TrustDomain: is.TrustDomain, Audience: is.Audience,
			JWKSFile: is.JWKS.Path(), JWKSURL: is.JWKSURL, DiscoveryURL: is.Discovery}
		if is.TrustDomain != "" {
			c.JWKSFile = is.Bundle.Path()
		}
		issuers = append(issuers, c)
	}
	v, err := identity.New(issuers, identity.Options{HTTPClient: cfg.HTTPClient})
	if err != nil {
		return nil, err
	}
	data := PolicyData(inv)
	var pe *policy.Engine
	if inv.Broker.Policy.IsZero() {
		pe, err = policy.Default(data)
	} else {
		pe, err = policy.Load(ctx, inv.Broker.Policy.Path(), data)
	}
	if err != nil {
		return nil, err
	}
	pe.OnReloadError = cfg.OnPolicyError
	return &Broker{inv: inv, verifier: v, policy: pe, state: cfg.State, now: time.Now}, nil
}

// PolicyData is the data document a policy sees: the roles of inv's
// broker: section as data.rekey.roles, their issuers as the iss values
// (spiffe://TRUST-DOMAIN for a trust domain) workloads of them carry.
// An inventory without a broker: section has no roles.
func PolicyData(inv *inventory.Inventory) map[string]any {
	roles := map[string]policy.Role{}
	if inv == nil || inv.Broker == nil {
		return policy.Data(roles)
	}
	values := map[string]string{}
	for _, is := range inv.Broker.Issuers {
		values[is.Name] = is.Issuer
		if is.TrustDomain != "" {
			values[is.Name] = "spiffe://" + is.TrustDomain
		}
	}
	for _, r := range inv.Broker.Roles {
		pr := policy.Role{System: r.System, Like: r.Like, Identity: r.System + "/" + r.Like, TTL: r.TTL, MaxTTL: r.MaxTTL,
			Subjects: r.Subjects, Claims: r.Claims}
		for _, name := range r.Issuers {
			pr.Issuers = append(pr.Issuers, values[name])
		}
		roles[r.Name] = pr
	}
	return policy.Data(roles)
}

// Request is a workload's request for a lease.
type Request struct {
	// Token is the workload's identity token (a bearer credential: it
	// never appears in a decision, a message or a log).
	Token secret.Secret
	Role  string
	// TTL is the lifetime asked for; 0 means the role's ttl.
	TTL time.Duration
	// Source is the address the request came from.
	Source string
}

// Workload is who asked, as its token proved it.
type Workload struct {
	// IssuerName is the inventory's name of the issuer; Issuer the token's
	// iss (spiffe://TRUST-DOMAIN for a JWT-SVID).
	IssuerName string `json:"issuer_name"`
	Issuer     string `json:"issuer"`
	Subject    string `json:"subject"`
}

// Holder is ISSUER:SUBJECT, how leases name the workload that holds them.
func (w Workload) Holder() string { return w.Issuer + ":" + w.Subject }

// Decision is the broker's answer to one request, the record the server
// writes to the audit log (and, for agents, keeps with the claims).
type Decision struct {
	Time    time.Time `json:"time"`
	Allowed bool      `json:"allowed"`
	// Reasons are why it was refused, sorted: the policy's deny reasons,
	// or ReasonNotAllowed, or ReasonNoTTL. Empty when allowed.
	Reasons []string `json:"reasons"`
	Role    string   `json:"role"`
	// Identity is the role's template identity (system/name), "" for a
	// role the inventory does not have; Kind is its kind ("" or "agent").
	Identity      string   `json:"identity"`
	Kind          string   `json:"kind"`
	UnderIncident bool     `json:"under_incident"`
	Risk          int      `json:"risk"`
	Workload      Workload `json:"workload"`
	// Claims are the claims the workload presented. They are set for an
	// agent's identity only: an agent's behaviour changes at runtime, and
	// the review of what it asked for, as whom, must be possible after.
	Claims map[string]any `json:"claims,omitempty"`
	// RequestedTTL is what was asked (the role's ttl when nothing was);
	// TTL is what is granted: the least of it, the role's max_ttl and the
	// policy's max_ttl. 0 when refused.
	// In JSON, TTLs are whole seconds.
	RequestedTTL time.Duration `json:"-"`
	TTL          time.Duration `json:"-"`
	// PolicyMaxTTL is the policy's cap, when it gave one.
	PolicyMaxTTL *time.Duration `json:"-"`
	// Policy is the policy version that decided: file@sha256-prefix.
	Policy string `json:"policy"`
	Source string `json:"source"`
}

// MarshalJSON writes the decision as the audit log keeps it, TTLs in
// seconds like the policy's input and output.
func (d *Decision) MarshalJSON() ([]byte, error) {
	type plain Decision
	out := struct {
		*plain
		RequestedTTL int64  `json:"requested_ttl"`
		TTL          int64  `json:"ttl"`
		PolicyMaxTTL *int64 `json:"policy_max_ttl,omitempty"`
	}{plain: (*plain)(d), RequestedTTL: int64(d.RequestedTTL / time.Second), TTL: int64(d.TTL / time.Second)}
	if d.PolicyMaxTTL != nil {
		s := int64(*d.PolicyMaxTTL / time.Second)
		out.PolicyMaxTTL = &s
	}
	return json.Marshal(out)
}

// KeepClaims reports whether the decision must be stored with the claims
// presented (an agent's identity).
func (d *Decision) KeepClaims() bool { return d.Kind == inventory.KindAgent }

// Decide verifies the request's token and decides it. An error holding an
// *identity.Refusal is a token that proves nothing (401, with its reason);
// any other error means no decision could be made (the request must be
// refused: the policy failed, the identity's state is unknown). A refused
// decision is not an error.
func (b *Broker) Decide(ctx context.Context, req Request) (*Decision, error) {
	w, err := b.verifier.Verify(ctx, req.Token)
	if err != nil {
		return nil, err
	}
	return b.Authorize(ctx, w, req.Role, req.TTL, req.Source)
}

// Verify checks a workload's token alone, for the requests on a lease it
// holds (renew, revoke): an error holding an *identity.Refusal is a token
// that proves nothing. A renewal then asks Authorize again.
func (b *Broker) Verify(ctx context.Context, token secret.Secret) (*identity.Workload, error) {
	return b.verifier.Verify(ctx, token)
}

// Authorize decides a request of an already verified workload (a renewal
// checks its token again, then calls this).
func (b *Broker) Authorize(ctx context.Context, w *identity.Workload, role string, ttl time.Duration, source string) (*Decision, error) {
	if ttl < 0 {
		return nil, errs.New("broker", errs.Invalid, "", "ttl must not be negative")
	}
	d := &Decision{Time: b.now().UTC(), Role: role, Source: source, RequestedTTL: ttl,
		Workload: Workload{IssuerName: w.IssuerName, Issuer: w.Issuer, Subject: w.Subject}}
	var maxTTL time.Duration
	if r := b.inv.Broker.RoleByName(role); r != nil {
		id := r.Identity(b.inv)
		d.Identity = r.System + "/" + r.Like
		if id != nil {
			d.Kind = id.Kind
		}
		if b.state != nil {
			var err error
			if d.UnderIncident, d.Risk, err = b.state.State(ctx, d.Identity); err != nil {
				return nil, errs.E("broker: state of "+d.Identity, errs.Unreachable, "", err)
			}
		}
		maxTTL = r.MaxTTL
		if ttl == 0 {
			d.RequestedTTL = r.TTL
		}
		if maxTTL == 0 {
			maxTTL = r.TTL
		}
	}
	if d.KeepClaims() {
		d.Claims = w.Claims
	}
	res, err := b.policy.Eval(ctx, policy.Input{
		Workload: policy.Workload{Issuer: w.Issuer, Subject: w.Subject, Claims: w.Claims},
		Request:  policy.Request{Role: role, TTL: d.RequestedTTL},
		Time:     d.Time, Source: source,
		Identity: policy.Identity{UnderIncident: d.UnderIncident, Risk: d.Risk, Kind: d.Kind},
	})
	if err != nil {
		return nil, err
	}
	d.Policy, d.Reasons = res.Policy, slices.Clone(res.Deny)
	if res.HasMaxTTL {
		d.PolicyMaxTTL = &res.MaxTTL
	}
	granted := min(d.RequestedTTL, maxTTL)
	if res.HasMaxTTL {
		granted = min(granted, res.MaxTTL)
	}
	granted = granted.Truncate(time.Second)
	switch {
	case len(d.Reasons) > 0:
	case !res.Allow:
		d.Reasons = []string{ReasonNotAllowed}
	case granted <= 0:
		d.Reasons = []string{ReasonNoTTL}
	default:
		d.Allowed, d.TTL = true, granted
	}
	if d.Reasons == nil {
		d.Reasons = []string{}
	}
	return d, nil
}

// PolicyError is the error of the last version of the policy file that
// could not be used, or nil: the server shows it on its health page.
func (b *Broker) PolicyError() error { return b.policy.Err() }

// Explain is a one-line account of a refused decision for people: the
// reasons, joined.
func (d *Decision) Explain() string {
	if d.Allowed {
		return "allowed for " + d.TTL.String()
	}
	return "refused by policy: " + strings.Join(d.Reasons, ", ")
}
