package web

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/store"
)

// A session is a random id in an HttpOnly cookie. The store keeps its
// SHA-256 only, and everything else a session needs from the id is
// derived from it with HMAC under a label: the CSRF token its forms carry
// and the key that seals the bearer token it signed in with. Reading the
// store therefore gives neither a session nor a token; only the browser
// holding the cookie can open its own session.
const (
	labelCSRF       = "rekey web csrf"
	labelCredential = "rekey web session credential"
	labelSignIn     = "rekey web sign-in csrf"
)

// session is a signed-in request's session.
type session struct {
	id        string // the cookie's value; never stored
	principal auth.Principal
	expires   time.Time
}

func newID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashID(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:])
}

func derive(id, label string) []byte {
	m := hmac.New(sha256.New, []byte(id))
	m.Write([]byte(label))
	return m.Sum(nil)
}

// csrfToken is the token every form of the session carries.
func csrfToken(id, label string) string {
	return base64.RawURLEncoding.EncodeToString(derive(id, label))
}

// checkCSRF compares a form's token with the session's in constant time.
func checkCSRF(id, label, got string) bool {
	want := csrfToken(id, label)
	return subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

// seal encrypts the session's bearer token under a key derived from its
// id, bound to the id's hash (the row it belongs to).
func seal(id, token string) (string, error) {
	aead, err := sessionAEAD(id)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	out := aead.Seal(nonce, nonce, []byte(token), []byte(hashID(id)))
	return base64.RawStdEncoding.EncodeToString(out), nil
}

func unseal(id, sealed string) (string, error) {
	b, err := base64.RawStdEncoding.DecodeString(sealed)
	if err != nil {
		return "", err
	}
	aead, err := sessionAEAD(id)
	if err != nil {
		return "", err
	}
	if len(b) < aead.NonceSize() {
		return "", errors.New("sealed credential too short")
	}
	plain, err := aead.Open(nil, b[:aead.NonceSize()], b[aead.NonceSize():], []byte(hashID(id)))
	return string(plain), err
}

func sessionAEAD(id string) (cipher.AEAD, error) {
	block, err := aes.NewCipher(derive(id, labelCredential))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// cookieName is the session cookie's name. Under TLS the __Host- prefix
// makes the browser refuse it unless it is Secure, host-only and for the
// whole path, so no other host or path can plant one.
func (h *Handler) cookieName() string {
	if h.cfg.Secure {
		return "__Host-rekey_session"
	}
	return "rekey_session"
}

func (h *Handler) signInCookieName() string {
	if h.cfg.Secure {
		return "__Host-rekey_signin"
	}
	return "rekey_signin"
}

func (h *Handler) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: h.cfg.Secure, SameSite: http.SameSiteStrictMode}
	if maxAge > 0 {
		c.MaxAge = int(maxAge / time.Second)
	} else {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

// startSession stores a new session for p (token is what it signed in
// with, "" for OIDC) and sets its cookie.
func (h *Handler) startSession(ctx context.Context, w http.ResponseWriter, p auth.Principal, token string) error {
	now := h.now()
	if _, err := h.cfg.Store.DeleteExpiredWebSessions(ctx, now, now.Add(-h.idle())); err != nil {
		return err
	}
	id := newID()
	ws := store.WebSession{IDHash: hashID(id), Actor: p.Name, Role: string(p.Role), Via: p.Via,
		Created: now, LastSeen: now, Expires: now.Add(h.maxAge())}
	if token != "" {
		sealed, err := seal(id, token)
		if err != nil {
			return err
		}
		ws.Credential, ws.Via = sealed, "token"
	}
	if err := h.cfg.Store.CreateWebSession(ctx, ws); err != nil {
		return err
	}
	h.setCookie(w, h.cookieName(), id, h.maxAge())
	return nil
}

// touchEvery bounds how often a session's last-seen time is written: a
// page and its assets need not be one write each.
const touchEvery = time.Minute

// session returns r's session, or ok=false when r has none that is still
// good: unknown, expired (idle or absolute), or signed in with a token
// that no longer authenticates (revoked, expired), which also ends it.
func (h *Handler) session(r *http.Request) (session, bool, error) {
	c, err := r.Cookie(h.cookieName())
	if err != nil || c.Value == "" {
		return session{}, false, nil
	}
	ctx, id := r.Context(), c.Value
	ws, ok, err := h.cfg.Store.WebSession(ctx, hashID(id))
	if err != nil || !ok {
		return session{}, false, err
	}
	now := h.now()
	end := func() (session, bool, error) {
		return session{}, false, h.cfg.Store.DeleteWebSession(ctx, ws.IDHash)
	}
	if !now.Before(ws.Expires) || now.Sub(ws.LastSeen) > h.idle() {
		return end()
	}
	role, err := auth.ParseRole(ws.Role)
	if err != nil {
		return end()
	}
	p := auth.Principal{Name: ws.Actor, Role: role, Via: ws.Via}
	if ws.Via == "token" {
		tok, err := unseal(id, ws.Credential)
		if err != nil || h.cfg.Auth == nil {
			return end()
		}
		if p, err = h.cfg.Auth.Authenticate(ctx, tok); err != nil {
			if errors.Is(err, auth.ErrUnauthenticated) {
				return end()
			}
			// The store failed, not the token: the session stays.
			return session{}, false, err
		}
	}
	if now.Sub(ws.LastSeen) >= touchEvery {
		if err := h.cfg.Store.TouchWebSession(ctx, ws.IDHash, now); err != nil {
			return session{}, false, err
		}
	}
	return session{id: id, principal: p, expires: ws.Expires}, true, nil
}
