// Package server is `rekey serve`: the HTTP API of DESIGN "The service"
// over the incident workflow (package incident), for a team that works
// one store together. Handlers are thin: authenticate, check the
// capability, decode, call the workflow, encode. What may be done is
// decided by package auth; what is done, by package incident.
//
// Every route is registered through Server.handle, which records it; the
// OpenAPI document and its test are built from that record, so a route
// cannot exist without being described.
package server

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/events"
	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/notify"
	"github.com/rekeyhq/rekey/internal/store"
)

// Config is what the server works through. The CLI (`rekey serve`)
// builds it from its flags.
type Config struct {
	Store store.Store
	// Auth checks API bearer tokens.
	Auth auth.Authenticator
	// Deps builds the workflow's dependencies for one principal: the
	// actor the audit log names is p.Name, never something the client
	// typed.
	Deps func(ctx context.Context, p auth.Principal) (incident.Deps, error)
	// InventoryPath and Inventory are the server's inventory
	// (--inventory): incidents opened through the API are opened with it,
	// from these bytes (a client sends no path). Without one, POST
	// /api/v1/incidents is refused.
	InventoryPath string
	Inventory     []byte
	// Leases ends broker leases (POST /api/v1/leases/revoke); nil when
	// the inventory has no broker: section.
	Leases LeaseRevoker
	// PublicURL is the URL people reach the server at (--public-url),
	// for links and sign-in redirects; "" when it is reached directly.
	PublicURL string
	// Broker serves the broker's API under /broker/v1/ (package
	// broker/api, authenticated by workload tokens, not by rekey tokens);
	// nil when the inventory has no broker: section.
	Broker http.Handler
	// UI serves everything outside /api/ (the web UI, package web); nil
	// leaves those paths 404.
	UI http.Handler
	// Log receives one JSON line per request; nil is quiet.
	Log io.Writer
	// Version is what /api/v1/health reports.
	Version string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Notifier tells people what needs them (the incidents' notify:
	// targets); nil tells nobody. PublicURL, when set, links to incidents.
	Notifier *notify.Notifier
	// Runner, when set, builds what executes the runs started through
	// the API (package jobs: River jobs on PostgreSQL, worked by every
	// replica); nil executes them on this process's goroutines.
	Runner func(RunFuncs) Runner
	// EventPoll is how often event streams read the store when nothing
	// in this process woke them (events.DefaultPoll when zero).
	EventPoll time.Duration
}

// Route is one registered endpoint, as the OpenAPI document describes it.
type Route struct {
	Method  string
	Pattern string // net/http pattern path, e.g. /api/v1/incidents/{id}
	// Need is the capability the caller must hold; Public routes need none.
	Need    auth.Capability
	Public  bool
	Summary string
	// Doc is what the route takes and returns, declared beside its
	// handler (describe).
	Doc Doc
}

// Server is the HTTP service. Build it with New.
type Server struct {
	cfg    Config
	mux    *http.ServeMux
	routes []Route
	logMu  sync.Mutex
	runs   *runs
	runner Runner
	hub    *events.Hub
}

// New builds the server and registers every route.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, mux: http.NewServeMux()}
	s.handlePublic("GET", "/api/v1/health", "Liveness and the server's version.", s.health)
	s.describe("GET", "/api/v1/health", Doc{Response: healthView{}})
	s.incidentRoutes()
	s.leaseRoutes()
	s.auditRoutes()
	s.registerRuns()
	s.openAPIRoutes()
	// An API path no route matches is the API's 404, never a page of
	// the UI: clients of /api/ read JSON.
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, &apiError{Status: http.StatusNotFound, Kind: "not-found", Message: "no such API route: " + r.Method + " " + r.URL.Path})
	})
	if cfg.Broker != nil {
		s.mux.Handle("/broker/v1/", cfg.Broker)
	}
	if cfg.UI != nil {
		s.mux.Handle("/", cfg.UI)
	}
	return s
}

// LogActor names who a request runs as in the request log, for handlers
// mounted beside the API (the web UI authenticates its own sessions).
func LogActor(r *http.Request, actor string) { setActor(r, actor) }

// Handler is the server with its middleware (security headers, request
// log) around the routes.
func (s *Server) Handler() http.Handler {
	return s.logRequests(securityHeaders(s.mux))
}

// Routes returns the registered routes in registration order.
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

// apiHandler is a route's body: it runs after authentication and the
// capability check, with the caller's principal, and returns an error to
// be written as the API's error envelope.
type apiHandler func(w http.ResponseWriter, r *http.Request, p auth.Principal) error

// handle registers an authenticated route: the caller must present a
// bearer token whose principal can do need.
func (s *Server) handle(method, pattern string, need auth.Capability, summary string, h apiHandler) {
	s.routes = append(s.routes, Route{Method: method, Pattern: pattern, Need: need, Summary: summary})
	s.mux.HandleFunc(method+" "+pattern, func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		setActor(r, p.Name)
		if !p.Can(need) {
			writeError(w, r, forbidden("role %s cannot %s", p.Role, need))
			return
		}
		if err := h(w, r, p); err != nil {
			writeError(w, r, err)
		}
	})
}

// handlePublic registers a route that needs no credential.
func (s *Server) handlePublic(method, pattern, summary string, h http.HandlerFunc) {
	s.routes = append(s.routes, Route{Method: method, Pattern: pattern, Public: true, Summary: summary})
	s.mux.HandleFunc(method+" "+pattern, h)
}

func (s *Server) now() time.Time {
	if s.cfg.Now == nil {
		return time.Now()
	}
	return s.cfg.Now()
}

type healthView struct {
	Status  string `json:"status"`
	Version string `json:"version"`
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, healthView{Status: "ok", Version: s.cfg.Version})
}

// deps is the workflow's dependencies for p: the audit log names p.
func (s *Server) deps(ctx context.Context, p auth.Principal) (incident.Deps, error) {
	if s.cfg.Deps == nil {
		return incident.Deps{}, &apiError{Status: http.StatusServiceUnavailable, Kind: "unavailable", Message: "this server has no store"}
	}
	d, err := s.cfg.Deps(ctx, p)
	if err != nil {
		return incident.Deps{}, err
	}
	d.Actor = p.Name
	if d.Now == nil {
		d.Now = s.cfg.Now
	}
	return d, nil
}
