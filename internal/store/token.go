package store

import (
	"context"
	"time"
)

// Tokens keeps the service's API tokens (package token makes and checks
// them). A token is stored as the SHA-256 hex of the whole token; nothing
// here ever holds one in clear.
type Tokens interface {
	// CreateToken stores t. A token whose NameKey is already held by a
	// token that is not revoked is an errs.Conflict error; a Hash that is
	// not 64 lower-case hex digits is errs.Invalid (a clear token passed by
	// mistake is refused).
	CreateToken(ctx context.Context, t Token) error
	// TokenByHash returns the token whose hash is hash; ok is false when
	// there is none.
	TokenByHash(ctx context.Context, hash string) (t Token, ok bool, err error)
	// ListTokens returns every token, revoked ones too, by name key then
	// creation time.
	ListTokens(ctx context.Context) ([]Token, error)
	// RevokeToken revokes the live token whose name key is nameKey at the
	// given time and returns it. When every token of that name is revoked
	// already it returns the latest and does nothing (idempotent); when
	// none ever had the name it is errs.NotFound.
	RevokeToken(ctx context.Context, nameKey string, at time.Time) (Token, error)
	// TouchToken sets the token's last use to at, unless it was set less
	// than every before at: an API client calling many times a second
	// writes once a minute, not on every request.
	TouchToken(ctx context.Context, hash string, at time.Time, every time.Duration) error
	// CountTokens counts every token row, revoked and expired ones too:
	// once a store has held a token its CLI commands need one.
	CountTokens(ctx context.Context) (int, error)
}

// Token is one API token, without the token.
type Token struct {
	Name string `json:"name"`
	// NameKey is Name's comparison key (internal/actor.Key).
	NameKey   string     `json:"-"`
	Hash      string     `json:"-"`
	Role      string     `json:"role"`
	Created   time.Time  `json:"created_at"`
	CreatedBy string     `json:"created_by"`
	Expires   time.Time  `json:"expires_at"`
	Revoked   *time.Time `json:"revoked_at,omitempty"`
	LastUsed  *time.Time `json:"last_used_at,omitempty"`
}
