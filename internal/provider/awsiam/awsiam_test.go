package awsiam

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/providertest"
	"github.com/rekeyhq/rekey/internal/secret"
)

func openTest(t *testing.T, h harness) *Provider {
	t.Helper()
	p, err := open(context.Background(), h.Admin(t), testOptions)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The SDK's standard retryer, configured by open, retries Throttling with
// backoff and gives up after opts.attempts tries with one line naming the
// throttled action.
func TestThrottlingIsRetriedWithABound(t *testing.T) {
	h := newHarness(t)
	p := openTest(t, h)
	ctx := context.Background()
	admin, _ := h.s.AdminKey()
	h.CreateIdentity(t, "app", false)

	h.s.Throttle(testOptions.attempts - 1)
	if _, err := p.Inspect(ctx, provider.IdentityRef{System: testSystem, Name: "app"}); err != nil {
		t.Fatalf("Inspect through %d throttled answers: %v", testOptions.attempts-1, err)
	}

	h.s.Throttle(100)
	before := h.s.Signed(admin)
	_, err := p.Inspect(ctx, provider.IdentityRef{System: testSystem, Name: "app"})
	if errs.KindOf(err) != errs.Unreachable || !strings.Contains(err.Error(), "Throttling") || !strings.Contains(err.Error(), "iam:GetUser") {
		t.Errorf("Inspect while throttled: %v (kind %v), want Unreachable naming Throttling and iam:GetUser", err, errs.KindOf(err))
	}
	if n := h.s.Signed(admin) - before; n != testOptions.attempts {
		t.Errorf("throttled call tried %d times, want the bound %d", n, testOptions.attempts)
	}
	h.s.Throttle(0)
}

// A new key IAM does not accept yet is retried until it is (a bounded
// number of times), while a key that never becomes valid is refused once
// the bound is reached.
func TestVerifyWaitsForEventualConsistency(t *testing.T) {
	h := newHarness(t)
	p := openTest(t, h)
	ctx := context.Background()
	oldID, _ := h.CreateIdentity(t, "app", false)

	h.s.SetKeyDelay(testOptions.settle - 2)
	c, err := p.Generate(ctx, provider.GenerateRequest{From: provider.IdentityRef{System: testSystem, Name: "app", Key: oldID}, Name: "app"})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.CanUse(t, "app", c.KeyID, string(c.Secret.Reveal())); err == nil {
		t.Fatalf("the test server accepted a key inside its delay: the test proves nothing")
	}
	if err := p.Verify(ctx, *c); err != nil {
		t.Errorf("Verify of a key becoming valid: %v", err)
	}

	h.s.SetKeyDelay(1000)
	if err := p.Revoke(ctx, provider.IdentityRef{System: testSystem, Name: "app", Key: oldID}); err != nil {
		t.Fatal(err)
	}
	slow, err := p.Generate(ctx, provider.GenerateRequest{From: provider.IdentityRef{System: testSystem, Name: "app"}, Name: "app", Sealed: []string{c.KeyID}})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Verify(ctx, *slow)
	if errs.KindOf(err) != errs.Permission {
		t.Errorf("Verify of a key never accepted: %v, want Permission", err)
	}
	if n := h.s.Signed(slow.KeyID); n != testOptions.settle {
		t.Errorf("Verify tried the key %d times, want the bound %d", n, testOptions.settle)
	}
}

func TestGrade(t *testing.T) {
	adminDoc := `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	for _, tc := range []struct {
		name, doc, boundary string
		risk                provider.Risk
		creates             bool
	}{
		{"star", adminDoc, "", provider.RiskCritical, true},
		{"star colon star", `{"Statement":{"Effect":"Allow","Action":"*:*","Resource":"*"}}`, "", provider.RiskCritical, true},
		{"iam star", `{"Statement":[{"Effect":"Allow","Action":["iam:*"],"Resource":"*"}]}`, "", provider.RiskCritical, true},
		{"create keys", `{"Statement":[{"Effect":"Allow","Action":"iam:Create*","Resource":"arn:aws:iam::1:user/x"}]}`, "", provider.RiskHigh, true},
		{"pass role", `{"Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"}]}`, "", provider.RiskHigh, true},
		{"pass one role", `{"Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::1:role/r"}]}`, "", provider.RiskLow, false},
		{"assume any role", `{"Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}`, "", provider.RiskHigh, true},
		{"secrets", `{"Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"arn:aws:secretsmanager:*"}]}`, "", provider.RiskHigh, false},
		{"s3 everything", `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`, "", provider.RiskMedium, false},
		{"one bucket", `{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`, "", provider.RiskLow, false},
		{"not action", `{"Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]}`, "", provider.RiskCritical, true},
		{"deny only", `{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`, "", provider.RiskLow, false},
		{"admin under a read-only boundary", adminDoc, `{"Statement":[{"Effect":"Allow","Action":["s3:Get*"],"Resource":"*"}]}`, provider.RiskLow, false},
		{"admin under an IAM boundary", adminDoc, `{"Statement":[{"Effect":"Allow","Action":["iam:CreateAccessKey"],"Resource":"*"}]}`, provider.RiskHigh, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := decodePolicy(tc.doc)
			if err != nil {
				t.Fatal(err)
			}
			var boundary *policy
			if tc.boundary != "" {
				b, err := decodePolicy(tc.boundary)
				if err != nil {
					t.Fatal(err)
				}
				boundary = &b
			}
			risk, creates, reasons := grade(doc, boundary)
			if risk != tc.risk || creates != tc.creates {
				t.Errorf("grade = %s creates=%v (%v), want %s creates=%v", risk, creates, reasons, tc.risk, tc.creates)
			}
		})
	}
}

