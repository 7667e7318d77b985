package cloudtrail

import (
	"fmt"
	json "github.com/goccy/go-json"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/logs"
	"github.com/rekeyhq/rekey/internal/logs/jsonl"
)

// record holds the fields of a CloudTrail record the parser reads;
// the decoder skips every other field. Secret values
// (responseElements.credentials.secretAccessKey, sessionToken) have no
// field, so they are never decoded.
type record struct {
	EventTime          string          `json:"eventTime"`
	EventSource        string          `json:"eventSource"`
	EventName          string          `json:"eventName"`
	EventType          string          `json:"eventType"`
	AWSRegion          string          `json:"awsRegion"`
	SourceIPAddress    string          `json:"sourceIPAddress"`
	UserAgent          string          `json:"userAgent"`
	ErrorCode          string          `json:"errorCode"`
	ErrorMessage       string          `json:"errorMessage"`
	RequestID          string          `json:"requestID"`
	EventID            string          `json:"eventID"`
	ReadOnly           json.RawMessage `json:"readOnly"`
	RecipientAccountID string          `json:"recipientAccountId"`
	UserIdentity       struct {
		Type           string `json:"type"`
		PrincipalID    string `json:"principalId"`
		ARN            string `json:"arn"`
		AccountID      string `json:"accountId"`
		AccessKeyID    string `json:"accessKeyId"`
		UserName       string `json:"userName"`
		InvokedBy      string `json:"invokedBy"`
		SessionContext struct {
			SessionIssuer struct {
				ARN string `json:"arn"`
			} `json:"sessionIssuer"`
			Attributes struct {
				MFAAuthenticated string `json:"mfaAuthenticated"`
			} `json:"attributes"`
		} `json:"sessionContext"`
	} `json:"userIdentity"`
	RequestParameters struct {
		UserName string `json:"userName"`
		RoleARN  string `json:"roleArn"`
	} `json:"requestParameters"`
	ResponseElements struct {
		ConsoleLogin string `json:"ConsoleLogin"`
		AccessKey    struct {
			AccessKeyID string `json:"accessKeyId"`
			UserName    string `json:"userName"`
		} `json:"accessKey"`
		Credentials struct {
			AccessKeyID string `json:"accessKeyId"`
		} `json:"credentials"`
		AssumedRoleUser struct {
			ARN string `json:"arn"`
		} `json:"assumedRoleUser"`
		FederatedUser struct {
			ARN string `json:"arn"`
		} `json:"federatedUser"`
		LoginProfile struct {
			UserName string `json:"userName"`
		} `json:"loginProfile"`
		User struct {
			UserName string `json:"userName"`
		} `json:"user"`
	} `json:"responseElements"`
}

// record handles the record in buf[start:end]: prefilter, decode, emit.
// It returns false when the record is malformed; an emit or context
// error is left in ps.pending.
func (ps *parse) record(start, end int) bool {
	s := ps.s
	if end-start > MaxRecord {
		ps.tooLarge(s.offset(start), s.lineAt(start))
		return true
	}
	raw := s.buf[start:end]
	ps.st.Records++
	if ps.st.Records%1024 == 0 {
		if err := ps.ctx.Err(); err != nil {
			ps.pending = err
			return true
		}
	}
	if !ps.p.filter.Match(raw) {
		return true
	}
	ev, reason := decode(raw)
	if reason != "" {
		ps.malformed(start, reason)
		return false
	}
	ev.File = ps.file
	ev.Offset = s.offset(start)
	ev.Line = s.lineAt(start)
	ps.st.Events++
	if err := ps.emit(ev); err != nil {
		ps.pending = err
	}
	return true
}

// decode maps one record to an event; reason is non-empty when the
// record is malformed.
func decode(raw []byte) (ev logs.Event, reason string) {
	defer func() {
		// The decoder is third-party code fed hostile input: a panic
		// costs this record, not the review.
		if v := recover(); v != nil {
			ev, reason = logs.Event{}, fmt.Sprintf("undecodable record: %v", v)
		}
	}()
	var r record
	if reason := jsonl.Unmarshal(raw, &r); reason != "" {
		return ev, reason
	}
	if r.EventName == "" {
		return ev, "not a CloudTrail record: no eventName"
	}
	t, err := time.Parse(time.RFC3339, r.EventTime)
	if err != nil {
		return ev, "not a CloudTrail record: bad eventTime " + quoteShort(r.EventTime)
	}
	ui := &r.UserIdentity
	ev = logs.Event{
		Time:       t,
		Credential: firstNonEmpty(ui.AccessKeyID, ui.ARN, ui.PrincipalID, ui.InvokedBy),
		Identity:   ui.ARN,
		Source:     r.SourceIPAddress,
		UserAgent:  r.UserAgent,
		Action:     action(r.EventSource, r.EventName),
		Outcome:    logs.Success,
	}
	if r.ErrorCode != "" || r.ResponseElements.ConsoleLogin == "Failure" {
		ev.Outcome = logs.Failure
	}
	d := make(map[string]string, 12)
	set := func(k, v string) {
		if v != "" {
			d[k] = v
		}
	}
	set("region", r.AWSRegion)
	set("request_id", r.RequestID)
	set("event_id", r.EventID)
	set("event_type", r.EventType)
	set("account", r.RecipientAccountID)
	set("read_only", strings.Trim(string(r.ReadOnly), `"`))
	set("error_code", r.ErrorCode)
	set("error_message", r.ErrorMessage)
	set("identity_type", ui.Type)
	set("principal_id", ui.PrincipalID)
	set("user_name", ui.UserName)
	set("invoked_by", ui.InvokedBy)
	set("session_issuer_arn", ui.SessionContext.SessionIssuer.ARN)
	set("mfa_authenticated", ui.SessionContext.Attributes.MFAAuthenticated)
	set("console_login", r.ResponseElements.ConsoleLogin)
	re := &r.ResponseElements
	switch r.EventName {
	case "CreateAccessKey":
		set("derived_key_id", re.AccessKey.AccessKeyID)
		if re.AccessKey.AccessKeyID != "" {
			// Without a userName, IAM creates the key for the caller.
			set("derived_user", firstNonEmpty(re.AccessKey.UserName, r.RequestParameters.UserName, ui.UserName))
		}
	case "AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity", "GetSessionToken", "GetFederationToken":
		set("derived_key_id", re.Credentials.AccessKeyID)
		set("derived_role_arn", re.AssumedRoleUser.ARN)
		set("derived_user", re.FederatedUser.ARN)
	case "CreateLoginProfile", "UpdateLoginProfile":
		if r.ErrorCode == "" {
			set("derived_user", firstNonEmpty(re.LoginProfile.UserName, r.RequestParameters.UserName, ui.UserName))
		}
	case "CreateUser":
		// A user the key made is a foothold of its own: it outlives the
		// key, with whatever keys, password and policies it was given.
		if r.ErrorCode == "" {
			set("derived_user", firstNonEmpty(re.User.UserName, r.RequestParameters.UserName))
		}
	}
	ev.Detail = d
	return ev, ""
}

// action is the IAM-style action name: "iam:CreateAccessKey" for
// eventSource iam.amazonaws.com.
func action(source, name string) string {
	svc, _, _ := strings.Cut(source, ".")
	if svc == "" {
		return name
	}
	return svc + ":" + name
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

func quoteShort(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return `"` + s + `"`
}
