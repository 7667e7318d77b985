// Package glvariable delivers a secret as a GitLab project's CI/CD
// variable, through the official client gitlab.com/gitlab-org/api/client-go/v2:
// PUT when the variable exists, POST when it does not, with protected and
// masked as the inventory sets them.
//
// Unlike GitHub's Actions secrets, GitLab returns a variable's value to a
// maintainer (masking hides it in job logs only), so Current reads what
// the target holds and a resumed run can skip a delivery that happened.
// A masked variable's value must be one GitLab can mask (at least 8
// characters of the Base64 alphabet and @ : . ~): Plan and Write refuse
// another with a clear error before sending anything.
package glvariable

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	gl "gitlab.com/gitlab-org/api/client-go/v2"

	"github.com/rekeyhq/rekey/internal/deliver"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/gitlabapi"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/secret"
)

// Type is the inventory's delivery type.
const Type = inventory.DeliverGitLabCIVariable

var _ deliver.Target = (*Target)(nil)

// Config names one project variable and how to reach it.
type Config struct {
	// Endpoint is GitLab's base URL ("" is GitLab.com); Token a token of
	// a maintainer of the project with the api scope.
	Endpoint string
	Token    secret.Secret
	// Project is the project's id or full path; Key the variable's key.
	Project, Key string
	// Protected and Masked are set on the variable by every Write.
	Protected, Masked bool
	// API bounds retries of throttled requests (zero: the defaults).
	API gitlabapi.Options
}

// Target is one project variable.
type Target struct {
	cfg Config
	c   *gl.Client
}

var variableKey = regexp.MustCompile(`^[A-Za-z0-9_]{1,255}$`)

// maskable is the value GitLab can mask in job logs (docs: "Mask a CI/CD
// variable"): 8 or more characters from the Base64 alphabet (RFC 4648,
// standard and URL-safe) and @ : . ~, on one line.
var maskable = regexp.MustCompile(`^[A-Za-z0-9+/=_@:.~-]{8,}$`)

// New checks the configuration and builds the client; it makes no request.
func New(cfg Config) (*Target, error) {
	if cfg.Endpoint == "" {
		cfg.Endpoint = gitlabapi.DefaultEndpoint
	}
	switch {
	case cfg.Project == "":
		return nil, errs.New(string(Type), errs.Invalid, cfg.Key, "no project")
	case !variableKey.MatchString(cfg.Key):
		return nil, errs.New(string(Type), errs.Invalid, cfg.Key, "a CI/CD variable key is letters, digits and _, at most 255")
	case cfg.Token.IsZero():
		return nil, errs.New(string(Type), errs.Invalid, cfg.Project, "no GitLab token to write the variable with")
	}
	c, err := gitlabapi.New(cfg.Endpoint, string(cfg.Token.Reveal()), cfg.API)
	if err != nil {
		return nil, errs.New(string(Type), errs.Invalid, cfg.Endpoint, err.Error())
	}
	return &Target{cfg: cfg, c: c}, nil
}

// FromInventory opens delivery d of inv with its gitlab system's endpoint
// and administrator token.
func FromInventory(inv *inventory.Inventory, d *inventory.Delivery, getenv func(string) string) (*Target, error) {
	if d == nil || d.Type != inventory.DeliverGitLabCIVariable {
		return nil, errs.New(string(Type), errs.Invalid, "", "not a gitlab-ci-variable delivery")
	}
	s := inv.SystemByName(d.System)
	if s == nil || s.Type != inventory.TypeGitLab {
		return nil, errs.New(string(Type), errs.Invalid, d.System, "no gitlab system of that name in the inventory")
	}
	tok, err := s.Admin.Resolve(getenv)
	if err != nil {
		return nil, errs.E(string(Type), errs.KindOf(err), s.Name, err)
	}
	return New(Config{Endpoint: s.Endpoint, Token: tok, Project: d.Project, Key: d.Key, Protected: d.Protected, Masked: d.Masked})
}

// Describe names the target: "gitlab-ci-variable project acme/api DB_PASSWORD (protected, masked)".
func (t *Target) Describe() string {
	var flags []string
	if t.cfg.Protected {
		flags = append(flags, "protected")
	}
	if t.cfg.Masked {
		flags = append(flags, "masked")
	}
	d := fmt.Sprintf("%s project %s %s", Type, t.cfg.Project, t.cfg.Key)
	if len(flags) > 0 {
		d += " (" + strings.Join(flags, ", ") + ")"
	}
	return d
}

func (t *Target) op(what string) string { return t.Describe() + ": " + what }

// read is the variable, or nil when the project has none of that key.
func (t *Target) read(ctx context.Context) (*gl.ProjectVariable, error) {
	v, _, err := t.c.ProjectVariables.GetVariable(t.cfg.Project, t.cfg.Key, nil, gl.WithContext(ctx))
	if errors.Is(err, gl.ErrNotFound) {
		// GitLab answers 404 both for a missing variable and a project
		// the token cannot see; the project's own lookup tells them apart.
		if _, _, perr := t.c.Projects.GetProject(t.cfg.Project, nil, gl.WithContext(ctx)); perr != nil {
			return nil, t.fail("read", perr)
		}
		return nil, nil
	}
	if err != nil {
		return nil, t.fail("read", err)
	}
	return v, nil
}

