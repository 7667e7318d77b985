package awsiamtest

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Secrets Manager speaks the AWS JSON 1.1 protocol: a POST to / with
// X-Amz-Target "secretsmanager.<Action>", a JSON body, and JSON answers;
// an error is HTTP 400 (500 for the service's own failures) with
// {"__type": code, "Message": text} and the code in X-Amzn-ErrorType.

const smTargetPrefix = "secretsmanager."

type smSecret struct {
	name, arn string
	created   time.Time
	changed   time.Time
	versions  []*smVersion // oldest first
}

type smVersion struct {
	id, value string
	stages    []string
	created   time.Time
}

// smHandler answers one action; its output is marshalled as the response.
type smHandler func(c *call, in map[string]any) (any, *apiError)

var smHandlers = map[string]smHandler{
	"GetSecretValue":           (*call).getSecretValue,
	"PutSecretValue":           (*call).putSecretValue,
	"DescribeSecret":           (*call).describeSecret,
	"UpdateSecretVersionStage": (*call).updateSecretVersionStage,
}

// smErrorCodes are the JSON protocol's names for the errors the Query
// API handlers share with it (authentication, throttling, authorization).
var smErrorCodes = map[string]string{
	"InvalidClientTokenId":       "UnrecognizedClientException",
	"SignatureDoesNotMatch":      "InvalidSignatureException",
	"IncompleteSignature":        "IncompleteSignature",
	"MissingAuthenticationToken": "MissingAuthenticationTokenException",
	"Throttling":                 "ThrottlingException",
	"AccessDenied":               "AccessDeniedException",
	"ExpiredToken":               "ExpiredTokenException",
}

// CreateSecret adds a secret holding value as its AWSCURRENT version (no
// version when value is empty, as CreateSecret without SecretString
// leaves it) and returns its ARN.
func (s *Server) CreateSecret(name, value string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now().UTC()
	sec := &smSecret{name: name, arn: "arn:aws:secretsmanager:us-east-1:" + Account + ":secret:" + name + "-" + newID("")[:6], created: now, changed: now}
	if value != "" {
		sec.versions = append(sec.versions, &smVersion{id: newRequestID(), value: value, stages: []string{"AWSCURRENT"}, created: now})
	}
	s.secrets[name] = sec
	return sec.arn
}

// SecretValue returns the secret's AWSCURRENT value, ok false when the
// secret or that version does not exist.
func (s *Server) SecretValue(name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[name]
	if sec == nil {
		return "", false
	}
	if v := sec.staged("AWSCURRENT"); v != nil {
		return v.value, true
	}
	return "", false
}

// SecretVersions counts the secret's versions.
func (s *Server) SecretVersions(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sec := s.secrets[name]; sec != nil {
		return len(sec.versions)
	}
	return 0
}

func (sec *smSecret) staged(stage string) *smVersion {
	for _, v := range sec.versions {
		if slices.Contains(v.stages, stage) {
			return v
		}
	}
	return nil
}

