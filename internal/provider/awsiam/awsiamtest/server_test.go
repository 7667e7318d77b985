package awsiamtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// clients signs with the official SDK, so the server's SigV4 check and
// XML shapes are held against AWS's own client, with its retries off.
func clients(s *Server, id, secret, token string) (*iam.Client, *sts.Client) {
	cfg := aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(id, secret, token),
		BaseEndpoint:     aws.String(s.URL),
		RetryMaxAttempts: 1,
	}
	return iam.NewFromConfig(cfg), sts.NewFromConfig(cfg)
}

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestSignatureIsChecked(t *testing.T) {
	s := New()
	defer s.Close()
	ctx := context.Background()
	id, sec := s.AdminKey()
	_, st := clients(s, id, sec, "")
	out, err := st.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity as the admin: %v", err)
	}
	if got, want := aws.ToString(out.Arn), userARN(AdminUser); got != want {
		t.Errorf("Arn = %q, want %q", got, want)
	}
	// Change the last character; a secret that ends in "x" already must
	// not stay the same (a random secret does, one time in 64).
	wrong := sec[:len(sec)-1] + "x"
	if wrong == sec {
		wrong = sec[:len(sec)-1] + "y"
	}
	_, st = clients(s, id, wrong, "")
	if _, err := st.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); code(err) != "SignatureDoesNotMatch" {
		t.Errorf("wrong secret: %v, want SignatureDoesNotMatch", err)
	}
	_, st = clients(s, "AKIAUNKNOWNUNKNOWN00", sec, "")
	if _, err := st.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); code(err) != "InvalidClientTokenId" {
		t.Errorf("unknown key: %v, want InvalidClientTokenId", err)
	}
	if n := s.Signed(id); n != 2 {
		t.Errorf("Signed(admin key) = %d, want 2", n)
	}
}

func TestErrorDocument(t *testing.T) {
	s := New()
	defer s.Close()
	resp, err := http.Post(s.URL, "application/x-www-form-urlencoded", strings.NewReader("Action=ListUsers&Version=2010-05-08"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("unsigned request: status %d, want 403", resp.StatusCode)
	}
	for _, want := range []string{"<ErrorResponse", "<Type>Sender</Type>", "<Code>MissingAuthenticationToken</Code>", "<RequestId>"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("error body %s lacks %s", b, want)
		}
	}
}

func TestKeysLifecycle(t *testing.T) {
	s := New()
	defer s.Close()
	ctx := context.Background()
	admin, _ := adminClients(s)
	if _, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("app")}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("app")}); code(err) != "EntityAlreadyExists" {
		t.Errorf("CreateUser twice: %v, want EntityAlreadyExists", err)
	}
	k1, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("app")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("app")}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("app")}); code(err) != "LimitExceeded" {
		t.Errorf("third key: %v, want LimitExceeded", err)
	}
	s.SetPageCap(1)
	var ids []string
	p := iam.NewListAccessKeysPaginator(admin, &iam.ListAccessKeysInput{UserName: aws.String("app")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.AccessKeyMetadata) > 1 {
			t.Errorf("page of %d keys with a cap of 1", len(page.AccessKeyMetadata))
		}
		for _, k := range page.AccessKeyMetadata {
			ids = append(ids, aws.ToString(k.AccessKeyId))
		}
	}
	if len(ids) != 2 {
		t.Errorf("paginated keys %v, want 2", ids)
	}
	_, appSTS := clients(s, aws.ToString(k1.AccessKey.AccessKeyId), aws.ToString(k1.AccessKey.SecretAccessKey), "")
	if _, err := appSTS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatalf("new key: %v", err)
	}
	if _, err := admin.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("app"), AccessKeyId: k1.AccessKey.AccessKeyId, Status: "Inactive"}); err != nil {
		t.Fatal(err)
	}
	if _, err := appSTS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); code(err) != "InvalidClientTokenId" {
		t.Errorf("inactive key: %v, want InvalidClientTokenId", err)
	}
	if _, err := admin.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("app")}); code(err) != "DeleteConflict" {
		t.Errorf("DeleteUser with keys: %v, want DeleteConflict", err)
	}
	last, err := admin.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: k1.AccessKey.AccessKeyId})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(last.UserName) != "app" || aws.ToString(last.AccessKeyLastUsed.ServiceName) != "sts" || last.AccessKeyLastUsed.LastUsedDate == nil {
		t.Errorf("GetAccessKeyLastUsed = %+v %+v", last, last.AccessKeyLastUsed)
	}
}

