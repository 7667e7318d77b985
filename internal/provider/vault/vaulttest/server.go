// Package vaulttest is a local HTTP server that follows Vault's (and
// OpenBao's) published HTTP API for what rekey uses: the token store
// (auth/token/create, create-orphan, lookup, lookup-self, lookup-accessor,
// revoke, revoke-accessor, revoke-orphan, renew, accessors), ACL policies
// (sys/policies/acl) evaluated on every request, leases (sys/leases:
// lookup, revoke, revoke-prefix, list), and the KV version 2 secrets
// engine (data with check-and-set, metadata). Bodies, status codes
// and the {"errors":[…]} shape are those of the API reference; every
// request is authenticated by X-Vault-Token, so a revoked token is refused
// with 403. It never imports the provider: it is the provider's opponent.
package vaulttest

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"
)

// Server is one Vault with a root token, a token store, ACL policies and
// KV v2 mounts.
type Server struct {
	*httptest.Server

	mu       sync.Mutex
	root     string
	tokens   map[string]*token  // live tokens by id
	accessor map[string]*token  // live tokens by accessor
	seen     map[string]string  // every token id ever issued → its accessor
	authed   map[string]int     // accessor → requests made with its token
	requests int                // every request received
	throttle int                // requests still to refuse with 429
	policies map[string]string  // name → HCL text
	kv       map[string]*kvItem // "mount/path" → versions
	mounts   map[string]bool    // KV v2 mount names
	leases   map[string]*lease  // by lease id
	entities map[string]*entity // by id
	// casConflicts, when > 0, makes that many KV writes fail with a CAS
	// mismatch after another writer's version is stored first, as a
	// concurrent writer would.
	casConflicts int
}

type token struct {
	ID, Accessor, DisplayName string
	Policies                  []string
	Meta                      map[string]string
	Parent                    string // accessor of the parent, "" for an orphan
	Created                   time.Time
	TTL                       time.Duration // creation TTL, 0 for none
	Expire                    time.Time     // zero: never
	Renewable                 bool
	Period                    time.Duration
	Batch                     bool   // a batch token: no accessor, not renewable, not revocable alone
	EntityID                  string // the identity entity of the login that made it, "" for none
}

// entity is an identity entity: a person or workload across logins, whose
// policies apply to every token of it (identity policies).
type entity struct {
	Name     string
	Policies []string
}

func (t *token) kind() string {
	if t.Batch {
		return "batch"
	}
	return "service"
}

type kvVersion struct {
	Data    map[string]any
	Created time.Time
}

type kvItem struct{ versions []kvVersion }

