package decode

import (
	"bytes"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// --- Kubernetes ---

var kindSecret = regexp.MustCompile(`["']?\bkind["']?[ \t]*:[ \t]*["']?Secret\b`)

// mayBeK8sSecret is the cheap check before parsing a manifest.
func mayBeK8sSecret(data []byte) bool {
	return bytes.Contains(data, []byte("Secret")) && kindSecret.Match(data)
}

// k8s decodes the data of a Secret, or of the Secrets in a List.
// stringData is plain and scanned in the file itself; only a docker config
// held there has encoded values of its own.
func (e *expander) k8s(n *node, depth int) {
	if n == nil || n.kind != mapKind || depth > maxDepth {
		return
	}
	switch kind := n.scalar("kind"); {
	case kind == "Secret":
		if d := n.get("data"); d != nil && d.kind == mapKind {
			for i, k := range d.keys {
				v := d.kids[i]
				if v.kind != scalarKind || v.str == "" {
					continue
				}
				if dec, ok := decodeBase64(v.str); ok && len(dec) > 0 {
					e.value(v.off, k, dec)
				}
			}
		}
		if d := n.get("stringData"); d != nil && d.kind == mapKind {
			for i, k := range d.keys {
				if v := d.kids[i]; v.kind == scalarKind {
					e.nested(v.off, k, []byte(v.str))
				}
			}
		}
	case strings.HasSuffix(kind, "List"):
		if items := n.get("items"); items != nil && items.kind == seqKind {
			for _, it := range items.kids {
				e.k8s(it, depth+1)
			}
		}
	}
}

// --- Docker ---

func isDockercfg(p string) bool {
	return strings.EqualFold(path.Base(filepath.ToSlash(p)), ".dockercfg")
}

// mayBeDocker is the cheap check before parsing a docker config.
func mayBeDocker(p string, data []byte) bool {
	return bytes.Contains(data, []byte(`"auths"`)) || isDockercfg(p) && bytes.Contains(data, []byte(`"auth"`))
}

// docker decodes auths.<registry>.auth, base64 of user:password (or, in
// the legacy .dockercfg, <registry>.auth at the top level).
// identitytoken and registrytoken are stored plain.
func (e *expander) docker(n *node, legacy bool) {
	auths := n.get("auths")
	if auths == nil && legacy {
		auths = n
	}
	if auths == nil || auths.kind != mapKind {
		return
	}
	for i, reg := range auths.keys {
		a := auths.kids[i].get("auth")
		if a == nil || a.kind != scalarKind || a.str == "" {
			continue
		}
		dec, ok := decodeBase64(a.str)
		if !ok || len(dec) == 0 {
			continue
		}
		e.add(a.off, "auths."+reg+".auth", renderAuth(reg, dec))
	}
}

// renderAuth writes a decoded docker auth so that a generic password rule
// matches the password: `registry=<host> user=<user> password: "<pw>"`.
// A password that is a document (GCR's _json_key) follows on its own lines.
func renderAuth(reg string, dec []byte) []byte {
	user, pass, ok := bytes.Cut(dec, []byte(":"))
	if !ok {
		return quoted("registry="+reg+" auth: ", dec)
	}
	head := "registry=" + reg + " user=" + string(user)
	if isFile(pass) {
		return append([]byte(head+"\n"), pass...)
	}
	return quoted(head+" password: ", pass)
}

// --- CI variables ---

type ciFile uint8

const (
	notCI   ciFile = iota
	ciYAML         // a pipeline definition: variables under env/variables/environment
	ciLines        // KEY=value lines: dotenv, Jenkinsfile
)

// ciBase are pipeline files known by name; ciDirs are folders whose YAML
// files are pipelines.
var (
	ciBase = map[string]bool{
		".gitlab-ci.yml": true, ".gitlab-ci.yaml": true, "azure-pipelines.yml": true, "azure-pipelines.yaml": true,
		"bitbucket-pipelines.yml": true, ".travis.yml": true, ".drone.yml": true, "appveyor.yml": true,
		".appveyor.yml": true, "cloudbuild.yaml": true, "cloudbuild.yml": true, ".woodpecker.yml": true,
		".woodpecker.yaml": true, "codemagic.yaml": true, "buildspec.yml": true, "buildspec.yaml": true,
		"action.yml": true, "action.yaml": true, "compose.yml": true, "compose.yaml": true,
		".gitpod.yml": true, "bitrise.yml": true, "wercker.yml": true,
	}
	ciDirs = []string{"/.github/workflows/", "/.circleci/", "/.gitlab/", "/.buildkite/", "/.woodpecker/", "/.azure-pipelines/", "/.tekton/", "/.forgejo/workflows/", "/.gitea/workflows/"}
)

// ciKind tells from the path alone whether a file holds CI variables.
func ciKind(p string) ciFile {
	p = "/" + filepath.ToSlash(p)
	base := strings.ToLower(path.Base(p))
	switch {
	case base == ".env" || base == ".envrc" || strings.HasPrefix(base, ".env.") || strings.HasSuffix(base, ".env"):
		return ciLines
	case base == "jenkinsfile" || strings.HasPrefix(base, "jenkinsfile."):
		return ciLines
	}
	if !strings.HasSuffix(base, ".yml") && !strings.HasSuffix(base, ".yaml") {
		return notCI
	}
	if ciBase[base] || strings.HasSuffix(base, ".gitlab-ci.yml") || strings.HasPrefix(base, "docker-compose") {
		return ciYAML
	}
	for _, d := range ciDirs {
		if strings.Contains(p, d) {
			return ciYAML
		}
	}
	return notCI
}

// envKeys name the sections that hold variables in pipeline files.
var envKeys = map[string]bool{"env": true, "variables": true, "environment": true, "vars": true, "global_env": true}

// ci walks a pipeline for variable sections, at any depth (workflow, job,
// step).
func (e *expander) ci(n *node, depth int) {
	if n == nil || depth > maxDepth {
		return
	}
	switch n.kind {
	case mapKind:
		for i, k := range n.keys {
			if envKeys[strings.ToLower(k)] {
				e.envSection(n.kids[i], depth+1)
			} else {
				e.ci(n.kids[i], depth+1)
			}
		}
	case seqKind:
		for _, c := range n.kids {
			e.ci(c, depth+1)
		}
	}
}

// envSection reads the forms variables take: KEY: value; KEY: {value: …}
// (GitLab); - KEY=value (Travis, CircleCI, compose); - name: KEY / value: …
// (Azure, Tekton, Kubernetes-style); and nested groups (Travis global:).
func (e *expander) envSection(n *node, depth int) {
	if n == nil || depth > maxDepth {
		return
	}
	switch n.kind {
	case mapKind:
		for i, k := range n.keys {
			switch v := n.kids[i]; v.kind {
			case scalarKind:
				e.ciValue(k, v.str, v.off)
			case mapKind:
				if val := v.get("value"); val != nil && val.kind == scalarKind {
					e.ciValue(k, val.str, val.off)
				} else {
					e.envSection(v, depth+1)
				}
			case seqKind:
				e.envSection(v, depth+1)
			}
		}
	case seqKind:
		for _, c := range n.kids {
			switch c.kind {
			case scalarKind:
				e.assignments(c)
			case mapKind:
				if name := c.scalar("name"); name != "" {
					if val := c.get("value"); val != nil && val.kind == scalarKind {
						e.ciValue(name, val.str, val.off)
					}
				} else {
					e.envSection(c, depth+1)
				}
			}
		}
	case scalarKind:
		e.assignments(n)
	}
}

// assignments reads "KEY=value" or "A=1 B=2" from one scalar.
func (e *expander) assignments(n *node) {
	s := n.str
	for i := 0; i < len(s); {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		j := i
		for j < len(s) && s[j] != ' ' && s[j] != '\t' {
			j++
		}
		if k, v, ok := strings.Cut(s[i:j], "="); ok && k != "" {
			off := n.off
			if n.exact {
				off += i + len(k) + 1
			}
			e.ciValue(k, v, off)
		}
		i = j
	}
}

// ciValue decodes a variable whose value is a long base64 blob of text.
func (e *expander) ciValue(key, v string, off int) {
	if !isBlob(v) {
		return
	}
	dec, ok := decodeBase64(v)
	if !ok || !printable(dec) {
		return
	}
	e.value(off, key, dec)
}

// minBlob is the shortest CI value taken for base64: shorter ones are as
// likely to be ids and tags that happen to use the alphabet.
const minBlob = 24

// isBlob reports whether v looks like base64 in one alphabet, long enough
// to be worth decoding, and not plain hex (a digest or commit id).
func isBlob(v string) bool {
	if len(v) < minBlob {
		return false
	}
	body := strings.TrimRight(v, "=")
	if len(v)-len(body) > 2 {
		return false
	}
	std, url, hexOnly := false, false, true
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		case 'g' <= c && c <= 'z', 'G' <= c && c <= 'Z':
			hexOnly = false
		case c == '+' || c == '/':
			std, hexOnly = true, false
		case c == '-' || c == '_':
			url, hexOnly = true, false
		default:
			return false
		}
	}
	return !(std && url) && !hexOnly
}

// envLine is one KEY=value or KEY: value line, optionally exported, listed
// or quoted, with a value in the base64 alphabets.
var envLine = regexp.MustCompile(`(?m)^[ \t]*(?:export[ \t]+|-[ \t]+)?([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*[=:][ \t]*(["']?)([A-Za-z0-9+/_-]+={0,2})(["']?)[ \t]*(?:#.*)?\r?$`)

// envLines reads variables line by line: dotenv files, a Jenkinsfile's
// environment block, a pipeline file that does not parse.
func (e *expander) envLines(data []byte) {
	for _, m := range envLine.FindAllSubmatchIndex(data, -1) {
		if string(data[m[4]:m[5]]) != string(data[m[8]:m[9]]) {
			continue // mismatched quotes
		}
		e.ciValue(string(data[m[2]:m[3]]), string(data[m[6]:m[7]]), m[6])
	}
}
