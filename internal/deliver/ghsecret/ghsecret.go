// Package ghsecret delivers a secret as a GitHub Actions secret of a
// repository or an organisation: the value is sealed (a libsodium sealed
// box, golang.org/x/crypto/nacl/box) with the repository's or
// organisation's public key and PUT; GitHub opens it on its side.
//
// GitHub never returns a secret's value, so Current cannot say what the
// target holds (it is errs.Unsupported wrapping ErrWriteOnly): Write is
// idempotent, so a resumed run writes again. For the same reason the
// previous value cannot be read back before it is replaced: rolling back
// a delivery needs the previous secret rekey already holds (sealed in its
// store), written with Write.
package ghsecret

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"

	gh "github.com/google/go-github/v72/github"
	"golang.org/x/crypto/nacl/box"

	"github.com/rekeyhq/rekey/internal/deliver"
	"github.com/rekeyhq/rekey/internal/errs"
)

// Type is the inventory's delivery type.
const Type = "github-actions-secret"

// ErrWriteOnly is wrapped by Current, whether the secret exists or not:
// GitHub never returns a secret's value.
var ErrWriteOnly = deliver.ErrWriteOnly

var _ deliver.Target = (*Target)(nil)

// RetryFunc runs f, trying again as the github provider's Retry does.
type RetryFunc func(ctx context.Context, f func(context.Context) (*gh.Response, error)) error

// Admin is what a target needs of the github system's provider
// (provider/github.Provider): its client and its Retry.
type Admin interface {
	Client() *gh.Client
	Retry(ctx context.Context, f func(context.Context) (*gh.Response, error)) error
}

// Config names one Actions secret.
type Config struct {
	// Client is a go-github client authenticated as an administrator who
	// may write the secret (the github system's, from its provider).
	Client *gh.Client
	// Connect, when Client is nil, makes the client (and its Retry) at the
	// first request: opening the github system's provider needs a context
	// and a request (a GitHub App mints its installation token), which
	// opening a target for a plan or a masker must not make. An error
	// is returned by that request and the next one tries again.
	Connect func(ctx context.Context) (*gh.Client, RetryFunc, error)
	// Repo is "OWNER/REPO" for a repository secret; Org names an
	// organisation for an organisation secret. Exactly one is set.
	Repo, Org string
	// Name is the secret's name (GitHub upper-cases it).
	Name string
	// Visibility of an organisation secret: all, private (default) or
	// selected (then GitHub keeps its repository list).
	Visibility string
	// Retry, when set, runs each request, waiting out rate limits (the
	// github provider's Retry); nil runs it once.
	Retry RetryFunc
}

// Target is one Actions secret.
type Target struct {
	c           Config
	owner, repo string

	mu        sync.Mutex
	connected bool
}

var secretName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// New checks the configuration; it makes no request.
func New(c Config) (*Target, error) {
	t := &Target{c: c}
	switch {
	case c.Client == nil && c.Connect == nil:
		return nil, errs.New("github-actions-secret", errs.Invalid, c.Name, "no GitHub client")
	case (c.Repo == "") == (c.Org == ""):
		return nil, errs.New("github-actions-secret", errs.Invalid, c.Name, "name exactly one of repo (OWNER/REPO) and org")
	case !secretName.MatchString(c.Name) || strings.HasPrefix(strings.ToUpper(c.Name), "GITHUB_"):
		return nil, errs.New("github-actions-secret", errs.Invalid, c.Name, "a secret name is letters, digits and _, not starting with a digit or GITHUB_")
	}
	if c.Repo != "" {
		var ok bool
		if t.owner, t.repo, ok = strings.Cut(c.Repo, "/"); !ok || t.owner == "" || t.repo == "" || strings.Contains(t.repo, "/") {
			return nil, errs.New("github-actions-secret", errs.Invalid, c.Repo, "repo is OWNER/REPO")
		}
	}
	if t.c.Org != "" && t.c.Visibility == "" {
		t.c.Visibility = "private"
	}
	t.connected = c.Client != nil
	return t, nil
}

func once(ctx context.Context, f func(context.Context) (*gh.Response, error)) error {
	_, err := f(ctx)
	return err
}

