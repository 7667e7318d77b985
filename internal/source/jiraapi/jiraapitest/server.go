// Package jiraapitest is a Jira Cloud REST API v3 server for tests, written
// from Atlassian's reference (developer.atlassian.com/cloud/jira/platform/
// rest/v3): GET /rest/api/3/search/jql (JQL, nextPageToken and isLast,
// bounded queries only), GET/PUT /rest/api/3/issue/{key}, GET
// /rest/api/3/issue/{key}/comment (startAt, maxResults, total) and GET/PUT
// …/comment/{id} with Atlassian Document Format bodies, errors as
// {"errorMessages":[…],"errors":{}}, HTTP 429 with Retry-After. Every
// request must carry the token: basic email:token when Email is set, else
// Bearer. It does not import the client it tests.
//
// GET /rest/api/2/serverInfo names the deploymentType: "Cloud", or, with
// DataCenter set, "DataCenter", and then the site serves the v2 API of
// Jira Data Center's reference (developer.atlassian.com/server/jira/
// platform/rest) instead: GET /rest/api/2/search (startAt, maxResults,
// total), the same issue and comment routes under /rest/api/2, rich text
// as plain wiki-markup strings, and no v3 at all.
package jiraapitest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Comment is a stored comment; Body is an ADF document.
type Comment struct {
	ID      string
	Body    any
	Created string
}

// Issue is a stored issue. Fields holds summary (a string), description
// and environment (ADF documents), created.
type Issue struct {
	ID, Key  string
	Fields   map[string]any
	Comments []*Comment
}

// Server is a Jira site. Configure it before Start.
type Server struct {
	Email, Token string
	Issues       []*Issue
	// Limited: route (search, issue, comments, comment, edit-comment,
	// edit-issue) → how many of its next calls answer 429 with
	// Retry-After: RetryAfter seconds.
	Limited    map[string]int
	RetryAfter int
	// MaxResults caps a page (default 50).
	MaxResults int
	// DataCenter makes the site a Jira Data Center: v2 only, strings for
	// rich text (store Fields and Comment.Body as strings then).
	DataCenter bool

	mu       sync.Mutex
	requests map[string]int
	srv      *httptest.Server
}

// Start serves the API at URL().
func (s *Server) Start() {
	s.requests = map[string]int{}
	mux := http.NewServeMux()
	api := s.api()
	mux.HandleFunc("GET /rest/api/2/serverInfo", s.route("serverInfo", s.serverInfo))
	if s.DataCenter {
		mux.HandleFunc("GET /rest/api/2/search", s.route("search", s.search))
	} else {
		mux.HandleFunc("GET /rest/api/3/search/jql", s.route("search", s.search))
	}
	mux.HandleFunc("GET "+api+"/issue/{key}", s.route("issue", s.getIssue))
	mux.HandleFunc("PUT "+api+"/issue/{key}", s.route("edit-issue", s.editIssue))
	mux.HandleFunc("GET "+api+"/issue/{key}/comment", s.route("comments", s.comments))
	mux.HandleFunc("GET "+api+"/issue/{key}/comment/{id}", s.route("comment", s.getComment))
	mux.HandleFunc("PUT "+api+"/issue/{key}/comment/{id}", s.route("edit-comment", s.editComment))
	s.srv = httptest.NewServer(mux)
}

func (s *Server) api() string {
	if s.DataCenter {
		return "/rest/api/2"
	}
	return "/rest/api/3"
}

func (s *Server) serverInfo(w http.ResponseWriter, _ *http.Request) {
	info := map[string]any{"baseUrl": s.srv.URL, "version": "1001.0.0-SNAPSHOT", "versionNumbers": []int{1001, 0, 0}, "deploymentType": "Cloud", "serverTitle": "Jira"}
	if s.DataCenter {
		info["version"], info["versionNumbers"], info["deploymentType"], info["serverTitle"] = "9.12.2", []int{9, 12, 2}, "DataCenter", "JIRA"
	}
	writeJSON(w, http.StatusOK, info)
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// URL is the site's base URL.
func (s *Server) URL() string { return s.srv.URL }

// Requests is how many calls of route were answered.
func (s *Server) Requests(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[route]
}

// Stored returns an issue as it is now (a copy).
func (s *Server) Stored(key string) (Issue, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, is := range s.Issues {
		if is.Key == key {
			return *is, true
		}
	}
	return Issue{}, false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status int, msgs ...string) {
	writeJSON(w, status, map[string]any{"errorMessages": msgs, "errors": map[string]any{}})
}

func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if s.Email != "" {
		return h == "Basic "+base64.StdEncoding.EncodeToString([]byte(s.Email+":"+s.Token))
	}
	return h == "Bearer "+s.Token
}

