package store

import (
	"context"
	"encoding/json"
	"time"
)

// Watch is the part of the store that `watch` keeps between runs: read
// offsets of followed logs, credential baselines and canary logins, and
// what it needs to know of the responses (which logins rekey revoked).
type Watch interface {
	// Offset returns the stored read position of the file whose head
	// hashes to key; ok is false when there is none.
	Offset(ctx context.Context, key string) (o Offset, ok bool, err error)
	// PutOffset stores o (keyed by o.Key), replacing what was there. When
	// replaces is not "" that key is deleted in the same transaction: a
	// file keyed by a short head is re-keyed once it grows past a KiB.
	PutOffset(ctx context.Context, o Offset, replaces string) error
	// ShortOffsets returns the offsets whose key hashes fewer than
	// headLen bytes, by key.
	ShortOffsets(ctx context.Context, headLen int) ([]Offset, error)

	// Baselines returns the stored baselines of the given credentials
	// (missing ones are absent from the map).
	Baselines(ctx context.Context, credentials []string) (map[string]json.RawMessage, error)
	// PutBaselines writes baselines (by credential) in one transaction.
	PutBaselines(ctx context.Context, bs map[string]json.RawMessage) error

	// PutCanary records a decoy login; recording it again keeps the first
	// creation time and takes the new key id (a canary made again has a
	// new key).
	PutCanary(ctx context.Context, c Canary) error
	// Canaries returns every canary, by system and login.
	Canaries(ctx context.Context) ([]Canary, error)

	// RevokedLogins lists the logins rekey revoked: the identity of every
	// revoke step that ran to done (at its finish), and every lease that
	// was revoked or dropped (at its last update), by login then system.
	RevokedLogins(ctx context.Context) ([]Revoked, error)
}

// Offset is how far one followed file was read.
type Offset struct {
	Key     string `json:"key"`
	HeadLen int    `json:"head_len"`
	// Bytes and Line are the position after the last consumed record, in
	// the decompressed content.
	Bytes int64 `json:"bytes"`
	Line  int   `json:"line"`
	// Done marks a compressed (rolled) file read to its end.
	Done    bool      `json:"done"`
	Path    string    `json:"path"` // where it was seen last, for people
	Updated time.Time `json:"updated"`
}

// Canary is a decoy login.
type Canary struct {
	System string `json:"system"`
	Login  string `json:"login"`
	// KeyID is the access key id of a canary that is a key (AWS IAM: the
	// user Login's one key), which is what the logs name; "" for a login.
	KeyID   string    `json:"key_id,omitempty"`
	Created time.Time `json:"created_at"`
}

// Revoked is a login rekey revoked.
type Revoked struct {
	System     string    `json:"system"`
	Login      string    `json:"login"`
	At         time.Time `json:"at"`
	IncidentID string    `json:"incident"`
	// Via is "step" (a plan's revoke step) or "lease".
	Via string `json:"via"`
}
