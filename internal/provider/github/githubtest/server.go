// Package githubtest is a local GitHub REST API server for tests, written
// from GitHub's published REST reference (docs.github.com/rest and the
// rest-api-description OpenAPI document), never from rekey's provider: the
// token owner (GET /user with X-OAuth-Scopes), the organisation's
// fine-grained personal access token listing and revocation (GitHub App
// installation tokens only, as documented), the credentials revocation API
// (unauthenticated), deploy keys, Actions secrets sealed with the
// repository's or organisation's public key (the server opens them with its
// private key, so a test can read what was delivered), GitHub App
// installation tokens minted with an RS256 JWT, Link-header pagination,
// the documented error body and rate limiting.
//
// Every request's token is checked: a revoked or expired token gets 401
// "Bad credentials". Nothing here sleeps; a rate limit lasts a number of
// requests, set by the test.
package githubtest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/nacl/box"
)

// DocsURL is the documentation_url every error body carries.
const DocsURL = "https://docs.github.com/rest"

// Kinds of token, by the prefix GitHub gives each.
const (
	Classic      = "classic"      // ghp_
	FineGrained  = "fine-grained" // github_pat_
	Installation = "installation" // ghs_
)

// Token is a token the server accepts.
type Token struct {
	Value     string
	Kind      string
	Owner     string   // the user's login ("" for an installation token)
	Scopes    []string // classic: OAuth scopes
	ExpiresAt time.Time
	Revoked   bool
	LastUsed  time.Time
	// Fine-grained: the token's id and, per organisation, its grant.
	TokenID int64
	Grants  map[string]*Grant
	// Installation: the installation it belongs to.
	Installation int64
	// Requests counts requests authenticated as this token.
	Requests int
}

// Grant is a fine-grained token's access to one organisation: what the
// organisation's listing shows.
type Grant struct {
	PatID       int64
	Selection   string // all | subset | none
	Repos       []string
	Permissions map[string]map[string]string // "repository"|"organization" → name → read|write|admin
	GrantedAt   time.Time
}

// Repo is a repository with its deploy keys and Actions secrets.
type Repo struct {
	Owner, Name string
	ID          int64
	Keys        []DeployKey
	secrets     map[string]*storedSecret
	pub, priv   *[32]byte
	keyID       string
}

// DeployKey is a repository's SSH deploy key.
type DeployKey struct {
	ID       int64
	Title    string
	Key      string
	ReadOnly bool
	Created  time.Time
}

type storedSecret struct {
	value            []byte // opened with the private key
	created, updated time.Time
	visibility       string
}

type org struct {
	name      string
	secrets   map[string]*storedSecret
	pub, priv *[32]byte
	keyID     string
}

type app struct {
	id   int64
	key  *rsa.PublicKey
	inst map[int64]instDef
}

type instDef struct {
	org         string
	permissions map[string]string
}

// Server is the API; its URL is the base a client points at.
type Server struct {
	URL string
	srv *httptest.Server

	mu      sync.Mutex
	next    int64
	tokens  map[string]*Token
	users   map[string]int64
	orgs    map[string]*org
	repos   map[string]*Repo // "owner/name"
	apps    map[int64]*app
	limited int    // requests still to refuse with a rate limit
	limitAs string // "primary" or "secondary"
	// Limited counts requests refused by the rate limit.
	limitedCount int
	revokeCalls  int
	// pageCap is the most items a list page holds whatever per_page
	// asks (0: GitHub's 100).
	pageCap atomic.Int32
}

