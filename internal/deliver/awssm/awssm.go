// Package awssm delivers a secret into an AWS Secrets Manager secret,
// through aws-sdk-go-v2's secretsmanager client, signed by the aws-iam
// system's administrator and sent to its endpoint:.
//
// With a key, the secret's value is a JSON object and only the key (and
// user_key, which receives an AWS key's id) change in it, other fields
// staying as they are; without one the value is the plain secret. A write
// is PutSecretValue: a new version labelled AWSCURRENT, the previous one
// kept as AWSPREVIOUS by Secrets Manager. The secret must exist: rekey
// writes versions of a secret someone created (with its policy and KMS
// key), it does not create one. Restore (a rollback) moves AWSCURRENT
// back to the version that held it before, with UpdateSecretVersionStage,
// rather than writing the old value again.
//
// Every call is tried at most Attempts times (throttling, 5xx) with the
// SDK's standard retryer and its exponential backoff, so a throttled
// Secrets Manager ends in one line saying so rather than an unbounded
// wait.
package awssm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/rekeyhq/rekey/internal/deliver"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/secret"
)

// DefaultRegion is the region requests are signed for when the aws-iam
// system names none, as for the provider.
const DefaultRegion = "us-east-1"

const op = "deliver aws-secretsmanager"

// DefaultAttempts bounds the tries of one call, as the aws-iam provider's.
const DefaultAttempts = 5

// Config says which Secrets Manager, secret and keys.
type Config struct {
	// Endpoint is the base URL of AWS's services ("" for AWS itself),
	// Region the region to sign for ("" for DefaultRegion).
	Endpoint, Region string
	// Admin holds {"AccessKeyId","SecretAccessKey","SessionToken"?};
	// zero uses the SDK's default credential chain.
	Admin secret.Secret
	// SecretID is the secret's name or ARN. Key, when set, is the field
	// of its JSON object holding the secret and UserKey the one holding
	// the user (an AWS key's id); without Key the value is the secret.
	SecretID, Key, UserKey string
	// Attempts bounds each call's tries; 0 means DefaultAttempts.
	Attempts int
	// backoff replaces the retryer's exponential delay (tests).
	backoff retry.BackoffDelayer
}

// Target is one Secrets Manager secret (or a field of it).
type Target struct {
	cfg Config
	c   *sm.Client
}

var _ deliver.Target = (*Target)(nil)

// New checks c and builds the client; it makes no request.
func New(ctx context.Context, c Config) (*Target, error) {
	switch {
	case c.SecretID == "":
		return nil, errs.New(op, errs.Invalid, "", "an aws-secretsmanager delivery needs a secret_id")
	case c.UserKey != "" && c.Key == "":
		return nil, errs.New(op, errs.Invalid, c.SecretID, "user_key needs key: a plain secret value holds no user")
	case c.Key != "" && c.Key == c.UserKey:
		return nil, errs.New(op, errs.Invalid, c.SecretID, "key and user_key are the same")
	}
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	if c.Attempts <= 0 {
		c.Attempts = DefaultAttempts
	}
	loads := []func(*config.LoadOptions) error{config.WithRegion(c.Region), config.WithRetryer(func() aws.Retryer {
		return retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = c.Attempts
			if c.backoff != nil {
				so.Backoff = c.backoff
			}
		})
	})}
	if !c.Admin.IsZero() {
		var a struct{ AccessKeyId, SecretAccessKey, SessionToken string }
		if err := json.Unmarshal(c.Admin.Reveal(), &a); err != nil || a.AccessKeyId == "" || a.SecretAccessKey == "" {
			return nil, errs.New(op, errs.Invalid, c.SecretID, `the aws-iam administrator reference must hold {"AccessKeyId","SecretAccessKey","SessionToken"?}`)
		}
		loads = append(loads, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(a.AccessKeyId, a.SecretAccessKey, a.SessionToken)))
	}
	if c.Endpoint != "" {
		loads = append(loads, config.WithBaseEndpoint(c.Endpoint))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loads...)
	if err != nil {
		return nil, errs.E(op, errs.Invalid, c.SecretID, err)
	}
	return &Target{cfg: c, c: sm.NewFromConfig(cfg)}, nil
}

// FromInventory builds the target of a consumer's aws-secretsmanager
// delivery: the aws-iam system it names gives the endpoint, region and
// administrator.
func FromInventory(ctx context.Context, inv *inventory.Inventory, d *inventory.Delivery, getenv func(string) string) (*Target, error) {
	if d == nil || d.Type != inventory.DeliverAWSSecretsManager {
		return nil, errs.New(op, errs.Invalid, "", "not an aws-secretsmanager delivery")
	}
	s := inv.SystemByName(d.System)
	if s == nil || s.Type != inventory.TypeAWSIAM {
		return nil, errs.New(op, errs.Invalid, d.System, "no aws-iam system of that name in the inventory")
	}
	var admin secret.Secret
	if !s.Admin.IsZero() {
		a, err := s.Admin.Resolve(getenv)
		if err != nil {
			return nil, errs.E(op, errs.KindOf(err), s.Name, err)
		}
		admin = a
	}
	return New(ctx, Config{Endpoint: s.Endpoint, Region: s.Region, Admin: admin, SecretID: d.SecretID, Key: d.Key, UserKey: d.UserKey})
}

