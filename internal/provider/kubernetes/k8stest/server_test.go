package k8stest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func do(t *testing.T, s *Server, token, method, path, ctype, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: body is not JSON: %v", method, path, err)
	}
	return resp.StatusCode, out
}

const js = "application/json"

// wantStatus checks a Status object as the API reference shapes it.
func wantStatus(t *testing.T, code int, body map[string]any, wantCode int, reason string) {
	t.Helper()
	if code != wantCode || body["kind"] != "Status" || body["status"] != "Failure" || body["reason"] != reason || body["code"] != float64(wantCode) {
		t.Errorf("got %d %v, want a Status %d %s", code, body, wantCode, reason)
	}
}

func TestStatusErrors(t *testing.T) {
	s := New()
	defer s.Close()
	root := s.RootToken()
	code, body := do(t, s, "", "GET", "/api/v1/namespaces/default/secrets", "", "")
	wantStatus(t, code, body, 401, "Unauthorized")
	code, body = do(t, s, root, "GET", "/api/v1/namespaces/default/secrets/nope", "", "")
	wantStatus(t, code, body, 404, "NotFound")
	sa := `{"metadata":{"name":"app"}}`
	if code, _ := do(t, s, root, "POST", "/api/v1/namespaces/default/serviceaccounts", js, sa); code != 201 {
		t.Fatalf("create: %d", code)
	}
	code, body = do(t, s, root, "POST", "/api/v1/namespaces/default/serviceaccounts", js, sa)
	wantStatus(t, code, body, 409, "AlreadyExists")
	_, got := do(t, s, root, "GET", "/api/v1/namespaces/default/serviceaccounts/app", "", "")
	md := got["metadata"].(map[string]any)
	if md["resourceVersion"] == "" || md["uid"] == "" || got["kind"] != "ServiceAccount" || got["apiVersion"] != "v1" {
		t.Errorf("stored object %v lacks its kind or metadata", got)
	}
	code, body = do(t, s, root, "PUT", "/api/v1/namespaces/default/serviceaccounts/app", js, `{"metadata":{"name":"app","resourceVersion":"999"}}`)
	wantStatus(t, code, body, 409, "Conflict")
	user := s.AddUser("alice")
	code, body = do(t, s, user, "DELETE", "/api/v1/namespaces/default/serviceaccounts/app", "", "")
	wantStatus(t, code, body, 403, "Forbidden")
	if msg, _ := body["message"].(string); !strings.Contains(msg, `User "alice" cannot delete resource "serviceaccounts"`) {
		t.Errorf("forbidden message %q does not say who cannot do what", msg)
	}
}

// A token Secret is filled as the token controller does, its token
// authenticates as the service account under RBAC, and stops when the
// Secret is deleted.
func TestServiceAccountToken(t *testing.T) {
	s := New()
	defer s.Close()
	root := s.RootToken()
	do(t, s, root, "POST", "/api/v1/namespaces/ns1/serviceaccounts", js, `{"metadata":{"name":"app"}}`)
	code, sec := do(t, s, root, "POST", "/api/v1/namespaces/ns1/secrets", js,
		`{"metadata":{"name":"app-token","annotations":{"kubernetes.io/service-account.name":"app"}},"type":"kubernetes.io/service-account-token"}`)
	if code != 201 {
		t.Fatalf("create token secret: %d %v", code, sec)
	}
	raw, _ := base64.StdEncoding.DecodeString(sec["data"].(map[string]any)["token"].(string))
	tok := string(raw)
	if strings.Count(tok, ".") != 2 {
		t.Fatalf("token %q is not a JWT", tok)
	}
	code, body := do(t, s, tok, "GET", "/api/v1/namespaces/ns1/configmaps/x", "", "")
	wantStatus(t, code, body, 403, "Forbidden")
	do(t, s, root, "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/ns1/roles", js,
		`{"metadata":{"name":"r"},"rules":[{"apiGroups":[""],"resources":["configmaps"],"verbs":["get"]}]}`)
	do(t, s, root, "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/ns1/rolebindings", js,
		`{"metadata":{"name":"r"},"subjects":[{"kind":"ServiceAccount","name":"app","namespace":"ns1"}],"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"r"}}`)
	code, body = do(t, s, tok, "GET", "/api/v1/namespaces/ns1/configmaps/x", "", "")
	wantStatus(t, code, body, 404, "NotFound")
	code, body = do(t, s, tok, "GET", "/api/v1/namespaces/other/configmaps/x", "", "")
	wantStatus(t, code, body, 403, "Forbidden")
	do(t, s, root, "DELETE", "/api/v1/namespaces/ns1/secrets/app-token", "", "")
	code, body = do(t, s, tok, "GET", "/api/v1/namespaces/ns1/configmaps/x", "", "")
	wantStatus(t, code, body, 401, "Unauthorized")
	if n := s.Signed("app-token"); n != 4 {
		t.Errorf("Signed = %d, want the 4 requests made with the token", n)
	}
	code, body = do(t, s, root, "POST", "/api/v1/namespaces/ns1/secrets", js,
		`{"metadata":{"name":"t2","annotations":{"kubernetes.io/service-account.name":"ghost"}},"type":"kubernetes.io/service-account-token"}`)
	wantStatus(t, code, body, 422, "Invalid")
}

