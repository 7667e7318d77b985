// Package vaultkv delivers a secret into a Vault (or OpenBao) KV version 2
// secret, at a key of its data, through the official client
// github.com/hashicorp/vault/api.
//
// A write never clobbers what others keep in the same secret: it reads the
// current version, changes only the key (and user_key) in a copy of its
// data, and writes it with check-and-set (options.cas = the version read),
// so a concurrent writer's version makes Vault refuse the write instead of
// being overwritten; the target then reads again and retries, a bounded
// number of times. KV v2 keeps earlier versions, so the version before
// rekey's write is what Rollback restores, again with check-and-set.
//
// Vault's rate limit quotas answer 429: the client retries those (and
// 5xx) Retries times with its own backoff, a bound set here rather than
// left to the client's default, and then the error says so in one line.
package vaultkv

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/rekeyhq/rekey/internal/deliver"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/secret"
)

// DefaultAttempts bounds the writes tried when check-and-set keeps losing
// to other writers.
const DefaultAttempts = 5

// DefaultRetries bounds the client's retries of a throttled (429) or
// failed (5xx) request, as the vault provider's; the waits between them
// grow from DefaultMinWait to DefaultMaxWait.
const (
	DefaultRetries                 = 4
	DefaultMinWait, DefaultMaxWait = time.Second, 10 * time.Second
)

// Config says which Vault, secret and keys.
type Config struct {
	// Address is Vault's address (the vault system's endpoint:), Token
	// the token that writes (its admin:).
	Address string
	Token   secret.Secret
	// Mount is the KV v2 mount, Path the secret under it; Key and the
	// optional UserKey are keys of the secret's data.
	Mount, Path, Key, UserKey string
	// Attempts bounds check-and-set retries; 0 means DefaultAttempts.
	Attempts int
	// Retries bounds the retries of a throttled request; 0 means
	// DefaultRetries.
	Retries int
	// minWait and maxWait replace the retries' waits (tests).
	minWait, maxWait time.Duration
}

// Target is a key of a KV v2 secret.
type Target struct {
	cfg Config
	c   *api.Client
	// written is the version rekey's last Write created, 0 before one.
	written int
}

var _ deliver.Target = (*Target)(nil)

const op = "deliver vault-kv"

// New checks c and returns its target. It does not contact Vault.
func New(c Config) (*Target, error) {
	where := c.Mount + "/" + c.Path
	switch {
	case c.Address == "" || c.Mount == "" || c.Path == "" || c.Key == "":
		return nil, errs.New(op, errs.Invalid, where, "a vault-kv delivery needs Vault's address, a mount, a path and a key")
	case c.Key == c.UserKey:
		return nil, errs.New(op, errs.Invalid, where, "key and user_key are the same")
	case c.Token.IsZero():
		return nil, errs.New(op, errs.Invalid, where, "no token to write with")
	}
	if c.Attempts <= 0 {
		c.Attempts = DefaultAttempts
	}
	if c.Retries <= 0 {
		c.Retries = DefaultRetries
	}
	if c.minWait <= 0 || c.maxWait <= 0 {
		c.minWait, c.maxWait = DefaultMinWait, DefaultMaxWait
	}
	conf := api.DefaultConfig()
	if conf.Error != nil {
		return nil, errs.E(op, errs.Invalid, where, conf.Error)
	}
	conf.Address = c.Address
	conf.MaxRetries = c.Retries
	conf.MinRetryWait, conf.MaxRetryWait = c.minWait, c.maxWait
	client, err := api.NewClient(conf)
	if err != nil {
		return nil, errs.E(op, errs.Invalid, where, err)
	}
	client.ClearNamespace()
	client.SetToken(string(c.Token.Reveal()))
	return &Target{cfg: c, c: client}, nil
}

// FromInventory builds the target of a consumer's vault-kv delivery: the
// vault system it names gives the address and the token (its admin
// reference, resolved with getenv).
func FromInventory(inv *inventory.Inventory, d *inventory.Delivery, getenv func(string) string) (*Target, error) {
	if d == nil || d.Type != inventory.DeliverVaultKV {
		return nil, errs.New(op, errs.Invalid, "", "not a vault-kv delivery")
	}
	s := inv.SystemByName(d.System)
	if s == nil || s.Type != inventory.TypeVault {
		return nil, errs.New(op, errs.Invalid, d.System, "no vault system of that name in the inventory")
	}
	tok, err := s.Admin.Resolve(getenv)
	if err != nil {
		return nil, errs.E(op, errs.KindOf(err), s.Name, err)
	}
	return New(Config{Address: s.Endpoint, Token: tok, Mount: d.Mount, Path: d.Path, Key: d.Key, UserKey: d.UserKey})
}