// Current reads the variable's value (GitLab returns it to maintainers);
// a missing variable is errs.NotFound.
func (t *Target) Current(ctx context.Context) (deliver.State, error) {
	v, err := t.read(ctx)
	if err != nil {
		return deliver.State{}, err
	}
	if v == nil {
		return deliver.State{}, errs.New(t.op("read"), errs.NotFound, t.cfg.Key, "the project has no variable "+t.cfg.Key)
	}
	return deliver.State{Secret: secret.FromString(v.Value)}, nil
}

// Plan says whether Write would change the value (or only the flags).
func (t *Target) Plan(ctx context.Context, v deliver.Value) (deliver.Change, error) {
	if err := t.check(v); err != nil {
		return deliver.Change{}, err
	}
	cur, err := t.read(ctx)
	if err != nil {
		return deliver.Change{}, err
	}
	e := deliver.Edit{Where: "project " + t.cfg.Project + " variable " + t.cfg.Key, Key: t.cfg.Key, Form: "plain"}
	switch {
	case cur == nil:
		e.Parts, e.Note = []deliver.Part{deliver.PartPassword}, "the variable does not exist yet: Write creates it"
	case !secret.FromString(cur.Value).Equal(v.Secret):
		e.Parts = []deliver.Part{deliver.PartPassword}
	}
	if cur != nil && (cur.Protected != t.cfg.Protected || cur.Masked != t.cfg.Masked) {
		e.Note = fmt.Sprintf("protected %v→%v, masked %v→%v", cur.Protected, t.cfg.Protected, cur.Masked, t.cfg.Masked)
	}
	return deliver.Change{Target: t.Describe(), Edits: []deliver.Edit{e}}, nil
}

// check refuses a value GitLab would refuse to mask, before any request.
func (t *Target) check(v deliver.Value) error {
	if v.Secret.IsZero() {
		return errs.New(t.op("write"), errs.Invalid, t.cfg.Key, "no value to deliver")
	}
	if t.cfg.Masked && !maskable.Match(v.Secret.Reveal()) {
		return errs.New(t.op("write"), errs.Invalid, t.cfg.Key,
			"GitLab cannot mask this value (a masked variable needs 8 or more characters from the Base64 alphabet and @ : . ~, on one line); set masked: false or deliver elsewhere")
	}
	return nil
}

// Write sets the variable's value, protected and masked: PUT when it
// exists, POST when it does not (and PUT again if another writer created
// it meanwhile). A variable already holding the value and flags is left
// alone. The value is sent raw (no $ expansion), as a secret is data.
func (t *Target) Write(ctx context.Context, v deliver.Value) error {
	if err := t.check(v); err != nil {
		return err
	}
	cur, err := t.read(ctx)
	if err != nil {
		return err
	}
	val := string(v.Secret.Reveal())
	if cur != nil && secret.FromString(cur.Value).Equal(v.Secret) && cur.Protected == t.cfg.Protected && cur.Masked == t.cfg.Masked {
		return nil
	}
	if cur == nil {
		_, _, err = t.c.ProjectVariables.CreateVariable(t.cfg.Project, &gl.CreateProjectVariableOptions{
			Key: gl.Ptr(t.cfg.Key), Value: gl.Ptr(val), Protected: gl.Ptr(t.cfg.Protected), Masked: gl.Ptr(t.cfg.Masked), Raw: gl.Ptr(true),
		}, gl.WithContext(ctx))
		if !taken(err) {
			return t.fail("create", err)
		}
	}
	_, _, err = t.c.ProjectVariables.UpdateVariable(t.cfg.Project, t.cfg.Key, &gl.UpdateProjectVariableOptions{
		Value: gl.Ptr(val), Protected: gl.Ptr(t.cfg.Protected), Masked: gl.Ptr(t.cfg.Masked), Raw: gl.Ptr(true),
	}, gl.WithContext(ctx))
	return t.fail("update", err)
}

// taken reports GitLab's answer to creating a key that exists.
func taken(err error) bool {
	var er *gl.ErrorResponse
	return errors.As(err, &er) && er.StatusCode == http.StatusBadRequest && strings.Contains(er.Message, "has already been taken")
}

// fail is one line with a kind; GitLab's errors hold no variable value.
func (t *Target) fail(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, gl.ErrNotFound) {
		return errs.New(t.op(what), errs.NotFound, t.cfg.Project, "no such project, or the token cannot see it")
	}
	var er *gl.ErrorResponse
	if errors.As(err, &er) {
		msg := strings.Join(strings.Fields(er.Message), " ")
		kind := errs.Other
		switch {
		case er.StatusCode == http.StatusUnauthorized:
			kind, msg = errs.Permission, "the token is refused (revoked, expired or wrong)"
		case er.StatusCode == http.StatusForbidden:
			kind, msg = errs.Permission, "the token may not write CI/CD variables of the project (needs the api scope and the Maintainer role): "+msg
		case er.StatusCode == http.StatusTooManyRequests:
			kind, msg = errs.Unreachable, fmt.Sprintf("still throttled after %d attempts", t.cfg.API.Attempts())
		case er.StatusCode >= 500:
			kind = errs.Unreachable
		case er.StatusCode == http.StatusBadRequest:
			kind = errs.Invalid
		}
		return errs.New(t.op(what), kind, t.cfg.Key, msg)
	}
	return errs.New(t.op(what), errs.Unreachable, t.cfg.Key, "cannot reach "+t.cfg.Endpoint)
}
