// Package gitlabtest is a local server for GitLab's REST API (v4), written
// from GitLab's API reference (docs.gitlab.com/api: personal access
// tokens, user tokens, service accounts, users, the admin token
// information API) so the gitlab provider can be tested here, where
// GitLab cannot be reached. It implements the documented request and
// response bodies, status codes and error shapes (`{"message": …}`, and
// `{"error": "insufficient_scope", …}` for a token without the scope),
// PRIVATE-TOKEN authentication on every request (a revoked, rotated-away
// or expired token gets 401), offset pagination headers (x-total,
// x-next-page, Link) and 429 with Retry-After on demand. It never
// imports the provider.
package gitlabtest

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// User is a GitLab user or service account.
type User struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
	Name     string `json:"name"`
	State    string `json:"state"`
	Bot      bool   `json:"bot"`
	IsAdmin  bool   `json:"is_admin"`
}

// Token is a personal access token as the server keeps it.
type Token struct {
	ID        int64
	Name      string
	Scopes    []string
	UserID    int64
	Created   time.Time
	ExpiresAt string // YYYY-MM-DD, "" for none
	Revoked   bool
	// AccessLevel is a project or group access token's role (10 guest …
	// 50 owner); 0 for a personal access token.
	AccessLevel int
	value       string
}

// Active is GitLab's "active": neither revoked nor expired.
func (t *Token) Active(now time.Time) bool {
	if t.Revoked {
		return false
	}
	if t.ExpiresAt != "" {
		if d, err := time.Parse(time.DateOnly, t.ExpiresAt); err == nil && !now.Before(d) {
			return false
		}
	}
	return true
}

// Server is a running test server.
type Server struct {
	URL string
	hs  *httptest.Server

	mu       sync.Mutex
	next     int64
	users    map[int64]*User
	tokens   map[int64]*Token
	signed   map[int64]int
	projects map[int64]*Project
	throttle int // answer this many next requests 429
	now      func() time.Time
	// pageCap is the most items a list page holds whatever per_page
	// asks (0: no cap below GitLab's 100).
	pageCap atomic.Int32
}

// New starts a server holding one administrator, whose token (scopes
// api, admin_mode) RootToken returns.
func New() *Server {
	s := &Server{next: 1, users: map[int64]*User{}, tokens: map[int64]*Token{}, signed: map[int64]int{}, now: time.Now}
	mux := http.NewServeMux()
	s.routes(mux)
	s.variableRoutes(mux)
	s.accessTokenRoutes(mux)
	s.hs = httptest.NewServer(s.middleware(mux))
	s.URL = s.hs.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.hs.Close() }

// CreateUser adds a user (the fixture side of the admin's POST /users).
func (s *Server) CreateUser(username string, admin bool) *User {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.createUser(username, admin, false)
}

func (s *Server) createUser(username string, admin, bot bool) *User {
	u := &User{ID: s.id(), Username: username, Name: username, State: "active", IsAdmin: admin, Bot: bot}
	s.users[u.ID] = u
	return u
}

// CreateToken gives user a personal access token and returns it with
// its value.
func (s *Server) CreateToken(userID int64, name string, scopes []string, expires string) (Token, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.createToken(userID, name, scopes, expires)
	return *t, t.value
}

func (s *Server) createToken(userID int64, name string, scopes []string, expires string) *Token {
	t := &Token{ID: s.id(), Name: name, Scopes: slices.Clone(scopes), UserID: userID, Created: s.now().UTC(), ExpiresAt: expires, value: "glpat-" + randomString(20)}
	s.tokens[t.ID] = t
	return t
}

// UserByName returns the user named username, or nil.
func (s *Server) UserByName(username string) *User {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.userByName(username); u != nil {
		c := *u
		return &c
	}
	return nil
}

func (s *Server) userByName(username string) *User {
	for _, u := range s.users {
		if u.Username == username {
			return u
		}
	}
	return nil
}

// Tokens returns user's tokens, revoked ones included, by id.
func (s *Server) Tokens(userID int64) []Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Token
	for _, t := range s.tokens {
		if t.UserID == userID {
			out = append(out, *t)
		}
	}
	slices.SortFunc(out, func(a, b Token) int { return int(a.ID - b.ID) })
	return out
}

// Signed counts requests authenticated (or refused) as token id.
func (s *Server) Signed(id int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signed[id]
}

// Throttle makes the next n requests answer 429 with Retry-After.
func (s *Server) Throttle(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle = n
}

func (s *Server) id() int64 { s.next++; return s.next }

