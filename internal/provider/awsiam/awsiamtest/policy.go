package awsiamtest

import (
	"encoding/json"
	"path"
	"strings"
	"time"
)

// document is an IAM policy document, as much of the grammar as the server
// evaluates: Effect, Action/NotAction, Resource and the date conditions on
// aws:TokenIssueTime that "revoke older sessions" writes.
type document struct {
	Version   string      `json:"Version"`
	Statement []statement `json:"Statement"`
}

type statement struct {
	Sid       string                    `json:"Sid,omitempty"`
	Effect    string                    `json:"Effect"`
	Action    stringList                `json:"Action,omitempty"`
	NotAction stringList                `json:"NotAction,omitempty"`
	Resource  stringList                `json:"Resource,omitempty"`
	Condition map[string]map[string]any `json:"Condition,omitempty"`
	Principal map[string]stringList     `json:"Principal,omitempty"`
}

// stringList is a policy field that is one string or a list of them.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*l = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*l = many
	return nil
}

// parseDocument reads a policy; a statement list given as one object is
// accepted, as IAM accepts it.
func parseDocument(text string) (document, error) {
	var d document
	if err := json.Unmarshal([]byte(text), &d); err == nil {
		return d, nil
	}
	var one struct {
		Version   string    `json:"Version"`
		Statement statement `json:"Statement"`
	}
	if err := json.Unmarshal([]byte(text), &one); err != nil {
		return document{}, err
	}
	return document{Version: one.Version, Statement: []statement{one.Statement}}, nil
}

// request is what one statement is matched against.
type request struct {
	action   string // "iam:UpdateAccessKey"
	resource string // an ARN, or "*"
	// tokenIssued is when the caller's temporary credentials were issued;
	// zero for a long-term access key, which has no aws:TokenIssueTime.
	tokenIssued time.Time
}

// decision is the result of IAM's evaluation logic for one identity's
// policies: an explicit deny wins over any allow, and without an allow the
// answer is an implicit deny.
type decision int

const (
	implicitDeny decision = iota
	allowed
	explicitDeny
)

func evaluate(docs []document, req request) decision {
	d := implicitDeny
	for _, doc := range docs {
		for _, st := range doc.Statement {
			if !st.matches(req) {
				continue
			}
			if st.Effect == "Deny" {
				return explicitDeny
			}
			if st.Effect == "Allow" {
				d = allowed
			}
		}
	}
	return d
}

func (st statement) matches(req request) bool {
	switch {
	case len(st.Action) > 0:
		if !anyGlob(st.Action, req.action, true) {
			return false
		}
	case len(st.NotAction) > 0:
		if anyGlob(st.NotAction, req.action, true) {
			return false
		}
	default:
		return false
	}
	if len(st.Resource) > 0 && !anyGlob(st.Resource, req.resource, false) && req.resource != "*" {
		return false
	}
	return st.conditionHolds(req)
}

// conditionHolds evaluates the condition block. Only the date operators on
// aws:TokenIssueTime are known; a statement with any other condition does
// not apply (the server does not pretend to evaluate what it cannot). A
// missing key (a long-term key has no token issue time) makes the
// condition false, as IAM documents for operators without IfExists.
func (st statement) conditionHolds(req request) bool {
	for op, kv := range st.Condition {
		for key, raw := range kv {
			if !strings.EqualFold(key, "aws:TokenIssueTime") || req.tokenIssued.IsZero() {
				return false
			}
			var vals []string
			switch v := raw.(type) {
			case string:
				vals = []string{v}
			case []any:
				for _, x := range v {
					if s, ok := x.(string); ok {
						vals = append(vals, s)
					}
				}
			}
			ok := false
			for _, s := range vals {
				t, err := time.Parse(time.RFC3339, s)
				if err != nil {
					continue
				}
				switch op {
				case "DateLessThan":
					ok = ok || req.tokenIssued.Before(t)
				case "DateLessThanEquals":
					ok = ok || !req.tokenIssued.After(t)
				case "DateGreaterThan":
					ok = ok || req.tokenIssued.After(t)
				case "DateGreaterThanEquals":
					ok = ok || !req.tokenIssued.Before(t)
				}
			}
			if !ok {
				return false
			}
		}
	}
	return true
}

// anyGlob matches value against IAM wildcards (* and ?); actions compare
// without regard to case, as IAM does.
func anyGlob(patterns []string, value string, fold bool) bool {
	for _, p := range patterns {
		if fold {
			p, value = strings.ToLower(p), strings.ToLower(value)
		}
		if p == "*" || p == value {
			return true
		}
		// path.Match treats / specially; ARNs hold slashes, so escape them
		// into a character path.Match does not care about.
		if ok, _ := path.Match(strings.ReplaceAll(p, "/", "\x00"), strings.ReplaceAll(value, "/", "\x00")); ok {
			return true
		}
	}
	return false
}
