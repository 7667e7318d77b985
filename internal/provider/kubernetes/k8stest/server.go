// Package k8stest is a Kubernetes API server for tests, written from the
// Kubernetes API reference (kubernetes.io/docs/reference/kubernetes-api):
// core/v1 ServiceAccounts (and their token subresource, TokenRequest),
// Secrets, ConfigMaps and Pods, rbac.authorization.k8s.io/v1 Roles,
// ClusterRoles, RoleBindings and ClusterRoleBindings, apps/v1
// Deployments and authentication.k8s.io/v1 TokenReviews. Objects are JSON
// as the API sends them, with uid, resourceVersion and creationTimestamp
// set by the server; lists page with limit and continue; errors are
// Status objects with their reason and code (401 Unauthorized, 403
// Forbidden, 404 NotFound, 409 AlreadyExists or Conflict). Requests
// authenticate with a bearer token: a user token the server handed out, a
// legacy service-account token, which the server fills into a Secret of
// type kubernetes.io/service-account-token when it is created, as the
// token controller does, and which stops working when that Secret or its
// service account is deleted, or a bound token from TokenRequest, signed
// by the server's key, which stops working when it expires or when its
// service account or the pod or Secret it is bound to is deleted (or
// recreated: the uid it names is checked). Every request but the root
// user's is authorized by RBAC rules. It does not import the provider.
package k8stest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// TokenSecretType is the type of a legacy service-account token Secret.
const TokenSecretType = "kubernetes.io/service-account-token"

// SANameAnnotation names the service account a token Secret is for.
const SANameAnnotation = "kubernetes.io/service-account.name"

type object = map[string]any

// Server is a running test API server.
type Server struct {
	*httptest.Server
	mu     sync.Mutex
	rv     int
	objs   map[string]object // key: resource/namespace/name
	users  map[string]string // token -> user name
	root   string
	tokens map[string]string // service-account token -> "namespace/secret"
	signed map[string]int    // secret name -> requests made with its token
	// delay and pending model the token controller's lag by request
	// count: a new token Secret is filled on its delay-th read.
	delay   int
	pending map[string]int // "namespace/secret" -> reads left before filling
	key     signer
	used    map[string]int // bound token jti -> requests made with it
	reviews int            // TokenReviews answered
	skew    time.Duration  // Advance's
	// pageCap is the most items a list page holds whatever limit asks
	// (0: no cap): the API reference lets a server return fewer.
	pageCap int
	// compacted counts the compactions ExpireContinue asked for; a
	// continue token carries the count it was made at.
	compacted  int
	expireNext bool
}

// TokenDelay makes the token controller fill each token Secret created
// from now on only when it is read the n-th time, as a real controller
// fills it shortly after creation (n = 0: at creation).
func (s *Server) TokenDelay(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = n
}

// New starts a server with one root user (in system:masters).
func New() *Server {
	s := &Server{objs: map[string]object{}, users: map[string]string{}, tokens: map[string]string{}, signed: map[string]int{}, pending: map[string]int{},
		key: newSigner(), used: map[string]int{}}
	s.root = s.AddUser("root")
	// TLS, as every API server serves: kubeconfig clients send a bearer
	// token only over TLS.
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	return s
}

// CAData is the PEM certificate clients trust the server by
// (certificate-authority-data in a kubeconfig, base64 of it).
func (s *Server) CAData() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
}

// RootToken is the token of a user no RBAC rule limits.
func (s *Server) RootToken() string { return s.root }

// AddUser returns a bearer token authenticating as user name; what it may
// do is given by ClusterRoleBindings and RoleBindings naming the User.
func (s *Server) AddUser(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok := randomHex(24)
	s.users[tok] = name
	return tok
}

