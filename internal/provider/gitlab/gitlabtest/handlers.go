package gitlabtest

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"time"
)

func withCaller(r *http.Request, c caller) context.Context {
	return context.WithValue(r.Context(), ctxKey{}, c)
}

func callerOf(r *http.Request) caller { return r.Context().Value(ctxKey{}).(caller) }

// tokenJSON is a personal access token as the API shows it; value is
// set only in the answer that creates or rotates it.
func (s *Server) tokenJSON(t *Token, value bool) map[string]any {
	m := map[string]any{
		"id": t.ID, "name": t.Name, "revoked": t.Revoked, "created_at": t.Created.Format("2006-01-02T15:04:05.000Z07:00"),
		"description": "", "scopes": t.Scopes, "user_id": t.UserID, "last_used_at": nil,
		"active": t.Active(s.now()), "expires_at": nil,
	}
	if t.ExpiresAt != "" {
		m["expires_at"] = t.ExpiresAt
	}
	if t.AccessLevel > 0 {
		m["access_level"] = t.AccessLevel
	}
	if value {
		m["token"] = t.value
	}
	return m
}

// guard runs h when the caller has the scope (write: api; read: api or
// read_api) and, with admin, is an administrator.
func (s *Server) guard(write, admin bool, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := callerOf(r)
		if ok, need := can(c, write); !ok {
			insufficientScope(w, need)
			return
		}
		if admin && !c.user.IsAdmin {
			message(w, http.StatusForbidden, "403 Forbidden")
			return
		}
		h(w, r)
	}
}

func (s *Server) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v4/user", s.guard(false, false, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, callerOf(r).user)
	}))
	mux.HandleFunc("GET /api/v4/users", s.guard(false, false, func(w http.ResponseWriter, r *http.Request) {
		var out []*User
		name := r.URL.Query().Get("username")
		for _, u := range s.users {
			if name == "" || u.Username == name {
				out = append(out, u)
			}
		}
		slices.SortFunc(out, func(a, b *User) int { return int(a.ID - b.ID) })
		paginate(s, w, r, out)
	}))
	mux.HandleFunc("GET /api/v4/users/{id}", s.guard(false, false, func(w http.ResponseWriter, r *http.Request) {
		if u := s.pathUser(r); u != nil {
			writeJSON(w, http.StatusOK, u)
			return
		}
		message(w, http.StatusNotFound, "404 User Not Found")
	}))
	// DELETE /users/:id deletes asynchronously in GitLab (204 at once);
	// here the user and its tokens are gone when it answers.
	mux.HandleFunc("DELETE /api/v4/users/{id}", s.guard(true, true, func(w http.ResponseWriter, r *http.Request) {
		u := s.pathUser(r)
		if u == nil {
			message(w, http.StatusNotFound, "404 User Not Found")
			return
		}
		delete(s.users, u.ID)
		for id, t := range s.tokens {
			if t.UserID == u.ID {
				delete(s.tokens, id)
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	mux.HandleFunc("POST /api/v4/service_accounts", s.guard(true, true, func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Name, Username, Email string }
		if err := decode(r, &in); err != nil {
			message(w, http.StatusBadRequest, "400 Bad request - "+err.Error())
			return
		}
		if in.Username == "" {
			in.Username = "service_account_" + randomString(8)
		}
		if s.userByName(in.Username) != nil {
			message(w, http.StatusBadRequest, "Username has already been taken")
			return
		}
		u := s.createUser(in.Username, false, true)
		if in.Name != "" {
			u.Name = in.Name
		}
		writeJSON(w, http.StatusCreated, u)
	}))
	mux.HandleFunc("POST /api/v4/users/{id}/personal_access_tokens", s.guard(true, true, func(w http.ResponseWriter, r *http.Request) {
		u := s.pathUser(r)
		if u == nil {
			message(w, http.StatusNotFound, "404 User Not Found")
			return
		}
		var in struct {
			Name      string   `json:"name"`
			Scopes    []string `json:"scopes"`
			ExpiresAt string   `json:"expires_at"`
		}
		if err := decode(r, &in); err != nil {
			message(w, http.StatusBadRequest, "400 Bad request - "+err.Error())
			return
		}
		switch {
		case in.Name == "":
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "name is missing"})
			return
		case len(in.Scopes) == 0:
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "scopes is missing"})
			return
		}
		for _, sc := range in.Scopes {
			if !slices.Contains(knownScopes, sc) {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "scopes does not have a valid value"})
				return
			}
		}
		if in.ExpiresAt != "" {
			if _, err := time.Parse(time.DateOnly, in.ExpiresAt); err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "expires_at is invalid"})
				return
			}
		}
		writeJSON(w, http.StatusCreated, s.tokenJSON(s.createToken(u.ID, in.Name, in.Scopes, in.ExpiresAt), true))
	}))
	mux.HandleFunc("GET /api/v4/personal_access_tokens", s.guard(false, false, func(w http.ResponseWriter, r *http.Request) {
		c := callerOf(r)
		q := r.URL.Query()
		var out []map[string]any
		var ids []int64
		for id := range s.tokens {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			t := s.tokens[id]
			// A non-administrator sees only its own tokens (docs).
			if !c.user.IsAdmin && t.UserID != c.user.ID {
				continue
			}
			if v := q.Get("user_id"); v != "" && v != strconv.FormatInt(t.UserID, 10) {
				continue
			}
			if v := q.Get("revoked"); v != "" && v != strconv.FormatBool(t.Revoked) {
				continue
			}
			if v := q.Get("state"); (v == "active") != t.Active(s.now()) && v != "" {
				continue
			}
			out = append(out, s.tokenJSON(t, false))
		}
		paginate(s, w, r, out)
	}))
	mux.HandleFunc("GET /api/v4/personal_access_tokens/self", func(w http.ResponseWriter, r *http.Request) {
		// Any scope may look itself up.
		writeJSON(w, http.StatusOK, s.tokenJSON(callerOf(r).token, false))
	})
	mux.HandleFunc("GET /api/v4/personal_access_tokens/{id}", s.guard(false, false, func(w http.ResponseWriter, r *http.Request) {
		if t := s.visibleToken(r); t != nil {
			writeJSON(w, http.StatusOK, s.tokenJSON(t, false))
			return
		}
		message(w, http.StatusNotFound, "404 Not Found")
	}))
	mux.HandleFunc("POST /api/v4/personal_access_tokens/{id}/rotate", s.guard(true, false, func(w http.ResponseWriter, r *http.Request) {
		t := s.visibleToken(r)
		if t == nil {
			message(w, http.StatusNotFound, "404 Not Found")
			return
		}
		var in struct {
			ExpiresAt string `json:"expires_at"`
		}
		_ = decode(r, &in)
		if !t.Active(s.now()) {
			message(w, http.StatusBadRequest, "400 Bad request - Token already revoked")
			return
		}
		exp := in.ExpiresAt
		writeJSON(w, http.StatusOK, s.tokenJSON(s.rotate(t, exp), true))
	}))
	mux.HandleFunc("DELETE /api/v4/personal_access_tokens/{id}", s.guard(true, false, func(w http.ResponseWriter, r *http.Request) {
		t := s.visibleToken(r)
		if t == nil {
			message(w, http.StatusNotFound, "404 Not Found")
			return
		}
		if t.Revoked {
			message(w, http.StatusBadRequest, "400 Bad request - Token already revoked")
			return
		}
		t.Revoked = true
		w.WriteHeader(http.StatusNoContent)
	}))
	// The token information API (GitLab 17.5+, administrators): the token
	// travels in the body and is looked up, not used.
	mux.HandleFunc("POST /api/v4/admin/token", s.guard(true, true, func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Token string `json:"token"`
		}
		if err := decode(r, &in); err != nil || in.Token == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "token is missing"})
			return
		}
		for _, t := range s.tokens {
			if t.value == in.Token {
				writeJSON(w, http.StatusOK, s.tokenJSON(t, false))
				return
			}
		}
		message(w, http.StatusNotFound, "404 Not Found")
	}))
}

