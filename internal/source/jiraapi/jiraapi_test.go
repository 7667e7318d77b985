package jiraapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/source"
	"github.com/rekeyhq/rekey/internal/source/httpapi"
	"github.com/rekeyhq/rekey/internal/source/jiraapi"
	"github.com/rekeyhq/rekey/internal/source/jiraapi/jiraapitest"
)

const (
	email = "ops@example.com"
	token = "ATATT3xFfGF0livetesttokenvalue"
	leak  = "sk_live_51HqLyjWDarjtT1zdp7dcXbz"
)

// site holds 5 issues (two search pages of 2 and one of 1); OPS-2 has 5
// comments (3 pages), the 4th holding the secret after a bold word; OPS-4's
// description holds it split over two text nodes.
func site(t *testing.T) *jiraapitest.Server {
	t.Helper()
	s := &jiraapitest.Server{Email: email, Token: token, MaxResults: 2}
	for i := 1; i <= 5; i++ {
		s.Issues = append(s.Issues, &jiraapitest.Issue{ID: fmt.Sprint(10000 + i), Key: fmt.Sprintf("OPS-%d", i), Fields: map[string]any{
			"summary": fmt.Sprintf("issue %d", i), "description": jiraapitest.Doc("nothing here"), "created": "2024-03-04T09:02:11.000+0100"}})
	}
	ops2 := s.Issues[1]
	for i := 1; i <= 5; i++ {
		body := jiraapitest.Doc(fmt.Sprintf("comment %d", i))
		if i == 4 {
			body = map[string]any{"type": "doc", "version": float64(1), "content": []any{
				map[string]any{"type": "paragraph", "content": []any{
					map[string]any{"type": "text", "text": "key", "marks": []any{map[string]any{"type": "strong"}}},
					map[string]any{"type": "text", "text": ": " + leak + " (test mode)"},
				}},
				map[string]any{"type": "paragraph", "content": []any{map[string]any{"type": "text", "text": "thanks"}}},
			}}
		}
		ops2.Comments = append(ops2.Comments, &jiraapitest.Comment{ID: fmt.Sprint(20000 + i), Body: body, Created: "2024-03-05T10:00:00.000+0000"})
	}
	s.Issues[3].Fields["description"] = map[string]any{"type": "doc", "version": float64(1), "content": []any{
		map[string]any{"type": "paragraph", "content": []any{
			map[string]any{"type": "text", "text": "stripe " + leak[:10]},
			map[string]any{"type": "text", "text": leak[10:], "marks": []any{map[string]any{"type": "code"}}},
		}},
	}}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func client(s *jiraapitest.Server, tok string, slept *[]time.Duration) *jiraapi.Client {
	return &jiraapi.Client{URL: s.URL(), Token: secret.FromString(tok), PageSize: 2, Limits: httpapi.Limits{
		Sleep: func(_ context.Context, d time.Duration) error { *slept = append(*slept, d); return nil },
	}}
}

type chunk struct{ Path, Ref, Text string }

func walk(t *testing.T, src source.Source) ([]chunk, error) {
	t.Helper()
	var out []chunk
	err := src.Walk(context.Background(), func(ch source.Chunk) error {
		if ch.Loc.Class != source.ClassTicket || ch.Loc.Line != 1 || ch.Loc.Flat {
			t.Errorf("%s: location %+v", ch.Loc.Ref, ch.Loc)
		}
		out = append(out, chunk{ch.Loc.Path, ch.Loc.Ref, string(ch.Data)})
		return nil
	})
	return out, err
}

func TestWalkPagesIssuesAndComments(t *testing.T) {
	srv := site(t)
	var slept []time.Duration
	got, err := walk(t, jiraapi.New(jiraapi.Options{Client: client(srv, email+":"+token, &slept)}))
	if err != nil {
		t.Fatal(err)
	}
	// 5 summaries, 5 descriptions, 5 comments (one of two blocks).
	if len(got) != 16 {
		t.Errorf("got %d chunks, want 16: %v", len(got), got)
	}
	want := chunk{srv.URL() + "/browse/OPS-2", "OPS-2#comment-20004", "key: " + leak + " (test mode)"}
	if !containsChunk(got, want) {
		t.Errorf("comment on the 2nd comments page not read as %+v: %v", want, got)
	}
	if want := (chunk{srv.URL() + "/browse/OPS-4", "OPS-4", "stripe " + leak}); !containsChunk(got, want) {
		t.Errorf("description split over text nodes not read whole: %v", got)
	}
	if n := srv.Requests("search"); n != 3 {
		t.Errorf("search called %d times, want 3 pages", n)
	}
	if n := srv.Requests("comments"); n != 5+2 {
		t.Errorf("comments called %d times, want one per issue plus 2 more pages for OPS-2", n)
	}
}

func containsChunk(cs []chunk, c chunk) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}

