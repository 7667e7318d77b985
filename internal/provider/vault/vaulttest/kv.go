package vaulttest

import (
	"iter"
	"maps"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// kvAPI serves a KV version 2 mount: data/PATH (read a version, write
// with options.cas) and metadata/PATH (versions and the current one).
func (s *Server) kvAPI(r *request, mount, rest string) (response, *apiError) {
	kind, path, _ := strings.Cut(rest, "/")
	item := s.kv[mount+"/"+path]
	switch {
	case kind == "data" && r.method == http.MethodGet:
		if item == nil {
			return nil, errorf(http.StatusNotFound, "")
		}
		v := len(item.versions)
		if q := r.query["version"]; len(q) > 0 && q[0] != "" && q[0] != "0" {
			n, err := strconv.Atoi(q[0])
			if err != nil || n < 1 || n > len(item.versions) {
				return nil, errorf(http.StatusNotFound, "")
			}
			v = n
		}
		ver := item.versions[v-1]
		return response{"data": map[string]any{"data": ver.Data, "metadata": versionMeta(ver, v)}}, nil
	case kind == "data" && (r.method == http.MethodPost || r.method == http.MethodPut):
		data, ok := r.body["data"].(map[string]any)
		if !ok {
			return nil, errorf(http.StatusBadRequest, "no data provided")
		}
		current := 0
		if item != nil {
			current = len(item.versions)
		}
		if opts, _ := r.body["options"].(map[string]any); opts != nil {
			if cas, ok := opts["cas"].(float64); ok {
				if s.casConflicts > 0 {
					s.casConflicts--
					s.put(mount+"/"+path, map[string]any{"written-by": "another writer"})
					current++
				}
				if int(cas) != current {
					return nil, errorf(http.StatusBadRequest, "check-and-set parameter did not match the current version")
				}
			}
		}
		v := s.put(mount+"/"+path, data)
		return response{"data": versionMeta(s.kv[mount+"/"+path].versions[v-1], v)}, nil
	case kind == "metadata" && r.method == http.MethodGet:
		if item == nil {
			return nil, errorf(http.StatusNotFound, "")
		}
		versions := map[string]any{}
		for i, ver := range item.versions {
			versions[strconv.Itoa(i+1)] = map[string]any{"created_time": ver.Created.UTC().Format(time.RFC3339Nano), "deletion_time": "", "destroyed": false}
		}
		return response{"data": map[string]any{
			"current_version": len(item.versions), "oldest_version": 1, "max_versions": 0, "cas_required": false,
			"created_time": item.versions[0].Created.UTC().Format(time.RFC3339Nano), "versions": versions,
			"updated_time": item.versions[len(item.versions)-1].Created.UTC().Format(time.RFC3339Nano),
		}}, nil
	case kind == "metadata" && r.method == "LIST":
		prefix := mount + "/" + path
		if path != "" {
			prefix += "/"
		}
		return listing(maps.Keys(s.kv), prefix)
	}
	return nil, errorf(http.StatusMethodNotAllowed, "unsupported operation")
}

func (s *Server) put(key string, data map[string]any) int {
	item := s.kv[key]
	if item == nil {
		item = &kvItem{}
		s.kv[key] = item
	}
	item.versions = append(item.versions, kvVersion{Data: data, Created: time.Now()})
	return len(item.versions)
}

func versionMeta(v kvVersion, n int) map[string]any {
	return map[string]any{"created_time": v.Created.UTC().Format(time.RFC3339Nano), "custom_metadata": nil, "deletion_time": "", "destroyed": false, "version": n}
}

// listing answers a LIST: the names one level below prefix ("a", and
// "dir/" for deeper ones), sorted; none is a bare 404.
func listing(ids iter.Seq[string], prefix string) (response, *apiError) {
	seen := map[string]bool{}
	var keys []string
	for id := range ids {
		rest, ok := strings.CutPrefix(id, prefix)
		if !ok {
			continue
		}
		if dir, _, sub := strings.Cut(rest, "/"); sub {
			rest = dir + "/"
		}
		if !seen[rest] {
			seen[rest] = true
			keys = append(keys, rest)
		}
	}
	if len(keys) == 0 {
		return nil, errorf(http.StatusNotFound, "")
	}
	sort.Strings(keys)
	return response{"data": map[string]any{"keys": keys}}, nil
}