// Signed counts the requests made with the token of the Secret named
// secretName, refused ones included, also after the Secret is deleted.
func (s *Server) Signed(secretName string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signed[secretName]
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// kinds maps each served resource to its group version, kind and scope.
var kinds = map[string]struct {
	gv, kind   string
	namespaced bool
}{
	"serviceaccounts":     {"v1", "ServiceAccount", true},
	"secrets":             {"v1", "Secret", true},
	"configmaps":          {"v1", "ConfigMap", true},
	"roles":               {"rbac.authorization.k8s.io/v1", "Role", true},
	"rolebindings":        {"rbac.authorization.k8s.io/v1", "RoleBinding", true},
	"clusterroles":        {"rbac.authorization.k8s.io/v1", "ClusterRole", false},
	"clusterrolebindings": {"rbac.authorization.k8s.io/v1", "ClusterRoleBinding", false},
	"deployments":         {"apps/v1", "Deployment", true},
	"pods":                {"v1", "Pod", true},
	"tokenreviews":        {"authentication.k8s.io/v1", "TokenReview", false},
}

// request is a parsed API path.
type request struct {
	group, resource, sub, namespace, name, verb string
}

// parse reads /api/v1/... and /apis/GROUP/VERSION/... paths.
func parse(r *http.Request) (request, bool) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	var q request
	switch {
	case len(parts) >= 3 && parts[0] == "api" && parts[1] == "v1":
		parts = parts[2:]
	case len(parts) >= 4 && parts[0] == "apis":
		q.group = parts[1]
		parts = parts[3:]
	default:
		return q, false
	}
	if len(parts) >= 2 && parts[0] == "namespaces" {
		q.namespace = parts[1]
		parts = parts[2:]
	}
	if len(parts) == 0 || len(parts) > 3 {
		return q, false
	}
	q.resource = parts[0]
	if len(parts) >= 2 {
		q.name = parts[1]
	}
	if len(parts) == 3 {
		q.sub = parts[2]
	}
	k, ok := kinds[q.resource]
	if !ok || (k.namespaced && q.name != "" && q.namespace == "") || (!k.namespaced && q.namespace != "") {
		return q, false
	}
	if g, _, _ := strings.Cut(k.gv, "/"); strings.Contains(k.gv, "/") != (q.group != "") || (q.group != "" && g != q.group) {
		return q, false
	}
	switch r.Method {
	case http.MethodGet:
		q.verb = "get"
		if q.name == "" {
			q.verb = "list"
		}
	case http.MethodPost:
		q.verb = "create"
	case http.MethodPut:
		q.verb = "update"
	case http.MethodPatch:
		q.verb = "patch"
	case http.MethodDelete:
		q.verb = "delete"
	default:
		return q, false
	}
	return q, true
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := parse(r)
	if !ok {
		status(w, http.StatusNotFound, "NotFound", "the server could not find the requested resource", nil)
		return
	}
	user, groups, ok := s.authenticate(r)
	if !ok {
		status(w, http.StatusUnauthorized, "Unauthorized", "Unauthorized", nil)
		return
	}
	if !s.allowed(user, groups, q) {
		msg := fmt.Sprintf("%s %q is forbidden: User %q cannot %s resource %q in API group %q", q.resource, q.name, user, q.verb, q.resource, q.group)
		if q.name == "" {
			msg = fmt.Sprintf("%s is forbidden: User %q cannot %s resource %q in API group %q", q.resource, user, q.verb, q.resource, q.group)
		}
		if q.namespace != "" {
			msg += fmt.Sprintf(" in the namespace %q", q.namespace)
		} else {
			msg += " at the cluster scope"
		}
		status(w, http.StatusForbidden, "Forbidden", msg, details(q))
		return
	}
	switch {
	case q.sub == "token" && q.resource == "serviceaccounts" && q.verb == "create":
		s.tokenRequest(w, r, q)
		return
	case q.resource == "tokenreviews" && q.verb == "create" && q.name == "":
		s.tokenReview(w, r)
		return
	case q.sub != "", q.resource == "tokenreviews":
		status(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "the server does not allow this method on the requested resource", nil)
		return
	}
	switch q.verb {
	case "get":
		s.get(w, q)
	case "list":
		s.list(w, r, q)
	case "create":
		s.create(w, r, q)
	case "update":
		s.update(w, r, q)
	case "patch":
		s.patch(w, r, q)
	case "delete":
		s.delete(w, r, q)
	}
}