// Inspect reads every source of privilege and every related credential,
// through pages of one item (IAM may return fewer than MaxItems).
func TestInspectReadsEverything(t *testing.T) {
	h := newHarness(t)
	p := openTest(t, h)
	s := h.s
	s.SetPageCap(1)
	keyID, _ := h.CreateIdentity(t, "app", false)
	otherID, otherSec := s.CreateKey("app")
	if err := h.CanUse(t, "app", otherID, otherSec); err != nil {
		t.Fatal(err)
	}
	s.PutUserPolicy("app", "secrets", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`)
	s.AttachPolicy("app", "arn:aws:iam::aws:policy/AmazonS3FullAccess")
	s.AddToGroup("app", "deployers", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"}]}`)
	s.CreateLoginProfile("app")
	s.CreateRole("ops", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+"123456789012"+`:user/app"},"Action":"sts:AssumeRole"}]}`)

	id, err := p.Inspect(context.Background(), provider.IdentityRef{System: testSystem, Name: "app", Key: keyID})
	if err != nil {
		t.Fatal(err)
	}
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "inline:secrets", Risk: provider.RiskHigh})
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "arn:aws:iam::aws:policy/AmazonS3FullAccess", Risk: provider.RiskMedium})
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "inline:deployers-policy", Risk: provider.RiskHigh, Via: "group:deployers", CreatesCredentials: true})
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "inline:app", Risk: provider.RiskLow})
	providertest.WantRelated(t, id, "this-key", keyID, "never used")
	providertest.WantRelated(t, id, "other-key", otherID, "in us-east-1 (iam)")
	providertest.WantRelated(t, id, "console-login", "app", "without MFA")
	providertest.WantRelated(t, id, "assumable-role", "ops", "user/app")

	s.AddMFADevice("app", "arn:aws:iam::123456789012:mfa/app")
	s.SetBoundary("app", "arn:aws:iam::aws:policy/ReadOnlyAccess")
	id, err = p.Inspect(context.Background(), provider.IdentityRef{System: testSystem, Name: "app"})
	if err != nil {
		t.Fatal(err)
	}
	providertest.WantRelated(t, id, "mfa-device", "arn:aws:iam::123456789012:mfa/app", "enabled")
	providertest.WantRelated(t, id, "permissions-boundary", "arn:aws:iam::aws:policy/ReadOnlyAccess", "caps")
	if r := providertest.FindRelated(id, "console-login", "app"); r == nil || strings.Contains(r.Detail, "without MFA") {
		t.Errorf("console login with an MFA device: %+v", r)
	}
	// The boundary allows no secretsmanager, so the inline grant is not held.
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "inline:secrets", Risk: provider.RiskLow})
}

