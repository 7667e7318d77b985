package slackapi

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/source"
)

// Options configure a live Slack walk.
type Options struct {
	Client *Client
	// OnError receives the conversations that could not be read (the bot
	// is not in a channel, a scope is missing for DMs); the walk goes on.
	OnError source.ErrorFunc
}

// Source walks a workspace through the Web API.
type Source struct{ opts Options }

// New returns a live Slack source. It calls nothing: a bad token shows at
// Walk, as one error.
func New(opts Options) *Source {
	if opts.OnError == nil {
		opts.OnError = func(*source.FileError) {}
	}
	return &Source{opts: opts}
}

// PathOf is the Location.Path of a conversation's messages: "slack:#name"
// ("slack:#D0123" for a DM). A live message has no file; this names the
// API object, and Line and Column are positions in the message's text.
func PathOf(label string) string { return "slack:#" + label }

// Walk lists the conversations, then reads each one's history and every
// thread in it. A conversation that cannot be read is passed to OnError;
// a list that cannot be read (a refused token) ends the walk.
func (s *Source) Walk(ctx context.Context, emit func(source.Chunk) error) error {
	convs, err := s.opts.Client.Conversations(ctx)
	if err != nil {
		return err
	}
	for _, conv := range convs {
		if conv.IsMember != nil && !*conv.IsMember && !conv.IsIM && !conv.IsMPIM {
			// A public channel the token's bot is not in: history
			// would fail with not_in_channel.
			s.opts.OnError(&source.FileError{Path: PathOf(conv.Label()), Err: errors.New("not a member: invite the app to scan it")})
			continue
		}
		err := s.conversation(ctx, conv, emit)
		var st source.Stop
		switch {
		case err == nil:
		case errors.As(err, &st):
			return st.Err
		case ctx.Err() != nil:
			return ctx.Err()
		default:
			s.opts.OnError(&source.FileError{Path: PathOf(conv.Label()), Err: err})
		}
	}
	return nil
}

func (s *Source) conversation(ctx context.Context, conv Conversation, emit func(source.Chunk) error) error {
	seen := map[string]bool{}
	send := func(m Message) error {
		if seen[m.TS] {
			return nil
		}
		seen[m.TS] = true
		for _, ch := range Chunks(conv, m) {
			if err := emit(ch); err != nil {
				return source.Stop{Err: err}
			}
		}
		return nil
	}
	return s.opts.Client.History(ctx, conv, func(page []Message) error {
		for _, m := range page {
			if err := send(m); err != nil {
				return err
			}
			if m.ReplyCount == 0 && (m.ThreadTS == "" || m.ThreadTS != m.TS) {
				continue
			}
			err := s.opts.Client.Replies(ctx, conv, m.TS, func(replies []Message) error {
				for _, r := range replies {
					if err := send(r); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
}

var entities = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">")

// Texts are a message's texts as its author typed them: its text,
// attachments' texts and field values (mrkdwn, unescaped) and its files'
// names, titles and previews, the texts in its blocks, without those
// another of them contains.
func Texts(m Message) []string {
	var out []string
	add := func(s string, mrkdwn bool) {
		if mrkdwn {
			s = entities.Replace(s)
		}
		if s != "" {
			out = append(out, s)
		}
	}
	add(m.Text, true)
	for _, a := range m.Attachments {
		for _, t := range []string{a.Text, a.Fallback, a.Pretext, a.Title} {
			add(t, true)
		}
		for _, f := range a.Fields {
			add(f.Value, true)
		}
	}
	for _, f := range m.Files {
		add(f.Name, false)
		add(f.Title, false)
		add(f.Preview, false)
	}
	blocks, _ := m.structured()
	blockTexts(blocks, add)
	return uncovered(out)
}

// blockTexts finds every string under a "text" key in a message's blocks,
// at any depth (rich_text elements, section and header text objects); a
// mrkdwn text object is unescaped as message text is.
func blockTexts(v any, add func(string, bool)) {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			blockTexts(e, add)
		}
	case map[string]any:
		for k, e := range x {
			if t, ok := e.(string); ok && k == "text" {
				add(t, x["type"] == "mrkdwn")
				continue
			}
			blockTexts(e, add)
		}
	}
}

// uncovered drops the texts that are part of a longer one: an
// attachment's fallback repeats its text, and one copy of a secret is
// reported once, as the export reader does.
func uncovered(texts []string) []string {
	var out []string
next:
	for i, t := range texts {
		for j, u := range texts {
			if i != j && strings.Contains(u, t) && (len(u) > len(t) || j < i) {
				continue next
			}
		}
		out = append(out, t)
	}
	return out
}

// Chunks are the chunks of one message, with the export reader's ref.
func Chunks(conv Conversation, m Message) []source.Chunk {
	var out []source.Chunk
	for _, t := range Texts(m) {
		out = append(out, source.Chunk{Data: []byte(t), Loc: source.Location{
			Path: PathOf(conv.Label()), Line: 1, Column: 1, Class: source.ClassChat,
			Ref: "#" + conv.Label() + "@" + m.TS, AtHead: true, Time: tsTime(m.TS),
		}})
	}
	return out
}

// tsTime is a Slack timestamp ("seconds.micros") as a time.
func tsTime(ts string) time.Time {
	secs, frac, _ := strings.Cut(ts, ".")
	s, err := strconv.ParseInt(secs, 10, 64)
	if err != nil || s <= 0 {
		return time.Time{}
	}
	us, _ := strconv.ParseInt((frac + "000000")[:6], 10, 64)
	return time.Unix(s, us*1000).UTC()
}
