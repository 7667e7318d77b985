// Package k8saudit parses Kubernetes API server audit logs (the log
// backend's JSON lines of audit.k8s.io/v1 Event, or an array of them) into
// events: who called which API with which credential, from where.
//
// One event per request. The API server writes up to four records for a
// request, one per stage (RequestReceived, ResponseStarted for watches and
// exec, ResponseComplete, Panic); a record says nothing about whether a
// later one will follow, so the parser cannot wait for the last. It emits
// the stages that end a request, ResponseComplete and Panic, and skips the
// others before decoding them (a byte-level check: a record naming neither
// stage cannot yield an event). A policy that omits ResponseComplete
// therefore yields no events; the usual omitStages: [RequestReceived]
// loses nothing. A request whose authentication failed (401) is audited
// with ResponseStarted only and with no user: it names no credential, and
// yields no event either.
//
// Credential is the credential id the API server puts in the user's extra
// (authentication.kubernetes.io/credential-id: "JTI=…" for a service
// account token, "X509SHA256=…" for a client certificate on recent
// servers), else the user name. A token bound to a pod carries the pod and
// node it was issued for (Detail bound_pod, bound_node): a pod's token
// used from elsewhere shows as a source that is not that node's pods.
//
// Derived credentials (Detail derived=true, on success only):
// serviceaccounts/token create (a TokenRequest; derived_key_id is the new
// token's JTI from the authentication.kubernetes.io/issued-credential-id
// annotation), a Secret of type kubernetes.io/service-account-token
// created (seen at level Request or above only: at Metadata the type is
// not logged), certificatesigningrequests create and approval, and
// (cluster)rolebindings create (derived_user lists the subjects, at level
// Request or above).
package k8saudit

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/logs"
	"github.com/rekeyhq/rekey/internal/logs/jsonl"
)

// Parser reads Kubernetes audit logs. It is safe for concurrent use.
type Parser struct {
	filter *logs.KeyFilter
}

var _ logs.Parser = (*Parser)(nil)

// New returns a parser that decodes every request's final record.
func New() *Parser { return &Parser{} }

// NewFiltered returns a parser that decodes only records mentioning one of
// keys (credential ids, user names) in their raw bytes; see logs.KeyFilter.
func NewFiltered(keys ...string) *Parser { return &Parser{filter: logs.NewKeyFilter(keys...)} }

// Name implements logs.Parser.
func (*Parser) Name() string { return "k8s-audit" }

// Sniff implements logs.Parser: JSON whose head names the audit event
// kind and API version.
func (*Parser) Sniff(head []byte) bool {
	head = logs.TrimHead(head)
	if len(head) == 0 || head[0] != '{' && head[0] != '[' {
		return false
	}
	return bytes.Contains(head, []byte(`"audit.k8s.io/v1`)) && bytes.Contains(head, []byte(`"auditID"`)) &&
		(bytes.Contains(head, []byte(`"kind":"Event"`)) || bytes.Contains(head, []byte(`"kind": "Event"`)))
}

// Parse implements logs.Parser. Each event's Line and Offset are those of
// its record's opening brace.
func (p *Parser) Parse(ctx context.Context, file string, r io.Reader, emit func(logs.Event) error) (logs.Stats, error) {
	return jsonl.Decode(ctx, file, r, p.filter, func(raw []byte) (logs.Event, bool, string) {
		if !final(raw) {
			return logs.Event{}, false, ""
		}
		return decode(raw)
	}, emit)
}

// final is the byte-level stage check: whether raw may be the record of a
// request's last stage.
func final(raw []byte) bool {
	return bytes.Contains(raw, []byte("ResponseComplete")) || bytes.Contains(raw, []byte("Panic"))
}

// userInfo is authentication.k8s.io/v1 UserInfo.
type userInfo struct {
	Username string              `json:"username"`
	UID      string              `json:"uid"`
	Groups   []string            `json:"groups"`
	Extra    map[string][]string `json:"extra"`
}

