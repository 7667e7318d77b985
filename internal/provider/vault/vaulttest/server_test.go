package vaulttest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// call makes a raw request as token and returns the status and decoded
// body (nil for 204).
func call(t *testing.T, s *Server, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+"/v1/"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s %s: body %q is not JSON", method, path, b)
		}
	}
	return resp.StatusCode, out
}

func mustToken(t *testing.T, s *Server, as, body string) (id, accessor string) {
	t.Helper()
	code, out := call(t, s, "POST", "auth/token/create", as, body)
	if code != 200 {
		t.Fatalf("create %s: %d %v", body, code, out)
	}
	auth := out["auth"].(map[string]any)
	return auth["client_token"].(string), auth["accessor"].(string)
}

func TestErrorsAndTokenChecks(t *testing.T) {
	s := New()
	defer s.Close()
	code, out := call(t, s, "GET", "auth/token/lookup-self", "hvs.nosuchtoken", "")
	if want := map[string]any{"errors": []any{"1 error occurred:\n\t* permission denied\n\n"}}; code != 403 || !cmp.Equal(out, want) {
		t.Errorf("unknown token: %d %v", code, out)
	}
	if code, _ := call(t, s, "GET", "auth/token/lookup-self", "", ""); code != 403 {
		t.Errorf("no token: %d", code)
	}
	if code, out := call(t, s, "GET", "secret/data/none", s.RootToken(), ""); code != 404 || !cmp.Equal(out, map[string]any{"errors": []any{}}) {
		t.Errorf("missing secret: %d %v, want 404 {\"errors\":[]}", code, out)
	}
	if code, out := call(t, s, "POST", "auth/token/lookup", s.RootToken(), `{"token":"hvs.nosuchtoken"}`); code != 403 || out["errors"].([]any)[0] != "bad token" {
		t.Errorf("lookup of an unknown token: %d %v", code, out)
	}
	if code, out := call(t, s, "POST", "auth/token/revoke-accessor", s.RootToken(), `{"accessor":"nope"}`); code != 400 || out["errors"].([]any)[0] != "invalid accessor" {
		t.Errorf("revoke of an unknown accessor: %d %v", code, out)
	}
	if code, _ := call(t, s, "POST", "auth/token/create", s.RootToken(), `{not json`); code != 400 {
		t.Errorf("malformed body: %d", code)
	}
}

func TestTokenHierarchy(t *testing.T) {
	s := New()
	defer s.Close()
	root := s.RootToken()
	parent, parentAcc := mustToken(t, s, root, `{"display_name":"orders svc!","ttl":"1h"}`)
	child, _ := mustToken(t, s, parent, `{}`)
	orphan, _ := mustToken(t, s, parent, `{"no_parent":true}`)
	code, out := call(t, s, "POST", "auth/token/lookup-accessor", root, `{"accessor":"`+parentAcc+`"}`)
	d := out["data"].(map[string]any)
	if code != 200 || d["id"] != "" || d["display_name"] != "token-orders-svc" || d["orphan"] != false || d["creation_ttl"].(float64) != 3600 {
		t.Errorf("lookup-accessor: %d %v", code, d)
	}
	if _, out := call(t, s, "GET", "auth/token/lookup-self", child, ""); out["data"].(map[string]any)["orphan"] != false {
		t.Errorf("a token's child is not an orphan: %v", out)
	}
	if code, _ := call(t, s, "POST", "auth/token/revoke-accessor", root, `{"accessor":"`+parentAcc+`"}`); code != 204 {
		t.Fatalf("revoke-accessor: %d", code)
	}
	for what, tok := range map[string]string{"the revoked token": parent, "its child": child} {
		if code, _ := call(t, s, "GET", "auth/token/lookup-self", tok, ""); code != 403 {
			t.Errorf("%s: %d, want 403", what, code)
		}
	}
	if code, out := call(t, s, "GET", "auth/token/lookup-self", orphan, ""); code != 200 || out["data"].(map[string]any)["orphan"] != true {
		t.Errorf("an orphan it created, after its revocation: %d %v", code, out)
	}
	// revoke-orphan keeps the children, as orphans.
	p2, _ := mustToken(t, s, root, `{}`)
	c2, _ := mustToken(t, s, p2, `{}`)
	if code, _ := call(t, s, "POST", "auth/token/revoke-orphan", root, `{"token":"`+p2+`"}`); code != 204 {
		t.Fatal(code)
	}
	if code, out := call(t, s, "GET", "auth/token/lookup-self", c2, ""); code != 200 || out["data"].(map[string]any)["orphan"] != true {
		t.Errorf("child after revoke-orphan: %d %v", code, out)
	}
}

