package k8stest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
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
