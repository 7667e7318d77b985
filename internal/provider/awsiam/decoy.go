package awsiam

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
)

var _ provider.DecoyGenerator = (*Provider)(nil)

// decoyTag marks every user GenerateDecoy made. A tag, not a path: the
// path is part of the user's ARN, which the decoy's own key reads back
// with sts:GetCallerIdentity (no permission needed), while reading tags
// takes iam:ListUserTags, which the decoy does not have.
var decoyTag = types.Tag{Key: aws.String("rekey"), Value: aws.String("canary")}

// GenerateDecoy implements provider.DecoyGenerator: a user with no
// policy, tagged rekey=canary, and one access key. Every call of the
// decoy's key is refused but sts:GetCallerIdentity, and CloudTrail logs
// each, refused or not, with the key's id.
func (p *Provider) GenerateDecoy(ctx context.Context, name string) (*provider.Credential, error) {
	const op = "canary"
	u := aws.String(name)
	_, err := p.iam.GetUser(ctx, &iam.GetUserInput{UserName: u})
	switch {
	case apiCode(err) == "NoSuchEntity":
		if _, err := p.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: u, Tags: []types.Tag{decoyTag}}); err != nil {
			return nil, p.fail(op, name, err)
		}
	case err != nil:
		return nil, p.fail(op, name, err)
	default:
		if err := p.checkDecoy(ctx, name); err != nil {
			return nil, err
		}
	}
	keys, err := p.keys(ctx, name)
	if err != nil {
		return nil, p.fail(op, name, err)
	}
	// Made again: the old key is no decoy any more (its id is no longer
	// recorded), so it must not authenticate.
	for _, k := range keys {
		if err := p.deleteKey(ctx, name, aws.ToString(k.AccessKeyId)); err != nil {
			return nil, err
		}
	}
	out, err := p.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: u})
	if err != nil {
		return nil, p.fail(op, name, err)
	}
	id := aws.ToString(out.AccessKey.AccessKeyId)
	return &provider.Credential{
		Ref:    provider.IdentityRef{System: p.system, Name: name, Key: id},
		Secret: secret.FromString(aws.ToString(out.AccessKey.SecretAccessKey)),
		KeyID:  id,
	}, nil
}

// checkDecoy refuses an existing user that GenerateDecoy did not make, or
// that may do something now.
func (p *Provider) checkDecoy(ctx context.Context, name string) error {
	const op = "canary"
	tags, err := all(ctx, iam.NewListUserTagsPaginator(p.iam, &iam.ListUserTagsInput{UserName: aws.String(name)}),
		func(o *iam.ListUserTagsOutput) []types.Tag { return o.Tags })
	if err != nil {
		return p.fail(op, name, err)
	}
	tagged := false
	for _, t := range tags {
		tagged = tagged || aws.ToString(t.Key) == aws.ToString(decoyTag.Key) && aws.ToString(t.Value) == aws.ToString(decoyTag.Value)
	}
	if !tagged {
		return errs.New(p.op(op), errs.Invalid, name, "user "+name+" exists and is not a canary rekey made (no rekey=canary tag): left alone")
	}
	held, err := p.userPolicies(ctx, name)
	if err != nil {
		return p.fail(op, name, err)
	}
	if len(held) > 0 {
		return errs.New(p.op(op), errs.Invalid, name, "canary user "+name+" has been given policies since it was made: a canary may do nothing; remove them first")
	}
	return nil
}
