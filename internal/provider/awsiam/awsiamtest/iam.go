package awsiamtest

import (
	"encoding/base64"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// call is one request being answered, with the server locked.
type call struct {
	s               *Server
	form            url.Values
	who             caller
	region, service string
}

type handler func(*call) ([]node, *apiError)

var iamHandlers = map[string]handler{
	"CreateUser": (*call).createUser, "GetUser": (*call).getUser, "DeleteUser": (*call).deleteUser, "ListUsers": (*call).listUsers,
	"CreateAccessKey": (*call).createAccessKey, "UpdateAccessKey": (*call).updateAccessKey,
	"DeleteAccessKey": (*call).deleteAccessKey, "ListAccessKeys": (*call).listAccessKeys,
	"GetAccessKeyLastUsed":     (*call).getAccessKeyLastUsed,
	"ListAttachedUserPolicies": (*call).listAttachedUserPolicies, "ListUserPolicies": (*call).listUserPolicies,
	"GetUserPolicy": (*call).getUserPolicy, "PutUserPolicy": (*call).putUserPolicy, "DeleteUserPolicy": (*call).deleteUserPolicy,
	"AttachUserPolicy": (*call).attachUserPolicy, "DetachUserPolicy": (*call).detachUserPolicy,
	"ListGroupsForUser": (*call).listGroupsForUser, "AddUserToGroup": (*call).addUserToGroup, "RemoveUserFromGroup": (*call).removeUserFromGroup,
	"ListAttachedGroupPolicies": (*call).listAttachedGroupPolicies, "ListGroupPolicies": (*call).listGroupPolicies,
	"GetGroupPolicy": (*call).getGroupPolicy, "GetPolicy": (*call).getPolicy, "GetPolicyVersion": (*call).getPolicyVersion,
	"GetLoginProfile": (*call).getLoginProfile, "DeleteLoginProfile": (*call).deleteLoginProfile,
	"CreateLoginProfile": (*call).createLoginProfile, "DeactivateMFADevice": (*call).deactivateMFADevice,
	"ListMFADevices": (*call).listMFADevices, "ListRoles": (*call).listRoles, "GetRole": (*call).getRole,
	"PutRolePolicy": (*call).putRolePolicy, "ListUserTags": (*call).listUserTags,
}

// authorize evaluates the caller's identity-based policies for
// iam:Action on the resource the request names: a user's inline and
// attached policies and its groups', capped by its permissions boundary;
// a role session's role's inline policies.
func (c *call) authorize(action string) *apiError {
	return c.decide("iam:"+action, c.resource())
}

// decide evaluates the caller's policies for action on resource.
func (c *call) decide(action, resource string) *apiError {
	req := request{action: action, resource: resource, tokenIssued: c.who.tokenIssued}
	var d decision
	if r := c.s.roles[c.who.role]; r != nil {
		var docs []document
		for _, name := range slices.Sorted(maps.Keys(r.inline)) {
			docs = append(docs, docsOf(r.inline[name])...)
		}
		d = evaluate(docs, req)
	} else {
		u := c.s.users[c.who.user]
		d = evaluate(c.s.identityPolicies(u), req)
		if d == allowed && u.boundary != "" {
			if p := c.s.policies[u.boundary]; p == nil || evaluate(docsOf(p.doc), req) != allowed {
				d = implicitDeny
			}
		}
	}
	who := c.s.callerARN(c.who)
	switch d {
	case allowed:
		return nil
	case explicitDeny:
		return errf(http.StatusForbidden, "AccessDenied", "User: %s is not authorized to perform: %s on resource: %s with an explicit deny in an identity-based policy", who, req.action, resource)
	}
	return errf(http.StatusForbidden, "AccessDenied", "User: %s is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action", who, req.action, resource, req.action)
}

// resource is the ARN a request acts on, as IAM's authorization names it.
func (c *call) resource() string {
	switch {
	case c.form.Get("UserName") != "":
		return userARN(c.form.Get("UserName"))
	case c.form.Get("GroupName") != "":
		return "arn:aws:iam::" + Account + ":group/" + c.form.Get("GroupName")
	case c.form.Get("RoleName") != "":
		return "arn:aws:iam::" + Account + ":role/" + c.form.Get("RoleName")
	case c.form.Get("PolicyArn") != "":
		return c.form.Get("PolicyArn")
	case c.form.Get("AccessKeyId") != "":
		if k := c.s.keys[c.form.Get("AccessKeyId")]; k != nil {
			return userARN(k.user)
		}
	}
	switch c.form.Get("Action") {
	case "ListUsers", "ListRoles":
		return "*"
	}
	return userARN(c.who.user)
}

func (s *Server) identityPolicies(u *user) []document {
	var docs []document
	for _, name := range slices.Sorted(maps.Keys(u.inline)) {
		docs = append(docs, docsOf(u.inline[name])...)
	}
	for _, arn := range u.attached {
		if p := s.policies[arn]; p != nil {
			docs = append(docs, docsOf(p.doc)...)
		}
	}
	for _, gn := range u.groups {
		g := s.groups[gn]
		for _, name := range slices.Sorted(maps.Keys(g.inline)) {
			docs = append(docs, docsOf(g.inline[name])...)
		}
		for _, arn := range g.attached {
			if p := s.policies[arn]; p != nil {
				docs = append(docs, docsOf(p.doc)...)
			}
		}
	}
	return docs
}

func docsOf(text string) []document {
	d, err := parseDocument(text)
	if err != nil {
		return nil
	}
	return []document{d}
}

// required reads a parameter IAM marks required: its absence is the
// documented ValidationError.
func (c *call) required(name string) (string, *apiError) {
	v := c.form.Get(name)
	if v == "" {
		return "", errf(http.StatusBadRequest, "ValidationError", "1 validation error detected: Value null at '%s%s' failed to satisfy constraint: Member must not be null", strings.ToLower(name[:1]), name[1:])
	}
	return v, nil
}

// targetUser is the UserName parameter's user, or the caller's when it is
// absent (as IAM does for key and user operations).
func (c *call) targetUser() (*user, *apiError) {
	name := c.form.Get("UserName")
	if name == "" {
		name = c.who.user
	}
	u := c.s.users[name]
	if u == nil {
		return nil, noSuchEntity("The user with name %s cannot be found.", name)
	}
	return u, nil
}

func (c *call) namedUser() (*user, *apiError) {
	if _, e := c.required("UserName"); e != nil {
		return nil, e
	}
	return c.targetUser()
}

// page cuts items by Marker and MaxItems, and appends IsTruncated and
// Marker as every IAM list does.
func (c *call) page(listName string, items []node) ([]node, *apiError) {
	maxItems := 100
	if v := c.form.Get("MaxItems"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return nil, errf(http.StatusBadRequest, "ValidationError", "1 validation error detected: Value '%s' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000", v)
		}
		maxItems = n
	}
	if c.s.pageCap > 0 {
		maxItems = min(maxItems, c.s.pageCap)
	}
	start := 0
	if m := c.form.Get("Marker"); m != "" {
		b, err := base64.RawURLEncoding.DecodeString(m)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil || n < 0 || n > len(items) {
			return nil, errf(http.StatusBadRequest, "ValidationError", "Invalid Marker")
		}
		start = n
	}
	end := min(start+maxItems, len(items))
	out := []node{members(listName, items[start:end]), leaf("IsTruncated", boolText(end < len(items)))}
	if end < len(items) {
		out = append(out, leaf("Marker", base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))))
	}
	return out, nil
}

