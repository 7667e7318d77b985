package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/auth"
)

// tokens is an Authenticator over a fixed table, for the middleware's own
// tests; the server's API tests authenticate with real tokens (package
// token) over a real store.
type tokens map[string]auth.Principal

func (t tokens) Authenticate(_ context.Context, bearer string) (auth.Principal, error) {
	if p, ok := t[bearer]; ok {
		return p, nil
	}
	return auth.Principal{}, auth.ErrUnauthenticated
}

func newTestServer(t *testing.T) (*Server, *bytes.Buffer) {
	t.Helper()
	var log bytes.Buffer
	s := New(Config{Version: "test", Log: &log, Auth: tokens{
		"tok-viewer": {Name: "vera", Role: auth.Viewer, Via: "token"},
		"tok-admin":  {Name: "ada", Role: auth.Admin, Via: "token"},
	}})
	s.handle("POST", "/api/v1/test/manage", auth.Manage, "test route", func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		var body struct {
			Name string `json:"name"`
		}
		if err := decode(r, &body); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]string{"actor": p.Name, "name": body.Name})
		return nil
	})
	return s, &log
}

func do(t *testing.T, h http.Handler, method, path, token, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func errorOf(t *testing.T, rec *httptest.ResponseRecorder) envelopeBody {
	t.Helper()
	var e envelope
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
		t.Fatalf("error body %q is not the envelope: %v", rec.Body.String(), err)
	}
	return e.Error
}

func TestHealthIsPublicAndVersioned(t *testing.T) {
	s, _ := newTestServer(t)
	rec := do(t, s.Handler(), "GET", "/api/v1/health", "", "")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"version":"test"`) {
		t.Fatalf("health = %d %s", rec.Code, rec.Body)
	}
}

func TestAuthenticationAndRoles(t *testing.T) {
	s, log := newTestServer(t)
	h := s.Handler()
	cases := []struct {
		name, token string
		status      int
		kind        string
	}{
		{"no token", "", 401, "unauthorized"},
		{"unknown token", "tok-nobody", 401, "unauthorized"},
		{"viewer cannot manage", "tok-viewer", 403, "forbidden"},
	}
	for _, c := range cases {
		rec := do(t, h, "POST", "/api/v1/test/manage", c.token, `{"name":"x"}`)
		if rec.Code != c.status || errorOf(t, rec).Kind != c.kind {
			t.Errorf("%s: %d %s, want %d %s", c.name, rec.Code, rec.Body, c.status, c.kind)
		}
	}
	rec := do(t, h, "POST", "/api/v1/test/manage", "tok-admin", `{"name":"x"}`)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"actor":"ada"`) {
		t.Fatalf("admin: %d %s", rec.Code, rec.Body)
	}
	if strings.Contains(log.String(), "tok-") {
		t.Fatalf("the request log holds a token:\n%s", log)
	}
	if !strings.Contains(log.String(), `"actor":"ada"`) {
		t.Fatalf("the request log does not name the actor:\n%s", log)
	}
}

func TestBadJSONBodyIs400WithAMessage(t *testing.T) {
	s, _ := newTestServer(t)
	for body, want := range map[string]string{
		`{"name":`:             "bad JSON body",
		`{"nmae":"x"}`:         `unknown field "nmae"`,
		`{"name":"x"} {"a":1}`: "more than one JSON value",
	} {
		rec := do(t, s.Handler(), "POST", "/api/v1/test/manage", "tok-admin", body)
		if e := errorOf(t, rec); rec.Code != 400 || e.Kind != "invalid" || !strings.Contains(e.Message, want) {
			t.Errorf("body %s: %d %+v, want 400 invalid %q", body, rec.Code, e, want)
		}
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	s, _ := newTestServer(t)
	for _, path := range []string{"/api/v1/health", "/api/v1/test/manage", "/no/such/page"} {
		rec := do(t, s.Handler(), "GET", path, "", "")
		for k, v := range map[string]string{
			"X-Content-Type-Options": "nosniff",
			"Referrer-Policy":        "no-referrer",
		} {
			if rec.Header().Get(k) != v {
				t.Errorf("%s: %s = %q, want %q", path, k, rec.Header().Get(k), v)
			}
		}
		csp := rec.Header().Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
	}
}

// TestClientGoneIsNotAServerError: a request whose client went away (its
// context cancelled) while the store was read is logged as 499, not as a
// 500 that would page someone for a client's disconnect.
func TestClientGoneIsNotAServerError(t *testing.T) {
	s, log := newTestServer(t)
	s.handle("GET", "/api/v1/test/slow", auth.Read, "test route", func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		<-r.Context().Done()
		return fmt.Errorf("store: snapshot: %w", r.Context().Err())
	})
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequest("GET", "/api/v1/test/slow", nil).WithContext(ctx)
	req.Header.Set("Authorization", "Bearer tok-viewer")
	cancel()
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	if rec.Code != statusClientGone {
		t.Fatalf("status %d, want %d", rec.Code, statusClientGone)
	}
	if !strings.Contains(log.String(), `"status":499`) || strings.Contains(log.String(), `"status":500`) {
		t.Fatalf("request log:\n%s", log)
	}
	// A cancelled context that is not the request's (a store call's own
	// timeout) is still the server's failure.
	s.handle("GET", "/api/v1/test/inner", auth.Read, "test route", func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		return context.Canceled
	})
	if rec := do(t, s.Handler(), "GET", "/api/v1/test/inner", "tok-viewer", ""); rec.Code != http.StatusInternalServerError {
		t.Fatalf("an inner cancellation: %d, want 500", rec.Code)
	}
}

// TestJSONAnswersCarryTheirLength: an answer larger than net/http's
// buffer (a scope with its evidence) is sent with its Content-Length,
// not chunked, and is what json.Encoder makes of the value, newline
// included; the reused buffers do not leak one answer into the next.
func TestJSONAnswersCarryTheirLength(t *testing.T) {
	s, _ := newTestServer(t)
	s.handle("GET", "/api/v1/test/big/{n}", auth.Read, "test route", func(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
		n, _ := strconv.Atoi(r.PathValue("n"))
		writeJSON(w, http.StatusOK, map[string]any{"lines": slices.Repeat([]string{"evidence <line> & more"}, n)})
		return nil
	})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	for _, n := range []int{2000, 3, 500} {
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/test/big/"+strconv.Itoa(n), nil)
		req.Header.Set("Authorization", "Bearer tok-viewer")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		_ = json.NewEncoder(&want).Encode(map[string]any{"lines": slices.Repeat([]string{"evidence <line> & more"}, n)})
		if resp.StatusCode != 200 || resp.ContentLength != int64(len(body)) || len(resp.TransferEncoding) != 0 ||
			resp.Header.Get("Content-Type") != "application/json" || !bytes.Equal(body, want.Bytes()) {
			t.Fatalf("n=%d: status %d, Content-Length %d for %d bytes, Transfer-Encoding %v, type %q; body equal to the encoder's: %v",
				n, resp.StatusCode, resp.ContentLength, len(body), resp.TransferEncoding, resp.Header.Get("Content-Type"), bytes.Equal(body, want.Bytes()))
		}
	}
}
