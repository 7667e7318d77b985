package server

import (
	"cmp"
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Doc is what a route takes and returns, for its OpenAPI operation.
// Request and Response are values of the Go types the handler decodes and
// encodes: their schemas are derived from those types (json tags, which
// fields are omitempty), so the document cannot drift from the code.
type Doc struct {
	// Request is the JSON body's type; nil: no body.
	Request any
	// Response is the JSON answer's type, sent with Status (200 when 0).
	Response any
	Status   int
	// Also lists other success statuses with what they mean.
	Also map[int]string
	// Query are the query parameters.
	Query []Param
	// Content lists other media types the response may be in (chosen by
	// a query parameter), beside JSON.
	Content []string
}

// Param is one query parameter.
type Param struct {
	Name        string
	Description string
	Enum        []string
}

// describe attaches d to the registered route method pattern. A route
// described twice, or a description of no route, is a programming error.
func (s *Server) describe(method, pattern string, d Doc) {
	for i := range s.routes {
		if s.routes[i].Method == method && s.routes[i].Pattern == pattern {
			if s.routes[i].Doc.Response != nil {
				panic("server: route described twice: " + method + " " + pattern)
			}
			s.routes[i].Doc = d
			return
		}
	}
	panic("server: describing a route that is not registered: " + method + " " + pattern)
}

func (s *Server) openAPIRoutes() {
	s.handlePublic("GET", "/api/v1/openapi.json", "This document: OpenAPI 3.1 of every route the server registered.", s.openAPI)
	s.describe("GET", "/api/v1/openapi.json", Doc{Response: map[string]any{}})
}

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.OpenAPI())
}

// OpenAPI is the OpenAPI 3.1 document of the routes registered now.
func (s *Server) OpenAPI() map[string]any {
	g := &schemaGen{defs: map[string]any{}}
	g.defs["Error"] = g.schema(reflect.TypeOf(envelope{}))
	paths := map[string]any{}
	for _, rt := range s.routes {
		item, _ := paths[rt.Pattern].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.Pattern] = item
		}
		item[strings.ToLower(rt.Method)] = g.operation(rt)
	}
	return map[string]any{
		"openapi":           "3.1.0",
		"jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
		"info": map[string]any{
			"title":       "rekey",
			"version":     cmp.Or(s.cfg.Version, "dev"),
			"description": "The incident response service of `rekey serve`. Every request but health and this document carries `Authorization: Bearer TOKEN`; the token's name is the actor in the audit log. A secret is never sent back.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": g.defs,
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "a rekey token (rekey token create)"},
			},
		},
	}
}

