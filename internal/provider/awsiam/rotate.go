package awsiam

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
)

// maxKeys is IAM's quota of access keys per user.
const maxKeys = 2

// revokeSessionsPolicy is the inline policy TerminateSessions writes.
const revokeSessionsPolicy = "rekey-revoke-older-sessions"

// Issue is unsupported: IAM generates a key's secret itself, so rekey
// cannot hand it one; Generate replaces it.
func (p *Provider) Issue(context.Context, provider.IssueRequest) (*provider.Credential, error) {
	return nil, p.unsupported("issue", "", "IAM generates access keys itself (the engine must use provider.Generator)")
}

// Generate creates an access key for req.Name. When Name is not
// From.Name it first makes Name a user of its own with a copy of From's
// policies minus req.Drop (split: one user per consumer). Before creating
// the key it deletes keys of Name created at or after req.Began that are
// not in req.Sealed: an earlier call's key whose secret was lost before the
// caller sealed it. A user already at IAM's two keys is refused with
// ErrUnsupported and nothing changes.
func (p *Provider) Generate(ctx context.Context, req provider.GenerateRequest) (*provider.Credential, error) {
	if _, err := p.iam.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(req.From.Name)}); err != nil {
		return nil, p.fail("generate", req.From.Name, err)
	}
	if req.Name != req.From.Name {
		if err := p.copyUser(ctx, req.From.Name, req.Name, req.Drop); err != nil {
			return nil, err
		}
	}
	keys, err := p.keys(ctx, req.Name)
	if err != nil {
		return nil, p.fail("generate", req.Name, err)
	}
	began := req.Began.Truncate(time.Second)
	var kept []types.AccessKeyMetadata
	for _, k := range keys {
		id := aws.ToString(k.AccessKeyId)
		orphan := !req.Began.IsZero() && k.CreateDate != nil && !k.CreateDate.Before(began) &&
			!slices.Contains(req.Sealed, id) && id != req.From.Key
		if !orphan {
			kept = append(kept, k)
			continue
		}
		if err := p.deleteKey(ctx, req.Name, id); err != nil {
			return nil, err
		}
	}
	if len(kept) >= maxKeys {
		return nil, p.full(req.Name)
	}
	out, err := p.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(req.Name)})
	if apiCode(err) == "LimitExceeded" {
		return nil, p.full(req.Name)
	}
	if err != nil {
		return nil, p.fail("generate", req.Name, err)
	}
	id := aws.ToString(out.AccessKey.AccessKeyId)
	return &provider.Credential{
		Ref:    provider.IdentityRef{System: p.system, Name: req.Name, Key: id},
		Secret: secret.FromString(aws.ToString(out.AccessKey.SecretAccessKey)),
		KeyID:  id,
	}, nil
}

func (p *Provider) full(user string) error {
	return p.unsupported("generate", user, "the user already holds two access keys, IAM's limit: a graceful rotation needs a free slot, so rotate in emergency (revoke the leaked key first, then generate)")
}

// unsupported is an errs.Unsupported wrapping provider.ErrUnsupported, on
// one line.
func (p *Provider) unsupported(op, what, why string) error {
	return errs.E(p.op(op), errs.Unsupported, what, fmt.Errorf("%s (%w)", why, provider.ErrUnsupported))
}

func (p *Provider) keys(ctx context.Context, user string) ([]types.AccessKeyMetadata, error) {
	return all(ctx, iam.NewListAccessKeysPaginator(p.iam, &iam.ListAccessKeysInput{UserName: aws.String(user)}),
		func(o *iam.ListAccessKeysOutput) []types.AccessKeyMetadata { return o.AccessKeyMetadata })
}

