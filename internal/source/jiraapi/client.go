// Package jiraapi is the live Jira source and its remediation client. It
// searches a Jira site with JQL through the REST API v3
// (GET /rest/api/3/search/jql, nextPageToken pagination: the older
// /rest/api/3/search is removed from Jira Cloud), reads each issue's
// summary, description and environment and its comments
// (GET /rest/api/3/issue/{key}/comment, startAt pagination), and emits one
// chunk per text as the export reader (internal/source/jira) does, with its
// refs ("OPS-12", "OPS-12#comment-10001") and class ticket; ADF bodies are
// flattened by that reader's jira.Text. A Redactor edits a comment
// (PUT …/comment/{id}) or the issue's fields (PUT /rest/api/3/issue/{key})
// with the secret replaced, and re-reads them.
//
// Jira Data Center and Server have no v3: the site's GET
// /rest/api/2/serverInfo says its deploymentType, and anything but
// "Cloud" is called through v2 instead (GET /rest/api/2/search with
// startAt pagination, plain wiki-markup strings for rich text).
//
// The token is a reference's value: "email:api-token" is sent as HTTP
// basic auth (Jira Cloud), anything else as a Bearer token (a Data Center
// personal access token).
package jiraapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/source/httpapi"
)

// DefaultJQL is searched when none is given: the enhanced search refuses
// unbounded queries, so every issue is asked for by a bound that holds
// them all.
const DefaultJQL = `created >= "1970-01-01" ORDER BY created ASC`

// Client calls one Jira site's REST API.
type Client struct {
	// URL is the site, like https://acme.atlassian.net.
	URL   string
	Token secret.Secret
	HTTP  *http.Client
	// Limits bound the waits for rate limits (HTTP 429, Retry-After).
	Limits httpapi.Limits
	// PageSize is maxResults (default 100).
	PageSize int

	mu  sync.Mutex
	api string // "/rest/api/3" (Cloud) or "/rest/api/2", once known
}

// base is the REST API's path prefix: v3 on Jira Cloud, v2 on Data
// Center and Server, which have no v3. A failed look-up is not kept.
func (c *Client) base(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.api != "" {
		return c.api, nil
	}
	var info struct {
		DeploymentType string `json:"deploymentType"`
	}
	if err := c.do(ctx, "serverInfo", http.MethodGet, "/rest/api/2/serverInfo", nil, nil, &info); err != nil {
		return "", err
	}
	c.api = "/rest/api/2"
	if info.DeploymentType == "Cloud" {
		c.api = "/rest/api/3"
	}
	return c.api, nil
}

// call is do under the site's API prefix.
func (c *Client) call(ctx context.Context, op, method, path string, query url.Values, body, out any) error {
	b, err := c.base(ctx)
	if err != nil {
		return err
	}
	return c.do(ctx, op, method, b+path, query, body, out)
}

// HTTPError is a response outside 2xx, with Jira's errorMessages.
type HTTPError struct {
	Op       string
	Status   int
	Messages []string
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("jira %s: HTTP %d", e.Op, e.Status)
	switch e.Status {
	case http.StatusUnauthorized:
		msg += ": the token was refused (revoked, expired or mistyped; Jira Cloud wants email:api-token)"
	case http.StatusForbidden:
		msg += ": the token's user may not do this"
	case http.StatusNotFound:
		msg += ": not found, or not visible to the token's user"
	}
	if len(e.Messages) > 0 {
		msg += ": " + strings.Join(e.Messages, "; ")
	}
	return msg
}

func (e *HTTPError) kind() errs.Kind {
	switch e.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return errs.Permission
	case http.StatusNotFound:
		return errs.NotFound
	case http.StatusBadRequest:
		return errs.Invalid
	}
	return errs.Unreachable
}

func (c *Client) auth() string {
	tok := string(c.Token.Reveal())
	if user, _, ok := strings.Cut(tok, ":"); ok && strings.Contains(user, "@") {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(tok))
	}
	return "Bearer " + tok
}

// do sends method path?query with body (JSON, or nil) and decodes a 2xx
// response into out (when not nil).
func (c *Client) do(ctx context.Context, op, method, path string, query url.Values, body, out any) error {
	tok := string(c.Token.Reveal())
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return err
		}
	}
	u := strings.TrimSuffix(c.URL, "/") + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	resp, err := httpapi.Do(ctx, c.HTTP, c.Limits, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(payload))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", c.auth())
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		return req, nil
	})
	if err != nil {
		return errs.New("jira "+op, errs.Unreachable, "", httpapi.Scrub(err.Error(), tok))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return errs.New("jira "+op, errs.Unreachable, "", httpapi.Scrub(err.Error(), tok))
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			ErrorMessages []string          `json:"errorMessages"`
			Errors        map[string]string `json:"errors"`
		}
		_ = json.Unmarshal(data, &e)
		he := &HTTPError{Op: op, Status: resp.StatusCode}
		for _, m := range e.ErrorMessages {
			he.Messages = append(he.Messages, httpapi.Scrub(m, tok))
		}
		for k, m := range e.Errors {
			he.Messages = append(he.Messages, k+": "+httpapi.Scrub(m, tok))
		}
		return errs.E("", he.kind(), "", he)
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return errs.New("jira "+op, errs.Invalid, "", "the response is not the REST API's JSON")
	}
	return nil
}

