// Package github parses GitHub organization and enterprise audit logs
// into events: the JSON export (one array), and JSON lines as the REST API,
// audit log streaming and Git events exports write them.
//
// Credential is the hashed_token GitHub records when a token
// authenticated the action (the base64 SHA-256 of the token, which
// HashToken computes from a leaked token so its events can be found);
// else "token_id:<id>" for programmatic access that names the token's id
// without its hash; else the actor. A token's id alone is not its use: in
// personal_access_token.access_granted the actor is the owner who
// approved it, and the token is the record's subject (Detail token_id).
//
// Every record is an action GitHub performed, so its Outcome is success,
// except actions named as refusals (…_denied, …_failed, …rejected).
//
// Derived credentials (Detail derived=true): new tokens and grants
// (personal_access_token.access_granted, oauth_access.create,
// oauth_authorization.create, org_credential_authorization.grant), keys
// (public_key.create, deploy_key.create), members and collaborators
// (org.add_member, org.invite_member, repo.add_member, team.add_member,
// business.add_admin), webhooks (hook.create) and apps
// (integration_installation.create, integration.create). derived_user is
// the user added or the key's owner, derived_key_id the token or hook id.
package github

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"strconv"
	"strings"
	"time"

	json "github.com/goccy/go-json"

	"github.com/rekeyhq/rekey/internal/logs"
	"github.com/rekeyhq/rekey/internal/logs/jsonl"
	"github.com/rekeyhq/rekey/internal/secret"
)

// HashToken returns the form in which GitHub's audit log records token s
// (hashed_token): the standard base64 of its SHA-256, as GitHub documents
// (echo -n TOKEN | openssl dgst -sha256 -binary | base64).
func HashToken(s secret.Secret) string {
	sum := sha256.Sum256(s.Reveal())
	return base64.StdEncoding.EncodeToString(sum[:])
}

// Parser reads GitHub audit logs. It is safe for concurrent use.
type Parser struct {
	filter *logs.KeyFilter
}

var _ logs.Parser = (*Parser)(nil)

// New returns a parser that decodes every record.
func New() *Parser { return &Parser{} }

// NewFiltered returns a parser that decodes only records mentioning one of
// keys (hashed tokens from HashToken, actors) in their raw bytes; see
// logs.KeyFilter.
func NewFiltered(keys ...string) *Parser { return &Parser{filter: logs.NewKeyFilter(keys...)} }

// Name implements logs.Parser.
func (*Parser) Name() string { return "github-audit" }

// Sniff implements logs.Parser: JSON records with an action, an actor and
// GitHub's document id or @timestamp.
func (*Parser) Sniff(head []byte) bool {
	head = logs.TrimHead(head)
	if len(head) == 0 || head[0] != '{' && head[0] != '[' {
		return false
	}
	has := func(k string) bool { return bytes.Contains(head, []byte(k)) }
	return has(`"action":`) && has(`"actor`) && (has(`"_document_id":`) || has(`"@timestamp":`))
}

// Parse implements logs.Parser. Each event's Line and Offset are those of
// its record's opening brace (an export on one line has every record on
// line 1, told apart by Offset).
func (p *Parser) Parse(ctx context.Context, file string, r io.Reader, emit func(logs.Event) error) (logs.Stats, error) {
	return jsonl.Decode(ctx, file, r, p.filter, func(raw []byte) (logs.Event, bool, string) {
		ev, reason := decode(raw)
		return ev, reason == "", reason
	}, emit)
}

// record holds the fields of an audit log event the parser reads.
type record struct {
	Timestamp              json.RawMessage `json:"@timestamp"`
	CreatedAt              json.RawMessage `json:"created_at"`
	DocumentID             string          `json:"_document_id"`
	Action                 string          `json:"action"`
	Actor                  string          `json:"actor"`
	ActorIP                string          `json:"actor_ip"`
	UserAgent              string          `json:"user_agent"`
	Org                    string          `json:"org"`
	Business               string          `json:"business"`
	Repo                   string          `json:"repo"`
	User                   string          `json:"user"`
	HashedToken            string          `json:"hashed_token"`
	TokenID                json.RawMessage `json:"token_id"`
	ProgrammaticAccessType string          `json:"programmatic_access_type"`
	TokenScopes            string          `json:"token_scopes"`
	OperationType          string          `json:"operation_type"`
	HookID                 json.RawMessage `json:"hook_id"`
	Integration            string          `json:"integration"`
	ActorLocation          struct {
		CountryCode string `json:"country_code"`
	} `json:"actor_location"`
}

