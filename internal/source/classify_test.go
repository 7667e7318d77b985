package source

import "testing"

func TestClassify(t *testing.T) {
	cases := map[string]Class{
		".github/workflows/deploy.yml":        ClassCI,
		"repo/.gitlab-ci.yml":                 ClassCI,
		"Jenkinsfile":                         ClassCI,
		".circleci/config.yml":                ClassCI,
		"azure-pipelines.yml":                 ClassCI,
		".buildkite/pipeline.yml":             ClassCI,
		"infra/main.tf":                       ClassIaC,
		"prod.tfvars":                         ClassIaC,
		"deploy/k8s/secret.yaml":              ClassIaC,
		"charts/api/values.yaml":              ClassIaC,
		"charts/api/templates/deploy.yaml":    ClassIaC,
		"Dockerfile":                          ClassIaC,
		"services/api/Dockerfile.prod":        ClassIaC,
		"docker-compose.override.yml":         ClassIaC,
		".env":                                ClassConfig,
		".env.production":                     ClassConfig,
		"config/settings.yaml":                ClassConfig,
		"app.properties":                      ClassConfig,
		"/home/u/.aws/credentials":            ClassConfig,
		".npmrc":                              ClassConfig,
		"keys/server.pem":                     ClassConfig,
		"cmd/api/main.go":                     ClassCode,
		"src/db.py":                           ClassCode,
		"README.md":                           ClassCode,
		"C:\\proj\\.github\\workflows\\a.yml": ClassCI,
	}
	for p, want := range cases {
		if got := Classify(p); got != want {
			t.Errorf("Classify(%q) = %s, want %s", p, got, want)
		}
	}
}
