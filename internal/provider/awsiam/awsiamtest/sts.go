package awsiamtest

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strconv"
	"time"
)

var stsHandlers = map[string]handler{
	"GetCallerIdentity": (*call).getCallerIdentity,
	"GetSessionToken":   (*call).getSessionToken,
}

// getCallerIdentity needs no permission: AWS answers it even when a policy
// denies it, so it proves a key works and nothing more.
func (c *call) getCallerIdentity() ([]node, *apiError) {
	u := c.s.users[c.who.user]
	return []node{leaf("Arn", userARN(u.name)), leaf("UserId", u.id), leaf("Account", Account)}, nil
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
	tok := make([]byte, 48)
	_, _ = rand.Read(tok)
	now := time.Now().UTC()
	ses := &session{id: newID("ASIA"), secret: newSecret(), token: base64.StdEncoding.EncodeToString(tok), user: c.who.user,
		issued: now, expires: now.Add(time.Duration(secs) * time.Second)}
	c.s.sessions[ses.id] = ses
	return []node{elem("Credentials", leaf("AccessKeyId", ses.id), leaf("SecretAccessKey", ses.secret),
		leaf("SessionToken", ses.token), leaf("Expiration", stamp(ses.expires)))}, nil
}
