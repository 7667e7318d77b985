package gitlabtest

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// A project or group access token is a personal access token of a bot
// user GitLab creates for it (docs: "Bot users for projects"), named
// project_ID_bot_… or group_ID_bot_…; the resource's maintainers (owners
// for a group) manage it through /projects/:id/access_tokens and
// /groups/:id/access_tokens.

// CreateResourceToken creates an access token of a project (or group)
// with its bot user, as POST …/access_tokens does, and returns it with
// its value.
func (s *Server) CreateResourceToken(resourceID int64, name string, scopes []string, accessLevel int, expires string) (Token, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.createResourceToken(s.projects[resourceID], name, scopes, accessLevel, expires)
	return *t, t.value
}

func (s *Server) createResourceToken(p *Project, name string, scopes []string, accessLevel int, expires string) *Token {
	kind := "project"
	if p.Group {
		kind = "group"
	}
	bot := s.createUser(fmt.Sprintf("%s_%d_bot_%s", kind, p.ID, randomString(8)), false, true)
	bot.Name = name
	t := s.createToken(bot.ID, name, scopes, expires)
	t.AccessLevel = accessLevel
	return t
}

// resourceToken is the access token :token_id of the resource, or nil.
func (s *Server) resourceToken(p *Project, r *http.Request) *Token {
	id, _ := strconv.ParseInt(r.PathValue("token_id"), 10, 64)
	t := s.tokens[id]
	if t == nil || t.AccessLevel == 0 || s.users[t.UserID] == nil || !slices.Contains(s.resourceBots(p), t.UserID) {
		return nil
	}
	return t
}

// resourceBots are the bot users of p's access tokens.
func (s *Server) resourceBots(p *Project) []int64 {
	kind := "project"
	if p.Group {
		kind = "group"
	}
	prefix := fmt.Sprintf("%s_%d_bot_", kind, p.ID)
	var out []int64
	for _, u := range s.users {
		if u.Bot && len(u.Username) > len(prefix) && u.Username[:len(prefix)] == prefix {
			out = append(out, u.ID)
		}
	}
	return out
}

func (s *Server) accessTokenRoutes(mux *http.ServeMux) {
	for _, kind := range []string{"projects", "groups"} {
		group := kind == "groups"
		base := "/api/v4/" + kind + "/{id}/access_tokens"
		mux.HandleFunc("GET "+base, s.guard(false, false, func(w http.ResponseWriter, r *http.Request) {
			p := s.resource(w, r, group)
			if p == nil {
				return
			}
			var out []map[string]any
			bots := s.resourceBots(p)
			var ids []int64
			for id, t := range s.tokens {
				if slices.Contains(bots, t.UserID) && t.Active(s.now()) {
					ids = append(ids, id)
				}
			}
			slices.Sort(ids)
			for _, id := range ids {
				out = append(out, s.tokenJSON(s.tokens[id], false))
			}
			paginate(s, w, r, out)
		}))
		mux.HandleFunc("GET "+base+"/{token_id}", s.guard(false, false, func(w http.ResponseWriter, r *http.Request) {
			p := s.resource(w, r, group)
			if p == nil {
				return
			}
			if t := s.resourceToken(p, r); t != nil {
				writeJSON(w, http.StatusOK, s.tokenJSON(t, false))
				return
			}
			message(w, http.StatusNotFound, "404 Not Found")
		}))
		mux.HandleFunc("POST "+base, s.guard(true, false, func(w http.ResponseWriter, r *http.Request) {
			p := s.resource(w, r, group)
			if p == nil {
				return
			}
			var in struct {
				Name        string   `json:"name"`
				Scopes      []string `json:"scopes"`
				AccessLevel int      `json:"access_level"`
				ExpiresAt   string   `json:"expires_at"`
			}
			if err := decode(r, &in); err != nil || in.Name == "" || len(in.Scopes) == 0 {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "name, scopes are missing"})
				return
			}
			if in.AccessLevel == 0 {
				in.AccessLevel = 40 // Maintainer, the documented default
			}
			if in.ExpiresAt != "" {
				if _, err := time.Parse(time.DateOnly, in.ExpiresAt); err != nil {
					writeJSON(w, http.StatusBadRequest, map[string]string{"error": "expires_at is invalid"})
					return
				}
			}
			writeJSON(w, http.StatusCreated, s.tokenJSON(s.createResourceToken(p, in.Name, in.Scopes, in.AccessLevel, in.ExpiresAt), true))
		}))
		mux.HandleFunc("POST "+base+"/{token_id}/rotate", s.guard(true, false, func(w http.ResponseWriter, r *http.Request) {
			p := s.resource(w, r, group)
			if p == nil {
				return
			}
			t := s.resourceToken(p, r)
			if t == nil || !t.Active(s.now()) {
				message(w, http.StatusNotFound, "404 Not Found")
				return
			}
			var in struct {
				ExpiresAt string `json:"expires_at"`
			}
			_ = decode(r, &in)
			writeJSON(w, http.StatusOK, s.tokenJSON(s.rotate(t, in.ExpiresAt), true))
		}))
		// DELETE revokes the token; its bot user stays until GitLab
		// removes it (not modelled).
		mux.HandleFunc("DELETE "+base+"/{token_id}", s.guard(true, false, func(w http.ResponseWriter, r *http.Request) {
			p := s.resource(w, r, group)
			if p == nil {
				return
			}
			t := s.resourceToken(p, r)
			if t == nil || t.Revoked {
				message(w, http.StatusNotFound, "404 Not Found")
				return
			}
			t.Revoked = true
			w.WriteHeader(http.StatusNoContent)
		}))
	}
}
