package awsiam

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/awsiam/awsiamtest"
	"github.com/rekeyhq/rekey/internal/provider/providertest"
	"github.com/rekeyhq/rekey/internal/secret"
)

const testSystem = "test-aws"

// testOptions keep the waits short: the test server models delays by
// request count, so no real time needs to pass.
var testOptions = options{attempts: 4, settle: 6, settleDelay: time.Millisecond,
	backoff: retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })}

// harness backs the suite with the test server: fixtures go through the
// server's own Go API or clients signed with the fixture's key, never
// through the provider.
type harness struct{ s *awsiamtest.Server }

var _ providertest.GeneratedHarness = harness{}

// appRole is the resource every identity the harness creates may read
// (iam:GetRole), as a workload's key may read its bucket: CanUse reads it.
const appRole = "rekey-suite-app"

func newHarness(t *testing.T) harness {
	s := awsiamtest.New()
	t.Cleanup(s.Close)
	s.CreateRole(appRole, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)
	return harness{s}
}

func TestGeneratedSuite(t *testing.T) {
	providertest.RunGenerated(t, newHarness(t))
}

func (harness) System() string { return testSystem }

func (harness) Factory() provider.Factory {
	return func(ctx context.Context, cfg provider.Config) (provider.Provider, error) {
		p, err := open(ctx, cfg, testOptions)
		if err != nil {
			return nil, err
		}
		return p, nil
	}
}

func adminJSONFor(id, sec string) secret.Secret {
	b, _ := json.Marshal(adminJSON{AccessKeyID: id, SecretAccessKey: sec})
	return secret.New(b)
}

func (h harness) Admin(*testing.T) provider.Config {
	id, sec := h.s.AdminKey()
	return provider.Config{System: testSystem, Admin: adminJSONFor(id, sec), Endpoint: h.s.URL}
}

func (h harness) Unreachable(t *testing.T) providertest.BadAdmin {
	id, sec := h.s.AdminKey()
	return providertest.BadAdmin{Config: provider.Config{System: testSystem, Admin: adminJSONFor(id, sec), Endpoint: "http://" + providertest.ClosedAddress(t)}, Password: sec}
}

func (h harness) WrongAdmin(*testing.T) providertest.BadAdmin {
	id, sec := h.s.AdminKey()
	wrong := sec[:len(sec)-4] + "abcd"
	return providertest.BadAdmin{Config: provider.Config{System: testSystem, Admin: adminJSONFor(id, wrong), Endpoint: h.s.URL}, Password: wrong}
}

// LimitedAdmin holds AdministratorAccess with an explicit deny of
// iam:UpdateAccessKey, the first call a revoke makes.
func (h harness) LimitedAdmin(t *testing.T) (providertest.BadAdmin, string) {
	name := "limited-" + randomName()
	h.s.CreateUser(name)
	h.s.AttachPolicy(name, "arn:aws:iam::aws:policy/AdministratorAccess")
	h.s.PutUserPolicy(name, "no-key-updates", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:UpdateAccessKey","Resource":"*"}]}`)
	id, sec := h.s.CreateKey(name)
	return providertest.BadAdmin{Config: provider.Config{System: testSystem, Admin: adminJSONFor(id, sec), Endpoint: h.s.URL}, Password: sec}, "iam:UpdateAccessKey"
}

// CreateIdentity makes a user allowed to read appRole, which CanUse
// does; risky adds IAMFullAccess.
func (h harness) CreateIdentity(_ *testing.T, name string, risky bool) (string, string) {
	h.s.CreateUser(name)
	h.s.PutUserPolicy(name, "app", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetRole","Resource":"arn:aws:iam::`+awsiamtest.Account+`:role/`+appRole+`"}]}`)
	if risky {
		h.s.AttachPolicy(name, "arn:aws:iam::aws:policy/IAMFullAccess")
	}
	return h.s.CreateKey(name)
}

func (h harness) clients(id, sec, token string) (*iam.Client, *sts.Client) {
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(h.s.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(id, sec, token)}
	return iam.NewFromConfig(cfg), sts.NewFromConfig(cfg)
}

func (h harness) CanUse(_ *testing.T, _, keyID, sec string) error {
	c, _ := h.clients(keyID, sec, "")
	return readAppRole(c)
}

func readAppRole(c *iam.Client) error {
	_, err := c.GetRole(context.Background(), &iam.GetRoleInput{RoleName: aws.String(appRole)})
	return err
}

func (h harness) Keys(_ *testing.T, name string) []string {
	var ids []string
	for _, k := range h.s.Keys(name) {
		ids = append(ids, k.ID)
	}
	return ids
}

func (h harness) Exists(_ *testing.T, name string) bool { return h.s.UserExists(name) }

func (h harness) Risky(_ *testing.T, name string) bool {
	_, attached := h.s.UserPolicies(name)
	for _, arn := range attached {
		if arn == "arn:aws:iam::aws:policy/IAMFullAccess" {
			return true
		}
	}
	return false
}

// OpenSession takes GetSessionToken credentials of the key; using them
// is the same read CanUse makes.
func (h harness) OpenSession(t *testing.T, _, keyID, sec string) func() error {
	_, st := h.clients(keyID, sec, "")
	out, err := st.GetSessionToken(context.Background(), &sts.GetSessionTokenInput{})
	if err != nil {
		t.Fatalf("GetSessionToken: %v", err)
	}
	c := out.Credentials
	ses, _ := h.clients(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
	return func() error { return readAppRole(ses) }
}

func (h harness) Signed(_ *testing.T, keyID string) int { return h.s.Signed(keyID) }

func randomName() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
