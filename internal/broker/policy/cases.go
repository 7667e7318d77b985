package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/rekeyhq/rekey/internal/errs"
)

// Case is one example a policy must decide as stated: `rekey broker policy
// test` runs a file of them, for CI of the policy itself.
type Case struct {
	// Name is optional; Line is where the case starts in its file.
	Name string
	Line int
	// Input is the policy input, as written (see Input for its shape).
	Input map[string]any
	// Allow is whether the request must be granted: the policy's allow
	// true and its deny empty.
	Allow bool
	// Reasons, when given, must be the deny set exactly (in any order).
	Reasons []string
	// MaxTTL, when given, must be the policy's max_ttl in seconds.
	MaxTTL *float64
}

// Label names a case in messages: its name, or its number and line.
func (c Case) Label(i int) string {
	if c.Name != "" {
		return c.Name
	}
	return fmt.Sprintf("#%d", i+1)
}

var caseKeys = []string{"name", "input", "allow", "reasons", "max_ttl"}

// ParseCases reads a list of cases, JSON or YAML, strictly: an unknown
// key, a missing input or allow, a value of the wrong type is an error
// naming the file and line.
func ParseCases(name string, data []byte) ([]Case, error) {
	bad := func(line int, format string, a ...any) error {
		return errs.New("cases", errs.Invalid, fmt.Sprintf("%s:%d", name, line), fmt.Sprintf(format, a...))
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, errs.E("cases", errs.Invalid, name, fmt.Errorf("not JSON or YAML: %v", err))
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.SequenceNode {
		return nil, bad(1, "want a list of cases [{name, input, allow, reasons}]")
	}
	var out []Case
	for _, n := range doc.Content[0].Content {
		if n.Kind != yaml.MappingNode {
			return nil, bad(n.Line, "a case is a mapping {name, input, allow, reasons}")
		}
		c := Case{Line: n.Line}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if !slices.Contains(caseKeys, k.Value) {
				return nil, bad(k.Line, "unknown key %q (known: name, input, allow, reasons, max_ttl)", k.Value)
			}
			if seen[k.Value] {
				return nil, bad(k.Line, "key %q repeated", k.Value)
			}
			seen[k.Value] = true
			var err error
			switch k.Value {
			case "name":
				err = v.Decode(&c.Name)
			case "input":
				c.Input, err = inputDoc(v)
			case "allow":
				if v.ShortTag() != "!!bool" {
					return nil, bad(v.Line, "allow: want true or false")
				}
				err = v.Decode(&c.Allow)
			case "reasons":
				c.Reasons = []string{}
				err = v.Decode(&c.Reasons)
			case "max_ttl":
				err = v.Decode(&c.MaxTTL)
			}
			if err != nil {
				return nil, bad(v.Line, "%s: %v", k.Value, err)
			}
		}
		switch {
		case !seen["input"]:
			return nil, bad(n.Line, "case has no input")
		case !seen["allow"]:
			return nil, bad(n.Line, "case has no allow: say whether the request must be granted")
		}
		out = append(out, c)
	}
	return out, nil
}

// inputDoc turns a YAML mapping into the JSON document OPA gets: through
// JSON, so that YAML's timestamps become RFC 3339 strings and numbers
// stay exact.
func inputDoc(v *yaml.Node) (map[string]any, error) {
	if v.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("want a mapping, the policy input")
	}
	var raw any
	if err := v.Decode(&raw); err != nil {
		return nil, err
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var doc map[string]any
	if err := d.Decode(&doc); err != nil {
		return nil, err
	}
	return doc, nil
}

// Outcome is a case's result.
type Outcome struct {
	Case Case
	// Got is the policy's answer; Err is set when it could not answer.
	Got     Result
	Granted bool
	Err     error
}

// Mismatch reports whether the policy decided otherwise than the case says.
func (o Outcome) Mismatch() bool {
	if o.Err != nil || o.Granted != o.Case.Allow {
		return true
	}
	if o.Case.Reasons != nil {
		want := slices.Clone(o.Case.Reasons)
		slices.Sort(want)
		if !slices.Equal(slices.Compact(want), o.Got.Deny) {
			return true
		}
	}
	if m := o.Case.MaxTTL; m != nil && (!o.Got.HasMaxTTL || time.Duration(*m*float64(time.Second)) != o.Got.MaxTTL) {
		return true
	}
	return false
}

// Run evaluates every case with the engine's current policy.
func (e *Engine) Run(ctx context.Context, cases []Case) []Outcome {
	var out []Outcome
	for _, c := range cases {
		res, err := e.eval(ctx, c.Input)
		out = append(out, Outcome{Case: c, Got: res, Granted: err == nil && res.Allow && len(res.Deny) == 0, Err: err})
	}
	return out
}
