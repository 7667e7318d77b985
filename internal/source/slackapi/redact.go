package slackapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/source"
)

var _ source.Redactor = (*Redactor)(nil)

// Redactor takes a secret's copies out of messages through the Web API.
// It acts on what it is given: whether a message may be changed (the
// engine's approval) is decided before it is called.
type Redactor struct {
	Client *Client
	Secret secret.Secret
	// Replacement stands in for the secret in an edited message, like
	// "[REDACTED by rekey INC-42]".
	Replacement string

	once  sync.Once
	convs map[string]Conversation
	err   error
}

// conversation finds the conversation a ref's "#label" names.
func (r *Redactor) conversation(ctx context.Context, label string) (Conversation, error) {
	r.once.Do(func() {
		var cs []Conversation
		cs, r.err = r.Client.Conversations(ctx)
		r.convs = map[string]Conversation{}
		for _, c := range cs {
			r.convs[c.Label()] = c
			r.convs[c.ID] = c
		}
	})
	if r.err != nil {
		return Conversation{}, r.err
	}
	c, ok := r.convs[label]
	if !ok {
		return Conversation{}, errs.New("slack", errs.NotFound, "#"+label, "no such conversation visible to the token")
	}
	return c, nil
}

// ParseRef splits "#label@ts" (a finding's ref).
func ParseRef(ref string) (label, ts string, err error) {
	label, ts, ok := strings.Cut(strings.TrimPrefix(ref, "#"), "@")
	if !ok || label == "" || ts == "" || !strings.HasPrefix(ref, "#") {
		return "", "", errs.New("slack", errs.Invalid, ref, `not a message ref: want "#channel@ts"`)
	}
	return label, ts, nil
}

// read fetches one message by its ts (a thread's parent, a reply or a
// message outside threads); found is false when it no longer exists.
func (r *Redactor) read(ctx context.Context, conv Conversation, ts string) (m Message, found bool, err error) {
	err = r.Client.Replies(ctx, conv, ts, func(page []Message) error {
		for _, x := range page {
			if x.TS == ts {
				m, found = x, true
			}
		}
		return nil
	})
	var ae *APIError
	if errors.As(err, &ae) && (ae.Code == "message_not_found" || ae.Code == "thread_not_found") {
		return Message{}, false, nil
	}
	return m, found, err
}

func (r *Redactor) holds(m Message) bool {
	for _, t := range Texts(m) {
		if bytes.Contains([]byte(t), r.Secret.Reveal()) {
			return true
		}
	}
	return false
}

// Redact removes the secret from the message ref names: its text, blocks
// and attachments are updated with the secret replaced (chat.update), or,
// with del, the message is deleted (chat.delete, the policy for a
// message whose shared files hold the secret, which chat.update cannot
// edit).
// A message already clean or gone is left alone (Action none): Redact is
// idempotent. The message is read again afterwards and an error returned
// when it still holds the secret.
func (r *Redactor) Redact(ctx context.Context, ref string, del bool) (source.Redaction, error) {
	label, ts, err := ParseRef(ref)
	if err != nil {
		return source.Redaction{}, err
	}
	conv, err := r.conversation(ctx, label)
	if err != nil {
		return source.Redaction{}, err
	}
	rec := source.Redaction{Object: PathOf(label) + "@" + ts, Action: "none"}
	m, found, err := r.read(ctx, conv, ts)
	if err != nil {
		return rec, err
	}
	if !found || !r.holds(m) {
		if found {
			rec.After = m.Text
		}
		return rec, nil
	}
	rec.BeforeSHA256 = source.TextHash(m.Text)
	if del {
		rec.Action = "delete"
		if err := r.Client.Delete(ctx, conv, ts); err != nil {
			return rec, err
		}
	} else {
		rec.Action = "update"
		rec.After = r.replace(m.Text)
		blocks, attachments := m.structured()
		if err := r.Client.Update(ctx, conv, ts, rec.After, r.replaceAll(blocks), r.replaceAll(attachments)); err != nil {
			return rec, err
		}
	}
	clean, err := r.Clean(ctx, ref)
	if err != nil {
		return rec, err
	}
	if !clean {
		return rec, errs.New("slack", errs.Invalid, rec.Object, "the message still holds the secret after "+rec.Action+" (in an attachment or file?): delete it instead")
	}
	return rec, nil
}

// replace puts the replacement where the secret is in a message's raw
// text, as typed or with & < > escaped as Slack stores them.
func (r *Redactor) replace(text string) string {
	s := string(r.Secret.Reveal())
	text = strings.ReplaceAll(text, s, r.Replacement)
	if esc := escape(s); esc != s {
		text = strings.ReplaceAll(text, esc, r.Replacement)
	}
	return text
}

// replaceAll replaces the secret in every string of a JSON tree (a
// message's blocks or attachments).
func (r *Redactor) replaceAll(v any) any {
	switch x := v.(type) {
	case string:
		return r.replace(x)
	case []any:
		for i := range x {
			x[i] = r.replaceAll(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = r.replaceAll(x[k])
		}
	}
	return v
}

func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// Clean re-reads the message ref names and reports whether it no longer
// holds the secret (or no longer exists): the check that lets a
// remediation task be marked done.
func (r *Redactor) Clean(ctx context.Context, ref string) (bool, error) {
	label, ts, err := ParseRef(ref)
	if err != nil {
		return false, err
	}
	conv, err := r.conversation(ctx, label)
	if err != nil {
		return false, err
	}
	m, found, err := r.read(ctx, conv, ts)
	if err != nil {
		return false, fmt.Errorf("re-read %s: %w", ref, err)
	}
	return !found || !r.holds(m), nil
}