// Issue is a search result's issue; field values are kept raw (a string
// in v2, an ADF document in v3) for jira.Text.
type Issue struct {
	ID     string                     `json:"id"`
	Key    string                     `json:"key"`
	Fields map[string]json.RawMessage `json:"fields"`
}

// Comment is an issue's comment.
type Comment struct {
	ID      string          `json:"id"`
	Body    json.RawMessage `json:"body"`
	Created string          `json:"created"`
}

// TextFields are the issue fields searched for copies.
var TextFields = []string{"summary", "description", "environment"}

// Search calls fn with each page of the issues jql finds.
func (c *Client) Search(ctx context.Context, jql string, fn func([]Issue) error) error {
	if jql == "" {
		jql = DefaultJQL
	}
	q := url.Values{"jql": {jql}, "fields": {strings.Join(append(TextFields, "created"), ",")}, "maxResults": {c.pageSize()}}
	b, err := c.base(ctx)
	if err != nil {
		return err
	}
	if b != "/rest/api/3" {
		return c.searchV2(ctx, q, fn)
	}
	for {
		var r struct {
			Issues        []Issue `json:"issues"`
			NextPageToken string  `json:"nextPageToken"`
			IsLast        *bool   `json:"isLast"`
		}
		if err := c.do(ctx, "search", http.MethodGet, b+"/search/jql", q, nil, &r); err != nil {
			return err
		}
		if err := fn(r.Issues); err != nil {
			return err
		}
		if r.NextPageToken == "" || r.IsLast != nil && *r.IsLast {
			return nil
		}
		q.Set("nextPageToken", r.NextPageToken)
	}
}

// searchV2 is Search on Data Center and Server: GET /rest/api/2/search,
// paged by startAt up to total.
func (c *Client) searchV2(ctx context.Context, q url.Values, fn func([]Issue) error) error {
	start := 0
	for {
		var r struct {
			StartAt int     `json:"startAt"`
			Total   int     `json:"total"`
			Issues  []Issue `json:"issues"`
		}
		q.Set("startAt", fmt.Sprint(start))
		if err := c.do(ctx, "search", http.MethodGet, "/rest/api/2/search", q, nil, &r); err != nil {
			return err
		}
		if err := fn(r.Issues); err != nil {
			return err
		}
		start = r.StartAt + len(r.Issues)
		if len(r.Issues) == 0 || start >= r.Total {
			return nil
		}
	}
}

func (c *Client) pageSize() string {
	if c.PageSize > 0 {
		return fmt.Sprint(c.PageSize)
	}
	return "100"
}

// Comments calls fn with each page of an issue's comments, oldest first.
func (c *Client) Comments(ctx context.Context, key string, fn func([]Comment) error) error {
	start := 0
	for {
		var r struct {
			StartAt    int       `json:"startAt"`
			MaxResults int       `json:"maxResults"`
			Total      int       `json:"total"`
			Comments   []Comment `json:"comments"`
		}
		q := url.Values{"startAt": {fmt.Sprint(start)}, "maxResults": {c.pageSize()}, "orderBy": {"created"}}
		if err := c.call(ctx, "comments "+key, http.MethodGet, "/issue/"+url.PathEscape(key)+"/comment", q, nil, &r); err != nil {
			return err
		}
		if err := fn(r.Comments); err != nil {
			return err
		}
		start = r.StartAt + len(r.Comments)
		if len(r.Comments) == 0 || start >= r.Total {
			return nil
		}
	}
}

// Comment reads one comment.
func (c *Client) Comment(ctx context.Context, key, id string) (Comment, error) {
	var out Comment
	err := c.call(ctx, "comment "+key+"#comment-"+id, http.MethodGet, "/issue/"+url.PathEscape(key)+"/comment/"+url.PathEscape(id), nil, nil, &out)
	return out, err
}

// EditComment replaces a comment's body (an ADF document; a string on
// Data Center and Server).
func (c *Client) EditComment(ctx context.Context, key, id string, body any) error {
	return c.call(ctx, "edit "+key+"#comment-"+id, http.MethodPut, "/issue/"+url.PathEscape(key)+"/comment/"+url.PathEscape(id),
		nil, map[string]any{"body": body}, nil)
}

// GetIssue reads one issue's text fields.
func (c *Client) GetIssue(ctx context.Context, key string) (Issue, error) {
	var out Issue
	err := c.call(ctx, "issue "+key, http.MethodGet, "/issue/"+url.PathEscape(key), url.Values{"fields": {strings.Join(TextFields, ",")}}, nil, &out)
	return out, err
}

// EditFields sets an issue's fields (PUT /rest/api/{3,2}/issue/{key}).
func (c *Client) EditFields(ctx context.Context, key string, fields map[string]any) error {
	return c.call(ctx, "edit "+key, http.MethodPut, "/issue/"+url.PathEscape(key), nil, map[string]any{"fields": fields}, nil)
}