func smNotFound() *apiError {
	return errf(http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
}

func smInvalid(format string, a ...any) *apiError {
	return errf(http.StatusBadRequest, "InvalidParameterException", format, a...)
}

// secret finds a secret by name or ARN, as SecretId accepts either.
func (c *call) secret(in map[string]any) (*smSecret, *apiError) {
	id, _ := in["SecretId"].(string)
	if id == "" {
		return nil, smInvalid("1 validation error detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null")
	}
	if sec := c.s.secrets[id]; sec != nil {
		return sec, nil
	}
	for _, sec := range c.s.secrets {
		if sec.arn == id {
			return sec, nil
		}
	}
	return nil, smNotFound()
}

// smAuthorize evaluates the caller's identity policies for the action on
// the secret's ARN, as Secrets Manager does (no resource policies here).
func (c *call) smAuthorize(action, resource string) *apiError {
	e := c.decide("secretsmanager:"+action, resource)
	if e != nil {
		e.code = "AccessDeniedException"
		e.status = http.StatusBadRequest
	}
	return e
}

func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func (c *call) getSecretValue(in map[string]any) (any, *apiError) {
	sec, e := c.secret(in)
	if e == nil {
		e = c.smAuthorize("GetSecretValue", sec.arn)
	}
	if e != nil {
		return nil, e
	}
	id, _ := in["VersionId"].(string)
	stage, _ := in["VersionStage"].(string)
	var v *smVersion
	switch {
	case id != "":
		for _, x := range sec.versions {
			if x.id == id && (stage == "" || slices.Contains(x.stages, stage)) {
				v = x
			}
		}
	case stage != "":
		v = sec.staged(stage)
	default:
		v = sec.staged("AWSCURRENT")
	}
	if v == nil {
		return nil, errf(http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: %s", cmpOr(stage, "AWSCURRENT"))
	}
	return map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": v.id, "SecretString": v.value,
		"VersionStages": v.stages, "CreatedDate": epoch(v.created)}, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// putSecretValue adds a version labelled AWSCURRENT; the previous
// AWSCURRENT becomes AWSPREVIOUS. ClientRequestToken makes it idempotent:
// the same token with the same value returns that version, with another
// value is ResourceExistsException.
func (c *call) putSecretValue(in map[string]any) (any, *apiError) {
	sec, e := c.secret(in)
	if e == nil {
		e = c.smAuthorize("PutSecretValue", sec.arn)
	}
	if e != nil {
		return nil, e
	}
	value, ok := in["SecretString"].(string)
	if !ok {
		return nil, smInvalid("You must provide either SecretString or SecretBinary.")
	}
	token, _ := in["ClientRequestToken"].(string)
	if n := len(token); n < 32 || n > 64 {
		return nil, smInvalid("1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint: Member must have length between 32 and 64")
	}
	for _, v := range sec.versions {
		if v.id == token {
			if v.value != value {
				return nil, errf(http.StatusBadRequest, "ResourceExistsException", "You can't modify an existing version, you can only create a new version.")
			}
			return map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": v.id, "VersionStages": v.stages}, nil
		}
	}
	now := time.Now().UTC()
	for _, v := range sec.versions {
		v.stages = slices.DeleteFunc(v.stages, func(s string) bool { return s == "AWSPREVIOUS" })
		if i := slices.Index(v.stages, "AWSCURRENT"); i >= 0 {
			v.stages[i] = "AWSPREVIOUS"
		}
	}
	v := &smVersion{id: token, value: value, stages: []string{"AWSCURRENT"}, created: now}
	sec.versions = append(sec.versions, v)
	sec.changed = now
	return map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": v.id, "VersionStages": v.stages}, nil
}

// updateSecretVersionStage attaches VersionStage to MoveToVersionId and
// takes it from RemoveFromVersionId, as the API reference describes: a
// label is on one version at a time, so moving one that another version
// holds needs RemoveFromVersionId naming that version
// (InvalidParameterException otherwise); without MoveToVersionId the
// label is only removed; moving AWSCURRENT moves AWSPREVIOUS to the
// version AWSCURRENT left.
func (c *call) updateSecretVersionStage(in map[string]any) (any, *apiError) {
	sec, e := c.secret(in)
	if e == nil {
		e = c.smAuthorize("UpdateSecretVersionStage", sec.arn)
	}
	if e != nil {
		return nil, e
	}
	stage, _ := in["VersionStage"].(string)
	if stage == "" {
		return nil, smInvalid("1 validation error detected: Value null at 'versionStage' failed to satisfy constraint: Member must not be null")
	}
	moveTo, _ := in["MoveToVersionId"].(string)
	removeFrom, _ := in["RemoveFromVersionId"].(string)
	version := func(id string) *smVersion {
		for _, v := range sec.versions {
			if v.id == id {
				return v
			}
		}
		return nil
	}
	var to, from *smVersion
	if moveTo != "" {
		if to = version(moveTo); to == nil {
			return nil, errf(http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret version: %s", moveTo)
		}
	}
	if removeFrom != "" {
		if from = version(removeFrom); from == nil || !slices.Contains(from.stages, stage) {
			return nil, smInvalid("The staging label %s is not attached to the version %s.", stage, removeFrom)
		}
	}
	if holder := sec.staged(stage); to != nil && holder != nil && holder != to && holder != from {
		return nil, smInvalid("The staging label %s is currently attached to version %s, and you did not specify it as RemoveFromVersionId.", stage, holder.id)
	}
	if from != nil && from != to {
		from.stages = slices.DeleteFunc(from.stages, func(s string) bool { return s == stage })
	}
	if to != nil && !slices.Contains(to.stages, stage) {
		to.stages = append(to.stages, stage)
		if stage == "AWSCURRENT" && from != nil {
			for _, v := range sec.versions {
				v.stages = slices.DeleteFunc(v.stages, func(s string) bool { return s == "AWSPREVIOUS" })
			}
			from.stages = append(from.stages, "AWSPREVIOUS")
		}
	}
	sec.changed = time.Now().UTC()
	return map[string]any{"ARN": sec.arn, "Name": sec.name}, nil
}

func (c *call) describeSecret(in map[string]any) (any, *apiError) {
	sec, e := c.secret(in)
	if e == nil {
		e = c.smAuthorize("DescribeSecret", sec.arn)
	}
	if e != nil {
		return nil, e
	}
	stages := map[string][]string{}
	for _, v := range sec.versions {
		if len(v.stages) > 0 {
			stages[v.id] = v.stages
		}
	}
	return map[string]any{"ARN": sec.arn, "Name": sec.name, "CreatedDate": epoch(sec.created),
		"LastChangedDate": epoch(sec.changed), "VersionIdsToStages": stages}, nil
}

// serveSecretsManager answers one authenticated Secrets Manager request.
func (s *Server) serveSecretsManager(w http.ResponseWriter, r *http.Request, body []byte, c *call, reqID string) {
	target := r.Header.Get("X-Amz-Target")
	h, ok := smHandlers[strings.TrimPrefix(target, smTargetPrefix)]
	if !strings.HasPrefix(target, smTargetPrefix) || !ok {
		writeJSONError(w, reqID, errf(http.StatusBadRequest, "UnknownOperationException", ""))
		return
	}
	var in map[string]any
	if err := json.Unmarshal(body, &in); err != nil {
		writeJSONError(w, reqID, errf(http.StatusBadRequest, "SerializationException", "the request body is not a JSON object"))
		return
	}
	out, e := h(c, in)
	if e != nil {
		writeJSONError(w, reqID, e)
		return
	}
	b, _ := json.Marshal(out)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", reqID)
	_, _ = w.Write(b)
}

// writeJSONError writes the JSON protocol's error document.
func writeJSONError(w http.ResponseWriter, reqID string, e *apiError) {
	code := e.code
	if c, ok := smErrorCodes[code]; ok {
		code = c
	}
	status := e.status
	if status < 500 {
		status = http.StatusBadRequest
	}
	b, _ := json.Marshal(map[string]string{"__type": code, "Message": e.message})
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", reqID)
	w.Header().Set("X-Amzn-Errortype", code)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
