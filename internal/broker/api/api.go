// Package api is the broker's HTTP API (DESIGN "The service", Broker):
// a workload presents its platform's identity token as a bearer token and
// gets a lease of a role, renews it, or ends it. It is an http.Handler
// that `rekey serve` mounts at /broker/v1/; the routes carry the full
// path, so it is mounted as it is, without stripping a prefix.
//
// Workload tokens are not the service's API tokens: nothing here accepts
// a rekey token, and the API's routes accept no workload token. Every
// request verifies its token afresh and asks the policy again (a renewal
// of a role whose identity came under incident is refused), and every
// refusal is in the response and in the audit log, with its reasons and
// without the token.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/audit"
	"github.com/rekeyhq/rekey/internal/broker"
	"github.com/rekeyhq/rekey/internal/broker/identity"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
)

// Audit actions of refused requests (issued, renewed and revoked leases
// are audited by broker.Leases). The actor of a policy refusal is the
// workload (ISSUER:SUBJECT); a token that proves nothing has none, and
// its entry's actor is ActorUnverified.
const (
	ActionRefuse = "broker.request.refuse"
	// ActionDecision keeps an allowed decision for an agent's identity
	// with the claims presented: what an agent asked for, as whom, must
	// be reviewable afterwards.
	ActionDecision = "broker.request.decision"
)

// ActorUnverified is the actor of a refused token.
const ActorUnverified = "unverified-workload"

// Prefix is where the handler's routes live.
const Prefix = "/broker/v1/"

// Route is one endpoint of the handler, for the server's OpenAPI
// document.
type Route struct {
	Method, Pattern, Summary string
}

// Routes are the handler's endpoints. Each authenticates with a workload
// identity token (Authorization: Bearer WORKLOAD_JWT), not a rekey token.
var Routes = []Route{
	{"POST", Prefix + "credentials", "A lease of a role for the workload the bearer token proves: 201 {lease_id, login, secret, expires_at, renewable}; 401 with the token's refusal reason; 403 with the policy's reasons."},
	{"POST", Prefix + "leases/{id}/renew", "Renew the workload's own lease (the policy is asked again): {expires_at}."},
	{"DELETE", Prefix + "leases/{id}", "End the workload's own lease and its sessions: 204."},
}

// Config is what the handler works through.
type Config struct {
	Broker *broker.Broker
	Leases *broker.Leases
	// Audit records refusals (the leases service records the rest).
	Audit *audit.Log
	// OnError, when set, is told of errors the client sees only as a 500
	// or 503 (for the server's log).
	OnError func(r *http.Request, err error)
}

type handler struct {
	cfg Config
	mux *http.ServeMux
}

// New returns the broker API handler.
func New(cfg Config) (http.Handler, error) {
	if cfg.Broker == nil || cfg.Leases == nil || cfg.Audit == nil {
		return nil, errs.New("broker api", errs.Invalid, "", "the broker API needs a broker, its leases and an audit log")
	}
	h := &handler{cfg: cfg, mux: http.NewServeMux()}
	for i, fn := range []func(http.ResponseWriter, *http.Request) error{h.credentials, h.renew, h.revoke} {
		h.route(Routes[i].Method+" "+Routes[i].Pattern, fn)
	}
	h.mux.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{Status: http.StatusNotFound, Kind: "not-found", Message: "no such broker endpoint: " + r.Method + " " + r.URL.Path})
	})
	return h, nil
}

// route registers a handler whose error is written as the envelope.
func (h *handler) route(pattern string, fn func(http.ResponseWriter, *http.Request) error) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			h.fail(w, r, err)
		}
	})
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// A response may hold a credential: no cache keeps it.
	w.Header().Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

// credentialsRequest is POST /broker/v1/credentials's body.
type credentialsRequest struct {
	Role string `json:"role"`
	TTL  TTL    `json:"ttl"`
}