// New starts a server; Close stops it.
func New() *Server {
	s := &Server{next: 1000, tokens: map[string]*Token{}, users: map[string]int64{}, orgs: map[string]*org{},
		repos: map[string]*Repo{}, apps: map[int64]*app{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

func (s *Server) id() int64 { s.next++; return s.next }

func random(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// AddUser makes a user account.
func (s *Server) AddUser(login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[login]; !ok {
		s.users[login] = s.id()
	}
}

// AddOrg makes an organisation with its Actions secrets key pair.
func (s *Server) AddOrg(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.orgs[name]; ok {
		return
	}
	pub, priv, _ := box.GenerateKey(rand.Reader)
	s.orgs[name] = &org{name: name, secrets: map[string]*storedSecret{}, pub: pub, priv: priv, keyID: strconv.FormatInt(s.id(), 10)}
}

// AddRepo makes a repository owner/name (the owner is an organisation or
// a user) with its Actions secrets key pair.
func (s *Server) AddRepo(full string) *Repo {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.repos[full]; ok {
		return r
	}
	o, n, _ := strings.Cut(full, "/")
	pub, priv, _ := box.GenerateKey(rand.Reader)
	r := &Repo{Owner: o, Name: n, ID: s.id(), secrets: map[string]*storedSecret{}, pub: pub, priv: priv, keyID: strconv.FormatInt(s.id(), 10)}
	s.repos[full] = r
	return r
}

// AddDeployKey adds a deploy key to a repository and returns its id.
func (s *Server) AddDeployKey(full, title, key string, readOnly bool) int64 {
	r := s.AddRepo(full)
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.id()
	r.Keys = append(r.Keys, DeployKey{ID: id, Title: title, Key: key, ReadOnly: readOnly, Created: time.Now().UTC()})
	return id
}

// DeployKeys lists a repository's deploy key ids.
func (s *Server) DeployKeys(full string) []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []int64
	if r := s.repos[full]; r != nil {
		for _, k := range r.Keys {
			ids = append(ids, k.ID)
		}
	}
	return ids
}

// ClassicToken issues a classic personal access token (ghp_) of owner
// with scopes; a zero expiry never expires.
func (s *Server) ClassicToken(owner string, expires time.Time, scopes ...string) string {
	s.AddUser(owner)
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &Token{Value: random("ghp_", 18), Kind: Classic, Owner: owner, Scopes: scopes, ExpiresAt: expires}
	s.tokens[t.Value] = t
	return t.Value
}

// FineGrainedToken issues a fine-grained personal access token
// (github_pat_) of owner with an access grant to each organisation in
// grants, and returns it with the token's id.
func (s *Server) FineGrainedToken(owner string, expires time.Time, grants map[string]*Grant) (string, int64) {
	s.AddUser(owner)
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &Token{Value: random("github_pat_", 30), Kind: FineGrained, Owner: owner, ExpiresAt: expires, TokenID: s.id(), Grants: map[string]*Grant{}}
	for o, g := range grants {
		cp := *g
		cp.PatID = s.id()
		if cp.GrantedAt.IsZero() {
			cp.GrantedAt = time.Now().UTC().Add(-time.Hour)
		}
		t.Grants[o] = &cp
	}
	s.tokens[t.Value] = t
	return t.Value, t.TokenID
}

// Grant returns a fine-grained token's grant to org (nil when revoked or
// never granted).
func (s *Server) Grant(token, org string) *Grant {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tokens[token]; t != nil {
		return t.Grants[org]
	}
	return nil
}

// Use records a use of token at time at (what token_last_used_at shows).
func (s *Server) Use(token string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tokens[token]; t != nil {
		t.LastUsed = at
	}
}

// Revoked reports whether token was revoked (credentials revocation).
func (s *Server) Revoked(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tokens[token]
	return t != nil && t.Revoked
}

// Requests counts requests made authenticated as token.
func (s *Server) Requests(token string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tokens[token]; t != nil {
		return t.Requests
	}
	return 0
}

// RevokeCalls counts requests to POST /credentials/revoke.
func (s *Server) RevokeCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.revokeCalls
}

// RateLimit refuses the next n requests: "primary" answers 403 with
// x-ratelimit-remaining: 0 and x-ratelimit-reset; "secondary" answers
// 429 and "secondary-403" 403, both with retry-after, as GitHub's
// rate-limit documentation describes.
func (s *Server) RateLimit(n int, kind string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limited, s.limitAs = n, kind
}

// LimitedCount counts requests refused by RateLimit.
func (s *Server) LimitedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limitedCount
}

// Secret returns the value of an Actions secret the server opened, with
// ok false when there is none. scope is "owner/repo" or an organisation.
func (s *Server) Secret(scope, name string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var m map[string]*storedSecret
	if r := s.repos[scope]; r != nil {
		m = r.secrets
	} else if o := s.orgs[scope]; o != nil {
		m = o.secrets
	}
	if sec, ok := m[name]; ok {
		return sec.value, true
	}
	return nil, false
}

// AddApp registers a GitHub App by its public key, with one installation
// on org holding permissions (e.g. organization_personal_access_tokens:
// write, secrets: write).
func (s *Server) AddApp(appID, installationID int64, key *rsa.PublicKey, org string, permissions map[string]string) {
	s.AddOrg(org)
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[appID]
	if a == nil {
		a = &app{id: appID, key: key, inst: map[int64]instDef{}}
		s.apps[appID] = a
	}
	a.inst[installationID] = instDef{org: org, permissions: permissions}
}

// InstallationToken issues an installation token directly (a fixture),
// as POST /app/installations/{id}/access_tokens would.
func (s *Server) InstallationToken(appID, installationID int64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mintInstallation(installationID).Value
}

func (s *Server) mintInstallation(installationID int64) *Token {
	t := &Token{Value: random("ghs_", 18), Kind: Installation, ExpiresAt: time.Now().UTC().Add(time.Hour), Installation: installationID}
	s.tokens[t.Value] = t
	return t
}

func (s *Server) installation(id int64) (instDef, bool) {
	for _, a := range s.apps {
		if d, ok := a.inst[id]; ok {
			return d, true
		}
	}
	return instDef{}, false
}

// SecondaryDocsURL is the documentation_url of a secondary rate limit.
const SecondaryDocsURL = "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits"

// fail writes GitHub's error body: {"message","documentation_url","status"}.
func fail(w http.ResponseWriter, code int, msg string) { failDoc(w, code, DocsURL, msg) }

func failDoc(w http.ResponseWriter, code int, doc, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg, "documentation_url": doc, "status": strconv.Itoa(code)})
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

