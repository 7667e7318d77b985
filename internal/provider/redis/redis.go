// Package redis is the Redis provider: it identifies whose password a
// leaked secret is by comparing its SHA-256 with the hashes ACL GETUSER
// returns for every ACL user, without logging in as anyone, and inspects a
// user's ACL rules (graded for risk), the connections open under it now
// (CLIENT LIST) and what it may have left behind: users it could have
// created or changed, and its other passwords.
//
// It needs Redis 6 or later (ACL) and an administrator allowed to read:
// +acl|users +acl|getuser +client|list, and +command for the server's own
// command table (without it a built-in table of the commands that matter
// is used). Identify and Inspect change nothing on the server: they never
// authenticate as another user and run no CONFIG or ACL SETUSER. The
// rotation methods (rotate.go) do change it, and need more: +acl|setuser
// +acl|deluser +acl|save +client|kill.
package redis

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
)

const (
	defaultPort = "6379"
	dialTimeout = 10 * time.Second
	// callTimeout bounds one round trip when the context has no deadline.
	callTimeout = time.Minute
	// clientName is what the provider's connection is called in CLIENT LIST.
	clientName = "rekey"
)

// Redis is a provider connected to one Redis server as an administrator.
// It holds one connection, used by one call at a time and dialled again
// when it breaks.
type Redis struct {
	system string
	op     string // "redis <system>", the prefix of every error
	target target
	// san removes the admin URL and its password, raw and URL-encoded from every error text.
	san provider.Sanitizer

	// qmu guards the calls queued for the next round trip (see exec).
	qmu     sync.Mutex
	queue   []*call
	sending bool

	mu     sync.Mutex
	c      *conn
	trips  int             // round trips made, for the tests
	own    map[string]bool // CLIENT ids of the provider's own connections
	closed bool

	catMu sync.Mutex
	cat   catalog // the server's commands, fetched on first Inspect
}

var (
	_ provider.Provider = (*Redis)(nil)
	_ provider.Factory  = New
)

// target is where and how to connect, from the admin URL.
type target struct {
	network, addr string // "tcp" and host:port, or "unix" and a socket path
	tls           *tls.Config
	user          string // "" with a password alone: the default user
	password      string
	auth          bool // the URL holds credentials
}

