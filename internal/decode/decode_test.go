package decode

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// want is one expected Decoded; Line and Column are written out, and
// checked against the position of Needle in the fixture as well.
type want struct {
	Key          string
	Data         string
	Line, Column int
	Needle       string // the encoded value's first characters
}

func check(t *testing.T, path, fixture string, ws []want) {
	t.Helper()
	got := Expand(path, []byte(fixture))
	if len(got) != len(ws) {
		for _, g := range got {
			t.Logf("got %s %d:%d %q", g.Key, g.Line, g.Column, g.Data)
		}
		t.Fatalf("%s: %d decoded values, want %d", path, len(got), len(ws))
	}
	for i, w := range ws {
		g := got[i]
		if g.Key != w.Key || string(g.Data) != w.Data || g.Line != w.Line || g.Column != w.Column || g.Encoding != Base64 {
			t.Errorf("%s #%d:\n got %s %d:%d %s %q\nwant %s %d:%d base64 %q", path, i, g.Key, g.Line, g.Column, g.Encoding, g.Data, w.Key, w.Line, w.Column, w.Data)
		}
		if w.Needle != "" {
			if l, c := position(fixture, w.Needle); l != w.Line || c != w.Column {
				t.Errorf("%s #%d: the fixture has %q at %d:%d, the test says %d:%d", path, i, w.Needle, l, c, w.Line, w.Column)
			}
		}
	}
}

func position(s, needle string) (int, int) {
	i := strings.Index(s, needle)
	if i < 0 || strings.Count(s, needle) != 1 {
		panic("needle not unique: " + needle)
	}
	return strings.Count(s[:i], "\n") + 1, i - strings.LastIndex(s[:i], "\n")
}

const manifest = `# api: deployment and its secrets
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  template:
    spec:
      containers:
        - name: api
          image: ghcr.io/acme/api:1.2.3
          env:
            - name: NOT_A_SECRET
              value: "dGhpcyBpcyBhIGRlcGxveW1lbnQgZW52IHZhbHVl"
          envFrom:
            - secretRef:
                name: api-secrets
---
apiVersion: v1
kind: Secret
metadata:
  name: api-secrets
  namespace: prod
type: Opaque
data:
  DB_PASSWORD: UzNjcjN0LVBhc3N3MHJkIQ==
  "api-token": "Z2hwXzE2QzdlNDJGMjkyYzY5MTJFNzcxMGM4MzgzNDdBZTE3OEI0YQ=="
  credentials: |
    W2RlZmF1bHRdCmF3c19hY2Nlc3Nfa2V5X2lkID0gQUtJQUlPU0ZPRE5ON0VYQU1QTEUKYXdzX3NlY3JldF9hY2Nlc3Nfa2V5ID0gd0phbHJYVXRuRkVNSS9LN01ERU5HL2JQeFJmaUNZRVhBTVBMRUtFWQo=
  echoed: aHVudGVyMi1idXQtbG9uZ2VyCg==
  broken: "{{ .Values.token | b64enc }}"
  empty: ""
stringData:
  REDIS_URL: redis://:plainpass@redis:6379/0
---
apiVersion: v1
kind: Secret
metadata:
  name: regcred
type: kubernetes.io/dockerconfigjson
data:
  .dockerconfigjson: eyJhdXRocyI6eyJnaGNyLmlvIjp7ImF1dGgiOiJiMk4wYjJOaGREcG5hSEJmTVRaRE4yVTBNa1l5T1RKak5qa3hNa1UzTnpFd1l6Z3pPRE0wTjBGbE1UYzRRalJoIn19fQ==
---
# a Helm template further on does not hide the documents above
apiVersion: v1
kind: ConfigMap
data: {{ toYaml .Values.config | nindent 2 }}
`

const dockerJSON = `{"auths":{"ghcr.io":{"auth":"b2N0b2NhdDpnaHBfMTZDN2U0MkYyOTJjNjkxMkU3NzEwYzgzODM0N0FlMTc4QjRh"}}}`