// A rollout restart (the annotation kubectl patches in) bumps the
// generation and the status reports it rolled out.
func TestDeploymentRollout(t *testing.T) {
	s := New()
	defer s.Close()
	root := s.RootToken()
	do(t, s, root, "POST", "/apis/apps/v1/namespaces/default/deployments", js, `{"metadata":{"name":"web"},"spec":{"replicas":2}}`)
	code, d := do(t, s, root, "PATCH", "/apis/apps/v1/namespaces/default/deployments/web", "application/strategic-merge-patch+json",
		`{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2026-01-01T00:00:00Z"}}}}}`)
	if code != 200 {
		t.Fatalf("patch: %d %v", code, d)
	}
	md, st := d["metadata"].(map[string]any), d["status"].(map[string]any)
	if md["generation"] != float64(2) || st["observedGeneration"] != float64(2) || st["updatedReplicas"] != float64(2) || st["availableReplicas"] != float64(2) {
		t.Errorf("after a restart: generation %v, status %v; want generation 2 observed, 2 replicas updated and available", md["generation"], st)
	}
}

func post(t *testing.T, s *Server, token, path, body string) map[string]any {
	t.Helper()
	code, out := do(t, s, token, "POST", path, js, body)
	if code != 201 {
		t.Fatalf("POST %s: %d %v", path, code, out)
	}
	return out
}

func uidOf(o map[string]any) string { return o["metadata"].(map[string]any)["uid"].(string) }

// reviewed is a TokenReview's status for tok (the API server's audience).
func reviewed(t *testing.T, s *Server, tok string) map[string]any {
	t.Helper()
	out := post(t, s, s.RootToken(), "/apis/authentication.k8s.io/v1/tokenreviews", `{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"`+tok+`"}}`)
	return out["status"].(map[string]any)
}