func adminClients(s *Server) (*iam.Client, *sts.Client) {
	id, sec := s.AdminKey()
	return clients(s, id, sec, "")
}

func TestEventualConsistencyAndThrottling(t *testing.T) {
	s := New()
	defer s.Close()
	ctx := context.Background()
	admin, _ := adminClients(s)
	s.CreateUser("app")
	s.SetKeyDelay(2)
	k, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("app")})
	if err != nil {
		t.Fatal(err)
	}
	_, st := clients(s, aws.ToString(k.AccessKey.AccessKeyId), aws.ToString(k.AccessKey.SecretAccessKey), "")
	for i := range 2 {
		if _, err := st.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); code(err) != "InvalidClientTokenId" {
			t.Fatalf("request %d after creation: %v, want InvalidClientTokenId", i+1, err)
		}
	}
	if _, err := st.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Errorf("third request after creation: %v", err)
	}
	s.Throttle(1)
	if _, err := st.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); code(err) != "Throttling" {
		t.Errorf("throttled: %v, want Throttling", err)
	}
	if _, err := st.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Errorf("after the throttle: %v", err)
	}
}

func TestPoliciesAreEvaluated(t *testing.T) {
	s := New()
	defer s.Close()
	ctx := context.Background()
	s.CreateUser("app")
	s.PutUserPolicy("app", "self", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GetUser","iam:ListAccessKeys"],"Resource":"arn:aws:iam::123456789012:user/app"}]}`)
	id, sec := s.CreateKey("app")
	app, appSTS := clients(s, id, sec, "")
	if _, err := app.GetUser(ctx, &iam.GetUserInput{}); err != nil {
		t.Errorf("GetUser on itself: %v", err)
	}
	if _, err := app.ListUsers(ctx, &iam.ListUsersInput{}); code(err) != "AccessDenied" {
		t.Errorf("ListUsers without a grant: %v, want AccessDenied", err)
	}
	tok, err := appSTS.GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	c := tok.Credentials
	ses, _ := clients(s, aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
	if _, err := ses.GetUser(ctx, &iam.GetUserInput{}); err != nil {
		t.Errorf("GetUser with the session: %v", err)
	}
	cut := time.Now().UTC().Add(time.Second).Format(time.RFC3339)
	s.PutUserPolicy("app", "revoke", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"`+cut+`"}}}]}`)
	if _, err := ses.GetUser(ctx, &iam.GetUserInput{}); code(err) != "AccessDenied" {
		t.Errorf("GetUser with a session issued before the cut: %v, want AccessDenied", err)
	}
	if _, err := app.GetUser(ctx, &iam.GetUserInput{}); err != nil {
		t.Errorf("the long-term key after the session deny: %v", err)
	}
}

func TestAssumeRole(t *testing.T) {
	s := New()
	defer s.Close()
	ctx := context.Background()
	s.CreateUser("app")
	s.CreateUser("other")
	s.CreateRole("ops", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/app"},"Action":"sts:AssumeRole"}]}`)
	admin, _ := adminClients(s)
	if _, err := admin.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("ops"), PolicyName: aws.String("read"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetRole","Resource":"*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	_, otherSTS := keyClients(s, "other")
	if _, err := otherSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::123456789012:role/ops"), RoleSessionName: aws.String("x")}); code(err) != "AccessDenied" {
		t.Errorf("AssumeRole by a user the trust does not name: %v, want AccessDenied", err)
	}
	_, appSTS := keyClients(s, "app")
	out, err := appSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::123456789012:role/ops"), RoleSessionName: aws.String("deploy")})
	if err != nil {
		t.Fatal(err)
	}
	c := out.Credentials
	roleIAM, roleSTS := clients(s, aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
	who, err := roleSTS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(who.Arn) != "arn:aws:sts::123456789012:assumed-role/ops/deploy" {
		t.Errorf("GetCallerIdentity as the role session = %v, %v", who, err)
	}
	if _, err := roleIAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("ops")}); err != nil {
		t.Errorf("GetRole with the role's policy: %v", err)
	}
	if _, err := roleIAM.ListUsers(ctx, &iam.ListUsersInput{}); code(err) != "AccessDenied" {
		t.Errorf("ListUsers beyond the role's policy: %v, want AccessDenied", err)
	}
}