const awsCreds = "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"

func TestKubernetesManifest(t *testing.T) {
	check(t, "deploy/prod/api.yaml", manifest, []want{
		{"DB_PASSWORD", "DB_PASSWORD: \"S3cr3t-Passw0rd!\"\n", 26, 16, "UzNjcjN0"},
		{"api-token", "api-token: \"ghp_16C7e42F292c6912E7710c838347Ae178B4a\"\n", 27, 17, "Z2hwXzE2"},
		{"credentials", awsCreds, 29, 5, "W2RlZmF1"},
		{"echoed", "echoed: \"hunter2-but-longer\"\n", 30, 11, "aHVudGVy"},
		{".dockerconfigjson", dockerJSON, 42, 22, "eyJhdXRo"},
		{".dockerconfigjson/auths.ghcr.io.auth", "registry=ghcr.io user=octocat password: \"ghp_16C7e42F292c6912E7710c838347Ae178B4a\"\n", 42, 22, ""},
	})
}

func TestKubernetesList(t *testing.T) {
	const list = `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Secret
  metadata: {name: one}
  data: {token: c2tfbGl2ZV80ZUMzOUhxTHlqV0Rhcmp0VDF6ZHA3ZGM=}
- apiVersion: v1
  kind: ConfigMap
  data:
    token: c2tfbGl2ZV80ZUMzOUhxTHlqV0Rhcmp0VDF6ZHA3ZGM=
- apiVersion: v1
  kind: Secret
  metadata:
    name: two
  data:
    password: 'UzNjcjN0LVBhc3N3MHJkIQ=='
`
	check(t, "secrets.yml", list, []want{
		{"token", "token: \"sk_live_4eC39HqLyjWDarjtT1zdp7dc\"\n", 7, 17, ""},
		{"password", "password: \"S3cr3t-Passw0rd!\"\n", 17, 16, "UzNjcjN0"},
	})
}

func TestKubernetesJSON(t *testing.T) {
	const js = `{
	"apiVersion": "v1",
	"kind": "Secret",
	"metadata": {"name": "db", "annotations": {"note": "a \"quoted\" \\ value"}},
	"data": {
		"DB_PASSWORD": "UzNjcjN0LVBhc3N3MHJkIQ==",
		"username": "cG9zdGdyZXM=",
		"weird\"key": "c2tfbGl2ZV80ZUMzOUhxTHlqV0Rhcmp0VDF6ZHA3ZGM="
	}
}`
	check(t, "db-secret.json", js, []want{
		{"DB_PASSWORD", "DB_PASSWORD: \"S3cr3t-Passw0rd!\"\n", 6, 19, "UzNjcjN0"},
		{"username", "username: \"postgres\"\n", 7, 16, "cG9zdGdy"},
		{`weird"key`, "weird\"key: \"sk_live_4eC39HqLyjWDarjtT1zdp7dc\"\n", 8, 18, "c2tfbGl2"},
	})
	// kubectl get secrets -o json: a List
	list := `{"apiVersion":"v1","kind":"List","items":[{"kind":"Secret","data":{"k":"cG9zdGdyZXM="}}]}`
	check(t, "out.json", list, []want{{"k", "k: \"postgres\"\n", 1, 73, "cG9zdGdy"}})
}

