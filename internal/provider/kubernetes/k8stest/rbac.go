package k8stest

import (
	"slices"
	"strings"
)

// allowed evaluates RBAC as the API reference describes it: the union of
// the rules of every Role (through RoleBindings of the request's
// namespace) and ClusterRole (through either kind of binding) bound to
// the user or one of its groups; system:masters may do everything.
func (s *Server) allowed(user string, groups []string, q request) bool {
	if slices.Contains(groups, "system:masters") {
		return true
	}
	resource := q.resource
	if q.sub != "" {
		resource += "/" + q.sub
	}
	for _, rules := range s.rulesFor(user, groups, q.namespace) {
		for _, r := range rules {
			if ruleAllows(r, q.group, resource, q.verb, q.name) {
				return true
			}
		}
	}
	return false
}

// rulesFor lists the rules bound to the user in namespace ns ("" for
// cluster-scoped requests, which only ClusterRoleBindings reach).
func (s *Server) rulesFor(user string, groups []string, ns string) [][]any {
	var out [][]any
	for k, b := range s.objs {
		res, rest, _ := strings.Cut(k, "/")
		bns, _, _ := strings.Cut(rest, "/")
		if res != "clusterrolebindings" && (res != "rolebindings" || ns == "" || bns != ns) {
			continue
		}
		if !bindsSubject(b, user, groups) {
			continue
		}
		ref, _ := b["roleRef"].(object)
		role := s.objs[key("clusterroles", "", str(ref, "name"))]
		if str(ref, "kind") == "Role" {
			role = s.objs[key("roles", bns, str(ref, "name"))]
		}
		if role != nil {
			rules, _ := role["rules"].([]any)
			out = append(out, rules)
		}
	}
	return out
}

func bindsSubject(b object, user string, groups []string) bool {
	subjects, _ := b["subjects"].([]any)
	for _, x := range subjects {
		sub, _ := x.(object)
		switch str(sub, "kind") {
		case "User":
			if str(sub, "name") == user {
				return true
			}
		case "Group":
			if slices.Contains(groups, str(sub, "name")) {
				return true
			}
		case "ServiceAccount":
			if "system:serviceaccount:"+str(sub, "namespace")+":"+str(sub, "name") == user {
				return true
			}
		}
	}
	return false
}

func ruleAllows(x any, group, resource, verb, name string) bool {
	r, _ := x.(object)
	has := func(field, v string) bool {
		l, _ := r[field].([]any)
		return slices.Contains(l, any(v)) || slices.Contains(l, any("*"))
	}
	if !has("verbs", verb) || !has("apiGroups", group) || !has("resources", resource) {
		return false
	}
	names, _ := r["resourceNames"].([]any)
	return len(names) == 0 || slices.Contains(names, any(name))
}

// rollout stands in for the deployment controller, which this server does
// not run: every write of a Deployment bumps metadata.generation and at
// once reports the rollout complete (observedGeneration, updated, ready
// and available replicas equal to spec.replicas), so a client watching
// rollout status sees it finish. A real cluster takes its time and may
// not finish; that is unverified here.
func (s *Server) rollout(o object) {
	md := meta(o)
	gen, _ := md["generation"].(float64)
	md["generation"] = gen + 1
	spec, _ := o["spec"].(object)
	replicas, ok := spec["replicas"].(float64)
	if !ok {
		replicas = 1
	}
	o["status"] = object{"observedGeneration": gen + 1, "replicas": replicas, "updatedReplicas": replicas,
		"readyReplicas": replicas, "availableReplicas": replicas,
		"conditions": []any{object{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
			object{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}}}
}
