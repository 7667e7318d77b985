package k8stest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Issuer is the iss claim of the tokens the server signs, and APIAudience
// the audience it accepts on requests and defaults tokens to, as an API
// server started with --service-account-issuer and --api-audiences.
const (
	Issuer      = "https://kubernetes.default.svc.cluster.local"
	APIAudience = Issuer
)

// legacyIssuer is the iss claim of legacy token Secrets' tokens.
const legacyIssuer = "kubernetes/serviceaccount"

// Extra keys the API server sets on a pod-bound token's user.
const (
	ExtraPodName = "authentication.kubernetes.io/pod-name"
	ExtraPodUID  = "authentication.kubernetes.io/pod-uid"
)

// signer is the server's service-account signing key: ES256, one of the
// algorithms --service-account-signing-key-file accepts.
type signer struct{ key *ecdsa.PrivateKey }

func newSigner() signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return signer{k}
}

var b64 = base64.RawURLEncoding

func (g signer) sign(claims object) string {
	h, _ := json.Marshal(object{"alg": "ES256", "kid": "k8stest"})
	c, _ := json.Marshal(claims)
	in := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	sum := sha256.Sum256([]byte(in))
	r, s, err := ecdsa.Sign(rand.Reader, g.key, sum[:])
	if err != nil {
		panic(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return in + "." + b64.EncodeToString(sig)
}

// verify checks tok's ES256 signature and returns its claims.
func (g signer) verify(tok string) (object, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, false
	}
	var h object
	hb, err1 := b64.DecodeString(parts[0])
	cb, err2 := b64.DecodeString(parts[1])
	sig, err3 := b64.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || json.Unmarshal(hb, &h) != nil || str(h, "alg") != "ES256" || len(sig) != 64 {
		return nil, false
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(&g.key.PublicKey, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return nil, false
	}
	var c object
	if json.Unmarshal(cb, &c) != nil {
		return nil, false
	}
	return c, true
}

// Advance moves the server's clock, by which tokens expire, forward by d.
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.skew += d
}

func (s *Server) now() time.Time { return time.Now().Add(s.skew) }

// tokenRequest serves POST …/serviceaccounts/NAME/token (TokenRequest,
// authentication.k8s.io/v1): a token for the service account, for
// spec.audiences (the API server's when empty), valid
// spec.expirationSeconds (3600 when unset, at least 600), bound to
// spec.boundObjectRef (a Pod running as the account, or a Secret) when
// given. The response is the TokenRequest with status.token and
// status.expirationTimestamp.
func (s *Server) tokenRequest(w http.ResponseWriter, r *http.Request, q request) {
	var tr object
	if err := json.NewDecoder(r.Body).Decode(&tr); err != nil {
		status(w, http.StatusBadRequest, "BadRequest", "the body of the request was in an unknown format", nil)
		return
	}
	sa, ok := s.objs[key("serviceaccounts", q.namespace, q.name)]
	if !ok {
		notFound(w, q)
		return
	}
	spec, _ := tr["spec"].(object)
	exp := int64(3600)
	if v, ok := spec["expirationSeconds"].(float64); ok {
		exp = int64(v)
	}
	if exp < 600 {
		status(w, http.StatusUnprocessableEntity, "Invalid", "TokenRequest.authentication.k8s.io \""+q.name+"\" is invalid: spec.expirationSeconds: Invalid value: "+fmt.Sprint(exp)+": may not specify a duration less than 10 minutes", details(q))
		return
	}
	var aud []any
	if l, ok := spec["audiences"].([]any); ok && len(l) > 0 {
		aud = l
	} else {
		aud = []any{APIAudience}
	}
	now := s.now()
	ki := object{"namespace": q.namespace, "serviceaccount": object{"name": q.name, "uid": str(meta(sa), "uid")}}
	if ref, ok := spec["boundObjectRef"].(object); ok {
		kind, name, uid := str(ref, "kind"), str(ref, "name"), str(ref, "uid")
		res := map[string]string{"Pod": "pods", "Secret": "secrets"}[kind]
		if res == "" {
			status(w, http.StatusBadRequest, "BadRequest", "cannot bind token to object of type "+kind, nil)
			return
		}
		o, ok := s.objs[key(res, q.namespace, name)]
		if !ok {
			status(w, http.StatusNotFound, "NotFound", fmt.Sprintf("%s %q not found", res, name), object{"name": name, "kind": res})
			return
		}
		if uid != "" && uid != str(meta(o), "uid") {
			status(w, http.StatusConflict, "Conflict", fmt.Sprintf("the UID in the bound object reference (%s) does not match the UID in record. The object might have been deleted and then recreated", uid), nil)
			return
		}
		if kind == "Pod" {
			spec, _ := o["spec"].(object)
			if got := str(spec, "serviceAccountName"); got != q.name {
				status(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("cannot bind token for serviceaccount %q to pod running with different serviceaccount name.", q.name), nil)
				return
			}
		}
		ki[strings.ToLower(kind)] = object{"name": name, "uid": str(meta(o), "uid")}
	}
	claims := object{"iss": Issuer, "sub": "system:serviceaccount:" + q.namespace + ":" + q.name, "aud": aud,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Unix() + exp, "jti": uuid(), "kubernetes.io": ki}
	tr["apiVersion"], tr["kind"] = "authentication.k8s.io/v1", "TokenRequest"
	tr["status"] = object{"token": s.key.sign(claims), "expirationTimestamp": time.Unix(now.Unix()+exp, 0).UTC().Format(time.RFC3339)}
	write(w, http.StatusCreated, tr)
}

// user is who a token authenticates as, in a TokenReview's status.user
// shape.
type user struct {
	name, uid string
	groups    []string
	extra     map[string][]string
}

func saUser(ns, name, uid string) user {
	return user{name: "system:serviceaccount:" + ns + ":" + name, uid: uid,
		groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}}
}

