// Package agent is `rekey agent`: it runs next to a workload, proves the
// workload's identity to the broker with the token its platform gives it
// (a file the platform rotates), and keeps the workload's config holding
// a live lease: it requests one, delivers it through the consumer's
// delivery target (atomic, format-preserving), runs the reload command,
// renews it at two thirds of its lifetime, replaces it when a renewal is
// refused or the lease is gone, and gives it back when it stops.
//
// The token file is read again before every request: projected
// Kubernetes tokens and CI tokens rotate, and an agent that kept the
// first one would be refused once it expired.
package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/broker/api"
	"github.com/rekeyhq/rekey/internal/deliver"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/secret"
)

// maxToken bounds the token file: real tokens are a kilobyte or two.
const maxToken = 64 << 10

// Config is one agent.
type Config struct {
	// Server is the rekey server's base URL (the broker is at
	// /broker/v1/ under it).
	Server string
	// JWTFile holds the workload's identity token.
	JWTFile string
	Role    string
	// Target is where the lease is delivered: its login to the user key
	// (or the DSN's user), its secret to the key.
	Target deliver.Target
	// Reload is the consumer's reload command (its Line may be empty).
	Reload deliver.Command
	// HTTPClient talks to the server; nil is a client with a 30 s
	// timeout.
	HTTPClient *http.Client
	// Log receives one line per event, never a secret; nil is quiet.
	Log io.Writer
	// MinBackoff and MaxBackoff bound the wait between failed attempts
	// (1 s and 1 min when 0).
	MinBackoff, MaxBackoff time.Duration
	// OnDelivered, when set, is told of each lease once it is delivered
	// and the consumer reloaded (tests wait on it).
	OnDelivered func(Lease)
}

// Lease is the lease the agent holds, without its secret.
type Lease struct {
	ID        string
	Login     string
	ExpiresAt time.Time
}

// Agent holds one lease for one consumer.
type Agent struct {
	cfg    Config
	client *http.Client
	base   *url.URL
}

// New checks cfg. It reads nothing yet.
func New(cfg Config) (*Agent, error) {
	const op = "agent"
	u, err := url.Parse(cfg.Server)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errs.New(op, errs.Invalid, cfg.Server, "--server: want the rekey server's http(s) URL")
	}
	switch {
	case cfg.JWTFile == "":
		return nil, errs.New(op, errs.Invalid, "", "--jwt-file is required: the workload's identity token")
	case cfg.Role == "":
		return nil, errs.New(op, errs.Invalid, "", "--role is required")
	case cfg.Target == nil:
		return nil, errs.New(op, errs.Invalid, "", "no delivery target")
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = time.Minute
	}
	cl := cfg.HTTPClient
	if cl == nil {
		cl = &http.Client{Timeout: 30 * time.Second}
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return &Agent{cfg: cfg, client: cl, base: u}, nil
}

// held is the lease in force and its secret.
type held struct {
	Lease
	secret secret.Secret
	// renewAt is when to renew it: two thirds of its lifetime.
	renewAt time.Time
}