// Describe names the Vault, secret and keys.
func (t *Target) Describe() string {
	s := fmt.Sprintf("vault-kv %s %s key %s", t.cfg.Address, t.where(), t.cfg.Key)
	if t.cfg.UserKey != "" {
		s += ", user_key " + t.cfg.UserKey
	}
	return s
}

func (t *Target) where() string { return t.cfg.Mount + "/data/" + t.cfg.Path }

// Written is the version rekey's last Write created (0 when it created
// none: the secret already held the value).
func (t *Target) Written() int { return t.written }

// version is one version of the secret: its number (0 when there is
// none yet) and its data.
type version struct {
	n    int
	data map[string]any
}

// read returns version n of the secret (0: the current one); a secret
// that does not exist is version 0 with no data.
func (t *Target) read(ctx context.Context, n int) (version, error) {
	q := map[string][]string{}
	if n > 0 {
		q["version"] = []string{strconv.Itoa(n)}
	}
	s, err := t.c.Logical().ReadWithDataWithContext(ctx, t.where(), q)
	if err != nil {
		return version{}, t.fail("read", "read", err)
	}
	if s == nil || s.Data == nil {
		return version{data: map[string]any{}}, nil
	}
	data, _ := s.Data["data"].(map[string]any)
	if data == nil {
		// A deleted (not destroyed) latest version reads as no data.
		data = map[string]any{}
	}
	meta, _ := s.Data["metadata"].(map[string]any)
	v := version{data: data}
	if meta != nil {
		v.n = int(number(meta["version"]))
	}
	return v, nil
}

// Current reads the key (and user_key) of the secret's current version.
// A missing secret or key is errs.NotFound; a value that is not a string
// is errs.Invalid.
func (t *Target) Current(ctx context.Context) (deliver.State, error) {
	v, err := t.read(ctx, 0)
	if err != nil {
		return deliver.State{}, err
	}
	return t.state(v)
}

func (t *Target) state(v version) (deliver.State, error) {
	raw, ok := v.data[t.cfg.Key]
	if !ok {
		return deliver.State{}, errs.New(op, errs.NotFound, t.where(), "the secret has no key "+t.cfg.Key)
	}
	val, ok := raw.(string)
	if !ok {
		return deliver.State{}, errs.New(op, errs.Invalid, t.where(), "key "+t.cfg.Key+" holds no string")
	}
	st := deliver.State{Secret: secret.FromString(val)}
	if t.cfg.UserKey != "" {
		st.User, _ = v.data[t.cfg.UserKey].(string)
	}
	return st, nil
}

// Plan says which keys Write would change, reading the current version.
func (t *Target) Plan(ctx context.Context, v deliver.Value) (deliver.Change, error) {
	cur, err := t.read(ctx, 0)
	if err != nil {
		return deliver.Change{}, err
	}
	e := deliver.Edit{Where: fmt.Sprintf("%s (version %d)", t.where(), cur.n), Key: t.cfg.Key, Form: "plain", Parts: t.parts(cur, v)}
	if cur.n == 0 {
		e.Note = "the secret does not exist yet: Write creates it"
	}
	return deliver.Change{Target: t.Describe(), Edits: []deliver.Edit{e}}, nil
}

// parts lists what writing v into cur changes.
func (t *Target) parts(cur version, v deliver.Value) []deliver.Part {
	var parts []deliver.Part
	if s, _ := cur.data[t.cfg.Key].(string); !secret.FromString(s).Equal(v.Secret) {
		parts = append(parts, deliver.PartPassword)
	}
	if t.cfg.UserKey != "" && v.User != "" {
		if u, _ := cur.data[t.cfg.UserKey].(string); u != v.User {
			parts = append(parts, deliver.PartUser)
		}
	}
	return parts
}

// Write delivers v: the current version's data with key (and user_key)
// changed, written with check-and-set; on a conflict it reads again and
// retries up to Attempts times. Writing what the secret already holds
// creates no version.
func (t *Target) Write(ctx context.Context, v deliver.Value) error {
	return t.update(ctx, "write", func(cur version) (map[string]any, bool) {
		if len(t.parts(cur, v)) == 0 {
			return nil, false
		}
		data := maps.Clone(cur.data)
		data[t.cfg.Key] = string(v.Secret.Reveal())
		if t.cfg.UserKey != "" && v.User != "" {
			data[t.cfg.UserKey] = v.User
		}
		return data, true
	})
}

