// Package web is the browser side of `rekey serve` (DESIGN "The
// service"): server-rendered pages over the incident workflow, for
// people who sign in with a token (or OIDC where configured) into a
// session cookie. Pages are html/template with embedded assets and no
// request leaves the page (CSP default-src 'self'); everything works
// without JavaScript except the live step states, which one small
// embedded script follows over the run's event stream.
//
// What may be done is decided by package auth and what is done by
// package incident, as for the API: a handler finds the session's
// principal, checks its capability, calls the workflow and renders.
package web

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/rekeyhq/rekey/internal/audit"
	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/store"
)

// Config is what the web UI works through; `rekey serve` builds it.
type Config struct {
	Store store.Store
	// Auth checks the tokens people sign in with, at sign-in and again
	// on every request of their session.
	Auth auth.Authenticator
	// Deps builds the workflow's dependencies for one principal (the
	// actor the audit log names is p.Name).
	Deps func(ctx context.Context, p auth.Principal) (incident.Deps, error)
	// Secure says the server speaks TLS: cookies are then Secure and
	// __Host- prefixed.
	Secure bool
	// Events streams incident id's step and audit events (text/event-
	// stream) to w; nil leaves the plan without live updates. The web UI
	// has already checked that the session may read the incident.
	Events func(w http.ResponseWriter, r *http.Request, incidentID string)
	// OIDC, when set, offers sign-in with an identity provider.
	OIDC *OIDC
	// LogActor, when set, is told who a signed-in request runs as, for
	// the server's request log.
	LogActor func(r *http.Request, actor string)
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// IdleTimeout ends a session unused for this long (30m when 0);
	// MaxAge ends any session this long after sign-in (12h when 0).
	IdleTimeout, MaxAge time.Duration
}

// OIDC are the hooks of an OpenID Connect sign-in (package auth/oidc):
// Start (served at /auth/oidc/login) redirects the browser to the
// provider; Callback (at CallbackPath, the redirect URI registered at the
// provider) completes the flow and returns who signed in, and should
// expire its flow cookie. Callback's error is shown to the person, so it
// must say what was refused without internals.
type OIDC struct {
	// Name is what the sign-in button says ("Sign in with …").
	Name     string
	Start    func(w http.ResponseWriter, r *http.Request)
	Callback func(w http.ResponseWriter, r *http.Request) (auth.Principal, error)
}

// CallbackPath is where the OIDC provider redirects back to (package
// auth/oidc registers the same path).
const CallbackPath = "/auth/oidc/callback"

// Handler is the web UI, to be mounted at "/".
type Handler struct {
	cfg   Config
	mux   *http.ServeMux
	pages *pages
	// recheckEvery is how often an open event stream checks that its
	// session still holds (a minute when 0; tests shorten it).
	recheckEvery time.Duration
	// verifier verifies the audit log for the incident page, which shows
	// on every load whether the log is intact: incrementally, in full at
	// least every fullVerifyEvery (audit.Verifier says what that leaves
	// unseen in between). It is replaced when a request's log is another.
	verifyMu sync.Mutex
	verifier *audit.Verifier
}

// fullVerifyEvery is how often the incident page verifies the whole log.
const fullVerifyEvery = 5 * time.Minute

// verifierOf is the incremental verifier of al.
func (h *Handler) verifierOf(al *audit.Log) *audit.Verifier {
	h.verifyMu.Lock()
	defer h.verifyMu.Unlock()
	if h.verifier == nil || h.verifier.Log() != al {
		h.verifier = al.Verifier(fullVerifyEvery, h.now)
	}
	return h.verifier
}

// New builds the web UI.
func New(cfg Config) *Handler {
	h := &Handler{cfg: cfg, mux: http.NewServeMux(), pages: parsePages()}
	h.routes()
	return h
}

func (h *Handler) now() time.Time {
	if h.cfg.Now == nil {
		return time.Now()
	}
	return h.cfg.Now()
}

func (h *Handler) idle() time.Duration {
	if h.cfg.IdleTimeout > 0 {
		return h.cfg.IdleTimeout
	}
	return 30 * time.Minute
}