// New starts a server with a root token and a KV v2 engine mounted at
// "secret".
func New() *Server {
	s := &Server{
		tokens: map[string]*token{}, accessor: map[string]*token{}, seen: map[string]string{},
		authed: map[string]int{}, policies: map[string]string{}, kv: map[string]*kvItem{},
		mounts: map[string]bool{"secret": true}, leases: map[string]*lease{}, entities: map[string]*entity{},
	}
	root := s.issue(&token{DisplayName: "root", Policies: []string{"root"}})
	s.root = root.ID
	s.policies["default"] = defaultPolicy
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// defaultPolicy is the part of Vault's built-in default policy that lets a
// token look itself up, renew and revoke itself.
const defaultPolicy = `
path "auth/token/lookup-self" { capabilities = ["read"] }
path "auth/token/renew-self" { capabilities = ["update"] }
path "auth/token/revoke-self" { capabilities = ["update"] }
`

// RootToken is the root token's id.
func (s *Server) RootToken() string { return s.root }

// Signed counts the requests made with the token whose accessor this is,
// refused ones (after its revocation) included.
func (s *Server) Signed(accessor string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authed[accessor]
}

// Throttle makes the next n requests fail as a rate limit quota does:
// 429 with Vault's message.
func (s *Server) Throttle(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle = n
}

// Requests counts every request the server received.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// ConflictNextWrites makes the next n KV writes lose a check-and-set race:
// another version is stored just before each.
func (s *Server) ConflictNextWrites(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.casConflicts = n
}

// MountKV mounts a KV v2 engine at name.
func (s *Server) MountKV(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mounts[name] = true
}

const base62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randomString(n int) string {
	b := make([]byte, n)
	for i := range b {
		k, _ := rand.Int(rand.Reader, big.NewInt(int64(len(base62))))
		b[i] = base62[k.Int64()]
	}
	return string(b)
}

// issue stores t with a fresh id ("hvs." service token) and accessor.
func (s *Server) issue(t *token) *token {
	t.ID = "hvs." + randomString(24)
	if t.Batch {
		t.ID = "hvb." + randomString(40)
	} else {
		t.Accessor = randomString(24)
		s.accessor[t.Accessor] = t
	}
	t.Created = time.Now()
	if t.TTL > 0 {
		t.Expire = t.Created.Add(t.TTL)
	}
	s.tokens[t.ID] = t
	s.seen[t.ID] = t.Accessor
	return t
}

// live returns the token id names, dropping it when it has expired.
func (s *Server) live(id string) *token {
	t := s.tokens[id]
	if t != nil && !t.Expire.IsZero() && time.Now().After(t.Expire) {
		s.revoke(t, false)
		return nil
	}
	return t
}

// revoke removes t and, unless orphan, every descendant: Vault revokes a
// token's children with it; revoke-orphan makes them orphans instead.
func (s *Server) revoke(t *token, orphanChildren bool) {
	delete(s.tokens, t.ID)
	delete(s.accessor, t.Accessor)
	s.revokeLeases(t.Accessor)
	for _, c := range s.tokens {
		if c.Parent != t.Accessor {
			continue
		}
		if orphanChildren {
			c.Parent = ""
		} else {
			s.revoke(c, false)
		}
	}
}

// apiError is Vault's error body.
type apiError struct {
	code int
	msgs []string
}

// errorf is an error with one message; an empty one is Vault's bare
// 404, {"errors":[]}.
func errorf(code int, msg string) *apiError {
	if msg == "" {
		return &apiError{code, []string{}}
	}
	return &apiError{code, []string{msg}}
}

// permissionDenied is how Vault words a refused token or capability (a
// multierror with one entry).
var permissionDenied = errorf(http.StatusForbidden, "1 error occurred:\n\t* permission denied\n\n")

// request is one decoded API call.
type request struct {
	method string // "GET", "LIST", "POST", "PUT", "DELETE"
	path   string // without /v1/
	query  map[string][]string
	body   map[string]any
	caller *token
}

func (r *request) str(k string) string {
	v, _ := r.body[k].(string)
	return v
}

// response is a successful answer: nil means 204 No Content.
type response map[string]any

func (s *Server) serve(w http.ResponseWriter, hr *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	resp, err := s.handle(hr)
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(err.code)
		_ = json.NewEncoder(w).Encode(map[string]any{"errors": err.msgs})
		return
	}
	if resp == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	for _, k := range []string{"request_id", "lease_id", "renewable", "lease_duration", "data", "wrap_info", "warnings", "auth"} {
		if _, ok := resp[k]; !ok {
			resp[k] = nil
		}
	}
	resp["request_id"] = randomString(8)
	if resp["lease_id"] == nil {
		resp["lease_id"] = ""
	}
	if resp["renewable"] == nil {
		resp["renewable"] = false
	}
	if resp["lease_duration"] == nil {
		resp["lease_duration"] = 0
	}
	_ = json.NewEncoder(w).Encode(resp)
}