func TestDockerConfig(t *testing.T) {
	const cfg = `{
  "auths": {
    "https://index.docker.io/v1/": {
      "auth": "cm9ib3QkY2k6OWZHMmtMcFE3eFczdk44cw=="
    },
    "registry.gitlab.com": {
      "auth": "ZGVwbG95OmdsZHQtWng4dlQzcVc5eUIybUs3cFI0c0w=",
      "email": "ci@example.com"
    },
    "quay.io": {
      "identitytoken": "plain-token-value"
    }
  },
  "credsStore": "desktop"
}
`
	check(t, "/home/ci/.docker/config.json", cfg, []want{
		{"auths.https://index.docker.io/v1/.auth", "registry=https://index.docker.io/v1/ user=robot$ci password: \"9fG2kLpQ7xW3vN8s\"\n", 4, 16, "cm9ib3Qk"},
		{"auths.registry.gitlab.com.auth", "registry=registry.gitlab.com user=deploy password: \"gldt-Zx8vT3qW9yB2mK7pR4sL\"\n", 7, 16, "ZGVwbG95"},
	})
	// legacy .dockercfg: registries at the top level
	legacy := `{"quay.io":{"auth":"ZGVwbG95OmdsZHQtWng4dlQzcVc5eUIybUs3cFI0c0w=","email":"x@y.z"}}`
	check(t, "home/.dockercfg", legacy, []want{
		{"auths.quay.io.auth", "registry=quay.io user=deploy password: \"gldt-Zx8vT3qW9yB2mK7pR4sL\"\n", 1, 21, "ZGVwbG95"},
	})
}

func TestGitHubActions(t *testing.T) {
	const wf = `name: deploy
on: [push]
env:
  KUBECONFIG_B64: YXBpVmVyc2lvbjogdjEKa2luZDogQ29uZmlnCnVzZXJzOgotIG5hbWU6IGNpCiAgdXNlcjoKICAgIHRva2VuOiBleUpoYkdjaU9pSlNVekkxTmlKOS5leUp6ZFdJaU9pSmphU0o5LnNpZwo=
  REGISTRY: ghcr.io
  IMAGE_DIGEST: 3f786850e387550fdab836ed7e6dc881de23001b3f786850e387550fdab836ed
  SHORT: cG9zdGdyZXM=
jobs:
  deploy:
    runs-on: ubuntu-latest
    env:
      API_TOKEN: "c2tfbGl2ZV80ZUMzOUhxTHlqV0Rhcmp0VDF6ZHA3ZGM="
      FROM_SECRET: ${{ secrets.DEPLOY_KEY }}
    steps:
      - uses: actions/checkout@v4
      - name: deploy
        env:
          DB_PASSWORD: UzNjcjN0LVBhc3N3MHJkIQ==
        run: |
          echo "not a variable: c2tfbGl2ZV80ZUMzOUhxTHlqV0Rhcmp0VDF6ZHA3ZGM="
`
	kubeconfig := "apiVersion: v1\nkind: Config\nusers:\n- name: ci\n  user:\n    token: eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaSJ9.sig\n"
	check(t, ".github/workflows/deploy.yml", wf, []want{
		{"KUBECONFIG_B64", kubeconfig, 4, 19, "YXBpVmVy"},
		{"API_TOKEN", "API_TOKEN: \"sk_live_4eC39HqLyjWDarjtT1zdp7dc\"\n", 12, 19, ""},
		{"DB_PASSWORD", "DB_PASSWORD: \"S3cr3t-Passw0rd!\"\n", 18, 24, "UzNjcjN0"},
	})
	// The same text outside a CI path is not a pipeline.
	if got := Expand("docs/example.yml", []byte(wf)); got != nil {
		t.Errorf("non-CI path: %+v", got)
	}
}

