package inventory

import (
	"regexp"
	"strings"
)

// TypeGitLab is the system type of a GitLab instance (gitlab.com, or a
// self-managed one at endpoint:).
const TypeGitLab = "gitlab"

// DeliverGitLabCIVariable is the delivery type of a GitLab project's CI/CD
// variable.
const DeliverGitLabCIVariable = "gitlab-ci-variable"

var (
	glDeliverKeys = []string{"type", "project", "key", "protected", "masked", "system"}
	// glProject is a project's numeric id or its full path
	// (group[/subgroup…]/project).
	glProject = regexp.MustCompile(`^(?:[0-9]+|[A-Za-z0-9_.][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_.][A-Za-z0-9_.-]*)+)$`)
	// glVariableKey: letters, digits and _, at most 255 (GitLab's rule).
	glVariableKey = regexp.MustCompile(`^[A-Za-z0-9_]{1,255}$`)
)

// gitlabDelivery reads {type: gitlab-ci-variable, project, key,
// protected?, masked?, system?}. system names the gitlab system whose
// administrator writes the variable; without it the inventory's only
// gitlab system does.
func (p *parser) gitlabDelivery(o *obj, d *Delivery, what string, inv *Inventory) {
	o.only(glDeliverKeys...)
	if d.Project = o.str("project", true); d.Project != "" && !glProject.MatchString(d.Project) {
		p.errorf(o.at("project"), "%s: project %s: want a project id or its full path, like acme/api", what, quote(d.Project))
	}
	if d.Key = o.str("key", true); d.Key != "" && !glVariableKey.MatchString(d.Key) {
		p.errorf(o.at("key"), "%s: key %s: a CI/CD variable key is letters, digits and _, at most 255", what, quote(d.Key))
	}
	d.Protected = o.boolean("protected")
	d.Masked = o.boolean("masked")
	d.System = p.deliverySystem(o, what, inv, TypeGitLab, DeliverGitLabCIVariable)
}

// deliverySystem reads a delivery's system: (which system of type typ
// writes it); without it, the inventory's only system of that type.
func (p *parser) deliverySystem(o *obj, what string, inv *Inventory, typ, deliverType string) string {
	var names []string
	for _, s := range inv.Systems {
		if s.Type == typ {
			names = append(names, s.Name)
		}
	}
	if sys := o.str("system", false); sys != "" {
		if s := inv.SystemByName(sys); s == nil || s.Type != typ {
			p.errorf(o.at("system"), "%s: system %s is not a %s system of this inventory (%s systems: %s)", what, quote(sys), typ, typ, listOrNone(names))
		}
		return sys
	}
	switch len(names) {
	case 0:
		p.errorf(o.node, "%s: a %s is written by a %s system's administrator, and the inventory has no system of type %s", what, deliverType, typ, typ)
	case 1:
		return names[0]
	default:
		p.errorf(o.node, "%s: several %s systems (%s): say which writes it with system:", what, typ, strings.Join(names, ", "))
	}
	return ""
}
