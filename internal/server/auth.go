package server

import (
	"net/http"
	"strings"

	"github.com/rekeyhq/rekey/internal/auth"
)

// authenticate reads the bearer token of r. Every failure is the same
// 401: which part was wrong is not the caller's business.
func (s *Server) authenticate(r *http.Request) (auth.Principal, error) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return auth.Principal{}, unauthorized("missing bearer token (Authorization: Bearer TOKEN)")
	}
	if s.cfg.Auth == nil {
		return auth.Principal{}, unauthorized("this server accepts no tokens")
	}
	p, err := s.cfg.Auth.Authenticate(r.Context(), strings.TrimSpace(tok))
	if err != nil {
		return auth.Principal{}, unauthorized("invalid, revoked or expired token")
	}
	return p, nil
}
