// Package slackapi is the live Slack source and its remediation client. It
// reads a workspace through the Web API as the token's user or bot sees
// it — conversations.list (public and private channels, DMs and group
// DMs), conversations.history and conversations.replies for threads — and
// emits one chunk per text of each message, as the export reader
// (internal/source/slack) does, with the same refs ("#channel@ts") and
// class chat. A Redactor edits (chat.update) or deletes (chat.delete) a
// message holding a secret and re-reads it to prove the copy gone.
//
// Requests use net/http with typed responses rather than
// github.com/slack-go/slack: rekey needs six methods, its own bounded and
// injectable 429 handling (internal/source/httpapi, shared with the Jira
// source) and errors that name the method and channel; a client library
// would add a module and still leave those to write.
package slackapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/source/httpapi"
)

// DefaultURL is the Web API's base URL.
const DefaultURL = "https://slack.com/api"

// Client calls Slack's Web API with one token.
type Client struct {
	// URL is the API's base URL (DefaultURL when empty); tests point it at
	// slackapitest.
	URL   string
	Token secret.Secret
	HTTP  *http.Client
	// Limits bound the waits for rate limits (HTTP 429, Retry-After).
	Limits httpapi.Limits
	// PageSize is the limit sent with paginated calls (default 200, the
	// size Slack recommends).
	PageSize int
}

// APIError is a response with "ok": false.
type APIError struct {
	Method  string
	Channel string // "#name" when the call was about one
	Code    string // Slack's error string: not_in_channel, invalid_auth…
	Needed  string // missing_scope: the scopes the method needs
}

func (e *APIError) Error() string {
	where := "slack " + e.Method
	if e.Channel != "" {
		where += " " + e.Channel
	}
	return where + ": " + e.Code + explain(e)
}

func explain(e *APIError) string {
	switch e.Code {
	case "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired":
		return ": the token was refused (revoked, expired or mistyped)"
	case "missing_scope":
		return ": the token lacks the scope " + e.Needed
	case "not_in_channel":
		return ": the token's user or bot is not a member of it (invite it, or use a user token)"
	case "channel_not_found":
		return ": no such conversation, or the token cannot see it"
	case "ratelimited":
		return ": rate limited"
	case "cant_update_message", "cant_delete_message", "edit_window_closed":
		return ": only the message's author (or a workspace admin's user token) may change it"
	case "message_not_found", "thread_not_found":
		return ": no such message"
	}
	return ""
}

func (e *APIError) kind() errs.Kind {
	switch e.Code {
	case "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "missing_scope",
		"not_in_channel", "cant_update_message", "cant_delete_message", "edit_window_closed":
		return errs.Permission
	case "channel_not_found", "message_not_found", "thread_not_found":
		return errs.NotFound
	case "ratelimited":
		return errs.Unreachable
	}
	return errs.Other
}

// envelope is what every Web API response has.
type envelope struct {
	OK       bool   `json:"ok"`
	Error    string `json:"error"`
	Needed   string `json:"needed"`
	Metadata struct {
		NextCursor string `json:"next_cursor"`
	} `json:"response_metadata"`
}

// Conversation is an entry of conversations.list.
type Conversation struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	IsIM      bool   `json:"is_im"`
	IsMPIM    bool   `json:"is_mpim"`
	IsPrivate bool   `json:"is_private"`
	IsMember  *bool  `json:"is_member"`
	User      string `json:"user"` // the other party of a DM
}

// Label is how refs name the conversation: its name, or for a DM its id
// (the export reader uses the DM's folder name, which is its id too).
func (c Conversation) Label() string {
	if c.Name != "" {
		return c.Name
	}
	return c.ID
}

// Message is a message of conversations.history or .replies.
type Message struct {
	Type        string       `json:"type"`
	Subtype     string       `json:"subtype"`
	User        string       `json:"user"`
	Text        string       `json:"text"`
	TS          string       `json:"ts"`
	ThreadTS    string       `json:"thread_ts"`
	ReplyCount  int          `json:"reply_count"`
	Attachments []Attachment `json:"attachments"`
	Files       []File       `json:"files"`
	// raw is the message as received: its blocks and attachments are
	// sent back whole, the secret replaced, when it is redacted.
	raw []byte
}

// UnmarshalJSON keeps the raw message beside its typed fields.
func (m *Message) UnmarshalJSON(b []byte) error {
	type plain Message
	if err := json.Unmarshal(b, (*plain)(m)); err != nil {
		return err
	}
	m.raw = append([]byte(nil), b...)
	return nil
}

// structured returns the message's blocks and attachments as received
// (nil when it has none).
func (m Message) structured() (blocks, attachments any) {
	var r struct {
		Blocks      any `json:"blocks"`
		Attachments any `json:"attachments"`
	}
	_ = json.Unmarshal(m.raw, &r)
	return r.Blocks, r.Attachments
}