func TestOtherCI(t *testing.T) {
	const gitlab = `variables:
  PLAIN: hello
  DEPLOY_TOKEN:
    value: "c2tfbGl2ZV80ZUMzOUhxTHlqV0Rhcmp0VDF6ZHA3ZGM="
    description: token
build:
  script: make
  variables:
    DB_PASSWORD: UzNjcjN0LVBhc3N3MHJkIQ==
`
	check(t, "repo/.gitlab-ci.yml", gitlab, []want{
		{"DEPLOY_TOKEN", "DEPLOY_TOKEN: \"sk_live_4eC39HqLyjWDarjtT1zdp7dc\"\n", 4, 13, ""},
		{"DB_PASSWORD", "DB_PASSWORD: \"S3cr3t-Passw0rd!\"\n", 9, 18, "UzNjcjN0"},
	})
	const circle = `version: 2.1
jobs:
  build:
    docker:
      - image: cimg/base:stable
        environment:
          - API_KEY=c2tfbGl2ZV80ZUMzOUhxTHlqV0Rhcmp0VDF6ZHA3ZGM=
          - name: DB_PASSWORD
            value: UzNjcjN0LVBhc3N3MHJkIQ==
`
	check(t, ".circleci/config.yml", circle, []want{
		{"API_KEY", "API_KEY: \"sk_live_4eC39HqLyjWDarjtT1zdp7dc\"\n", 7, 21, ""},
		{"DB_PASSWORD", "DB_PASSWORD: \"S3cr3t-Passw0rd!\"\n", 9, 20, "UzNjcjN0"},
	})
	const travis = "env:\n  global:\n    - A=1 TOKEN=c2tfbGl2ZV80ZUMzOUhxTHlqV0Rhcmp0VDF6ZHA3ZGM=\n"
	check(t, ".travis.yml", travis, []want{
		{"TOKEN", "TOKEN: \"sk_live_4eC39HqLyjWDarjtT1zdp7dc\"\n", 3, 17, ""},
	})
}

func TestDotenv(t *testing.T) {
	const env = `# local settings
APP_ENV=production
export DB_PASSWORD="UzNjcjN0LVBhc3N3MHJkIQ=="
STRIPE_KEY='c2tfbGl2ZV80ZUMzOUhxTHlqV0Rhcmp0VDF6ZHA3ZGM=' # rotated
AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
GIT_SHA=3f786850e387550fdab836ed7e6dc881de23001b
MISMATCHED="UzNjcjN0LVBhc3N3MHJkIQ=='
`
	check(t, "app/.env.production", env, []want{
		{"DB_PASSWORD", "DB_PASSWORD: \"S3cr3t-Passw0rd!\"\n", 3, 21, "UzNjcjN0LVBhc3N3MHJkIQ==\"\n"},
		{"STRIPE_KEY", "STRIPE_KEY: \"sk_live_4eC39HqLyjWDarjtT1zdp7dc\"\n", 4, 13, ""},
	})
	const jenkins = "pipeline {\n  environment {\n    DB_PASSWORD = 'UzNjcjN0LVBhc3N3MHJkIQ=='\n    CREDS = credentials('x')\n  }\n}\n"
	check(t, "Jenkinsfile", jenkins, []want{{"DB_PASSWORD", "DB_PASSWORD: \"S3cr3t-Passw0rd!\"\n", 3, 20, "UzNjcjN0"}})
}

// TestGenericRuleSeesDecoded: the rendered forms carry the key and the value
// in a shape a generic key=value password rule matches.
func TestGenericRuleSeesDecoded(t *testing.T) {
	generic := regexp.MustCompile(`(?i)(?:password|token)\s*[:=]\s*["']?(?P<secret>[^\s"']{8,})`)
	for _, d := range Expand("a.yaml", []byte(manifest)) {
		if strings.Contains(strings.ToLower(d.Key), "password") || strings.HasSuffix(d.Key, "auth") {
			m := generic.FindSubmatch(d.Data)
			if m == nil {
				t.Errorf("%s: %q not matched", d.Key, d.Data)
				continue
			}
			if s := string(m[1]); s != "S3cr3t-Passw0rd!" && s != "ghp_16C7e42F292c6912E7710c838347Ae178B4a" {
				t.Errorf("%s: extracted %q", d.Key, s)
			}
		}
	}
}