// copyUser makes user to (if missing) with from's permissions boundary,
// its managed and inline policies and its groups, minus drop. A group
// holding a dropped policy is not joined; its other policies are copied
// onto the user instead. Every step converges when repeated.
func (p *Provider) copyUser(ctx context.Context, from, to string, drop []string) error {
	src, err := p.iam.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(from)})
	if err != nil {
		return p.fail("generate", from, err)
	}
	fromARN := aws.ToString(src.User.Arn)
	toARN := strings.TrimSuffix(fromARN, from) + to
	in := &iam.CreateUserInput{UserName: aws.String(to), Path: src.User.Path}
	if b := src.User.PermissionsBoundary; b != nil {
		in.PermissionsBoundary = b.PermissionsBoundaryArn
	}
	if _, err := p.iam.CreateUser(ctx, in); err != nil && apiCode(err) != "EntityAlreadyExists" {
		return p.fail("generate", to, err)
	}
	held, err := p.userPolicies(ctx, from)
	if err != nil {
		return p.fail("generate", from, err)
	}
	tainted := map[string]bool{}
	for _, h := range held {
		if h.via != "" && slices.Contains(drop, h.name) {
			tainted[h.via] = true
		}
	}
	joined := map[string]bool{}
	for _, h := range held {
		if slices.Contains(drop, h.name) {
			continue
		}
		switch {
		case h.via != "" && !tainted[h.via]:
			if !joined[h.via] {
				joined[h.via] = true
				group := strings.TrimPrefix(h.via, "group:")
				if _, err := p.iam.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String(group), UserName: aws.String(to)}); err != nil {
					return p.fail("generate", to, err)
				}
			}
		case strings.HasPrefix(h.name, "inline:"):
			name := strings.TrimPrefix(h.name, "inline:")
			doc := h.raw
			if h.via != "" {
				name = strings.TrimPrefix(h.via, "group:") + "-" + name
			} else {
				// A user's own policy that names the user itself (its keys,
				// its MFA) is about the new user in the copy.
				doc = strings.ReplaceAll(doc, fromARN, toARN)
			}
			if _, err := p.iam.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(to), PolicyName: aws.String(name), PolicyDocument: aws.String(doc)}); err != nil {
				return p.fail("generate", to, err)
			}
		default:
			if _, err := p.iam.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String(to), PolicyArn: aws.String(h.name)}); err != nil {
				return p.fail("generate", to, err)
			}
		}
	}
	return nil
}

// Verify signs sts:GetCallerIdentity with the key, as a client would. IAM
// is eventually consistent: a key just created may be refused for a few
// seconds. A refusal while the administrator sees the key active is that,
// and is retried (settle times, settleDelay apart); a key that is inactive,
// deleted or has another secret is refused at once.
func (p *Provider) Verify(ctx context.Context, c provider.Credential) error {
	keyID := c.KeyID
	if keyID == "" {
		keyID = c.Ref.Key
	}
	refused := func(why string) error {
		return errs.New(p.op("verify"), errs.Permission, keyID, "the key is refused ("+why+")")
	}
	client := p.signedAs(keyID, c.Secret.Reveal())
	for attempt := 1; ; attempt++ {
		who, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err == nil {
			if !strings.HasSuffix(aws.ToString(who.Arn), ":user/"+c.Ref.Name) {
				return refused("it authenticates as " + aws.ToString(who.Arn))
			}
			return nil
		}
		code := apiCode(err)
		if code != "InvalidClientTokenId" {
			if code == "" {
				return p.fail("verify", keyID, err)
			}
			return refused(code)
		}
		if attempt >= p.opts.settle || !p.activeKey(ctx, c.Ref.Name, keyID) {
			return refused(code)
		}
		select {
		case <-ctx.Done():
			return p.fail("verify", keyID, ctx.Err())
		case <-time.After(p.opts.settleDelay):
		}
	}
}

// activeKey reports whether the administrator sees the key active.
func (p *Provider) activeKey(ctx context.Context, user, keyID string) bool {
	keys, err := p.keys(ctx, user)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(keys, func(k types.AccessKeyMetadata) bool {
		return aws.ToString(k.AccessKeyId) == keyID && k.Status == types.StatusTypeActive
	})
}

// Revoke deactivates, then deletes, the key ref.Key. With ref.Key empty it
// revokes the whole principal's secrets: every key and its console
// password (a user a leaked key created, a split's source). Deactivating
// first means a failure between the two calls still leaves the key
// unusable. A key, password or user already gone is not an error. The
// user and its policies stay.
func (p *Provider) Revoke(ctx context.Context, ref provider.IdentityRef) error {
	if err := p.eachKey(ctx, ref, p.deleteKey); err != nil || ref.Key != "" {
		return err
	}
	_, err := p.iam.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: aws.String(ref.Name)})
	if err != nil && apiCode(err) != "NoSuchEntity" {
		return p.fail("revoke", ref.Name, err)
	}
	return nil
}

// Deactivate sets the key ref.Key (or every key of the user) Inactive:
// refused from the next request on, and reactivable by a person.
func (p *Provider) Deactivate(ctx context.Context, ref provider.IdentityRef) error {
	return p.eachKey(ctx, ref, func(ctx context.Context, user, keyID string) error {
		_, err := p.deactivate(ctx, user, keyID)
		return err
	})
}