var pathParam = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)\}`)

func (g *schemaGen) operation(rt Route) map[string]any {
	op := map[string]any{
		"summary":     rt.Summary,
		"operationId": operationID(rt),
	}
	var params []any
	for _, m := range pathParam.FindAllStringSubmatch(rt.Pattern, -1) {
		params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
	}
	for _, q := range rt.Doc.Query {
		sch := map[string]any{"type": "string"}
		if len(q.Enum) > 0 {
			sch["enum"] = q.Enum
		}
		params = append(params, map[string]any{"name": q.Name, "in": "query", "description": q.Description, "schema": sch})
	}
	if len(params) > 0 {
		op["parameters"] = params
	}
	if rt.Doc.Request != nil {
		// A body is required when its type has a required field: the
		// handler refuses the empty body then.
		t := reflect.TypeOf(rt.Doc.Request)
		var required []string
		if t.Kind() == reflect.Struct {
			g.fields(t, map[string]any{}, &required)
		}
		op["requestBody"] = map[string]any{
			"required": len(required) > 0,
			"content":  map[string]any{"application/json": map[string]any{"schema": g.schema(t)}},
		}
	}
	status := rt.Doc.Status
	if status == 0 {
		status = http.StatusOK
	}
	content := map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(rt.Doc.Response))}}
	for _, c := range rt.Doc.Content {
		content[c] = map[string]any{"schema": map[string]any{"type": "string"}}
	}
	responses := map[string]any{strconv.Itoa(status): map[string]any{"description": http.StatusText(status), "content": content}}
	for st, why := range rt.Doc.Also {
		responses[strconv.Itoa(st)] = map[string]any{"description": why, "content": content}
	}
	errRef := map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}
	codes := []int{http.StatusInternalServerError}
	if !rt.Public {
		codes = append(codes, http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusServiceUnavailable)
		op["security"] = []any{map[string]any{"bearer": []any{}}}
	} else {
		op["security"] = []any{}
	}
	for _, c := range codes {
		responses[strconv.Itoa(c)] = map[string]any{"description": http.StatusText(c), "content": errRef}
	}
	op["responses"] = responses
	return op
}

func operationID(rt Route) string {
	p := strings.TrimPrefix(rt.Pattern, "/api/v1/")
	p = strings.NewReplacer("{", "", "}", "", "/", "_", ".", "_").Replace(p)
	return strings.ToLower(rt.Method) + "_" + p
}

// schemaGen turns Go types into JSON Schema (2020-12, as OpenAPI 3.1
// has it) the way encoding/json encodes them. Named struct types become
// components, referenced by $ref, which also ends recursion.
type schemaGen struct {
	defs map[string]any
}

var (
	timeType      = reflect.TypeOf(time.Time{})
	durationType  = reflect.TypeOf(time.Duration(0))
	rawType       = reflect.TypeOf(json.RawMessage(nil))
	marshalerType = reflect.TypeOf((*json.Marshaler)(nil)).Elem()
	textType      = reflect.TypeOf((*interface{ MarshalText() ([]byte, error) })(nil)).Elem()
)

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == durationType:
		return map[string]any{"type": "integer", "description": "nanoseconds"}
	case t == rawType:
		return map[string]any{}
	case t.Kind() != reflect.Pointer && (t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType)):
		// Its own encoding: described as any JSON value.
		return map[string]any{"description": t.String() + " (its own JSON encoding)"}
	case t.Kind() != reflect.Pointer && t.Kind() != reflect.Struct && t.Implements(textType):
		return map[string]any{"type": "string"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return nullable(g.schema(t.Elem()))
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": []any{"string", "null"}, "contentEncoding": "base64"}
		}
		return map[string]any{"type": []any{"array", "null"}, "items": g.schema(t.Elem())}
	case reflect.Array:
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": []any{"object", "null"}, "additionalProperties": g.schema(t.Elem())}
	case reflect.Struct:
		if t.Name() == "" {
			return g.object(t)
		}
		name := defName(t)
		if _, ok := g.defs[name]; !ok {
			g.defs[name] = map[string]any{} // placeholder: a recursive type refers to itself
			g.defs[name] = g.object(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

// nullable allows null beside s (a nil pointer encodes as null).
func nullable(s map[string]any) map[string]any {
	switch ty := s["type"].(type) {
	case string:
		out := map[string]any{}
		for k, v := range s {
			out[k] = v
		}
		out["type"] = []any{ty, "null"}
		return out
	case []any:
		return s // already allows null
	}
	if len(s) == 0 {
		return s
	}
	return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
}

func defName(t reflect.Type) string {
	pkg := t.PkgPath()
	if i := strings.LastIndexByte(pkg, '/'); i >= 0 {
		pkg = pkg[i+1:]
	}
	if pkg == "server" {
		return t.Name()
	}
	return pkg + "." + t.Name()
}

// object is a struct's schema: its exported fields by their json names,
// embedded structs' fields inline, fields without omitempty required.
func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	g.fields(t, props, &required)
	sort.Strings(required)
	out := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}

func (g *schemaGen) fields(t reflect.Type, props map[string]any, required *[]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				g.fields(ft, props, required)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = g.schema(f.Type)
		if !strings.Contains(","+opts+",", ",omitempty,") && !strings.Contains(","+opts+",", ",omitzero,") {
			*required = append(*required, name)
		}
	}
}
