package awsiam

import (
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/rekeyhq/rekey/internal/provider"
)

// held is one policy the user holds, directly or through a group.
type held struct {
	name string // a managed policy's ARN, or "inline:" + its name
	via  string // "group:NAME", "" when direct
	doc  policy
	raw  string // the document as written, which a copy keeps whole
}

// Inspect describes an IAM user: each policy it holds (attached, inline,
// its groups'), graded for risk under its permissions boundary; its keys
// with their last use, its console login and MFA devices, and roles whose
// trust lets it assume them. IAM lists no open sessions, so Sessions is
// empty. It has no side effects.
func (p *Provider) Inspect(ctx context.Context, ref provider.IdentityRef) (*provider.Identity, error) {
	id := &provider.Identity{Ref: ref, Privileges: []provider.Privilege{}, Sessions: []provider.Session{}, Related: []provider.Related{}}
	u, err := p.iam.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(ref.Name)})
	if apiCode(err) == "NoSuchEntity" {
		return id, nil
	}
	if err != nil {
		return nil, p.fail("inspect", ref.Name, err)
	}
	id.Exists = true
	var boundary *policy
	if b := u.User.PermissionsBoundary; b != nil {
		bp, err := p.managedPolicy(ctx, aws.ToString(b.PermissionsBoundaryArn))
		if err != nil {
			return nil, p.fail("inspect", ref.Name, err)
		}
		boundary = &bp.doc
		id.Related = append(id.Related, provider.Related{Kind: "permissions-boundary", Name: aws.ToString(b.PermissionsBoundaryArn),
			Detail: "caps the user's permissions; the risks listed are those the boundary allows"})
	}
	policies, err := p.userPolicies(ctx, ref.Name)
	if err != nil {
		return nil, p.fail("inspect", ref.Name, err)
	}
	for _, h := range policies {
		risk, creates, _ := grade(h.doc, boundary)
		id.Privileges = append(id.Privileges, provider.Privilege{Name: h.name, Risk: risk, Via: h.via, CreatesCredentials: creates})
	}
	if err := p.relatedKeys(ctx, id); err != nil {
		return nil, p.fail("inspect", ref.Name, err)
	}
	if err := p.relatedLogin(ctx, id); err != nil {
		return nil, p.fail("inspect", ref.Name, err)
	}
	if err := p.assumableRoles(ctx, id, aws.ToString(u.User.Arn), policies); err != nil {
		return nil, p.fail("inspect", ref.Name, err)
	}
	return id, nil
}

// userPolicies reads every policy the user holds, with its document.
func (p *Provider) userPolicies(ctx context.Context, user string) ([]held, error) {
	u := aws.String(user)
	attached, err := all(ctx, iam.NewListAttachedUserPoliciesPaginator(p.iam, &iam.ListAttachedUserPoliciesInput{UserName: u}),
		func(o *iam.ListAttachedUserPoliciesOutput) []types.AttachedPolicy { return o.AttachedPolicies })
	if err != nil {
		return nil, err
	}
	inline, err := all(ctx, iam.NewListUserPoliciesPaginator(p.iam, &iam.ListUserPoliciesInput{UserName: u}),
		func(o *iam.ListUserPoliciesOutput) []string { return o.PolicyNames })
	if err != nil {
		return nil, err
	}
	out, err := p.readPolicies(ctx, "", attached, inline, func(name string) (*string, error) {
		got, err := p.iam.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: u, PolicyName: aws.String(name)})
		if err != nil {
			return nil, err
		}
		return got.PolicyDocument, nil
	})
	if err != nil {
		return nil, err
	}
	groups, err := all(ctx, iam.NewListGroupsForUserPaginator(p.iam, &iam.ListGroupsForUserInput{UserName: u}),
		func(o *iam.ListGroupsForUserOutput) []types.Group { return o.Groups })
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		gp, err := p.groupPolicies(ctx, aws.ToString(g.GroupName))
		if err != nil {
			return nil, err
		}
		out = append(out, gp...)
	}
	return out, nil
}