func (u *user) xml() node {
	kids := []node{leaf("Path", u.path), leaf("UserName", u.name), leaf("UserId", u.id), leaf("Arn", userARN(u.name)), leaf("CreateDate", stamp(u.created))}
	if u.boundary != "" {
		kids = append(kids, elem("PermissionsBoundary", leaf("PermissionsBoundaryType", "Policy"), leaf("PermissionsBoundaryArn", u.boundary)))
	}
	return elem("User", kids...)
}

func (c *call) createUser() ([]node, *apiError) {
	name, e := c.required("UserName")
	if e != nil {
		return nil, e
	}
	if c.s.users[name] != nil {
		return nil, errf(http.StatusConflict, "EntityAlreadyExists", "User with name %s already exists.", name)
	}
	path := c.form.Get("Path")
	if path == "" {
		path = "/"
	}
	tags := map[string]string{}
	// Tags.member.N.Key and .Value, N from 1, as the Query API lists.
	for i := 1; c.form.Has("Tags.member." + strconv.Itoa(i) + ".Key"); i++ {
		n := "Tags.member." + strconv.Itoa(i)
		tags[c.form.Get(n+".Key")] = c.form.Get(n + ".Value")
	}
	u := &user{name: name, id: newID("AIDA"), path: path, created: time.Now().UTC(), inline: map[string]string{}, boundary: c.form.Get("PermissionsBoundary"), tags: tags}
	c.s.users[name] = u
	return []node{u.xml()}, nil
}