// do runs f with the client (connecting first when needed) through Retry.
func (t *Target) do(ctx context.Context, f func(context.Context, *gh.Client) (*gh.Response, error)) error {
	t.mu.Lock()
	if !t.connected {
		c, r, err := t.c.Connect(ctx)
		if err != nil {
			t.mu.Unlock()
			return err
		}
		t.c.Client, t.c.Retry, t.connected = c, r, true
	}
	c, retry := t.c.Client, t.c.Retry
	t.mu.Unlock()
	if retry == nil {
		retry = once
	}
	return retry(ctx, func(ctx context.Context) (*gh.Response, error) { return f(ctx, c) })
}

// Describe names the target: "github-actions-secret repo acme/api DB_PASSWORD".
func (t *Target) Describe() string {
	if t.c.Org != "" {
		return fmt.Sprintf("%s org %s %s", Type, t.c.Org, strings.ToUpper(t.c.Name))
	}
	return fmt.Sprintf("%s repo %s %s", Type, t.c.Repo, strings.ToUpper(t.c.Name))
}

func (t *Target) op(what string) string { return t.Describe() + ": " + what }

// publicKey is the repository's or organisation's Actions secrets key.
func (t *Target) publicKey(ctx context.Context) (*gh.PublicKey, error) {
	var k *gh.PublicKey
	err := t.do(ctx, func(ctx context.Context, c *gh.Client) (resp *gh.Response, err error) {
		if t.c.Org != "" {
			k, resp, err = c.Actions.GetOrgPublicKey(ctx, t.c.Org)
		} else {
			k, resp, err = c.Actions.GetRepoPublicKey(ctx, t.owner, t.repo)
		}
		return resp, err
	})
	if err != nil {
		return nil, t.fail("read the public key", err)
	}
	return k, nil
}

// existing reads the secret's metadata (never its value); nil when GitHub
// has none of that name.
func (t *Target) existing(ctx context.Context) (*gh.Secret, error) {
	var s *gh.Secret
	err := t.do(ctx, func(ctx context.Context, c *gh.Client) (resp *gh.Response, err error) {
		if t.c.Org != "" {
			s, resp, err = c.Actions.GetOrgSecret(ctx, t.c.Org, t.c.Name)
		} else {
			s, resp, err = c.Actions.GetRepoSecret(ctx, t.owner, t.repo, t.c.Name)
		}
		return resp, err
	})
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, t.fail("read the secret", err)
	}
	return s, nil
}

// Current is errs.NotFound when the secret does not exist, and otherwise
// errs.Unsupported wrapping ErrWriteOnly: GitHub does not return values.
func (t *Target) Current(ctx context.Context) (deliver.State, error) {
	s, err := t.existing(ctx)
	if err != nil {
		return deliver.State{}, err
	}
	if s == nil {
		return deliver.State{}, errs.E(t.op("read"), errs.NotFound, "", fmt.Errorf("no such secret (%w)", ErrWriteOnly))
	}
	return deliver.State{}, errs.E(t.op("read"), errs.Unsupported, "", fmt.Errorf("%w (updated %s): write it again, Write is idempotent", ErrWriteOnly, s.UpdatedAt.UTC().Format("2006-01-02T15:04:05Z")))
}

// Check reads, changing nothing, what a Write needs: the public key (a
// request only an administrator who may write the secret is answered)
// and the secret's metadata. It is what preflight runs, since Current
// cannot read a value GitHub never returns.
func (t *Target) Check(ctx context.Context) error {
	if _, err := t.publicKey(ctx); err != nil {
		return err
	}
	_, err := t.existing(ctx)
	return err
}

// Plan reads the public key (so it fails where Write would) and whether
// the secret exists; it always lists the password part, since what GitHub
// holds cannot be compared.
func (t *Target) Plan(ctx context.Context, v deliver.Value) (deliver.Change, error) {
	if err := t.check(v); err != nil {
		return deliver.Change{}, err
	}
	if _, err := t.publicKey(ctx); err != nil {
		return deliver.Change{}, err
	}
	s, err := t.existing(ctx)
	if err != nil {
		return deliver.Change{}, err
	}
	note := "created"
	if s != nil {
		note = "replaced; GitHub cannot return the previous value, so rollback writes the one rekey holds"
	}
	return deliver.Change{Target: t.Describe(), Edits: []deliver.Edit{{
		Where: t.Describe(), Key: strings.ToUpper(t.c.Name), Form: "sealed-box", Parts: []deliver.Part{deliver.PartPassword}, Note: note,
	}}}, nil
}

