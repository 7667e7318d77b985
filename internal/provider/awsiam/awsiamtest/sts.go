package awsiamtest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

var stsHandlers = map[string]handler{
	"GetCallerIdentity": (*call).getCallerIdentity,
	"GetSessionToken":   (*call).getSessionToken,
	"AssumeRole":        (*call).assumeRole,
}

// getCallerIdentity needs no permission: AWS answers it even when a policy
// denies it, so it proves a key works and nothing more.
func (c *call) getCallerIdentity() ([]node, *apiError) {
	if r := c.s.roles[c.who.role]; r != nil {
		return []node{leaf("Arn", c.s.callerARN(c.who)), leaf("UserId", r.id+":"+c.who.name), leaf("Account", Account)}, nil
	}
	u := c.s.users[c.who.user]
	return []node{leaf("Arn", userARN(u.name)), leaf("UserId", u.id), leaf("Account", Account)}, nil
}

// assumeRole gives a user temporary credentials of a role whose trust
// policy names the user, or names its account while the user's own
// policies allow sts:AssumeRole on the role.
func (c *call) assumeRole() ([]node, *apiError) {
	arn, e := c.required("RoleArn")
	if e != nil {
		return nil, e
	}
	name, e := c.required("RoleSessionName")
	if e != nil {
		return nil, e
	}
	r := c.s.roles[arn[strings.LastIndex(arn, "/")+1:]]
	u := c.s.users[c.who.user]
	if r == nil || u == nil || c.who.role != "" {
		return nil, errf(http.StatusForbidden, "AccessDenied", "User: %s is not authorized to perform: sts:AssumeRole on resource: %s", c.s.callerARN(c.who), arn)
	}
	trusted := trustNames(r.trust)
	direct := slices.Contains(trusted, userARN(u.name))
	viaAccount := slices.Contains(trusted, "arn:aws:iam::"+Account+":root") || slices.Contains(trusted, Account)
	allowedBySelf := evaluate(c.s.identityPolicies(u), request{action: "sts:AssumeRole", resource: arn, tokenIssued: c.who.tokenIssued}) == allowed
	if !direct && !(viaAccount && allowedBySelf) {
		return nil, errf(http.StatusForbidden, "AccessDenied", "User: %s is not authorized to perform: sts:AssumeRole on resource: %s", userARN(u.name), arn)
	}
	ses := c.s.newSession(u.name, r.name, name, 3600)
	return []node{
		elem("Credentials", leaf("AccessKeyId", ses.id), leaf("SecretAccessKey", ses.secret), leaf("SessionToken", ses.token), leaf("Expiration", stamp(ses.expires))),
		elem("AssumedRoleUser", leaf("AssumedRoleId", r.id+":"+name), leaf("Arn", c.s.callerARN(caller{role: r.name, name: name}))),
	}, nil
}

// trustNames lists the AWS principals a trust policy allows.
func trustNames(doc string) []string {
	var t struct {
		Statement []struct {
			Effect    string
			Principal json.RawMessage
		}
	}
	if json.Unmarshal([]byte(doc), &t) != nil {
		return nil
	}
	var out []string
	for _, st := range t.Statement {
		var p struct{ AWS stringList }
		if st.Effect == "Allow" && json.Unmarshal(st.Principal, &p) == nil {
			out = append(out, p.AWS...)
		}
	}
	return out
}

// getSessionToken issues temporary credentials (ASIA…, a secret and a
// session token) of the calling user; requests signed with them carry
// aws:TokenIssueTime, which "revoke older sessions" policies test.
func (c *call) getSessionToken() ([]node, *apiError) {
	if c.who.key == nil {
		return nil, errf(http.StatusForbidden, "AccessDenied", "Cannot call GetSessionToken with session credentials")
	}
	secs := 43200
	if v := c.form.Get("DurationSeconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 900 || n > 129600 {
			return nil, errf(http.StatusBadRequest, "ValidationError", "1 validation error detected: Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 129600", v)
		}
		secs = n
	}
	ses := c.s.newSession(c.who.user, "", "", secs)
	return []node{elem("Credentials", leaf("AccessKeyId", ses.id), leaf("SecretAccessKey", ses.secret),
		leaf("SessionToken", ses.token), leaf("Expiration", stamp(ses.expires)))}, nil
}

// newSession issues temporary credentials valid for secs seconds.
func (s *Server) newSession(user, role, name string, secs int) *session {
	tok := make([]byte, 48)
	_, _ = rand.Read(tok)
	now := time.Now().UTC()
	ses := &session{id: newID("ASIA"), secret: newSecret(), token: base64.StdEncoding.EncodeToString(tok), user: user,
		role: role, name: name, issued: now, expires: now.Add(time.Duration(secs) * time.Second)}
	s.sessions[ses.id] = ses
	return ses
}