// Attachment is a legacy message attachment.
type Attachment struct {
	Text     string `json:"text"`
	Fallback string `json:"fallback"`
	Pretext  string `json:"pretext"`
	Title    string `json:"title"`
	Fields   []struct {
		Value string `json:"value"`
	} `json:"fields"`
}

// File is a file shared in a message: its name, title and preview.
type File struct {
	Name    string `json:"name"`
	Title   string `json:"title"`
	Preview string `json:"preview"`
}

func (c *Client) base() string {
	if c.URL == "" {
		return DefaultURL
	}
	return strings.TrimSuffix(c.URL, "/")
}

// call POSTs form to method and decodes the response into out, whose
// envelope it checks. channel names the conversation in errors.
func (c *Client) call(ctx context.Context, method, channel string, form url.Values, out interface{ env() *envelope }) error {
	op := "slack " + method
	if channel != "" {
		op += " " + channel
	}
	tok := string(c.Token.Reveal())
	resp, err := httpapi.Do(ctx, c.HTTP, c.Limits, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base()+"/"+method, strings.NewReader(form.Encode()))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+tok)
		return req, nil
	})
	if err != nil {
		kind := errs.Unreachable
		return errs.New(op, kind, "", httpapi.Scrub(err.Error(), tok))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return errs.New(op, errs.Unreachable, "", httpapi.Scrub(err.Error(), tok))
	}
	if err := json.Unmarshal(body, out); err != nil {
		return errs.New(op, errs.Invalid, "", fmt.Sprintf("HTTP %d: the response is not Web API JSON", resp.StatusCode))
	}
	env := out.env()
	if !env.OK {
		ae := &APIError{Method: method, Channel: channel, Code: env.Error, Needed: env.Needed}
		if ae.Code == "" {
			ae.Code = fmt.Sprintf("HTTP %d", resp.StatusCode)
		}
		return errs.E("", ae.kind(), "", ae)
	}
	return nil
}

func (e *envelope) env() *envelope { return e }

type listResp struct {
	envelope
	Channels []Conversation `json:"channels"`
}

type historyResp struct {
	envelope
	Messages []Message `json:"messages"`
	HasMore  bool      `json:"has_more"`
}

// Conversations lists every conversation the token can see, page by page.
func (c *Client) Conversations(ctx context.Context) ([]Conversation, error) {
	var out []Conversation
	cursor := ""
	for {
		form := url.Values{"types": {"public_channel,private_channel,im,mpim"}, "limit": {c.limit()}, "exclude_archived": {"false"}}
		if cursor != "" {
			form.Set("cursor", cursor)
		}
		var r listResp
		if err := c.call(ctx, "conversations.list", "", form, &r); err != nil {
			return nil, err
		}
		out = append(out, r.Channels...)
		if cursor = r.Metadata.NextCursor; cursor == "" {
			return out, nil
		}
	}
}

func (c *Client) limit() string {
	if c.PageSize > 0 {
		return fmt.Sprint(c.PageSize)
	}
	return "200"
}

// History calls fn with each page of a conversation's messages, newest
// first, as conversations.history returns them.
func (c *Client) History(ctx context.Context, conv Conversation, fn func([]Message) error) error {
	return c.pages(ctx, "conversations.history", conv, url.Values{"channel": {conv.ID}}, fn)
}

// Replies calls fn with each page of a thread: its parent message first,
// then the replies. ts may be the parent's or any reply's.
func (c *Client) Replies(ctx context.Context, conv Conversation, ts string, fn func([]Message) error) error {
	return c.pages(ctx, "conversations.replies", conv, url.Values{"channel": {conv.ID}, "ts": {ts}}, fn)
}

func (c *Client) pages(ctx context.Context, method string, conv Conversation, form url.Values, fn func([]Message) error) error {
	form.Set("limit", c.limit())
	for {
		var r historyResp
		if err := c.call(ctx, method, "#"+conv.Label(), form, &r); err != nil {
			return err
		}
		if err := fn(r.Messages); err != nil {
			return err
		}
		next := r.Metadata.NextCursor
		if next == "" {
			return nil
		}
		form.Set("cursor", next)
	}
}

// Update replaces a message's text (chat.update), and its blocks and
// attachments when given (nil leaves them as they are). Only its author's
// token (or an admin's user token) may.
func (c *Client) Update(ctx context.Context, conv Conversation, ts, text string, blocks, attachments any) error {
	form := url.Values{"channel": {conv.ID}, "ts": {ts}, "text": {text}}
	for k, v := range map[string]any{"blocks": blocks, "attachments": attachments} {
		if v == nil {
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		form.Set(k, string(b))
	}
	var r envelope
	return c.call(ctx, "chat.update", "#"+conv.Label(), form, &r)
}

// Delete deletes a message (chat.delete).
func (c *Client) Delete(ctx context.Context, conv Conversation, ts string) error {
	var r envelope
	return c.call(ctx, "chat.delete", "#"+conv.Label(), url.Values{"channel": {conv.ID}, "ts": {ts}}, &r)
}
