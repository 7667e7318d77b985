package drill

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rekeyhq/rekey/internal/engine"
	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/store"
)

// The drill's people: their tokens' names are the actors in the audit log.
const (
	adminName     = "drill-admin"
	responderName = "drill-responder"
	approverName  = "drill-approver"
)

// respondAPI is the response as a team works it through rekey serve: a
// server on a free loopback port over the drill's own store, and three
// tokens made with rekey token create: the admin's (the lead on call, who
// made the others), a responder's and an approver's. The lead opens the
// incident; the responder reviews the exposure (which the plan weighs),
// plans and runs; the run waits for the revoke's approval, which neither
// the lead (who opened it) nor the responder (who started the run, and
// whose role cannot approve) may give: 403 both; the approver gives it.
// The responder continues the run, remediates the copies, reviews again,
// fetches the report and closes the incident.
func respondAPI(ctx context.Context, o Options, r response, out *Outcome) (err error) {
	r.say("creating tokens: %s (admin), then %s (responder) and %s (approver)", adminName, responderName, approverName)
	admin, err := createToken(ctx, o, r.env, "", adminName, "admin")
	if err != nil {
		return err
	}
	responder, err := createToken(ctx, o, r.env, admin, responderName, "responder")
	if err != nil {
		return err
	}
	approver, err := createToken(ctx, o, r.env, admin, approverName, "approver")
	if err != nil {
		return err
	}

	r.say("running: rekey serve --listen 127.0.0.1:0 --inventory %s", r.inv)
	srv, err := startServe(ctx, o, r.env, r.inv, r.out)
	if err != nil {
		return err
	}
	defer func() {
		if serr := srv.stop(); err == nil {
			err = serr
		}
	}()
	c := &client{base: srv.base, hc: &http.Client{Timeout: 2 * time.Minute}}

	start := time.Now()
	r.att.Mark(start)
	defer func() { out.RespondFor = time.Since(start) }()

	var opened incident.OpenView
	if err := c.do(ctx, "POST", "/api/v1/incidents", admin, map[string]string{"secret": r.secret}, http.StatusCreated, &opened); err != nil {
		return err
	}
	id := opened.ID
	r.say("%s opened %s: %d copies, identity %s", adminName, id, opened.Occurrences, opened.IdentityString())
	if err := c.do(ctx, "GET", "/api/v1/incidents/"+id+"/scope", responder, nil, http.StatusOK, nil); err != nil {
		return err
	}
	if err := c.do(ctx, "POST", "/api/v1/incidents/"+id+"/review", responder, struct{}{}, http.StatusOK, nil); err != nil {
		return err
	}
	var p plan.Plan
	if err := c.do(ctx, "POST", "/api/v1/incidents/"+id+"/plan", responder, map[string]string{"strategy": "auto"}, http.StatusOK, &p); err != nil {
		return err
	}
	r.say("%s planned: %s, %d steps", responderName, p.Strategy, len(p.Steps))

	if err := c.do(ctx, "POST", "/api/v1/incidents/"+id+"/run", responder, struct{}{}, http.StatusAccepted, nil); err != nil {
		return err
	}
	res, err := c.waitRun(ctx, id, responder, store.RunWaiting, store.RunDone, store.RunFailed)
	if err != nil {
		return err
	}
	var waiting []string
	for _, s := range res.Steps {
		if s.State == engine.WaitingApproval {
			waiting = append(waiting, s.ID)
		}
	}
	if res.State != store.RunWaiting || len(waiting) == 0 {
		return fmt.Errorf("the run did not wait for an approval of its revoke: it is %s", describeRun(res))
	}
	out.Refused = map[string]Refusal{}
	for _, step := range waiting {
		for _, p := range []struct{ name, token, why string }{
			{adminName, admin, "who opened the incident"},
			{responderName, responder, "who started the run"},
		} {
			code, b, err := c.send(ctx, "POST", "/api/v1/incidents/"+id+"/approvals", p.token, map[string]string{"step": step})
			if err != nil {
				return err
			}
			var e struct {
				Error struct {
					Message string `json:"message"`
				} `json:"error"`
			}
			_ = json.Unmarshal(b, &e)
			out.Refused[p.name] = Refusal{Status: code, Message: e.Error.Message}
			r.say("%s, %s, approves %s: %d %s", p.name, p.why, step, code, e.Error.Message)
		}
		var a struct {
			ApprovedBy string `json:"approved_by"`
		}
		if err := c.do(ctx, "POST", "/api/v1/incidents/"+id+"/approvals", approver, map[string]string{"step": step}, http.StatusOK, &a); err != nil {
			return err
		}
		out.ApprovedBy = append(out.ApprovedBy, a.ApprovedBy)
		r.say("%s approves %s", a.ApprovedBy, step)
	}
	if err := c.doFree(ctx, "POST", "/api/v1/incidents/"+id+"/run", responder, struct{}{}, http.StatusAccepted, nil); err != nil {
		return err
	}
	// The answer comes once the continued run passed its preflight, when
	// the stored state may still read waiting: only the end counts.
	if res, err = c.waitRun(ctx, id, responder, store.RunDone, store.RunFailed); err != nil {
		return err
	}
	if res.State != store.RunDone {
		return fmt.Errorf("the run did not finish: %s", describeRun(res))
	}
	r.say("the run is done: %d steps", len(res.Steps))

	if err := c.doFree(ctx, "POST", "/api/v1/incidents/"+id+"/remediate", responder, map[string]string{"secret": r.secret}, http.StatusOK, nil); err != nil {
		return err
	}
	if err := c.do(ctx, "POST", "/api/v1/incidents/"+id+"/review", responder, struct{}{}, http.StatusOK, nil); err != nil {
		return err
	}
	report, err := c.get(ctx, "/api/v1/incidents/"+id+"/report?format=md", responder)
	if err != nil {
		return err
	}
	if err := os.WriteFile(r.report, report, 0o600); err != nil {
		return err
	}
	var closed incident.Summary
	if err := c.do(ctx, "POST", "/api/v1/incidents/"+id+"/close", responder, map[string]string{"reason": "drill complete"}, http.StatusOK, &closed); err != nil {
		return err
	}
	out.Closed = closed.State == store.Closed
	r.say("%s closed %s", responderName, id)
	return nil
}