// Describe names the secret and keys.
func (t *Target) Describe() string {
	s := "aws-secretsmanager " + t.cfg.SecretID
	if t.cfg.Key != "" {
		s += " key " + t.cfg.Key
	}
	if t.cfg.UserKey != "" {
		s += ", user_key " + t.cfg.UserKey
	}
	return s
}

// value is the secret's AWSCURRENT version: exists false when the secret
// has none yet, fields its JSON object when the target has a key.
type value struct {
	exists bool
	plain  string
	fields map[string]any
}

// read gets the AWSCURRENT value. A secret without a current version
// (created with no value) reads as none; a missing secret is NotFound.
func (t *Target) read(ctx context.Context) (value, error) {
	return t.readVersion(ctx, "")
}

// readVersion reads version id ("" for AWSCURRENT).
func (t *Target) readVersion(ctx context.Context, id string) (value, error) {
	in := &sm.GetSecretValueInput{SecretId: aws.String(t.cfg.SecretID)}
	if id != "" {
		in.VersionId = aws.String(id)
	}
	out, err := t.c.GetSecretValue(ctx, in)
	if err != nil {
		var nf *smtypes.ResourceNotFoundException
		if errors.As(err, &nf) && id == "" {
			if _, derr := t.c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(t.cfg.SecretID)}); derr == nil {
				return value{fields: map[string]any{}}, nil
			}
		}
		return value{}, t.fail("read", "secretsmanager:GetSecretValue", err)
	}
	v := value{exists: true, plain: aws.ToString(out.SecretString)}
	if out.SecretString == nil {
		return value{}, errs.New(op, errs.Invalid, t.cfg.SecretID, "the secret holds binary data, not a string")
	}
	if t.cfg.Key != "" {
		if err := json.Unmarshal([]byte(v.plain), &v.fields); err != nil || v.fields == nil {
			return value{}, errs.New(op, errs.Invalid, t.cfg.SecretID, "the secret's value is not a JSON object, so it has no key "+t.cfg.Key)
		}
	}
	return v, nil
}

// Current reads the secret (the key of its JSON object) and the user key.
func (t *Target) Current(ctx context.Context) (deliver.State, error) {
	v, err := t.read(ctx)
	if err != nil {
		return deliver.State{}, err
	}
	if !v.exists {
		return deliver.State{}, errs.New(op, errs.NotFound, t.cfg.SecretID, "the secret has no current value")
	}
	if t.cfg.Key == "" {
		return deliver.State{Secret: secret.FromString(v.plain)}, nil
	}
	raw, ok := v.fields[t.cfg.Key]
	if !ok {
		return deliver.State{}, errs.New(op, errs.NotFound, t.cfg.SecretID, "the secret has no key "+t.cfg.Key)
	}
	s, ok := raw.(string)
	if !ok {
		return deliver.State{}, errs.New(op, errs.Invalid, t.cfg.SecretID, "key "+t.cfg.Key+" holds no string")
	}
	st := deliver.State{Secret: secret.FromString(s)}
	if t.cfg.UserKey != "" {
		st.User, _ = v.fields[t.cfg.UserKey].(string)
	}
	return st, nil
}

// parts lists what writing nv over v changes.
func (t *Target) parts(v value, nv deliver.Value) []deliver.Part {
	var parts []deliver.Part
	cur := v.plain
	if t.cfg.Key != "" {
		cur, _ = v.fields[t.cfg.Key].(string)
	}
	if !v.exists || !secret.FromString(cur).Equal(nv.Secret) {
		parts = append(parts, deliver.PartPassword)
	}
	if t.cfg.UserKey != "" && nv.User != "" {
		if u, _ := v.fields[t.cfg.UserKey].(string); u != nv.User {
			parts = append(parts, deliver.PartUser)
		}
	}
	return parts
}

// Plan says what Write would change, reading the current value.
func (t *Target) Plan(ctx context.Context, nv deliver.Value) (deliver.Change, error) {
	v, err := t.read(ctx)
	if err != nil {
		return deliver.Change{}, err
	}
	e := deliver.Edit{Where: "secret " + t.cfg.SecretID, Key: t.cfg.Key, Form: "plain", Parts: t.parts(v, nv)}
	if t.cfg.Key != "" {
		e.Form = "json"
	}
	if !v.exists {
		e.Note = "the secret has no current value yet"
	}
	return deliver.Change{Target: t.Describe(), Edits: []deliver.Edit{e}}, nil
}

