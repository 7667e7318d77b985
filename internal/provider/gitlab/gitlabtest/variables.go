package gitlabtest

import (
	"net/http"
	"regexp"
	"slices"
	"strconv"
)

// Project is a project holding CI/CD variables, or a group (Group set).
type Project struct {
	ID          int64
	Path        string // full path, group/project
	Group       bool
	Maintainers []int64
	Variables   map[string]*Variable
}

// Variable is a project's CI/CD variable as the API shows it.
type Variable struct {
	Key              string `json:"key"`
	Value            string `json:"value"`
	VariableType     string `json:"variable_type"`
	Protected        bool   `json:"protected"`
	Masked           bool   `json:"masked"`
	Hidden           bool   `json:"hidden"`
	Raw              bool   `json:"raw"`
	EnvironmentScope string `json:"environment_scope"`
	Description      any    `json:"description"`
}

// maskable is GitLab's rule for a value it can mask in job logs: at least
// 8 characters of the Base64 alphabet (RFC 4648, both forms) and @ : . ~.
var maskable = regexp.MustCompile(`^[A-Za-z0-9+/=_@:.~-]{8,}$`)

// variableKey: letters, digits and _, at most 255.
var variableKey = regexp.MustCompile(`^[A-Za-z0-9_]{1,255}$`)

// CreateProject adds a project at path whose maintainers are the given
// users (administrators may act on every project).
func (s *Server) CreateProject(path string, maintainers ...int64) *Project {
	return s.createResource(path, false, maintainers)
}

// CreateGroup adds a group at path whose owners are the given users.
func (s *Server) CreateGroup(path string, owners ...int64) *Project {
	return s.createResource(path, true, owners)
}

func (s *Server) createResource(path string, group bool, maintainers []int64) *Project {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := &Project{ID: s.id(), Path: path, Group: group, Maintainers: maintainers, Variables: map[string]*Variable{}}
	if s.projects == nil {
		s.projects = map[int64]*Project{}
	}
	s.projects[p.ID] = p
	return p
}

// ProjectVariable returns a copy of a project's variable, or nil.
func (s *Server) ProjectVariable(projectID int64, key string) *Variable {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.projects[projectID]; p != nil && p.Variables[key] != nil {
		v := *p.Variables[key]
		return &v
	}
	return nil
}

// project is the project :id names (a number or a URL-encoded full path)
// if the caller maintains it; it answers 404 itself otherwise, as GitLab
// hides projects a caller cannot see.
func (s *Server) project(w http.ResponseWriter, r *http.Request) *Project {
	return s.resource(w, r, false)
}

// resource is project's, or with group a group's, counterpart.
func (s *Server) resource(w http.ResponseWriter, r *http.Request, group bool) *Project {
	id := r.PathValue("id")
	c := callerOf(r)
	for _, p := range s.projects {
		if p.Group == group && (strconv.FormatInt(p.ID, 10) == id || p.Path == id) {
			if c.user.IsAdmin || slices.Contains(p.Maintainers, c.user.ID) {
				return p
			}
		}
	}
	if group {
		message(w, http.StatusNotFound, "404 Group Not Found")
	} else {
		message(w, http.StatusNotFound, "404 Project Not Found")
	}
	return nil
}

func (s *Server) variableRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v4/projects/{id}", s.guard(false, false, func(w http.ResponseWriter, r *http.Request) {
		if p := s.project(w, r); p != nil {
			writeJSON(w, http.StatusOK, map[string]any{"id": p.ID, "path_with_namespace": p.Path})
		}
	}))
	mux.HandleFunc("GET /api/v4/projects/{id}/variables", s.guard(false, false, func(w http.ResponseWriter, r *http.Request) {
		if p := s.project(w, r); p != nil {
			var out []*Variable
			for _, v := range p.Variables {
				out = append(out, v)
			}
			slices.SortFunc(out, func(a, b *Variable) int {
				if a.Key < b.Key {
					return -1
				}
				return 1
			})
			paginate(s, w, r, out)
		}
	}))
	mux.HandleFunc("GET /api/v4/projects/{id}/variables/{key}", s.guard(false, false, func(w http.ResponseWriter, r *http.Request) {
		if p := s.project(w, r); p != nil {
			if v := p.Variables[r.PathValue("key")]; v != nil {
				writeJSON(w, http.StatusOK, v)
				return
			}
			message(w, http.StatusNotFound, "404 Variable Not Found")
		}
	}))
	mux.HandleFunc("POST /api/v4/projects/{id}/variables", s.guard(true, false, func(w http.ResponseWriter, r *http.Request) {
		p := s.project(w, r)
		if p == nil {
			return
		}
		in, ok := variableInput(w, r)
		if !ok {
			return
		}
		if !variableKey.MatchString(in.Key) {
			writeJSON(w, http.StatusBadRequest, map[string]any{"message": map[string][]string{"key": {"can contain only letters, digits and '_'."}}})
			return
		}
		if p.Variables[in.Key] != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"message": map[string][]string{"key": {"(" + in.Key + ") has already been taken"}}})
			return
		}
		v := &Variable{Key: in.Key, VariableType: "env_var", EnvironmentScope: "*"}
		if !apply(w, v, in) {
			return
		}
		p.Variables[v.Key] = v
		writeJSON(w, http.StatusCreated, v)
	}))
	mux.HandleFunc("PUT /api/v4/projects/{id}/variables/{key}", s.guard(true, false, func(w http.ResponseWriter, r *http.Request) {
		p := s.project(w, r)
		if p == nil {
			return
		}
		old := p.Variables[r.PathValue("key")]
		if old == nil {
			message(w, http.StatusNotFound, "404 Variable Not Found")
			return
		}
		in, ok := variableInput(w, r)
		if !ok {
			return
		}
		v := *old
		if !apply(w, &v, in) {
			return
		}
		*old = v
		writeJSON(w, http.StatusOK, old)
	}))
}

type variableIn struct {
	Key       string  `json:"key"`
	Value     *string `json:"value"`
	Protected *bool   `json:"protected"`
	Masked    *bool   `json:"masked"`
	Raw       *bool   `json:"raw"`
}

func variableInput(w http.ResponseWriter, r *http.Request) (variableIn, bool) {
	var in variableIn
	if err := decode(r, &in); err != nil {
		message(w, http.StatusBadRequest, "400 Bad request - "+err.Error())
		return in, false
	}
	return in, true
}

// apply sets what in gives on v, refusing a masked variable whose value
// GitLab cannot mask ({"message": {"value": ["is invalid"]}}).
func apply(w http.ResponseWriter, v *Variable, in variableIn) bool {
	if in.Value != nil {
		v.Value = *in.Value
	}
	for _, f := range []struct {
		dst *bool
		src *bool
	}{{&v.Protected, in.Protected}, {&v.Masked, in.Masked}, {&v.Raw, in.Raw}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	if v.Masked && !maskable.MatchString(v.Value) {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": map[string][]string{"value": {"is invalid"}}})
		return false
	}
	return true
}