func (c *call) listUserTags() ([]node, *apiError) {
	u, e := c.namedUser()
	if e != nil {
		return nil, e
	}
	var items []node
	for _, k := range slices.Sorted(maps.Keys(u.tags)) {
		items = append(items, elem("", leaf("Key", k), leaf("Value", u.tags[k])))
	}
	return c.page("Tags", items)
}

func (c *call) getUser() ([]node, *apiError) {
	u, e := c.targetUser()
	if e != nil {
		return nil, e
	}
	return []node{u.xml()}, nil
}

func (c *call) deleteUser() ([]node, *apiError) {
	u, e := c.namedUser()
	if e != nil {
		return nil, e
	}
	conflict := func(what string) *apiError {
		return errf(http.StatusConflict, "DeleteConflict", "Cannot delete entity, must %s first.", what)
	}
	switch {
	case len(c.s.userKeys(u.name)) > 0:
		return nil, conflict("delete access keys")
	case len(u.inline) > 0:
		return nil, conflict("delete policies")
	case len(u.attached) > 0:
		return nil, conflict("detach all policies")
	case len(u.groups) > 0:
		return nil, conflict("remove users from group")
	case u.loginProfile != nil:
		return nil, conflict("delete login profile")
	case len(u.mfa) > 0:
		return nil, conflict("delete MFA devices")
	}
	delete(c.s.users, u.name)
	return nil, nil
}

func (c *call) listUsers() ([]node, *apiError) {
	var items []node
	for _, name := range slices.Sorted(maps.Keys(c.s.users)) {
		u := c.s.users[name]
		if strings.HasPrefix(u.path, c.form.Get("PathPrefix")) {
			items = append(items, u.xml())
		}
	}
	return c.page("Users", items)
}

func (c *call) createAccessKey() ([]node, *apiError) {
	u, e := c.targetUser()
	if e != nil {
		return nil, e
	}
	if len(c.s.userKeys(u.name)) >= 2 {
		return nil, errf(http.StatusConflict, "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2")
	}
	k := c.s.newKey(u.name, c.s.keyDelay)
	return []node{elem("AccessKey", leaf("UserName", u.name), leaf("AccessKeyId", k.id), leaf("Status", k.status),
		leaf("SecretAccessKey", k.secret), leaf("CreateDate", stamp(k.created)))}, nil
}

// userKey finds AccessKeyId among the target user's keys.
func (c *call) userKey() (*accessKey, *apiError) {
	id, e := c.required("AccessKeyId")
	if e != nil {
		return nil, e
	}
	u, e := c.targetUser()
	if e != nil {
		return nil, e
	}
	k := c.s.keys[id]
	if k == nil || k.user != u.name {
		return nil, noSuchEntity("The Access Key with id %s cannot be found.", id)
	}
	return k, nil
}

func (c *call) updateAccessKey() ([]node, *apiError) {
	status, e := c.required("Status")
	if e != nil {
		return nil, e
	}
	if status != "Active" && status != "Inactive" {
		return nil, errf(http.StatusBadRequest, "ValidationError", "1 validation error detected: Value '%s' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]", status)
	}
	k, e := c.userKey()
	if e != nil {
		return nil, e
	}
	k.status = status
	return nil, nil
}

func (c *call) deleteAccessKey() ([]node, *apiError) {
	k, e := c.userKey()
	if e != nil {
		return nil, e
	}
	delete(c.s.keys, k.id)
	return nil, nil
}

func (c *call) listAccessKeys() ([]node, *apiError) {
	u, e := c.targetUser()
	if e != nil {
		return nil, e
	}
	var items []node
	for _, k := range c.s.userKeys(u.name) {
		items = append(items, elem("", leaf("UserName", k.user), leaf("AccessKeyId", k.id), leaf("Status", k.status), leaf("CreateDate", stamp(k.created))))
	}
	return c.page("AccessKeyMetadata", items)
}

