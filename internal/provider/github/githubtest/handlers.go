package githubtest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/nacl/box"
)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	// GitHub Enterprise Server serves the API under /api/v3.
	r.URL.Path = strings.TrimPrefix(r.URL.Path, "/api/v3")
	s.mu.Lock()
	if s.limited > 0 {
		s.limited--
		s.limitedCount++
		kind := s.limitAs
		s.mu.Unlock()
		// The reset time is now: a client that waits as told (injectably,
		// in tests) can go on; the count of refused requests is the model.
		w.Header().Set("x-ratelimit-limit", "5000")
		w.Header().Set("x-ratelimit-reset", strconv.FormatInt(time.Now().Unix(), 10))
		if kind == "secondary" || kind == "secondary-403" {
			// A secondary limit is not the hourly quota: requests remain.
			w.Header().Set("x-ratelimit-remaining", "4990")
			code := http.StatusTooManyRequests
			if kind == "secondary-403" {
				code = http.StatusForbidden
			}
			w.Header().Set("retry-after", "1")
			failDoc(w, code, SecondaryDocsURL, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.")
			return
		}
		w.Header().Set("x-ratelimit-remaining", "0")
		fail(w, http.StatusForbidden, "API rate limit exceeded for user.")
		return
	}
	s.mu.Unlock()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /user", s.user)
	mux.HandleFunc("GET /orgs/{org}/personal-access-tokens", s.listPATs)
	mux.HandleFunc("POST /orgs/{org}/personal-access-tokens/{pat}", s.revokePAT)
	mux.HandleFunc("GET /orgs/{org}/personal-access-tokens/{pat}/repositories", s.patRepos)
	mux.HandleFunc("POST /credentials/revoke", s.revokeCredentials)
	mux.HandleFunc("GET /orgs/{org}/repos", s.orgRepos)
	mux.HandleFunc("GET /repos/{owner}/{repo}", s.repo)
	mux.HandleFunc("GET /repos/{owner}/{repo}/keys", s.listKeys)
	mux.HandleFunc("DELETE /repos/{owner}/{repo}/keys/{id}", s.deleteKey)
	mux.HandleFunc("GET /repos/{owner}/{repo}/actions/secrets/public-key", s.publicKey)
	mux.HandleFunc("GET /orgs/{org}/actions/secrets/public-key", s.publicKey)
	mux.HandleFunc("PUT /repos/{owner}/{repo}/actions/secrets/{name}", s.putSecret)
	mux.HandleFunc("PUT /orgs/{org}/actions/secrets/{name}", s.putSecret)
	mux.HandleFunc("GET /repos/{owner}/{repo}/actions/secrets/{name}", s.getSecret)
	mux.HandleFunc("GET /orgs/{org}/actions/secrets/{name}", s.getSecret)
	mux.HandleFunc("POST /app/installations/{id}/access_tokens", s.accessToken)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fail(w, http.StatusNotFound, "Not Found") })
	mux.ServeHTTP(w, r)
}

