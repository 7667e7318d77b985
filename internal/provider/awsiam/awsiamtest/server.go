// Package awsiamtest is a local AWS IAM and STS endpoint for tests,
// written from AWS's published Query API reference: form-encoded
// Action=…&Version=… requests, XML responses with ResponseMetadata, the
// documented error XML and HTTP statuses, Marker/IsTruncated pagination.
// Every request must carry a valid Signature Version 4 made with a key the
// server holds, so an inactive, deleted or wrong key is refused as AWS
// refuses it. It models IAM's eventual consistency by request count (a new
// key is not accepted for the next N requests) and throttling on demand,
// never by sleeping.
//
// It does not import the provider it serves: the two agree only through
// the wire format, which the official SDK also checks from its side.
package awsiamtest

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Account is the account id every ARN the server makes carries.
const Account = "123456789012"

const (
	iamVersion = "2010-05-08"
	stsVersion = "2011-06-15"
)

// Server is one account's IAM, STS and Secrets Manager on one base URL;
// the SigV4 credential scope's service name ("iam", "sts" or
// "secretsmanager") picks the API.
type Server struct {
	URL string
	hs  *httptest.Server

	mu       sync.Mutex
	requests int // every request received, the clock of eventual consistency
	throttle int // the next throttle requests answer Throttling
	keyDelay int // a new key is refused for this many requests after its creation
	pageCap  int // the most items a page holds whatever MaxItems asks, 0 for no cap

	users    map[string]*user
	keys     map[string]*accessKey
	sessions map[string]*session
	policies map[string]*managedPolicy
	groups   map[string]*group
	roles    map[string]*role
	secrets  map[string]*smSecret
	signed   map[string]int // requests signed with each key id, refused ones included

	adminKey, adminSecret string
}

type user struct {
	name, id, path string
	created        time.Time
	inline         map[string]string
	attached       []string
	groups         []string
	boundary       string
	loginProfile   *time.Time
	mfa            []string
	tags           map[string]string
}

type accessKey struct {
	id, secret, user, status string
	created                  time.Time
	// acceptAt is the request count from which the key authenticates.
	acceptAt            int
	lastUsed            time.Time
	lastRegion, lastSvc string
}

// session is a set of temporary credentials: a user's (GetSessionToken)
// or, with role set, a role's (AssumeRole).
type session struct {
	id, secret, token, user string
	role, name              string // the role and the session's name
	issued, expires         time.Time
}

type managedPolicy struct {
	arn, name, id, doc string
	created            time.Time
}

type group struct {
	name, id string
	created  time.Time
	inline   map[string]string
	attached []string
}

type role struct {
	name, id, trust string
	created         time.Time
	inline          map[string]string
}

// AdminUser is the user New creates with AdministratorAccess.
const AdminUser = "rekey-admin"

// AWS-managed policies the server knows, with the documents AWS publishes
// for them (the parts the evaluation reads).
var awsManaged = map[string]string{
	"AdministratorAccess": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`,
	"IAMFullAccess":       `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*","organizations:DescribeAccount"],"Resource":"*"}]}`,
	"ReadOnlyAccess":      `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:Get*","iam:List*","s3:Get*","s3:List*"],"Resource":"*"}]}`,
	"AmazonS3FullAccess":  `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","s3-object-lambda:*"],"Resource":"*"}]}`,
}

// New starts a server with one administrator user (AdminUser) holding
// AdministratorAccess and one active key (AdminKey). Close it when done.
func New() *Server {
	s := &Server{
		users: map[string]*user{}, keys: map[string]*accessKey{}, sessions: map[string]*session{},
		policies: map[string]*managedPolicy{}, groups: map[string]*group{}, roles: map[string]*role{},
		signed: map[string]int{}, secrets: map[string]*smSecret{},
	}
	for name, doc := range awsManaged {
		arn := "arn:aws:iam::aws:policy/" + name
		s.policies[arn] = &managedPolicy{arn: arn, name: name, id: newID("ANPA"), doc: doc, created: time.Now().UTC()}
	}
	s.CreateUser(AdminUser)
	s.AttachPolicy(AdminUser, "arn:aws:iam::aws:policy/AdministratorAccess")
	s.adminKey, s.adminSecret = s.CreateKey(AdminUser)
	s.hs = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.hs.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.hs.Close() }