const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"

func randomString(n int) string {
	b := make([]byte, n)
	for i := range b {
		k, _ := rand.Int(rand.Reader, big.NewInt(int64(len(letters))))
		b[i] = letters[k.Int64()]
	}
	return string(b)
}

type ctxKey struct{}

// caller is the authenticated request's user and token.
type caller struct {
	user  *User
	token *Token
}

// middleware throttles on demand and authenticates every request with
// PRIVATE-TOKEN (or Authorization: Bearer), as GitLab does; the handlers
// run under the server's lock.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.throttle > 0 {
			s.throttle--
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusTooManyRequests, map[string]string{"message": "Retry later"})
			return
		}
		value := r.Header.Get("PRIVATE-TOKEN")
		if value == "" {
			value = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		}
		var c caller
		for _, t := range s.tokens {
			if value != "" && t.value == value {
				s.signed[t.ID]++
				if t.Active(s.now()) && s.users[t.UserID] != nil && s.users[t.UserID].State == "active" {
					c = caller{user: s.users[t.UserID], token: t}
				}
			}
		}
		if c.token == nil {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "401 Unauthorized"})
			return
		}
		*r = *r.WithContext(withCaller(r, c))
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func message(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg})
}

// insufficientScope is GitLab's answer to a token lacking a scope.
func insufficientScope(w http.ResponseWriter, scope string) {
	writeJSON(w, http.StatusForbidden, map[string]string{
		"error":             "insufficient_scope",
		"error_description": "The request requires higher privileges than provided by the access token.",
		"scope":             scope,
	})
}

// readable: GET endpoints accept api or read_api; everything else needs
// api (docs: "Personal access token scopes").
func can(c caller, write bool) (ok bool, need string) {
	if slices.Contains(c.token.Scopes, "api") {
		return true, ""
	}
	if !write && slices.Contains(c.token.Scopes, "read_api") {
		return true, ""
	}
	if write {
		return false, "api"
	}
	return false, "api read_api"
}

// decode reads a JSON or form body.
func decode(r *http.Request, v any) error {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		return json.NewDecoder(r.Body).Decode(v)
	}
	if err := r.ParseForm(); err != nil {
		return err
	}
	m := map[string]any{}
	for k, vs := range r.Form {
		k = strings.TrimSuffix(k, "[]")
		if len(vs) == 1 && !strings.HasSuffix(k, "s") {
			m[k] = vs[0]
		} else {
			m[k] = vs
		}
	}
	b, _ := json.Marshal(m)
	return json.Unmarshal(b, v)
}

// SetPageCap makes list pages hold at most n items whatever per_page
// asks (0: GitLab's most, 100), so a client that reads only the first
// page misses items without a test making hundreds of them.
func (s *Server) SetPageCap(n int) { s.pageCap.Store(int32(n)) }

// paginate writes one page of items with GitLab's offset pagination
// headers (x-page, x-per-page, x-total, x-total-pages, x-next-page, Link).
func paginate[T any](s *Server, w http.ResponseWriter, r *http.Request, items []T) {
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if page < 1 {
		page = 1
	}
	if per < 1 || per > 100 {
		per = 20
	}
	if c := int(s.pageCap.Load()); c > 0 {
		per = min(per, c)
	}
	total := len(items)
	pages := max(1, (total+per-1)/per)
	lo, hi := min((page-1)*per, total), min(page*per, total)
	h := w.Header()
	h.Set("x-page", strconv.Itoa(page))
	h.Set("x-per-page", strconv.Itoa(per))
	h.Set("x-total", strconv.Itoa(total))
	h.Set("x-total-pages", strconv.Itoa(pages))
	link := func(p int, rel string) string {
		u := *r.URL
		u.Scheme, u.Host = "http", r.Host
		q := u.Query()
		q.Set("page", strconv.Itoa(p))
		q.Set("per_page", strconv.Itoa(per))
		u.RawQuery = q.Encode()
		return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
	}
	links := []string{link(1, "first"), link(pages, "last")}
	if page < pages {
		h.Set("x-next-page", strconv.Itoa(page+1))
		links = append(links, link(page+1, "next"))
	} else {
		h.Set("x-next-page", "")
	}
	if page > 1 {
		h.Set("x-prev-page", strconv.Itoa(page-1))
		links = append(links, link(page-1, "prev"))
	}
	h.Set("Link", strings.Join(links, ", "))
	out := items[lo:hi]
	if out == nil {
		out = []T{}
	}
	writeJSON(w, http.StatusOK, out)
}