func (h *Handler) recheck() time.Duration {
	if h.recheckEvery > 0 {
		return h.recheckEvery
	}
	return time.Minute
}

func (h *Handler) maxAge() time.Duration {
	if h.cfg.MaxAge > 0 {
		return h.cfg.MaxAge
	}
	return 12 * time.Hour
}

// ServeHTTP serves the pages with their security headers; a request
// that changes something and comes from another origin is refused
// before any handler runs (besides the CSRF token each form carries).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", pageCSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	}
	crossOrigin.Handler(h.mux).ServeHTTP(w, r)
}

// maxForm bounds a request body: every form here is a few short fields.
const maxForm = 64 << 10

// pageCSP lets a page load scripts, styles and images from this server
// only: no inline script or style, no framing, forms post here only.
const pageCSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

var crossOrigin = http.NewCrossOriginProtection()

// signedIn wraps a page that needs a session whose principal can do
// need; without a session the browser is sent to sign in.
func (h *Handler) signedIn(need auth.Capability, fn func(w http.ResponseWriter, r *http.Request, s session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok, err := h.session(r)
		if err != nil {
			h.fail(w, r, nil, err)
			return
		}
		if ok && h.cfg.LogActor != nil {
			h.cfg.LogActor(r, s.principal.Name)
		}
		if !ok {
			if r.Method == http.MethodGet && r.Header.Get("Accept") != "text/event-stream" && r.Header.Get("Accept") != "application/json" {
				http.Redirect(w, r, "/signin", http.StatusSeeOther)
				return
			}
			h.error(w, r, nil, http.StatusUnauthorized, "your session ended; sign in again")
			return
		}
		if !s.principal.Can(need) {
			h.error(w, r, &s, http.StatusForbidden, "role "+string(s.principal.Role)+" cannot "+need.String())
			return
		}
		if r.Method == http.MethodPost && !checkCSRF(s.id, labelCSRF, r.PostFormValue("csrf")) {
			h.error(w, r, &s, http.StatusForbidden, "the form's CSRF token is missing or wrong; reload the page and try again")
			return
		}
		fn(w, r, s)
	}
}

func (h *Handler) routes() {
	m := h.mux
	assets := http.StripPrefix("/assets/", http.FileServerFS(assetFS()))
	m.HandleFunc("GET /assets/{file}", func(w http.ResponseWriter, r *http.Request) {
		assets.ServeHTTP(w, r) // files only: no directory listing
	})
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/incidents", http.StatusSeeOther)
	})
	m.HandleFunc("GET /signin", h.signInPage)
	m.HandleFunc("POST /signin", h.signIn)
	m.HandleFunc("POST /signout", h.signOut)
	if h.cfg.OIDC != nil {
		m.HandleFunc("GET /auth/oidc/login", h.cfg.OIDC.Start)
		m.HandleFunc("GET "+CallbackPath, h.oidcCallback)
	}
	m.HandleFunc("GET /incidents", h.signedIn(auth.Read, h.incidents))
	m.HandleFunc("GET /incidents/{id}", h.signedIn(auth.Read, h.incident))
	m.HandleFunc("GET /incidents/{id}/steps", h.signedIn(auth.Read, h.steps))
	m.HandleFunc("GET /incidents/{id}/tracing", h.signedIn(auth.Read, h.tracing))
	m.HandleFunc("GET /incidents/{id}/report", h.signedIn(auth.Read, h.report))
	m.HandleFunc("POST /incidents/{id}/approve", h.signedIn(auth.Approve, h.approve))
	m.HandleFunc("POST /incidents/{id}/supply", h.signedIn(auth.Approve, h.supply))
	if h.cfg.Events != nil {
		m.HandleFunc("GET /incidents/{id}/events", h.signedIn(auth.Read, h.events))
	}
	m.HandleFunc("GET /leases", h.signedIn(auth.Read, h.leases))
	m.HandleFunc("GET /audit", h.signedIn(auth.Read, h.audit))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.error(w, r, nil, http.StatusNotFound, "no such page")
	})
}
