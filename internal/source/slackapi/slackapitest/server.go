// Package slackapitest is a Slack Web API server for tests, written from
// Slack's method reference (api.slack.com/methods): conversations.list,
// conversations.history, conversations.replies, chat.update and
// chat.delete, with cursor pagination (response_metadata.next_cursor),
// "ok": false errors (invalid_auth, not_in_channel, missing_scope with
// needed, channel_not_found, thread_not_found, cant_update_message) and
// HTTP 429 with Retry-After. The token is checked on every request. It
// does not import the client it tests.
package slackapitest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Message is a stored message; a thread reply has ThreadTS set to its
// parent's ts.
type Message struct {
	TS, ThreadTS, User, Text string
	// Attachments and Blocks are sent as they are.
	Attachments []map[string]any
	Blocks      []any
}

// Channel is a stored conversation.
type Channel struct {
	ID, Name                  string
	Private, IM, MPIM, Member bool
	User                      string // the other party of a DM
	Messages                  []Message
}

// Server is a workspace. Configure it before Start; read it through
// Message and Requests afterwards.
type Server struct {
	// Token is what the Authorization header must carry as a Bearer
	// token (or the form's token parameter).
	Token string
	// Self is the token's user: only its messages may be updated or
	// deleted.
	Self     string
	Channels []*Channel
	// Scopes missing: method → the scope missing_scope names as needed.
	MissingScope map[string]string
	// Limited: method → how many of its next calls answer 429 with
	// Retry-After: RetryAfter seconds.
	Limited    map[string]int
	RetryAfter int
	// MaxLimit caps the page size a caller may ask for (default 1000, as
	// Slack's methods do).
	MaxLimit int

	mu       sync.Mutex
	requests map[string]int
	srv      *httptest.Server
}

// Start serves the API; URL() is its base, like https://slack.com/api.
func (s *Server) Start() {
	s.requests = map[string]int{}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// URL is the API base URL.
func (s *Server) URL() string { return s.srv.URL + "/api" }

// Requests is how many calls of method were answered (429s included).
func (s *Server) Requests(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[method]
}

// Message returns the stored message, if it still exists.
func (s *Server) Message(channel, ts string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.Channels {
		if c.ID != channel {
			continue
		}
		for _, m := range c.Messages {
			if m.TS == ts {
				return m, true
			}
		}
	}
	return Message{}, false
}

func reply(w http.ResponseWriter, v map[string]any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, code string) {
	reply(w, map[string]any{"ok": false, "error": code})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	method, ok := strings.CutPrefix(r.URL.Path, "/api/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		fail(w, "invalid_form_data")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[method]++
	if s.Limited[method] > 0 {
		s.Limited[method]--
		w.Header().Set("Retry-After", strconv.Itoa(s.RetryAfter))
		w.WriteHeader(http.StatusTooManyRequests)
		reply(w, map[string]any{"ok": false, "error": "ratelimited"})
		return
	}
	tok, bearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !bearer {
		tok = r.Form.Get("token")
	}
	switch {
	case tok == "":
		fail(w, "not_authed")
		return
	case tok != s.Token:
		fail(w, "invalid_auth")
		return
	}
	if need := s.MissingScope[method]; need != "" {
		reply(w, map[string]any{"ok": false, "error": "missing_scope", "needed": need, "provided": "channels:read"})
		return
	}
	switch method {
	case "conversations.list":
		s.list(w, r)
	case "conversations.history":
		s.history(w, r)
	case "conversations.replies":
		s.replies(w, r)
	case "chat.update", "chat.delete":
		s.change(w, r, method)
	default:
		fail(w, "unknown_method")
	}
}

func (s *Server) channel(w http.ResponseWriter, r *http.Request) *Channel {
	id := r.Form.Get("channel")
	for _, c := range s.Channels {
		if c.ID == id {
			if !c.Member && !c.IM && !c.MPIM {
				fail(w, "not_in_channel")
				return nil
			}
			return c
		}
	}
	fail(w, "channel_not_found")
	return nil
}

// page cuts items at the request's cursor and limit; the cursor is
// opaque to callers, base64 as Slack's are.
func (s *Server) page(r *http.Request, n int) (from, to int, next string, bad bool) {
	limit := 100
	if l := r.Form.Get("limit"); l != "" {
		v, err := strconv.Atoi(l)
		if err != nil || v < 1 {
			return 0, 0, "", true
		}
		limit = min(v, 1000)
		if s.MaxLimit > 0 {
			limit = min(limit, s.MaxLimit)
		}
	}
	if c := r.Form.Get("cursor"); c != "" {
		b, err := base64.StdEncoding.DecodeString(c)
		off, ok := strings.CutPrefix(string(b), "offset:")
		v, err2 := strconv.Atoi(off)
		if err != nil || !ok || err2 != nil || v < 0 || v > n {
			return 0, 0, "", true
		}
		from = v
	}
	to = min(from+limit, n)
	if to < n {
		next = base64.StdEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(to)))
	}
	return from, to, next, false
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	types := strings.Split(r.Form.Get("types"), ",")
	if r.Form.Get("types") == "" {
		types = []string{"public_channel"}
	}
	var cs []map[string]any
	for _, c := range s.Channels {
		typ := "public_channel"
		switch {
		case c.IM:
			typ = "im"
		case c.MPIM:
			typ = "mpim"
		case c.Private:
			typ = "private_channel"
		}
		if !slices.Contains(types, typ) {
			continue
		}
		o := map[string]any{"id": c.ID, "created": 1449252889, "is_im": c.IM, "is_mpim": c.MPIM,
			"is_private": c.Private || c.IM || c.MPIM, "is_channel": typ == "public_channel", "is_group": typ == "private_channel"}
		if c.IM {
			o["user"] = c.User
		} else {
			o["name"], o["is_member"] = c.Name, c.Member
		}
		cs = append(cs, o)
	}
	from, to, next, bad := s.page(r, len(cs))
	if bad {
		fail(w, "invalid_cursor")
		return
	}
	reply(w, map[string]any{"ok": true, "channels": orEmpty(cs[from:to]), "response_metadata": map[string]any{"next_cursor": next}})
}