// New connects to the server named by cfg.Admin, a URL
// redis://[user:password@]host[:port][/db], rediss://… (TLS, verified
// against the system's roots) or unix://[user:password@]/path/to/socket.
// It authenticates and checks that the server answers. It fails with
// errs.Invalid for a malformed URL, errs.Unreachable when the server does
// not answer and errs.Permission when the credential is refused; no
// message contains the URL or the password.
func New(ctx context.Context, cfg provider.Config) (provider.Provider, error) {
	p, err := open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func open(ctx context.Context, cfg provider.Config) (*Redis, error) {
	raw := string(cfg.Admin.Reveal())
	op := "redis"
	if cfg.System != "" {
		op += " " + cfg.System
	}
	p := &Redis{system: cfg.System, op: op, own: map[string]bool{}}
	p.san.Add(raw)
	if raw == "" {
		return nil, errs.New(p.op, errs.Invalid, "", "no administrator connection string")
	}
	t, err := parseAdmin(raw)
	if err != nil {
		return nil, errs.New(p.op, errs.Invalid, "", err.Error())
	}
	p.target = t
	if t.password != "" {
		p.san.Add(t.password, url.QueryEscape(t.password), url.PathEscape(t.password),
			url.UserPassword("", t.password).String())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c, err := p.dial(ctx)
	if err != nil {
		return nil, err
	}
	p.c = c
	return p, nil
}

// parseAdmin reads the administrator URL. Its errors never quote the URL:
// url.Parse's do, so they are replaced.
func parseAdmin(raw string) (target, error) {
	const want = "want redis://[user:password@]host[:port][/db], rediss://… or unix://[user:password@]/path"
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.Fragment != "" {
		return target{}, errors.New("the administrator connection string is not a valid URL (" + want + "; percent-encode reserved characters such as @ : / # % in the password)")
	}
	var t target
	db := strings.TrimPrefix(u.Path, "/")
	q := u.Query()
	switch u.Scheme {
	case "redis", "rediss":
		host := u.Hostname()
		if host == "" {
			return target{}, errors.New("the administrator URL names no host (" + want + ")")
		}
		port := u.Port()
		if port == "" {
			port = defaultPort
		}
		t.network, t.addr = "tcp", net.JoinHostPort(host, port)
		if u.Scheme == "rediss" {
			t.tls = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
	case "unix":
		if u.Path == "" {
			return target{}, errors.New("the administrator URL names no socket path (" + want + ")")
		}
		t.network, t.addr = "unix", u.Path
		db = q.Get("db")
		q.Del("db")
	default:
		return target{}, fmt.Errorf("the administrator URL has scheme %q (%s)", u.Scheme, want)
	}
	for k := range q {
		return target{}, fmt.Errorf("the administrator URL has parameter %q, which rekey does not know", k)
	}
	if db != "" {
		if n, err := strconv.Atoi(db); err != nil || n < 0 {
			return target{}, errors.New("the administrator URL's database is not a number (" + want + ")")
		}
	}
	if u.User != nil {
		t.auth = true
		t.user = u.User.Username()
		t.password, _ = u.User.Password()
	}
	return t, nil
}

// conn is one RESP2 connection.
type conn struct {
	nc net.Conn
	r  *bufio.Reader
	w  *bufio.Writer
	id string // CLIENT id, "" when the server did not say
}

// roundTrip sends cmds at once (a pipeline) and reads one reply each.
// Error replies are values, not errors; an error means the connection
// can no longer be trusted.
func (c *conn) roundTrip(ctx context.Context, cmds [][]string) ([]value, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(callTimeout)
	}
	if err := c.nc.SetDeadline(deadline); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	for _, cmd := range cmds {
		writeCommand(c.w, cmd...)
	}
	if err := c.w.Flush(); err != nil {
		return nil, ctxErr(ctx, err)
	}
	out := make([]value, 0, len(cmds))
	for range cmds {
		v, err := readValue(c.r)
		if err != nil {
			return nil, ctxErr(ctx, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// ctxErr prefers the context's error to the I/O error its cancellation
// caused.
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}

func (c *conn) close() { _ = c.nc.Close() }

// dial connects, authenticates and names the connection. HELLO does all
// three in one round trip on Redis 6 and later; where it is refused (a
// default user that may not run it) AUTH and PING are used instead.
func (p *Redis) dial(ctx context.Context) (*conn, error) {
	t := p.target
	c, err := p.connect(ctx)
	if err != nil {
		return nil, err
	}
	hello := []string{"HELLO", "2"}
	if t.auth {
		user := t.user
		if user == "" {
			user = "default"
		}
		hello = append(hello, "AUTH", user, t.password)
	}
	hello = append(hello, "SETNAME", clientName)
	vs, err := c.roundTrip(ctx, [][]string{hello})
	if err != nil {
		c.close()
		return nil, p.connErr(err)
	}
	if se, ok := vs[0].err().(*serverError); ok {
		switch se.code() {
		case "NOPERM", "ERR":
			// A default user without +hello, or a server without HELLO.
			if err := p.legacyAuth(ctx, c); err != nil {
				c.close()
				return nil, err
			}
		default:
			c.close()
			return nil, p.authErr(se)
		}
	} else if m, ok := vs[0].fields(); ok && m["id"].kind == ':' {
		c.id = strconv.FormatInt(m["id"].num, 10)
	}
	if c.id != "" {
		p.own[c.id] = true
	}
	return c, nil
}

// connect opens a connection to the server (TLS included) without
// authenticating: dial for the provider's own, Verify for a credential's.
func (p *Redis) connect(ctx context.Context) (*conn, error) {
	t := p.target
	d := net.Dialer{Timeout: dialTimeout}
	nc, err := d.DialContext(ctx, t.network, t.addr)
	if err != nil {
		return nil, p.connErr(err)
	}
	if t.tls != nil {
		tc := tls.Client(nc, t.tls.Clone())
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			if cause, ok := netCause(err); ok {
				return nil, errs.New(p.op, errs.Unreachable, "", "cannot reach "+t.addr+": "+cause)
			}
			return nil, errs.New(p.op, errs.Other, "", p.san.Clean("TLS handshake with "+t.addr+": "+err.Error()))
		}
		nc = tc
	}
	return &conn{nc: nc, r: bufio.NewReaderSize(nc, 64<<10), w: bufio.NewWriter(nc)}, nil
}

func (p *Redis) legacyAuth(ctx context.Context, c *conn) error {
	var cmds [][]string
	if p.target.auth {
		if p.target.user == "" {
			cmds = append(cmds, []string{"AUTH", p.target.password})
		} else {
			cmds = append(cmds, []string{"AUTH", p.target.user, p.target.password})
		}
	}
	cmds = append(cmds, []string{"PING"}, []string{"CLIENT", "ID"})
	vs, err := c.roundTrip(ctx, cmds)
	if err != nil {
		return p.connErr(err)
	}
	for _, v := range vs[:len(vs)-1] {
		if se, ok := v.err().(*serverError); ok {
			return p.authErr(se)
		}
	}
	if id := vs[len(vs)-1]; id.kind == ':' {
		c.id = strconv.FormatInt(id.num, 10)
	}
	return nil
}

// authErr turns a refused HELLO or AUTH into a one-line error of the right
// kind.
func (p *Redis) authErr(se *serverError) error {
	switch {
	case se.code() == "WRONGPASS", strings.Contains(se.msg, "invalid password"):
		return errs.New(p.op, errs.Permission, "", "the administrator credential was refused")
	case se.code() == "NOAUTH":
		return errs.New(p.op, errs.Permission, "", "the server requires a password and the administrator URL gives none")
	case strings.Contains(se.msg, "without any password configured"):
		return errs.New(p.op, errs.Permission, "", "the administrator credential was refused: the URL gives a password without a user name and the server's default user has none")
	case se.code() == "LOADING":
		return errs.New(p.op, errs.Unreachable, "", "cannot use "+p.target.addr+": the server is loading its dataset")
	case se.code() == "NOPERM":
		return errs.New(p.op, errs.Permission, "", p.san.Clean("the administrator may not connect: "+se.msg))
	}
	return errs.New(p.op, errs.Other, "", p.san.Clean("connect: "+se.msg))
}

// exec runs cmds, pipelined, on the provider's connection. Calls made
// while a round trip is under way are queued, and the next round trip
// sends every queued call's commands in one pipeline: the broker issues
// leases from many requests at once, each two round trips (ACL GETUSER of
// the template, then ACL SETUSER), and one at a time on the one
// connection they were most of a Redis lease's time. Replies come back in
// order, so each call gets its own. A connection that was already open
// and turns out broken (the server restarted, an idle timeout closed it)
// is dialled again once and the batch sent again, as a single call was.
func (p *Redis) exec(ctx context.Context, what string, cmds ...[]string) ([]value, error) {
	// A cancelled caller gets its cancellation, whether or not the round
	// trip would have been fast enough to notice it.
	if err := ctx.Err(); err != nil {
		return nil, p.ioErr(what, err)
	}
	c := &call{ctx: ctx, cmds: cmds, done: make(chan struct{})}
	p.qmu.Lock()
	p.queue = append(p.queue, c)
	lead := !p.sending
	p.sending = true
	p.qmu.Unlock()
	if lead {
		p.send()
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		// Its commands may still run, as when a round trip is cut.
		return nil, p.ioErr(what, ctx.Err())
	}
	switch {
	case errors.Is(c.err, errClosed):
		return nil, errs.New(p.op, errs.Invalid, "", what+": the provider is closed")
	case c.err != nil:
		return nil, c.err
	case c.errIO != nil:
		return nil, p.ioErr(what, c.errIO)
	}
	return c.out, nil
}

// errClosed is a call on a closed provider.
var errClosed = errors.New("closed")

// call is one exec waiting for its replies.
type call struct {
	ctx  context.Context
	cmds [][]string
	done chan struct{}
	out  []value
	// err is a failure to connect (worded already) or errClosed; errIO a
	// round trip that failed, which exec words with its own what.
	err, errIO error
}

// send runs the queued calls' round trips until the queue is empty.
func (p *Redis) send() {
	for {
		p.qmu.Lock()
		batch := p.queue
		p.queue = nil
		if len(batch) == 0 {
			p.sending = false
			p.qmu.Unlock()
			return
		}
		p.qmu.Unlock()
		p.roundTrip(batch)
	}
}

// roundTrip sends batch in one pipeline and hands each call its replies.
// A batch of one runs under its caller's context, as every call did
// before calls were batched; a larger one until the latest of its
// callers' deadlines, or until every caller has given up.
func (p *Redis) roundTrip(batch []*call) {
	ctx := batch[0].ctx
	if len(batch) > 1 {
		latest := time.Time{}
		for _, c := range batch {
			d, ok := c.ctx.Deadline()
			if !ok {
				d = time.Now().Add(callTimeout)
			}
			if d.After(latest) {
				latest = d
			}
		}
		bctx, cancel := context.WithDeadline(context.Background(), latest)
		defer cancel()
		var left atomic.Int64
		left.Store(int64(len(batch)))
		for _, c := range batch {
			stop := context.AfterFunc(c.ctx, func() {
				if left.Add(-1) == 0 {
					cancel()
				}
			})
			defer stop()
		}
		ctx = bctx
	}
	var cmds [][]string
	for _, c := range batch {
		cmds = append(cmds, c.cmds...)
	}
	vs, err, errIO := p.execAll(ctx, cmds)
	for _, c := range batch {
		if c.err, c.errIO = err, errIO; err == nil && errIO == nil {
			c.out, vs = vs[:len(c.cmds):len(c.cmds)], vs[len(c.cmds):]
		}
		close(c.done)
	}
}

// execAll runs cmds on the connection, dialling it first when there is
// none, and again once when a connection that was open turns out broken.
// err is a failure to connect or errClosed, errIO a failed round trip.
func (p *Redis) execAll(ctx context.Context, cmds [][]string) (vs []value, err, errIO error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errClosed, nil
	}
	for attempt := 0; ; attempt++ {
		fresh := p.c == nil
		if fresh {
			c, err := p.dial(ctx)
			if err != nil {
				return nil, err, nil
			}
			p.c = c
		}
		p.trips++
		vs, err := p.c.roundTrip(ctx, cmds)
		if err == nil {
			return vs, nil, nil
		}
		p.c.close()
		delete(p.own, p.c.id)
		p.c = nil
		if fresh || attempt > 0 || ctx.Err() != nil || errors.Is(err, errProtocol) {
			return nil, nil, err
		}
	}
}

// ownIDs returns the CLIENT ids of the provider's connections.
func (p *Redis) ownIDs() map[string]bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := make(map[string]bool, len(p.own))
	for id := range p.own {
		m[id] = true
	}
	return m
}

// Close releases the administrative connection.
func (p *Redis) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.c != nil {
		p.c.close()
		p.c = nil
	}
	return nil
}

// connErr turns a failure to connect into a one-line error of the right
// kind.
func (p *Redis) connErr(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return errs.E(p.op, errs.Unreachable, "", fmt.Errorf("cannot reach %s: %w", p.target.addr, err))
	}
	if cause, ok := netCause(err); ok {
		return errs.New(p.op, errs.Unreachable, "", "cannot reach "+p.target.addr+": "+cause)
	}
	if errors.Is(err, errProtocol) {
		return errs.New(p.op, errs.Other, "", p.san.Clean("connect to "+p.target.addr+": it does not answer as Redis does ("+err.Error()+")"))
	}
	return errs.New(p.op, errs.Other, "", p.san.Clean("connect to "+p.target.addr+": "+err.Error()))
}

