package review

import (
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/logs"
)

// maxChain bounds how deep credentials derived from derived credentials
// are followed (a key that assumes a role that creates a key…).
const maxChain = 3

// relatedCred is a credential the one under review (or one derived from
// it) created or obtained during the exposure or after the rotation.
type relatedCred struct {
	cred, kind, principal string
	createdBy             string
	createdAt             time.Time
	from, via, outcome    string
	consumer              string
	depth                 int
	creation              sample
	// pass is the AddRelated pass that reads its activity; 0 until
	// NextRelated hands it out.
	pass int
	keys []string

	events, failures, afterRotation int
	first, last                     time.Time
	sources, actions                *counter
	activity                        sample
}

// derive records the credential an event created or obtained, if any:
// Detail "derived_key_id" (a new access key or session key),
// "derived_role_arn" (an assumed-role session), "derived_user" (the user
// a key or login profile is for, a federated user), or "derived"="true"
// with the statement that made a database role.
func (r *Reviewer) derive(e *logs.Event, src, consumer string, parent *relatedCred) {
	d := e.Detail
	keyID, roleARN, user := d["derived_key_id"], d["derived_role_arn"], d["derived_user"]
	if d["derived"] != "true" && keyID == "" && roleARN == "" && user == "" {
		return
	}
	kind := derivedKind(e.Action, d)
	var cred, principal string
	var keys []string
	switch {
	case keyID != "":
		cred, principal = keyID, firstOf(roleARN, user)
		keys = append(keys, keyID)
		if roleARN != "" {
			keys = append(keys, roleARN)
		} else if strings.HasPrefix(user, "arn:") {
			keys = append(keys, user)
		}
	case roleARN != "":
		cred, keys = roleARN, []string{roleARN}
	case user != "":
		cred = user
		if strings.HasPrefix(user, "arn:") {
			keys = []string{user}
		} else {
			keys = []string{"user:" + user} // console sign-in of that user
		}
	default:
		name := sqlName(firstOf(d["statement"], d["query"]))
		if name == "" {
			name = firstOf(d["derived_name"], e.Action)
		}
		cred, keys = name, []string{name}
	}
	if cred == r.ref.raw || cred == "" {
		return // the credential changing itself is a sensitive action, not a new credential
	}
	if rc := r.relatedBy[keys[0]]; rc != nil {
		if kind == "user" {
			// The user itself, not only a password it was given: files
			// are unordered, so its CreateLoginProfile may come first.
			rc.kind = kind
		}
		if e.Time.Before(rc.createdAt) {
			rc.createdAt, rc.from, rc.via, rc.outcome, rc.consumer = e.Time, src, e.Action, string(e.Outcome), consumer
		}
		rc.creation.add(evidencePerFinding, e, consumer != "")
		return
	}
	depth := 1
	createdBy := r.ref.raw
	if parent != nil {
		depth, createdBy = parent.depth+1, parent.cred
		if depth > maxChain {
			return
		}
	}
	if len(r.related) >= MaxRelated {
		r.relatedDropped++
		return
	}
	rc := &relatedCred{cred: cred, kind: kind, principal: principal, createdBy: createdBy, createdAt: e.Time,
		from: src, via: e.Action, outcome: string(e.Outcome), consumer: consumer, depth: depth, keys: keys,
		sources: newCounter(50, 0), actions: newCounter(50, 0)}
	rc.creation.add(evidencePerFinding, e, consumer != "")
	r.related = append(r.related, rc)
	for _, k := range keys {
		if r.relatedBy[k] == nil {
			r.relatedBy[k] = rc
		}
	}
}

func derivedKind(action string, d map[string]string) string {
	a := action
	if _, name, ok := strings.Cut(action, ":"); ok {
		a = name
	}
	up := strings.ToUpper(firstOf(d["statement"], d["query"], action))
	switch {
	case a == "CreateUser":
		return "user"
	case strings.Contains(a, "AccessKey"):
		return "access-key"
	case strings.Contains(a, "LoginProfile"):
		return "login-profile"
	case strings.HasPrefix(a, "AssumeRole"), a == "GetSessionToken":
		return "session"
	case a == "GetFederationToken":
		return "federation-session"
	case strings.HasPrefix(up, "CREATE ROLE"), strings.HasPrefix(up, "CREATE USER MAPPING"):
		if strings.HasPrefix(up, "CREATE USER MAPPING") {
			return "user-mapping"
		}
		return "role"
	case strings.HasPrefix(up, "CREATE USER"), strings.HasPrefix(up, "CREATE GROUP"):
		return "role"
	case strings.HasPrefix(up, "ALTER ROLE"), strings.HasPrefix(up, "ALTER USER"), strings.HasPrefix(up, "SET PASSWORD"):
		return "password"
	case strings.HasPrefix(up, "GRANT"):
		return "grant"
	case strings.Contains(strings.ToLower(action), "token"):
		return "token"
	}
	return "credential"
}

