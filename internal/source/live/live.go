// Package live builds the live chat and ticket sources (slackapi,
// jiraapi) and their redactors from what a user writes: an inventory's
// {type: slack-api, token: env:V} and {type: jira-api, url: …, token: env:V}
// sources, or a --source spec. It resolves the token references; the
// tokens stay in secret.Secret values that never print.
package live

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/source"
	"github.com/rekeyhq/rekey/internal/source/jiraapi"
	"github.com/rekeyhq/rekey/internal/source/slackapi"
)

// Kinds are the --source kinds and inventory types this package builds.
const (
	SlackAPI = inventory.SourceSlackAPI
	JiraAPI  = inventory.SourceJiraAPI
)

// IsLive reports whether kind is read through an API.
func IsLive(kind string) bool { return kind == SlackAPI || kind == JiraAPI }

// Spec is a live source as configured: its type, API base URL, token
// reference and (jira-api) JQL.
type Spec struct {
	Type  string
	URL   string
	Token inventory.Ref
	JQL   string
}

// FromInventory is the Spec of an inventory source.
func FromInventory(s inventory.Source) Spec {
	return Spec{Type: s.Type, URL: s.URL, Token: s.Token, JQL: s.JQL}
}

// ParseSpec reads the text after "--source KIND:":
//
//	slack-api:env:SLACK_TOKEN            (or file:PATH)
//	slack-api:https://slack.com/api?token=env:SLACK_TOKEN
//	jira-api:https://acme.atlassian.net?token=env:JIRA_TOKEN[&jql=project%3DOPS]
//
// The token is always a reference: a flag's value shows in shell history
// and process lists. Errors never quote loc, which may hold a token
// pasted by mistake.
func ParseSpec(kind, loc string) (Spec, error) {
	sp := Spec{Type: kind}
	op := "--source " + kind
	if kind == SlackAPI && !strings.Contains(loc, "://") {
		ref, err := inventory.ParseRef(loc)
		if err != nil {
			return sp, errs.New(op, errs.Invalid, "", "want slack-api:env:VAR, slack-api:file:PATH or slack-api:URL?token=env:VAR (the token as a reference, never inline)")
		}
		sp.Token = ref
		return sp, nil
	}
	u, err := url.Parse(loc)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil {
		return sp, errs.New(op, errs.Invalid, "", "want "+kind+":https://HOST?token=env:VAR (an http(s) URL without credentials in it)")
	}
	q := u.Query()
	ref, err := inventory.ParseRef(q.Get("token"))
	if err != nil {
		return sp, errs.New(op, errs.Invalid, "", "token= must be a reference, env:VAR or file:PATH")
	}
	sp.Token, sp.JQL = ref, q.Get("jql")
	if sp.JQL != "" && kind != JiraAPI {
		return sp, errs.New(op, errs.Invalid, "", "jql= applies to jira-api only")
	}
	q.Del("token")
	q.Del("jql")
	u.RawQuery = q.Encode()
	sp.URL = u.String()
	return sp, nil
}

// Deps are what building a source or redactor takes from its caller.
type Deps struct {
	// Getenv resolves env: references (os.Getenv when nil).
	Getenv func(string) string
	// OnError receives the conversations or issues a walk could not read.
	OnError source.ErrorFunc
}

func (sp Spec) token(d Deps) (secret.Secret, error) {
	if sp.Token.IsZero() {
		return secret.Secret{}, errs.New(sp.Type, errs.Invalid, "", "no token reference")
	}
	tok, err := sp.Token.Resolve(d.Getenv)
	if err != nil {
		return secret.Secret{}, fmt.Errorf("%s token: %w", sp.Type, err)
	}
	return tok, nil
}

func (sp Spec) slack(tok secret.Secret) *slackapi.Client {
	return &slackapi.Client{URL: sp.URL, Token: tok}
}

func (sp Spec) jira(tok secret.Secret) *jiraapi.Client {
	return &jiraapi.Client{URL: sp.URL, Token: tok}
}

