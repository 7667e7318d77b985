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