func TestBearerToken(t *testing.T) {
	srv := site(t)
	srv.Email = "" // a Data Center personal access token
	var slept []time.Duration
	if _, err := walk(t, jiraapi.New(jiraapi.Options{Client: client(srv, token, &slept), JQL: "project = OPS"})); err != nil {
		t.Fatal(err)
	}
}

func TestInvalidTokenOneClearError(t *testing.T) {
	srv := site(t)
	bad := email + ":ATATT3wrongtokenvalue"
	var slept []time.Duration
	_, err := walk(t, jiraapi.New(jiraapi.Options{Client: client(srv, bad, &slept)}))
	want := "jira search: HTTP 401: the token was refused (revoked, expired or mistyped; Jira Cloud wants email:api-token): You are not authenticated. Authentication required to perform this operation."
	if err == nil || err.Error() != want || strings.Contains(err.Error(), "ATATT3wrong") || errs.KindOf(err) != errs.Permission {
		t.Errorf("error %v, want %q (Permission)", err, want)
	}
}

func TestUnboundedJQLRefused(t *testing.T) {
	srv := site(t)
	var slept []time.Duration
	_, err := walk(t, jiraapi.New(jiraapi.Options{Client: client(srv, email+":"+token, &slept), JQL: "ORDER BY created"}))
	if err == nil || !strings.Contains(err.Error(), "jira search: HTTP 400: Unbounded JQL") {
		t.Errorf("error %v", err)
	}
}

func TestRateLimitHonoured(t *testing.T) {
	srv := site(t)
	srv.Limited, srv.RetryAfter = map[string]int{"search": 1, "comments": 2}, 2
	var slept []time.Duration
	got, err := walk(t, jiraapi.New(jiraapi.Options{Client: client(srv, email+":"+token, &slept)}))
	if err != nil || len(got) != 16 {
		t.Fatalf("%d chunks, %v", len(got), err)
	}
	if diff := cmp.Diff([]time.Duration{2 * time.Second, 2 * time.Second, 2 * time.Second}, slept); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
}

func redactor(srv *jiraapitest.Server) *jiraapi.Redactor {
	var slept []time.Duration
	return &jiraapi.Redactor{Client: client(srv, email+":"+token, &slept), Secret: secret.FromString(leak), Replacement: "[REDACTED by rekey INC-7]"}
}

func TestRedactCommentKeepsStructure(t *testing.T) {
	srv := site(t)
	r := redactor(srv)
	ctx := context.Background()
	rec, err := r.Redact(ctx, "OPS-2#comment-20004", false)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Action != "update" || rec.Object != srv.URL()+"/browse/OPS-2#comment-20004" || rec.After != "key: [REDACTED by rekey INC-7] (test mode)\nthanks" || len(rec.BeforeSHA256) != 64 {
		t.Errorf("record %+v", rec)
	}
	is, _ := srv.Stored("OPS-2")
	b, _ := json.Marshal(is.Comments[3].Body)
	if strings.Contains(string(b), leak) || !strings.Contains(string(b), `"strong"`) || !strings.Contains(string(b), "thanks") {
		t.Errorf("stored comment %s: want the secret gone and the marks and paragraphs kept", b)
	}
	if clean, err := r.Clean(ctx, "OPS-2#comment-20004"); !clean || err != nil {
		t.Errorf("re-read: %v %v", clean, err)
	}
	if again, err := r.Redact(ctx, "OPS-2#comment-20004", false); err != nil || again.Action != "none" {
		t.Errorf("second redact %+v %v", again, err)
	}
}

