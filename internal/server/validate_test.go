package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// validated wraps s's handler so that every response a test receives is
// checked against s's own OpenAPI document: its status is documented for
// its route, and a JSON body matches the documented schema. So the
// schemas declared beside the handlers are what the handlers send.
func validated(t *testing.T, s *Server) http.Handler {
	t.Helper()
	b, err := json.Marshal(s.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatal(err)
	}
	patterns := http.NewServeMux()
	for _, r := range s.Routes() {
		patterns.HandleFunc(r.Method+" "+r.Pattern, func(http.ResponseWriter, *http.Request) {})
	}
	h := s.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		checkResponse(t, doc, patterns, r, rec)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	})
}

func checkResponse(t *testing.T, doc *openapi3.T, patterns *http.ServeMux, r *http.Request, rec *httptest.ResponseRecorder) {
	t.Helper()
	_, pattern := patterns.Handler(r)
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		return // not a route: the mux's own 404
	}
	item := doc.Paths.Find(path)
	if item == nil || item.GetOperation(method) == nil {
		t.Errorf("%s: not in the document", pattern)
		return
	}
	resp := item.GetOperation(method).Responses.Status(rec.Code)
	if resp == nil {
		t.Errorf("%s answered %d, which the document does not list", pattern, rec.Code)
		return
	}
	ctype, _, _ := strings.Cut(rec.Header().Get("Content-Type"), ";")
	mt := resp.Value.Content.Get(ctype)
	if mt == nil {
		t.Errorf("%s %d: Content-Type %q is not documented", pattern, rec.Code, ctype)
		return
	}
	if ctype != "application/json" {
		return
	}
	var v any
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Errorf("%s %d: body is not JSON: %v", pattern, rec.Code, err)
		return
	}
	if err := mt.Schema.Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		t.Errorf("%s %d: the body does not match the documented schema: %v\n%.400s", pattern, rec.Code, err, rec.Body)
	}
}