// knownScopes are the personal access token scopes GitLab documents.
var knownScopes = []string{"api", "read_api", "read_user", "create_runner", "manage_runner", "k8s_proxy",
	"read_repository", "write_repository", "read_registry", "write_registry", "read_virtual_registry",
	"write_virtual_registry", "sudo", "admin_mode", "ai_features", "read_service_ping", "self_rotate"}

func (s *Server) pathUser(r *http.Request) *User {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return s.users[id]
}

// visibleToken is the token the path names if the caller may see it: an
// administrator sees every token, a user its own.
func (s *Server) visibleToken(r *http.Request) *Token {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	t := s.tokens[id]
	if t == nil {
		return nil
	}
	if c := callerOf(r); !c.user.IsAdmin && c.user.ID != t.UserID {
		return nil
	}
	return t
}

// RootToken creates an administrator with a token of scopes api and
// admin_mode, and returns the token.
func (s *Server) RootToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userByName("root")
	if u == nil {
		u = s.createUser("root", true, false)
	}
	return s.createToken(u.ID, "root", []string{"api", "admin_mode"}, "").value
}

// rotate revokes t and gives its user a new token with its name, scopes
// and access level; without exp the new one expires in a week (docs).
func (s *Server) rotate(t *Token, exp string) *Token {
	if exp == "" {
		exp = s.now().UTC().AddDate(0, 0, 7).Format(time.DateOnly)
	}
	t.Revoked = true
	n := s.createToken(t.UserID, t.Name, t.Scopes, exp)
	n.AccessLevel = t.AccessLevel
	return n
}