// AdminKey is the administrator's access key id and secret.
func (s *Server) AdminKey() (id, secret string) { return s.adminKey, s.adminSecret }

// Throttle makes the next n requests answer Throttling (HTTP 400), as IAM
// does when a caller exceeds its request rate.
func (s *Server) Throttle(n int) { s.mu.Lock(); s.throttle = n; s.mu.Unlock() }

// SetKeyDelay makes every key created from now on be refused
// (InvalidClientTokenId) for the next n requests the server receives,
// modelling IAM's documented eventual consistency for new credentials.
func (s *Server) SetKeyDelay(n int) { s.mu.Lock(); s.keyDelay = n; s.mu.Unlock() }

// SetPageCap makes list pages hold at most n items whatever MaxItems asks,
// as IAM documents it may ("IAM might return fewer results, even when there
// are more results available").
func (s *Server) SetPageCap(n int) { s.mu.Lock(); s.pageCap = n; s.mu.Unlock() }

// Signed counts the requests signed with the key id, refused ones
// included: proof that a caller did or did not use a key.
func (s *Server) Signed(keyID string) int { s.mu.Lock(); defer s.mu.Unlock(); return s.signed[keyID] }

// CreateUser adds a user with nothing attached.
func (s *Server) CreateUser(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[name] = &user{name: name, id: newID("AIDA"), path: "/", created: time.Now().UTC(), inline: map[string]string{}}
}

// CreateKey gives the user a new active key, usable at once (the key
// delay applies to keys created through the API).
func (s *Server) CreateKey(userName string) (id, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.newKey(userName, 0)
	return k.id, k.secret
}

func (s *Server) newKey(userName string, delay int) *accessKey {
	k := &accessKey{id: newID("AKIA"), secret: newSecret(), user: userName, status: "Active",
		created: time.Now().UTC(), acceptAt: s.requests + delay + 1}
	s.keys[k.id] = k
	return k
}

// CreatePolicy adds a customer managed policy and returns its ARN.
func (s *Server) CreatePolicy(name, doc string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	arn := "arn:aws:iam::" + Account + ":policy/" + name
	s.policies[arn] = &managedPolicy{arn: arn, name: name, id: newID("ANPA"), doc: doc, created: time.Now().UTC()}
	return arn
}

// AttachPolicy attaches a managed policy to the user.
func (s *Server) AttachPolicy(userName, arn string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[userName]
	u.attached = append(u.attached, arn)
}

// PutUserPolicy sets an inline policy of the user.
func (s *Server) PutUserPolicy(userName, name, doc string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[userName].inline[name] = doc
}

// AddToGroup puts the user in group (created if missing) with the group's
// inline policy doc under the group's name when doc is not empty.
func (s *Server) AddToGroup(userName, groupName, doc string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[groupName]
	if g == nil {
		g = &group{name: groupName, id: newID("AGPA"), created: time.Now().UTC(), inline: map[string]string{}}
		s.groups[groupName] = g
	}
	if doc != "" {
		g.inline[groupName+"-policy"] = doc
	}
	u := s.users[userName]
	if !slices.Contains(u.groups, groupName) {
		u.groups = append(u.groups, groupName)
	}
}

// SetBoundary sets the user's permissions boundary.
func (s *Server) SetBoundary(userName, arn string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[userName].boundary = arn
}

// CreateLoginProfile gives the user a console password.
func (s *Server) CreateLoginProfile(userName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := time.Now().UTC()
	s.users[userName].loginProfile = &t
}

// HasLoginProfile reports whether the user has a console password.
func (s *Server) HasLoginProfile(userName string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[userName]
	return u != nil && u.loginProfile != nil
}

// AddMFADevice registers a virtual MFA device of the user.
func (s *Server) AddMFADevice(userName, serial string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[userName].mfa = append(s.users[userName].mfa, serial)
}