// Write puts a new version holding nv: the current JSON object with the
// key (and user key) changed, or the plain secret. Writing what the
// secret already holds creates no version.
func (t *Target) Write(ctx context.Context, nv deliver.Value) error {
	if nv.Secret.IsZero() {
		return errs.New(op, errs.Invalid, t.cfg.SecretID, "no value to deliver")
	}
	v, err := t.read(ctx)
	if err != nil {
		return err
	}
	if len(t.parts(v, nv)) == 0 {
		return nil
	}
	body := string(nv.Secret.Reveal())
	if t.cfg.Key != "" {
		fields := maps.Clone(v.fields)
		fields[t.cfg.Key] = body
		if t.cfg.UserKey != "" && nv.User != "" {
			fields[t.cfg.UserKey] = nv.User
		}
		b, err := json.Marshal(fields)
		if err != nil {
			return errs.New(op, errs.Invalid, t.cfg.SecretID, "the secret's JSON object cannot be encoded again")
		}
		body = string(b)
	}
	_, err = t.c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String(t.cfg.SecretID), SecretString: aws.String(body)})
	return t.fail("write", "secretsmanager:PutSecretValue", err)
}

var _ deliver.Restorer = (*Target)(nil)

// Restore puts back prev, what the secret held before rekey's Write. When
// the version labelled AWSPREVIOUS holds it (Write's PutSecretValue left
// it there and nobody wrote since), AWSCURRENT moves back to that version
// (UpdateSecretVersionStage, which takes AWSPREVIOUS to the version rekey
// wrote): the secret is again the version it was, its other fields as they
// were then. Otherwise, someone having written after rekey, prev is
// written as a new version over the current one, keeping their fields.
// A secret already holding prev is left as it is.
func (t *Target) Restore(ctx context.Context, prev deliver.Value) error {
	if prev.Secret.IsZero() {
		return errs.New(op, errs.Invalid, t.cfg.SecretID, "no previous value to restore")
	}
	v, err := t.read(ctx)
	if err != nil {
		return err
	}
	if v.exists && len(t.parts(v, prev)) == 0 {
		return nil
	}
	d, err := t.c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(t.cfg.SecretID)})
	if err != nil {
		return t.fail("rollback", "secretsmanager:DescribeSecret", err)
	}
	var cur, before string
	for id, stages := range d.VersionIdsToStages {
		for _, s := range stages {
			switch s {
			case "AWSCURRENT":
				cur = id
			case "AWSPREVIOUS":
				before = id
			}
		}
	}
	if cur != "" && before != "" {
		pv, err := t.readVersion(ctx, before)
		// A previous version in another shape (not a JSON object) is not
		// the one rekey replaced: write prev instead.
		if err != nil && errs.KindOf(err) != errs.Invalid {
			return err
		}
		if err == nil && pv.exists && len(t.parts(pv, prev)) == 0 {
			_, err := t.c.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: aws.String(t.cfg.SecretID),
				VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: aws.String(before), RemoveFromVersionId: aws.String(cur)})
			return t.fail("rollback", "secretsmanager:UpdateSecretVersionStage", err)
		}
	}
	return t.Write(ctx, prev)
}

// Check is the preflight: the secret exists and its value can be read in
// the shape the delivery writes.
func (t *Target) Check(ctx context.Context) error {
	if _, err := t.c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(t.cfg.SecretID)}); err != nil {
		return t.fail("check", "secretsmanager:DescribeSecret", err)
	}
	_, err := t.read(ctx)
	return err
}

// fail is one line with a kind naming what was refused. The SDK's errors
// hold no secret value.
func (t *Target) fail(what, need string, err error) error {
	if err == nil {
		return nil
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		kind, msg := errs.Other, ae.ErrorCode()+": "+ae.ErrorMessage()
		switch ae.ErrorCode() {
		case "ResourceNotFoundException":
			kind, msg = errs.NotFound, "no such secret (rekey writes versions of an existing secret; create it first)"
		case "AccessDeniedException":
			kind, msg = errs.Permission, "the administrator credential lacks "+need+" (AccessDeniedException)"
		case "UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException", "MissingAuthenticationTokenException":
			kind, msg = errs.Permission, "the administrator credential is refused ("+ae.ErrorCode()+")"
		case "ThrottlingException", "Throttling", "TooManyRequestsException":
			kind, msg = errs.Unreachable, fmt.Sprintf("%s still throttled after %d attempts (%s)", need, t.cfg.Attempts, ae.ErrorCode())
		case "InternalServiceError":
			kind = errs.Unreachable
		}
		return errs.New(op, kind, t.cfg.SecretID, what+": "+msg)
	}
	where := t.cfg.Endpoint
	if where == "" {
		where = "AWS"
	}
	return errs.New(op, errs.Unreachable, t.cfg.SecretID, fmt.Sprintf("%s: cannot reach %s: %s", what, where, lastPart(err.Error())))
}

func lastPart(msg string) string {
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}