func TestAdminReference(t *testing.T) {
	h := newHarness(t)
	bad := provider.Config{System: testSystem, Admin: secret.FromString(`{"AccessKeyId":"AKIAX","Secret":"hunter2hunter2"}`), Endpoint: h.s.URL}
	_, err := open(context.Background(), bad, testOptions)
	if errs.KindOf(err) != errs.Invalid || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), testSystem) {
		t.Errorf("open with a malformed admin reference: %v, want Invalid naming the system and not the secret", err)
	}

	// Without admin, the SDK's default chain: here the environment.
	id, sec := h.s.AdminKey()
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_ACCESS_KEY_ID", id)
	t.Setenv("AWS_SECRET_ACCESS_KEY", sec)
	p, err := open(context.Background(), provider.Config{System: testSystem, Endpoint: h.s.URL}, testOptions)
	if err != nil {
		t.Fatalf("open with the default chain: %v", err)
	}
	if _, err := p.Inspect(context.Background(), provider.IdentityRef{System: testSystem, Name: "nobody"}); err != nil {
		t.Errorf("Inspect with the default chain: %v", err)
	}
}

func TestParseKeyPair(t *testing.T) {
	const id = "AKIAIOSFODNN7EXAMPLE"
	const sec = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	for _, tc := range []struct {
		name, in string
		ok       bool
		err      string
	}{
		{"colon", id + ":" + sec, true, ""},
		{"colon with newline", id + ":" + sec + "\n", true, ""},
		{"block", "[default]\naws_access_key_id = " + id + "\naws_secret_access_key=" + sec + "\n", true, ""},
		{"block with token", "[p]\nAWS_ACCESS_KEY_ID=" + id + "\naws_secret_access_key = " + sec + "\naws_session_token = abc\n", true, ""},
		{"password", "hunter2:hunter2", false, ""},
		{"empty secret", id + ":", false, "KEY_ID:SECRET"},
		{"two profiles", "[a]\naws_access_key_id=" + id + "\naws_secret_access_key=" + sec + "\n[b]\naws_access_key_id=" + id + "\naws_secret_access_key=" + sec, false, "exactly one"},
		{"bad id", "aws_access_key_id=nope\naws_secret_access_key=" + sec, false, "not an access key id"},
		{"id alone", "aws_access_key_id=" + id, false, "exactly one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := ParseKeyPair([]byte(tc.in))
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v (err %v)", ok, tc.ok, err)
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), sec) {
					t.Errorf("err = %v, want one mentioning %q without the secret", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ok && (got.ID != id || string(got.Secret.Reveal()) != sec) {
				t.Errorf("got id %q secret %q", got.ID, got.Secret.Reveal())
			}
		})
	}
}

// A split copies a user's own policy about itself as a policy about the
// new user: a workload that reads its own keys can still do so.
func TestSplitRewritesSelfReferences(t *testing.T) {
	h := newHarness(t)
	p := openTest(t, h)
	ctx := context.Background()
	h.CreateIdentity(t, "src", false)
	h.s.PutUserPolicy("src", "self", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListAccessKeys","Resource":"arn:aws:iam::123456789012:user/src"}]}`)
	c, err := p.Generate(ctx, provider.GenerateRequest{From: provider.IdentityRef{System: testSystem, Name: "src"}, Name: "src-orders"})
	if err != nil {
		t.Fatal(err)
	}
	client, _ := h.clients(c.KeyID, string(c.Secret.Reveal()), "")
	if _, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("src-orders")}); err != nil {
		t.Errorf("the split user cannot list its own keys: %v", err)
	}
	if _, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("src")}); err == nil {
		t.Errorf("the split user can list the source's keys")
	}
}

func TestIdentifyOtherSecrets(t *testing.T) {
	h := newHarness(t)
	p := openTest(t, h)
	ms, err := p.Identify(context.Background(), secret.FromString("a database password"))
	if err != nil || len(ms) != 0 {
		t.Errorf("Identify(a password) = %v, %v; want no match and no error", ms, err)
	}
	_, err = p.Identify(context.Background(), secret.FromString("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"))
	if errs.KindOf(err) != errs.Invalid || strings.Contains(err.Error(), "wJalr") {
		t.Errorf("Identify(a secret access key alone) = %v, want Invalid asking for the key id", err)
	}
}

