package cli

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/auth/oidc"
	"github.com/rekeyhq/rekey/internal/broker"
	"github.com/rekeyhq/rekey/internal/broker/api"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/notify"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/server"
	"github.com/rekeyhq/rekey/internal/server/jobs"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/token"
	"github.com/rekeyhq/rekey/internal/watch/watcher"
	"github.com/rekeyhq/rekey/internal/web"
)

type serveOpts struct {
	listen         string
	inventory      string
	tlsCert        string
	tlsKey         string
	publicURL      string
	insecureListen bool
	watch          bool
	oidc           oidc.Flags
}

func newServeCmd(g *globals) *cobra.Command {
	o := &serveOpts{}
	c := &cobra.Command{
		Use:   "serve [--listen 127.0.0.1:8420] [--inventory FILE] [--tls-cert F --tls-key F]",
		Short: "Run the incident service: the HTTP API (/api/v1) over the store, for a team",
		Long: `Serve runs rekey as a service over the store (--store, $REKEY_STORE, else
$REKEY_HOME/rekey.db): the API of /api/v1 (its OpenAPI 3.1 document is at
/api/v1/openapi.json), where every request but /api/v1/health and the document
carries "Authorization: Bearer TOKEN". The token's name is the actor in the
audit log; its role says what it may do, and nobody approves a step of an
incident they opened or a run they started.

Incidents opened through the API are opened with --inventory, which the
server reads once at start and keeps with each incident.

The first line on standard error is "listening on HOST:PORT" (the port bound
when --listen asks for :0); then one JSON line per request, which never holds
a token, a query string or a secret. Without --tls-cert and --tls-key the
server listens only on a loopback address, unless --insecure-listen says that
something in front of it (a proxy on the same host) terminates TLS. SIGINT or
SIGTERM stops it: requests in flight are finished first.

Several replicas may serve one PostgreSQL store: give each the same keys
(--keys file:DIR, a shared directory) and its own $REKEY_HOME. A replica
whose keys are not the ones the store was first used with refuses to start.
Each replica also keeps its audit witness in DIR/witnesses; a replica that
has none of its own anchors from the freshest there (an audit.anchor entry)
after checking the log against all of them, and refuses to start when the
log has entries and DIR no witness, or when the log no longer holds an
entry a witness names.
On PostgreSQL, runs started through the API are jobs (River, in the schema
rekey_river, migrated at start) that any replica works, and a run whose
replica dies is resumed by another within seconds. The broker's lease reaper
and the watcher (--watch) run on one replica at a time, the elected leader,
and move to another when it dies (docs/operations.md).

EXIT STATUS
  0  stopped by a signal, after finishing the requests in flight
  2  usage or input error (a bad address, a non-loopback address without TLS,
     an unreadable inventory or certificate, a bad store, keys that are not
     the store's, an audit log this replica cannot anchor at)`,
		Example: `  rekey serve --inventory ops/rekey.yml
  rekey serve --store postgres://rekey@db/rekey --listen 0.0.0.0:8443 --tls-cert tls.crt --tls-key tls.key`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runServe(c.Context(), g, o)
		},
	}
	c.Flags().StringVar(&o.listen, "listen", "127.0.0.1:8420", "address to listen on (HOST:PORT; port 0 picks a free one)")
	c.Flags().StringVar(&o.inventory, "inventory", "", "the inventory incidents opened through the API are opened with")
	c.Flags().StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate file (PEM), with --tls-key")
	c.Flags().StringVar(&o.tlsKey, "tls-key", "", "TLS private key file (PEM), with --tls-cert")
	c.Flags().StringVar(&o.publicURL, "public-url", "", "the URL people reach this server at, when a proxy is in front (links, sign-in redirects)")
	c.Flags().BoolVar(&o.insecureListen, "insecure-listen", false, "allow a non-loopback address without TLS (TLS is terminated in front of rekey)")
	c.Flags().BoolVar(&o.watch, "watch", false, "also run the watcher (rekey watch) over --inventory in this process")
	o.oidc.Register(c.Flags())
	return c
}