func (s *Server) route(name string, h func(http.ResponseWriter, *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.requests[name]++
		if s.Limited[name] > 0 {
			s.Limited[name]--
			w.Header().Set("Retry-After", strconv.Itoa(s.RetryAfter))
			fail(w, http.StatusTooManyRequests, "Rate limit exceeded.")
			return
		}
		// serverInfo "can be accessed anonymously", as the reference says.
		if name != "serverInfo" && !s.authorized(r) {
			fail(w, http.StatusUnauthorized, "You are not authenticated. Authentication required to perform this operation.")
			return
		}
		h(w, r)
	}
}

func (s *Server) issue(w http.ResponseWriter, r *http.Request) *Issue {
	key := r.PathValue("key")
	for _, is := range s.Issues {
		if is.Key == key || is.ID == key {
			return is
		}
	}
	fail(w, http.StatusNotFound, "Issue does not exist or you do not have permission to see it.")
	return nil
}

var (
	projectClause = regexp.MustCompile(`(?i)\bproject\s*=\s*"?([A-Z][A-Z0-9_]*)"?`)
	boundClause   = regexp.MustCompile(`(?i)\b(project|created|updated|key|issuekey)\s*(=|>=|<=|>|<|in)`)
)

func (s *Server) pageSize(r *http.Request) (int, bool) {
	n := 50
	if v := r.URL.Query().Get("maxResults"); v != "" {
		m, err := strconv.Atoi(v)
		if err != nil || m < 0 {
			return 0, false
		}
		n = m
	}
	if s.MaxResults > 0 {
		n = min(n, s.MaxResults)
	}
	return max(n, 1), true
}

func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	jql := q.Get("jql")
	if !s.DataCenter && !boundClause.MatchString(jql) {
		fail(w, http.StatusBadRequest, "Unbounded JQL queries are not allowed here. Please add a search restriction to your query.")
		return
	}
	var found []*Issue
	for _, is := range s.Issues {
		if m := projectClause.FindStringSubmatch(jql); m != nil && !strings.HasPrefix(is.Key, m[1]+"-") {
			continue
		}
		found = append(found, is)
	}
	size, ok := s.pageSize(r)
	if !ok {
		fail(w, http.StatusBadRequest, "maxResults: not a number")
		return
	}
	from := 0
	if s.DataCenter {
		s.searchV2(w, r, found, size)
		return
	}
	if t := q.Get("nextPageToken"); t != "" {
		b, err := base64.RawURLEncoding.DecodeString(t)
		v, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "page:"))
		if err != nil || err2 != nil || v < 0 || v > len(found) {
			fail(w, http.StatusBadRequest, "The provided next page token is invalid or expired.")
			return
		}
		from = v
	}
	to := min(from+size, len(found))
	fields := strings.Split(q.Get("fields"), ",")
	issues := []any{}
	for _, is := range found[from:to] {
		issues = append(issues, s.wireIssue(is, fields))
	}
	resp := map[string]any{"issues": issues, "isLast": to == len(found)}
	if to < len(found) {
		resp["nextPageToken"] = base64.RawURLEncoding.EncodeToString([]byte("page:" + strconv.Itoa(to)))
	}
	writeJSON(w, http.StatusOK, resp)
}