// authenticate maps the bearer token to a user and its groups: a user's
// token, or a service-account token the server would accept for its own
// audience (review).
func (s *Server) authenticate(r *http.Request) (string, []string, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return "", nil, false
	}
	if u, ok := s.users[tok]; ok {
		if tok == s.root {
			return u, []string{"system:masters", "system:authenticated"}, true
		}
		return u, []string{"system:authenticated"}, true
	}
	if ref, ok := s.tokens[tok]; ok {
		_, name, _ := strings.Cut(ref, "/")
		s.signed[name]++
	} else if c, ok := s.key.verify(tok); ok {
		s.used[str(c, "jti")]++
	}
	u, _, why := s.review(tok, []string{APIAudience})
	if why != "" {
		return "", nil, false
	}
	return u.name, u.groups, true
}

func key(resource, ns, name string) string { return resource + "/" + ns + "/" + name }

func annotation(o object, name string) string {
	md, _ := o["metadata"].(object)
	a, _ := md["annotations"].(object)
	v, _ := a[name].(string)
	return v
}

func meta(o object) object {
	md, ok := o["metadata"].(object)
	if !ok {
		md = object{}
		o["metadata"] = md
	}
	return md
}

func str(o object, k string) string { v, _ := o[k].(string); return v }

func details(q request) object {
	return object{"name": q.name, "group": q.group, "kind": q.resource}
}

// status writes a Status object, the shape every API error has.
func status(w http.ResponseWriter, code int, reason, msg string, d object) {
	st := object{"kind": "Status", "apiVersion": "v1", "metadata": object{}, "status": "Failure", "message": msg, "reason": reason, "code": code}
	if d != nil {
		st["details"] = d
	}
	write(w, code, st)
}

