// Package drillaws is a leaked-AWS-key drill (make test runs it; see
// drill_test.go): an IAM user's access key pair is read by two consumers,
// one from a Kubernetes Secret (its Deployment restarted on change) and one
// from a Vault KV v2 path; a git repository holds it in a settings file's
// history (committed, then taken out) and at HEAD in a GitHub Actions
// workflow, a GitLab CI file and a Terraform provider block; and
// CloudTrail shows an attacker using it to create a backdoor access key
// for another user. `rekey respond --yes` stops (exit 3) at the
// backdoor's revoke-related step, which a second person approves;
// `respond --yes` again ends with the leaked key and the backdoor
// refused, both consumers working on the new key, the HEAD copies (and
// the leaked key's id beside each) replaced on a rekey/INC branch for a
// person to merge, the history
// rewrite waiting for its approval, and the report naming every copy.
//
// AWS, Vault and a cluster cannot be reached from here: the drill runs
// against the project's test servers (awsiamtest: IAM and STS with SigV4
// checked with the caller's secret; vaulttest: Vault's HTTP API; k8stest:
// the Kubernetes API with TLS, bearer tokens and a rollout status it sets
// itself), written from the services' published API references.
package drillaws

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	vault "github.com/hashicorp/vault/api"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rekeyhq/rekey/internal/kubeapi"
	"github.com/rekeyhq/rekey/internal/provider/awsiam/awsiamtest"
	"github.com/rekeyhq/rekey/internal/provider/kubernetes/k8stest"
	"github.com/rekeyhq/rekey/internal/provider/vault/vaulttest"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
)

// Options say how to start the programs the drill runs.
type Options struct {
	// Rekey returns the command that runs rekey with args.
	Rekey func(args ...string) *exec.Cmd
	// Check is the shell command line a consumer's health check runs with
	// spec (see Check).
	Check func(spec string) string
	// Out receives the narrative; nil is quiet.
	Out io.Writer
}

// Outcome is what the drill saw.
type Outcome struct {
	Incident string
	// FirstExit and SecondExit are respond's exit codes before and after
	// the second person's approval.
	FirstExit, SecondExit int
	// Waiting is what the first respond stopped at.
	Waiting string
	// LeakedRefused and BackdoorRefused: STS refuses each key now.
	LeakedRefused, BackdoorRefused bool
	// PasswordRemoved: backup-svc's console password is gone.
	PasswordRemoved bool
	// Consumers is, per consumer, the key id it holds and whether STS
	// accepts what it holds.
	Consumers map[string]ConsumerOutcome
	// APIRestarted: the api's Deployment was restarted (rollout restart).
	APIRestarted bool
	// Report is the incident report (Markdown).
	Report string
	// Copies are the places scope found the key pair in the repository,
	// its history included.
	Copies []Copy
	// Tasks are the remediation tasks: done by rekey, or left for a
	// person.
	Tasks []store.Task
	// Branch is the branch rekey wrote its working-tree fixes to,
	// BranchCopies the files on it that still hold the secret and
	// BranchKeyIDs those that still hold the leaked key's id (git grep):
	// merged, CI would pair the new secret with the deleted key's id.
	Branch       string
	BranchCopies []string
	BranchKeyIDs []string
}

// Copy is one place the key pair was found.
type Copy struct {
	Class, Path string
	Line        int
	// Commit is where a copy only in history was found; AtHead says the
	// file still holds it.
	Commit string
	AtHead bool
}

// ConsumerOutcome is one consumer after the drill.
type ConsumerOutcome struct {
	KeyID string
	Works bool
}

const (
	user    = "deploy-bot"
	account = "123456789012"
	// The api consumer's Secret and Deployment.
	k8sNamespace, k8sSecret, k8sDeployment = "shop", "aws-deploy", "api"
)

