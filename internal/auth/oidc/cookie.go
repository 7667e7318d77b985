package oidc

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"
)

// flow is what Begin hands to Finish through the browser.
type flow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Expires  int64  `json:"e"`
}

// cookieCodec seals a flow into the cookie and opens it again. The cookie
// is HttpOnly and SameSite=Lax: the provider's redirect back is a
// cross-site top-level navigation, which a Strict cookie would not join.
// Lax is safe here because the cookie authorises nothing by itself; it only
// binds the callback to the browser that began the sign-in.
type cookieCodec struct {
	name   string
	path   string
	secure bool
	aead   cipher.AEAD
}

func newCookieCodec(clientSecret []byte, cfg Config) (cookieCodec, error) {
	u, err := url.Parse(cfg.RedirectURL)
	if err != nil {
		return cookieCodec{}, err
	}
	// The key is the client secret's: every replica that can exchange a
	// code can also open the cookie, and a new secret retires old cookies.
	key, err := hkdf.Key(sha256.New, clientSecret, nil,
		"rekey oidc sign-in cookie v1\x00"+cfg.Issuer+"\x00"+cfg.ClientID, 32)
	if err != nil {
		return cookieCodec{}, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return cookieCodec{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return cookieCodec{}, err
	}
	c := cookieCodec{name: "rekey_oidc", path: u.Path, aead: aead}
	if c.path == "" {
		c.path = "/"
	}
	if u.Scheme == "https" {
		// The prefix makes browsers refuse the cookie unless it is Secure
		// and was set over HTTPS, so a network attacker cannot plant one.
		c.name, c.secure = "__Secure-rekey_oidc", true
	}
	return c, nil
}

func (c cookieCodec) cookie(f flow, ttl time.Duration) *http.Cookie {
	plain, err := json.Marshal(f)
	if err != nil {
		panic(err) // a struct of strings and an int always marshals
	}
	nonce := make([]byte, c.aead.NonceSize())
	_, _ = rand.Read(nonce)
	sealed := c.aead.Seal(nonce, nonce, plain, []byte(c.name))
	return &http.Cookie{
		Name: c.name, Value: base64.RawURLEncoding.EncodeToString(sealed),
		Path: c.path, MaxAge: int(ttl / time.Second),
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode,
	}
}

func (c cookieCodec) expired() *http.Cookie {
	return &http.Cookie{
		Name: c.name, Value: "", Path: c.path, MaxAge: -1,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode,
	}
}

var errBadCookie = errors.New("bad sign-in cookie")

func (c cookieCodec) open(v string) (flow, error) {
	sealed, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(sealed) < c.aead.NonceSize() {
		return flow{}, errBadCookie
	}
	n := c.aead.NonceSize()
	plain, err := c.aead.Open(nil, sealed[:n], sealed[n:], []byte(c.name))
	if err != nil {
		return flow{}, errBadCookie
	}
	var f flow
	if err := json.Unmarshal(plain, &f); err != nil || f.State == "" || f.Nonce == "" || f.Verifier == "" {
		return flow{}, errBadCookie
	}
	return f, nil
}

// randomToken is 256 bits, URL-safe.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