// event holds the fields of an audit Event the parser reads; request and
// response bodies are skipped but for the few fields below.
type event struct {
	Kind             string    `json:"kind"`
	APIVersion       string    `json:"apiVersion"`
	Level            string    `json:"level"`
	AuditID          string    `json:"auditID"`
	Stage            string    `json:"stage"`
	RequestURI       string    `json:"requestURI"`
	Verb             string    `json:"verb"`
	User             userInfo  `json:"user"`
	ImpersonatedUser *userInfo `json:"impersonatedUser"`
	SourceIPs        []string  `json:"sourceIPs"`
	UserAgent        string    `json:"userAgent"`
	ObjectRef        struct {
		Resource    string `json:"resource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
		APIGroup    string `json:"apiGroup"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
	ResponseStatus struct {
		Code   int    `json:"code"`
		Reason string `json:"reason"`
	} `json:"responseStatus"`
	RequestObject struct {
		Type     string `json:"type"`
		Metadata struct {
			Annotations struct {
				ServiceAccountName string `json:"kubernetes.io/service-account.name"`
			} `json:"annotations"`
		} `json:"metadata"`
		Subjects []struct {
			Kind      string `json:"kind"`
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"subjects"`
	} `json:"requestObject"`
	RequestReceivedTimestamp string            `json:"requestReceivedTimestamp"`
	StageTimestamp           string            `json:"stageTimestamp"`
	Annotations              map[string]string `json:"annotations"`
}

// Keys of the user's extra and of annotations.
const (
	extraCredentialID  = "authentication.kubernetes.io/credential-id"
	extraPodName       = "authentication.kubernetes.io/pod-name"
	extraNodeName      = "authentication.kubernetes.io/node-name"
	annIssuedID        = "authentication.kubernetes.io/issued-credential-id"
	annDecision        = "authorization.k8s.io/decision"
	annReason          = "authorization.k8s.io/reason"
	saTokenSecretType  = "kubernetes.io/service-account-token"
	serviceAccountUser = "system:serviceaccount:"
)

// decode maps one record to an event; ok is false for a record of a stage
// that yields none; reason is non-empty for a malformed record.
func decode(raw []byte) (ev logs.Event, ok bool, reason string) {
	var e event
	if reason := jsonl.Unmarshal(raw, &e); reason != "" {
		return ev, false, reason
	}
	if e.Kind != "Event" || !strings.HasPrefix(e.APIVersion, "audit.k8s.io/") || e.Stage == "" {
		return ev, false, "not a Kubernetes audit event"
	}
	if e.Stage != "ResponseComplete" && e.Stage != "Panic" {
		return ev, false, ""
	}
	t, err := time.Parse(time.RFC3339Nano, e.RequestReceivedTimestamp)
	if err != nil {
		if t, err = time.Parse(time.RFC3339Nano, e.StageTimestamp); err != nil {
			return ev, false, "audit event without a valid requestReceivedTimestamp"
		}
	}
	u := &e.User
	cred := first(u.Extra[extraCredentialID])
	if cred == "" {
		cred = u.Username
	}
	if cred == "" {
		return ev, false, ""
	}
	ev = logs.Event{
		Time:       t,
		Credential: cred,
		Identity:   u.Username,
		Source:     first(e.SourceIPs),
		UserAgent:  e.UserAgent,
		Action:     action(&e),
		Outcome:    outcome(e.Stage, e.ResponseStatus.Code),
	}
	d := make(map[string]string, 12)
	set := func(k, v string) {
		if v != "" {
			d[k] = v
		}
	}
	set("audit_id", e.AuditID)
	set("stage", e.Stage)
	set("level", e.Level)
	set("uid", u.UID)
	set("groups", strings.Join(u.Groups, ","))
	set("bound_pod", first(u.Extra[extraPodName]))
	set("bound_node", first(u.Extra[extraNodeName]))
	if e.ImpersonatedUser != nil {
		set("impersonated_user", e.ImpersonatedUser.Username)
	}
	if len(e.SourceIPs) > 1 {
		set("source_ips", strings.Join(e.SourceIPs, ","))
	}
	o := &e.ObjectRef
	set("namespace", o.Namespace)
	set("name", o.Name)
	set("api_group", o.APIGroup)
	set("request_uri", e.RequestURI)
	if e.ResponseStatus.Code != 0 {
		set("status_code", strconv.Itoa(e.ResponseStatus.Code))
	}
	set("status_reason", e.ResponseStatus.Reason)
	set("authz_decision", e.Annotations[annDecision])
	set("authz_reason", e.Annotations[annReason])
	if ev.Outcome == logs.Success {
		derive(&e, set)
	}
	ev.Detail = d
	return ev, true, ""
}

// derive marks a request that made or obtained a credential.
func derive(e *event, set func(k, v string)) {
	o := &e.ObjectRef
	create := e.Verb == "create"
	switch {
	case create && o.Resource == "serviceaccounts" && o.Subresource == "token":
		set("derived", "true")
		set("derived_key_id", e.Annotations[annIssuedID])
		if o.Namespace != "" && o.Name != "" {
			set("derived_user", serviceAccountUser+o.Namespace+":"+o.Name)
		}
	case create && o.Resource == "secrets" && o.Subresource == "" && e.RequestObject.Type == saTokenSecretType:
		set("derived", "true")
		if sa := e.RequestObject.Metadata.Annotations.ServiceAccountName; sa != "" && o.Namespace != "" {
			set("derived_user", serviceAccountUser+o.Namespace+":"+sa)
		}
	case o.Resource == "certificatesigningrequests" && (create && o.Subresource == "" ||
		o.Subresource == "approval" && (e.Verb == "update" || e.Verb == "patch")):
		set("derived", "true")
		set("derived_key_id", o.Name)
	case create && (o.Resource == "rolebindings" || o.Resource == "clusterrolebindings") && o.Subresource == "":
		set("derived", "true")
		var subjects []string
		for _, s := range e.RequestObject.Subjects {
			switch {
			case s.Kind == "ServiceAccount" && s.Namespace != "":
				subjects = append(subjects, serviceAccountUser+s.Namespace+":"+s.Name)
			case s.Kind == "Group":
				subjects = append(subjects, "group:"+s.Name)
			default:
				subjects = append(subjects, s.Name)
			}
		}
		set("derived_user", strings.Join(subjects, ","))
	}
}

// action is "verb resource[/subresource]", or "verb /path" for a
// non-resource URL (/healthz, /version).
func action(e *event) string {
	o := &e.ObjectRef
	if o.Resource == "" {
		path, _, _ := strings.Cut(e.RequestURI, "?")
		return strings.TrimSpace(e.Verb + " " + path)
	}
	res := o.Resource
	if o.Subresource != "" {
		res += "/" + o.Subresource
	}
	return e.Verb + " " + res
}

// outcome: 401 and 403 (and any other error status) are failures, as is
// a panic.
func outcome(stage string, code int) logs.Outcome {
	switch {
	case stage == "Panic" || code >= 400:
		return logs.Failure
	case code == 0:
		return logs.Unknown
	}
	return logs.Success
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