func (c *call) getAccessKeyLastUsed() ([]node, *apiError) {
	id, e := c.required("AccessKeyId")
	if e != nil {
		return nil, e
	}
	k := c.s.keys[id]
	if k == nil {
		return nil, noSuchEntity("The Access Key with id %s cannot be found.", id)
	}
	// A key never used reports N/A for region and service and no date.
	used := []node{leaf("ServiceName", "N/A"), leaf("Region", "N/A")}
	if !k.lastUsed.IsZero() {
		used = []node{leaf("LastUsedDate", stamp(k.lastUsed)), leaf("ServiceName", k.lastSvc), leaf("Region", k.lastRegion)}
	}
	return []node{leaf("UserName", k.user), elem("AccessKeyLastUsed", used...)}, nil
}

func attachedXML(arns []string) []node {
	var items []node
	for _, arn := range arns {
		items = append(items, elem("", leaf("PolicyName", arn[strings.LastIndex(arn, "/")+1:]), leaf("PolicyArn", arn)))
	}
	return items
}

func namesXML(names []string) []node {
	var items []node
	for _, n := range names {
		items = append(items, leaf("", n))
	}
	return items
}

func (c *call) listAttachedUserPolicies() ([]node, *apiError) {
	u, e := c.namedUser()
	if e != nil {
		return nil, e
	}
	return c.page("AttachedPolicies", attachedXML(u.attached))
}

func (c *call) listUserPolicies() ([]node, *apiError) {
	u, e := c.namedUser()
	if e != nil {
		return nil, e
	}
	return c.page("PolicyNames", namesXML(slices.Sorted(maps.Keys(u.inline))))
}

// policyDocText is how IAM returns a policy document: URL-encoded JSON
// (RFC 3986), which clients decode themselves.
func policyDocText(doc string) string { return url.QueryEscape(doc) }

func (c *call) getUserPolicy() ([]node, *apiError) {
	u, e := c.namedUser()
	if e != nil {
		return nil, e
	}
	name, e := c.required("PolicyName")
	if e != nil {
		return nil, e
	}
	doc, ok := u.inline[name]
	if !ok {
		return nil, noSuchEntity("The user policy with name %s cannot be found.", name)
	}
	return []node{leaf("UserName", u.name), leaf("PolicyName", name), leaf("PolicyDocument", policyDocText(doc))}, nil
}

// policyArg reads PolicyDocument and refuses what is not a policy, as IAM
// does with MalformedPolicyDocument.
func (c *call) policyArg() (string, *apiError) {
	doc, e := c.required("PolicyDocument")
	if e != nil {
		return "", e
	}
	d, err := parseDocument(doc)
	if err != nil || len(d.Statement) == 0 {
		return "", errf(http.StatusBadRequest, "MalformedPolicyDocument", "Syntax errors in policy.")
	}
	for _, st := range d.Statement {
		if st.Effect != "Allow" && st.Effect != "Deny" {
			return "", errf(http.StatusBadRequest, "MalformedPolicyDocument", "Invalid effect: %s", st.Effect)
		}
	}
	return doc, nil
}

func (c *call) putUserPolicy() ([]node, *apiError) {
	u, e := c.namedUser()
	if e != nil {
		return nil, e
	}
	name, e := c.required("PolicyName")
	if e != nil {
		return nil, e
	}
	doc, e := c.policyArg()
	if e != nil {
		return nil, e
	}
	u.inline[name] = doc
	return nil, nil
}

func (c *call) deleteUserPolicy() ([]node, *apiError) {
	u, e := c.namedUser()
	if e != nil {
		return nil, e
	}
	name, e := c.required("PolicyName")
	if e != nil {
		return nil, e
	}
	if _, ok := u.inline[name]; !ok {
		return nil, noSuchEntity("The user policy with name %s cannot be found.", name)
	}
	delete(u.inline, name)
	return nil, nil
}

func (c *call) policyByARN() (*managedPolicy, *apiError) {
	arn, e := c.required("PolicyArn")
	if e != nil {
		return nil, e
	}
	p := c.s.policies[arn]
	if p == nil {
		return nil, noSuchEntity("Policy %s does not exist or is not attachable.", arn)
	}
	return p, nil
}

func (c *call) attachUserPolicy() ([]node, *apiError) { return c.userPolicyLink(true) }
func (c *call) detachUserPolicy() ([]node, *apiError) { return c.userPolicyLink(false) }