// Credentials is the 201 answer: the lease and, once, its secret.
type Credentials struct {
	LeaseID      string    `json:"lease_id"`
	Login        string    `json:"login"`
	Secret       string    `json:"secret"`
	ExpiresAt    time.Time `json:"expires_at"`
	Renewable    bool      `json:"renewable"`
	MaxExpiresAt time.Time `json:"max_expires_at"`
	Role         string    `json:"role"`
	System       string    `json:"system"`
}

// renewRequest is the renewal's optional body.
type renewRequest struct {
	TTL TTL `json:"ttl"`
}

// Renewed is the renewal's answer.
type Renewed struct {
	ExpiresAt time.Time `json:"expires_at"`
}

// TTL is a lifetime in a request body: a number of seconds (as the
// policy sees it) or a Go duration ("15m").
type TTL time.Duration

func (t *TTL) UnmarshalJSON(b []byte) error {
	var n json.Number
	if err := json.Unmarshal(b, &n); err == nil {
		s, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil || s < 0 || s > int64(24*time.Hour/time.Second) {
			return fmt.Errorf("ttl %s: want whole seconds from 0 to 86400", n)
		}
		*t = TTL(time.Duration(s) * time.Second)
		return nil
	}
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		return fmt.Errorf("ttl: want a number of seconds or a duration such as \"15m\"")
	}
	d, err := time.ParseDuration(str)
	if err != nil || d < 0 {
		return fmt.Errorf("ttl %q: want a duration such as \"15m\"", str)
	}
	*t = TTL(d)
	return nil
}

func (h *handler) credentials(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	tok, err := bearer(r)
	if err != nil {
		return err
	}
	var req credentialsRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Role == "" {
		return invalid("role is required")
	}
	wl, err := h.verify(ctx, r, tok, req.Role)
	if err != nil {
		return err
	}
	d, err := h.cfg.Broker.Authorize(ctx, wl, req.Role, time.Duration(req.TTL), source(r))
	if err != nil {
		return err
	}
	if err := h.decided(ctx, d, ""); err != nil {
		return err
	}
	l, err := h.cfg.Leases.Issue(ctx, d)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, Credentials{LeaseID: l.ID, Login: l.Login, Secret: string(l.Secret.Reveal()),
		ExpiresAt: l.ExpiresAt, Renewable: l.Renewable, MaxExpiresAt: l.MaxExpiresAt, Role: l.Role, System: l.System})
	return nil
}

// renew checks the token again and asks the policy again for the lease's
// role: a lease is renewed only while a new one would be issued, and for
// no longer than a new one would live.
func (h *handler) renew(w http.ResponseWriter, r *http.Request) error {
	var req renewRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	wl, rec, err := h.own(r)
	if err != nil {
		return err
	}
	d, err := h.cfg.Broker.Authorize(r.Context(), wl, rec.Role, time.Duration(req.TTL), source(r))
	if err != nil {
		return err
	}
	if err := h.decided(r.Context(), d, rec.ID); err != nil {
		return err
	}
	until, err := h.cfg.Leases.Renew(r.Context(), rec.ID, rec.Holder, d.TTL)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, Renewed{ExpiresAt: until})
	return nil
}