// Rollback restores the key (and user_key) as they were in the version
// before the one rekey's Write created (written, as Written returned),
// in the current version's data with check-and-set: keys others changed
// since stay as they are. A secret rekey's write created (written 1) has
// nothing to go back to: errs.NotFound.
func (t *Target) Rollback(ctx context.Context, written int) error {
	if written < 2 {
		return errs.New(op, errs.NotFound, t.where(), "no version before rekey's write to roll back to")
	}
	prev, err := t.read(ctx, written-1)
	if err != nil {
		return err
	}
	if prev.n != written-1 {
		return errs.New(op, errs.NotFound, t.where(), fmt.Sprintf("version %d is deleted or destroyed", written-1))
	}
	return t.update(ctx, "rollback", func(cur version) (map[string]any, bool) {
		data := maps.Clone(cur.data)
		changed := false
		for _, k := range []string{t.cfg.Key, t.cfg.UserKey} {
			if k == "" {
				continue
			}
			old, had := prev.data[k]
			now, has := cur.data[k]
			switch {
			case had && (!has || now != old):
				data[k], changed = old, true
			case !had && has:
				delete(data, k)
				changed = true
			}
		}
		return data, changed
	})
}

// update reads the current version, asks change for new data (false:
// nothing to write) and writes it with cas = the version read, retrying
// on a check-and-set conflict.
func (t *Target) update(ctx context.Context, what string, change func(version) (map[string]any, bool)) error {
	for attempt := 1; ; attempt++ {
		cur, err := t.read(ctx, 0)
		if err != nil {
			return err
		}
		data, ok := change(cur)
		if !ok {
			return nil
		}
		s, err := t.c.Logical().WriteWithContext(ctx, t.where(), map[string]any{"options": map[string]any{"cas": cur.n}, "data": data})
		if casConflict(err) {
			if attempt >= t.cfg.Attempts {
				return errs.New(op, errs.Conflict, t.where(), fmt.Sprintf("%s: other writers changed the secret during each of %d check-and-set attempts", what, attempt))
			}
			continue
		}
		if err != nil {
			return t.fail(what, "create or update", err)
		}
		if s != nil && s.Data != nil {
			t.written = int(number(s.Data["version"]))
		}
		return nil
	}
}

// casConflict reports Vault's answer to a write whose cas is not the
// current version.
func casConflict(err error) bool {
	var re *api.ResponseError
	if !errors.As(err, &re) {
		return false
	}
	for _, e := range re.Errors {
		if strings.Contains(e, "check-and-set parameter did not match") {
			return true
		}
	}
	return false
}

// fail is one line with a kind; a refusal names the capability the token
// lacks on the secret's path. Vault's errors hold no value of the secret.
func (t *Target) fail(what, need string, err error) error {
	var re *api.ResponseError
	if errors.As(err, &re) {
		msg := strings.Join(strings.Fields(strings.ReplaceAll(strings.Join(re.Errors, "; "), "1 error occurred:", "")), " ")
		kind := errs.Other
		switch {
		case re.StatusCode == http.StatusForbidden:
			kind, msg = errs.Permission, "the token lacks "+need+" on "+t.where()+" ("+strings.TrimPrefix(msg, "* ")+")"
		case re.StatusCode == http.StatusNotFound:
			kind, msg = errs.NotFound, "no KV version 2 mount "+t.cfg.Mount+" or no such path"
		case re.StatusCode == http.StatusTooManyRequests:
			kind, msg = errs.Unreachable, fmt.Sprintf("still throttled after %d attempts (%s)", t.cfg.Retries+1, msg)
		case re.StatusCode >= 500:
			kind = errs.Unreachable
		}
		return errs.New(op, kind, t.where(), what+": "+msg)
	}
	return errs.New(op, errs.Unreachable, t.where(), what+": cannot reach "+t.cfg.Address+": "+cause(err))
}

// cause is the last part of a transport error, without the URL's query.
func cause(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

func number(v any) int64 {
	switch v := v.(type) {
	case interface{ Int64() (int64, error) }:
		n, _ := v.Int64()
		return n
	case float64:
		return int64(v)
	}
	return 0
}
