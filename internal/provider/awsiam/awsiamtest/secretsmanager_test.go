package awsiamtest

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

func smClient(s *Server, id, secret string) *sm.Client {
	return sm.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(id, secret, ""),
		BaseEndpoint: aws.String(s.URL), RetryMaxAttempts: 1})
}

// The SDK decodes the server's JSON answers and its modelled
// ResourceNotFoundException; PutSecretValue moves AWSCURRENT and
// AWSPREVIOUS, and its ClientRequestToken is idempotent.
func TestSecretsManagerVersions(t *testing.T) {
	s := New()
	defer s.Close()
	c := smClient(s, s.adminKey, s.adminSecret)
	ctx := context.Background()

	_, err := c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("missing")})
	var nf *smtypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("GetSecretValue of a missing secret: %v", err)
	}
	arn := s.CreateSecret("app", "v1")
	tok := "11111111-2222-3333-4444-555555555555"
	put, err := c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String("v2"), ClientRequestToken: aws.String(tok)})
	if err != nil || aws.ToString(put.VersionId) != tok || aws.ToString(put.Name) != "app" {
		t.Fatalf("PutSecretValue = %+v, %v", put, err)
	}
	cur, err := c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app")})
	if err != nil || aws.ToString(cur.SecretString) != "v2" || cur.CreatedDate == nil {
		t.Fatalf("AWSCURRENT = %+v, %v", cur, err)
	}
	prev, err := c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app"), VersionStage: aws.String("AWSPREVIOUS")})
	if err != nil || aws.ToString(prev.SecretString) != "v1" {
		t.Fatalf("AWSPREVIOUS = %+v, %v", prev, err)
	}
	if _, err := c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String("v2"), ClientRequestToken: aws.String(tok)}); err != nil {
		t.Errorf("repeating a put: %v", err)
	}
	_, err = c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String("v3"), ClientRequestToken: aws.String(tok)})
	var exists *smtypes.ResourceExistsException
	if !errors.As(err, &exists) {
		t.Errorf("same token, other value: %v", err)
	}
	if n := s.SecretVersions("app"); n != 2 {
		t.Errorf("versions = %d", n)
	}
	d, err := c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("app")})
	if err != nil || aws.ToString(d.ARN) != arn || len(d.VersionIdsToStages) != 2 {
		t.Errorf("DescribeSecret = %+v, %v", d, err)
	}
}

// Signature, key status and identity policies apply as for IAM, with the
// JSON protocol's error codes.
func TestSecretsManagerRefuses(t *testing.T) {
	s := New()
	defer s.Close()
	s.CreateSecret("app", "v1")
	ctx := context.Background()
	if _, err := smClient(s, s.adminKey, "wrong").GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app")}); code(err) != "InvalidSignatureException" {
		t.Errorf("wrong secret key: %v", err)
	}
	s.CreateUser("nobody")
	id, sk := s.CreateKey("nobody")
	if _, err := smClient(s, id, sk).GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app")}); code(err) != "AccessDeniedException" {
		t.Errorf("no policy: %v", err)
	}
	s.Throttle(1)
	if _, err := smClient(s, s.adminKey, s.adminSecret).DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("app")}); code(err) != "ThrottlingException" {
		t.Errorf("throttled: %v", err)
	}
}

// UpdateSecretVersionStage moves AWSCURRENT back to an older version only
// when RemoveFromVersionId names the version holding it; AWSPREVIOUS then
// follows to the version AWSCURRENT left, as the API reference says.
func TestSecretsManagerMovesAWSCURRENT(t *testing.T) {
	s := New()
	defer s.Close()
	c := smClient(s, s.adminKey, s.adminSecret)
	ctx := context.Background()
	s.CreateSecret("app", "v1")
	v1, err := c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("app")})
	if err != nil {
		t.Fatal(err)
	}
	v2 := "22222222-2222-3333-4444-555555555555"
	if _, err := c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("app"), SecretString: aws.String("v2"), ClientRequestToken: aws.String(v2)}); err != nil {
		t.Fatal(err)
	}
	move := func(to, from string) error {
		in := &sm.UpdateSecretVersionStageInput{SecretId: aws.String("app"), VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: aws.String(to)}
		if from != "" {
			in.RemoveFromVersionId = aws.String(from)
		}
		_, err := c.UpdateSecretVersionStage(ctx, in)
		return err
	}
	var invalid *smtypes.InvalidParameterException
	if err := move(*v1.VersionId, ""); !errors.As(err, &invalid) {
		t.Errorf("moving AWSCURRENT without RemoveFromVersionId: %v, want InvalidParameterException", err)
	}
	if err := move(*v1.VersionId, *v1.VersionId); !errors.As(err, &invalid) {
		t.Errorf("RemoveFromVersionId naming a version without the label: %v, want InvalidParameterException", err)
	}
	var nf *smtypes.ResourceNotFoundException
	if err := move("33333333-2222-3333-4444-555555555555", v2); !errors.As(err, &nf) {
		t.Errorf("moving to a version that does not exist: %v, want ResourceNotFoundException", err)
	}
	if v, _ := s.SecretValue("app"); v != "v2" {
		t.Fatalf("a refused move changed AWSCURRENT to %q", v)
	}
	if err := move(*v1.VersionId, v2); err != nil {
		t.Fatal(err)
	}
	d, err := c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("app")})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.VersionIdsToStages[*v1.VersionId]; len(got) != 1 || got[0] != "AWSCURRENT" {
		t.Errorf("version 1's stages %v, want [AWSCURRENT]", got)
	}
	if got := d.VersionIdsToStages[v2]; len(got) != 1 || got[0] != "AWSPREVIOUS" {
		t.Errorf("version 2's stages %v, want [AWSPREVIOUS]", got)
	}
	if v, _ := s.SecretValue("app"); v != "v1" || s.SecretVersions("app") != 2 {
		t.Errorf("AWSCURRENT %q in %d versions, want v1 in 2", v, s.SecretVersions("app"))
	}
}