// derivedActions are the actions that make or grant a credential.
var derivedActions = map[string]bool{
	"personal_access_token.access_granted": true,
	"oauth_access.create":                  true,
	"oauth_authorization.create":           true,
	"org_credential_authorization.grant":   true,
	"public_key.create":                    true,
	"deploy_key.create":                    true,
	"org.add_member":                       true,
	"org.invite_member":                    true,
	"repo.add_member":                      true,
	"team.add_member":                      true,
	"business.add_admin":                   true,
	"hook.create":                          true,
	"integration_installation.create":      true,
	"integration.create":                   true,
}

// decode maps one record to an event; reason is non-empty for a
// malformed record.
func decode(raw []byte) (ev logs.Event, reason string) {
	var r record
	if reason := jsonl.Unmarshal(raw, &r); reason != "" {
		return ev, reason
	}
	if r.Action == "" {
		return ev, "not a GitHub audit log event: no action"
	}
	t, ok := parseTime(r.Timestamp)
	if !ok {
		if t, ok = parseTime(r.CreatedAt); !ok {
			return ev, "GitHub audit log event without a valid @timestamp or created_at"
		}
	}
	tokenID := number(r.TokenID)
	cred := r.HashedToken
	if cred == "" && tokenID != "" && r.ProgrammaticAccessType != "" {
		cred = "token_id:" + tokenID
	}
	if cred == "" {
		cred = r.Actor
	}
	if cred == "" {
		return ev, "GitHub audit log event without an actor or token"
	}
	ev = logs.Event{
		Time:       t,
		Credential: cred,
		Identity:   r.Actor,
		Source:     r.ActorIP,
		UserAgent:  r.UserAgent,
		Action:     r.Action,
		Outcome:    outcome(r.Action),
	}
	d := make(map[string]string, 12)
	set := func(k, v string) {
		if v != "" {
			d[k] = v
		}
	}
	set("org", r.Org)
	set("business", r.Business)
	set("repo", r.Repo)
	set("user", r.User)
	set("token_id", tokenID)
	set("programmatic_access_type", r.ProgrammaticAccessType)
	set("token_scopes", r.TokenScopes)
	set("operation_type", r.OperationType)
	set("country", r.ActorLocation.CountryCode)
	set("document_id", r.DocumentID)
	if derivedActions[r.Action] && ev.Outcome == logs.Success {
		set("derived", "true")
		switch r.Action {
		case "personal_access_token.access_granted":
			set("derived_key_id", prefixed("token_id:", tokenID))
		case "hook.create":
			set("derived_key_id", prefixed("hook_id:", number(r.HookID)))
		case "integration_installation.create", "integration.create":
			set("derived_user", r.Integration)
		}
		if d["derived_user"] == "" {
			// The user added, or whose key or token it is: the actor
			// when the record names no other.
			set("derived_user", first(r.User, r.Actor))
		}
	}
	ev.Detail = d
	return ev, ""
}

// outcome: GitHub records what was done; a few actions record a refusal.
func outcome(action string) logs.Outcome {
	_, verb, _ := strings.Cut(action, ".")
	for _, w := range []string{"denied", "failed", "failure", "rejected"} {
		if strings.Contains(verb, w) {
			return logs.Failure
		}
	}
	return logs.Success
}

// parseTime reads @timestamp or created_at: milliseconds since the epoch
// (the API, streaming and exports) or an RFC 3339 string.
func parseTime(v json.RawMessage) (time.Time, bool) {
	s := strings.TrimSpace(string(v))
	if s == "" || s == "null" {
		return time.Time{}, false
	}
	if s[0] == '"' {
		t, err := time.Parse(time.RFC3339Nano, strings.Trim(s, `"`))
		return t, err == nil
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}, false
	}
	return time.UnixMilli(ms).UTC(), true
}

// number renders an id that may be written as a number or a string.
func number(v json.RawMessage) string {
	s := strings.Trim(strings.TrimSpace(string(v)), `"`)
	if s == "null" {
		return ""
	}
	return s
}

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}

func first(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}