func TestACL(t *testing.T) {
	s := New()
	defer s.Close()
	root := s.RootToken()
	if code, _ := call(t, s, "PUT", "sys/policies/acl/ops", root, `{"policy":"path \"auth/token/*\" { capabilities = [\"update\", \"list\"] }\npath \"auth/token/revoke-accessor\" { capabilities = [\"deny\"] }"}`); code != 204 {
		t.Fatal(code)
	}
	ops, _ := mustToken(t, s, root, `{"policies":["ops"]}`)
	_, acc := mustToken(t, s, root, `{}`)
	if code, _ := call(t, s, "POST", "auth/token/lookup-accessor", ops, `{"accessor":"`+acc+`"}`); code != 200 {
		t.Errorf("glob grant: %d", code)
	}
	if code, _ := call(t, s, "POST", "auth/token/revoke-accessor", ops, `{"accessor":"`+acc+`"}`); code != 403 {
		t.Errorf("exact-path deny: %d, want 403", code)
	}
	if code, _ := call(t, s, "GET", "auth/token/accessors?list=true", ops, ""); code != 403 {
		t.Errorf("list of accessors without sudo: %d, want 403", code)
	}
	if code, out := call(t, s, "LIST", "auth/token/accessors", root, ""); code != 200 || len(out["data"].(map[string]any)["keys"].([]any)) != 3 {
		t.Errorf("LIST accessors: %d %v", code, out)
	}
	if code, out := call(t, s, "POST", "auth/token/create", ops, `{"policies":["admin"]}`); code != 400 || !strings.Contains(out["errors"].([]any)[0].(string), "subset") {
		t.Errorf("a child with policies its parent lacks: %d %v", code, out)
	}
	if code, _ := call(t, s, "GET", "secret/data/x", ops, ""); code != 403 {
		t.Errorf("a path no rule covers: %d", code)
	}
}

func TestKVCheckAndSet(t *testing.T) {
	s := New()
	defer s.Close()
	root := s.RootToken()
	if code, _ := call(t, s, "POST", "secret/data/app", root, `{"options":{"cas":1},"data":{"a":"1"}}`); code != 400 {
		t.Errorf("cas 1 on a missing secret: %d", code)
	}
	if code, out := call(t, s, "POST", "secret/data/app", root, `{"options":{"cas":0},"data":{"a":"1"}}`); code != 200 || out["data"].(map[string]any)["version"].(float64) != 1 {
		t.Errorf("cas 0 on a missing secret: %d %v", code, out)
	}
	code, out := call(t, s, "POST", "secret/data/app", root, `{"options":{"cas":0},"data":{"a":"2"}}`)
	if code != 400 || out["errors"].([]any)[0] != "check-and-set parameter did not match the current version" {
		t.Errorf("stale cas: %d %v", code, out)
	}
	call(t, s, "POST", "secret/data/app", root, `{"data":{"a":"2"}}`)
	if _, out := call(t, s, "GET", "secret/data/app?version=1", root, ""); out["data"].(map[string]any)["data"].(map[string]any)["a"] != "1" {
		t.Errorf("version 1: %v", out)
	}
	if _, out := call(t, s, "GET", "secret/metadata/app", root, ""); out["data"].(map[string]any)["current_version"].(float64) != 2 {
		t.Errorf("metadata: %v", out)
	}
}

func TestLeases(t *testing.T) {
	s := New()
	defer s.Close()
	root := s.RootToken()
	tok, acc := mustToken(t, s, root, `{}`)
	other, _ := mustToken(t, s, root, `{"policies":["default"]}`)
	mine, ok := s.IssueLease(tok, "database/creds/orders", time.Hour)
	theirs, ok2 := s.IssueLease(other, "database/creds/orders", time.Hour)
	if !ok || !ok2 {
		t.Fatal("IssueLease")
	}
	if code, out := call(t, s, "PUT", "sys/leases/lookup", root, `{"lease_id":"`+mine+`"}`); code != 200 || out["data"].(map[string]any)["id"] != mine {
		t.Errorf("lookup: %d %v", code, out)
	}
	if code, out := call(t, s, "LIST", "sys/leases/lookup/database/creds", root, ""); code != 200 || !cmp.Equal(out["data"].(map[string]any)["keys"], []any{"orders/"}) {
		t.Errorf("list: %d %v", code, out)
	}
	// Revoking a token revokes the leases it created, and only those.
	call(t, s, "POST", "auth/token/revoke-accessor", root, `{"accessor":"`+acc+`"}`)
	if code, out := call(t, s, "PUT", "sys/leases/lookup", root, `{"lease_id":"`+mine+`"}`); code != 400 || out["errors"].([]any)[0] != "invalid lease" {
		t.Errorf("a revoked token's lease: %d %v", code, out)
	}
	if code, _ := call(t, s, "PUT", "sys/leases/lookup", root, `{"lease_id":"`+theirs+`"}`); code != 200 {
		t.Errorf("another token's lease: %d", code)
	}
	if code, _ := call(t, s, "PUT", "sys/leases/revoke-prefix/database/creds/orders", other, ""); code != 403 {
		t.Errorf("revoke-prefix without sudo: %d, want 403", code)
	}
	if code, _ := call(t, s, "PUT", "sys/leases/revoke-prefix/database/creds/orders", root, ""); code != 204 {
		t.Errorf("revoke-prefix: %d", code)
	}
	if code, _ := call(t, s, "PUT", "sys/leases/lookup", root, `{"lease_id":"`+theirs+`"}`); code != 400 {
		t.Errorf("a lease after revoke-prefix: %d", code)
	}
}
