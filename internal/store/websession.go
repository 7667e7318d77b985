package store

import (
	"context"
	"time"
)

// WebSessions is the part of the store the web UI keeps its sign-in
// sessions in. A session is keyed by the SHA-256 (hex) of the random id
// its cookie holds: the store never sees the id, so nothing read from it
// signs anyone in.
type WebSessions interface {
	// CreateWebSession stores s. An IDHash that exists already is
	// errs.Conflict and changes nothing.
	CreateWebSession(ctx context.Context, s WebSession) error
	// WebSession returns the session keyed by idHash; ok is false when
	// there is none (never created, signed out, or swept).
	WebSession(ctx context.Context, idHash string) (s WebSession, ok bool, err error)
	// TouchWebSession moves a session's LastSeen to at (its idle expiry
	// counts from there). A missing session is not an error.
	TouchWebSession(ctx context.Context, idHash string, at time.Time) error
	// DeleteWebSession ends one session; ending a missing one is not an
	// error.
	DeleteWebSession(ctx context.Context, idHash string) error
	// DeleteExpiredWebSessions ends every session that expired at now or
	// was last seen before idleSince, and returns how many it ended.
	DeleteExpiredWebSessions(ctx context.Context, now, idleSince time.Time) (int, error)
}

// WebSession is one signed-in browser.
type WebSession struct {
	// IDHash is the hex SHA-256 of the session id the cookie holds.
	IDHash string `json:"-"`
	Actor  string `json:"actor"`
	Role   string `json:"role"`
	// Via is how the session signed in: "token" or "oidc".
	Via string `json:"via"`
	// Credential is the token it signed in with, sealed by the web UI
	// with a key only the cookie's id gives ("" for OIDC): never a
	// token in clear.
	Credential string    `json:"-"`
	Created    time.Time `json:"created"`
	LastSeen   time.Time `json:"last_seen"`
	// Expires is the absolute expiry, however active the session is.
	Expires time.Time `json:"expires"`
}