func runServe(ctx context.Context, g *globals, o *serveOpts) error {
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return usagef("give both --tls-cert and --tls-key, or neither")
	}
	if o.watch && o.inventory == "" {
		return usagef("--watch needs --inventory FILE: the watcher follows the inventory's logs: and watch:")
	}
	host, _, err := net.SplitHostPort(o.listen)
	if err != nil {
		return usagef("--listen %q: want HOST:PORT, such as 127.0.0.1:8420", o.listen)
	}
	if o.tlsCert == "" && !o.insecureListen && !loopback(host) {
		return usagef("--listen %s: without TLS (--tls-cert, --tls-key) rekey serve listens only on a loopback address; give --insecure-listen if TLS is terminated in front of it", o.listen)
	}
	if o.publicURL != "" {
		if u, err := url.Parse(o.publicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return usagef("--public-url %q: want an absolute http(s) URL", o.publicURL)
		}
	}
	var tlsCfg *tls.Config
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return usagef("--tls-cert %s, --tls-key %s: %v", o.tlsCert, o.tlsKey, err)
		}
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}
	cfg := server.Config{Log: g.env.Stderr, Version: serveVersion(), PublicURL: o.publicURL}
	var inv *inventory.Inventory
	if o.inventory != "" {
		path, err := filepath.Abs(o.inventory)
		if err != nil {
			return usagef("--inventory %s: %v", o.inventory, err)
		}
		if inv, err = loadInventoryStrict(g, path); err != nil {
			return err
		}
		if cfg.Inventory, err = inventory.ReadFile(path); err != nil {
			return err
		}
		cfg.InventoryPath = path
	}
	st, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := g.checkKeys(ctx, st); err != nil {
		return err
	}
	// A replica joining a store with history anchors its audit witness
	// from the other replicas' (docs/operations.md), before it serves.
	al, err := g.auditLog(st)
	if err != nil {
		return err
	}
	if _, err := al.Join(ctx, g.actor()); err != nil {
		return err
	}
	cfg.Store = st
	base, err := g.serveBase(st)
	if err != nil {
		return err
	}
	cfg.Deps = func(ctx context.Context, p auth.Principal) (incident.Deps, error) { return serveDeps(base, st, p), nil }
	var warnings []string
	listening := make(chan struct{})
	// The lease reaper and the watcher run on one replica at a time: on
	// PostgreSQL the elected leader (jobs.Runner.Lead), set once the
	// runner works; on the embedded store this process.
	var lead leader = func(ctx context.Context, f func(context.Context) error) error { return f(ctx) }
	leading := make(chan leader, 1)
	if inv != nil && inv.Broker != nil {
		leases, done, err := g.brokerLeases(ctx, st, inv)
		if err != nil {
			// The API serves incidents without it; ending leases says so.
			warnings = append(warnings, "broker leases cannot be ended through the API: "+strings.Join(strings.Fields(err.Error()), " "))
		} else {
			defer done()
			cfg.Leases = leases
			h, stop, err := g.brokerAPI(ctx, st, inv, leases, listening, leading)
			if err != nil {
				return err
			}
			defer stop()
			cfg.Broker = h
		}
	}
	authn := &token.Authenticator{Store: st}
	cfg.Auth = authn
	warnLog := &jsonErrorLog{w: g.env.Stderr, key: "warning"}
	// Notifications go in the background; what is queued at shutdown gets
	// a few seconds to be sent.
	cfg.Notifier = notify.New(notify.Options{Warn: func(line string) { _, _ = warnLog.Write([]byte(line)) }})
	defer func() {
		nctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = cfg.Notifier.Close(nctx)
	}()
	// The UI streams the plan's live steps through the API server, which
	// is built with the UI: the one refers to the other.
	var api *server.Server
	webCfg := web.Config{
		Store: st, Auth: authn, Deps: cfg.Deps, Secure: tlsCfg != nil,
		LogActor: server.LogActor,
		Events:   func(w http.ResponseWriter, r *http.Request, id string) { api.StreamEvents(w, r, id) },
	}
	prov, err := o.oidc.Build(ctx, o.publicURL)
	if err != nil {
		return err
	}
	if prov != nil {
		webCfg.OIDC = &web.OIDC{Name: o.oidc.Issuer, Start: prov.Begin, Callback: prov.Callback}
	}
	cfg.UI = web.New(webCfg)
	// On PostgreSQL, runs are River jobs that every replica works; the
	// embedded store keeps them on this process's goroutines.
	var queue *jobs.Runner
	if raw, ok := st.(store.Raw); ok && raw.DialectName() == "postgres" {
		spec, err := g.storeSpec()
		if err != nil {
			return err
		}
		jlog := slog.New(slog.NewJSONHandler(g.env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		if queue, err = jobs.Open(ctx, jobs.Config{URL: spec, Log: jlog}); err != nil {
			return err
		}
		cfg.Runner = queue.Bind
	}
	api = server.New(cfg)
	// Tracing (issue 16): the embedded store's trace jobs lived in the
	// process that stopped; its sources still pending are queued again.
	if queue == nil {
		if _, err := api.ResumeTracing(ctx); err != nil {
			warnings = append(warnings, "pending sources not traced: "+strings.Join(strings.Fields(err.Error()), " "))
		}
	}
	if queue != nil {
		if err := queue.Work(ctx); err != nil {
			queue.Close()
			return err
		}
		lead = queue.Lead
	}
	leading <- lead

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return usagef("--listen %s: %v", o.listen, err)
	}
	fmt.Fprintf(g.env.Stderr, "listening on %s\n", ln.Addr())
	close(listening)
	elog := &jsonErrorLog{w: g.env.Stderr, key: "error"}
	for _, w := range warnings {
		_, _ = (&jsonErrorLog{w: g.env.Stderr, key: "warning"}).Write([]byte(w))
	}
	srv := &http.Server{
		Handler:           api.Handler(),
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.New(elog, "", 0),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	done := make(chan error, 1)
	go func() {
		if tlsCfg != nil {
			done <- srv.ServeTLS(ln, "", "")
		} else {
			done <- srv.Serve(ln)
		}
	}()
	watchDone := make(chan error, 1)
	if o.watch {
		go func() {
			watchDone <- lead(ctx, func(ctx context.Context) error { return g.serveWatch(ctx, st, inv, cfg.Inventory) })
		}()
	}
	select {
	case err := <-done:
		return err
	case err := <-watchDone:
		// The watcher stopped by itself: a server that says it watches
		// and does not is worse than one that stops.
		_ = srv.Close()
		return err
	case <-ctx.Done():
	}
	// Requests in flight finish; a run the server started goes on being
	// recorded by its steps and is resumed, not lost, if cut off.
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Runs and event streams end first: http.Server.Shutdown would wait
	// for a stream forever.
	if err := api.Shutdown(sctx); err != nil {
		return fmt.Errorf("serve: shutting down runs: %w", err)
	}
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("serve: shutting down: %w", err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// serveBase is what every request's dependencies share, built once per
// server: the audit log's paths, $REKEY_HOME and the registry do not
// change while it serves, and setting them up for each request was ~4 %
// of a GET /scope. Nothing is printed (the request log is the server's
// only output), and inventories are parsed once per content.
func (g *globals) serveBase(st store.Store) (incident.Deps, error) {
	d, err := g.deps(st)
	if err != nil {
		return incident.Deps{}, err
	}
	d.Say, d.Warn, d.Progress = nil, nil, nil
	d.Inventories = inventory.NewCache(incident.RecordedInventoryOptions(d.Getenv))
	return d, nil
}

// serveDeps is the workflow's dependencies for one request: base with
// the principal as the actor and claims held for the request's length.
func serveDeps(base incident.Deps, st store.Store, p auth.Principal) incident.Deps {
	d := base
	d.Actor = p.Name
	d.Claim = incident.StoreClaim(st, p.Name)
	return d
}

// serveWatch runs the watcher over inv until ctx ends (serve --watch);
// its warnings are JSON lines on serve's stderr.
func (g *globals) serveWatch(ctx context.Context, st store.Store, inv *inventory.Inventory, body []byte) error {
	d, err := g.deps(st)
	if err != nil {
		return err
	}
	d.Claim = incident.StoreClaim(st, incident.WatchActor)
	d.Say, d.Progress = nil, nil
	wlog := &jsonErrorLog{w: g.env.Stderr, key: "warning"}
	d.Warn = func(line string) { _, _ = wlog.Write([]byte("watch: " + line)) }
	send, stop := g.watchNotify(inv, d.Warn)
	defer stop()
	err = watcher.Run(ctx, watcher.Config{Deps: d, Inventory: inv, InventoryBody: body, Warn: d.Warn, Notify: send})
	if ctx.Err() != nil {
		return nil
	}
	if err == nil {
		err = errs.New("serve --watch", errs.Other, "", "the watcher stopped")
	}
	return err
}

// brokerLeases is the broker's lease service for ending leases through
// the API: the systems its roles name, opened as their administrators.
// done closes them.
func (g *globals) brokerLeases(ctx context.Context, st store.Store, inv *inventory.Inventory) (_ *broker.Leases, done func(), err error) {
	al, err := g.auditLog(st)
	if err != nil {
		return nil, nil, err
	}
	var opened []provider.Provider
	done = func() {
		for _, p := range opened {
			p.Close()
		}
	}
	l, err := incident.Leases(ctx, st, al, inv, func(ctx context.Context, system string) (provider.Provider, error) {
		p, err := g.systems(inv).Open(ctx, system)
		if err == nil {
			opened = append(opened, p)
		}
		return p, err
	})
	if err != nil {
		done()
		return nil, nil, err
	}
	return l, done, nil
}

// leader runs f while this replica leads (jobs.Runner.Lead).
type leader func(ctx context.Context, f func(context.Context) error) error

// brokerAPI is the broker's /broker/v1 handler over leases, with the
// reaper that drops expired leases running from listening until stop,
// while this replica leads (the leader that arrives on leading). A
// reaper pass that fails is a warning line; the next pass retries.
func (g *globals) brokerAPI(ctx context.Context, st store.Store, inv *inventory.Inventory, leases *broker.Leases, listening <-chan struct{}, leading <-chan leader) (http.Handler, func(), error) {
	al, err := g.auditLog(st)
	if err != nil {
		return nil, nil, err
	}
	elog := &jsonErrorLog{w: g.env.Stderr, key: "warning"}
	b, err := broker.New(ctx, broker.Config{Inventory: inv, State: incident.IdentityState{Store: st},
		OnPolicyError: func(err error) { _, _ = elog.Write([]byte("broker policy: " + oneLineErr(err))) }})
	if err != nil {
		return nil, nil, err
	}
	h, err := api.New(api.Config{Broker: b, Leases: leases, Audit: al,
		OnError: func(r *http.Request, err error) {
			_, _ = elog.Write([]byte(r.Method + " " + r.URL.Path + ": " + oneLineErr(err)))
		}})
	if err != nil {
		return nil, nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	reaped := make(chan struct{})
	go func() {
		defer close(reaped)
		// serve's first stderr line is its address: the reaper's
		// warnings wait for it.
		var lead leader
		select {
		case lead = <-leading:
		case <-rctx.Done():
			return
		}
		select {
		case <-listening:
		case <-rctx.Done():
			return
		}
		reaper := &broker.Reaper{Leases: leases, OnError: func(err error) { _, _ = elog.Write([]byte("lease reaper: " + oneLineErr(err))) }}
		_ = lead(rctx, reaper.Run)
	}()
	return h, func() { cancel(); <-reaped }, nil
}

func oneLineErr(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

// loopback reports whether host names only this machine.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

func serveVersion() string {
	v, _, _ := versionOf(Version, debug.ReadBuildInfo)
	return v
}

// jsonErrorLog turns net/http's own log lines (a TLS handshake refused, a
// panic in a handler) into JSON lines, so that the server's stderr after
// its first line is JSON throughout.
type jsonErrorLog struct {
	mu  sync.Mutex
	w   io.Writer
	key string
}

func (l *jsonErrorLog) Write(p []byte) (int, error) {
	b, _ := json.Marshal(map[string]string{"time": time.Now().UTC().Format(time.RFC3339Nano), l.key: strings.TrimSpace(string(p))})
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.w.Write(append(b, '\n')); err != nil {
		return 0, err
	}
	return len(p), nil
}
