package gitlab

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go/v2"

	"github.com/rekeyhq/rekey/internal/provider"
)

// A project or group access token is a personal access token of a bot
// user GitLab creates for it, named project_ID_bot_… or group_ID_bot_…
// (docs: "Bot users for projects" / "for groups"). Its power is the bot's
// role in the project or group, which only the resource's access token
// API states.
var resourceBot = regexp.MustCompile(`^(project|group)_([0-9]+)_bot_`)

// resource is where a bot user's tokens act.
type resource struct {
	kind string // "project" or "group"
	id   int64
}

func (r resource) String() string { return fmt.Sprintf("%s %d", r.kind, r.id) }

// resourceOf is the project or group whose access tokens u holds.
func resourceOf(u *gl.User) (resource, bool) {
	m := resourceBot.FindStringSubmatch(u.Username)
	if !u.Bot || m == nil {
		return resource{}, false
	}
	id, err := strconv.ParseInt(m[2], 10, 64)
	return resource{kind: m[1], id: id}, err == nil
}

// accessLevel reads a resource access token's role (GET
// /projects/:id/access_tokens/:token_id, or the group's).
func (p *Provider) accessLevel(ctx context.Context, r resource, tokenID int64) (gl.AccessLevelValue, error) {
	var lvl gl.AccessLevelValue
	var err error
	if r.kind == "group" {
		var g *gl.GroupAccessToken
		if g, _, err = p.c.GroupAccessTokens.GetGroupAccessToken(r.id, tokenID, gl.WithContext(ctx)); err == nil {
			lvl = g.AccessLevel
		}
	} else {
		var pt *gl.ProjectAccessToken
		if pt, _, err = p.c.ProjectAccessTokens.GetProjectAccessToken(r.id, tokenID, gl.WithContext(ctx)); err == nil {
			lvl = pt.AccessLevel
		}
	}
	if err != nil {
		return 0, p.fail("inspect", r.String(), needAdmin, err)
	}
	return lvl, nil
}

// rolePrivilege grades a resource token's role: an owner controls the
// project or group; a maintainer manages its CI/CD variables, members and
// access tokens; a developer pushes code that CI runs with its secrets.
func rolePrivilege(r resource, lvl gl.AccessLevelValue) provider.Privilege {
	name, risk, creates := "guest", provider.RiskLow, false
	switch {
	case lvl >= gl.OwnerPermissions:
		name, risk, creates = "owner", provider.RiskCritical, true
	case lvl >= gl.MaintainerPermissions:
		name, risk, creates = "maintainer", provider.RiskHigh, true
	case lvl >= gl.DeveloperPermissions:
		name, risk = "developer", provider.RiskMedium
	case lvl >= gl.ReporterPermissions:
		name = "reporter"
	}
	return provider.Privilege{Name: fmt.Sprintf("%s of %s", name, r), Risk: risk, CreatesCredentials: creates}
}

// rotateResource rotates a project or group access token with the
// resource's own rotate endpoint.
func (p *Provider) rotateResource(ctx context.Context, r resource, id int64, expires time.Time) (*gl.PersonalAccessToken, error) {
	var exp *gl.ISOTime
	if !expires.IsZero() {
		exp = gl.Ptr(gl.ISOTime(expires))
	}
	if r.kind == "group" {
		g, _, err := p.c.GroupAccessTokens.RotateGroupAccessToken(r.id, id, &gl.RotateGroupAccessTokenOptions{ExpiresAt: exp}, gl.WithContext(ctx))
		if err != nil {
			return nil, err
		}
		return &g.PersonalAccessToken, nil
	}
	t, _, err := p.c.ProjectAccessTokens.RotateProjectAccessToken(r.id, id, &gl.RotateProjectAccessTokenOptions{ExpiresAt: exp}, gl.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	return &t.PersonalAccessToken, nil
}