func (p *Provider) groupPolicies(ctx context.Context, group string) ([]held, error) {
	g := aws.String(group)
	attached, err := all(ctx, iam.NewListAttachedGroupPoliciesPaginator(p.iam, &iam.ListAttachedGroupPoliciesInput{GroupName: g}),
		func(o *iam.ListAttachedGroupPoliciesOutput) []types.AttachedPolicy { return o.AttachedPolicies })
	if err != nil {
		return nil, err
	}
	inline, err := all(ctx, iam.NewListGroupPoliciesPaginator(p.iam, &iam.ListGroupPoliciesInput{GroupName: g}),
		func(o *iam.ListGroupPoliciesOutput) []string { return o.PolicyNames })
	if err != nil {
		return nil, err
	}
	return p.readPolicies(ctx, "group:"+group, attached, inline, func(name string) (*string, error) {
		got, err := p.iam.GetGroupPolicy(ctx, &iam.GetGroupPolicyInput{GroupName: g, PolicyName: aws.String(name)})
		if err != nil {
			return nil, err
		}
		return got.PolicyDocument, nil
	})
}

// readPolicies fetches the documents of a principal's managed and inline
// policies.
func (p *Provider) readPolicies(ctx context.Context, via string, attached []types.AttachedPolicy, inline []string, getInline func(string) (*string, error)) ([]held, error) {
	var out []held
	for _, ap := range attached {
		h, err := p.managedPolicy(ctx, aws.ToString(ap.PolicyArn))
		if err != nil {
			return nil, err
		}
		h.name, h.via = aws.ToString(ap.PolicyArn), via
		out = append(out, h)
	}
	for _, name := range inline {
		doc, err := getInline(name)
		if err != nil {
			return nil, err
		}
		h := decodeHeld(aws.ToString(doc))
		h.name, h.via = "inline:"+name, via
		out = append(out, h)
	}
	return out, nil
}

// pager is what the SDK's list paginators have in common.
type pager[O any] interface {
	HasMorePages() bool
	NextPage(context.Context, ...func(*iam.Options)) (O, error)
}

// all reads every page and returns their items.
func all[O, T any](ctx context.Context, pg pager[O], items func(O) []T) ([]T, error) {
	var out []T
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, items(page)...)
	}
	return out, nil
}

// managedPolicy reads a managed policy's default version.
func (p *Provider) managedPolicy(ctx context.Context, arn string) (held, error) {
	pol, err := p.iam.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	if err != nil {
		return held{}, err
	}
	v, err := p.iam.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: pol.Policy.DefaultVersionId})
	if err != nil {
		return held{}, err
	}
	return decodeHeld(aws.ToString(v.PolicyVersion.Document)), nil
}

// decodeHeld reads a document as IAM returns it (URL-encoded JSON). One
// it cannot parse grades as granting nothing it can name: IAM itself
// refuses malformed documents, so this is a grammar newer than the
// grader's.
func decodeHeld(encoded string) held {
	raw, err := url.QueryUnescape(encoded)
	if err != nil {
		raw = encoded
	}
	doc, _ := decodePolicy(raw)
	return held{doc: doc, raw: raw}
}

// relatedKeys lists the user's access keys with their status and last use
// (region and service): the key under inspection as "this-key", the
// others as "other-key". An active key makes the user able to log in.
func (p *Provider) relatedKeys(ctx context.Context, id *provider.Identity) error {
	keys, err := p.keys(ctx, id.Ref.Name)
	if err != nil {
		return err
	}
	for _, k := range keys {
		keyID := aws.ToString(k.AccessKeyId)
		last, err := p.iam.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: k.AccessKeyId})
		if err != nil {
			return err
		}
		kind := "other-key"
		if keyID == id.Ref.Key {
			kind = "this-key"
		}
		if k.Status == types.StatusTypeActive {
			id.CanLogin = true
		}
		id.Related = append(id.Related, provider.Related{Kind: kind, Name: keyID, Detail: keyDetail(k, last.AccessKeyLastUsed)})
	}
	return nil
}

