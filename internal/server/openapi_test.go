package server

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// The document served is valid OpenAPI 3.1, names every route the server
// registered, and every operation it names is answered by the server
// (not the mux's 404 or 405): the document and the routes cannot drift.
func TestOpenAPIDescribesExactlyTheRegisteredRoutes(t *testing.T) {
	s := New(Config{Version: "test"})
	rec := do(t, s.Handler(), "GET", "/api/v1/openapi.json", "", "")
	if rec.Code != 200 {
		t.Fatalf("openapi.json: %d %s", rec.Code, rec.Body)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(rec.Body.Bytes())
	if err != nil {
		t.Fatalf("the document does not load: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() || doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the document is not valid OpenAPI 3.1: %v", err)
	}

	registered := map[string]bool{}
	for _, r := range s.Routes() {
		registered[r.Method+" "+r.Pattern] = true
		if r.Doc.Response == nil {
			t.Errorf("%s %s has no Doc (describe it beside its handler)", r.Method, r.Pattern)
		}
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			documented[method+" "+path] = true
			if op.Responses == nil || op.Responses.Len() == 0 {
				t.Errorf("%s %s: no responses", method, path)
			}
		}
	}
	if missing, extra := diff(registered, documented), diff(documented, registered); len(missing)+len(extra) > 0 {
		t.Fatalf("registered but not documented: %v\ndocumented but not registered: %v", missing, extra)
	}

	// The server answers each documented operation: a public one, or 401
	// for one that needs a token.
	param := regexp.MustCompile(`\{[^}]+\}`)
	for op := range documented {
		method, path, _ := strings.Cut(op, " ")
		rec := do(t, s.Handler(), method, param.ReplaceAllString(path, "INC-1"), "", "")
		public := path == "/api/v1/health" || path == "/api/v1/openapi.json"
		if public && rec.Code != http.StatusOK || !public && rec.Code != http.StatusUnauthorized {
			t.Errorf("%s answers %d", op, rec.Code)
		}
	}
}

// The schemas follow the Go types the handlers encode: a field's json
// name, required unless omitempty, embedded structs inline.
func TestSchemasFollowTheGoTypes(t *testing.T) {
	s := New(Config{})
	doc := s.OpenAPI()
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	view, ok := schemas["incident.OpenView"].(map[string]any)
	if !ok {
		t.Fatalf("no incident.OpenView schema among %v", keys(schemas))
	}
	props := view["properties"].(map[string]any)
	for _, f := range []string{"id", "existing", "leaked_at", "identity", "occurrences", "not_searched"} {
		if _, ok := props[f]; !ok {
			t.Errorf("OpenView lacks %s", f)
		}
	}
	// GET /api/v1/incidents/{id}: incident.Detail with the tracing.
	detail := schemas["incidentDetail"].(map[string]any)
	dprops := detail["properties"].(map[string]any)
	if _, ok := dprops["opened_by"]; !ok {
		t.Errorf("incidentDetail does not inline Summary's fields: %v", keys(dprops))
	}
	if _, ok := dprops["tracing"]; !ok {
		t.Errorf("incidentDetail lacks tracing: %v", keys(dprops))
	}
	if req := detail["required"].([]string); slices.Contains(req, "run") || slices.Contains(req, "tracing") || !slices.Contains(req, "id") {
		t.Errorf("incidentDetail required = %v: run and tracing are omitempty, id is not", req)
	}
	for path, want := range map[string]bool{"/api/v1/incidents": true, "/api/v1/incidents/{id}/plan": false, "/api/v1/incidents/{id}/close": true} {
		body := doc["paths"].(map[string]any)[path].(map[string]any)["post"].(map[string]any)["requestBody"].(map[string]any)
		if body["required"] != want {
			t.Errorf("POST %s: body required %v, want %v", path, body["required"], want)
		}
	}
	lease := schemas["leaseView"].(map[string]any)["properties"].(map[string]any)
	for _, f := range []string{"holder", "key_id"} {
		if _, ok := lease[f]; !ok {
			t.Errorf("leaseView lacks %s: %v", f, keys(lease))
		}
	}
}

func diff(a, b map[string]bool) []string {
	var out []string
	for k := range a {
		if !b[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
