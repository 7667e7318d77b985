// Package claimtest is the conformance suite every claim.Claimer passes:
// one winner among workers claiming at once, a refusal that names the
// holder, release, and a holder that dies freeing its claim at once.
package claimtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/claim"
	"github.com/rekeyhq/rekey/internal/errs"
)

// Harness opens one implementation.
type Harness struct {
	// New returns a fresh database (a path, a URL) and cleans it up when
	// t ends.
	New func(t *testing.T) string
	// Open returns a Claimer on its own handle to the database, as a
	// separate process would have one, closed when t ends.
	Open func(t *testing.T, where string, o claim.Options) claim.Claimer
	// Die makes c's holder die as a crashed process does, leaving
	// whatever it leaves behind (a SQLite row naming a pid that no longer
	// runs, a PostgreSQL session ended by the server).
	Die func(t *testing.T, where string, c *claim.Claim)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// fast makes holders beat often, so that a lost claim shows quickly; the
// staleness limit stays long, so nothing here passes by a stale heartbeat.
func fast() claim.Options {
	return claim.Options{Stale: time.Hour, Beat: 20 * time.Millisecond}
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	t.Run("OneWinner", func(t *testing.T) { oneWinner(t, h) })
	t.Run("ReleaseFrees", func(t *testing.T) { releaseFrees(t, h) })
	t.Run("IncidentsAreIndependent", func(t *testing.T) { independent(t, h) })
	t.Run("HolderDies", func(t *testing.T) { holderDies(t, h) })
}

func oneWinner(t *testing.T, h Harness) {
	where := h.New(t)
	const n = 6
	claimers := make([]claim.Claimer, n)
	for i := range claimers {
		// One pid for all: a pid that does not run would be taken over.
		claimers[i] = h.Open(t, where, claim.Options{})
	}
	var (
		wg       sync.WaitGroup
		start    = make(chan struct{})
		claims   = make([]*claim.Claim, n)
		failures = make([]error, n)
	)
	for i := range claimers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			claims[i], failures[i] = claimers[i].Claim(ctx(t), "INC-20261206-race", fmt.Sprintf("worker%d", i))
		}()
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, c := range claims {
		if c == nil {
			continue
		}
		if winner >= 0 {
			t.Fatalf("workers %d and %d both hold the claim", winner, i)
		}
		winner = i
		t.Cleanup(func() { c.Release() })
	}
	if winner < 0 {
		t.Fatalf("nobody won: %v", failures)
	}
	for i, err := range failures {
		if i == winner {
			continue
		}
		var he *claim.HeldError
		if errs.KindOf(err) != errs.Conflict || !errors.As(err, &he) {
			t.Fatalf("worker %d: %v, want a conflict", i, err)
		}
		w := claims[winner].Holder
		want := fmt.Sprintf("incident INC-20261206-race is being worked on by worker%d (pid %d on %s) since ", winner, w.PID, w.Host)
		if !strings.Contains(err.Error(), want) {
			t.Errorf("worker %d: %q, want it to say %q", i, err, want)
		}
	}
}

func releaseFrees(t *testing.T, h Harness) {
	where := h.New(t)
	a, b := h.Open(t, where, claim.Options{}), h.Open(t, where, claim.Options{})
	c, err := a.Claim(ctx(t), "INC-1", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if c.Previous != nil {
		t.Errorf("a free incident had a previous holder: %+v", c.Previous)
	}
	if _, err := b.Claim(ctx(t), "INC-1", "bob"); errs.KindOf(err) != errs.Conflict {
		t.Fatalf("bob claimed alice's incident: %v", err)
	}
	// Claims are exclusive within one process too (the server's
	// goroutines): the same claimer is refused as well.
	if _, err := a.Claim(ctx(t), "INC-1", "alice"); errs.KindOf(err) != errs.Conflict {
		t.Fatalf("a second claim from the holder's own claimer: %v", err)
	}
	if err := c.Release(); err != nil {
		t.Fatal(err)
	}
	if err := c.Release(); err != nil {
		t.Errorf("a second release: %v", err)
	}
	d, err := b.Claim(ctx(t), "INC-1", "bob")
	if err != nil {
		t.Fatalf("after the release: %v", err)
	}
	if d.Previous != nil {
		t.Errorf("a released claim left a holder behind: %+v", d.Previous)
	}
	d.Release()
}

func independent(t *testing.T, h Harness) {
	where := h.New(t)
	a, b := h.Open(t, where, claim.Options{}), h.Open(t, where, claim.Options{})
	c1, err := a.Claim(ctx(t), "INC-1", "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Release()
	c2, err := b.Claim(ctx(t), "INC-2", "bob")
	if err != nil {
		t.Fatalf("a claim on INC-1 blocks INC-2: %v", err)
	}
	c2.Release()
}

func holderDies(t *testing.T, h Harness) {
	where := h.New(t)
	a, b := h.Open(t, where, fast()), h.Open(t, where, fast())
	c, err := a.Claim(ctx(t), "INC-1", "alice")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Release() })
	h.Die(t, where, c)
	// The staleness limit is an hour: only the holder's death frees it.
	var d *claim.Claim
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, err = b.Claim(ctx(t), "INC-1", "bob")
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("the dead holder's claim was not freed: %v", err)
	}
	defer d.Release()
	if d.Previous == nil || d.Previous.Actor != "alice" {
		t.Errorf("previous holder %+v, want alice", d.Previous)
	}
	// The old holder, were it only stalled, learns it lost the claim.
	select {
	case <-c.Lost():
	case <-time.After(30 * time.Second):
		t.Fatal("the old holder was not told it lost the claim")
	}
	select {
	case <-d.Lost():
		t.Fatal("the new holder lost its claim")
	default:
	}
}