func keyDetail(k types.AccessKeyMetadata, last *types.AccessKeyLastUsed) string {
	d := "access key, " + strings.ToLower(string(k.Status)) + ", created " + stamp(k.CreateDate)
	if last == nil || last.LastUsedDate == nil {
		return d + ", never used"
	}
	return d + ", last used " + stamp(last.LastUsedDate) + " in " + aws.ToString(last.Region) + " (" + aws.ToString(last.ServiceName) + ")"
}

func stamp(t *time.Time) string {
	if t == nil {
		return "?"
	}
	return t.UTC().Format(time.RFC3339)
}

// relatedLogin lists a console password and the MFA devices that guard it.
func (p *Provider) relatedLogin(ctx context.Context, id *provider.Identity) error {
	mfa, err := all(ctx, iam.NewListMFADevicesPaginator(p.iam, &iam.ListMFADevicesInput{UserName: aws.String(id.Ref.Name)}),
		func(o *iam.ListMFADevicesOutput) []types.MFADevice { return o.MFADevices })
	if err != nil {
		return err
	}
	for _, d := range mfa {
		id.Related = append(id.Related, provider.Related{Kind: "mfa-device", Name: aws.ToString(d.SerialNumber), Detail: "MFA device enabled " + stamp(d.EnableDate)})
	}
	lp, err := p.iam.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String(id.Ref.Name)})
	if apiCode(err) == "NoSuchEntity" {
		return nil
	}
	if err != nil {
		return err
	}
	id.CanLogin = true
	detail := "console password since " + stamp(lp.LoginProfile.CreateDate)
	if len(mfa) == 0 {
		detail += ", without MFA"
	}
	id.Related = append(id.Related, provider.Related{Kind: "console-login", Name: id.Ref.Name, Detail: detail})
	return nil
}

// assumableRoles lists roles whose trust policy names the user (or its
// account) and that the user's own policies let it assume.
func (p *Provider) assumableRoles(ctx context.Context, id *provider.Identity, userARN string, policies []held) error {
	account := strings.Split(userARN, ":")
	if len(account) < 5 {
		return nil
	}
	root := "arn:aws:iam::" + account[4] + ":root"
	roles, err := all(ctx, iam.NewListRolesPaginator(p.iam, &iam.ListRolesInput{}),
		func(o *iam.ListRolesOutput) []types.Role { return o.Roles })
	if err != nil {
		return err
	}
	for _, r := range roles {
		who := trusted(aws.ToString(r.AssumeRolePolicyDocument), userARN, root)
		if who == "" {
			continue
		}
		may := false
		for _, h := range policies {
			for _, st := range h.doc.Statement {
				if st.allows("sts:AssumeRole", false) && resourceMatches(st.Resource, aws.ToString(r.Arn)) {
					may = true
				}
			}
		}
		if may || who == userARN {
			id.Related = append(id.Related, provider.Related{Kind: "assumable-role", Name: aws.ToString(r.RoleName),
				Detail: "trust policy allows " + who + " to assume " + aws.ToString(r.Arn)})
		}
	}
	return nil
}

// trusted returns which of the user or its account the trust policy
// (URL-encoded, as IAM returns it) allows to assume the role, or "".
func trusted(encoded, userARN, root string) string {
	doc, err := decodeTrust(encoded)
	if err != nil {
		return ""
	}
	found := ""
	for _, st := range doc.Statement {
		if st.Effect != "Allow" {
			continue
		}
		for _, principal := range st.Principal.AWS {
			switch principal {
			case userARN:
				return userARN
			case root, account(root), "*":
				found = principal
			}
		}
	}
	return found
}

func account(root string) string { return strings.Split(root, ":")[4] }

func resourceMatches(resources anyOf, arn string) bool {
	for _, r := range resources {
		if wildcard(r, arn) {
			return true
		}
	}
	return false
}