// review authenticates a service-account token for one of audiences as
// the API server's service-account authenticator does: a legacy token
// while its Secret and service account exist; a bound token when its
// signature is the server's, it has not expired, one of its audiences is
// asked for, its service account exists with the uid it names, and the
// object it is bound to (pod or secret) exists with the uid it names. It
// returns the audiences that matched.
func (s *Server) review(tok string, audiences []string) (user, []string, string) {
	if ref, ok := s.tokens[tok]; ok {
		ns, name, _ := strings.Cut(ref, "/")
		sec, ok := s.objs[key("secrets", ns, name)]
		if !ok {
			return user{}, nil, "token has been invalidated"
		}
		sa, ok := s.objs[key("serviceaccounts", ns, annotation(sec, SANameAnnotation))]
		c, _ := s.key.verify(tok)
		if !ok || str(meta(sa), "uid") != str(c, "kubernetes.io/serviceaccount/service-account.uid") {
			return user{}, nil, "service account has been deleted or recreated"
		}
		return saUser(ns, annotation(sec, SANameAnnotation), str(meta(sa), "uid")), audiences, ""
	}
	c, ok := s.key.verify(tok)
	if !ok || str(c, "iss") != Issuer {
		return user{}, nil, "invalid bearer token"
	}
	if exp, _ := c["exp"].(float64); s.now().Unix() >= int64(exp) {
		return user{}, nil, "service account token has expired"
	}
	var matched []string
	tokAud, _ := c["aud"].([]any)
	for _, a := range audiences {
		if slices.Contains(tokAud, any(a)) {
			matched = append(matched, a)
		}
	}
	if len(matched) == 0 {
		return user{}, nil, "token audiences " + fmt.Sprint(tokAud) + " is invalid for the target audiences " + fmt.Sprint(audiences)
	}
	ki, _ := c["kubernetes.io"].(object)
	ns := str(ki, "namespace")
	ref, _ := ki["serviceaccount"].(object)
	sa, ok := s.objs[key("serviceaccounts", ns, str(ref, "name"))]
	if !ok || str(meta(sa), "uid") != str(ref, "uid") {
		return user{}, nil, "service account " + ns + "/" + str(ref, "name") + " has been deleted or recreated"
	}
	u := saUser(ns, str(ref, "name"), str(ref, "uid"))
	for _, kind := range []string{"pod", "secret"} {
		b, ok := ki[kind].(object)
		if !ok {
			continue
		}
		o, ok := s.objs[key(kind+"s", ns, str(b, "name"))]
		if !ok || str(meta(o), "uid") != str(b, "uid") {
			return user{}, nil, kind + " " + ns + "/" + str(b, "name") + " the token is bound to has been deleted"
		}
		if kind == "pod" {
			u.extra = map[string][]string{ExtraPodName: {str(b, "name")}, ExtraPodUID: {str(b, "uid")}}
		}
	}
	return u, matched, ""
}

// tokenReview serves POST /apis/authentication.k8s.io/v1/tokenreviews:
// spec.token is reviewed for spec.audiences (the API server's when empty)
// and the answer is the TokenReview with status.authenticated, user
// (username, uid, groups, extra), audiences and error. Nothing is kept.
func (s *Server) tokenReview(w http.ResponseWriter, r *http.Request) {
	s.reviews++
	var tr object
	if err := json.NewDecoder(r.Body).Decode(&tr); err != nil {
		status(w, http.StatusBadRequest, "BadRequest", "the body of the request was in an unknown format", nil)
		return
	}
	spec, _ := tr["spec"].(object)
	var aud []string
	l, _ := spec["audiences"].([]any)
	for _, a := range l {
		if v, ok := a.(string); ok {
			aud = append(aud, v)
		}
	}
	if len(aud) == 0 {
		aud = []string{APIAudience}
	}
	st := object{"authenticated": false}
	if tok := str(spec, "token"); tok == "" {
		st["error"] = "token is required"
	} else if u, matched, why := s.review(tok, aud); why != "" {
		st["error"] = "[invalid bearer token, " + why + "]"
	} else {
		ju := object{"username": u.name, "uid": u.uid, "groups": u.groups}
		if u.extra != nil {
			ju["extra"] = u.extra
		}
		st = object{"authenticated": true, "user": ju, "audiences": matched}
	}
	tr["apiVersion"], tr["kind"], tr["status"] = "authentication.k8s.io/v1", "TokenReview", st
	write(w, http.StatusCreated, tr)
}

// BoundUses counts the requests authenticated by a bound token whose jti
// claim is jti, refused ones included (a TokenReview of it is made with
// another user's token, so it does not count).
func (s *Server) BoundUses(jti string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used[jti]
}

// Reviews counts the TokenReviews the server answered.
func (s *Server) Reviews() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reviews
}
