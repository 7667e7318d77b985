// Package keycheck makes sure every process writing one store holds the
// same keys. Replicas of `rekey serve` share the installation key (or
// their fingerprints would not match), the sealing key (or one could not
// unseal another's pending credential) and the audit MAC key (or the
// chain would not verify): the first to start records a check value of
// each key in the store, and one whose keys give other values refuses to
// start, before it writes anything with them.
//
// A check value is HMAC-SHA256 of a fixed label under the key: it proves
// which key it is without telling anything about it.
package keycheck

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/store"
)

// Key is one key to check: its name (installation, seal, audit), where
// it was read from (for the message), and its bytes.
type Key struct {
	Name, Path string
	Bytes      []byte
}

// Value is k's check value.
func Value(k []byte) string {
	m := hmac.New(sha256.New, k)
	m.Write([]byte("rekey key check v1"))
	return hex.EncodeToString(m.Sum(nil))
}

// Check records the check value of each key the store has none for, and
// fails (errs.Invalid, one line naming the key and its file) on the first
// key whose value differs from the store's. Two processes starting at once
// record one value: the loser of the insert compares against the winner's.
func Check(ctx context.Context, st store.Store, keys []Key, now time.Time) error {
	raw, ok := st.(store.Raw)
	if !ok {
		return errs.New("key check", errs.Unsupported, "", "this store cannot hold key checks")
	}
	db := raw.DB()
	for _, k := range keys {
		want := Value(k.Bytes)
		if _, err := db.ExecContext(ctx, `INSERT INTO key_checks (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`,
			k.Name, want, store.FormatTime(now)); err != nil {
			return errs.E("key check", errs.Unreachable, k.Name, err)
		}
		var got, since string
		if err := db.QueryRowContext(ctx, `SELECT value, created_at FROM key_checks WHERE name = $1`, k.Name).Scan(&got, &since); err != nil {
			return errs.E("key check", errs.Unreachable, k.Name, err)
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			return errs.New("key check", errs.Invalid, "", fmt.Sprintf(
				"the %s key %s is not the one this store was first used with (on %s): give every replica the same keys (--keys file:DIR)", k.Name, k.Path, since))
		}
	}
	return nil
}