// CreateRole adds a role with the given trust policy.
func (s *Server) CreateRole(name, trust string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roles[name] = &role{name: name, id: newID("AROA"), trust: trust, created: time.Now().UTC(), inline: map[string]string{}}
}

// KeyInfo is a key as the server holds it.
type KeyInfo struct {
	ID, User, Status string
	Created          time.Time
}

// Key returns the key, ok false when it does not exist.
func (s *Server) Key(id string) (KeyInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	if !ok {
		return KeyInfo{}, false
	}
	return KeyInfo{ID: k.id, User: k.user, Status: k.status, Created: k.created}, true
}

// Keys lists the user's keys, oldest first.
func (s *Server) Keys(userName string) []KeyInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []KeyInfo
	for _, k := range s.userKeys(userName) {
		out = append(out, KeyInfo{ID: k.id, User: k.user, Status: k.status, Created: k.created})
	}
	return out
}

// UserTags returns the user's tags (nil for a missing user).
func (s *Server) UserTags(name string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users[name]; u != nil {
		return maps.Clone(u.tags)
	}
	return nil
}

// TagUser sets one tag of the user, as iam:TagUser does.
func (s *Server) TagUser(name, key, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[name]
	if u.tags == nil {
		u.tags = map[string]string{}
	}
	u.tags[key] = value
}

// UserExists reports whether the user exists.
func (s *Server) UserExists(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.users[name] != nil
}

// UserPolicies returns the user's inline policies by name and its attached
// policy ARNs.
func (s *Server) UserPolicies(name string) (inline map[string]string, attached []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[name]
	if u == nil {
		return nil, nil
	}
	inline = map[string]string{}
	for k, v := range u.inline {
		inline[k] = v
	}
	return inline, slices.Clone(u.attached)
}

func (s *Server) userKeys(userName string) []*accessKey {
	var out []*accessKey
	for _, k := range s.keys {
		if k.user == userName {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b *accessKey) int {
		if c := a.created.Compare(b.created); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	return out
}

func userARN(name string) string { return "arn:aws:iam::" + Account + ":user/" + name }

// newID makes an IAM unique id: a four-letter prefix naming its kind
// (AKIA access key, AIDA user, ASIA temporary key…) and 16 base32
// characters.
func newID(prefix string) string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return prefix + base32.StdEncoding.EncodeToString(b)[:16]
}

// newSecret makes a 40-character secret access key.
func newSecret() string {
	b := make([]byte, 30)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// apiError is an error response: HTTP status, Type (Sender or Receiver),
// Code and Message, as the Query API's ErrorResponse document holds them.
type apiError struct {
	status        int
	code, message string
}

func errf(status int, code, format string, a ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, a...)}
}

func noSuchEntity(format string, a ...any) *apiError {
	return errf(http.StatusNotFound, "NoSuchEntity", format, a...)
}

// caller is who signed a request: a user, or a role session (role set).
type caller struct {
	user        string
	role, name  string     // a role session's role and session name
	key         *accessKey // nil for temporary credentials
	tokenIssued time.Time  // zero for a long-term key
}