// keyClients gives the user a new key and signs with it.
func keyClients(s *Server, user string) (*iam.Client, *sts.Client) {
	id, sec := s.CreateKey(user)
	return clients(s, id, sec, "")
}

// signed builds a form request signed by the SDK's own SigV4 signer at
// signingTime; sendBody, when set, replaces the body after signing.
func signed(t *testing.T, s *Server, body, sendBody string, signingTime time.Time) (int, string) {
	t.Helper()
	id, sec := s.AdminKey()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: id, SecretAccessKey: sec}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "iam", "us-east-1", signingTime); err != nil {
		t.Fatal(err)
	}
	if sendBody != "" {
		req.Body = io.NopCloser(strings.NewReader(sendBody))
		req.ContentLength = int64(len(sendBody))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The signature covers the body and the time: a body changed after
// signing (to one of the same length, so that only the payload hash can
// tell), or a signature 20 minutes old, is refused.
func TestSignatureCoversBodyAndTime(t *testing.T) {
	s := New()
	defer s.Close()
	const body = "Action=ListUsers&Version=2010-05-08"
	if status, b := signed(t, s, body, "", time.Now()); status != http.StatusOK {
		t.Fatalf("a request signed by the SDK's signer: %d %s", status, b)
	}
	if status, b := signed(t, s, body, "Action=ListRoles&Version=2010-05-08", time.Now()); status != http.StatusForbidden || !strings.Contains(b, "SignatureDoesNotMatch") {
		t.Errorf("a body changed after signing: %d %s, want 403 SignatureDoesNotMatch", status, b)
	}
	if status, b := signed(t, s, body, "", time.Now().Add(-20*time.Minute)); status != http.StatusForbidden || !strings.Contains(b, "Signature expired") {
		t.Errorf("a signature 20 minutes old: %d %s, want 403 Signature expired", status, b)
	}
}

// TestDeleteUserRequiresItEmptied: DeleteUser answers DeleteConflict
// while the user has a console password or an MFA device, which
// DeleteLoginProfile and DeactivateMFADevice remove; CreateLoginProfile
// refuses a second password.
func TestDeleteUserRequiresItEmptied(t *testing.T) {
	s := New()
	defer s.Close()
	ctx := context.Background()
	admin, _ := adminClients(s)
	s.CreateUser("ops-backup")
	if _, err := admin.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("ops-backup"), Password: aws.String("Example-Passw0rd!")}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("ops-backup"), Password: aws.String("Example-Passw0rd!")}); code(err) != "EntityAlreadyExists" {
		t.Errorf("second CreateLoginProfile: %v, want EntityAlreadyExists", err)
	}
	if _, err := admin.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("nobody"), Password: aws.String("Example-Passw0rd!")}); code(err) != "NoSuchEntity" {
		t.Errorf("CreateLoginProfile of no user: %v, want NoSuchEntity", err)
	}
	s.AddMFADevice("ops-backup", "arn:aws:iam::"+Account+":mfa/ops-backup")
	del := func() error {
		_, err := admin.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("ops-backup")})
		return err
	}
	if err := del(); code(err) != "DeleteConflict" {
		t.Errorf("DeleteUser with a login profile: %v, want DeleteConflict", err)
	}
	if _, err := admin.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: aws.String("ops-backup")}); err != nil {
		t.Fatal(err)
	}
	if err := del(); code(err) != "DeleteConflict" {
		t.Errorf("DeleteUser with an MFA device: %v, want DeleteConflict", err)
	}
	if _, err := admin.DeactivateMFADevice(ctx, &iam.DeactivateMFADeviceInput{UserName: aws.String("ops-backup"), SerialNumber: aws.String("arn:aws:iam::" + Account + ":mfa/other")}); code(err) != "NoSuchEntity" {
		t.Errorf("DeactivateMFADevice of another serial: %v, want NoSuchEntity", err)
	}
	if _, err := admin.DeactivateMFADevice(ctx, &iam.DeactivateMFADeviceInput{UserName: aws.String("ops-backup"), SerialNumber: aws.String("arn:aws:iam::" + Account + ":mfa/ops-backup")}); err != nil {
		t.Fatal(err)
	}
	if err := del(); err != nil || s.UserExists("ops-backup") {
		t.Errorf("DeleteUser of an emptied user: %v", err)
	}
}