func (t *Target) check(v deliver.Value) error {
	if v.User != "" {
		return errs.New(t.op("write"), errs.Invalid, "", "an Actions secret holds one value: a new login name cannot be delivered with it (give the login a secret of its own)")
	}
	if v.Secret.IsZero() {
		return errs.New(t.op("write"), errs.Invalid, "", "an empty secret")
	}
	return nil
}

// Write seals v.Secret with the current public key and PUTs it (201 new,
// 204 replaced). Writing the same value again leaves GitHub holding it.
func (t *Target) Write(ctx context.Context, v deliver.Value) error {
	if err := t.check(v); err != nil {
		return err
	}
	k, err := t.publicKey(ctx)
	if err != nil {
		return err
	}
	raw, err := base64.StdEncoding.DecodeString(k.GetKey())
	if err != nil || len(raw) != 32 {
		return errs.New(t.op("write"), errs.Other, "", "GitHub's public key is not 32 bytes of base64")
	}
	var pub [32]byte
	copy(pub[:], raw)
	sealed, err := box.SealAnonymous(nil, v.Secret.Reveal(), &pub, rand.Reader)
	if err != nil {
		return errs.E(t.op("seal"), errs.Other, "", err)
	}
	es := &gh.EncryptedSecret{Name: t.c.Name, KeyID: k.GetKeyID(), EncryptedValue: base64.StdEncoding.EncodeToString(sealed)}
	if t.c.Org != "" {
		es.Visibility = t.c.Visibility
	}
	err = t.do(ctx, func(ctx context.Context, c *gh.Client) (*gh.Response, error) {
		if t.c.Org != "" {
			return c.Actions.CreateOrUpdateOrgSecret(ctx, t.c.Org, es)
		}
		return c.Actions.CreateOrUpdateRepoSecret(ctx, t.owner, t.repo, es)
	})
	if err != nil {
		return t.fail("write", err)
	}
	return nil
}

// fail is one line with a kind; GitHub's messages hold no secret.
// rateLimit reports whether GitHub refused err's request for a primary
// or secondary rate limit (403 with x-ratelimit-remaining: 0, or 429).
func rateLimit(err error) bool {
	var rl *gh.RateLimitError
	var ab *gh.AbuseRateLimitError
	var er *gh.ErrorResponse
	return errors.As(err, &rl) || errors.As(err, &ab) ||
		errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusTooManyRequests
}

func (t *Target) fail(what string, err error) error {
	if rateLimit(err) {
		// The github provider's Retry says how many tries it made; a
		// single try says only that GitHub refused it for its limit.
		msg := strings.Join(strings.Fields(err.Error()), " ")
		if !strings.Contains(msg, "rate limited") {
			msg = "rate limited: " + msg
		}
		return errs.New(t.op(what), errs.Unreachable, "", msg)
	}
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		kind := errs.Other
		switch er.Response.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			kind = errs.Permission
		case http.StatusNotFound:
			kind = errs.NotFound
		case http.StatusUnprocessableEntity:
			kind = errs.Invalid
		}
		msg := fmt.Sprintf("%d %s", er.Response.StatusCode, er.Message)
		if need := accepted(er.Response.Header); er.Response.StatusCode == http.StatusForbidden && need != "" {
			msg = "the administrator credential lacks " + need + " (" + msg + ")"
		}
		return errs.New(t.op(what), kind, "", msg)
	}
	return errs.E(t.op(what), errs.Unreachable, "", err)
}

// accepted names what a 403 says the endpoint accepts: GitHub documents
// X-Accepted-GitHub-Permissions for fine-grained and App tokens and
// X-Accepted-OAuth-Scopes for classic ones; "" when neither says.
func accepted(h http.Header) string {
	if p := strings.TrimSpace(h.Get("X-Accepted-GitHub-Permissions")); p != "" {
		return "permission " + p
	}
	if s := strings.TrimSpace(h.Get("X-Accepted-OAuth-Scopes")); s != "" {
		return "scope " + s
	}
	return ""
}
