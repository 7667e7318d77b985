// Package vault parses HashiCorp Vault audit logs (the file audit
// device's JSON lines, also what the socket and syslog devices carry) into
// events: which token or login was used, from where, on which path.
//
// Counting: Vault writes a request entry when a request arrives and a
// response entry when it is answered, both with the same request.id. The
// response is the one that knows the outcome and what was created, so it
// is the event; a request entry is counted as a record and skipped, unless
// it carries an error: Vault refused the request before handling it
// (permission denied, a bad token) and may write no response for it. Such
// a request entry is the event, and a response with the same id that
// follows it (Vault writes one for some refusals) is skipped. The ids of
// those refused requests are remembered in a bounded window (idWindow),
// enough for a response that follows within thousands of entries.
//
// Credential: Vault HMACs token values and, unless the device was enabled
// with hmac_accessor=false, accessors ("hmac-sha256:…"), with a key only
// the server holds. Credential is the accessor as logged: the caller
// token's (auth.accessor, else request.client_token_accessor), or for a
// login the role_id or role it presented (HMACed too), else the login
// path (auth/userpass/login/alice names its user). This package cannot
// compute Vault's HMAC: to find a leaked token's events, the responder
// asks Vault for the HMAC of its accessor (or of the token) with
// `vault write sys/audit-hash/<device path> input=<accessor>` and gives
// the result as the credential reference. A device with hmac_accessor=false
// logs the accessor itself, which `vault token lookup` shows.
//
// Derived credentials (Detail derived=true, on success only): a response
// that carries a new token (a login, auth/token/create; derived_key_id is
// its accessor, derived_user its display name) but not a renewal, a
// response-wrapping token (derived_key_id its accessor), writes to
// sys/policy and sys/policies, auth/<mount>/role/… (AppRole secret-id
// generation included; derived_key_id is the secret_id_accessor) and
// auth/<mount>/users/… (derived_user), and dynamic credentials read from
// …/creds/… or …/sts/… (derived_key_id the access key when logged in clear,
// else the lease id).
package vault

import (
	"bytes"
	"context"
	"io"
	"strings"
	"time"

	json "github.com/goccy/go-json"

	"github.com/rekeyhq/rekey/internal/logs"
	"github.com/rekeyhq/rekey/internal/logs/jsonl"
)

// HMACPrefix starts every value the audit device has hashed.
const HMACPrefix = "hmac-sha256:"

// idWindow is how many refused request ids are remembered to skip the
// response Vault may write after them.
const idWindow = 4096

// Parser reads Vault audit logs. It is safe for concurrent use.
type Parser struct {
	filter *logs.KeyFilter
}

var _ logs.Parser = (*Parser)(nil)

// New returns a parser that decodes every entry.
func New() *Parser { return &Parser{} }

// NewFiltered returns a parser that decodes only entries mentioning one of
// keys (accessors or their HMACs, display names) in their raw bytes; see
// logs.KeyFilter.
func NewFiltered(keys ...string) *Parser { return &Parser{filter: logs.NewKeyFilter(keys...)} }

// Name implements logs.Parser.
func (*Parser) Name() string { return "vault-audit" }

// Sniff implements logs.Parser: JSON entries of type request or response
// with a request object naming an operation and a path.
func (*Parser) Sniff(head []byte) bool {
	head = logs.TrimHead(head)
	if len(head) == 0 || head[0] != '{' {
		return false
	}
	has := func(k string) bool { return bytes.Contains(head, []byte(k)) }
	return (has(`"type":"request"`) || has(`"type":"response"`)) && has(`"request":{`) &&
		has(`"operation":"`) && has(`"path":"`)
}

// Parse implements logs.Parser. Each event's Line and Offset are those of
// its entry.
func (p *Parser) Parse(ctx context.Context, file string, r io.Reader, emit func(logs.Event) error) (logs.Stats, error) {
	refused := newIDSet(idWindow)
	return jsonl.Decode(ctx, file, r, p.filter, func(raw []byte) (logs.Event, bool, string) { return decode(raw, refused) }, emit)
}

// authBlock is an entry's auth, or a response's new auth.
type authBlock struct {
	ClientToken   string            `json:"client_token"`
	Accessor      string            `json:"accessor"`
	DisplayName   string            `json:"display_name"`
	Policies      []string          `json:"policies"`
	TokenPolicies []string          `json:"token_policies"`
	Metadata      map[string]string `json:"metadata"`
	EntityID      string            `json:"entity_id"`
	TokenType     string            `json:"token_type"`
}

// entry holds the fields of an audit entry the parser reads; request and
// response data are skipped but for the few keys below.
type entry struct {
	Time    string     `json:"time"`
	Type    string     `json:"type"`
	Error   string     `json:"error"`
	Auth    *authBlock `json:"auth"`
	Request *struct {
		ID                  string          `json:"id"`
		Operation           string          `json:"operation"`
		ClientTokenAccessor string          `json:"client_token_accessor"`
		Path                string          `json:"path"`
		RemoteAddress       string          `json:"remote_address"`
		RemotePort          json.RawMessage `json:"remote_port"`
		MountType           string          `json:"mount_type"`
		MountPoint          string          `json:"mount_point"`
		Namespace           struct {
			ID   string `json:"id"`
			Path string `json:"path"`
		} `json:"namespace"`
		Data struct {
			RoleID string `json:"role_id"`
			Role   string `json:"role"`
		} `json:"data"`
	} `json:"request"`
	Response struct {
		Auth *authBlock `json:"auth"`
		Data struct {
			SecretIDAccessor string `json:"secret_id_accessor"`
			Username         string `json:"username"`
			AccessKey        string `json:"access_key"`
		} `json:"data"`
		Secret struct {
			LeaseID string `json:"lease_id"`
		} `json:"secret"`
		WrapInfo struct {
			Accessor string `json:"accessor"`
		} `json:"wrap_info"`
	} `json:"response"`
}