// ioErr wraps a round trip that failed: cancelled, cut, or not RESP.
func (p *Redis) ioErr(what string, err error) error {
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return errs.E(p.op, errs.Other, "", fmt.Errorf("%s: %w", what, err))
	case errors.Is(err, errProtocol):
		return errs.New(p.op, errs.Other, "", p.san.Clean(what+": "+p.target.addr+" does not answer as Redis does ("+err.Error()+")"))
	}
	if cause, ok := netCause(err); ok {
		return errs.New(p.op, errs.Unreachable, "", what+": lost the connection to "+p.target.addr+": "+cause)
	}
	return errs.New(p.op, errs.Other, "", p.san.Clean(what+": "+err.Error()))
}

// replyErr wraps an error reply to one of the provider's commands. need
// names the ACL rule the administrator lacks when the server says NOPERM.
func (p *Redis) replyErr(what, need string, se *serverError) error {
	switch {
	case se.code() == "NOPERM":
		return errs.New(p.op, errs.Permission, "", p.san.Clean(what+": the administrator needs "+need+" ("+se.msg+")"))
	case se.code() == "NOAUTH":
		return errs.New(p.op, errs.Permission, "", what+": the server requires authentication")
	case strings.HasPrefix(se.msg, "ERR unknown command"), strings.HasPrefix(se.msg, "ERR unknown subcommand"):
		return errs.New(p.op, errs.Unsupported, "", p.san.Clean(what+": the server does not know the command; ACL needs Redis 6 or later ("+se.msg+")"))
	case se.code() == "LOADING":
		return errs.New(p.op, errs.Unreachable, "", what+": the server is loading its dataset")
	}
	return errs.New(p.op, errs.Other, "", p.san.Clean(what+": "+se.msg))
}

// netCause names a network failure in a few words; ok is false when err is
// not one.
func netCause(err error) (string, bool) {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// The caller's own cancellation, not the server's: callers return
		// ctx.Err() for it.
		return "", false
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the server closed the connection", true
	}
	return provider.NetCause(err)
}
