package inventory

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// TypeGitHub is the system type of a GitHub organisation (github.com or a
// GitHub Enterprise Server at endpoint:).
const TypeGitHub = "github"

// DeliverGitHubActionsSecret is the delivery type of a GitHub Actions
// secret of a repository or an organisation.
const DeliverGitHubActionsSecret = "github-actions-secret"

var (
	ghDeliverKeys    = []string{"type", "repo", "org", "name", "visibility", "system"}
	ghVisibilities   = []string{"all", "private", "selected"}
	ghLogin          = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$`)
	ghRepo           = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$`)
	ghSecretName     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	ghTokenInline    = regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})`)
	ghPrivateKeyText = "PRIVATE KEY"
)

// githubAdminInline reports an inline admin value that is a GitHub token
// or a GitHub App's key: leaked by being in the inventory.
func githubAdminInline(s string) bool {
	return ghTokenInline.MatchString(s) || strings.Contains(s, ghPrivateKeyText) || strings.Contains(s, "private_key")
}

// org reads a github system's organisation.
func (p *parser) org(o *obj, typ string) string {
	org := o.str("org", false)
	switch {
	case org == "":
	case typ != TypeGitHub:
		p.errorf(o.at("org"), "%s: org applies to systems of type %s", o.where(), TypeGitHub)
		return ""
	case !ghLogin.MatchString(org):
		p.errorf(o.at("org"), "%s: org %s is not a GitHub organisation name (letters, digits and -, at most 39)", o.where(), quote(org))
		return ""
	}
	return org
}

// githubDelivery reads {type: github-actions-secret, repo | org, name,
// visibility?, system?}. system names the github system whose
// administrator writes the secret; without it the inventory's only github
// system does.
func (p *parser) githubDelivery(o *obj, d *Delivery, what string, inv *Inventory) {
	o.only(ghDeliverKeys...)
	d.Repo = o.str("repo", false)
	d.Org = o.str("org", false)
	switch {
	case d.Repo == "" && d.Org == "":
		p.errorf(o.node, "%s: name the secret's repo (OWNER/REPO) or its org", what)
	case d.Repo != "" && d.Org != "":
		p.errorf(o.at("org"), "%s: repo and org both given: a secret belongs to one repository or one organisation", what)
	case d.Repo != "" && !ghRepo.MatchString(d.Repo):
		p.errorf(o.at("repo"), "%s: repo %s: want OWNER/REPO, like acme/api", what, quote(d.Repo))
	case d.Org != "" && !ghLogin.MatchString(d.Org):
		p.errorf(o.at("org"), "%s: org %s is not a GitHub organisation name", what, quote(d.Org))
	}
	if d.Name = o.str("name", true); d.Name != "" {
		switch {
		case !ghSecretName.MatchString(d.Name):
			p.errorf(o.at("name"), "%s: name %s: a secret name is letters, digits and _, not starting with a digit", what, quote(d.Name))
		case strings.HasPrefix(strings.ToUpper(d.Name), "GITHUB_"):
			p.errorf(o.at("name"), "%s: name %s: GitHub reserves names starting with GITHUB_", what, quote(d.Name))
		}
	}
	if d.Visibility = o.str("visibility", false); d.Visibility != "" {
		if d.Org == "" {
			p.errorf(o.at("visibility"), "%s: visibility applies to an org secret", what)
		} else {
			p.enum(o.at("visibility"), what+": visibility", d.Visibility, ghVisibilities)
		}
	}
	var github []string
	for _, s := range inv.Systems {
		if s.Type == TypeGitHub {
			github = append(github, s.Name)
		}
	}
	if d.System = o.str("system", false); d.System != "" {
		if s := inv.SystemByName(d.System); s == nil || s.Type != TypeGitHub {
			p.errorf(o.at("system"), "%s: system %s is not a github system of this inventory (github systems: %s)", what, quote(d.System), listOrNone(github))
		}
		return
	}
	switch len(github) {
	case 0:
		p.errorf(o.node, "%s: a github-actions-secret is written by a github system's administrator, and the inventory has no system of type github", what)
	case 1:
		d.System = github[0]
	default:
		p.errorf(o.node, "%s: several github systems (%s): say which writes the secret with system:", what, strings.Join(github, ", "))
	}
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}

// githubAdminShape reports whether ref holds a token or a GitHub App's
// {app_id, installation_id, private_key}.
func githubAdminShape(ref Ref, getenv func(string) string) bool {
	v, err := ref.Resolve(getenv)
	if err != nil {
		return false
	}
	defer v.Wipe()
	s := strings.TrimSpace(string(v.Reveal()))
	if strings.HasPrefix(s, "{") {
		var a struct {
			AppID          int64  `json:"app_id"`
			InstallationID int64  `json:"installation_id"`
			PrivateKey     string `json:"private_key"`
		}
		return json.Unmarshal([]byte(s), &a) == nil && a.AppID != 0 && a.InstallationID != 0 && a.PrivateKey != ""
	}
	return s != "" && !strings.ContainsAny(s, " \n\t")
}

// githubAdminWarning is the warning for a github admin of neither shape.
func githubAdminWarning(s *System) string {
	return fmt.Sprintf("system %s: admin %v holds neither a token nor a GitHub App's {app_id, installation_id, private_key}", quote(s.Name), s.Admin)
}