func TestRedactDescriptionSplitOverNodes(t *testing.T) {
	srv := site(t)
	r := redactor(srv)
	ctx := context.Background()
	if clean, err := r.Clean(ctx, "OPS-4"); clean || err != nil {
		t.Fatalf("before: %v %v", clean, err)
	}
	rec, err := r.Redact(ctx, "OPS-4", false)
	if err != nil {
		t.Fatal(err)
	}
	if rec.After != "stripe [REDACTED by rekey INC-7]" {
		t.Errorf("after %q", rec.After)
	}
	is, _ := srv.Stored("OPS-4")
	if b, _ := json.Marshal(is.Fields["description"]); strings.Contains(string(b), leak[10:]) {
		t.Errorf("stored description still holds part of the secret: %s", b)
	}
	var slept []time.Duration
	got, _ := walk(t, jiraapi.New(jiraapi.Options{Client: client(srv, email+":"+token, &slept)}))
	for _, c := range got {
		if strings.Contains(c.Text, leak) && c.Ref == "OPS-4" {
			t.Errorf("re-walk finds %v", c)
		}
	}
}

func TestRedactWorklogUnsupported(t *testing.T) {
	_, err := redactor(site(t)).Redact(context.Background(), "OPS-2#worklog-1", false)
	if errs.KindOf(err) != errs.Unsupported {
		t.Errorf("error %v, want Unsupported", err)
	}
}

// TestDataCenterThroughV2: a site whose serverInfo says DataCenter has no
// v3, so the client searches GET /rest/api/2/search by startAt, reads the
// wiki-markup strings, and redacts a comment and a description as strings.
func TestDataCenterThroughV2(t *testing.T) {
	srv := &jiraapitest.Server{Token: token, MaxResults: 2, DataCenter: true}
	for i := 1; i <= 3; i++ {
		srv.Issues = append(srv.Issues, &jiraapitest.Issue{ID: fmt.Sprint(10000 + i), Key: fmt.Sprintf("OPS-%d", i), Fields: map[string]any{
			"summary": fmt.Sprintf("issue %d", i), "description": "nothing here", "created": "2024-03-04T09:02:11.000+0100"}})
	}
	srv.Issues[2].Fields["description"] = "h2. Setup\n{code}STRIPE_KEY=" + leak + "{code}"
	srv.Issues[1].Comments = []*jiraapitest.Comment{{ID: "20001", Body: "use *" + leak + "* for now", Created: "2024-03-05T10:00:00.000+0000"}}
	srv.Start()
	t.Cleanup(srv.Close)
	var slept []time.Duration
	got, err := walk(t, jiraapi.New(jiraapi.Options{Client: client(srv, token, &slept)}))
	if err != nil {
		t.Fatal(err)
	}
	if !containsChunk(got, chunk{srv.URL() + "/browse/OPS-2", "OPS-2#comment-20001", "use *" + leak + "* for now"}) || len(got) != 7 {
		t.Errorf("walk: %v", got)
	}
	if n := srv.Requests("search"); n != 2 {
		t.Errorf("search called %d times, want 2 pages of startAt", n)
	}
	r := &jiraapi.Redactor{Client: client(srv, token, &slept), Secret: secret.FromString(leak), Replacement: "[REDACTED by rekey INC-7]"}
	ctx := context.Background()
	for _, ref := range []string{"OPS-2#comment-20001", "OPS-3"} {
		if rec, err := r.Redact(ctx, ref, false); err != nil || rec.Action != "update" {
			t.Fatalf("redact %s: %+v %v", ref, rec, err)
		}
	}
	is, _ := srv.Stored("OPS-2")
	if is.Comments[0].Body != "use *[REDACTED by rekey INC-7]* for now" {
		t.Errorf("stored comment %q", is.Comments[0].Body)
	}
	if is, _ := srv.Stored("OPS-3"); is.Fields["description"] != "h2. Setup\n{code}STRIPE_KEY=[REDACTED by rekey INC-7]{code}" {
		t.Errorf("stored description %q", is.Fields["description"])
	}
	if n := srv.Requests("serverInfo"); n != 2 {
		t.Errorf("serverInfo asked %d times, want once per client", n)
	}
}
