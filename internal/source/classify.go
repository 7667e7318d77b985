package source

import (
	"path"
	"strings"
)

// Classify returns the location class of a working-tree file from its path
// alone (slash separated, relative or absolute). It favours the classes that
// change remediation: CI definitions and infrastructure code before config,
// config before code.
func Classify(p string) Class {
	p = strings.ReplaceAll(p, "\\", "/")
	lower := strings.ToLower(p)
	base := path.Base(lower)
	ext := path.Ext(base)
	dirs := "/" + strings.TrimPrefix(path.Dir(lower), "/") + "/"

	switch {
	case strings.Contains(dirs, "/.github/workflows/"), strings.Contains(dirs, "/.github/actions/"),
		base == ".gitlab-ci.yml", strings.HasSuffix(base, ".gitlab-ci.yml"),
		base == "jenkinsfile", strings.HasPrefix(base, "jenkinsfile."),
		strings.Contains(dirs, "/.circleci/"),
		base == "azure-pipelines.yml", base == "azure-pipelines.yaml",
		strings.Contains(dirs, "/.buildkite/"), base == "buildkite.yml", base == ".buildkite.yml",
		base == ".travis.yml", base == "bitbucket-pipelines.yml", base == ".drone.yml",
		strings.Contains(dirs, "/.woodpecker/"), base == "cloudbuild.yaml", base == "cloudbuild.yml",
		base == "buildspec.yml", base == "appveyor.yml":
		return ClassCI
	case ext == ".tf", ext == ".tfvars", ext == ".hcl", strings.HasSuffix(base, ".tfvars.json"), strings.HasSuffix(base, ".tf.json"),
		base == "dockerfile", strings.HasPrefix(base, "dockerfile."), strings.HasSuffix(base, ".dockerfile"),
		base == "containerfile",
		base == "docker-compose.yml", base == "docker-compose.yaml", base == "compose.yml", base == "compose.yaml",
		strings.HasPrefix(base, "docker-compose.") && (ext == ".yml" || ext == ".yaml"),
		base == "chart.yaml", strings.HasPrefix(base, "values") && (ext == ".yaml" || ext == ".yml"),
		strings.Contains(dirs, "/templates/") && (ext == ".yaml" || ext == ".yml" || ext == ".tpl"),
		strings.Contains(dirs, "/k8s/"), strings.Contains(dirs, "/kubernetes/"), strings.Contains(dirs, "/manifests/"),
		strings.Contains(dirs, "/helm/"), strings.Contains(dirs, "/charts/"), strings.Contains(dirs, "/kustomize/"),
		base == "kustomization.yaml", base == "kustomization.yml",
		strings.Contains(dirs, "/terraform/"), strings.Contains(dirs, "/ansible/"), ext == ".pp",
		strings.Contains(dirs, "/cloudformation/"), strings.HasSuffix(base, ".template.json"):
		return ClassIaC
	case codeExt[ext]:
		// Source code stays code wherever it lives (a keys/ or config/
		// package); only the directory-based config guesses below are
		// for files without a language of their own.
		return ClassCode
	case strings.HasPrefix(base, ".env"), strings.HasSuffix(base, ".env"),
		ext == ".yml", ext == ".yaml", ext == ".json", ext == ".toml", ext == ".ini", ext == ".cfg", ext == ".conf",
		ext == ".properties", ext == ".xml", ext == ".config", ext == ".cnf", ext == ".plist",
		ext == ".pem", ext == ".key", ext == ".crt", ext == ".p12", ext == ".pfx", ext == ".ppk",
		base == ".npmrc", base == ".pypirc", base == ".netrc", base == "_netrc", base == ".pgpass", base == ".my.cnf",
		base == ".gitconfig", base == ".git-credentials", base == ".dockercfg", base == "credentials",
		base == "id_rsa", base == "id_dsa", base == "id_ecdsa", base == "id_ed25519",
		strings.HasSuffix(base, "_key"), strings.HasSuffix(base, "_rsa"), strings.HasSuffix(base, ".keystore"), ext == ".jks",
		strings.Contains(dirs, "/.ssh/"), strings.Contains(dirs, "/keys/"), strings.Contains(dirs, "/secrets/"), strings.Contains(dirs, "/certs/"),
		strings.Contains(dirs, "/.aws/"), strings.Contains(dirs, "/.docker/"), strings.Contains(dirs, "/.kube/"),
		strings.Contains(dirs, "/etc/"), strings.Contains(dirs, "/config/"), strings.Contains(dirs, "/conf/"):
		return ClassConfig
	}
	return ClassCode
}

var codeExt = map[string]bool{
	".go": true, ".py": true, ".js": true, ".mjs": true, ".cjs": true, ".ts": true, ".tsx": true, ".jsx": true,
	".java": true, ".kt": true, ".scala": true, ".rb": true, ".rs": true, ".c": true, ".h": true, ".cc": true,
	".cpp": true, ".hpp": true, ".cs": true, ".php": true, ".swift": true, ".m": true, ".sh": true, ".bash": true,
	".ps1": true, ".pl": true, ".lua": true, ".ex": true, ".exs": true, ".erl": true, ".clj": true, ".dart": true,
	".vue": true, ".svelte": true, ".md": true, ".rst": true, ".txt": true, ".ipynb": true, ".sql": true,
}
