// Package audit is rekey's tamper-evident record of what was done in an
// incident, by whom: every command, step transition and approval is
// appended to the store's audit_log, each entry's hash covering the
// previous entry's hash and every other column of its own. Editing,
// deleting or reordering rows breaks the chain, and Verify says where.
//
// A chain alone cannot show that its newest entries were cut off, nor
// stop someone who rewrites every hash after an edit. Three things held
// outside the database close those gaps:
//
//   - the witness: a file in $REKEY_HOME with the sequence number and hash
//     of the last entry this installation appended. Verify checks that the
//     entry is still there, unchanged; Append refuses to go on from a log
//     that no longer holds it (so a cut tail is not papered over by the
//     next command); a missing witness for a log with entries is a failure
//     until `rekey audit reanchor` (itself audited) says otherwise. Replicas
//     sharing a keys directory also keep a copy of their witness there
//     (WithSharedWitnesses), which a new replica anchors from (Join) and
//     which Verify checks too;
//   - anchors: `rekey audit head` prints SEQ:HASH for the responder to keep
//     elsewhere, and Verify checks the log against it, which catches the
//     whole log and its witness being replaced together;
//   - the MAC: an HMAC-SHA256 of each entry's hash under a key kept in a
//     file (not in the store), so that whoever can write the store but
//     lacks the key cannot add or rewrite entries that verify. Replicas
//     share it by copying the file.
package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
)

// KeyFile is the audit MAC key's file name in $REKEY_HOME.
const KeyFile = "audit.key"

// Log appends to and verifies one store's audit log.
type Log struct {
	s store.Responder
	// witness is the path of this installation's witness file for this
	// store, or "" for none.
	witness string
	// keyPath is the MAC key's file ("" for none: entries are appended
	// without a MAC and MACs are not checked); createKey lets Append
	// create it on first use.
	keyPath   string
	createKey bool
	// shared is the directory where this installation's witness is also
	// kept, as sharedName, beside the witnesses of the other replicas of
	// the store ("" for none).
	shared, sharedName string
}

// New returns the audit log of s. witness is where the head of what this
// installation appended is kept ("" keeps none). Without WithKey the log
// neither signs nor checks MACs: that is for tests and for reading the
// chain alone; every command that appends gives it a key.
func New(s store.Responder, witness string) *Log { return &Log{s: s, witness: witness} }

// WithKey makes l sign the entries it appends and check the MACs of the
// entries it verifies with the key in the file at path. create lets
// Append create the key when the file does not exist (the default key in
// $REKEY_HOME); a key the user named must exist, so that a mistyped path
// does not start a second key.
func (l *Log) WithKey(path string, create bool) *Log {
	c := *l
	c.keyPath, c.createKey = path, create
	return &c
}

// WitnessDir is the directory, inside a keys directory shared by the
// replicas of one store, that holds each replica's witness.
const WitnessDir = "witnesses"

// WithSharedWitnesses makes l also keep its witness in dir (a keys
// directory's WitnessDir), under name, unique to this installation: every
// append then moves both. Join anchors a replica without a witness of its
// own from the freshest one there, and Verify checks them all, so that a
// log cut below any replica's witness is caught by every other replica.
func (l *Log) WithSharedWitnesses(dir, name string) *Log {
	c := *l
	c.shared, c.sharedName = dir, name
	return &c
}

// WitnessPath is the witness file for the store named spec inside home:
// one per store, so that two stores used from one machine do not confuse
// each other.
func WitnessPath(home, spec string) string {
	h := sha256.Sum256([]byte(spec))
	return filepath.Join(home, "audit-"+hex.EncodeToString(h[:6])+".witness")
}

// Anchor names one entry of the log by its sequence number and hash, as
// the witness keeps it and `rekey audit head` prints it (SEQ:HASH).
type Anchor struct {
	Seq  int64
	Hash string
}

func (a Anchor) String() string { return strconv.FormatInt(a.Seq, 10) + ":" + a.Hash }