// Run runs the drill with its own test servers and directory, removed at
// the end.
func Run(ctx context.Context, o Options) (*Outcome, error) {
	say := func(format string, a ...any) {
		if o.Out != nil {
			fmt.Fprintf(o.Out, "drill-aws: "+format+"\n", a...)
		}
	}
	iam := awsiamtest.New()
	defer iam.Close()
	vs := vaulttest.New()
	defer vs.Close()
	ks := k8stest.New()
	defer ks.Close()
	dir, err := os.MkdirTemp("", "rekey-drill-aws-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	say("an IAM user %s with a key pair two consumers share", user)
	iam.CreateUser(user)
	iam.PutUserPolicy(user, "deploy", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::shop-assets/*"}]}`)
	leakedID, leaked := iam.CreateKey(user)
	say("an attacker uses the leaked key to create a backdoor key and a console password for user backup-svc")
	iam.CreateUser("backup-svc")
	backdoorID, backdoor := iam.CreateKey("backup-svc")
	iam.CreateLoginProfile("backup-svc")

	vs.MountKV("secret")
	root := vs.Client(vs.RootToken())
	if _, err := root.Logical().Write("secret/data/aws/deploy", map[string]any{"data": map[string]any{"access_key_id": leakedID, "secret_access_key": leaked}}); err != nil {
		return nil, fmt.Errorf("vault: write the worker's secret: %w", err)
	}
	vaultToken := filepath.Join(dir, "vault-token")
	if err := os.WriteFile(vaultToken, []byte(vs.RootToken()), 0o600); err != nil {
		return nil, err
	}
	kubeconfig := fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: drill\n  cluster:\n    server: %s\n    certificate-authority-data: %s\n"+
		"users:\n- name: admin\n  user:\n    token: %s\ncontexts:\n- name: drill\n  context: {cluster: drill, user: admin, namespace: %s}\ncurrent-context: drill\n",
		ks.URL, base64.StdEncoding.EncodeToString(ks.CAData()), ks.RootToken(), k8sNamespace)
	kc, err := kubeapi.New([]byte(kubeconfig), "")
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	if _, err := kc.CoreV1().Secrets(k8sNamespace).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: k8sSecret},
		Data: map[string][]byte{"AWS_REGION": []byte("us-east-1"), "AWS_ACCESS_KEY_ID": []byte(leakedID), "AWS_SECRET_ACCESS_KEY": []byte(leaked)}}, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("kubernetes: create the api's Secret: %w", err)
	}
	if _, err := kc.AppsV1().Deployments(k8sNamespace).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: k8sDeployment}}, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("kubernetes: create the api's Deployment: %w", err)
	}
	kubeconfigFile := filepath.Join(dir, "kubeconfig")
	files := map[string]string{
		kubeconfigFile: kubeconfig,
		filepath.Join(dir, "cloudtrail", "events.json"): cloudTrail(leakedID, backdoorID),
	}
	adminID, adminSecret := iam.AdminKey()
	files[filepath.Join(dir, "rekey.yml")] = fmt.Sprintf(`version: 1
systems:
  - { name: aws, type: aws-iam, admin: env:AWS_ADMIN, endpoint: %q }
  - { name: vault, type: vault, admin: env:VAULT_ADMIN, endpoint: %q }
  - { name: cluster, type: kubernetes, admin: file:kubeconfig }
identities:
  - { name: %s, system: aws }
consumers:
  - name: api
    identity: %s
    deliver: { type: kubernetes-secret, namespace: %s, name: %s, key: AWS_SECRET_ACCESS_KEY, user_key: AWS_ACCESS_KEY_ID, restart: deployment/%s }
    health: %q
  - name: worker
    identity: %s
    deliver: { type: vault-kv, mount: secret, path: aws/deploy, key: secret_access_key, user_key: access_key_id }
    health: %q
sources:
  - { type: git, path: repo, history: true }
logs:
  - { type: cloudtrail, path: "cloudtrail/*.json" }
`, iam.URL, vs.URL, user, user, k8sNamespace, k8sSecret, k8sDeployment, o.Check("k8s|"+iam.URL+"|"+kubeconfigFile+"|"+k8sNamespace+"/"+k8sSecret), user, o.Check("vault|"+iam.URL+"|"+vs.URL+"|"+vaultToken+"|secret/data/aws/deploy"))
	for p, body := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			return nil, err
		}
	}
	say("the key pair in the shop repository: committed, \"removed\" (still in history), pasted into CI and Terraform")
	if err := writeRepo(filepath.Join(dir, "repo"), leakedID, leaked); err != nil {
		return nil, err
	}
	home := filepath.Join(dir, "rekey-home")
	env := []string{"REKEY_HOME=" + home, "LEAKED=" + leakedID + ":" + leaked,
		"AWS_ADMIN=" + fmt.Sprintf(`{"AccessKeyId":%q,"SecretAccessKey":%q}`, adminID, adminSecret), "VAULT_ADMIN=" + vs.RootToken()}
	rekey := func(args ...string) (int, string, error) {
		cmd := o.Rekey(args...)
		if cmd.Env == nil {
			cmd.Env = os.Environ()
		}
		cmd.Env = append(cmd.Env, env...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if o.Out != nil {
			o.Out.Write(out)
		}
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out), nil
		}
		return 0, string(out), err
	}
	out := &Outcome{Consumers: map[string]ConsumerOutcome{}}
	report := filepath.Join(dir, "report.md")
	respond := []string{"respond", "--secret-env", "LEAKED", "--inventory", filepath.Join(dir, "rekey.yml"), "--leaked-at", "2026-03-14T08:00:00Z",
		"--yes", "--report", report, "--as", "alice"}
	say("rekey respond --yes")
	code, text, err := rekey(respond...)
	if err != nil {
		return out, err
	}
	out.FirstExit = code
	out.Incident = incidentOf(text)
	out.Waiting = "revoke-related:aws/" + backdoorID
	if !strings.Contains(text, out.Waiting) {
		out.Waiting = ""
	}
	if out.Incident == "" || out.Waiting == "" {
		return out, fmt.Errorf("respond (exit %d) did not stop at the backdoor's revoke-related step:\n%s", code, text)
	}
	password := "revoke-related:aws/login-profile/backup-svc"
	say("bob confirms %s and backup-svc's console password are the attacker's and approves %s and %s", backdoorID, out.Waiting, password)
	for _, step := range []string{out.Waiting, password} {
		if code, text, err := rekey("incident", "approve", out.Incident, step, "--as", "bob"); err != nil || code != 0 {
			return out, fmt.Errorf("approve %s (exit %d): %v\n%s", step, code, err, text)
		}
	}
	say("rekey respond --yes, again")
	if out.SecondExit, text, err = rekey(respond...); err != nil {
		return out, err
	}
	if b, err := os.ReadFile(report); err == nil {
		out.Report = string(b)
	}
	if err := readStore(ctx, home, out.Incident, out); err != nil {
		return out, fmt.Errorf("read rekey's store: %w", err)
	}
	out.Branch = "rekey/" + out.Incident
	if out.BranchCopies, err = grepBranch(filepath.Join(dir, "repo"), out.Branch, leaked); err != nil {
		return out, err
	}
	if out.BranchKeyIDs, err = grepBranch(filepath.Join(dir, "repo"), out.Branch, leakedID); err != nil {
		return out, err
	}
	out.LeakedRefused = !works(iam.URL, leakedID, leaked)
	out.BackdoorRefused = !works(iam.URL, backdoorID, backdoor)
	out.PasswordRemoved = !iam.HasLoginProfile("backup-svc")
	id, sec, _ := fromSecret(kubeconfigFile, k8sNamespace+"/"+k8sSecret)
	out.Consumers["api"] = ConsumerOutcome{KeyID: id, Works: works(iam.URL, id, sec)}
	if d, err := kc.AppsV1().Deployments(k8sNamespace).Get(ctx, k8sDeployment, metav1.GetOptions{}); err == nil {
		out.APIRestarted = d.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] != ""
	}
	kv, err := root.Logical().Read("secret/data/aws/deploy")
	if err == nil && kv != nil {
		data, _ := kv.Data["data"].(map[string]any)
		id, _ := data["access_key_id"].(string)
		sec, _ := data["secret_access_key"].(string)
		out.Consumers["worker"] = ConsumerOutcome{KeyID: id, Works: works(iam.URL, id, sec)}
	}
	if out.SecondExit != 0 {
		return out, fmt.Errorf("the second respond exited %d:\n%s", out.SecondExit, text)
	}
	return out, nil
}

// Print writes the outcome as sentences.
func (o *Outcome) Print(w io.Writer) {
	yes := map[bool]string{true: "yes", false: "NO"}
	fmt.Fprintf(w, "incident:            %s\n", o.Incident)
	fmt.Fprintf(w, "first respond:       exit %d, waiting at %s\n", o.FirstExit, o.Waiting)
	fmt.Fprintf(w, "second respond:      exit %d\n", o.SecondExit)
	fmt.Fprintf(w, "leaked key refused:  %s\n", yes[o.LeakedRefused])
	fmt.Fprintf(w, "backdoor refused:    %s\n", yes[o.BackdoorRefused])
	fmt.Fprintf(w, "password removed:    %s\n", yes[o.PasswordRemoved])
	fmt.Fprintf(w, "api restarted:       %s\n", yes[o.APIRestarted])
	for _, name := range []string{"api", "worker"} {
		c := o.Consumers[name]
		fmt.Fprintf(w, "consumer %-10s  key %s, works: %s\n", name+":", c.KeyID, yes[c.Works])
	}
	fmt.Fprintf(w, "copies found:        %d\n", len(o.Copies))
	for _, c := range o.Copies {
		where := "at HEAD"
		if !c.AtHead {
			where = "only in history, commit " + c.Commit[:min(len(c.Commit), 12)]
		}
		fmt.Fprintf(w, "  - %s:%d (%s, %s)\n", c.Path, c.Line, c.Class, where)
	}
	fmt.Fprintf(w, "remediation tasks:   %d\n", len(o.Tasks))
	for _, t := range o.Tasks {
		fmt.Fprintf(w, "  - %s, %s: %s\n", t.State, t.Location, t.Action)
	}
}

// Check is a consumer's health check: spec is
// "k8s|ENDPOINT|KUBECONFIG_FILE|NAMESPACE/SECRET" or
// "vault|ENDPOINT|VAULT_ADDR|TOKEN_FILE|KV_DATA_PATH"; it reads the key
// pair where the consumer does and signs sts:GetCallerIdentity with it.
// It returns the process exit code.
func Check(spec string) int {
	f := strings.Split(spec, "|")
	var id, sec string
	switch {
	case len(f) == 4 && f[0] == "k8s":
		var err error
		if id, sec, err = fromSecret(f[2], f[3]); err != nil {
			fmt.Fprintln(os.Stderr, "read the key from the Secret:", err)
			return 1
		}
	case len(f) == 5 && f[0] == "vault":
		tok, err := os.ReadFile(f[3])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		conf := vault.DefaultConfig()
		conf.Address = f[2]
		c, err := vault.NewClient(conf)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		c.SetToken(strings.TrimSpace(string(tok)))
		s, err := c.Logical().Read(f[4])
		if err != nil || s == nil {
			fmt.Fprintln(os.Stderr, "read the key from vault:", err)
			return 1
		}
		data, _ := s.Data["data"].(map[string]any)
		id, _ = data["access_key_id"].(string)
		sec, _ = data["secret_access_key"].(string)
	default:
		fmt.Fprintln(os.Stderr, "bad check spec")
		return 2
	}
	if !works(f[1], id, sec) {
		fmt.Fprintln(os.Stderr, "sts refuses key "+id)
		return 1
	}
	return 0
}

// works signs sts:GetCallerIdentity with the key pair, as a consumer's SDK
// would.
func works(endpoint, id, sec string) bool {
	if id == "" || sec == "" {
		return false
	}
	c := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(id, sec, "")})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	return err == nil
}

// fromSecret reads the key pair from a Kubernetes Secret ("ns/name") as
// a pod mounting it would see it.
func fromSecret(kubeconfigFile, nsName string) (id, sec string, err error) {
	b, err := os.ReadFile(kubeconfigFile)
	if err != nil {
		return "", "", err
	}
	c, err := kubeapi.New(b, "")
	if err != nil {
		return "", "", err
	}
	ns, name, _ := strings.Cut(nsName, "/")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := c.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", "", err
	}
	return string(s.Data["AWS_ACCESS_KEY_ID"]), string(s.Data["AWS_SECRET_ACCESS_KEY"]), nil
}

// incidentOf finds the incident id respond printed.
func incidentOf(text string) string {
	for _, w := range strings.Fields(text) {
		w = strings.Trim(w, ".,:;()")
		if strings.HasPrefix(w, "INC-") && len(w) > 12 {
			return w
		}
	}
	return ""
}

// cloudTrail is a delivered CloudTrail file: the leaked key lists users,
// then creates an access key and a console password for backup-svc from
// an address nobody declared.
func cloudTrail(leakedID, backdoorID string) string {
	ident := fmt.Sprintf(`{"type":"IAMUser","principalId":"AIDADEPLOYBOT0000001","arn":"arn:aws:iam::%s:user/%s","accountId":"%s","accessKeyId":"%s","userName":"%s"}`, account, user, account, leakedID, user)
	rec := func(at, name, params, resp, id string) string {
		return fmt.Sprintf(`{"eventVersion":"1.09","userIdentity":%s,"eventTime":"%s","eventSource":"iam.amazonaws.com","eventName":"%s","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.66","userAgent":"aws-cli/2.15.0","requestParameters":%s,"responseElements":%s,"requestID":"%s","eventID":"%s","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"%s"}`,
			ident, at, name, params, resp, id, id, account)
	}
	return `{"Records":[` + strings.Join([]string{
		rec("2026-03-14T09:01:00Z", "ListUsers", "null", "null", "0c5a1c9e-0001-4f6d-8a2b-ba9876543210"),
		rec("2026-03-14T09:03:40Z", "CreateAccessKey", `{"userName":"backup-svc"}`,
			fmt.Sprintf(`{"accessKey":{"accessKeyId":"%s","status":"Active","userName":"backup-svc","createDate":"Mar 14, 2026 9:03:40 AM"}}`, backdoorID),
			"0c5a1c9e-0002-4f6d-8a2b-ba9876543210"),
		rec("2026-03-14T09:04:10Z", "CreateLoginProfile", `{"userName":"backup-svc","passwordResetRequired":false}`,
			`{"loginProfile":{"userName":"backup-svc","createDate":"Mar 14, 2026 9:04:10 AM","passwordResetRequired":false}}`,
			"0c5a1c9e-0003-4f6d-8a2b-ba9876543210"),
	}, ",") + `]}`
}

// writeRepo makes the shop's repository: the key pair committed in a
// settings file, then taken out of it (so it is only in history) while
// the same change pastes it into GitHub Actions and GitLab CI and a
// Terraform provider block, which stay at HEAD.
func writeRepo(repo, keyID, key string) error {
	commits := []struct {
		date, msg string
		files     map[string]string
	}{
		{"2026-03-01T10:00:00Z", "initial import", map[string]string{
			"README.md":           "# shop\n\nThe storefront and its deploy tooling.\n",
			"deploy/settings.env": fmt.Sprintf("AWS_REGION=us-east-1\nAWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n", keyID, key),
		}},
		{"2026-03-05T16:30:00Z", "deploy from CI; settings read the key from the environment", map[string]string{
			"deploy/settings.env": "AWS_REGION=us-east-1\nAWS_PROFILE=deploy\n",
			".github/workflows/deploy.yml": fmt.Sprintf("name: deploy\non: push\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    env:\n"+
				"      AWS_ACCESS_KEY_ID: %s\n      AWS_SECRET_ACCESS_KEY: %s\n    steps:\n      - uses: actions/checkout@v4\n      - run: aws s3 sync public s3://shop-assets\n", keyID, key),
			".gitlab-ci.yml": fmt.Sprintf("deploy:\n  stage: deploy\n  image: amazon/aws-cli:2.15.0\n  variables:\n    AWS_ACCESS_KEY_ID: %s\n"+
				"    AWS_SECRET_ACCESS_KEY: %q\n  script:\n    - aws s3 sync public s3://shop-assets\n", keyID, key),
			"terraform/main.tf": fmt.Sprintf("provider \"aws\" {\n  region     = \"us-east-1\"\n  access_key = %q\n  secret_key = %q\n}\n\n"+
				"resource \"aws_s3_bucket\" \"assets\" {\n  bucket = \"shop-assets\"\n}\n", keyID, key),
		}},
	}
	for i, c := range commits {
		for rel, body := range c.files {
			p := filepath.Join(repo, filepath.FromSlash(rel))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				return err
			}
		}
		steps := [][]string{{"add", "-A"}, {"commit", "-q", "-m", c.msg}}
		if i == 0 {
			steps = append([][]string{{"init", "-q", "-b", "main"}}, steps...)
		}
		for _, args := range steps {
			cmd := exec.Command("git", args...)
			cmd.Dir = repo
			cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Dev", "GIT_AUTHOR_EMAIL=dev@shop.example", "GIT_COMMITTER_NAME=Dev",
				"GIT_COMMITTER_EMAIL=dev@shop.example", "GIT_AUTHOR_DATE="+c.date, "GIT_COMMITTER_DATE="+c.date)
			if b, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("git %s: %v: %s", args[0], err, b)
			}
		}
	}
	return nil
}

// readStore reads the copies scope found and the remediation tasks from
// rekey's store, as a person would read them with incident show and the
// report.
func readStore(ctx context.Context, home, incident string, out *Outcome) error {
	st, err := sqlite.Open(ctx, filepath.Join(home, store.DBFile))
	if err != nil {
		return err
	}
	defer st.Close()
	occ, err := st.Occurrences(ctx, incident)
	if err != nil {
		return err
	}
	for _, o := range occ {
		out.Copies = append(out.Copies, Copy{Class: o.Class, Path: o.Path, Line: o.Line, Commit: o.Commit, AtHead: o.AtHead})
	}
	out.Tasks, err = st.Tasks(ctx, incident)
	return err
}

// grepBranch lists the files on branch that hold s.
func grepBranch(repo, branch, s string) ([]string, error) {
	cmd := exec.Command("git", "grep", "-l", "-F", "-e", s, branch, "--")
	cmd.Dir = repo
	b, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 {
		return nil, nil // no match
	}
	if err != nil {
		return nil, fmt.Errorf("git grep on %s: %w", branch, err)
	}
	return strings.Fields(string(b)), nil
}