func orEmpty(v []map[string]any) []map[string]any {
	if v == nil {
		return []map[string]any{}
	}
	return v
}

func (s *Server) wire(c *Channel, m Message) map[string]any {
	o := map[string]any{"type": "message", "user": m.User, "text": m.Text, "ts": m.TS}
	if m.ThreadTS != "" {
		o["thread_ts"] = m.ThreadTS
	}
	n := 0
	for _, x := range c.Messages {
		if x.ThreadTS == m.TS && x.TS != m.TS {
			n++
		}
	}
	if n > 0 {
		o["thread_ts"], o["reply_count"] = m.TS, n
	}
	if len(m.Attachments) > 0 {
		o["attachments"] = m.Attachments
	}
	if len(m.Blocks) > 0 {
		o["blocks"] = m.Blocks
	}
	return o
}

// history returns the conversation's messages outside threads and the
// threads' parents, newest first.
func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	c := s.channel(w, r)
	if c == nil {
		return
	}
	var ms []map[string]any
	for i := len(c.Messages) - 1; i >= 0; i-- {
		m := c.Messages[i]
		if m.ThreadTS == "" || m.ThreadTS == m.TS {
			ms = append(ms, s.wire(c, m))
		}
	}
	from, to, next, bad := s.page(r, len(ms))
	if bad {
		fail(w, "invalid_cursor")
		return
	}
	reply(w, map[string]any{"ok": true, "messages": orEmpty(ms[from:to]), "has_more": next != "", "pin_count": 0,
		"response_metadata": map[string]any{"next_cursor": next}})
}

// replies returns a thread, parent first; ts may be any message of it.
func (s *Server) replies(w http.ResponseWriter, r *http.Request) {
	c := s.channel(w, r)
	if c == nil {
		return
	}
	ts := r.Form.Get("ts")
	root := ""
	for _, m := range c.Messages {
		if m.TS == ts {
			root = cmpOr(m.ThreadTS, m.TS)
		}
	}
	if root == "" {
		fail(w, "thread_not_found")
		return
	}
	var ms []map[string]any
	for _, m := range c.Messages {
		if m.TS == root || m.ThreadTS == root {
			ms = append(ms, s.wire(c, m))
		}
	}
	from, to, next, bad := s.page(r, len(ms))
	if bad {
		fail(w, "invalid_cursor")
		return
	}
	reply(w, map[string]any{"ok": true, "messages": ms[from:to], "has_more": next != "",
		"response_metadata": map[string]any{"next_cursor": next}})
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (s *Server) change(w http.ResponseWriter, r *http.Request, method string) {
	c := s.channel(w, r)
	if c == nil {
		return
	}
	ts := r.Form.Get("ts")
	i := slices.IndexFunc(c.Messages, func(m Message) bool { return m.TS == ts })
	if i < 0 {
		fail(w, "message_not_found")
		return
	}
	if c.Messages[i].User != s.Self {
		fail(w, strings.Replace(method, "chat.", "cant_", 1)+"_message")
		return
	}
	if method == "chat.delete" {
		c.Messages = slices.Delete(c.Messages, i, i+1)
		reply(w, map[string]any{"ok": true, "channel": c.ID, "ts": ts})
		return
	}
	text := r.Form.Get("text")
	if text == "" && r.Form.Get("blocks") == "" && r.Form.Get("attachments") == "" {
		fail(w, "no_text")
		return
	}
	// blocks and attachments, JSON in the form, replace the message's
	// when given; left out, they are kept.
	if b := r.Form.Get("blocks"); b != "" {
		var blocks []any
		if json.Unmarshal([]byte(b), &blocks) != nil {
			fail(w, "invalid_blocks")
			return
		}
		c.Messages[i].Blocks = blocks
	}
	if a := r.Form.Get("attachments"); a != "" {
		var atts []map[string]any
		if json.Unmarshal([]byte(a), &atts) != nil {
			fail(w, "invalid_attachments")
			return
		}
		c.Messages[i].Attachments = atts
	}
	c.Messages[i].Text = text
	reply(w, map[string]any{"ok": true, "channel": c.ID, "ts": ts, "text": text,
		"message": map[string]any{"text": text, "user": s.Self}})
}

// TS makes the n-th message timestamp of a test: "1700000000.000100" on.
func TS(n int) string { return fmt.Sprintf("%d.%06d", 1700000000+n, 100) }