// userPolicyLink attaches (or detaches) PolicyArn to UserName.
func (c *call) userPolicyLink(attach bool) ([]node, *apiError) {
	u, e := c.namedUser()
	if e != nil {
		return nil, e
	}
	p, e := c.policyByARN()
	if e != nil {
		return nil, e
	}
	return nil, link(&u.attached, p.arn, attach, noSuchEntity("Policy %s was not found.", p.arn))
}

// link adds v to list (once) or removes it; removing what is not there is
// missing.
func link(list *[]string, v string, add bool, missing *apiError) *apiError {
	i := slices.Index(*list, v)
	switch {
	case add && i < 0:
		*list = append(*list, v)
	case !add && i < 0:
		return missing
	case !add:
		*list = slices.Delete(*list, i, i+1)
	}
	return nil
}

func (g *group) xml() node {
	return elem("", leaf("Path", "/"), leaf("GroupName", g.name), leaf("GroupId", g.id),
		leaf("Arn", "arn:aws:iam::"+Account+":group/"+g.name), leaf("CreateDate", stamp(g.created)))
}

func (c *call) listGroupsForUser() ([]node, *apiError) {
	u, e := c.namedUser()
	if e != nil {
		return nil, e
	}
	var items []node
	for _, gn := range u.groups {
		items = append(items, c.s.groups[gn].xml())
	}
	return c.page("Groups", items)
}

func (c *call) namedGroup() (*group, *apiError) {
	name, e := c.required("GroupName")
	if e != nil {
		return nil, e
	}
	g := c.s.groups[name]
	if g == nil {
		return nil, noSuchEntity("The group with name %s cannot be found.", name)
	}
	return g, nil
}

func (c *call) addUserToGroup() ([]node, *apiError)      { return c.groupMembership(true) }
func (c *call) removeUserFromGroup() ([]node, *apiError) { return c.groupMembership(false) }

func (c *call) groupMembership(add bool) ([]node, *apiError) {
	g, e := c.namedGroup()
	if e != nil {
		return nil, e
	}
	u, e := c.namedUser()
	if e != nil {
		return nil, e
	}
	return nil, link(&u.groups, g.name, add, noSuchEntity("The user with name %s is not in group %s.", u.name, g.name))
}

func (c *call) listAttachedGroupPolicies() ([]node, *apiError) {
	g, e := c.namedGroup()
	if e != nil {
		return nil, e
	}
	return c.page("AttachedPolicies", attachedXML(g.attached))
}

func (c *call) listGroupPolicies() ([]node, *apiError) {
	g, e := c.namedGroup()
	if e != nil {
		return nil, e
	}
	return c.page("PolicyNames", namesXML(slices.Sorted(maps.Keys(g.inline))))
}

func (c *call) getGroupPolicy() ([]node, *apiError) {
	g, e := c.namedGroup()
	if e != nil {
		return nil, e
	}
	name, e := c.required("PolicyName")
	if e != nil {
		return nil, e
	}
	doc, ok := g.inline[name]
	if !ok {
		return nil, noSuchEntity("The group policy with name %s cannot be found.", name)
	}
	return []node{leaf("GroupName", g.name), leaf("PolicyName", name), leaf("PolicyDocument", policyDocText(doc))}, nil
}

// Managed policies have one version, v1, its default.
func (c *call) getPolicy() ([]node, *apiError) {
	p, e := c.policyByARN()
	if e != nil {
		return nil, e
	}
	n := 0
	for _, u := range c.s.users {
		if slices.Contains(u.attached, p.arn) {
			n++
		}
	}
	path := "/"
	if strings.Contains(p.arn, ":aws:policy/") {
		path = "/"
	}
	return []node{elem("Policy", leaf("PolicyName", p.name), leaf("PolicyId", p.id), leaf("Arn", p.arn), leaf("Path", path),
		leaf("DefaultVersionId", "v1"), leaf("AttachmentCount", strconv.Itoa(n)), leaf("IsAttachable", "true"),
		leaf("CreateDate", stamp(p.created)), leaf("UpdateDate", stamp(p.created)))}, nil
}

func (c *call) getPolicyVersion() ([]node, *apiError) {
	p, e := c.policyByARN()
	if e != nil {
		return nil, e
	}
	v, e := c.required("VersionId")
	if e != nil {
		return nil, e
	}
	if v != "v1" {
		return nil, noSuchEntity("Policy %s version %s does not exist or is not attachable.", p.arn, v)
	}
	return []node{elem("PolicyVersion", leaf("Document", policyDocText(p.doc)), leaf("VersionId", "v1"),
		leaf("IsDefaultVersion", "true"), leaf("CreateDate", stamp(p.created)))}, nil
}

