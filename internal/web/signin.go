package web

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/auth"
)

// signInAge bounds how long a sign-in form stays good.
const signInAge = time.Hour

type signInData struct {
	CSRF  string
	OIDC  string // the OIDC button's label, "" without OIDC
	Error string
}

// signInPage shows the form. A signed-in browser goes to the incidents.
// The form's CSRF token comes from a short-lived cookie of its own: a
// sign-in has no session yet, and another site must not be able to sign
// a browser in as someone else.
func (h *Handler) signInPage(w http.ResponseWriter, r *http.Request) {
	if _, ok, err := h.session(r); err == nil && ok {
		http.Redirect(w, r, "/incidents", http.StatusSeeOther)
		return
	}
	h.renderSignIn(w, r, http.StatusOK, "")
}

func (h *Handler) renderSignIn(w http.ResponseWriter, r *http.Request, status int, msg string) {
	pre := newID()
	h.setCookie(w, h.signInCookieName(), pre, signInAge)
	d := signInData{CSRF: csrfToken(pre, labelSignIn), Error: msg}
	if h.cfg.OIDC != nil {
		d.OIDC = h.cfg.OIDC.Name
		if d.OIDC == "" {
			d.OIDC = "single sign-on"
		}
	}
	h.render(w, r, status, "signin", nil, "Sign in", d)
}

func (h *Handler) signIn(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(h.signInCookieName())
	if err != nil || !checkCSRF(c.Value, labelSignIn, r.PostFormValue("csrf")) {
		h.renderSignIn(w, r, http.StatusForbidden, "The sign-in form expired; try again.")
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	if token == "" || h.cfg.Auth == nil {
		h.renderSignIn(w, r, http.StatusUnauthorized, "Give an API token (rekey token create).")
		return
	}
	p, err := h.cfg.Auth.Authenticate(r.Context(), token)
	if err != nil && !errors.Is(err, auth.ErrUnauthenticated) {
		h.fail(w, r, nil, err)
		return
	}
	if err != nil {
		// Which part was wrong is not the caller's business.
		h.renderSignIn(w, r, http.StatusUnauthorized, "That token is invalid, revoked or expired.")
		return
	}
	if err := h.replaceSession(w, r, p, token); err != nil {
		h.fail(w, r, nil, err)
		return
	}
	h.setCookie(w, h.signInCookieName(), "", 0)
	http.Redirect(w, r, "/incidents", http.StatusSeeOther)
}

// oidcCallback ends an OIDC sign-in. The browser arrives from the
// provider's site, so a SameSite=Strict cookie set now would not be sent
// on a redirect that continues that navigation: the page moves on by
// itself (meta refresh), which is a navigation from this site.
func (h *Handler) oidcCallback(w http.ResponseWriter, r *http.Request) {
	p, err := h.cfg.OIDC.Callback(w, r)
	if err != nil {
		h.renderSignIn(w, r, http.StatusUnauthorized, "Single sign-on failed: "+oneLine(err.Error()))
		return
	}
	p.Via = "oidc"
	if err := h.replaceSession(w, r, p, ""); err != nil {
		h.fail(w, r, nil, err)
		return
	}
	h.render(w, r, http.StatusOK, "continue", nil, "Signed in", nil)
}

// replaceSession ends the session r may still carry (signing in again as
// someone else leaves nothing of the first behind) and starts p's.
func (h *Handler) replaceSession(w http.ResponseWriter, r *http.Request, p auth.Principal, token string) error {
	if c, err := r.Cookie(h.cookieName()); err == nil && c.Value != "" {
		if err := h.cfg.Store.DeleteWebSession(r.Context(), hashID(c.Value)); err != nil {
			return err
		}
	}
	return h.startSession(r.Context(), w, p, token)
}

func (h *Handler) signOut(w http.ResponseWriter, r *http.Request) {
	if s, ok, err := h.session(r); err == nil && ok {
		if !checkCSRF(s.id, labelCSRF, r.PostFormValue("csrf")) {
			h.error(w, r, &s, http.StatusForbidden, "the form's CSRF token is missing or wrong; reload the page and try again")
			return
		}
		if err := h.cfg.Store.DeleteWebSession(r.Context(), hashID(s.id)); err != nil {
			h.fail(w, r, nil, err)
			return
		}
	}
	h.setCookie(w, h.cookieName(), "", 0)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

// principalOf is nil for a page shown without a session.
func principalOf(s *session) *auth.Principal {
	if s == nil {
		return nil
	}
	return &s.principal
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