func write(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func notFound(w http.ResponseWriter, q request) {
	msg := fmt.Sprintf("%s %q not found", q.resource, q.name)
	if q.group != "" {
		msg = fmt.Sprintf("%s.%s %q not found", q.resource, q.group, q.name)
	}
	status(w, http.StatusNotFound, "NotFound", msg, details(q))
}

func (s *Server) get(w http.ResponseWriter, q request) {
	o, ok := s.objs[key(q.resource, q.namespace, q.name)]
	if !ok {
		notFound(w, q)
		return
	}
	if n, ok := s.pending[q.namespace+"/"+q.name]; ok && q.resource == "secrets" {
		if n <= 1 {
			delete(s.pending, q.namespace+"/"+q.name)
			s.fillToken(q, o)
		} else {
			s.pending[q.namespace+"/"+q.name] = n - 1
		}
	}
	write(w, http.StatusOK, o)
}

// list honours labelSelector (k=v, comma-separated) and the fieldSelector
// type=… of Secrets; without a namespace it lists every namespace. With
// limit (or a page cap, SetPageCap) it returns one page and
// metadata.continue, the opaque token of the next page, with
// remainingItemCount; a continue token not made by this server is a 400,
// one made before ExpireContinue a 410 Expired.
// Pages are cut from the current objects by name order, not from a
// snapshot at the first page's resourceVersion as etcd serves them.
func (s *Server) list(w http.ResponseWriter, r *http.Request, q request) {
	k := kinds[q.resource]
	labels := selector(r.URL.Query().Get("labelSelector"))
	fields := selector(r.URL.Query().Get("fieldSelector"))
	after := ""
	if c := r.URL.Query().Get("continue"); c != "" {
		if s.expireNext {
			s.expireNext = false
			s.compacted++
		}
		b, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil || !strings.HasPrefix(string(b), "k8stest:") {
			status(w, http.StatusBadRequest, "BadRequest", "continue key is not valid: illegal base64 data", nil)
			return
		}
		gen, last, _ := strings.Cut(strings.TrimPrefix(string(b), "k8stest:"), ":")
		if gen != strconv.Itoa(s.compacted) {
			status(w, http.StatusGone, "Expired", "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.", nil)
			return
		}
		after = last
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if s.pageCap > 0 && (limit <= 0 || limit > s.pageCap) {
		limit = s.pageCap
	}
	var keys []string
	for key := range s.objs {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	items := []object{}
	next, remaining := "", 0
	for _, kk := range keys {
		res, rest, _ := strings.Cut(kk, "/")
		ns, _, _ := strings.Cut(rest, "/")
		if res != q.resource || (q.namespace != "" && ns != q.namespace) || kk <= after {
			continue
		}
		o := s.objs[kk]
		if !matches(o, labels, fields) {
			continue
		}
		if limit > 0 && len(items) == limit {
			remaining++
			continue
		}
		items = append(items, o)
		next = kk
	}
	md := object{"resourceVersion": strconv.Itoa(s.rv)}
	if remaining > 0 {
		md["continue"] = base64.RawURLEncoding.EncodeToString([]byte("k8stest:" + strconv.Itoa(s.compacted) + ":" + next))
		md["remainingItemCount"] = remaining
	}
	write(w, http.StatusOK, object{"kind": k.kind + "List", "apiVersion": k.gv, "metadata": md, "items": items})
}

// ExpireContinue makes the next list request that carries a continue
// token, and every token handed out before it, answer 410 Expired, as
// after etcd compacts the revision a list began at.
func (s *Server) ExpireContinue() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireNext = true
}

// SetPageCap makes list pages hold at most n items whatever limit asks
// (0: no cap), so a client that reads only the first page misses items.
func (s *Server) SetPageCap(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageCap = n
}

func selector(s string) map[string]string {
	out := map[string]string{}
	for _, p := range strings.Split(s, ",") {
		if k, v, ok := strings.Cut(p, "="); ok {
			out[strings.TrimSuffix(k, "=")] = strings.TrimPrefix(v, "=")
		}
	}
	return out
}

func matches(o object, labels, fields map[string]string) bool {
	md := meta(o)
	l, _ := md["labels"].(object)
	for k, v := range labels {
		if got, _ := l[k].(string); got != v {
			return false
		}
	}
	for k, v := range fields {
		var got string
		switch k {
		case "type":
			got = str(o, "type")
		case "metadata.name":
			got = str(md, "name")
		case "metadata.namespace":
			got = str(md, "namespace")
		}
		if got != v {
			return false
		}
	}
	return true
}

func (s *Server) body(w http.ResponseWriter, r *http.Request, q request) (object, bool) {
	if ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); ct != "application/json" && !strings.HasSuffix(ct, "patch+json") {
		status(w, http.StatusUnsupportedMediaType, "UnsupportedMediaType", "the body of the request was in an unknown format: "+ct+" (k8stest speaks JSON only)", nil)
		return nil, false
	}
	b, err := io.ReadAll(r.Body)
	var o object
	if err == nil {
		err = json.Unmarshal(b, &o)
	}
	if err != nil {
		status(w, http.StatusBadRequest, "BadRequest", "the body of the request was in an unknown format", nil)
		return nil, false
	}
	k := kinds[q.resource]
	o["apiVersion"], o["kind"] = k.gv, k.kind
	return o, true
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, q request) {
	if q.name != "" {
		status(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "the server does not allow this method on the requested resource", nil)
		return
	}
	o, ok := s.body(w, r, q)
	if !ok {
		return
	}
	md := meta(o)
	q.name = str(md, "name")
	if q.name == "" {
		if g := str(md, "generateName"); g != "" {
			q.name = g + randomHex(3)[:5]
		}
	}
	if q.name == "" {
		status(w, http.StatusUnprocessableEntity, "Invalid", q.resource+" is invalid: metadata.name: Required value: name or generateName is required", details(q))
		return
	}
	if ns := str(md, "namespace"); ns != "" && ns != q.namespace {
		status(w, http.StatusBadRequest, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request", nil)
		return
	}
	k := key(q.resource, q.namespace, q.name)
	if _, dup := s.objs[k]; dup {
		status(w, http.StatusConflict, "AlreadyExists", fmt.Sprintf("%s %q already exists", q.resource, q.name), details(q))
		return
	}
	s.rv++
	md["name"] = q.name
	if q.namespace != "" {
		md["namespace"] = q.namespace
	}
	md["uid"] = uuid()
	md["resourceVersion"] = strconv.Itoa(s.rv)
	md["creationTimestamp"] = time.Now().UTC().Format(time.RFC3339)
	if q.resource == "secrets" && str(o, "type") == TokenSecretType {
		if _, ok := s.objs[key("serviceaccounts", q.namespace, annotation(o, SANameAnnotation))]; !ok {
			status(w, http.StatusUnprocessableEntity, "Invalid", fmt.Sprintf("secrets %q is invalid: metadata.annotations[%s]: the service account %q does not exist", q.name, SANameAnnotation, annotation(o, SANameAnnotation)), details(q))
			return
		}
		if s.delay > 0 {
			s.pending[q.namespace+"/"+q.name] = s.delay
		} else {
			s.fillToken(q, o)
		}
	}
	if q.resource == "deployments" {
		s.rollout(o)
	}
	s.objs[k] = o
	write(w, http.StatusCreated, o)
}

// fillToken does what the token controller does to a new token Secret
// (whose service account the create checked): it fills data.token,
// data["ca.crt"] and data.namespace (base64, as Secret data travels).
func (s *Server) fillToken(q request, o object) {
	// A legacy token is a JWT the cluster signs with the legacy claims
	// (kubernetes/serviceaccount issuer, no expiry, no audience).
	sa := annotation(o, SANameAnnotation)
	saObj := s.objs[key("serviceaccounts", q.namespace, sa)]
	tok := s.key.sign(object{"iss": legacyIssuer, "sub": "system:serviceaccount:" + q.namespace + ":" + sa,
		"kubernetes.io/serviceaccount/namespace": q.namespace, "kubernetes.io/serviceaccount/secret.name": q.name,
		"kubernetes.io/serviceaccount/service-account.name": sa, "kubernetes.io/serviceaccount/service-account.uid": str(meta(saObj), "uid")})
	s.tokens[tok] = q.namespace + "/" + q.name
	data, _ := o["data"].(object)
	if data == nil {
		data = object{}
		o["data"] = data
	}
	enc := base64.StdEncoding.EncodeToString
	data["token"] = enc([]byte(tok))
	data["ca.crt"] = enc([]byte("-----BEGIN CERTIFICATE-----\nk8stest\n-----END CERTIFICATE-----\n"))
	data["namespace"] = enc([]byte(q.namespace))
}

func uuid() string {
	h := randomHex(16)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// update replaces an object; a resourceVersion that is not the stored one
// is a 409 Conflict, as optimistic concurrency has it.
func (s *Server) update(w http.ResponseWriter, r *http.Request, q request) {
	old, ok := s.objs[key(q.resource, q.namespace, q.name)]
	if !ok {
		notFound(w, q)
		return
	}
	o, ok := s.body(w, r, q)
	if !ok {
		return
	}
	md, omd := meta(o), meta(old)
	if rv := str(md, "resourceVersion"); rv != "" && rv != str(omd, "resourceVersion") {
		status(w, http.StatusConflict, "Conflict", fmt.Sprintf("Operation cannot be fulfilled on %s %q: the object has been modified; please apply your changes to the latest version and try again", q.resource, q.name), details(q))
		return
	}
	s.store(q, o, omd)
	write(w, http.StatusOK, o)
}

func (s *Server) store(q request, o, omd object) {
	s.rv++
	md := meta(o)
	for _, f := range []string{"name", "namespace", "uid", "creationTimestamp"} {
		if v, ok := omd[f]; ok {
			md[f] = v
		}
	}
	md["resourceVersion"] = strconv.Itoa(s.rv)
	if q.resource == "deployments" {
		s.rollout(o)
	}
	s.objs[key(q.resource, q.namespace, q.name)] = o
}

// patch applies a JSON merge patch (RFC 7386); a strategic merge patch is
// applied the same way, which is what it does to the maps and scalars a
// rollout restart and a Secret key change touch.
func (s *Server) patch(w http.ResponseWriter, r *http.Request, q request) {
	old, ok := s.objs[key(q.resource, q.namespace, q.name)]
	if !ok {
		notFound(w, q)
		return
	}
	switch r.Header.Get("Content-Type") {
	case "application/merge-patch+json", "application/strategic-merge-patch+json":
	default:
		status(w, http.StatusUnsupportedMediaType, "UnsupportedMediaType", "the body of the request was in an unknown format", nil)
		return
	}
	p, ok := s.body(w, r, q)
	if !ok {
		return
	}
	b, _ := json.Marshal(old)
	var o object
	_ = json.Unmarshal(b, &o)
	merge(o, p)
	if rv := str(meta(p), "resourceVersion"); rv != "" && rv != str(meta(old), "resourceVersion") {
		status(w, http.StatusConflict, "Conflict", fmt.Sprintf("Operation cannot be fulfilled on %s %q: the object has been modified; please apply your changes to the latest version and try again", q.resource, q.name), details(q))
		return
	}
	s.store(q, o, meta(old))
	write(w, http.StatusOK, o)
}

func merge(dst, patch object) {
	for k, v := range patch {
		if v == nil {
			delete(dst, k)
			continue
		}
		if pv, ok := v.(object); ok {
			dv, ok := dst[k].(object)
			if !ok {
				dv = object{}
				dst[k] = dv
			}
			merge(dv, pv)
			continue
		}
		dst[k] = v
	}
}

// delete honours DeleteOptions' preconditions.uid (and
// resourceVersion): another object under the name is a 409 Conflict.
func (s *Server) delete(w http.ResponseWriter, r *http.Request, q request) {
	k := key(q.resource, q.namespace, q.name)
	o, ok := s.objs[k]
	if !ok {
		notFound(w, q)
		return
	}
	var opts struct {
		Preconditions struct {
			UID             *string `json:"uid"`
			ResourceVersion *string `json:"resourceVersion"`
		} `json:"preconditions"`
	}
	if b, _ := io.ReadAll(r.Body); len(b) > 0 {
		if err := json.Unmarshal(b, &opts); err != nil {
			status(w, http.StatusBadRequest, "BadRequest", "the body of the request was in an unknown format", nil)
			return
		}
	}
	md := meta(o)
	if u := opts.Preconditions.UID; u != nil && *u != str(md, "uid") {
		status(w, http.StatusConflict, "Conflict", fmt.Sprintf("Operation cannot be fulfilled on %s %q: Precondition failed: UID in precondition: %s, UID in object meta: %s", q.resource, q.name, *u, str(md, "uid")), details(q))
		return
	}
	if rv := opts.Preconditions.ResourceVersion; rv != nil && *rv != str(md, "resourceVersion") {
		status(w, http.StatusConflict, "Conflict", fmt.Sprintf("Operation cannot be fulfilled on %s %q: Precondition failed: ResourceVersion in precondition: %s, ResourceVersion in object meta: %s", q.resource, q.name, *rv, str(md, "resourceVersion")), details(q))
		return
	}
	delete(s.objs, k)
	s.rv++
	write(w, http.StatusOK, object{"kind": "Status", "apiVersion": "v1", "metadata": object{}, "status": "Success",
		"details": object{"name": q.name, "group": q.group, "kind": q.resource, "uid": str(md, "uid")}})
}
