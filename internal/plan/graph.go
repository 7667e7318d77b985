package plan

import (
	"fmt"
	"strings"
)

// Validate checks that the steps form a DAG in the order given (every
// need names an earlier step) and that no two steps create the same login
// on one system. Build checks its plans; a stored plan read back is
// checked again before it runs.
func (p *Plan) Validate() error {
	seen := map[string]bool{}
	// Two steps creating one login would hand two consumers one
	// credential: revoking or rolling back one would cut off the other,
	// and the engine seals one secret per login.
	creates := map[string]string{}
	for _, st := range p.Steps {
		if st.Kind == Issue {
			key := st.System + "/" + st.Login
			if other, ok := creates[key]; ok {
				return fmt.Errorf("plan: steps %s and %s both create login %s on %s; plan again, or rename one of the consumers", other, st.ID, st.Login, st.System)
			}
			creates[key] = st.ID
		}
		if st.ID == "" {
			return fmt.Errorf("plan: a step has no id")
		}
		if seen[st.ID] {
			return fmt.Errorf("plan: step %s appears twice", st.ID)
		}
		for _, n := range st.Needs {
			if !seen[n] {
				return fmt.Errorf("plan: step %s needs %s, which is not an earlier step", st.ID, n)
			}
		}
		seen[st.ID] = true
	}
	return nil
}

// Step returns the step with this id, or nil.
func (p *Plan) Step(id string) *Step {
	for i := range p.Steps {
		if p.Steps[i].ID == id {
			return &p.Steps[i]
		}
	}
	return nil
}

// Mermaid renders the DAG as a Mermaid flowchart.
func (p *Plan) Mermaid() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "flowchart TD\n  %%%% %s plan for %s: %s\n", p.Strategy, p.Incident, p.Reason)
	node := map[string]string{}
	for i, st := range p.Steps {
		node[st.ID] = fmt.Sprintf("s%d", i)
		label := string(st.Kind) + "<br/>" + st.Target
		if st.Approval != "" {
			label += "<br/>(approval: " + st.Approval + ")"
		}
		fmt.Fprintf(&sb, "  %s[\"%s\"]\n", node[st.ID], strings.ReplaceAll(label, `"`, "'"))
	}
	for _, st := range p.Steps {
		for _, n := range st.Needs {
			fmt.Fprintf(&sb, "  %s --> %s\n", node[n], node[st.ID])
		}
	}
	return sb.String()
}