// callerARN is the ARN IAM names the caller by.
func (s *Server) callerARN(c caller) string {
	if c.role != "" {
		return "arn:aws:sts::" + Account + ":assumed-role/" + c.role + "/" + c.name
	}
	return userARN(c.user)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	reqID := newRequestID()

	auth, ok := parseAuthorization(r.Header.Get("Authorization"))
	service := auth.service
	if !ok {
		writeError(w, "iam", reqID, errf(http.StatusForbidden, "MissingAuthenticationToken", "Request is missing Authentication Token"))
		return
	}
	if service != "iam" && service != "sts" && service != "secretsmanager" {
		writeError(w, "iam", reqID, errf(http.StatusBadRequest, "InvalidAction", "service %q is not served here", service))
		return
	}
	s.signed[auth.keyID]++
	if s.throttle > 0 {
		s.throttle--
		writeError(w, service, reqID, errf(http.StatusBadRequest, "Throttling", "Rate exceeded"))
		return
	}
	who, aerr := s.authenticate(r, body, auth)
	if aerr != nil {
		writeError(w, service, reqID, aerr)
		return
	}
	if service == "secretsmanager" {
		s.serveSecretsManager(w, r, body, &call{s: s, who: who, region: auth.region, service: service}, reqID)
		return
	}
	form, _ := url.ParseQuery(r.URL.RawQuery)
	if r.Method == http.MethodPost {
		posted, err := url.ParseQuery(string(body))
		if err != nil {
			writeError(w, service, reqID, errf(http.StatusBadRequest, "MalformedQueryString", "the request body is not form-encoded"))
			return
		}
		for k, v := range posted {
			form[k] = v
		}
	}
	action := form.Get("Action")
	want := iamVersion
	handlers := iamHandlers
	if service == "sts" {
		want, handlers = stsVersion, stsHandlers
	}
	h, known := handlers[action]
	if !known {
		writeError(w, service, reqID, errf(http.StatusBadRequest, "InvalidAction", "Could not find operation %s for version %s", action, want))
		return
	}
	if v := form.Get("Version"); v != want {
		writeError(w, service, reqID, errf(http.StatusBadRequest, "InvalidAction", "Could not find operation %s for version %s", action, v))
		return
	}
	c := &call{s: s, form: form, who: who, region: auth.region, service: service}
	if service == "iam" {
		if aerr := c.authorize(action); aerr != nil {
			writeError(w, service, reqID, aerr)
			return
		}
	}
	result, aerr := h(c)
	if aerr != nil {
		writeError(w, service, reqID, aerr)
		return
	}
	if who.key != nil {
		who.key.lastUsed, who.key.lastRegion, who.key.lastSvc = time.Now().UTC(), auth.region, service
	}
	writeResult(w, service, action, reqID, result)
}

// authenticate finds the signing key and checks the signature, as STS and
// IAM do before anything else.
func (s *Server) authenticate(r *http.Request, body []byte, a sigv4) (caller, *apiError) {
	invalidToken := errf(http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.")
	var secretKey string
	var who caller
	if k, ok := s.keys[a.keyID]; ok {
		if k.status != "Active" || s.requests < k.acceptAt {
			return caller{}, invalidToken
		}
		if r.Header.Get("X-Amz-Security-Token") != "" {
			return caller{}, invalidToken
		}
		secretKey, who = k.secret, caller{user: k.user, key: k}
	} else if ses, ok := s.sessions[a.keyID]; ok {
		if r.Header.Get("X-Amz-Security-Token") != ses.token {
			return caller{}, invalidToken
		}
		if time.Now().After(ses.expires) {
			return caller{}, errf(http.StatusForbidden, "ExpiredToken", "The security token included in the request is expired")
		}
		if s.users[ses.user] == nil && s.roles[ses.role] == nil {
			return caller{}, invalidToken
		}
		secretKey, who = ses.secret, caller{user: ses.user, role: ses.role, name: ses.name, tokenIssued: ses.issued}
	} else {
		return caller{}, invalidToken
	}
	amzDate := r.Header.Get("X-Amz-Date")
	t, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil || !strings.HasPrefix(amzDate, a.date) || !slices.Contains(a.signedHeaders, "host") {
		return caller{}, errf(http.StatusBadRequest, "IncompleteSignature", "the request must sign host and carry X-Amz-Date matching the credential scope")
	}
	if d := time.Since(t); d > maxSkew || d < -maxSkew {
		return caller{}, errf(http.StatusForbidden, "SignatureDoesNotMatch", "Signature expired: %s is now earlier than %s", amzDate, time.Now().UTC().Add(-maxSkew).Format("20060102T150405Z"))
	}
	if !hmacEqual(a.expectedSignature(r, body, amzDate, secretKey), a.signature) {
		return caller{}, errf(http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	}
	return who, nil
}

func hmacEqual(want, got string) bool {
	return hmac.Equal([]byte(want), []byte(strings.ToLower(got)))
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
