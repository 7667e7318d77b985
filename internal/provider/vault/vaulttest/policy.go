package vaulttest

import (
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl"
)

// aclPolicy is an ACL policy's rules: path pattern → capabilities.
type aclPolicy struct {
	Path map[string]struct {
		Capabilities []string `hcl:"capabilities"`
	} `hcl:"path"`
}

// capabilities are what t's policies, and its entity's, grant on path. Within one policy the
// most specific matching rule wins (an exact path over a glob, a longer
// glob over a shorter one); across policies the grants add up, and a deny
// anywhere wins (Vault's documented priority, without its finer "+"
// ordering).
func (s *Server) capabilities(t *token, path string) map[string]bool {
	caps := map[string]bool{}
	for _, name := range append(slices.Clone(t.Policies), s.identityPolicies(t)...) {
		if name == "root" {
			caps["root"] = true
			continue
		}
		var p aclPolicy
		if err := hcl.Decode(&p, s.policies[name]); err != nil {
			continue
		}
		best, bestScore := "", -1
		for pattern := range p.Path {
			if score, ok := match(pattern, path); ok && score > bestScore {
				best, bestScore = pattern, score
			}
		}
		if bestScore < 0 {
			continue
		}
		for _, c := range p.Path[best].Capabilities {
			caps[c] = true
		}
	}
	return caps
}

// match reports whether a policy path pattern covers path and how
// specific it is: "+" is one segment, a trailing "*" any suffix; an exact
// match scores above every glob.
func match(pattern, path string) (score int, ok bool) {
	if pattern == path {
		return 1 << 20, true
	}
	glob := strings.HasSuffix(pattern, "*")
	pat := strings.TrimSuffix(pattern, "*")
	ps, xs := strings.Split(pat, "/"), strings.Split(path, "/")
	if len(xs) < len(ps) || !glob && len(xs) != len(ps) {
		return 0, false
	}
	for i, seg := range ps {
		last := i == len(ps)-1
		switch {
		case seg == "+":
		case last && glob:
			if !strings.HasPrefix(xs[i], seg) {
				return 0, false
			}
		case seg != xs[i]:
			return 0, false
		}
	}
	return len(pat) - strings.Count(pat, "+"), true
}

func (s *Server) policyAPI(r *request) (response, *apiError) {
	name := strings.TrimPrefix(strings.TrimPrefix(r.path, "sys/policies/acl"), "/")
	switch {
	case name == "" && r.method == "LIST":
		keys := make([]string, 0, len(s.policies))
		for k := range s.policies {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return response{"data": map[string]any{"keys": keys}}, nil
	case name == "":
	case r.method == http.MethodGet:
		text, ok := s.policies[name]
		if !ok {
			return nil, errorf(http.StatusNotFound, "")
		}
		return response{"data": map[string]any{"name": name, "policy": text}}, nil
	case r.method == http.MethodPost || r.method == http.MethodPut:
		text := r.str("policy")
		var p aclPolicy
		if err := hcl.Decode(&p, text); err != nil {
			return nil, errorf(http.StatusBadRequest, "failed to parse policy: "+err.Error())
		}
		s.policies[name] = text
		return nil, nil
	case r.method == http.MethodDelete:
		if name == "default" || name == "root" {
			return nil, errorf(http.StatusBadRequest, "cannot delete "+name+" policy")
		}
		delete(s.policies, name)
		return nil, nil
	}
	return nil, errorf(http.StatusMethodNotAllowed, "unsupported operation")
}