// Revoking a whole principal (a user the leaked key created) removes every
// secret it has: its keys and its console password; the user stays.
func TestRevokePrincipalRemovesConsolePassword(t *testing.T) {
	h := newHarness(t)
	p := openTest(t, h)
	keyID, sec := h.CreateIdentity(t, "backdoor", false)
	h.s.CreateLoginProfile("backdoor")
	if err := p.Revoke(context.Background(), provider.IdentityRef{System: testSystem, Name: "backdoor"}); err != nil {
		t.Fatal(err)
	}
	if h.s.HasLoginProfile("backdoor") {
		t.Errorf("the console password survived Revoke")
	}
	if err := h.CanUse(t, "backdoor", keyID, sec); err == nil {
		t.Errorf("the key survived Revoke")
	}
	if !h.s.UserExists("backdoor") {
		t.Errorf("Revoke removed the user; Drop does that")
	}
	if err := p.Revoke(context.Background(), provider.IdentityRef{System: testSystem, Name: "backdoor"}); err != nil {
		t.Errorf("Revoke twice: %v", err)
	}
}

// A role session the leaked key opened outlives the key; ending it takes
// a deny on the role.
func TestTerminateRoleSessions(t *testing.T) {
	h := newHarness(t)
	p := openTest(t, h)
	ctx := context.Background()
	keyID, sec := h.CreateIdentity(t, "app", false)
	h.s.CreateRole("ops", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/app"},"Action":"sts:AssumeRole"}]}`)
	adminID, adminSec := h.s.AdminKey()
	admin, _ := h.clients(adminID, adminSec, "")
	if _, err := admin.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("ops"), PolicyName: aws.String("read"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetRole","Resource":"*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	_, st := h.clients(keyID, sec, "")
	out, err := st.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::123456789012:role/ops"), RoleSessionName: aws.String("attacker")})
	if err != nil {
		t.Fatal(err)
	}
	c := out.Credentials
	session, _ := h.clients(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
	if err := readAppRole(session); err != nil {
		t.Fatalf("the role session does not work: %v", err)
	}
	if err := p.Revoke(ctx, provider.IdentityRef{System: testSystem, Name: "app", Key: keyID}); err != nil {
		t.Fatal(err)
	}
	if err := readAppRole(session); err != nil {
		t.Fatalf("the role session should outlive the key's revocation (that is why it is ended on the role): %v", err)
	}
	if err := p.TerminateRoleSessions(ctx, provider.IdentityRef{System: testSystem, Name: "ops"}); err != nil {
		t.Fatal(err)
	}
	if err := readAppRole(session); err == nil {
		t.Errorf("the role session still works after TerminateRoleSessions")
	}
	if err := p.TerminateRoleSessions(ctx, provider.IdentityRef{System: testSystem, Name: "no-such-role"}); err != nil {
		t.Errorf("TerminateRoleSessions(missing role): %v", err)
	}
}

// A user the leaked key created is removed with everything IAM wants gone
// first (keys, console password, MFA device, inline and attached
// policies, a group membership, a policy-less group's too); removing it
// again is not an error. A console password alone goes without the
// user's keys.
func TestRemoveUserAndLoginProfile(t *testing.T) {
	h := newHarness(t)
	p := openTest(t, h)
	ctx := context.Background()
	ref := provider.IdentityRef{System: testSystem, Name: "backdoor"}
	h.CreateIdentity(t, "backdoor", false)
	h.s.CreateLoginProfile("backdoor")
	h.s.AddMFADevice("backdoor", "arn:aws:iam::123456789012:mfa/backdoor")
	h.s.PutUserPolicy("backdoor", "all", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)
	h.s.AttachPolicy("backdoor", h.s.CreatePolicy("admin", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`))
	h.s.AddToGroup("backdoor", "ops", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`)
	h.s.AddToGroup("backdoor", "empty", "")
	if err := p.RemoveUser(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if h.s.UserExists("backdoor") {
		t.Fatal("the user survived RemoveUser")
	}
	if err := p.RemoveUser(ctx, ref); err != nil {
		t.Errorf("RemoveUser of a user gone: %v", err)
	}

	keyID, sec := h.CreateIdentity(t, "carol", false)
	h.s.CreateLoginProfile("carol")
	if err := p.RemoveLoginProfile(ctx, provider.IdentityRef{System: testSystem, Name: "carol"}); err != nil {
		t.Fatal(err)
	}
	if h.s.HasLoginProfile("carol") {
		t.Error("the console password survived RemoveLoginProfile")
	}
	if err := h.CanUse(t, "carol", keyID, sec); err != nil {
		t.Errorf("RemoveLoginProfile took the user's key: %v", err)
	}
	if err := p.RemoveLoginProfile(ctx, provider.IdentityRef{System: testSystem, Name: "carol"}); err != nil {
		t.Errorf("RemoveLoginProfile without one: %v", err)
	}
}