// ParseAnchor reads SEQ:HASH.
func ParseAnchor(s string) (Anchor, error) {
	seq, hash, ok := strings.Cut(strings.TrimSpace(s), ":")
	n, err := strconv.ParseInt(seq, 10, 64)
	if !ok || err != nil || n < 1 || len(hash) != 64 {
		return Anchor{}, errs.New("audit: anchor", errs.Invalid, s, "want SEQ:HASH as `rekey audit head` prints it")
	}
	if _, err := hex.DecodeString(hash); err != nil {
		return Anchor{}, errs.New("audit: anchor", errs.Invalid, s, "want SEQ:HASH as `rekey audit head` prints it")
	}
	return Anchor{Seq: n, Hash: strings.ToLower(hash)}, nil
}

// Append records that actor did action (in incident, "" for none), with
// detail (marshalled to a JSON object; it must never hold a secret).
//
// With a witness, Append first checks that the log still holds the entry
// the witness names, unchanged, and that every entry after it (written
// by this installation or by another writer of the same store, a server
// or a replica) chains from it with valid MACs. Otherwise it refuses
// (errs.Invalid) and appends nothing: going on would move the witness
// past the damage and hide it.
func (l *Log) Append(ctx context.Context, actor, action, incident string, detail any) (store.AuditEntry, error) {
	e, _, err := l.appendWith(ctx, actor, action, incident, detail, nil)
	return e, err
}

// AppendWithLeases is Append that also applies updates to the store's
// broker lease rows in the transaction that appends the entry: both are
// committed or neither is, and the entry is acknowledged, as by Append,
// only once witnessed. It reports per update whether it moved the lease
// (store.AuditedLeaseWriter). The log's store must write leases
// (WritesLeasesOf).
func (l *Log) AppendWithLeases(ctx context.Context, actor, action, incident string, detail any, updates []store.BrokerLeaseUpdate) (store.AuditEntry, []bool, error) {
	if _, ok := l.s.(store.AuditedLeaseWriter); !ok {
		return store.AuditEntry{}, nil, errs.New("audit: append", errs.Invalid, action, "this audit log's store does not write lease rows")
	}
	return l.appendWith(ctx, actor, action, incident, detail, updates)
}

// WritesLeasesOf reports whether l appends to st and can write st's lease
// rows with its entries (AppendWithLeases).
func (l *Log) WritesLeasesOf(st any) bool {
	_, ok := l.s.(store.AuditedLeaseWriter)
	return ok && any(l.s) == st
}

func (l *Log) appendWith(ctx context.Context, actor, action, incident string, detail any, updates []store.BrokerLeaseUpdate) (store.AuditEntry, []bool, error) {
	const op = "audit: append"
	raw := json.RawMessage("{}")
	if detail != nil {
		b, err := json.Marshal(detail)
		if err != nil {
			return store.AuditEntry{}, nil, errs.E(op, errs.Invalid, action, err)
		}
		raw = b
	}
	if actor == "" || action == "" {
		// Refused here, not in the batch it would fail for everyone.
		return store.AuditEntry{}, nil, errs.New(op, errs.Invalid, action, "an audit entry needs an actor and an action")
	}
	e := store.AuditEntry{Actor: actor, Action: action, IncidentID: incident, Detail: raw}
	if l.witness == "" {
		key, err := l.check(ctx, op)
		if err != nil {
			return store.AuditEntry{}, nil, err
		}
		out, moved, err := l.appendLeases(ctx, key, []store.AuditEntry{e}, updates)
		if len(out) == 1 {
			e = out[0]
		}
		return e, moved, err
	}
	return l.groupAppend(ctx, e, updates)
}

// Group commit. Appends in one process that share a witness are queued;
// the first to find no commit under way commits for every entry queued,
// again and again until the queue is empty: one check of the witnessed
// chain, one store transaction and one witness write for many entries,
// where each append used to pay for its own (two fsyncs each). An entry
// is acknowledged only once its batch is committed and witnessed; a
// failure fails every entry of the batch, none of which is then in the
// log.

// group is the queue of one witness file.
type group struct {
	mu      sync.Mutex
	queue   []*pending
	running bool
}