func TestRender(t *testing.T) {
	cases := []struct{ key, v, want string }{
		{"k", "plain", "k: \"plain\"\n"},
		{"k", "with\"quote", "k: 'with\"quote'\n"},
		{"k", `both"'`, "k: both\"'\n"},
		{"k", "trailing\n", "k: \"trailing\"\n"},
		{"k", "two\nlines\n", "two\nlines\n"},
		{"k", ` {"json":1}`, ` {"json":1}`},
		{"k", "\xff\x00bin", "\xff\x00bin"},
	}
	for _, c := range cases {
		if got := string(render(c.key, []byte(c.v))); got != c.want {
			t.Errorf("render(%q) = %q, want %q", c.v, got, c.want)
		}
	}
	// a GCR _json_key password is a document: on its own lines
	if got := string(renderAuth("gcr.io", []byte("_json_key:{\n \"type\": \"service_account\"\n}"))); got != "registry=gcr.io user=_json_key\n{\n \"type\": \"service_account\"\n}" {
		t.Errorf("renderAuth = %q", got)
	}
	if got := string(renderAuth("r", []byte("nocolon"))); got != "registry=r auth: \"nocolon\"\n" {
		t.Errorf("renderAuth = %q", got)
	}
}

func TestIsBlob(t *testing.T) {
	for v, want := range map[string]bool{
		"c2tfbGl2ZV80ZUMzOUhxTHlqV0Rhcmp0VDF6ZHA3ZGM=": true,
		"c2tfbGl2ZV80ZUMzOUhxTHlqV0Rhcmp0VDF6ZHA3ZGM":  true,
		"cG9zdGdyZXM=": false, // short
		"3f786850e387550fdab836ed7e6dc881de23001b":       false, // hex
		"abc+def/ghi-jkl_mnopqrstuvwxyz":                 false, // mixed alphabets
		"c2tfbGl2ZV80ZUMzOUhxTHlqV0Rhcmp0VDF6ZHA3ZGM===": false,
		"has space in the middle of the value ok":        false,
	} {
		if got := isBlob(v); got != want {
			t.Errorf("isBlob(%q) = %v", v, got)
		}
	}
}

func TestNothingToDecode(t *testing.T) {
	cases := map[string]string{
		"main.go":                      "package main\n\nfunc main() { kind := \"Secret\"; _ = kind }\n",
		"k8s/cm.yaml":                  "apiVersion: v1\nkind: ConfigMap\ndata:\n  a: UzNjcjN0LVBhc3N3MHJkIQ==\n",
		"k8s/bad.yaml":                 "kind: Secret\ndata:\n  a: [unclosed\n",
		"k8s/notb64.yaml":              "kind: Secret\ndata:\n  a: not*base64!\n",
		"k8s/stringdata.yaml":          "kind: Secret\nstringData:\n  password: UzNjcjN0LVBhc3N3MHJkIQ==\n",
		"bad.json":                     `{"kind": "Secret", "data": {"a": "cG9zdGdyZXM="}`,
		"trailing.json":                `{"kind": "Secret", "data": {"a": "cG9zdGdyZXM="}} {}`,
		"config.json":                  `{"auths": {"x": {"auth": "not base64!"}}}`,
		"config2.json":                 `{"auths": "string"}`,
		".github/workflows/x.yml":      "on: push\nenv: [\n",
		".github/workflows/binary.yml": "env:\n  K: 3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
		"empty.yaml":                   "",
		"deep.json":                    strings.Repeat("[", 100000) + strings.Repeat("]", 100000),
		"deep.yaml":                    "kind: Secret\n" + strings.Repeat("- ", 5000) + "x\n",
	}
	for p, data := range cases {
		if got := Expand(p, []byte(data)); got != nil {
			t.Errorf("%s: %+v", p, got)
		}
	}
}

// TestCIFallback: a pipeline that does not parse is read line by line.
func TestCIFallback(t *testing.T) {
	const wf = "env:\n  DB_PASSWORD: UzNjcjN0LVBhc3N3MHJkIQ==\n  broken: [\n"
	check(t, ".github/workflows/x.yml", wf, []want{{"DB_PASSWORD", "DB_PASSWORD: \"S3cr3t-Passw0rd!\"\n", 2, 16, "UzNjcjN0"}})
}

