package server

import (
	"errors"
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
	switch {
	case errors.Is(err, auth.ErrRevoked):
		return auth.Principal{}, forbidden("this token was revoked or has expired")
	case errors.Is(err, auth.ErrUnauthenticated):
		return auth.Principal{}, unauthorized("invalid token")
	case err != nil:
		// The store failed: not the caller's fault, and not a 401 that
		// would make a client throw its good token away.
		return auth.Principal{}, err
	}
	return p, nil
}