// pending is one queued append and, once done is closed, its result.
type pending struct {
	ctx context.Context
	l   *Log
	e   store.AuditEntry
	// leases are the lease rows written with e (AppendWithLeases), and
	// moved, once done, whether each update moved its lease.
	leases []store.BrokerLeaseUpdate
	moved  []bool
	done   chan struct{}
	out    store.AuditEntry
	err    error
}

var groups sync.Map // witness path → *group

func (l *Log) groupAppend(ctx context.Context, e store.AuditEntry, leases []store.BrokerLeaseUpdate) (store.AuditEntry, []bool, error) {
	gv, _ := groups.LoadOrStore(l.witness, new(group))
	g := gv.(*group)
	p := &pending{ctx: ctx, l: l, e: e, leases: leases, done: make(chan struct{})}
	g.mu.Lock()
	g.queue = append(g.queue, p)
	lead := !g.running
	g.running = true
	g.mu.Unlock()
	if lead {
		g.drain()
	}
	<-p.done
	return p.out, p.moved, p.err
}

// drain commits what is queued until nothing is.
func (g *group) drain() {
	for {
		g.mu.Lock()
		batch := g.queue
		g.queue = nil
		if len(batch) == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		// Logs of one witness normally share a store and key; entries of
		// another Log go in their own batch.
		for len(batch) > 0 {
			var same, rest []*pending
			for _, p := range batch {
				if p.l.s == batch[0].l.s && p.l.keyPath == batch[0].l.keyPath && p.l.createKey == batch[0].l.createKey {
					same = append(same, p)
				} else {
					rest = append(rest, p)
				}
			}
			batch[0].l.commit(same)
			batch = rest
		}
	}
}

// commit appends ps's entries in one transaction and witnesses the last.
// It runs under the witness lock, as every other append does.
func (l *Log) commit(ps []*pending) {
	const op = "audit: append"
	// The batch is committed for everyone in it: one caller giving up
	// must not fail the others.
	ctx := context.WithoutCancel(ps[0].ctx)
	out, err := func() ([]store.AuditEntry, error) {
		defer l.lock()()
		key, err := l.check(ctx, op)
		if err != nil {
			return nil, err
		}
		es := make([]store.AuditEntry, len(ps))
		var updates []store.BrokerLeaseUpdate
		for i, p := range ps {
			es[i] = p.e
			updates = append(updates, p.leases...)
		}
		out, moved, err := l.appendLeases(ctx, key, es, updates)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			p.moved, moved = moved[:len(p.leases):len(p.leases)], moved[len(p.leases):]
		}
		if err := l.writeWitnesses(op, out[len(out)-1]); err != nil {
			return out, err
		}
		return out, nil
	}()
	for i, p := range ps {
		if i < len(out) {
			p.out = out[i]
		}
		p.err = err
		close(p.done)
	}
}

// appendLeases appends es, with updates to lease rows in the same
// transaction when there are any.
func (l *Log) appendLeases(ctx context.Context, key []byte, es []store.AuditEntry, updates []store.BrokerLeaseUpdate) ([]store.AuditEntry, []bool, error) {
	sign := func(e store.AuditEntry) (string, string) {
		h := Hash(e)
		return h, mac(key, h)
	}
	if len(updates) == 0 {
		out, err := l.s.AppendAudits(ctx, es, sign)
		return out, nil, err
	}
	return l.s.(store.AuditedLeaseWriter).AppendAuditsWithLeases(ctx, es, sign, updates)
}

// appendLocks holds one mutex per witness file. Checking the witness,
// appending and moving the witness are three steps; two appends at once
// in one process (a batch and a reanchor) would otherwise see each
// other's entry before its witness and refuse, or move the witness back.
// Other processes are another writer, which the chain check accepts.
var appendLocks sync.Map // witness path → *sync.Mutex

