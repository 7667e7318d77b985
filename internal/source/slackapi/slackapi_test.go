package slackapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/source"
	"github.com/rekeyhq/rekey/internal/source/httpapi"
	"github.com/rekeyhq/rekey/internal/source/slackapi"
	"github.com/rekeyhq/rekey/internal/source/slackapi/slackapitest"
)

const (
	token = "xoxb-1111-2222-livetesttoken"
	leak  = "postgres://etl:Zq8vN3kP2wLx@pg-main:5432/route"
	self  = "U0BOT"
)

// workspace is 3 channels (one the bot is not in), a DM, 7 messages in
// #deploys and a thread whose second reply holds the secret.
func workspace(t *testing.T) *slackapitest.Server {
	t.Helper()
	deploys := &slackapitest.Channel{ID: "C01DEPLOYS", Name: "deploys", Member: true}
	for i := 1; i <= 7; i++ {
		deploys.Messages = append(deploys.Messages, slackapitest.Message{TS: slackapitest.TS(i), User: "U0ALICE", Text: fmt.Sprintf("deploy %d done", i)})
	}
	deploys.Messages = append(deploys.Messages,
		slackapitest.Message{TS: slackapitest.TS(10), User: self, Text: "db creds for the migration?"},
		slackapitest.Message{TS: slackapitest.TS(11), ThreadTS: slackapitest.TS(10), User: "U0ALICE", Text: "ask ops"},
		slackapitest.Message{TS: slackapitest.TS(12), ThreadTS: slackapitest.TS(10), User: self, Text: "found it:\nDATABASE_URL=" + strings.ReplaceAll(leak, "&", "&amp;") + " (rotate after)"},
	)
	s := &slackapitest.Server{Token: token, Self: self, MaxLimit: 3, Channels: []*slackapitest.Channel{
		deploys,
		{ID: "C02RANDOM", Name: "random", Member: true, Messages: []slackapitest.Message{{TS: slackapitest.TS(3), User: "U0ALICE", Text: "lunch?"},
			{TS: slackapitest.TS(6), User: self, Text: "deploy bot: config pushed",
				Blocks:      []any{map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": "*config* `" + strings.ReplaceAll(leak, "&", "&amp;") + "`"}}},
				Attachments: []map[string]any{{"color": "#36a64f", "fields": []any{map[string]any{"title": "DSN", "value": leak}}}}}}},
		{ID: "C03SECRET", Name: "ops-private", Private: true, Member: true, Messages: []slackapitest.Message{
			{TS: slackapitest.TS(4), User: "U0ALICE", Text: "see attachment", Attachments: []map[string]any{{"fallback": "conn " + leak, "text": "conn " + leak}}}}},
		{ID: "C04OUTSIDE", Name: "outside", Member: false},
		{ID: "D05DM", IM: true, User: "U0ALICE", Messages: []slackapitest.Message{{TS: slackapitest.TS(5), User: self, Text: "here you go " + leak}}},
	}}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

type chunk struct {
	Path, Ref, Text string
	Class           source.Class
}

func collect(t *testing.T, s source.Source) ([]chunk, []string, error) {
	t.Helper()
	var mu sync.Mutex
	var out []chunk
	err := s.Walk(context.Background(), func(ch source.Chunk) error {
		mu.Lock()
		defer mu.Unlock()
		out = append(out, chunk{ch.Loc.Path, ch.Loc.Ref, string(ch.Data), ch.Loc.Class})
		return nil
	})
	return out, nil, err
}

func client(s *slackapitest.Server, tok string, slept *[]time.Duration) *slackapi.Client {
	return &slackapi.Client{URL: s.URL(), Token: secret.FromString(tok), PageSize: 2, Limits: httpapi.Limits{
		Sleep: func(_ context.Context, d time.Duration) error { *slept = append(*slept, d); return nil },
	}}
}

func TestWalkReadsEveryPageAndThread(t *testing.T) {
	srv := workspace(t)
	var slept []time.Duration
	var fileErrs []string
	src := slackapi.New(slackapi.Options{Client: client(srv, token, &slept), OnError: func(e *source.FileError) { fileErrs = append(fileErrs, e.Error()) }})
	got, _, err := collect(t, src)
	if err != nil {
		t.Fatal(err)
	}
	refs := map[string]chunk{}
	for _, c := range got {
		refs[c.Ref+" "+c.Text] = c
		if c.Class != source.ClassChat {
			t.Errorf("%s: class %s", c.Ref, c.Class)
		}
	}
	// 10 in #deploys (history over 5 pages of 2, the thread's 3 over 2
	// pages), 3 in #random (the bot's text and block: its attachment
	// field repeats part of the block), 1 attachment text (its fallback
	// repeats it), the attachment's message text, and the DM.
	if len(got) != 16 {
		t.Errorf("got %d chunks, want 16: %v", len(got), got)
	}
	if _, ok := refs["#random@"+slackapitest.TS(6)+" *config* `"+leak+"`"]; !ok {
		t.Errorf("block text not read: %v", got)
	}
	reply := refs["#deploys@"+slackapitest.TS(12)+" found it:\nDATABASE_URL="+leak+" (rotate after)"]
	if reply.Path != "slack:#deploys" {
		t.Errorf("thread reply holding the secret not emitted as typed (entities decoded) with path slack:#deploys: %+v", got)
	}
	if _, ok := refs["#D05DM@"+slackapitest.TS(5)+" here you go "+leak]; !ok {
		t.Errorf("DM not read: %v", got)
	}
	if _, ok := refs["#ops-private@"+slackapitest.TS(4)+" conn "+leak]; !ok {
		t.Errorf("private channel attachment not read: %v", got)
	}
	if diff := cmp.Diff([]string{"slack:#outside: not a member: invite the app to scan it"}, fileErrs); diff != "" {
		t.Errorf("per-conversation problems (-want +got):\n%s", diff)
	}
	if n := srv.Requests("conversations.list"); n != 3 {
		t.Errorf("conversations.list called %d times, want 3 pages of 2", n)
	}
}

func TestChunkLineIsLineInMessage(t *testing.T) {
	ch := slackapi.Chunks(slackapi.Conversation{ID: "C1", Name: "deploys"}, slackapi.Message{TS: "1700000012.000100", Text: "a\nb " + leak})
	if len(ch) != 1 {
		t.Fatal(ch)
	}
	line, col := source.Position(ch[0].Data, strings.Index(string(ch[0].Data), leak), ch[0].Loc)
	if line != 2 || col != 3 || ch[0].Loc.Time.Unix() != 1700000012 {
		t.Errorf("position %d:%d time %v, want 2:3 at 1700000012", line, col, ch[0].Loc.Time)
	}
}

func TestRateLimitHonoursRetryAfter(t *testing.T) {
	srv := workspace(t)
	srv.Limited = map[string]int{"conversations.history": 2, "conversations.list": 1}
	srv.RetryAfter = 7
	var slept []time.Duration
	got, _, err := collect(t, slackapi.New(slackapi.Options{Client: client(srv, token, &slept)}))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 16 {
		t.Errorf("got %d chunks after rate limits, want 16", len(got))
	}
	if diff := cmp.Diff([]time.Duration{7 * time.Second, 7 * time.Second, 7 * time.Second}, slept); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
}

func TestRateLimitBounded(t *testing.T) {
	srv := workspace(t)
	srv.Limited = map[string]int{"conversations.list": 1}
	srv.RetryAfter = 3600
	var slept []time.Duration
	_, _, err := collect(t, slackapi.New(slackapi.Options{Client: client(srv, token, &slept)}))
	if err == nil || len(slept) != 0 || err.Error() != "slack conversations.list: rate limited: HTTP 429 after 1 tries (Retry-After 1h0m0s)" {
		t.Errorf("a Retry-After of an hour: err %v, slept %v; want one error without waiting", err, slept)
	}
}

func TestInvalidTokenOneClearError(t *testing.T) {
	srv := workspace(t)
	bad := "xoxb-9999-wrong-tokenvalue"
	var slept []time.Duration
	_, _, err := collect(t, slackapi.New(slackapi.Options{Client: client(srv, bad, &slept)}))
	if err == nil {
		t.Fatal("walk with a wrong token succeeded")
	}
	want := "slack conversations.list: invalid_auth: the token was refused (revoked, expired or mistyped)"
	if err.Error() != want || strings.Contains(err.Error(), bad) || errs.KindOf(err) != errs.Permission {
		t.Errorf("error %q (kind %v), want %q of kind Permission", err, errs.KindOf(err), want)
	}
}

func TestMissingScopeNamesNeeded(t *testing.T) {
	srv := workspace(t)
	srv.MissingScope = map[string]string{"conversations.history": "channels:history"}
	var slept []time.Duration
	var fileErrs []string
	_, _, err := collect(t, slackapi.New(slackapi.Options{Client: client(srv, token, &slept), OnError: func(e *source.FileError) { fileErrs = append(fileErrs, e.Error()) }}))
	if err != nil {
		t.Fatal(err)
	}
	want := "slack:#deploys: slack conversations.history #deploys: missing_scope: the token lacks the scope channels:history"
	if len(fileErrs) == 0 || fileErrs[0] != want {
		t.Errorf("problems %q, want first %q", fileErrs, want)
	}
}

func redactor(srv *slackapitest.Server) *slackapi.Redactor {
	var slept []time.Duration
	return &slackapi.Redactor{Client: client(srv, token, &slept), Secret: secret.FromString(leak), Replacement: "[REDACTED by rekey INC-7]"}
}

func TestRedactThreadReply(t *testing.T) {
	srv := workspace(t)
	r := redactor(srv)
	ctx := context.Background()
	ref := "#deploys@" + slackapitest.TS(12)
	if clean, err := r.Clean(ctx, ref); err != nil || clean {
		t.Fatalf("before: clean %v, %v", clean, err)
	}
	rec, err := r.Redact(ctx, ref, false)
	if err != nil {
		t.Fatal(err)
	}
	want := "found it:\nDATABASE_URL=[REDACTED by rekey INC-7] (rotate after)"
	if rec.Action != "update" || rec.After != want || rec.Object != "slack:#deploys@"+slackapitest.TS(12) || len(rec.BeforeSHA256) != 64 {
		t.Errorf("record %+v", rec)
	}
	m, ok := srv.Message("C01DEPLOYS", slackapitest.TS(12))
	if !ok || m.Text != want {
		t.Errorf("stored message %q, want %q", m.Text, want)
	}
	if clean, err := r.Clean(ctx, ref); err != nil || !clean {
		t.Errorf("after: clean %v, %v", clean, err)
	}
	again, err := r.Redact(ctx, ref, false)
	if err != nil || again.Action != "none" {
		t.Errorf("second redact: %+v, %v; want none", again, err)
	}
	// A re-walk finds no copy.
	var slept []time.Duration
	got, _, _ := collect(t, slackapi.New(slackapi.Options{Client: client(srv, token, &slept)}))
	for _, c := range got {
		if strings.Contains(c.Text, leak) && c.Ref == ref {
			t.Errorf("re-walk still finds %s", c.Ref)
		}
	}
}

func TestRedactBlocksAndAttachments(t *testing.T) {
	srv := workspace(t)
	r := redactor(srv)
	ref := "#random@" + slackapitest.TS(6)
	rec, err := r.Redact(context.Background(), ref, false)
	if err != nil || rec.Action != "update" {
		t.Fatalf("%+v, %v", rec, err)
	}
	m, _ := srv.Message("C02RANDOM", slackapitest.TS(6))
	b, _ := json.Marshal(m)
	if strings.Contains(string(b), "Zq8vN3kP2wLx") || !strings.Contains(string(b), "#36a64f") || !strings.Contains(string(b), "*config* `[REDACTED by rekey INC-7]`") {
		t.Errorf("stored message %s: want the secret gone from blocks and attachments, the rest kept", b)
	}
}

func TestDeleteWhereTextCannotBeEdited(t *testing.T) {
	srv := workspace(t)
	r := redactor(srv)
	ctx := context.Background()
	rec, err := r.Redact(ctx, "#D05DM@"+slackapitest.TS(5), true)
	if err != nil || rec.Action != "delete" {
		t.Fatalf("%+v, %v", rec, err)
	}
	if _, ok := srv.Message("D05DM", slackapitest.TS(5)); ok {
		t.Error("message still stored after chat.delete")
	}
	if clean, err := r.Clean(ctx, "#D05DM@"+slackapitest.TS(5)); err != nil || !clean {
		t.Errorf("re-read after delete: %v, %v", clean, err)
	}
}

func TestRedactSomeoneElsesMessage(t *testing.T) {
	srv := workspace(t)
	_, err := redactor(srv).Redact(context.Background(), "#ops-private@"+slackapitest.TS(4), false)
	want := "slack chat.update #ops-private: cant_update_message: only the message's author (or a workspace admin's user token) may change it"
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}
