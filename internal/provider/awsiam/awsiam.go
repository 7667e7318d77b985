// Package awsiam is the provider for AWS IAM users and their access keys,
// through the official SDK (aws-sdk-go-v2) pointed at the inventory's
// endpoint. It finds a key's user from the key id without using the key,
// grades the user's policies, and rotates keys: AWS generates a key's
// secret itself, so replacement goes through provider.Generator.
package awsiam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
)

// DefaultRegion is the region requests are signed for when the inventory
// names none; IAM is a global service signed in us-east-1.
const DefaultRegion = "us-east-1"

var (
	_ provider.Provider          = (*Provider)(nil)
	_ provider.KeyIdentifier     = (*Provider)(nil)
	_ provider.Rotator           = (*Provider)(nil)
	_ provider.Generator         = (*Provider)(nil)
	_ provider.SessionTerminator = (*Provider)(nil)
	_ provider.Isolator          = (*Provider)(nil)
	_ provider.Deactivator       = (*Provider)(nil)

	_ provider.RoleSessionTerminator = (*Provider)(nil)
)

// Provider talks to one AWS account's IAM and STS as its administrator.
type Provider struct {
	system string
	cfg    aws.Config // the administrator's; copies sign with other keys
	iam    *iam.Client
	sts    *sts.Client
	opts   options
	san    provider.Sanitizer
}

// options are the waits, which tests shorten.
type options struct {
	// attempts bounds every API call's tries (throttling, 5xx), with the
	// SDK's standard retryer.
	attempts int
	// backoff is the retryer's delay, nil for the SDK's exponential
	// jitter.
	backoff retry.BackoffDelayer
	// settle bounds the tries of a new key that IAM does not accept yet
	// (eventual consistency), settleDelay the wait between them.
	settle      int
	settleDelay time.Duration
}

var defaultOptions = options{attempts: 5, settle: 10, settleDelay: 2 * time.Second}

// adminJSON is the credential_process shape the inventory's admin
// reference holds.
type adminJSON struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	SessionToken    string `json:"SessionToken"`
}

// New opens the provider: cfg.Admin is the credential_process JSON, or
// empty for the SDK's default chain (environment, shared files, instance
// role). It checks the administrator credential with sts:GetCallerIdentity,
// which needs no permission.
func New(ctx context.Context, cfg provider.Config) (provider.Provider, error) {
	p, err := open(ctx, cfg, defaultOptions)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func open(ctx context.Context, pc provider.Config, o options) (*Provider, error) {
	p := &Provider{system: pc.System, opts: o}
	region := pc.Region
	if region == "" {
		region = DefaultRegion
	}
	loads := []func(*config.LoadOptions) error{
		config.WithRegion(region),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = o.attempts
				if o.backoff != nil {
					so.Backoff = o.backoff
				}
			})
		}),
	}
	if !pc.Admin.IsZero() {
		var a adminJSON
		if err := json.Unmarshal(pc.Admin.Reveal(), &a); err != nil || a.AccessKeyID == "" || a.SecretAccessKey == "" {
			return nil, errs.New(p.op("open"), errs.Invalid, "admin", `the administrator reference must hold {"AccessKeyId","SecretAccessKey","SessionToken"?} (the credential_process shape)`)
		}
		p.san.Add(a.SecretAccessKey, a.SessionToken)
		loads = append(loads, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(a.AccessKeyID, a.SecretAccessKey, a.SessionToken)))
	}
	if pc.Endpoint != "" {
		loads = append(loads, config.WithBaseEndpoint(pc.Endpoint))
	}
	c, err := config.LoadDefaultConfig(ctx, loads...)
	if err != nil {
		return nil, errs.E(p.op("open"), errs.Invalid, "", err)
	}
	p.cfg = c
	p.iam = iam.NewFromConfig(c)
	p.sts = sts.NewFromConfig(c)
	if _, err := p.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		return nil, p.fail("open", "", err)
	}
	return p, nil
}

// Close has nothing to release: the SDK's clients hold no connection
// state rekey owns.
func (p *Provider) Close() error { return nil }

func (p *Provider) op(what string) string { return "aws-iam " + p.system + ": " + what }

// signedAs is an STS client signing with another key: the one being
// verified or proven.
func (p *Provider) signedAs(keyID string, secretKey []byte) *sts.Client {
	c := p.cfg.Copy()
	c.Credentials = credentials.NewStaticCredentialsProvider(keyID, string(secretKey), "")
	return sts.NewFromConfig(c)
}

// apiCode is the AWS error code of err, "" when it is no API error.
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// permission names the IAM action a failed call needed ("iam:UpdateAccessKey").
func permission(err error) string {
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		return strings.ToLower(oe.Service()) + ":" + oe.Operation()
	}
	return "the action"
}

// fail turns an SDK error into one line with a kind: a missing permission
// names the action, a refused credential says so, a network failure names
// its cause. No secret reaches it (the SDK's errors hold none; the
// sanitizer is the belt to those braces).
func (p *Provider) fail(op, what string, err error) error {
	if err == nil {
		return nil
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		var kind errs.Kind
		var msg string
		switch code := ae.ErrorCode(); code {
		case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation":
			kind, msg = errs.Permission, "the administrator credential lacks "+permission(err)+" (AccessDenied)"
		case "InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken", "MissingAuthenticationToken", "UnrecognizedClientException":
			kind, msg = errs.Permission, "the administrator credential is refused ("+code+")"
		case "NoSuchEntity":
			kind, msg = errs.NotFound, ae.ErrorMessage()
		case "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException":
			kind, msg = errs.Unreachable, fmt.Sprintf("%s still throttled after %d attempts (%s)", permission(err), p.opts.attempts, code)
		default:
			kind, msg = errs.Other, code+": "+ae.ErrorMessage()
		}
		return errs.New(p.op(op), kind, what, p.san.Clean(msg))
	}
	if cause, ok := provider.NetCause(err); ok {
		return errs.New(p.op(op), errs.Unreachable, what, "cannot reach "+p.endpoint()+": "+cause)
	}
	return p.san.Scrub(errs.E(p.op(op), errs.Other, what, err))
}

func (p *Provider) endpoint() string {
	if p.cfg.BaseEndpoint != nil {
		return *p.cfg.BaseEndpoint
	}
	return "AWS"
}