// Source builds the source; it resolves the token but calls nothing.
func (sp Spec) Source(d Deps) (source.Source, error) {
	tok, err := sp.token(d)
	if err != nil {
		return nil, err
	}
	switch sp.Type {
	case SlackAPI:
		return slackapi.New(slackapi.Options{Client: sp.slack(tok), OnError: d.OnError}), nil
	case JiraAPI:
		if sp.URL == "" {
			return nil, errs.New(sp.Type, errs.Invalid, "", "missing url: the Jira site, like https://acme.atlassian.net")
		}
		return jiraapi.New(jiraapi.Options{Client: sp.jira(tok), JQL: sp.JQL, OnError: d.OnError}), nil
	}
	return nil, errs.New(sp.Type, errs.Unsupported, "", "not a live source type")
}

// Redactor builds the remediation client of the source, for copies of sec.
// replacement stands in for the secret, like "[REDACTED by rekey INC-42]".
func (sp Spec) Redactor(sec secret.Secret, replacement string, d Deps) (source.Redactor, error) {
	tok, err := sp.token(d)
	if err != nil {
		return nil, err
	}
	switch sp.Type {
	case SlackAPI:
		return &slackapi.Redactor{Client: sp.slack(tok), Secret: sec, Replacement: replacement}, nil
	case JiraAPI:
		return &jiraapi.Redactor{Client: sp.jira(tok), Secret: sec, Replacement: replacement}, nil
	}
	return nil, errs.New(sp.Type, errs.Unsupported, "", "not a live source type")
}

// Owns reports whether a finding's Location.Path was read by this source:
// "slack:#…" for slack-api, the site's /browse/ URLs for jira-api.
func (sp Spec) Owns(path string) bool {
	switch sp.Type {
	case SlackAPI:
		return strings.HasPrefix(path, "slack:#")
	case JiraAPI:
		return sp.URL != "" && strings.HasPrefix(path, strings.TrimSuffix(sp.URL, "/")+"/browse/")
	}
	return false
}

// Redactors finds, among specs, the redactor of a finding's path: with
// several Slack workspaces, the one whose token sees the conversation.
type Redactors struct {
	specs []Spec
	rs    []source.Redactor
}

// NewRedactors builds the redactor of every live spec.
func NewRedactors(specs []Spec, sec secret.Secret, replacement string, d Deps) (*Redactors, error) {
	out := &Redactors{}
	for _, sp := range specs {
		if !IsLive(sp.Type) {
			continue
		}
		r, err := sp.Redactor(sec, replacement, d)
		if err != nil {
			return nil, err
		}
		out.specs, out.rs = append(out.specs, sp), append(out.rs, r)
	}
	return out, nil
}

// For returns the redactor for a finding at path (its Location.Path),
// false when no live source read it (an export: a person edits it).
func (rs *Redactors) For(path string) (source.Redactor, bool) {
	var own []source.Redactor
	for i, sp := range rs.specs {
		if sp.Owns(path) {
			own = append(own, rs.rs[i])
		}
	}
	switch len(own) {
	case 0:
		return nil, false
	case 1:
		return own[0], true
	}
	return firstFound(own), true
}

// firstFound tries each redactor in turn, moving on where the object is
// not visible to its token.
type firstFound []source.Redactor

func (f firstFound) Redact(ctx context.Context, ref string, del bool) (source.Redaction, error) {
	var err error
	for _, r := range f {
		var rec source.Redaction
		if rec, err = r.Redact(ctx, ref, del); errs.KindOf(err) != errs.NotFound {
			return rec, err
		}
	}
	return source.Redaction{}, err
}

func (f firstFound) Clean(ctx context.Context, ref string) (bool, error) {
	var err error
	for _, r := range f {
		var clean bool
		if clean, err = r.Clean(ctx, ref); errs.KindOf(err) != errs.NotFound {
			return clean, err
		}
	}
	return false, err
}