func (c *call) getLoginProfile() ([]node, *apiError) {
	u, e := c.targetUser()
	if e != nil {
		return nil, e
	}
	if u.loginProfile == nil {
		return nil, noSuchEntity("Login Profile for User %s cannot be found.", u.name)
	}
	return []node{elem("LoginProfile", leaf("UserName", u.name), leaf("CreateDate", stamp(*u.loginProfile)), leaf("PasswordResetRequired", "false"))}, nil
}

// createLoginProfile gives a user a console password. The reference's
// errors: EntityAlreadyExists (409) when it has one, NoSuchEntity (404)
// for no such user; no account password policy is modelled
// (PasswordPolicyViolation never happens here).
func (c *call) createLoginProfile() ([]node, *apiError) {
	u, e := c.targetUser()
	if e != nil {
		return nil, e
	}
	if _, e := c.required("Password"); e != nil {
		return nil, e
	}
	if u.loginProfile != nil {
		return nil, errf(http.StatusConflict, "EntityAlreadyExists", "Login Profile for user %s already exists.", u.name)
	}
	t := time.Now().UTC()
	u.loginProfile = &t
	return []node{elem("LoginProfile", leaf("UserName", u.name), leaf("CreateDate", stamp(t)),
		leaf("PasswordResetRequired", strconv.FormatBool(c.form.Get("PasswordResetRequired") == "true")))}, nil
}

func (c *call) deleteLoginProfile() ([]node, *apiError) {
	u, e := c.targetUser()
	if e != nil {
		return nil, e
	}
	if u.loginProfile == nil {
		return nil, noSuchEntity("Login Profile for User %s cannot be found.", u.name)
	}
	u.loginProfile = nil
	return nil, nil
}

// deactivateMFADevice detaches an MFA device from its user (one of the
// things DeleteUser requires gone); NoSuchEntity when the user has no
// device of that serial number.
func (c *call) deactivateMFADevice() ([]node, *apiError) {
	u, e := c.namedUser()
	if e != nil {
		return nil, e
	}
	serial, e := c.required("SerialNumber")
	if e != nil {
		return nil, e
	}
	i := slices.Index(u.mfa, serial)
	if i < 0 {
		return nil, noSuchEntity("MFA Device with serial number %s does not exist.", serial)
	}
	u.mfa = slices.Delete(u.mfa, i, i+1)
	return nil, nil
}

func (c *call) listMFADevices() ([]node, *apiError) {
	u, e := c.targetUser()
	if e != nil {
		return nil, e
	}
	var items []node
	for _, serial := range u.mfa {
		items = append(items, elem("", leaf("UserName", u.name), leaf("SerialNumber", serial), leaf("EnableDate", stamp(u.created))))
	}
	return c.page("MFADevices", items)
}

func (r *role) xml(name string) node {
	return elem(name, leaf("Path", "/"), leaf("RoleName", r.name), leaf("RoleId", r.id),
		leaf("Arn", "arn:aws:iam::"+Account+":role/"+r.name), leaf("CreateDate", stamp(r.created)),
		leaf("AssumeRolePolicyDocument", policyDocText(r.trust)))
}

func (c *call) listRoles() ([]node, *apiError) {
	var items []node
	for _, name := range slices.Sorted(maps.Keys(c.s.roles)) {
		items = append(items, c.s.roles[name].xml(""))
	}
	return c.page("Roles", items)
}

func (c *call) namedRole() (*role, *apiError) {
	name, e := c.required("RoleName")
	if e != nil {
		return nil, e
	}
	r := c.s.roles[name]
	if r == nil {
		return nil, noSuchEntity("The role with name %s cannot be found.", name)
	}
	return r, nil
}

func (c *call) getRole() ([]node, *apiError) {
	r, e := c.namedRole()
	if e != nil {
		return nil, e
	}
	return []node{r.xml("Role")}, nil
}

func (c *call) putRolePolicy() ([]node, *apiError) {
	r, e := c.namedRole()
	if e != nil {
		return nil, e
	}
	name, e := c.required("PolicyName")
	if e != nil {
		return nil, e
	}
	doc, e := c.policyArg()
	if e != nil {
		return nil, e
	}
	r.inline[name] = doc
	return nil, nil
}