func TestStringDataDockerConfig(t *testing.T) {
	const sec = `kind: Secret
type: kubernetes.io/dockerconfigjson
stringData:
  .dockerconfigjson: '{"auths":{"ghcr.io":{"auth":"b2N0b2NhdDpnaHBfMTZDN2U0MkYyOTJjNjkxMkU3NzEwYzgzODM0N0FlMTc4QjRh"}}}'
`
	check(t, "regcred.yaml", sec, []want{
		{".dockerconfigjson/auths.ghcr.io.auth", "registry=ghcr.io user=octocat password: \"ghp_16C7e42F292c6912E7710c838347Ae178B4a\"\n", 4, 23, `{"auths"`},
	})
}

func TestPositionsUTF8AndCRLF(t *testing.T) {
	// A non-ASCII key before the value: Column counts bytes, as the rest of
	// rekey does; YAML's own column counts characters.
	sec := "kind: Secret\r\ndata:\r\n  mot_de_passe_é: UzNjcjN0LVBhc3N3MHJkIQ==\r\n"
	got := Expand("s.yaml", []byte(sec))
	if len(got) != 1 || got[0].Line != 3 || got[0].Column != 20 {
		t.Fatalf("got %+v", got)
	}
	if l, c := position(sec, "UzNjcjN0"); l != 3 || c != 20 {
		t.Fatalf("fixture at %d:%d", l, c)
	}
}

func TestLargeTreeCheapCheck(t *testing.T) {
	// Files without a marker are not parsed at all.
	data := bytes.Repeat([]byte("password: UzNjcjN0LVBhc3N3MHJkIQ==\n"), 1<<15)
	allocs := testing.AllocsPerRun(10, func() { Expand("src/big.yaml", data) })
	if allocs > 0 {
		t.Errorf("Expand allocated %v times on a file it should skip", allocs)
	}
}

func FuzzExpand(f *testing.F) {
	seeds := map[string]string{
		"m.yaml":                       manifest,
		"config.json":                  `{"auths":{"r":{"auth":"dTpw"}}}`,
		".github/workflows/x.yml":      "env:\n  K: UzNjcjN0LVBhc3N3MHJkIQ==UzNjcjN0\n",
		".env":                         "A=UzNjcjN0LVBhc3N3MHJkIQ==UzNjcjN0\n",
		"s.json":                       `{"kind":"Secret","data":{"k":"cG9zdGdyZXM="}}`,
		".dockercfg":                   `{"r":{"auth":"dTpw"}}`,
		"l.yaml":                       "kind: List\nitems:\n- kind: Secret\n  data:\n    a: YQ==\n",
		".gitlab-ci.yml":               "variables:\n  A: &x UzNjcjN0LVBhc3N3MHJkIQ==UzNjcjN0\n  B: *x\n",
		".github/workflows/alias.yaml": "a: &a [*a]\n",
	}
	for p, d := range seeds {
		f.Add(p, []byte(d))
	}
	f.Fuzz(func(t *testing.T, path string, data []byte) {
		for _, d := range Expand(path, data) {
			if d.Line < 1 || d.Column < 1 || d.Encoding != Base64 || d.Key == "" && len(d.Data) == 0 {
				t.Fatalf("bad Decoded %+v", d)
			}
			if lines := bytes.Count(data, []byte("\n")) + 1; d.Line > lines {
				t.Fatalf("line %d past the end (%d lines)", d.Line, lines)
			}
		}
	})
}

func ExampleExpand() {
	manifest := "apiVersion: v1\nkind: Secret\ndata:\n  DB_PASSWORD: " + base64.StdEncoding.EncodeToString([]byte("S3cr3t-Passw0rd!")) + "\n"
	for _, d := range Expand("secret.yaml", []byte(manifest)) {
		fmt.Printf("%d:%d %s %s %s", d.Line, d.Column, d.Encoding, d.Key, d.Data)
	}
	// Output: 4:16 base64 DB_PASSWORD DB_PASSWORD: "S3cr3t-Passw0rd!"
}
