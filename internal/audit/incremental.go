package audit

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// A Verifier verifies one log again and again, for a page that shows on
// every load whether the log is intact, without reading the whole log
// each time (a team's store holds thousands of entries). After a full
// Verify that found the log intact it keeps the last entry's (seq, hash)
// and then, until every has passed, checks only that this entry is still
// there unchanged, the entries after it (links, hashes, MACs) and the
// witness. Anything else, or a log found broken, is a full Verify.
//
// What that leaves unseen until the next full Verify (at most every
// later): an entry before the kept one edited or deleted while the kept
// entry stays as it was. A rewrite of the chain that reaches the kept
// entry, an edit of it or of any entry after it, a cut at the end and a
// witness moved are seen on the next Verify.
type Verifier struct {
	l     *Log
	every time.Duration
	now   func() time.Time

	mu   sync.Mutex
	last Report    // intact, when full is set
	full time.Time // when last was verified in full (zero: never)
}

// Verifier returns a Verifier of l that verifies in full at least every
// every (now is the clock, time.Now when nil).
func (l *Log) Verifier(every time.Duration, now func() time.Time) *Verifier {
	if now == nil {
		now = time.Now
	}
	return &Verifier{l: l, every: every, now: now}
}

// Log is the log v verifies.
func (v *Verifier) Log() *Log { return v.l }

// Verify is Log.Verify, incremental as the type says.
func (v *Verifier) Verify(ctx context.Context) (Report, error) {
	v.mu.Lock()
	last, full := v.last, v.full
	v.mu.Unlock()
	now := v.now()
	if !full.IsZero() && now.Sub(full) < v.every {
		r, ok, err := v.l.verifyAfter(ctx, last)
		if err != nil {
			return r, err
		}
		if ok && r.OK() {
			v.keep(r, full)
			return r, nil
		}
		if ok {
			v.keep(Report{}, time.Time{})
			return r, nil
		}
	}
	r, err := v.l.Verify(ctx)
	if err == nil && r.OK() {
		v.keep(r, now)
	} else {
		v.keep(Report{}, time.Time{})
	}
	return r, err
}

func (v *Verifier) keep(r Report, full time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.last, v.full = r, full
}

// verifyAfter verifies the entries after prev's head, which a Verify
// found intact, and that the head is unchanged. ok is false when it
// cannot tell that way (the head changed or is gone, the witness is not
// after it, shared witnesses, a key that appeared or went): then only a
// full Verify can say what happened.
func (l *Log) verifyAfter(ctx context.Context, prev Report) (_ Report, ok bool, _ error) {
	if prev.HeadSeq == 0 || l.shared != "" {
		return Report{}, false, nil
	}
	entries, err := l.s.AuditFrom(ctx, prev.HeadSeq)
	if err != nil {
		return Report{}, false, err
	}
	if len(entries) == 0 || entries[0].Seq != prev.HeadSeq || entries[0].Hash != prev.Head || Hash(entries[0]) != prev.Head {
		return Report{}, false, nil
	}
	key, err := l.key(false)
	if err != nil || (key != nil) != prev.MACChecked {
		return Report{}, false, nil
	}
	r := Report{Entries: prev.Entries + len(entries) - 1, Breaks: []Break{}, MACChecked: prev.MACChecked}
	last := entries[len(entries)-1]
	r.Head, r.HeadSeq = last.Hash, last.Seq
	add := func(seq int64, format string, a ...any) {
		r.Breaks = append(r.Breaks, Break{Seq: seq, Problem: fmt.Sprintf(format, a...)})
	}
	after := int64(0)
	if l.witness != "" {
		w, found, err := readWitness(l.witness)
		if err != nil || !found || w.Seq < prev.HeadSeq {
			return Report{}, false, nil
		}
		r.Witnessed = true
		checkAnchor(entries, w, "witness "+l.witness, add)
		after = w.Seq
	}
	var t Report
	checkChain(entries, prev.HeadSeq, l.signedAfter(after), key, &t, add)
	// The kept entry was counted by the Verify before.
	r.Signed, r.Unsigned = prev.Signed+t.Signed, prev.Unsigned+t.Unsigned
	switch {
	case entries[0].MAC == "":
		r.Unsigned--
	case key != nil:
		r.Signed--
	}
	return r, true, nil
}
