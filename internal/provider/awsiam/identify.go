package awsiam

import (
	"context"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
)

// secretKeyShape is a secret access key: 40 characters of base64.
var secretKeyShape = regexp.MustCompile(`^[A-Za-z0-9/+]{40}$`)

// Identify takes the secret as KEY_ID:SECRET or a credentials-file block
// and finds the key's user without using the key (IdentifyKey without
// UseLeaked): the match is Unproven. Any other secret (a database
// password) is no IAM key: no match. A secret access key alone is an
// error, because AWS can find a key only by its id.
func (p *Provider) Identify(ctx context.Context, s secret.Secret) ([]provider.Match, error) {
	pair, ok, err := ParseKeyPair(s.Reveal())
	if err != nil {
		return nil, err
	}
	if !ok {
		if secretKeyShape.Match(s.Reveal()) {
			return nil, errs.New(p.op("identify"), errs.Invalid, "", "this looks like an AWS secret access key, and AWS finds a key only by its access key id: give KEY_ID:SECRET or an AWS credentials-file block")
		}
		return nil, nil
	}
	return p.IdentifyKey(ctx, provider.IdentifyRequest{KeyID: pair.ID, Secret: pair.Secret})
}

// IdentifyKey asks iam:GetAccessKeyLastUsed, signed by the administrator,
// whose key req.KeyID is: the leaked key itself is not used, so nothing
// is logged as it. With UseLeaked, one sts:GetCallerIdentity signed with
// the leaked key proves the secret (it needs no permission and changes
// nothing, but CloudTrail records it as the key's use).
func (p *Provider) IdentifyKey(ctx context.Context, req provider.IdentifyRequest) ([]provider.Match, error) {
	out, err := p.iam.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(req.KeyID)})
	if apiCode(err) == "NoSuchEntity" {
		return nil, nil
	}
	if err != nil {
		return nil, p.fail("identify", req.KeyID, err)
	}
	m := provider.Match{
		Ref:    provider.IdentityRef{System: p.system, Name: aws.ToString(out.UserName), Key: req.KeyID},
		Method: "iam:GetAccessKeyLastUsed (key id only: secret not proven)", Unproven: true,
	}
	if !req.UseLeaked || req.Secret.IsZero() {
		return []provider.Match{m}, nil
	}
	who, err := p.signedAs(req.KeyID, req.Secret.Reveal()).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	switch code := apiCode(err); {
	case err == nil:
		if !strings.HasSuffix(aws.ToString(who.Arn), ":user/"+m.Ref.Name) {
			return nil, errs.New(p.op("identify"), errs.Other, req.KeyID, "the key authenticates as "+aws.ToString(who.Arn)+", not as user "+m.Ref.Name)
		}
		m.Method, m.Unproven = "sts:GetCallerIdentity signed with the leaked key", false
	case code == "SignatureDoesNotMatch":
		// The id is real but this secret is not its secret.
		return nil, nil
	case code == "InvalidClientTokenId":
		m.Method = "iam:GetAccessKeyLastUsed (the key is inactive: secret not proven)"
	default:
		return nil, p.fail("prove the leaked key", req.KeyID, err)
	}
	return []provider.Match{m}, nil
}