// lock takes l's witness lock and returns its release.
func (l *Log) lock() func() {
	if l.witness == "" {
		return func() {}
	}
	m, _ := appendLocks.LoadOrStore(l.witness, new(sync.Mutex))
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// Check is what Append checks first, without appending: commands call it
// before they change anything, so that a log Append would refuse stops
// them before the change rather than leave it unaudited.
func (l *Log) Check(ctx context.Context) error {
	_, err := l.check(ctx, "audit: check")
	return err
}

func (l *Log) check(ctx context.Context, op string) ([]byte, error) {
	key, err := l.key(l.createKey)
	if err != nil {
		return nil, errs.E(op, errs.Permission, l.keyPath, err)
	}
	if l.witness != "" {
		if err := l.checkBeforeAppend(ctx, op, key); err != nil {
			return nil, err
		}
	}
	return key, nil
}

func (l *Log) appendWitnessed(ctx context.Context, key []byte, e store.AuditEntry) (store.AuditEntry, error) {
	e, err := l.s.AppendAudit(ctx, e, func(e store.AuditEntry) (string, string) {
		h := Hash(e)
		return h, mac(key, h)
	})
	if err != nil {
		return e, err
	}
	if l.witness != "" {
		if err := l.writeWitnesses("audit: append", e); err != nil {
			return e, err
		}
	}
	return e, nil
}

// writeWitnesses moves the witness, and its shared copy, to e.
func (l *Log) writeWitnesses(op string, e store.AuditEntry) error {
	if err := writeWitness(l.witness, e); err != nil {
		return errs.E(op, errs.Other, l.witness, err)
	}
	if l.shared == "" {
		return nil
	}
	path := filepath.Join(l.shared, l.sharedName)
	if err := os.MkdirAll(l.shared, 0o700); err != nil {
		return errs.E(op, errs.Other, l.shared, err)
	}
	if err := writeWitness(path, e); err != nil {
		return errs.E(op, errs.Other, path, err)
	}
	return nil
}

func (l *Log) checkBeforeAppend(ctx context.Context, op string, key []byte) error {
	w, ok, err := readWitness(l.witness)
	if err != nil {
		return errs.E(op, errs.Invalid, l.witness, err)
	}
	if !ok {
		head, err := l.s.AuditFrom(ctx, 0)
		if err != nil {
			return err
		}
		if len(head) == 0 {
			return nil // a new log: this append starts the witness
		}
		return errs.New(op, errs.Invalid, l.witness, fmt.Sprintf("no witness for this audit log (it has %d entries); if that is expected (a new machine, a restored $REKEY_HOME), check it with `rekey audit verify` and run `rekey audit reanchor --yes`", len(head)))
	}
	tail, err := l.s.AuditFrom(ctx, w.Seq)
	if err != nil {
		return err
	}
	var r Report
	add := func(seq int64, format string, a ...any) {
		r.Breaks = append(r.Breaks, Break{Seq: seq, Problem: fmt.Sprintf(format, a...)})
	}
	checkAnchor(tail, w, "witness "+l.witness, add)
	checkChain(tail, w.Seq, l.signedAfter(w.Seq), key, &r, add)
	if !r.OK() {
		b := r.Breaks[0]
		return errs.New(op, errs.Invalid, l.witness, fmt.Sprintf("refusing to append: entry %d: %s (run `rekey audit verify`)", b.Seq, b.Problem))
	}
	return nil
}

// Reanchor accepts the log as it is now: it appends an audit.reanchor
// entry that records the witness being replaced (or that there was
// none) and the head it found, then witnesses that entry. It is how a new
// machine, a restored $REKEY_HOME or a responder who has checked a broken
// log by other means moves on, in the open: the entry stays in the log.
func (l *Log) Reanchor(ctx context.Context, actor string) (store.AuditEntry, error) {
	const op = "audit: reanchor"
	if l.witness == "" {
		return store.AuditEntry{}, errs.New(op, errs.Invalid, "", "this log keeps no witness")
	}
	defer l.lock()()
	key, err := l.key(l.createKey)
	if err != nil {
		return store.AuditEntry{}, errs.E(op, errs.Permission, l.keyPath, err)
	}
	old := "none"
	if w, ok, err := readWitness(l.witness); err == nil && ok {
		old = w.String()
	} else if err != nil {
		old = "unreadable"
	}
	entries, err := l.s.AuditLog(ctx)
	if err != nil {
		return store.AuditEntry{}, err
	}
	found := "empty"
	if n := len(entries); n > 0 {
		found = Anchor{Seq: entries[n-1].Seq, Hash: entries[n-1].Hash}.String()
	}
	detail, _ := json.Marshal(map[string]string{"previous_witness": old, "found_head": found})
	return l.appendWitnessed(ctx, key, store.AuditEntry{Actor: actor, Action: "audit.reanchor", Detail: detail})
}

// Join readies the log of a replica that keeps shared witnesses
// (WithSharedWitnesses) when it starts, so that a new replica needs no
// `rekey audit reanchor` by hand. With a witness of its own, Join checks
// it as Append would, checks every shared witness too, and copies its own
// among them (a replica from before shared witnesses). Without one, Join
// checks the whole log (chain and MACs) and every shared witness, then
// anchors at the freshest of them: it appends an audit.anchor entry that
// names that witness and the head found, and witnesses it. A log with
// entries and no witness anywhere is refused as Append refuses it: it
// could mean that the witnesses were deleted to hide a cut tail. The
// entry appended, if any, is returned; without shared witnesses Join does
// nothing.
func (l *Log) Join(ctx context.Context, actor string) (*store.AuditEntry, error) {
	const op = "audit: join"
	if l.witness == "" || l.shared == "" {
		return nil, nil
	}
	defer l.lock()()
	key, err := l.key(l.createKey)
	if err != nil {
		return nil, errs.E(op, errs.Permission, l.keyPath, err)
	}
	own, ok, err := readWitness(l.witness)
	if err != nil {
		return nil, errs.E(op, errs.Invalid, l.witness, err)
	}
	if ok {
		if err := l.checkBeforeAppend(ctx, op, key); err != nil {
			return nil, err
		}
		if _, err := l.checkShared(ctx, op, key, false); err != nil {
			return nil, err
		}
		path := filepath.Join(l.shared, l.sharedName)
		if err := os.MkdirAll(l.shared, 0o700); err != nil {
			return nil, errs.E(op, errs.Other, l.shared, err)
		}
		if err := writeAnchor(path, own); err != nil {
			return nil, errs.E(op, errs.Other, path, err)
		}
		return nil, nil
	}
	from, err := l.checkShared(ctx, op, key, true)
	if err != nil {
		return nil, err
	}
	detail, _ := json.Marshal(map[string]string{"previous_witness": "none", "from_witness": from.name, "witness": from.anchor, "found_head": from.head})
	e, err := l.appendWitnessed(ctx, key, store.AuditEntry{Actor: actor, Action: "audit.anchor", Detail: detail})
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// anchoredFrom is what a joining replica anchored from: the shared
// witness's name and SEQ:HASH ("none" for an empty log) and the head it
// found.
type anchoredFrom struct{ name, anchor, head string }

// checkShared checks that the log holds, unchanged, the entry of every
// shared witness and that the chain from the oldest of them (with whole,
// from the first entry) is intact with valid MACs. With whole, it also
// refuses a log with entries and no shared witness, and returns the
// freshest witness.
func (l *Log) checkShared(ctx context.Context, op string, key []byte, whole bool) (anchoredFrom, error) {
	from := anchoredFrom{name: "none", anchor: "none", head: "empty"}
	var (
		ws      []sharedWitness
		entries []store.AuditEntry
		err     error
		start   int64
	)
	// A replica between its commit and its witness write has entries and
	// no witness yet: a second look a moment later finds it.
	for try := 0; ; try++ {
		// Witnesses first: each names an entry committed before it was
		// written, which the log read after it holds.
		if ws, err = readSharedWitnesses(l.shared); err != nil {
			return from, errs.E(op, errs.Invalid, l.shared, err)
		}
		if !whole && len(ws) == 0 {
			return from, nil
		}
		start = 1
		if !whole {
			start = ws[0].Seq
			for _, w := range ws {
				start = min(start, w.Seq)
			}
		}
		if entries, err = l.s.AuditFrom(ctx, start); err != nil {
			return from, err
		}
		if len(ws) > 0 || len(entries) == 0 || try == 1 {
			break
		}
		select {
		case <-time.After(joinRetry):
		case <-ctx.Done():
			return from, ctx.Err()
		}
	}
	if len(ws) == 0 && len(entries) == 0 {
		return from, nil
	}
	if n := len(entries); n > 0 {
		from.head = Anchor{Seq: entries[n-1].Seq, Hash: entries[n-1].Hash}.String()
	}
	if len(ws) == 0 {
		return from, errs.New(op, errs.Invalid, l.witness, fmt.Sprintf("no witness for this audit log (it has entries up to %d), neither here nor among the replicas' witnesses in %s; if that is expected (a new store, restored keys), check it with `rekey audit verify` and run `rekey audit reanchor --yes` with this replica's $REKEY_HOME, --store and --keys", entries[len(entries)-1].Seq, l.shared))
	}
	r := Report{}
	add := func(seq int64, format string, a ...any) {
		r.Breaks = append(r.Breaks, Break{Seq: seq, Problem: fmt.Sprintf(format, a...)})
	}
	freshest := ws[0]
	for _, w := range ws {
		checkAnchor(entries, w.Anchor, "witness "+filepath.Join(l.shared, w.name), add)
		if w.Seq > freshest.Seq {
			freshest = w
		}
	}
	checkChain(entries, start, l.signedAfter(freshest.Seq), key, &r, add)
	if !r.OK() {
		b := r.Breaks[0]
		return from, errs.New(op, errs.Invalid, l.shared, fmt.Sprintf("refusing to anchor from the replicas' witnesses: entry %d: %s (run `rekey audit verify`)", b.Seq, b.Problem))
	}
	from.name, from.anchor = freshest.name, freshest.Anchor.String()
	return from, nil
}

// joinRetry is how long Join waits before it looks again for the witness
// of a replica that has just appended to an empty log.
var joinRetry = 2 * time.Second

// sharedWitness is one replica's witness in the shared directory.
type sharedWitness struct {
	name string
	Anchor
}

// readSharedWitnesses reads every witness in dir (none when dir does not
// exist), in name order; the temporary files of a write in progress
// (dot files) are not witnesses.
func readSharedWitnesses(dir string) ([]sharedWitness, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []sharedWitness
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") || !e.Type().IsRegular() {
			continue
		}
		a, ok, err := readWitness(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		if ok {
			out = append(out, sharedWitness{name: e.Name(), Anchor: a})
		}
	}
	return out, nil
}

// Hash is an entry's hash: SHA-256 over the previous hash and every other
// column, each length-prefixed so that no two different entries encode
// alike.
func Hash(e store.AuditEntry) string {
	h := sha256.New()
	for _, f := range []string{
		e.PrevHash, strconv.FormatInt(e.Seq, 10), store.FormatTime(e.Time), e.Actor, e.Action, e.IncidentID, string(e.Detail),
	} {
		fmt.Fprintf(h, "%d:%s;", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// mac is the entry MAC: HMAC-SHA256 of its hash (which covers every
// column and the chain) under key; "" without a key.
func mac(key []byte, hash string) string {
	if key == nil {
		return ""
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("rekey audit v1\x00"))
	m.Write([]byte(hash))
	return hex.EncodeToString(m.Sum(nil))
}

// key loads the MAC key (creating it when create is set); nil when the
// log has none.
func (l *Log) key(create bool) ([]byte, error) {
	if l.keyPath == "" {
		return nil, nil
	}
	if create {
		return secret.LoadOrCreateKey(filepath.Dir(l.keyPath), filepath.Base(l.keyPath))
	}
	return secret.LoadKey(l.keyPath)
}

// Break is one place where the log is not what was written. Seq 0 is
// the log as a whole.
type Break struct {
	Seq     int64  `json:"seq"`
	Problem string `json:"problem"`
}

// Report is what Verify found.
type Report struct {
	Entries int     `json:"entries"`
	HeadSeq int64   `json:"head_seq"`
	Head    string  `json:"head"` // the last entry's hash
	Breaks  []Break `json:"breaks"`
	// Witnessed says whether a witness file was checked.
	Witnessed bool `json:"witnessed"`
	// SharedWitnesses counts the replicas' witnesses checked (those in
	// a shared keys directory, WithSharedWitnesses).
	SharedWitnesses int `json:"shared_witnesses,omitempty"`
	// Anchored lists the SEQ:HASH anchors given to Verify that were checked.
	Anchored []string `json:"anchored,omitempty"`
	// MACChecked says whether entry MACs were checked with a key.
	MACChecked bool `json:"mac_checked"`
	// Signed counts entries whose MAC verified; Unsigned the entries
	// written before the log carried MACs (before the first entry with
	// one), which only the chain covers.
	Signed   int `json:"signed"`
	Unsigned int `json:"unsigned"`
}

// OK reports whether the log is intact.
func (r Report) OK() bool { return len(r.Breaks) == 0 }

// Verify reads the whole log and checks every link, every MAC (with a
// key), the witness (with one) and each anchor given. It fails only when
// the log cannot be read; a broken log is a Report with Breaks.
func (l *Log) Verify(ctx context.Context, anchors ...Anchor) (Report, error) {
	var shared []sharedWitness
	if l.shared != "" {
		// Read before the log: each names an entry committed before it.
		ws, err := readSharedWitnesses(l.shared)
		if err != nil {
			return Report{}, errs.E("audit: verify", errs.Invalid, l.shared, err)
		}
		shared = ws
	}
	entries, err := l.s.AuditLog(ctx)
	if err != nil {
		return Report{}, err
	}
	r := Report{Entries: len(entries), Breaks: []Break{}}
	add := func(seq int64, format string, a ...any) {
		r.Breaks = append(r.Breaks, Break{Seq: seq, Problem: fmt.Sprintf(format, a...)})
	}
	if n := len(entries); n > 0 {
		r.Head, r.HeadSeq = entries[n-1].Hash, entries[n-1].Seq
	}

	key, err := l.key(false)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if first := firstSigned(entries); first != 0 {
			add(0, "entries from %d on carry MACs, but there is no audit key at %s to check them (copy it from the installation that wrote them)", first, l.keyPath)
		}
	case err != nil:
		return r, errs.E("audit: verify", errs.Permission, l.keyPath, err)
	}
	r.MACChecked = key != nil

	// Entries after an anchor were written by a rekey that signs: one
	// without a MAC there is forged or stripped, not old.
	after := int64(0)
	for _, a := range anchors {
		checkAnchor(entries, a, "anchor "+a.String(), add)
		r.Anchored = append(r.Anchored, a.String())
		after = max(after, a.Seq)
	}
	for _, w := range shared {
		checkAnchor(entries, w.Anchor, "witness "+filepath.Join(l.shared, w.name), add)
		after = max(after, w.Seq)
		r.SharedWitnesses++
	}
	if l.witness != "" {
		w, ok, err := readWitness(l.witness)
		if err != nil {
			return r, errs.E("audit: verify", errs.Invalid, l.witness, err)
		}
		switch {
		case ok:
			r.Witnessed = true
			checkAnchor(entries, w, "witness "+l.witness, add)
			after = max(after, w.Seq)
		case len(entries) > 0 && len(shared) > 0:
			// The replicas' witnesses stand in for this machine's.
			r.Witnessed = true
		case len(entries) > 0:
			add(0, "no witness for this log on this machine (%s): entries cut from its end cannot be ruled out; if that is expected (a new machine, a restored $REKEY_HOME), run `rekey audit reanchor --yes`", l.witness)
		}
	}
	checkChain(entries, 1, l.signedAfter(after), key, &r, add)
	return r, nil
}

// checkChain checks entries (in seq order), the log from entry from on:
// each entry follows the one before it in number and hash (the first is
// numbered from; entry 1 follows nothing), hashes to its hash and carries
// a valid MAC (with a key). An entry without a MAC is old (Unsigned) only
// while no entry before it has one and it is not after the anchored entry
// numbered after (0 for none).
func checkChain(entries []store.AuditEntry, from, after int64, key []byte, r *Report, add func(int64, string, ...any)) {
	prev := store.AuditEntry{Seq: from - 1}
	signedSince := int64(0)
	for i, e := range entries {
		switch want := prev.Seq + 1; {
		case e.Seq > want:
			add(e.Seq, "entries %d to %d are missing: deleted", want, e.Seq-1)
		case e.Seq < want:
			add(e.Seq, "sequence goes back from %d to %d", prev.Seq, e.Seq)
		}
		if (i > 0 || e.Seq == 1) && e.PrevHash != prev.Hash {
			add(e.Seq, "does not follow entry %d: the chain was reordered, or an entry before it deleted or rewritten", prev.Seq)
		}
		h := Hash(e)
		if h != e.Hash {
			add(e.Seq, "content does not match its hash: the entry was edited")
		}
		switch {
		case e.MAC == "" && signedSince != 0:
			add(e.Seq, "has no MAC though entry %d before it has one: written without the audit key (forged), or its MAC removed", signedSince)
		case e.MAC == "" && after != 0 && e.Seq > after:
			add(e.Seq, "has no MAC though it was written after the anchored entry %d: written without the audit key (forged), or its MAC removed", after)
		case e.MAC == "":
			r.Unsigned++
		case key != nil && !hmac.Equal([]byte(e.MAC), []byte(mac(key, h))):
			add(e.Seq, "MAC does not match the audit key: written or rewritten without the key (forged), or by an installation with another key")
		case key != nil:
			r.Signed++
		}
		if e.MAC != "" && signedSince == 0 {
			signedSince = e.Seq
		}
		prev = e
	}
}

// signedAfter is seq when entries after the anchored entry seq must
// carry a MAC: when this log signs, whoever wrote them (this rekey or
// another writer of the store, which cannot be older than the schema that
// added MACs) signed them too. A log without a key (tests, the chain
// alone) expects nothing.
func (l *Log) signedAfter(seq int64) int64 {
	if l.keyPath == "" {
		return 0
	}
	return seq
}

func firstSigned(entries []store.AuditEntry) int64 {
	for _, e := range entries {
		if e.MAC != "" {
			return e.Seq
		}
	}
	return 0
}

// checkAnchor checks that entries (in seq order) hold the entry a names,
// unchanged; what names where it was kept.
func checkAnchor(entries []store.AuditEntry, a Anchor, what string, add func(int64, string, ...any)) {
	for _, e := range entries {
		if e.Seq == a.Seq {
			if e.Hash != a.Hash || Hash(e) != a.Hash {
				add(a.Seq, "differs from what was written (%s): the log was rewritten", what)
			}
			return
		}
	}
	last := int64(0)
	if len(entries) > 0 {
		last = entries[len(entries)-1].Seq
	}
	if a.Seq > last {
		add(a.Seq, "the log held entries up to %d (%s) but now ends at %d: entries were deleted", a.Seq, what, last)
		return
	}
	add(a.Seq, "entry is missing (%s)", what)
}

// writeWitness replaces the witness whole and durably; two appenders
// racing may leave the older of their entries in it, which is still a
// true witness.
func writeWitness(path string, e store.AuditEntry) error {
	return writeAnchor(path, Anchor{Seq: e.Seq, Hash: e.Hash})
}

func writeAnchor(path string, a Anchor) error {
	return secret.WriteFile(path, fmt.Appendf(nil, "%d %s\n", a.Seq, a.Hash), true)
}

func readWitness(path string) (Anchor, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Anchor{}, false, nil
	}
	if err != nil {
		return Anchor{}, false, err
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return Anchor{}, false, errors.New("witness file is not \"SEQ HASH\"")
	}
	seq, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return Anchor{}, false, errors.New("witness file is not \"SEQ HASH\"")
	}
	return Anchor{Seq: seq, Hash: f[1]}, true, nil
}
