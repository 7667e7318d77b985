package gitlabtest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

func call(t *testing.T, s *Server, method, path, token string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL+path, nil)
	req.Header.Set("PRIVATE-TOKEN", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if strings.HasPrefix(path, "/api/v4/personal_access_tokens?") || resp.StatusCode == http.StatusNoContent {
		return resp, nil
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp, body
}

// The documented answers: 401 for a revoked token, insufficient_scope for
// a read_api token writing, 404 message for an unknown id, and offset
// pagination headers on lists.
func TestDocumentedAnswers(t *testing.T) {
	s := New()
	defer s.Close()
	root := s.RootToken()
	u := s.CreateUser("alice", false)
	var ids []int64
	for i := 0; i < 3; i++ {
		tok, _ := s.CreateToken(u.ID, "t"+strconv.Itoa(i), []string{"read_api"}, "")
		ids = append(ids, tok.ID)
	}
	_, v := s.CreateToken(u.ID, "reader", []string{"read_api"}, "")

	resp, body := call(t, s, http.MethodDelete, "/api/v4/personal_access_tokens/"+strconv.FormatInt(ids[0], 10), v)
	if resp.StatusCode != http.StatusForbidden || body["error"] != "insufficient_scope" || body["scope"] != "api" {
		t.Errorf("DELETE with read_api: %d %v", resp.StatusCode, body)
	}
	resp, body = call(t, s, http.MethodGet, "/api/v4/personal_access_tokens/999999", root)
	if resp.StatusCode != http.StatusNotFound || body["message"] != "404 Not Found" {
		t.Errorf("GET unknown token: %d %v", resp.StatusCode, body)
	}
	resp, _ = call(t, s, http.MethodGet, "/api/v4/personal_access_tokens?user_id="+strconv.FormatInt(u.ID, 10)+"&per_page=2", root)
	if resp.Header.Get("x-total") != "4" || resp.Header.Get("x-next-page") != "2" || !strings.Contains(resp.Header.Get("Link"), `rel="next"`) {
		t.Errorf("page 1 headers: %v", resp.Header)
	}
	resp, _ = call(t, s, http.MethodGet, "/api/v4/personal_access_tokens?user_id="+strconv.FormatInt(u.ID, 10)+"&per_page=2&page=2", root)
	if resp.Header.Get("x-next-page") != "" || strings.Contains(resp.Header.Get("Link"), `rel="next"`) {
		t.Errorf("last page headers: %v", resp.Header)
	}
	for _, tok := range s.Tokens(u.ID) {
		if tok.Name == "reader" {
			if resp, _ := call(t, s, http.MethodDelete, "/api/v4/personal_access_tokens/"+strconv.FormatInt(tok.ID, 10), root); resp.StatusCode != http.StatusNoContent {
				t.Errorf("revoke: %d", resp.StatusCode)
			}
		}
	}
	resp, body = call(t, s, http.MethodGet, "/api/v4/user", v)
	if resp.StatusCode != http.StatusUnauthorized || body["message"] != "401 Unauthorized" {
		t.Errorf("a revoked token: %d %v", resp.StatusCode, body)
	}
	s.Throttle(1)
	if resp, _ := call(t, s, http.MethodGet, "/api/v4/user", root); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("throttled: %d %v", resp.StatusCode, resp.Header)
	}
}

// Project access tokens: listed to the project's maintainers (404 to
// others), rotated (old token refused at once), revoked once (then 404).
func TestProjectAccessTokens(t *testing.T) {
	s := New()
	defer s.Close()
	maint := s.CreateUser("maint", false)
	_, mv := s.CreateToken(maint.ID, "m", []string{"api"}, "")
	other := s.CreateUser("other", false)
	_, ov := s.CreateToken(other.ID, "o", []string{"api"}, "")
	p := s.CreateProject("acme/api", maint.ID)
	tok, tv := s.CreateResourceToken(p.ID, "deploy", []string{"read_api"}, 30, "")
	base := "/api/v4/projects/" + strconv.FormatInt(p.ID, 10) + "/access_tokens"
	if resp, _ := call(t, s, http.MethodGet, base+"/"+strconv.FormatInt(tok.ID, 10), ov); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a non-member reads the project's token: %d", resp.StatusCode)
	}
	resp, body := call(t, s, http.MethodGet, base+"/"+strconv.FormatInt(tok.ID, 10), mv)
	if resp.StatusCode != http.StatusOK || body["access_level"] != float64(30) {
		t.Errorf("GET token: %d %v", resp.StatusCode, body)
	}
	resp, body = call(t, s, http.MethodPost, base+"/"+strconv.FormatInt(tok.ID, 10)+"/rotate", mv)
	if resp.StatusCode != http.StatusOK || body["token"] == nil || body["expires_at"] == nil {
		t.Fatalf("rotate: %d %v", resp.StatusCode, body)
	}
	if resp, _ := call(t, s, http.MethodGet, "/api/v4/user", tv); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the rotated-away token: %d, want 401", resp.StatusCode)
	}
	newID := strconv.FormatInt(int64(body["id"].(float64)), 10)
	if resp, _ := call(t, s, http.MethodDelete, base+"/"+newID, mv); resp.StatusCode != http.StatusNoContent {
		t.Errorf("revoke: %d", resp.StatusCode)
	}
	if resp, _ := call(t, s, http.MethodDelete, base+"/"+newID, mv); resp.StatusCode != http.StatusNotFound {
		t.Errorf("revoke twice: %d, want 404", resp.StatusCode)
	}
}
