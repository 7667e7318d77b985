package awsiam

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rekeyhq/rekey/internal/errs"
)

// A decoy is a user tagged rekey=canary with no policy and one key: the
// key authenticates (sts:GetCallerIdentity) and is refused everything
// else. Made again, it has a new key and the old one is gone.
func TestGenerateDecoy(t *testing.T) {
	h := newHarness(t)
	p := openTest(t, h)
	ctx := context.Background()
	c, err := p.GenerateDecoy(ctx, "ci-deploy-old")
	if err != nil {
		t.Fatal(err)
	}
	if c.Ref.Name != "ci-deploy-old" || c.KeyID == "" || c.Ref.Key != c.KeyID || len(c.Secret.Reveal()) != 40 {
		t.Fatalf("decoy %+v", c.Ref)
	}
	if tags := h.s.UserTags("ci-deploy-old"); tags["rekey"] != "canary" {
		t.Errorf("tags %v, want rekey=canary", tags)
	}
	if inline, attached := h.s.UserPolicies("ci-deploy-old"); len(inline)+len(attached) != 0 {
		t.Errorf("the decoy holds policies: %v %v", inline, attached)
	}
	iamc, stsc := h.clients(c.KeyID, string(c.Secret.Reveal()), "")
	if _, err := stsc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Errorf("the decoy's key does not authenticate: %v", err)
	}
	if _, err := iamc.ListUsers(ctx, &iam.ListUsersInput{}); apiCode(err) != "AccessDenied" {
		t.Errorf("the decoy's iam:ListUsers: %v, want AccessDenied", err)
	}
	again, err := p.GenerateDecoy(ctx, "ci-deploy-old")
	if err != nil {
		t.Fatal(err)
	}
	if keys := h.Keys(t, "ci-deploy-old"); len(keys) != 1 || keys[0] != again.KeyID || again.KeyID == c.KeyID {
		t.Errorf("keys after making it again: %v, want only the new %s", keys, again.KeyID)
	}
}

// A user rekey did not make a decoy, or a decoy given a policy since, is
// refused and left as it was.
func TestGenerateDecoyRefuses(t *testing.T) {
	h := newHarness(t)
	p := openTest(t, h)
	ctx := context.Background()
	h.s.CreateUser("deploy-bot")
	id, _ := h.s.CreateKey("deploy-bot")
	if _, err := p.GenerateDecoy(ctx, "deploy-bot"); errs.KindOf(err) != errs.Invalid {
		t.Errorf("a user rekey did not make: %v, want Invalid", err)
	}
	if keys := h.Keys(t, "deploy-bot"); len(keys) != 1 || keys[0] != id {
		t.Errorf("deploy-bot's keys changed: %v", keys)
	}
	if _, err := p.GenerateDecoy(ctx, "decoy"); err != nil {
		t.Fatal(err)
	}
	h.s.PutUserPolicy("decoy", "oops", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`)
	if _, err := p.GenerateDecoy(ctx, "decoy"); errs.KindOf(err) != errs.Invalid {
		t.Errorf("a decoy given a policy: %v, want Invalid", err)
	}
}