// bearer is the token of "Authorization: Bearer X" or "token X".
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	for _, p := range []string{"Bearer ", "bearer ", "token "} {
		if v, ok := strings.CutPrefix(h, p); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// auth checks the request's token on every request: missing 401
// "Requires authentication", unknown, revoked or expired 401 "Bad
// credentials".
func (s *Server) auth(w http.ResponseWriter, r *http.Request) *Token {
	v := bearer(r)
	if v == "" {
		fail(w, http.StatusUnauthorized, "Requires authentication")
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tokens[v]
	if t != nil {
		t.Requests++
	}
	if t == nil || t.Revoked || !t.ExpiresAt.IsZero() && time.Now().After(t.ExpiresAt) {
		fail(w, http.StatusUnauthorized, "Bad credentials")
		return nil
	}
	t.LastUsed = time.Now().UTC()
	return t
}

// can reports whether t may use permission perm at level want ("read" or
// "write") on owner (an organisation or user) and, when repo is not "",
// that repository. Classic tokens are judged by scope: repo for a
// repository, admin:org for an organisation's settings.
func (s *Server) can(t *Token, owner, repo, perm, want string) bool {
	ok := func(level string) bool {
		return level == "admin" || level == "write" || level == want && want == "read"
	}
	switch t.Kind {
	case Classic:
		if repo == "" {
			return slices.Contains(t.Scopes, "admin:org") || want == "read" && slices.Contains(t.Scopes, "read:org")
		}
		return slices.Contains(t.Scopes, "repo") || want == "read" && t.Owner == owner
	case FineGrained:
		g := t.Grants[owner]
		if g == nil {
			return false
		}
		if repo == "" {
			return ok(g.Permissions["organization"][perm])
		}
		if g.Selection != "all" && !slices.Contains(g.Repos, repo) {
			return false
		}
		return perm == "metadata" || ok(g.Permissions["repository"][perm])
	case Installation:
		d, found := s.installation(t.Installation)
		return found && d.org == owner && (perm == "metadata" || ok(d.permissions[perm]))
	}
	return false
}

// forbid answers 403 for a token that lacks perm at level want, with
// the header GitHub documents for naming what the endpoint accepts:
// X-Accepted-OAuth-Scopes for a classic token (the scopes can judges it
// by), X-Accepted-GitHub-Permissions ("perm=level") for fine-grained and
// installation tokens.
func forbid(w http.ResponseWriter, t *Token, repo, perm, want string) {
	msg := "Resource not accessible by personal access token"
	switch t.Kind {
	case Classic:
		scope := "repo"
		if repo == "" {
			scope = "admin:org"
			if want == "read" {
				scope += ", read:org"
			}
		}
		w.Header().Set("X-Accepted-OAuth-Scopes", scope)
	case Installation:
		msg = "Resource not accessible by integration"
		fallthrough
	default:
		w.Header().Set("X-Accepted-GitHub-Permissions", perm+"="+want)
	}
	fail(w, http.StatusForbidden, msg)
}

func (s *Server) user(w http.ResponseWriter, r *http.Request) {
	t := s.auth(w, r)
	if t == nil {
		return
	}
	if t.Kind == Installation {
		fail(w, http.StatusForbidden, "Resource not accessible by integration")
		return
	}
	s.mu.Lock()
	id := s.users[t.Owner]
	s.mu.Unlock()
	if t.Kind == Classic {
		// GitHub lists a classic token's scopes in X-OAuth-Scopes.
		w.Header().Set("X-OAuth-Scopes", strings.Join(t.Scopes, ", "))
	}
	if !t.ExpiresAt.IsZero() {
		w.Header().Set("github-authentication-token-expiration", t.ExpiresAt.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	reply(w, http.StatusOK, map[string]any{"login": t.Owner, "id": id, "type": "User"})
}

// orgApp checks that the caller is an installation of a GitHub App on the
// organisation with permission perm: the organisation's fine-grained
// token endpoints can only be called by GitHub Apps.
func (s *Server) orgApp(w http.ResponseWriter, r *http.Request, perm, want string) (*Token, *org) {
	t := s.auth(w, r)
	if t == nil {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orgs[r.PathValue("org")]
	if o == nil {
		fail(w, http.StatusNotFound, "Not Found")
		return nil, nil
	}
	if t.Kind != Installation {
		fail(w, http.StatusForbidden, "Resource not accessible by personal access token")
		return nil, nil
	}
	if !s.can(t, o.name, "", perm, want) {
		forbid(w, t, "", perm, want)
		return nil, nil
	}
	return t, o
}

func userJSON(login string, id int64) map[string]any {
	return map[string]any{"login": login, "id": id, "type": "User"}
}

func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

func (s *Server) listPATs(w http.ResponseWriter, r *http.Request) {
	_, o := s.orgApp(w, r, "organization_personal_access_tokens", "read")
	if o == nil {
		return
	}
	s.mu.Lock()
	var out []map[string]any
	for _, v := range sortedKeys(s.tokens) {
		t := s.tokens[v]
		g := t.Grants[o.name]
		if t.Kind != FineGrained || g == nil {
			continue
		}
		out = append(out, map[string]any{
			"id": g.PatID, "owner": userJSON(t.Owner, s.users[t.Owner]), "repository_selection": g.Selection,
			"repositories_url":  s.URL + "/orgs/" + o.name + "/personal-access-tokens/" + strconv.FormatInt(g.PatID, 10) + "/repositories",
			"permissions":       g.Permissions,
			"access_granted_at": ts(g.GrantedAt), "token_id": t.TokenID, "token_name": "token-" + strconv.FormatInt(t.TokenID, 10),
			"token_expired":      !t.ExpiresAt.IsZero() && time.Now().After(t.ExpiresAt),
			"token_expires_at":   ts(t.ExpiresAt),
			"token_last_used_at": ts(t.LastUsed),
		})
	}
	s.mu.Unlock()
	reply(w, http.StatusOK, page(s, w, r, out))
}

// grantByPat finds the token and grant of pat_id in o.
func (s *Server) grantByPat(o *org, pat string) (*Token, *Grant) {
	id, err := strconv.ParseInt(pat, 10, 64)
	if err != nil {
		return nil, nil
	}
	for _, t := range s.tokens {
		if g := t.Grants[o.name]; g != nil && g.PatID == id {
			return t, g
		}
	}
	return nil, nil
}

func (s *Server) revokePAT(w http.ResponseWriter, r *http.Request) {
	_, o := s.orgApp(w, r, "organization_personal_access_tokens", "write")
	if o == nil {
		return
	}
	var body struct {
		Action string `json:"action"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Action != "revoke" {
		fail(w, http.StatusUnprocessableEntity, "Validation Failed")
		return
	}
	s.mu.Lock()
	t, _ := s.grantByPat(o, r.PathValue("pat"))
	if t != nil {
		delete(t.Grants, o.name)
	}
	s.mu.Unlock()
	if t == nil {
		fail(w, http.StatusNotFound, "Not Found")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) patRepos(w http.ResponseWriter, r *http.Request) {
	_, o := s.orgApp(w, r, "organization_personal_access_tokens", "read")
	if o == nil {
		return
	}
	s.mu.Lock()
	_, g := s.grantByPat(o, r.PathValue("pat"))
	var out []map[string]any
	if g != nil {
		for _, full := range sortedKeys(s.repos) {
			rp := s.repos[full]
			if rp.Owner == o.name && (g.Selection == "all" || slices.Contains(g.Repos, rp.Name)) {
				out = append(out, map[string]any{"id": rp.ID, "name": rp.Name, "full_name": full, "private": true,
					"owner": map[string]any{"login": rp.Owner, "type": "Organization"}})
			}
		}
	}
	s.mu.Unlock()
	if g == nil {
		fail(w, http.StatusNotFound, "Not Found")
		return
	}
	reply(w, http.StatusOK, page(s, w, r, out))
}

// revokeCredentials is the credentials revocation API: on github.com it
// takes no authentication ("Any authenticated requests will return a
// 403"), at most 1000 credentials, and answers 202; the owners are
// notified and the tokens stop working.
func (s *Server) revokeCredentials(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.revokeCalls++
	s.mu.Unlock()
	if r.Header.Get("Authorization") != "" {
		fail(w, http.StatusForbidden, "Forbidden")
		return
	}
	var body struct {
		Credentials []string `json:"credentials"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || len(body.Credentials) == 0 || len(body.Credentials) > 1000 {
		fail(w, http.StatusUnprocessableEntity, "Validation Failed")
		return
	}
	s.mu.Lock()
	for _, c := range body.Credentials {
		if t := s.tokens[c]; t != nil && (t.Kind == Classic || t.Kind == FineGrained) {
			t.Revoked = true
		}
	}
	s.mu.Unlock()
	reply(w, http.StatusAccepted, map[string]any{})
}

// repoFor authenticates and finds the path's repository, answering 404
// both when it does not exist and when the token may not see it, as
// GitHub does, and 403 when it may see but not do perm.
func (s *Server) repoFor(w http.ResponseWriter, r *http.Request, perm, want string) *Repo {
	t := s.auth(w, r)
	if t == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repos[r.PathValue("owner")+"/"+r.PathValue("repo")]
	if rp == nil || !s.can(t, rp.Owner, rp.Name, "metadata", "read") {
		fail(w, http.StatusNotFound, "Not Found")
		return nil
	}
	if !s.can(t, rp.Owner, rp.Name, perm, want) {
		forbid(w, t, rp.Name, perm, want)
		return nil
	}
	return rp
}

func (s *Server) repo(w http.ResponseWriter, r *http.Request) {
	rp := s.repoFor(w, r, "metadata", "read")
	if rp == nil {
		return
	}
	reply(w, http.StatusOK, map[string]any{"id": rp.ID, "name": rp.Name, "full_name": rp.Owner + "/" + rp.Name, "private": true,
		"owner": map[string]any{"login": rp.Owner}})
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) {
	rp := s.repoFor(w, r, "administration", "read")
	if rp == nil {
		return
	}
	s.mu.Lock()
	var out []map[string]any
	for _, k := range rp.Keys {
		out = append(out, map[string]any{"id": k.ID, "key": k.Key, "title": k.Title, "read_only": k.ReadOnly, "verified": true,
			"created_at": ts(k.Created), "url": s.URL + "/repos/" + rp.Owner + "/" + rp.Name + "/keys/" + strconv.FormatInt(k.ID, 10)})
	}
	s.mu.Unlock()
	reply(w, http.StatusOK, page(s, w, r, out))
}

func (s *Server) deleteKey(w http.ResponseWriter, r *http.Request) {
	rp := s.repoFor(w, r, "administration", "write")
	if rp == nil {
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	i := slices.IndexFunc(rp.Keys, func(k DeployKey) bool { return k.ID == id })
	if i >= 0 {
		rp.Keys = slices.Delete(rp.Keys, i, i+1)
	}
	s.mu.Unlock()
	if i < 0 {
		fail(w, http.StatusNotFound, "Not Found")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// secretScope is the key pair and secrets of the path's repository or
// organisation, after checking the token may write secrets there.
func (s *Server) secretScope(w http.ResponseWriter, r *http.Request, want string) (pub, priv *[32]byte, keyID string, m map[string]*storedSecret, isOrg bool) {
	if r.PathValue("org") != "" {
		t := s.auth(w, r)
		if t == nil {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		o := s.orgs[r.PathValue("org")]
		if o == nil {
			fail(w, http.StatusNotFound, "Not Found")
			return
		}
		if !s.can(t, o.name, "", "organization_secrets", want) {
			forbid(w, t, "", "organization_secrets", want)
			return
		}
		return o.pub, o.priv, o.keyID, o.secrets, true
	}
	rp := s.repoFor(w, r, "secrets", want)
	if rp == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return rp.pub, rp.priv, rp.keyID, rp.secrets, false
}

func (s *Server) publicKey(w http.ResponseWriter, r *http.Request) {
	pub, _, keyID, _, _ := s.secretScope(w, r, "read")
	if pub == nil {
		return
	}
	reply(w, http.StatusOK, map[string]string{"key_id": keyID, "key": base64.StdEncoding.EncodeToString(pub[:])})
}

// putSecret opens the sealed box with the scope's private key: a value
// sealed for another key, or under a stale key_id, is refused with 422.
func (s *Server) putSecret(w http.ResponseWriter, r *http.Request) {
	pub, priv, keyID, m, isOrg := s.secretScope(w, r, "write")
	if pub == nil {
		return
	}
	var body struct {
		EncryptedValue string `json:"encrypted_value"`
		KeyID          string `json:"key_id"`
		Visibility     string `json:"visibility"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		fail(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	sealed, err := base64.StdEncoding.DecodeString(body.EncryptedValue)
	if body.KeyID != keyID || err != nil {
		fail(w, http.StatusUnprocessableEntity, "Validation Failed")
		return
	}
	if isOrg && !slices.Contains([]string{"all", "private", "selected"}, body.Visibility) {
		fail(w, http.StatusUnprocessableEntity, "Validation Failed")
		return
	}
	value, ok := box.OpenAnonymous(nil, sealed, pub, priv)
	if !ok {
		fail(w, http.StatusUnprocessableEntity, "Validation Failed")
		return
	}
	name := strings.ToUpper(r.PathValue("name"))
	now := time.Now().UTC()
	s.mu.Lock()
	old, existed := m[name]
	sec := &storedSecret{value: value, created: now, updated: now, visibility: body.Visibility}
	if existed {
		sec.created = old.created
	}
	m[name] = sec
	s.mu.Unlock()
	if existed {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	reply(w, http.StatusCreated, map[string]any{})
}

// getSecret returns a secret's metadata: GitHub never returns its value.
func (s *Server) getSecret(w http.ResponseWriter, r *http.Request) {
	pub, _, _, m, _ := s.secretScope(w, r, "read")
	if pub == nil {
		return
	}
	name := strings.ToUpper(r.PathValue("name"))
	s.mu.Lock()
	sec, ok := m[name]
	s.mu.Unlock()
	if !ok {
		fail(w, http.StatusNotFound, "Not Found")
		return
	}
	reply(w, http.StatusOK, map[string]any{"name": name, "created_at": ts(sec.created), "updated_at": ts(sec.updated)})
}

// accessToken mints an installation token for a request authenticated by
// the app's JWT: RS256, iss the app id, exp at most ten minutes ahead.
func (s *Server) accessToken(w http.ResponseWriter, r *http.Request) {
	raw := bearer(r)
	var claims jwt.RegisteredClaims
	var a *app
	_, err := jwt.ParseWithClaims(raw, &claims, func(tok *jwt.Token) (any, error) {
		id, err := strconv.ParseInt(claims.Issuer, 10, 64)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		a = s.apps[id]
		s.mu.Unlock()
		if a == nil {
			return nil, jwt.ErrTokenUnverifiable
		}
		return a.key, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired())
	if err != nil || claims.ExpiresAt.After(time.Now().Add(10*time.Minute+time.Minute)) {
		fail(w, http.StatusUnauthorized, "A JSON web token could not be decoded")
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := a.inst[id]
	if !ok {
		fail(w, http.StatusNotFound, "Not Found")
		return
	}
	t := s.mintInstallation(id)
	reply(w, http.StatusCreated, map[string]any{"token": t.Value, "expires_at": ts(t.ExpiresAt), "permissions": d.permissions, "repository_selection": "all"})
}

// orgRepos lists the organisation's repositories the token can see.
func (s *Server) orgRepos(w http.ResponseWriter, r *http.Request) {
	t := s.auth(w, r)
	if t == nil {
		return
	}
	s.mu.Lock()
	org := r.PathValue("org")
	var out []map[string]any
	for _, full := range sortedKeys(s.repos) {
		rp := s.repos[full]
		if rp.Owner == org && s.can(t, rp.Owner, rp.Name, "metadata", "read") {
			out = append(out, map[string]any{"id": rp.ID, "name": rp.Name, "full_name": full, "private": true,
				"owner": map[string]any{"login": rp.Owner, "type": "Organization"}})
		}
	}
	s.mu.Unlock()
	reply(w, http.StatusOK, page(s, w, r, out))
}