func (s *Server) handle(hr *http.Request) (response, *apiError) {
	path, ok := strings.CutPrefix(hr.URL.Path, "/v1/")
	if !ok {
		return nil, errorf(http.StatusNotFound, "404 page not found")
	}
	if s.throttle > 0 {
		s.throttle--
		return nil, errorf(http.StatusTooManyRequests, "request path \""+path+"\": rate limit quota exceeded")
	}
	r := &request{method: hr.Method, path: strings.TrimSuffix(path, "/"), query: hr.URL.Query()}
	if r.method == http.MethodGet && hr.URL.Query().Get("list") == "true" {
		r.method = "LIST"
	}
	if b, _ := io.ReadAll(io.LimitReader(hr.Body, 1<<20)); len(strings.TrimSpace(string(b))) > 0 {
		if err := json.Unmarshal(b, &r.body); err != nil {
			return nil, errorf(http.StatusBadRequest, "failed to parse JSON input: "+err.Error())
		}
	}
	id := hr.Header.Get("X-Vault-Token")
	if acc, ok := s.seen[id]; ok {
		s.authed[acc]++
	}
	r.caller = s.live(id)
	if r.caller == nil {
		return nil, permissionDenied
	}
	if err := s.authorize(r); err != nil {
		return nil, err
	}
	switch {
	case strings.HasPrefix(r.path, "auth/token/"):
		return s.tokenAPI(r)
	case strings.HasPrefix(r.path, "sys/policies/acl"):
		return s.policyAPI(r)
	case strings.HasPrefix(r.path, "sys/leases/"):
		return s.leaseAPI(r)
	}
	mount, rest, _ := strings.Cut(r.path, "/")
	if s.mounts[mount] {
		return s.kvAPI(r, mount, rest)
	}
	return nil, errorf(http.StatusNotFound, "no handler for route \""+r.path+"\". route entry not found.")
}

// capability is what an HTTP method asks of a path (Vault's mapping;
// create or update for a write is decided by whether the target exists).
func (s *Server) capability(r *request) string {
	switch r.method {
	case http.MethodGet, http.MethodHead:
		return "read"
	case "LIST":
		return "list"
	case http.MethodDelete:
		return "delete"
	}
	if mount, rest, _ := strings.Cut(r.path, "/"); s.mounts[mount] {
		if p, ok := strings.CutPrefix(rest, "data/"); ok && s.kv[mount+"/"+p] == nil {
			return "create"
		}
	}
	if name, ok := strings.CutPrefix(r.path, "sys/policies/acl/"); ok && s.policies[name] == "" {
		return "create"
	}
	return "update"
}

// sudoPaths are the documented root-protected paths rekey calls: they
// need sudo besides the method's capability.
var sudoPaths = []string{"auth/token/accessors", "auth/token/revoke-orphan", "sys/leases/revoke-prefix/", "sys/leases/lookup/"}

func (s *Server) authorize(r *request) *apiError {
	caps := s.capabilities(r.caller, r.path)
	if caps["root"] {
		return nil
	}
	if caps["deny"] || !caps[s.capability(r)] {
		return permissionDenied
	}
	for _, p := range sudoPaths {
		if (r.path == p || strings.HasSuffix(p, "/") && strings.HasPrefix(r.path, p)) && !caps["sudo"] {
			return permissionDenied
		}
	}
	return nil
}

