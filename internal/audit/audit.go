// Package audit is rekey's tamper-evident record of what was done in an
// incident, by whom: every command, step transition and approval is
// appended to the store's audit_log, each entry's hash covering the
// previous entry's hash and every other column of its own. Editing,
// deleting or reordering rows breaks the chain, and Verify says where.
//
// A chain alone cannot show that its newest entries were cut off, nor
// stop someone who rewrites every hash after an edit. So each installation
// also keeps a witness file (in $REKEY_HOME, outside the database) with
// the sequence number and hash of the last entry it appended; Verify
// checks that this entry is still in the log, unchanged.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/store"
)

// Log appends to and verifies one store's audit log.
type Log struct {
	s store.Responder
	// witness is the path of this installation's witness file for this
	// store, or "" for none.
	witness string
}

// New returns the audit log of s. witness is where the head of what this
// installation appended is kept ("" keeps none).
func New(s store.Responder, witness string) *Log { return &Log{s: s, witness: witness} }

// WitnessPath is the witness file for the store named spec inside home:
// one per store, so that two stores used from one machine do not confuse
// each other.
func WitnessPath(home, spec string) string {
	h := sha256.Sum256([]byte(spec))
	return filepath.Join(home, "audit-"+hex.EncodeToString(h[:6])+".witness")
}

// Append records that actor did action (in incident, "" for none), with
// detail (marshalled to a JSON object; it must never hold a secret).
func (l *Log) Append(ctx context.Context, actor, action, incident string, detail any) (store.AuditEntry, error) {
	const op = "audit: append"
	raw := json.RawMessage("{}")
	if detail != nil {
		b, err := json.Marshal(detail)
		if err != nil {
			return store.AuditEntry{}, errs.E(op, errs.Invalid, action, err)
		}
		raw = b
	}
	e, err := l.s.AppendAudit(ctx, store.AuditEntry{Actor: actor, Action: action, IncidentID: incident, Detail: raw}, Hash)
	if err != nil {
		return e, err
	}
	if l.witness != "" {
		if err := writeWitness(l.witness, e); err != nil {
			return e, errs.E(op, errs.Other, l.witness, err)
		}
	}
	return e, nil
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

// Break is one place where the log is not what was written.
type Break struct {
	Seq     int64  `json:"seq"`
	Problem string `json:"problem"`
}

// Report is what Verify found.
type Report struct {
	Entries int     `json:"entries"`
	Head    string  `json:"head"` // the last entry's hash
	Breaks  []Break `json:"breaks"`
	// Witnessed says whether a witness file was checked.
	Witnessed bool `json:"witnessed"`
}

// OK reports whether the log is intact.
func (r Report) OK() bool { return len(r.Breaks) == 0 }

// Verify reads the whole log and checks every link. It fails only when
// the log cannot be read; a broken log is a Report with Breaks.
func (l *Log) Verify(ctx context.Context) (Report, error) {
	entries, err := l.s.AuditLog(ctx)
	if err != nil {
		return Report{}, err
	}
	r := Report{Entries: len(entries), Breaks: []Break{}}
	add := func(seq int64, format string, a ...any) {
		r.Breaks = append(r.Breaks, Break{Seq: seq, Problem: fmt.Sprintf(format, a...)})
	}
	var prev store.AuditEntry
	for i, e := range entries {
		want := int64(1)
		if i > 0 {
			want = prev.Seq + 1
		}
		switch {
		case e.Seq > want:
			add(e.Seq, "entries %d to %d are missing: deleted", want, e.Seq-1)
		case e.Seq < want:
			add(e.Seq, "sequence goes back from %d to %d", prev.Seq, e.Seq)
		}
		if e.PrevHash != prev.Hash {
			add(e.Seq, "does not follow entry %d: the chain was reordered, or an entry before it deleted or rewritten", prev.Seq)
		}
		if Hash(e) != e.Hash {
			add(e.Seq, "content does not match its hash: the entry was edited")
		}
		prev = e
	}
	r.Head = prev.Hash
	if l.witness != "" {
		seq, hash, ok, err := readWitness(l.witness)
		if err != nil {
			return r, errs.E("audit: verify", errs.Invalid, l.witness, err)
		}
		if ok {
			r.Witnessed = true
			l.checkWitness(&r, entries, seq, hash, add)
		}
	}
	return r, nil
}

func (l *Log) checkWitness(r *Report, entries []store.AuditEntry, seq int64, hash string, add func(int64, string, ...any)) {
	for _, e := range entries {
		if e.Seq == seq {
			if e.Hash != hash {
				add(seq, "differs from what this installation wrote (witness %s): the log was rewritten", l.witness)
			}
			return
		}
	}
	last := int64(0)
	if len(entries) > 0 {
		last = entries[len(entries)-1].Seq
	}
	if seq > last {
		add(seq, "this installation wrote entries up to %d (witness %s) but the log ends at %d: entries were deleted", seq, l.witness, last)
		return
	}
	add(seq, "entry is missing (witness %s)", l.witness)
}

// writeWitness replaces the witness atomically; two appenders racing may
// leave the older of their entries in it, which is still a true witness.
func writeWitness(path string, e store.AuditEntry) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".witness-*")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "%d %s\n", e.Seq, e.Hash)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

func readWitness(path string) (seq int64, hash string, ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, "", false, nil
	}
	if err != nil {
		return 0, "", false, err
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, "", false, errors.New("witness file is not \"SEQ HASH\"")
	}
	seq, err = strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return 0, "", false, errors.New("witness file is not \"SEQ HASH\"")
	}
	return seq, f[1], true, nil
}
