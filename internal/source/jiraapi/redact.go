package jiraapi

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/source"
	"github.com/rekeyhq/rekey/internal/source/jira"
)

var _ source.Redactor = (*Redactor)(nil)

// Redactor takes a secret's copies out of issues and comments through the
// REST API. Jira keeps a comment's and a description's earlier versions
// in their history, visible to those who may see the issue: the edit
// takes the copy out of what people read, the rotation makes it useless.
type Redactor struct {
	Client      *Client
	Secret      secret.Secret
	Replacement string // like "[REDACTED by rekey INC-42]"
}

// ParseRef splits a finding's ref: "OPS-12" (the issue's fields) or
// "OPS-12#comment-10001".
func ParseRef(ref string) (key, comment string, err error) {
	key, part, _ := strings.Cut(ref, "#")
	if key == "" {
		return "", "", errs.New("jira", errs.Invalid, ref, `not an issue ref: want "KEY-1" or "KEY-1#comment-ID"`)
	}
	if part == "" {
		return key, "", nil
	}
	id, ok := strings.CutPrefix(part, "comment-")
	if !ok || id == "" {
		return "", "", errs.New("jira", errs.Unsupported, ref, "only an issue's fields and comments can be edited (worklogs and changelog entries cannot)")
	}
	return key, id, nil
}

// Redact replaces the secret in the comment or issue fields ref names: in
// each ADF text node and link (or in a plain v2 string), keeping the
// document's structure; where a copy spans nodes (half of it bold), the
// block is rewritten as plain text. del is not offered by Jira for issue
// fields, and for comments rekey edits rather than deletes (the thread
// stays readable), so it is ignored. The object is re-read afterwards.
func (r *Redactor) Redact(ctx context.Context, ref string, _ bool) (source.Redaction, error) {
	key, id, err := ParseRef(ref)
	if err != nil {
		return source.Redaction{}, err
	}
	rec := source.Redaction{Object: r.Client.PathOf(key), Action: "none"}
	if id != "" {
		rec.Object += "#comment-" + id
		cm, err := r.Client.Comment(ctx, key, id)
		if err != nil {
			return rec, err
		}
		before := texts(cm.Body)
		if !r.holds(before) {
			rec.After = before
			return rec, nil
		}
		body, after := r.redact(cm.Body)
		rec.Action, rec.BeforeSHA256, rec.After = "update", source.TextHash(before), after
		if err := r.Client.EditComment(ctx, key, id, body); err != nil {
			return rec, err
		}
	} else {
		is, err := r.Client.GetIssue(ctx, key)
		if err != nil {
			return rec, err
		}
		fields := map[string]any{}
		var befores, afters []string
		for _, f := range TextFields {
			raw := is.Fields[f]
			t := texts(raw)
			if !r.holds(t) {
				continue
			}
			v, after := r.redact(raw)
			fields[f] = v
			befores, afters = append(befores, t), append(afters, after)
		}
		if len(fields) == 0 {
			return rec, nil
		}
		rec.Action, rec.BeforeSHA256, rec.After = "update", source.TextHash(strings.Join(befores, "\n")), strings.Join(afters, "\n")
		if err := r.Client.EditFields(ctx, key, fields); err != nil {
			return rec, err
		}
	}
	clean, err := r.Clean(ctx, ref)
	if err != nil {
		return rec, err
	}
	if !clean {
		return rec, errs.New("jira", errs.Invalid, rec.Object, "still holds the secret after the edit")
	}
	return rec, nil
}

// Clean re-reads the comment or the issue's fields.
func (r *Redactor) Clean(ctx context.Context, ref string) (bool, error) {
	key, id, err := ParseRef(ref)
	if err != nil {
		return false, err
	}
	if id != "" {
		cm, err := r.Client.Comment(ctx, key, id)
		if errs.KindOf(err) == errs.NotFound {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		return !r.holds(texts(cm.Body)), nil
	}
	is, err := r.Client.GetIssue(ctx, key)
	if err != nil {
		return false, err
	}
	for _, f := range TextFields {
		if r.holds(texts(is.Fields[f])) {
			return false, nil
		}
	}
	return true, nil
}

func (r *Redactor) holds(text string) bool {
	return strings.Contains(text, string(r.Secret.Reveal()))
}

// texts is a field's or body's text as the source scans it, joined.
func texts(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	ts, _ := jira.Text(raw)
	return strings.Join(ts, "\n")
}

// redact returns the value with the secret replaced, and its text.
func (r *Redactor) redact(raw json.RawMessage) (any, string) {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return nil, ""
	}
	s := string(r.Secret.Reveal())
	if str, ok := v.(string); ok {
		out := strings.ReplaceAll(str, s, r.Replacement)
		return out, out
	}
	v = r.replaceNodes(v)
	b, _ := json.Marshal(v)
	if t := texts(b); !r.holds(t) {
		return v, t
	}
	// A copy split over text nodes (marks inside it): one plain
	// paragraph per block of text, redacted.
	ts, _ := jira.Text(b)
	var content []any
	for _, t := range ts {
		content = append(content, map[string]any{"type": "paragraph", "content": []any{
			map[string]any{"type": "text", "text": strings.ReplaceAll(t, s, r.Replacement)}}})
	}
	doc := map[string]any{"type": "doc", "version": 1, "content": content}
	b, _ = json.Marshal(doc)
	return doc, texts(b)
}

// replaceNodes replaces the secret in every "text", "url" and "href"
// string of an ADF tree.
func (r *Redactor) replaceNodes(v any) any {
	s := string(r.Secret.Reveal())
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if str, ok := e.(string); ok && (k == "text" || k == "url" || k == "href") {
				x[k] = strings.ReplaceAll(str, s, r.Replacement)
				continue
			}
			x[k] = r.replaceNodes(e)
		}
	case []any:
		for i := range x {
			x[i] = r.replaceNodes(x[i])
		}
	}
	return v
}