// eachKey calls fn for ref.Key, or for every key of the user; a missing
// user has none.
func (p *Provider) eachKey(ctx context.Context, ref provider.IdentityRef, fn func(ctx context.Context, user, keyID string) error) error {
	if ref.Key != "" {
		return fn(ctx, ref.Name, ref.Key)
	}
	keys, err := p.keys(ctx, ref.Name)
	if apiCode(err) == "NoSuchEntity" {
		return nil
	}
	if err != nil {
		return p.fail("revoke", ref.Name, err)
	}
	for _, k := range keys {
		if err := fn(ctx, ref.Name, aws.ToString(k.AccessKeyId)); err != nil {
			return err
		}
	}
	return nil
}

// deactivate sets the key Inactive; exists is false when there is no such key.
func (p *Provider) deactivate(ctx context.Context, user, keyID string) (exists bool, err error) {
	_, err = p.iam.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(keyID), Status: types.StatusTypeInactive})
	if apiCode(err) == "NoSuchEntity" {
		return false, nil
	}
	if err != nil {
		return false, p.fail("deactivate", keyID, err)
	}
	return true, nil
}

func (p *Provider) deleteKey(ctx context.Context, user, keyID string) error {
	exists, err := p.deactivate(ctx, user, keyID)
	if err != nil || !exists {
		return err
	}
	_, err = p.iam.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(keyID)})
	if err != nil && apiCode(err) != "NoSuchEntity" {
		return p.fail("revoke", keyID, err)
	}
	return nil
}

// Drop removes what rekey issued: the key ref.Key, or, without one, the
// user (a split's) with everything IAM wants gone first (RemoveUser).
// Dropping what is gone is not an error.
func (p *Provider) Drop(ctx context.Context, ref provider.IdentityRef) error {
	if ref.Key != "" {
		return p.Revoke(ctx, ref)
	}
	return p.RemoveUser(ctx, ref)
}

// RemoveLoginProfile deletes the user's console password (one the leaked
// key gave it), leaving its keys and policies; a user without one, or
// gone, is not an error.
func (p *Provider) RemoveLoginProfile(ctx context.Context, ref provider.IdentityRef) error {
	_, err := p.iam.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: aws.String(ref.Name)})
	if err != nil && apiCode(err) != "NoSuchEntity" {
		return p.fail("remove login profile", ref.Name, err)
	}
	return nil
}

// RemoveUser deletes the user ref.Name: DeleteUser answers DeleteConflict
// until the user has no access key, console password, MFA device, inline
// or attached policy and group membership, so those go first (keys
// deactivated before they are deleted). Signing certificates, SSH keys
// and service-specific credentials are not removed: should the user hold
// one, DeleteUser's DeleteConflict names it. A user already gone is not
// an error.
func (p *Provider) RemoveUser(ctx context.Context, ref provider.IdentityRef) error {
	if err := p.Revoke(ctx, provider.IdentityRef{System: ref.System, Name: ref.Name}); err != nil {
		return err
	}
	u := aws.String(ref.Name)
	err := p.emptyUser(ctx, u)
	if err == nil {
		_, err = p.iam.DeleteUser(ctx, &iam.DeleteUserInput{UserName: u})
	}
	if err != nil && apiCode(err) != "NoSuchEntity" {
		return p.fail("remove user", ref.Name, err)
	}
	return nil
}

// emptyUser takes away the user's policies, group memberships and MFA
// devices. It lists them without reading any policy: a group with no
// policy is a membership DeleteUser refuses too.
func (p *Provider) emptyUser(ctx context.Context, u *string) error {
	attached, err := all(ctx, iam.NewListAttachedUserPoliciesPaginator(p.iam, &iam.ListAttachedUserPoliciesInput{UserName: u}),
		func(o *iam.ListAttachedUserPoliciesOutput) []types.AttachedPolicy { return o.AttachedPolicies })
	if err != nil {
		return err
	}
	for _, a := range attached {
		if _, err := p.iam.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: u, PolicyArn: a.PolicyArn}); err != nil && apiCode(err) != "NoSuchEntity" {
			return err
		}
	}
	inline, err := all(ctx, iam.NewListUserPoliciesPaginator(p.iam, &iam.ListUserPoliciesInput{UserName: u}),
		func(o *iam.ListUserPoliciesOutput) []string { return o.PolicyNames })
	if err != nil {
		return err
	}
	for _, name := range inline {
		if _, err := p.iam.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: u, PolicyName: aws.String(name)}); err != nil && apiCode(err) != "NoSuchEntity" {
			return err
		}
	}
	groups, err := all(ctx, iam.NewListGroupsForUserPaginator(p.iam, &iam.ListGroupsForUserInput{UserName: u}),
		func(o *iam.ListGroupsForUserOutput) []types.Group { return o.Groups })
	if err != nil {
		return err
	}
	for _, g := range groups {
		if _, err := p.iam.RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{UserName: u, GroupName: g.GroupName}); err != nil && apiCode(err) != "NoSuchEntity" {
			return err
		}
	}
	mfa, err := all(ctx, iam.NewListMFADevicesPaginator(p.iam, &iam.ListMFADevicesInput{UserName: u}),
		func(o *iam.ListMFADevicesOutput) []types.MFADevice { return o.MFADevices })
	if err != nil {
		return err
	}
	for _, d := range mfa {
		if _, err := p.iam.DeactivateMFADevice(ctx, &iam.DeactivateMFADeviceInput{UserName: u, SerialNumber: d.SerialNumber}); err != nil && apiCode(err) != "NoSuchEntity" {
			return err
		}
	}
	return nil
}

