package provider

import (
	"context"
	"time"
)

// AuthLogReader is implemented by systems that write no authentication
// log a watcher could follow but keep their recent refusals themselves
// (Redis: ACL LOG).
type AuthLogReader interface {
	// AuthLog returns the refusals the system keeps now, as it keeps them
	// (repeats folded into one entry with a count). It changes nothing.
	AuthLog(ctx context.Context) ([]AuthLogEntry, error)
}

// AuthLogEntry is one kept refusal, or repeats of it.
type AuthLogEntry struct {
	// Key tells an entry from the others across reads: the same key with
	// a larger Count is the same refusal repeated.
	Key   string
	Count int
	// Reason is what was refused: "auth" (a login), "command", "key" or
	// "channel" (a login that may not do that).
	Reason string
	// Object is the command, key or channel refused ("AUTH" for a login).
	Object string
	Login  string
	// Client is the client's address, host:port.
	Client string
	// Last is when it last happened.
	Last time.Time
}