// SetPageCap makes list pages hold at most n items whatever per_page asks
// (0: GitHub's most, 100), so a client that reads only the first page
// misses items without a test making hundreds of them.
func (s *Server) SetPageCap(n int) { s.pageCap.Store(int32(n)) }

// page cuts items by per_page (default 30, at most 100, or the page cap)
// and page (from 1) and sets the Link header GitHub's pagination
// documentation describes, its URLs carrying the per_page it applied.
func page[T any](s *Server, w http.ResponseWriter, r *http.Request, items []T) []T {
	per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if per <= 0 {
		per = 30
	}
	per = min(per, 100)
	if c := int(s.pageCap.Load()); c > 0 {
		per = min(per, c)
	}
	pg, _ := strconv.Atoi(r.URL.Query().Get("page"))
	pg = max(pg, 1)
	last := max((len(items)+per-1)/per, 1)
	link := func(n int, rel string) string {
		u := *r.URL
		q := u.Query()
		q.Set("per_page", strconv.Itoa(per))
		q.Set("page", strconv.Itoa(n))
		u.RawQuery = q.Encode()
		return fmt.Sprintf(`<http://%s%s>; rel="%s"`, r.Host, u.RequestURI(), rel)
	}
	var links []string
	if pg < last {
		links = append(links, link(pg+1, "next"), link(last, "last"))
	}
	if pg > 1 {
		links = append(links, link(1, "first"), link(pg-1, "prev"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	lo := min((pg-1)*per, len(items))
	return items[lo:min(lo+per, len(items))]
}

func sortedKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