// Run holds a lease until ctx ends, then revokes it and returns nil. It
// returns an error, having changed nothing, when it cannot start: the
// token file is unreadable, the first request is refused or fails, or the
// first delivery fails. After that, failures are retried with backoff.
func (a *Agent) Run(ctx context.Context) error {
	cur, err := a.obtain(ctx)
	if err != nil {
		return err
	}
	defer func() { a.giveBack(cur) }()
	wait := a.cfg.MinBackoff
	for {
		if !sleepUntil(ctx, cur.renewAt) {
			return nil
		}
		exp, err := a.renew(ctx, cur)
		if err == nil {
			cur.ExpiresAt = exp
			cur.renewAt = renewAt(time.Now(), exp)
			a.logf("renewed lease %s until %s", cur.ID, exp.UTC().Format(time.RFC3339))
			wait = a.cfg.MinBackoff
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		var se *statusError
		transient := !errors.As(err, &se) || se.status >= 500
		if transient && time.Until(cur.ExpiresAt) > 2*wait {
			// The lease still lives: try the renewal again.
			a.logf("renewing lease %s: %v; again in %s", cur.ID, err, wait)
			cur.renewAt = time.Now().Add(wait)
			wait = min(2*wait, a.cfg.MaxBackoff)
			continue
		}
		a.logf("lease %s cannot be renewed (%v): requesting a new one", cur.ID, err)
		next, err := a.replace(ctx)
		if err != nil {
			return nil // ctx ended while retrying
		}
		a.giveBack(cur)
		cur, wait = next, a.cfg.MinBackoff
	}
}

// obtain requests and delivers the first lease; any failure is the
// agent's failure to start.
func (a *Agent) obtain(ctx context.Context) (*held, error) {
	l, err := a.request(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.deliver(ctx, l); err != nil {
		a.giveBack(l)
		return nil, err
	}
	return l, nil
}

// replace requests and delivers a new lease, retrying with backoff until
// it succeeds or ctx ends.
func (a *Agent) replace(ctx context.Context) (*held, error) {
	wait := a.cfg.MinBackoff
	for {
		l, err := a.request(ctx)
		if err == nil {
			if err = a.deliver(ctx, l); err == nil {
				return l, nil
			}
			a.giveBack(l)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		a.logf("new lease: %v; again in %s", err, wait)
		if !sleepUntil(ctx, time.Now().Add(wait)) {
			return nil, ctx.Err()
		}
		wait = min(2*wait, a.cfg.MaxBackoff)
	}
}

// deliver writes the lease into the consumer's config and reloads it.
func (a *Agent) deliver(ctx context.Context, l *held) error {
	if err := a.cfg.Target.Write(ctx, deliver.Value{User: l.Login, Secret: l.secret}); err != nil {
		return err
	}
	cmd := a.cfg.Reload
	m := secret.NewMasker(nil)
	m.Add(l.secret)
	cmd.Mask = m
	if err := deliver.Reload(ctx, cmd); err != nil {
		return err
	}
	a.logf("lease %s (login %s, until %s) delivered to %s", l.ID, l.Login, l.ExpiresAt.UTC().Format(time.RFC3339), a.cfg.Target.Describe())
	if a.cfg.OnDelivered != nil {
		a.cfg.OnDelivered(l.Lease)
	}
	return nil
}

// giveBack revokes a lease the agent no longer needs, even while ctx
// ends: a lease left behind lives until its expiry.
func (a *Agent) giveBack(l *held) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := a.call(ctx, http.MethodDelete, "leases/"+url.PathEscape(l.ID), nil, nil)
	var se *statusError
	switch {
	case err == nil:
		a.logf("lease %s revoked", l.ID)
	case errors.As(err, &se) && se.status == http.StatusNotFound:
		// Ended already, or held by the workload the token named before
		// it rotated: either way it ends at its expiry at the latest.
		a.logf("lease %s is not this workload's to revoke now (%v): it ends at its expiry, %s", l.ID, err, l.ExpiresAt.UTC().Format(time.RFC3339))
	default:
		a.logf("revoking lease %s: %v (it ends at its expiry, %s)", l.ID, err, l.ExpiresAt.UTC().Format(time.RFC3339))
	}
}

func (a *Agent) request(ctx context.Context) (*held, error) {
	var c api.Credentials
	if err := a.call(ctx, http.MethodPost, "credentials", map[string]any{"role": a.cfg.Role}, &c); err != nil {
		return nil, err
	}
	if c.LeaseID == "" || c.Login == "" || c.Secret == "" {
		return nil, errs.New("agent", errs.Invalid, a.cfg.Server, "the server's answer holds no lease")
	}
	return &held{Lease: Lease{ID: c.LeaseID, Login: c.Login, ExpiresAt: c.ExpiresAt}, secret: secret.FromString(c.Secret),
		renewAt: renewAt(time.Now(), c.ExpiresAt)}, nil
}

func (a *Agent) renew(ctx context.Context, l *held) (time.Time, error) {
	var r api.Renewed
	if err := a.call(ctx, http.MethodPost, "leases/"+url.PathEscape(l.ID)+"/renew", nil, &r); err != nil {
		return time.Time{}, err
	}
	return r.ExpiresAt, nil
}

// statusError is an answer of the server other than success.
type statusError struct {
	status int
	body   api.ErrorBody
}

func (e *statusError) Error() string {
	s := fmt.Sprintf("the broker answered %d", e.status)
	if e.body.Message != "" {
		s += ": " + e.body.Message
	}
	if len(e.body.Reasons) > 0 {
		s += " (" + strings.Join(e.body.Reasons, ", ") + ")"
	}
	return s
}

// call sends one request with the token read now from the file.
func (a *Agent) call(ctx context.Context, method, path string, body, out any) error {
	const op = "agent"
	tok, err := a.token()
	if err != nil {
		return err
	}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	u := a.base.JoinPath(api.Prefix, path)
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return errs.E(op, errs.Invalid, a.cfg.Server, err)
	}
	req.Header.Set("Authorization", "Bearer "+string(tok.Reveal()))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return errs.E(op, errs.Unreachable, a.cfg.Server, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return errs.E(op, errs.Unreachable, a.cfg.Server, err)
	}
	if resp.StatusCode >= 300 {
		se := &statusError{status: resp.StatusCode}
		var env api.Envelope
		if json.Unmarshal(b, &env) == nil {
			se.body = env.Error
		}
		return se
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return errs.E(op, errs.Invalid, a.cfg.Server, fmt.Errorf("the server's answer is not JSON"))
		}
	}
	return nil
}

// token reads the identity token from its file, as it is now.
func (a *Agent) token() (secret.Secret, error) {
	f, err := os.Open(a.cfg.JWTFile)
	if err != nil {
		return secret.Secret{}, errs.E("agent: --jwt-file", errs.NotFound, a.cfg.JWTFile, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxToken+1))
	if err != nil {
		return secret.Secret{}, errs.E("agent: --jwt-file", errs.Invalid, a.cfg.JWTFile, err)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || len(b) > maxToken {
		return secret.Secret{}, errs.New("agent: --jwt-file", errs.Invalid, a.cfg.JWTFile, "want one token (a JWT), not an empty or oversized file")
	}
	return secret.New(b), nil
}

func (a *Agent) logf(format string, args ...any) {
	if a.cfg.Log != nil {
		fmt.Fprintf(a.cfg.Log, "rekey agent: "+format+"\n", args...)
	}
}

// renewAt is two thirds of the way from now to exp.
func renewAt(now, exp time.Time) time.Time {
	return now.Add(exp.Sub(now) * 2 / 3)
}

// sleepUntil waits until t and reports whether ctx is still alive.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-tm.C:
		return true
	}
}
