package server

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/store"
)

// LeaseRevoker ends broker leases as an administrator: *broker.Leases.
type LeaseRevoker interface {
	Revoke(ctx context.Context, id, holder, by string) error
	RevokeHolder(ctx context.Context, holder, by string) (int, error)
	RevokeRole(ctx context.Context, role, by string) (int, error)
}

func (s *Server) leaseRoutes() {
	s.handle("GET", "/api/v1/leases", auth.Read, "Every credential rekey issued (runs' and the broker's), soonest expiry first.", s.listLeases)
	s.describe("GET", "/api/v1/leases", Doc{Response: []leaseView{},
		Query: []Param{{Name: "all", Description: "also revoked and dropped leases", Enum: []string{"true", "false"}}}})
	s.handle("POST", "/api/v1/leases/revoke", auth.Manage, "End broker leases now: one, a workload's, or a role's; their sessions end too.", s.revokeLeases)
	s.describe("POST", "/api/v1/leases/revoke", Doc{Request: revokeRequest{}, Response: revoked{}})
}

// leaseView is one lease as `rekey leases --format json` shows it, plus
// what a broker lease adds: its role, its holder (ISSUER:SUBJECT), and
// whether a renewal could still move its expiry.
type leaseView struct {
	store.Lease
	Role      string `json:"role,omitempty"`
	Holder    string `json:"holder,omitempty"`
	Renewable bool   `json:"renewable"`
}

func (s *Server) listLeases(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	all := r.URL.Query().Get("all")
	if all != "" && all != "true" && all != "false" {
		return invalid("all %q: want true or false", all)
	}
	d, err := s.deps(r.Context(), p)
	if err != nil {
		return err
	}
	f, bf := store.LeaseFilter{State: store.LeaseActive}, store.BrokerLeaseFilter{States: []string{store.BrokerIssuing, store.BrokerActive}}
	if all == "true" {
		f, bf = store.LeaseFilter{}, store.BrokerLeaseFilter{}
	}
	ls, err := d.Store.Leases(r.Context(), f)
	if err != nil {
		return err
	}
	bls, err := d.Store.BrokerLeases(r.Context(), bf)
	if err != nil {
		return err
	}
	out := make([]leaseView, 0, len(ls)+len(bls))
	for _, l := range ls {
		out = append(out, leaseView{Lease: l, Renewable: l.State == store.LeaseActive})
	}
	for _, b := range bls {
		exp := b.ExpiresAt
		out = append(out, leaseView{
			Lease: store.Lease{ID: b.ID, System: b.System, Login: b.Login, Issued: b.IssuedAt, Expires: &exp, State: b.State, Updated: b.Updated},
			Role:  b.Role, Holder: b.Holder, Renewable: b.State == store.BrokerActive && b.ExpiresAt.Before(b.MaxExpiresAt),
		})
	}
	slices.SortStableFunc(out, func(a, b leaseView) int { return expiry(a).Compare(expiry(b)) })
	writeJSON(w, http.StatusOK, out)
	return nil
}

// expiry orders leases without one last.
func expiry(l leaseView) time.Time {
	if l.Expires == nil {
		return time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return *l.Expires
}

// revokeRequest names the leases to end: exactly one of the three.
type revokeRequest struct {
	LeaseID string `json:"lease_id,omitempty"`
	Holder  string `json:"holder,omitempty"`
	Role    string `json:"role,omitempty"`
}

type revoked struct {
	Revoked int `json:"revoked"`
}

func (s *Server) revokeLeases(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req revokeRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	n := 0
	for _, v := range []string{req.LeaseID, req.Holder, req.Role} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		return invalid("give exactly one of lease_id, holder (ISSUER:SUBJECT) or role")
	}
	if s.cfg.Leases == nil {
		return &apiError{Status: http.StatusServiceUnavailable, Kind: "unavailable", Message: "this server has no broker (its inventory has no broker: section)"}
	}
	var count int
	var err error
	switch {
	case req.LeaseID != "":
		if err = s.cfg.Leases.Revoke(r.Context(), req.LeaseID, "", p.Name); err == nil {
			count = 1
		}
	case req.Holder != "":
		count, err = s.cfg.Leases.RevokeHolder(r.Context(), req.Holder, p.Name)
	default:
		count, err = s.cfg.Leases.RevokeRole(r.Context(), req.Role, p.Name)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, revoked{Revoked: count})
	return nil
}