// searchV2 answers Data Center's GET /rest/api/2/search: startAt,
// maxResults, total.
func (s *Server) searchV2(w http.ResponseWriter, r *http.Request, found []*Issue, size int) {
	q := r.URL.Query()
	start, err := strconv.Atoi(cmpOr(q.Get("startAt"), "0"))
	if err != nil || start < 0 {
		fail(w, http.StatusBadRequest, "startAt must be a number")
		return
	}
	from := min(start, len(found))
	to := min(from+size, len(found))
	fields := strings.Split(q.Get("fields"), ",")
	issues := []any{}
	for _, is := range found[from:to] {
		issues = append(issues, s.wireIssue(is, fields))
	}
	writeJSON(w, http.StatusOK, map[string]any{"startAt": start, "maxResults": size, "total": len(found), "issues": issues})
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (s *Server) wireIssue(is *Issue, fields []string) map[string]any {
	f := map[string]any{}
	for k, v := range is.Fields {
		if slices.Contains(fields, k) || slices.Contains(fields, "*all") {
			f[k] = v
		}
	}
	return map[string]any{"id": is.ID, "key": is.Key, "self": s.srv.URL + s.api() + "/issue/" + is.ID, "fields": f}
}

func (s *Server) getIssue(w http.ResponseWriter, r *http.Request) {
	is := s.issue(w, r)
	if is == nil {
		return
	}
	fields := []string{"*all"}
	if f := r.URL.Query().Get("fields"); f != "" {
		fields = strings.Split(f, ",")
	}
	writeJSON(w, http.StatusOK, s.wireIssue(is, fields))
}

// richText checks what the API requires of a rich-text value: an ADF
// document in v3, a wiki-markup string in Data Center's v2.
func (s *Server) richText(v any) bool {
	if s.DataCenter {
		_, ok := v.(string)
		return ok
	}
	return isADF(v)
}

func isADF(v any) bool {
	m, ok := v.(map[string]any)
	return ok && m["type"] == "doc" && m["version"] == float64(1)
}

func (s *Server) editIssue(w http.ResponseWriter, r *http.Request) {
	is := s.issue(w, r)
	if is == nil {
		return
	}
	var body struct {
		Fields map[string]any `json:"fields"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		fail(w, http.StatusBadRequest, "Unexpected character in the request body.")
		return
	}
	for k, v := range body.Fields {
		switch k {
		case "summary":
			if _, ok := v.(string); !ok {
				fail(w, http.StatusBadRequest, "summary: Operation value must be a string")
				return
			}
		case "description", "environment":
			if v != nil && !s.richText(v) {
				msg := "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
				if s.DataCenter {
					msg = "Operation value must be a string"
				}
				writeJSON(w, http.StatusBadRequest, map[string]any{"errorMessages": []string{}, "errors": map[string]string{k: msg}})
				return
			}
		default:
			writeJSON(w, http.StatusBadRequest, map[string]any{"errorMessages": []string{}, "errors": map[string]string{k: "Field '" + k + "' cannot be set. It is not on the appropriate screen, or unknown."}})
			return
		}
	}
	for k, v := range body.Fields {
		is.Fields[k] = v
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) wireComment(is *Issue, c *Comment) map[string]any {
	return map[string]any{"self": fmt.Sprintf("%s%s/issue/%s/comment/%s", s.srv.URL, s.api(), is.ID, c.ID), "id": c.ID,
		"author": map[string]any{"accountId": "5b10a2844c20165700ede21g", "displayName": "Mia Krystof"},
		"body":   c.Body, "created": c.Created, "updated": c.Created, "jsdPublic": true}
}

func (s *Server) comments(w http.ResponseWriter, r *http.Request) {
	is := s.issue(w, r)
	if is == nil {
		return
	}
	size, ok := s.pageSize(r)
	start, err := strconv.Atoi(r.URL.Query().Get("startAt"))
	if r.URL.Query().Get("startAt") == "" {
		start, err = 0, nil
	}
	if !ok || err != nil || start < 0 {
		fail(w, http.StatusBadRequest, "startAt and maxResults must be numbers")
		return
	}
	from := min(start, len(is.Comments))
	to := min(from+size, len(is.Comments))
	cs := []any{}
	for _, c := range is.Comments[from:to] {
		cs = append(cs, s.wireComment(is, c))
	}
	writeJSON(w, http.StatusOK, map[string]any{"startAt": start, "maxResults": size, "total": len(is.Comments), "comments": cs})
}

func (s *Server) comment(w http.ResponseWriter, r *http.Request) (*Issue, *Comment) {
	is := s.issue(w, r)
	if is == nil {
		return nil, nil
	}
	for _, c := range is.Comments {
		if c.ID == r.PathValue("id") {
			return is, c
		}
	}
	fail(w, http.StatusNotFound, "Can not find a comment for the id: "+r.PathValue("id")+".")
	return nil, nil
}

func (s *Server) getComment(w http.ResponseWriter, r *http.Request) {
	if is, c := s.comment(w, r); c != nil {
		writeJSON(w, http.StatusOK, s.wireComment(is, c))
	}
}

func (s *Server) editComment(w http.ResponseWriter, r *http.Request) {
	is, c := s.comment(w, r)
	if c == nil {
		return
	}
	var body struct {
		Body any `json:"body"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || !s.richText(body.Body) {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errorMessages": []string{}, "errors": map[string]string{"comment": "Comment body is not valid!"}})
		return
	}
	c.Body = body.Body
	writeJSON(w, http.StatusOK, s.wireComment(is, c))
}

// Doc is an ADF document of paragraphs, one per text.
func Doc(paragraphs ...string) map[string]any {
	var content []any
	for _, p := range paragraphs {
		content = append(content, map[string]any{"type": "paragraph", "content": []any{map[string]any{"type": "text", "text": p}}})
	}
	return map[string]any{"type": "doc", "version": float64(1), "content": content}
}
