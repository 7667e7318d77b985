package vaulttest

import (
	"maps"
	"net/http"
	"strings"
	"time"
)

// lease is a secret a secrets engine handed out to a token: Vault revokes
// it when it expires, when it is revoked, and when the token that created
// it is revoked.
type lease struct {
	ID        string
	Accessor  string // of the token that created it
	Issued    time.Time
	TTL       time.Duration
	Renewable bool
}

// IssueLease stands in for a secrets engine (database/creds/ROLE) handing
// the token a dynamic secret under path: it returns the lease id
// ("path/random"). ok is false when the token is not live.
func (s *Server) IssueLease(token, path string, ttl time.Duration) (id string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.live(token)
	if t == nil {
		return "", false
	}
	l := &lease{ID: strings.TrimSuffix(path, "/") + "/" + randomString(24), Accessor: t.Accessor, Issued: time.Now(), TTL: ttl, Renewable: true}
	s.leases[l.ID] = l
	return l.ID, true
}

// liveLease returns the lease, dropping it when expired.
func (s *Server) liveLease(id string) *lease {
	l := s.leases[id]
	if l != nil && l.TTL > 0 && time.Now().After(l.Issued.Add(l.TTL)) {
		delete(s.leases, id)
		return nil
	}
	return l
}

// leaseAPI serves sys/leases: lookup, revoke, revoke-prefix and the
// listing of lease ids by prefix (LIST sys/leases/lookup/PREFIX).
func (s *Server) leaseAPI(r *request) (response, *apiError) {
	op := strings.TrimPrefix(r.path, "sys/leases/")
	write := r.method == http.MethodPost || r.method == http.MethodPut
	switch {
	case op == "lookup" && write:
		l := s.liveLease(r.str("lease_id"))
		if l == nil {
			return nil, errorf(http.StatusBadRequest, "invalid lease")
		}
		var expire any
		ttl := int64(0)
		if l.TTL > 0 {
			expire = l.Issued.Add(l.TTL).UTC().Format(time.RFC3339Nano)
			ttl = int64(time.Until(l.Issued.Add(l.TTL)).Seconds())
		}
		return response{"data": map[string]any{"id": l.ID, "issue_time": l.Issued.UTC().Format(time.RFC3339Nano),
			"expire_time": expire, "last_renewal": nil, "renewable": l.Renewable, "ttl": ttl}}, nil
	case op == "revoke" && write:
		delete(s.leases, r.str("lease_id"))
		return nil, nil
	case strings.HasPrefix(op, "revoke-prefix/") && write:
		// The prefix is path-matched (the CLI's documentation of
		// `vault lease revoke -prefix`): whole segments, or one lease's
		// whole id; database/creds/app leaves database/creds/app-admin.
		prefix := strings.TrimSuffix(strings.TrimPrefix(op, "revoke-prefix/"), "/")
		for id := range s.leases {
			if id == prefix || strings.HasPrefix(id, prefix+"/") {
				delete(s.leases, id)
			}
		}
		return nil, nil
	case strings.HasPrefix(op, "lookup/") && r.method == "LIST":
		for id := range s.leases {
			s.liveLease(id) // drop the expired ones first
		}
		return listing(maps.Keys(s.leases), strings.TrimPrefix(op, "lookup/")+"/")
	}
	return nil, errorf(http.StatusMethodNotAllowed, "unsupported operation")
}

// revokeLeases revokes every lease the token created.
func (s *Server) revokeLeases(accessor string) {
	for id, l := range s.leases {
		if l.Accessor == accessor {
			delete(s.leases, id)
		}
	}
}
