package awsiam

import (
	"encoding/json"
	"net/url"
	"strings"

	"github.com/rekeyhq/rekey/internal/provider"
)

// policy is the part of an IAM policy document risk grading reads.
type policy struct {
	Statement []rule
}

type rule struct {
	Effect      string
	Action      anyOf
	NotAction   anyOf
	Resource    anyOf
	NotResource anyOf
}

// anyOf is a policy field holding one string or a list.
type anyOf []string

func (a *anyOf) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		err := json.Unmarshal(b, &s)
		*a = anyOf{s}
		return err
	}
	return json.Unmarshal(b, (*[]string)(a))
}

// decodePolicy reads a document's JSON; a Statement given as one object
// is a list of one.
func decodePolicy(text string) (policy, error) {
	var raw struct{ Statement json.RawMessage }
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		return policy{}, err
	}
	var p policy
	if len(raw.Statement) > 0 && raw.Statement[0] == '{' {
		var one rule
		err := json.Unmarshal(raw.Statement, &one)
		p.Statement = []rule{one}
		return p, err
	}
	err := json.Unmarshal(raw.Statement, &p.Statement)
	return p, err
}

// wildcard matches IAM's * (any run) and ? (one character); actions are
// compared without regard to case.
func wildcard(pattern, s string) bool {
	pattern, s = strings.ToLower(pattern), strings.ToLower(s)
	star, from := -1, 0
	i, j := 0, 0
	for j < len(s) {
		switch {
		case i < len(pattern) && (pattern[i] == '?' || pattern[i] == s[j]):
			i++
			j++
		case i < len(pattern) && pattern[i] == '*':
			star, from = i, j
			i++
		case star >= 0:
			i, from = star+1, from+1
			j = from
		default:
			return false
		}
	}
	for i < len(pattern) && pattern[i] == '*' {
		i++
	}
	return i == len(pattern)
}

// allows reports whether an Allow rule grants action; onAll asks for it on
// every resource (Resource "*"), as the risks below mean it.
func (r rule) allows(action string, onAll bool) bool {
	if r.Effect != "Allow" {
		return false
	}
	hit := false
	for _, a := range r.Action {
		hit = hit || wildcard(a, action)
	}
	if len(r.NotAction) > 0 {
		hit = true
		for _, a := range r.NotAction {
			hit = hit && !wildcard(a, action)
		}
	}
	if !hit || !onAll {
		return hit
	}
	if len(r.NotResource) > 0 {
		return false
	}
	for _, res := range r.Resource {
		if res == "*" {
			return true
		}
	}
	return false
}

func (p policy) allows(action string, onAll bool) bool {
	for _, r := range p.Statement {
		if r.allows(action, onAll) {
			return true
		}
	}
	return false
}

// hasPattern reports whether an Allow rule names the action pattern itself
// (iam:* as written, not an action it covers) on every resource.
func (p policy) hasPattern(patterns ...string) bool {
	for _, r := range p.Statement {
		if r.Effect != "Allow" || len(r.NotResource) > 0 {
			continue
		}
		onAll := false
		for _, res := range r.Resource {
			onAll = onAll || res == "*"
		}
		for _, a := range r.Action {
			for _, want := range patterns {
				if onAll && strings.EqualFold(a, want) {
					return true
				}
			}
		}
		if len(r.NotAction) > 0 && onAll {
			return true // Allow with NotAction grants everything else
		}
	}
	return false
}

// credentialActions let their holder make or widen credentials.
var credentialActions = []string{
	"iam:CreateAccessKey", "iam:CreateUser", "iam:CreateLoginProfile", "iam:UpdateLoginProfile",
	"iam:AttachUserPolicy", "iam:PutUserPolicy", "iam:CreatePolicyVersion", "iam:AttachRolePolicy",
	"iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:AddUserToGroup",
}

// grade returns a policy's risk, whether it lets its holder create
// credentials, and why. A permissions boundary, when the user has one,
// caps what counts: a grant the boundary does not allow is not held.
func grade(p policy, boundary *policy) (risk provider.Risk, creates bool, reasons []string) {
	risk = provider.RiskLow
	capped := func(action string, onAll bool) bool {
		return p.allows(action, onAll) && (boundary == nil || boundary.allows(action, false))
	}
	raise := func(r provider.Risk, c bool, why string) {
		risk = provider.MaxRisk(risk, r)
		creates = creates || c
		reasons = append(reasons, why)
	}
	switch {
	case p.hasPattern("*", "*:*") && (boundary == nil || boundary.hasPattern("*", "*:*")):
		raise(provider.RiskCritical, true, "*:* on *")
	case p.hasPattern("iam:*") && capped("iam:CreateAccessKey", true):
		raise(provider.RiskCritical, true, "iam:* on *")
	}
	for _, a := range credentialActions {
		if capped(a, false) {
			raise(provider.RiskHigh, true, a)
			break
		}
	}
	if capped("iam:PassRole", true) {
		raise(provider.RiskHigh, true, "iam:PassRole on *")
	}
	if capped("sts:AssumeRole", true) {
		raise(provider.RiskHigh, true, "sts:AssumeRole on *")
	}
	if capped("secretsmanager:GetSecretValue", false) {
		raise(provider.RiskHigh, false, "secretsmanager:GetSecretValue")
	}
	if p.hasPattern("s3:*") || capped("s3:DeleteBucket", true) && capped("s3:GetObject", true) && capped("s3:PutObject", true) {
		raise(provider.RiskMedium, false, "s3:* on *")
	}
	return risk, creates, reasons
}

// trustPolicy is a role's trust (assume-role) policy: who may assume it.
type trustPolicy struct {
	Statement []struct {
		Effect    string
		Principal principal
	}
}

// principal is {"AWS": one or many ARNs or account ids} or "*".
type principal struct{ AWS anyOf }

func (p *principal) UnmarshalJSON(b []byte) error {
	if string(b) == `"*"` {
		p.AWS = anyOf{"*"}
		return nil
	}
	var m map[string]anyOf
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	p.AWS = m["AWS"]
	return nil
}

func decodeTrust(encoded string) (trustPolicy, error) {
	text, err := url.QueryUnescape(encoded)
	if err != nil {
		text = encoded
	}
	var t trustPolicy
	err = json.Unmarshal([]byte(text), &t)
	return t, err
}