// describeRun names the run's state and each step that is not done.
func describeRun(res engine.Result) string {
	var b strings.Builder
	b.WriteString(res.State)
	for _, s := range res.Steps {
		if s.State != "done" {
			fmt.Fprintf(&b, "; %s %s %s", s.ID, s.State, s.Error)
		}
	}
	return b.String()
}

// createToken runs `rekey token create` with the admin token (none for
// the first) and returns the token it printed, once.
func createToken(ctx context.Context, o Options, env []string, admin, name, role string) (string, error) {
	cmd := o.Rekey("token", "create", "--name", name, "--role", role, "--format", "json")
	cmd.Env = append(append(cmd.Environ(), env...), "REKEY_TOKEN="+admin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("rekey token create --name %s: %v: %s", name, err, strings.TrimSpace(stderr.String()))
	}
	var t struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &t); err != nil || !strings.HasPrefix(t.Token, "rekey_") {
		return "", fmt.Errorf("rekey token create --name %s: no token in its JSON (%v)", name, err)
	}
	return t.Token, nil
}

// served is a `rekey serve` process.
type served struct {
	cmd    *exec.Cmd
	base   string
	log    *serveLog
	exited chan error
}

// startServe starts rekey serve on a free loopback port and returns once
// it says where it listens.
func startServe(ctx context.Context, o Options, env []string, inv string, w io.Writer) (*served, error) {
	cmd := o.Rekey("serve", "--listen", "127.0.0.1:0", "--inventory", inv)
	cmd.Env = append(cmd.Environ(), env...)
	l := &serveLog{first: make(chan string, 1), also: w}
	cmd.Stdout, cmd.Stderr = l, l
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start rekey serve: %w", err)
	}
	s := &served{cmd: cmd, log: l, exited: make(chan error, 1)}
	go func() { s.exited <- cmd.Wait() }()
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	select {
	case line := <-l.first:
		addr, ok := strings.CutPrefix(line, "listening on ")
		if !ok {
			s.stop()
			return nil, fmt.Errorf("rekey serve: its first line is %q, not listening on HOST:PORT", line)
		}
		s.base = "http://" + addr
		return s, nil
	case err := <-s.exited:
		s.exited <- err
		return nil, fmt.Errorf("rekey serve exited before listening (%v):\n%s", err, l.String())
	case <-timeout.C:
		s.stop()
		return nil, errors.New("rekey serve did not say where it listens within 30s")
	case <-ctx.Done():
		s.stop()
		return nil, ctx.Err()
	}
}