// decode maps one entry to an event; ok is false for an entry that yields
// none (a request answered by a later response, an unauthenticated call);
// reason is non-empty for a malformed entry.
func decode(raw []byte, refused *idSet) (ev logs.Event, ok bool, reason string) {
	var e entry
	if reason := jsonl.Unmarshal(raw, &e); reason != "" {
		return ev, false, reason
	}
	if e.Type != "request" && e.Type != "response" || e.Request == nil {
		return ev, false, "not a Vault audit entry"
	}
	t, err := time.Parse(time.RFC3339Nano, e.Time)
	if err != nil {
		return ev, false, "Vault audit entry without a valid time"
	}
	rq := e.Request
	switch {
	case e.Type == "request" && e.Error == "":
		return ev, false, "" // its response is the event
	case e.Type == "request":
		refused.add(rq.ID)
	case refused.remove(rq.ID):
		return ev, false, "" // the refused request was the event
	}
	auth := e.Auth
	if auth == nil {
		auth = &authBlock{}
	}
	login := strings.HasPrefix(rq.Path, "auth/") && strings.Contains(rq.Path, "/login")
	var cred string
	if login {
		cred = first(rq.Data.RoleID, rq.Data.Role, rq.Path)
	} else {
		cred = first(auth.Accessor, rq.ClientTokenAccessor)
	}
	if cred == "" {
		return ev, false, ""
	}
	ev = logs.Event{
		Time:       t,
		Credential: cred,
		Identity:   first(auth.DisplayName, auth.EntityID),
		Source:     rq.RemoteAddress,
		Action:     strings.TrimSpace(rq.Operation + " " + rq.Path),
		Outcome:    logs.Success,
	}
	if e.Error != "" {
		ev.Outcome = logs.Failure
	}
	d := make(map[string]string, 12)
	set := func(k, v string) {
		if v != "" {
			d[k] = v
		}
	}
	set("request_id", rq.ID)
	set("entry_type", e.Type)
	set("operation", rq.Operation)
	set("path", rq.Path)
	set("mount_type", rq.MountType)
	set("mount_point", rq.MountPoint)
	set("namespace", first(rq.Namespace.Path, rq.Namespace.ID))
	set("remote_port", strings.Trim(string(rq.RemotePort), `"`))
	set("error", strings.TrimSpace(e.Error))
	if !login {
		set("entity_id", auth.EntityID)
		set("token_type", auth.TokenType)
		set("policies", strings.Join(first2(auth.TokenPolicies, auth.Policies), ","))
		set("role", first(auth.Metadata["role_name"], auth.Metadata["role"]))
		if ns, sa := auth.Metadata["service_account_namespace"], auth.Metadata["service_account_name"]; sa != "" {
			set("service_account", strings.TrimPrefix(ns+"/"+sa, "/"))
		}
	}
	if ev.Outcome == logs.Success {
		derive(&e, set)
	}
	ev.Detail = d
	return ev, true, ""
}

// derive marks an entry that made or obtained a credential.
func derive(e *entry, set func(k, v string)) {
	rq, resp := e.Request, &e.Response
	path := rq.Path
	write := rq.Operation == "create" || rq.Operation == "update"
	if a := resp.Auth; a != nil && a.Accessor != "" && a.Accessor != rq.ClientTokenAccessor &&
		!strings.HasPrefix(path, "auth/token/renew") {
		set("derived", "true")
		set("derived_key_id", a.Accessor)
		set("derived_user", first(a.DisplayName, a.EntityID))
		return
	}
	if resp.WrapInfo.Accessor != "" {
		set("derived", "true")
		set("derived_key_id", resp.WrapInfo.Accessor)
		return
	}
	segs := strings.Split(path, "/")
	switch {
	case write && (strings.HasPrefix(path, "sys/policy/") || strings.HasPrefix(path, "sys/policies/")):
		set("derived", "true")
	case write && len(segs) >= 4 && segs[0] == "auth" && segs[2] == "role":
		set("derived", "true")
		set("derived_key_id", resp.Data.SecretIDAccessor)
	case write && len(segs) >= 4 && segs[0] == "auth" && segs[2] == "users":
		set("derived", "true")
		set("derived_user", segs[3])
	case resp.Secret.LeaseID != "" && (strings.Contains(path, "/creds/") || strings.Contains(path, "/sts/")):
		set("derived", "true")
		key := resp.Data.AccessKey
		if key == "" || strings.HasPrefix(key, HMACPrefix) {
			key = resp.Secret.LeaseID
		}
		set("derived_key_id", key)
		set("derived_user", resp.Data.Username)
	}
}

func first(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

func first2(a, b []string) []string {
	if len(a) > 0 {
		return a
	}
	return b
}

// idSet is a set of at most n ids, forgetting the oldest first.
type idSet struct {
	ids  map[string]bool
	ring []string
	next int
}

func newIDSet(n int) *idSet { return &idSet{ids: map[string]bool{}, ring: make([]string, n)} }

func (s *idSet) add(id string) {
	if id == "" || s.ids[id] {
		return
	}
	if old := s.ring[s.next]; old != "" {
		delete(s.ids, old)
	}
	s.ring[s.next] = id
	s.next = (s.next + 1) % len(s.ring)
	s.ids[id] = true
}

// remove reports whether id was in the set, removing it.
func (s *idSet) remove(id string) bool {
	if id == "" || !s.ids[id] {
		return false
	}
	delete(s.ids, id)
	return true
}