func (s *Server) tokenAPI(r *request) (response, *apiError) {
	op := strings.TrimPrefix(r.path, "auth/token/")
	write := r.method == http.MethodPost || r.method == http.MethodPut
	switch {
	case (op == "create" || op == "create-orphan") && write:
		return s.create(r, op == "create-orphan")
	case op == "lookup-self" && r.method == http.MethodGet:
		return response{"data": s.lookupData(r.caller, true)}, nil
	case op == "lookup" && write:
		t := s.live(r.str("token"))
		if t == nil {
			return nil, errorf(http.StatusForbidden, "bad token")
		}
		return response{"data": s.lookupData(t, true)}, nil
	case op == "lookup-accessor" && write:
		t := s.accessor[r.str("accessor")]
		if t == nil || s.live(t.ID) == nil {
			return nil, errorf(http.StatusBadRequest, "invalid accessor")
		}
		return response{"data": s.lookupData(t, false)}, nil
	case (op == "revoke" || op == "revoke-orphan") && write:
		if t := s.live(r.str("token")); t != nil && t.Batch {
			return nil, errorf(http.StatusBadRequest, "batch tokens cannot be revoked")
		} else if t != nil {
			s.revoke(t, op == "revoke-orphan")
		}
		return nil, nil
	case op == "revoke-accessor" && write:
		t := s.accessor[r.str("accessor")]
		if t == nil {
			return nil, errorf(http.StatusBadRequest, "invalid accessor")
		}
		s.revoke(t, false)
		return nil, nil
	case op == "revoke-self" && write:
		s.revoke(r.caller, false)
		return nil, nil
	case op == "renew" && write:
		t := s.live(r.str("token"))
		if t == nil {
			return nil, errorf(http.StatusBadRequest, "invalid token")
		}
		return s.renew(t, r)
	case op == "accessors" && r.method == "LIST":
		var keys []string
		for a, t := range s.accessor {
			if s.live(t.ID) != nil {
				keys = append(keys, a)
			}
		}
		sort.Strings(keys)
		return response{"data": map[string]any{"keys": keys}}, nil
	}
	return nil, errorf(http.StatusMethodNotAllowed, "unsupported operation")
}

func (s *Server) create(r *request, orphan bool) (response, *apiError) {
	policies := strList(r.body["policies"])
	if len(policies) == 0 {
		policies = append([]string(nil), r.caller.Policies...)
	}
	caps := s.capabilities(r.caller, r.path)
	sudo := caps["sudo"] || caps["root"]
	if b, _ := r.body["no_parent"].(bool); b {
		if !sudo {
			return nil, errorf(http.StatusBadRequest, "root or sudo privileges required to create orphan token")
		}
		orphan = true
	}
	if !sudo && !caps["root"] {
		for _, p := range policies {
			if p != "default" && !contains(r.caller.Policies, p) {
				return nil, errorf(http.StatusBadRequest, "child policies must be subset of parent")
			}
		}
	}
	if contains(policies, "root") && !contains(r.caller.Policies, "root") {
		return nil, errorf(http.StatusBadRequest, "root tokens may not be created without parent token being root")
	}
	if b, _ := r.body["no_default_policy"].(bool); !b && !contains(policies, "default") && !contains(policies, "root") {
		policies = append(policies, "default")
	}
	sort.Strings(policies)
	ttl, err := duration(r.body["ttl"])
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "invalid ttl: "+err.Error())
	}
	period, err := duration(r.body["period"])
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "invalid period: "+err.Error())
	}
	if period > 0 {
		ttl = period
	}
	t := &token{DisplayName: "token", Policies: policies, Meta: map[string]string{}, TTL: ttl, Period: period, Renewable: true}
	if d := r.str("display_name"); d != "" {
		t.DisplayName = sanitizeDisplayName("token-" + d)
	}
	if b, ok := r.body["renewable"].(bool); ok {
		t.Renewable = b
	}
	if r.str("type") == "batch" {
		t.Batch, t.Renewable = true, false
	}
	if m, ok := r.body["meta"].(map[string]any); ok {
		for k, v := range m {
			t.Meta[k], _ = v.(string)
		}
	}
	if !orphan {
		t.Parent = r.caller.Accessor
	}
	s.issue(t)
	return response{"auth": s.authData(t)}, nil
}

// sanitizeDisplayName is Vault's: runs of characters other than letters,
// digits and '-' become '-', and a trailing '-' is cut.
func sanitizeDisplayName(s string) string {
	var b strings.Builder
	run := false
	for _, c := range s {
		if c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
			run = false
		} else if !run {
			b.WriteByte('-')
			run = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

func (s *Server) renew(t *token, r *request) (response, *apiError) {
	if !t.Renewable {
		return nil, errorf(http.StatusBadRequest, "lease is not renewable")
	}
	inc, err := duration(r.body["increment"])
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "invalid increment")
	}
	if inc == 0 {
		inc = t.TTL
	}
	if inc > 0 {
		t.Expire = time.Now().Add(inc)
	}
	return response{"auth": s.authData(t)}, nil
}