// stop ends the server as an operator does (SIGTERM: requests in flight
// finish), killing it if it does not stop; an exit other than 0 is an
// error.
func (s *served) stop() error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	timeout := time.NewTimer(45 * time.Second)
	defer timeout.Stop()
	var err error
	select {
	case err = <-s.exited:
	case <-timeout.C:
		_ = s.cmd.Process.Kill()
		<-s.exited
		err = errors.New("did not stop within 45s of SIGTERM")
	}
	s.exited <- err // a second stop finds it stopped
	if err != nil {
		return fmt.Errorf("rekey serve: %v:\n%s", err, s.log.String())
	}
	return nil
}

// serveLog keeps serve's standard error and hands over its first line.
type serveLog struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	sent  bool
	first chan string
	also  io.Writer
}

func (l *serveLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(b)
	if !l.sent {
		if line, _, ok := strings.Cut(l.buf.String(), "\n"); ok {
			l.sent = true
			l.first <- line
		}
	}
	return l.also.Write(b)
}

func (l *serveLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// client is the API's client: each call carries one person's token.
type client struct {
	base string
	hc   *http.Client
}

// send makes one request with body as JSON (none when nil).
func (c *client) send(ctx context.Context, method, path, token string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return resp.StatusCode, b, nil
}

// do sends the request, wants the status want and decodes the answer
// into into (unless nil).
func (c *client) do(ctx context.Context, method, path, token string, body any, want int, into any) error {
	code, b, err := c.send(ctx, method, path, token, body)
	if err != nil {
		return err
	}
	if code != want {
		return &statusError{code: code, msg: fmt.Sprintf("%s %s: %d, want %d: %s", method, path, code, want, strings.TrimSpace(string(b)))}
	}
	if into != nil {
		if err := json.Unmarshal(b, into); err != nil {
			return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
		}
	}
	return nil
}

// doFree is do, tried again while the answer is 409: a run's state is
// stored (waiting, done) a moment before the server lets the incident go.
func (c *client) doFree(ctx context.Context, method, path, token string, body any, want int, into any) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := c.do(ctx, method, path, token, body, want, into)
		var se *statusError
		if err == nil || !errors.As(err, &se) || se.code != http.StatusConflict || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// statusError is an answer with another status than wanted.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return e.msg }

// get returns the body of a 200 answer.
func (c *client) get(ctx context.Context, path, token string) ([]byte, error) {
	code, b, err := c.send(ctx, "GET", path, token, nil)
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("GET %s: %d: %s", path, code, strings.TrimSpace(string(b)))
	}
	return b, err
}

// waitRun reads the run until it is in one of states.
func (c *client) waitRun(ctx context.Context, id, token string, states ...string) (engine.Result, error) {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var res engine.Result
		if err := c.do(ctx, "GET", "/api/v1/incidents/"+id+"/run", token, nil, http.StatusOK, &res); err != nil {
			return res, err
		}
		for _, s := range states {
			if res.State == s {
				return res, nil
			}
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("the run of %s is still %s after 2 minutes, not %s", id, describeRun(res), strings.Join(states, " or "))
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