// A token from TokenRequest bound to a pod authenticates as the service
// account, TokenReview names the pod in extra, and both stop once the pod
// is deleted; an account-only token stops when the account is recreated,
// and an expired one is refused.
func TestBoundTokens(t *testing.T) {
	s := New()
	defer s.Close()
	root := s.RootToken()
	sa := post(t, s, root, "/api/v1/namespaces/ns1/serviceaccounts", `{"metadata":{"name":"app"}}`)
	pod := post(t, s, root, "/api/v1/namespaces/ns1/pods", `{"metadata":{"name":"web-1"},"spec":{"serviceAccountName":"app"}}`)
	tr := post(t, s, root, "/api/v1/namespaces/ns1/serviceaccounts/app/token",
		`{"spec":{"boundObjectRef":{"kind":"Pod","apiVersion":"v1","name":"web-1","uid":"`+uidOf(pod)+`"}}}`)
	tok := tr["status"].(map[string]any)["token"].(string)
	st := reviewed(t, s, tok)
	u, _ := st["user"].(map[string]any)
	extra, _ := u["extra"].(map[string]any)
	if st["authenticated"] != true || u["username"] != "system:serviceaccount:ns1:app" || u["uid"] != uidOf(sa) ||
		fmt.Sprint(extra[ExtraPodName]) != "[web-1]" || fmt.Sprint(extra[ExtraPodUID]) != "["+uidOf(pod)+"]" {
		t.Fatalf("TokenReview status = %v; want the account, its uid and the pod", st)
	}
	code, body := do(t, s, tok, "GET", "/api/v1/namespaces/ns1/configmaps/x", "", "")
	wantStatus(t, code, body, 403, "Forbidden")
	claims := strings.Split(tok, ".")[1]
	raw, _ := base64.RawURLEncoding.DecodeString(claims)
	var c map[string]any
	_ = json.Unmarshal(raw, &c)
	if n := s.BoundUses(c["jti"].(string)); n != 1 {
		t.Errorf("BoundUses = %d, want the one request made with the token (reviews do not count)", n)
	}
	do(t, s, root, "DELETE", "/api/v1/namespaces/ns1/pods/web-1", "", "")
	if st := reviewed(t, s, tok); st["authenticated"] != false || !strings.Contains(fmt.Sprint(st["error"]), "pod ns1/web-1") {
		t.Errorf("after the pod is deleted: %v, want unauthenticated naming the pod", st)
	}
	code, body = do(t, s, tok, "GET", "/api/v1/namespaces/ns1/configmaps/x", "", "")
	wantStatus(t, code, body, 401, "Unauthorized")

	plain := post(t, s, root, "/api/v1/namespaces/ns1/serviceaccounts/app/token", `{"spec":{"audiences":["vault"],"expirationSeconds":600}}`)["status"].(map[string]any)["token"].(string)
	if st := reviewed(t, s, plain); st["authenticated"] != false {
		t.Errorf("a token for vault reviewed for the API server's audience: %v, want unauthenticated", st)
	}
	vault := post(t, s, root, "/apis/authentication.k8s.io/v1/tokenreviews", `{"spec":{"audiences":["vault"],"token":"`+plain+`"}}`)["status"].(map[string]any)
	if vault["authenticated"] != true || fmt.Sprint(vault["audiences"]) != "[vault]" {
		t.Errorf("reviewed for vault: %v, want authenticated for vault", vault)
	}
	s.Advance(601 * time.Second)
	if st := reviewed(t, s, plain); st["authenticated"] != false {
		t.Errorf("an expired token: %v, want unauthenticated", st)
	}
	other := post(t, s, root, "/api/v1/namespaces/ns1/serviceaccounts/app/token", `{"spec":{}}`)["status"].(map[string]any)["token"].(string)
	do(t, s, root, "DELETE", "/api/v1/namespaces/ns1/serviceaccounts/app", "", "")
	post(t, s, root, "/api/v1/namespaces/ns1/serviceaccounts", `{"metadata":{"name":"app"}}`)
	if st := reviewed(t, s, other); st["authenticated"] != false {
		t.Errorf("a token of a recreated account: %v, want unauthenticated", st)
	}
	code, body = do(t, s, root, "POST", "/api/v1/namespaces/ns1/serviceaccounts/app/token", js, `{"spec":{"expirationSeconds":60}}`)
	wantStatus(t, code, body, 422, "Invalid")
	post(t, s, root, "/api/v1/namespaces/ns1/pods", `{"metadata":{"name":"other"},"spec":{"serviceAccountName":"default"}}`)
	code, body = do(t, s, root, "POST", "/api/v1/namespaces/ns1/serviceaccounts/app/token", js, `{"spec":{"boundObjectRef":{"kind":"Pod","name":"other"}}}`)
	wantStatus(t, code, body, 400, "BadRequest")
	user := s.AddUser("bob")
	code, body = do(t, s, user, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", js, `{"spec":{"token":"x"}}`)
	wantStatus(t, code, body, 403, "Forbidden")
}

// A list with limit, or under a page cap, returns a page and a continue
// token; following it yields every item once.
func TestListPages(t *testing.T) {
	s := New()
	defer s.Close()
	root := s.RootToken()
	for i := range 5 {
		post(t, s, root, "/api/v1/namespaces/ns1/configmaps", fmt.Sprintf(`{"metadata":{"name":"c%d"}}`, i))
	}
	s.SetPageCap(2)
	var names []string
	path := "/api/v1/namespaces/ns1/configmaps?limit=500"
	for pages := 0; ; pages++ {
		code, l := do(t, s, root, "GET", path, "", "")
		if code != 200 || pages > 5 {
			t.Fatalf("list: %d %v", code, l)
		}
		for _, it := range l["items"].([]any) {
			names = append(names, it.(map[string]any)["metadata"].(map[string]any)["name"].(string))
		}
		c, _ := l["metadata"].(map[string]any)["continue"].(string)
		if c == "" {
			break
		}
		path = "/api/v1/namespaces/ns1/configmaps?limit=500&continue=" + c
	}
	if fmt.Sprint(names) != "[c0 c1 c2 c3 c4]" {
		t.Errorf("pages held %v, want c0…c4 once each", names)
	}
	code, body := do(t, s, root, "GET", "/api/v1/namespaces/ns1/configmaps?continue=bogus", "", "")
	wantStatus(t, code, body, 400, "BadRequest")
	_, l := do(t, s, root, "GET", "/api/v1/namespaces/ns1/configmaps?limit=1", "", "")
	s.ExpireContinue()
	code, body = do(t, s, root, "GET", "/api/v1/namespaces/ns1/configmaps?limit=1&continue="+l["metadata"].(map[string]any)["continue"].(string), "", "")
	wantStatus(t, code, body, 410, "Expired")
}

// A delete whose preconditions.uid is another object's is a 409 Conflict
// and deletes nothing.
func TestDeletePreconditions(t *testing.T) {
	s := New()
	defer s.Close()
	root := s.RootToken()
	sa := post(t, s, root, "/api/v1/namespaces/ns1/serviceaccounts", `{"metadata":{"name":"app"}}`)
	code, body := do(t, s, root, "DELETE", "/api/v1/namespaces/ns1/serviceaccounts/app", js, `{"preconditions":{"uid":"not-its-uid"}}`)
	wantStatus(t, code, body, 409, "Conflict")
	if code, _ := do(t, s, root, "GET", "/api/v1/namespaces/ns1/serviceaccounts/app", "", ""); code != 200 {
		t.Fatalf("the account is gone after a refused delete: %d", code)
	}
	if code, body := do(t, s, root, "DELETE", "/api/v1/namespaces/ns1/serviceaccounts/app", js, `{"preconditions":{"uid":"`+uidOf(sa)+`"}}`); code != 200 {
		t.Errorf("delete with its uid: %d %v", code, body)
	}
}