func ttlSeconds(t *token) int64 {
	if t.Expire.IsZero() {
		return 0
	}
	return int64(time.Until(t.Expire).Seconds())
}

func (s *Server) authData(t *token) map[string]any {
	return map[string]any{
		"client_token": t.ID, "accessor": t.Accessor, "policies": t.Policies, "token_policies": t.Policies,
		"identity_policies": s.identityPolicies(t), "metadata": t.Meta, "lease_duration": ttlSeconds(t), "renewable": t.Renewable,
		"entity_id": t.EntityID, "token_type": t.kind(), "orphan": t.Parent == "", "mfa_requirement": nil, "num_uses": 0,
	}
}

// lookupData is the data of a lookup answer; lookup-accessor hides the
// token's id.
func (s *Server) lookupData(t *token, withID bool) map[string]any {
	id := ""
	if withID {
		id = t.ID
	}
	var expire any
	if !t.Expire.IsZero() {
		expire = t.Expire.UTC().Format(time.RFC3339Nano)
	}
	d := map[string]any{
		"accessor": t.Accessor, "creation_time": t.Created.Unix(), "creation_ttl": int64(t.TTL.Seconds()),
		"display_name": t.DisplayName, "entity_id": t.EntityID, "expire_time": expire, "explicit_max_ttl": 0,
		"id": id, "issue_time": t.Created.UTC().Format(time.RFC3339Nano), "meta": t.Meta, "num_uses": 0,
		"orphan": t.Parent == "", "path": "auth/token/create", "policies": t.Policies, "renewable": t.Renewable,
		"ttl": ttlSeconds(t), "type": t.kind(),
	}
	if t.Period > 0 {
		d["period"] = int64(t.Period.Seconds())
	}
	if ip := s.identityPolicies(t); len(ip) > 0 {
		d["identity_policies"] = ip
	}
	return d
}

func strList(v any) []string {
	var out []string
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
	case string:
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// duration reads a TTL given as seconds (a number or a numeric string) or
// a Go duration string ("1h").
func duration(v any) (time.Duration, error) {
	switch v := v.(type) {
	case nil:
		return 0, nil
	case float64:
		return time.Duration(v) * time.Second, nil
	case string:
		if v == "" {
			return 0, nil
		}
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return time.Duration(n) * time.Second, nil
		}
		return time.ParseDuration(v)
	}
	return 0, strconv.ErrSyntax
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// Client is the official client pointed at the server as token, without
// retries, for tests' fixtures and out-of-band checks.
func (s *Server) Client(token string) *api.Client {
	conf := api.DefaultConfig()
	conf.Address = s.URL
	conf.MaxRetries = 0
	c, err := api.NewClient(conf)
	if err != nil {
		panic("vaulttest: " + err.Error()) // only a malformed address fails, and s.URL is not
	}
	c.SetToken(token)
	return c
}

// identityPolicies are the policies t's entity holds.
func (s *Server) identityPolicies(t *token) []string {
	if e := s.entities[t.EntityID]; e != nil {
		return e.Policies
	}
	return nil
}

// CreateEntity makes an identity entity holding policies and returns its
// id.
func (s *Server) CreateEntity(name string, policies ...string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := randomString(8) + "-" + randomString(4) + "-" + randomString(12)
	s.entities[id] = &entity{Name: name, Policies: policies}
	return id
}

// Login stands in for an auth method login of the entity (the server
// serves no auth method): it issues an orphan service token with the
// display name ("userpass-alice"), the policies and the entity, and
// returns its id and accessor.
func (s *Server) Login(entityID, displayName string, ttl time.Duration, policies ...string) (id, accessor string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.issue(&token{DisplayName: displayName, Policies: append(policies, "default"), Meta: map[string]string{},
		TTL: ttl, Renewable: true, EntityID: entityID})
	return t.ID, t.Accessor
}