// persistent reports whether a derived credential lasts until someone
// removes it (a key, a login, a role), as opposed to a session that
// expires by itself.
func persistent(kind string) bool {
	return kind != "session" && kind != "federation-session"
}

// sqlName is the role a credential-making statement names: CREATE ROLE x,
// ALTER USER x, GRANT r TO x, CREATE USER MAPPING FOR x, CREATE USER
// 'x'@'h'.
func sqlName(stmt string) string {
	f := strings.Fields(stmt)
	up := make([]string, len(f))
	for i, w := range f {
		up[i] = strings.ToUpper(w)
	}
	pick := func(i int) string {
		if i >= len(f) {
			return ""
		}
		w := strings.TrimRight(f[i], ";,")
		w = strings.NewReplacer(`"`, "", "`", "", "'", "").Replace(w)
		return w
	}
	for i := 0; i+1 < len(up); i++ {
		switch {
		case (up[i] == "CREATE" || up[i] == "ALTER") && (up[i+1] == "ROLE" || up[i+1] == "USER" || up[i+1] == "GROUP"):
			j := i + 2
			if j < len(up) && up[j] == "MAPPING" && j+1 < len(up) && up[j+1] == "FOR" {
				j += 2
			}
			if j < len(up) && up[j] == "IF" { // IF NOT EXISTS
				j += 3
			}
			return pick(j)
		case up[i] == "GRANT":
			for j := i + 1; j < len(up); j++ {
				if up[j] == "ON" {
					return ""
				}
				if up[j] == "TO" {
					return pick(j + 1)
				}
			}
		case up[i] == "SET" && up[i+1] == "PASSWORD" && i+3 < len(up) && up[i+2] == "FOR":
			return pick(i + 3)
		}
	}
	return ""
}

func firstOf(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

// NextRelated hands out the derived credentials found so far whose
// activity has not been read, and returns the byte strings that name them
// (key ids, ARNs, role and user names) for a prefilter. The AddRelated
// calls that follow count activity for these credentials only, so the
// caller reads the logs once more per call; credentials derived from them
// (a chain) are handed out by the next call. It returns nil when there is
// nothing left to read.
func (r *Reviewer) NextRelated() []string {
	var keys []string
	pass := 0
	for _, rc := range r.related {
		if rc.pass != 0 {
			pass = max(pass, rc.pass)
		}
	}
	pass++
	for _, rc := range r.related {
		if rc.pass == 0 {
			rc.pass = pass
			for _, k := range rc.keys {
				keys = append(keys, strings.TrimPrefix(k, "user:"))
			}
		}
	}
	r.pass = pass
	return keys
}

// RelatedSince is when the earliest of the credentials the last
// NextRelated handed out was created: none of them can have been used
// before, so a log delivered earlier need not be read for them. Zero when
// none has a known creation time.
func (r *Reviewer) RelatedSince() time.Time {
	var since time.Time
	for _, rc := range r.related {
		if rc.pass == r.pass && !rc.createdAt.IsZero() && (since.IsZero() || rc.createdAt.Before(since)) {
			since = rc.createdAt
		}
	}
	return since
}

// AddRelated takes one event of the pass NextRelated opened: the activity
// of a derived credential is recorded under it (events of other
// credentials are ignored). A credential it derives in turn is followed,
// up to a chain of three.
func (r *Reviewer) AddRelated(e logs.Event) {
	rc := r.relatedOf(&e)
	if rc == nil || rc.pass != r.pass || e.Time.IsZero() {
		return
	}
	src := firstOf(e.Source, "unknown")
	cons := r.consumerOf(e.Source, e.Application)
	rc.events++
	if e.Outcome == logs.Failure {
		rc.failures++
	}
	if !r.cfg.RotatedAt.IsZero() && !e.Time.Before(r.cfg.RotatedAt) {
		rc.afterRotation++
	}
	if rc.first.IsZero() || e.Time.Before(rc.first) {
		rc.first = e.Time
	}
	if e.Time.After(rc.last) {
		rc.last = e.Time
	}
	rc.sources.add(src, &e, cons)
	rc.actions.add(e.Action, &e, cons)
	rc.activity.add(evidencePerFinding, &e, cons != "")
	if e.Outcome != logs.Failure {
		r.derive(&e, src, cons, rc)
	}
}

func (r *Reviewer) relatedOf(e *logs.Event) *relatedCred {
	if rc := r.relatedBy[e.Credential]; rc != nil && e.Credential != "" {
		return rc
	}
	if rc := r.relatedBy[e.Identity]; rc != nil && e.Identity != "" {
		return rc
	}
	// A login profile's use is a console sign-in: a session, never the
	// user's long-term access keys.
	if u := e.Detail["user_name"]; u != "" && !strings.HasPrefix(e.Credential, "AKIA") {
		return r.relatedBy["user:"+u]
	}
	return nil
}
