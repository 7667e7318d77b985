package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/rekeyhq/rekey/internal/provider/awsiam/awsiamtest"
	"github.com/rekeyhq/rekey/internal/testutil"
)

// TestWatchAWSCanaryEndToEnd: `rekey canary create --system aws` makes an
// IAM user with no policy and one access key (printed once, as a
// credentials file holds it); someone who found it uses it: its
// sts:GetCallerIdentity succeeds, its iam:ListUsers is AccessDenied.
// CloudTrail delivers both (a gzipped {"Records":[…]} file, the
// documented format); `rekey watch` following the trail opens an incident
// for the canary user with both calls, a critical canary-use each, and
// (canary-use in auto_contain) the emergency plan takes the key away.
// Another key's record in the same file opens nothing.
func TestWatchAWSCanaryEndToEnd(t *testing.T) {
	srv := awsiamtest.New()
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	trail := filepath.Join(dir, "trail")
	if err := os.Mkdir(trail, 0o755); err != nil {
		t.Fatal(err)
	}
	canary := testutil.RandomName("ci-deploy-old-")
	invPath := filepath.Join(dir, "rekey.yml")
	if err := os.WriteFile(invPath, []byte(fmt.Sprintf(`version: 1
systems:
  - {name: aws, type: aws-iam, admin: env:AWS_ADMIN, endpoint: %q}
logs:
  - {type: cloudtrail, path: %s}
watch:
  trigger: [canary-use]
  auto_contain: [canary-use]
`, srv.URL, filepath.Join(trail, "*.json.gz"))), 0o644); err != nil {
		t.Fatal(err)
	}
	adminID, adminSecret := srv.AdminKey()
	env := map[string]string{"REKEY_HOME": filepath.Join(dir, "home"), "REKEY_ACTOR": "alice",
		"AWS_ADMIN": fmt.Sprintf(`{"AccessKeyId":%q,"SecretAccessKey":%q}`, adminID, adminSecret)}

	r := run(t, env, "", "canary", "create", "--system", "aws", "--name", canary, "--inventory", invPath, "--format", "json")
	if r.code != 0 {
		t.Fatalf("canary create: %d %s", r.code, r.stderr)
	}
	var made struct {
		System, Login, Secret string
		KeyID                 string `json:"key_id"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &made); err != nil || made.System != "aws" || made.Login != canary || !strings.HasPrefix(made.KeyID, "AKIA") || len(made.Secret) != 40 {
		t.Fatalf("canary create printed %q (%v)", r.stdout, err)
	}
	if strings.Contains(r.stderr, made.Secret) {
		t.Error("the canary's secret is on stderr")
	}
	if tags := srv.UserTags(canary); tags["rekey"] != "canary" {
		t.Errorf("the canary user's tags: %v", tags)
	}
	// Made again (table format): a credentials-file block with a new key;
	// the first key is gone.
	again := run(t, env, "", "canary", "create", "--system", "aws", "--name", canary, "--inventory", invPath)
	if again.code != 0 || !strings.HasPrefix(again.stdout, "[default]\naws_access_key_id = AKIA") || strings.Contains(again.stdout, made.KeyID) {
		t.Fatalf("canary create again: %d %q %s", again.code, again.stdout, again.stderr)
	}
	var keyID, keySecret string
	for _, line := range strings.Split(again.stdout, "\n") {
		if k, v, ok := strings.Cut(line, " = "); ok {
			switch k {
			case "aws_access_key_id":
				keyID = v
			case "aws_secret_access_key":
				keySecret = v
			}
		}
	}
	if keys := srv.Keys(canary); len(keys) != 1 || keys[0].ID != keyID {
		t.Fatalf("the canary's keys: %+v, want only %s", keys, keyID)
	}

	// The attacker's two calls, as AWS answers them.
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(keyID, keySecret, "")}
	if _, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatalf("the canary key's GetCallerIdentity: %v", err)
	}
	var ae smithy.APIError
	if _, err := iam.NewFromConfig(cfg).ListUsers(context.Background(), &iam.ListUsersInput{}); !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" {
		t.Fatalf("the canary key's ListUsers: %v, want AccessDenied", err)
	}

	w := startWatch(t, env, "--inventory", invPath)
	fixture, err := os.ReadFile("testdata/cloudtrail-canary.json")
	if err != nil {
		t.Fatal(err)
	}
	records := strings.NewReplacer("CANARY_KEY_ID", keyID, "CANARY_USER", canary).Replace(string(fixture))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(records))
	zw.Close()
	// Written aside and renamed in, as a sync from S3 does: the follower
	// never sees half a file.
	name := "123456789012_CloudTrail_us-east-1_20261206T0700Z_canary.json.gz"
	if err := os.WriteFile(filepath.Join(dir, name), gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, name), filepath.Join(trail, name)); err != nil {
		t.Fatal(err)
	}

	inc := watchIncident(t, env, w, "aws/"+canary)
	bothOutcomes(t, env, w, inc.ID, keyID, "iam:ListUsers")
	eventually(t, "the canary key taken away by the automatic containment", w, func() bool {
		for _, k := range srv.Keys(canary) {
			if k.ID == keyID && k.Status == "Active" {
				return false
			}
		}
		return true
	})
	w.stop()
	if w.code != 0 {
		t.Fatalf("watch exited %d:\n%s", w.code, w.errText())
	}
	if n := len(incidentsOf(t, env)); n != 1 {
		t.Errorf("%d incidents, want the canary's alone (the other key's record opens nothing)", n)
	}
	audit := auditTrail(t, env)
	if !strings.Contains(audit, "alice canary.create") || !strings.Contains(audit, `"kind":"canary-use"`) || !strings.Contains(audit, `"severity":"critical"`) {
		t.Errorf("the audit log has no canary.create or critical canary-use finding:\n%s", audit)
	}
	if strings.Contains(w.errText()+audit, keySecret) {
		t.Error("the canary's secret reached watch's output or the audit log")
	}
}