// revoke ends the workload's own lease. Ending a lease is never refused
// by policy: giving a credential back is always allowed.
func (h *handler) revoke(w http.ResponseWriter, r *http.Request) error {
	_, rec, err := h.own(r)
	if err != nil {
		return err
	}
	if err := h.cfg.Leases.Revoke(r.Context(), rec.ID, rec.Holder, rec.Holder); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// own verifies the request's token and finds the lease its path names
// among the workload's.
func (h *handler) own(r *http.Request) (*identity.Workload, store.BrokerLease, error) {
	tok, err := bearer(r)
	if err != nil {
		return nil, store.BrokerLease{}, err
	}
	wl, err := h.verify(r.Context(), r, tok, "")
	if err != nil {
		return nil, store.BrokerLease{}, err
	}
	rec, err := h.lease(r.Context(), r.PathValue("id"), wl)
	return wl, rec, err
}

// lease is the workload's lease id; another workload's is not found (a
// workload learns nothing of others' leases).
func (h *handler) lease(ctx context.Context, id string, wl *identity.Workload) (store.BrokerLease, error) {
	holder := broker.Workload{Issuer: wl.Issuer, Subject: wl.Subject}.Holder()
	recs, err := h.cfg.Leases.List(ctx, store.BrokerLeaseFilter{ID: id, Holder: holder})
	if err != nil {
		return store.BrokerLease{}, err
	}
	if len(recs) == 0 {
		return store.BrokerLease{}, &apiError{Status: http.StatusNotFound, Kind: "not-found", Message: "no such lease of this workload: " + oneLine(id)}
	}
	return recs[0], nil
}

// verify checks the workload's token; a refusal is audited and becomes a
// 401 with its reason (503 when the issuer's keys are unreachable: not
// the workload's fault).
func (h *handler) verify(ctx context.Context, r *http.Request, tok secret.Secret, role string) (*identity.Workload, error) {
	wl, err := h.cfg.Broker.Verify(ctx, tok)
	if err == nil {
		return wl, nil
	}
	var ref *identity.Refusal
	if !errors.As(err, &ref) {
		return nil, err
	}
	detail := map[string]any{"reason": string(ref.Reason), "message": ref.Error(), "issuer": ref.Issuer, "role": role,
		"source": source(r), "path": r.URL.Path}
	if _, aerr := h.cfg.Audit.Append(ctx, ActorUnverified, ActionRefuse, "", detail); aerr != nil {
		return nil, aerr
	}
	if ref.Reason == identity.Unavailable {
		return nil, &apiError{Status: http.StatusServiceUnavailable, Kind: "unavailable", Message: ref.Error(), Reasons: []string{string(ref.Reason)}}
	}
	return nil, &apiError{Status: http.StatusUnauthorized, Kind: "unauthorized", Message: ref.Error(), Reasons: []string{string(ref.Reason)}}
}

// decided audits what must be kept of a decision — every refusal, and
// every decision for an agent's identity with its claims — and turns a
// refusal into a 403 with the policy's reasons.
func (h *handler) decided(ctx context.Context, d *broker.Decision, lease string) error {
	record := func() (map[string]any, error) {
		b, err := json.Marshal(d)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, err
		}
		if lease != "" {
			m["lease_id"] = lease
		}
		return m, nil
	}
	if d.Allowed && !d.KeepClaims() {
		return nil
	}
	rec, err := record()
	if err != nil {
		return err
	}
	switch {
	case !d.Allowed:
		if _, err := h.cfg.Audit.Append(ctx, d.Workload.Holder(), ActionRefuse, "", rec); err != nil {
			return err
		}
		return &apiError{Status: http.StatusForbidden, Kind: "forbidden", Message: d.Explain(), Reasons: d.Reasons}
	case d.KeepClaims():
		if _, err := h.cfg.Audit.Append(ctx, d.Workload.Holder(), ActionDecision, "", rec); err != nil {
			return err
		}
	}
	return nil
}

func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	ae := asAPIError(err)
	if ae.Status >= 500 && h.cfg.OnError != nil {
		h.cfg.OnError(r, err)
	}
	writeError(w, ae)
}

// bearer is the request's workload token.
func bearer(r *http.Request) (secret.Secret, error) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return secret.Secret{}, &apiError{Status: http.StatusUnauthorized, Kind: "unauthorized",
			Message: "missing workload token (Authorization: Bearer WORKLOAD_JWT)", Reasons: []string{string(identity.Malformed)}}
	}
	return secret.FromString(tok), nil
}

// source is the address the request came from, without its port: what
// the policy's input.source holds.
func source(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