// Renew is unsupported: IAM access keys have no expiry.
func (p *Provider) Renew(context.Context, provider.IdentityRef, time.Time) error {
	return p.unsupported("renew", "", "IAM access keys have no expiry")
}

// TerminateSessions ends the user's temporary credentials (GetSessionToken
// sessions) issued until now the way AWS's "revoke active sessions" does:
// an inline policy denying everything to tokens issued before now. IAM
// cannot list sessions, so it cannot spare those keep would keep, nor count
// them: it returns 0. Long-term keys, the new one included, are not
// affected. A missing user is not an error.
func (p *Provider) TerminateSessions(ctx context.Context, ref provider.IdentityRef, _ func(provider.Session) bool) (int, error) {
	_, err := p.iam.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(ref.Name), PolicyName: aws.String(revokeSessionsPolicy), PolicyDocument: aws.String(revokeOlderSessions())})
	if apiCode(err) == "NoSuchEntity" {
		return 0, nil
	}
	if err != nil {
		return 0, p.fail("terminate sessions", ref.Name, err)
	}
	return 0, nil
}

// TerminateRoleSessions puts the same deny on a role (ref.Name): its
// sessions issued until now, the ones a leaked key opened included, are
// refused; role sessions follow the role's policies, not the user's.
func (p *Provider) TerminateRoleSessions(ctx context.Context, ref provider.IdentityRef) error {
	_, err := p.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(ref.Name), PolicyName: aws.String(revokeSessionsPolicy), PolicyDocument: aws.String(revokeOlderSessions())})
	if err != nil && apiCode(err) != "NoSuchEntity" {
		return p.fail("terminate role sessions", ref.Name, err)
	}
	return nil
}

// revokeOlderSessions denies everything to temporary credentials issued
// before the next whole second: IAM compares aws:TokenIssueTime to the
// second, so a token issued within the current second is before the cut.
func revokeOlderSessions() string {
	cut := time.Now().UTC().Add(time.Second).Truncate(time.Second).Format(time.RFC3339)
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"` + cut + `"}}}]}`
}

// DropPrivileges detaches the named managed policies and deletes the named
// inline policies held directly by the user (as Inspect names them); a
// policy held through a group cannot be removed from one user and is
// skipped, as is one the user does not hold.
func (p *Provider) DropPrivileges(ctx context.Context, ref provider.IdentityRef, names []string) ([]string, error) {
	held, err := p.userPolicies(ctx, ref.Name)
	if err != nil {
		return nil, p.fail("isolate", ref.Name, err)
	}
	var removed []string
	for _, h := range held {
		if h.via != "" || !slices.Contains(names, h.name) {
			continue
		}
		if err := p.removePolicy(ctx, ref.Name, h); err != nil {
			return removed, p.fail("isolate", ref.Name, err)
		}
		removed = append(removed, h.name)
	}
	return removed, nil
}

// removePolicy takes a policy away from the user: leaves the group it
// comes through, deletes an inline one, detaches a managed one.
func (p *Provider) removePolicy(ctx context.Context, user string, h held) error {
	var err error
	u := aws.String(user)
	switch name, inline := strings.CutPrefix(h.name, "inline:"); {
	case h.via != "":
		_, err = p.iam.RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{UserName: u, GroupName: aws.String(strings.TrimPrefix(h.via, "group:"))})
	case inline:
		_, err = p.iam.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: u, PolicyName: aws.String(name)})
	default:
		_, err = p.iam.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: u, PolicyArn: aws.String(h.name)})
	}
	return err
}
