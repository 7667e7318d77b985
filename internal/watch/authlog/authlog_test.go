package authlog

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
	"github.com/rekeyhq/rekey/internal/watch"
)

// fake is a system's kept refusals, changed by the test between reads.
type fake struct {
	mu      sync.Mutex
	entries []provider.AuthLogEntry
}

func (f *fake) AuthLog(context.Context) ([]provider.AuthLogEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]provider.AuthLogEntry(nil), f.entries...), nil
}

func (f *fake) set(es ...provider.AuthLogEntry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries = es
}

// New refusals become one event each, repeats counted; a restart on the
// same store hands over only what came after the last handed over.
func TestNewRefusalsOnceAcrossRestarts(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "rekey.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sys := &fake{}
	follower := func() *Follower {
		return New(Config{System: "cache", Store: st, Open: func(context.Context) (provider.AuthLogReader, func(), error) {
			return sys, func() {}, nil
		}})
	}
	var got []string
	h := func(_ context.Context, b watch.Batch) error {
		for _, e := range b.Events {
			got = append(got, e.Credential+" "+e.Action+" "+e.Source+" "+string(e.Outcome)+" "+e.File)
		}
		return nil
	}
	t0 := time.Now().Add(-time.Minute)
	auth := provider.AuthLogEntry{Key: "1", Count: 2, Reason: "auth", Object: "AUTH", Login: "canary", Client: "127.0.0.2:5000", Last: t0}
	get := provider.AuthLogEntry{Key: "2", Count: 1, Reason: "command", Object: "get", Login: "canary", Client: "127.0.0.2:5001", Last: t0}
	sys.set(auth, get)
	fl := follower()
	if err := fl.pass(context.Background(), must(sys), h); err != nil {
		t.Fatal(err)
	}
	want := []string{"canary auth 127.0.0.2 failure authlog:cache", "canary auth 127.0.0.2 failure authlog:cache", "canary get 127.0.0.2 failure authlog:cache"}
	check(t, "first read", got, want)
	got = nil
	auth.Count, auth.Last = 3, t0.Add(time.Second)
	sys.set(auth, get)
	if err := fl.pass(context.Background(), must(sys), h); err != nil {
		t.Fatal(err)
	}
	check(t, "a repeat", got, want[:1])
	got = nil
	// A restart: the store says what was handed over; a new refusal
	// after it is handed over, the old ones are not.
	fl2 := follower()
	if o, ok, _ := st.Offset(context.Background(), fl2.key()); ok {
		fl2.since = time.Unix(0, o.Bytes)
	}
	other := provider.AuthLogEntry{Key: "3", Count: 1, Reason: "auth", Object: "AUTH", Login: "orders", Client: "10.0.0.9:1", Last: t0.Add(2 * time.Second)}
	sys.set(auth, get, other)
	if err := fl2.pass(context.Background(), must(sys), h); err != nil {
		t.Fatal(err)
	}
	check(t, "after a restart", got, []string{"orders auth 10.0.0.9 failure authlog:cache"})
}

func must(f *fake) []provider.AuthLogEntry {
	es, _ := f.AuthLog(context.Background())
	return es
}

func check(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %q, want %q", what, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: %q, want %q", what, got, want)
		}
	}
}
