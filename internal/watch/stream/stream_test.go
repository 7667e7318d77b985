package stream

import (
	"bufio"
	"context"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rekeyhq/rekey/internal/logs/all"
	"github.com/rekeyhq/rekey/internal/testutil"
	"github.com/rekeyhq/rekey/internal/watch"
)

// cloudTrailLines returns n CloudTrail records, one per message, from the
// parser's real fixture.
func cloudTrailLines(t *testing.T, n int) [][]byte {
	t.Helper()
	f, err := os.Open("../../logs/cloudtrail/testdata/records.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	out := make([][]byte, n)
	for i := range out {
		out[i] = lines[i%len(lines)]
	}
	return out
}

type collector struct {
	mu   sync.Mutex
	seqs []int
}

func (c *collector) n() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seqs)
}

func follower(t *testing.T, url string) *Follower {
	t.Helper()
	fl, err := New(Config{URL: url, Subject: "logs.aws.>", Type: "cloudtrail", Durable: "rekey", Parsers: all.Parsers(), Batch: 10, Wait: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return fl
}

// run follows until stop says so, then returns.
func run(t *testing.T, fl *Follower, c *collector, stop func(n int) bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := func(_ context.Context, b watch.Batch) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, e := range b.Events {
			c.seqs = append(c.seqs, e.Line)
		}
		if stop(len(c.seqs)) {
			cancel()
		}
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- fl.Follow(ctx, h) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Follow did not stop within 60s")
	}
}

// Publish 100, consume 60, restart: the durable consumer gives exactly the
// other 40, each sequence once.
func TestDurableResume(t *testing.T) {
	url := testutil.StartNATS(t)
	testutil.PublishLogs(t, url, "logs.aws.trail", cloudTrailLines(t, 100))
	c := &collector{}
	run(t, follower(t, url), c, func(n int) bool { return n >= 60 })
	if c.n() != 60 {
		t.Fatalf("first run took %d records, want 60", c.n())
	}
	first := c.n()
	run(t, follower(t, url), c, func(n int) bool { return n >= 100 })
	if got := c.n() - first; got != 40 {
		t.Fatalf("second run took %d records, want 40", got)
	}
	sort.Ints(c.seqs)
	for i, s := range c.seqs {
		if s != i+1 {
			t.Fatalf("sequences %v: want 1..100 once each", c.seqs)
		}
	}
	// Nothing is left for a third run: every record was acknowledged.
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	cons, err := js.Consumer(context.Background(), "LOGS", "rekey")
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.NumPending != 0 || info.NumAckPending != 0 || info.AckFloor.Stream != 100 {
		t.Fatalf("consumer after both runs: pending %d, ack pending %d, ack floor %d", info.NumPending, info.NumAckPending, info.AckFloor.Stream)
	}
}

// A message that does not parse is counted with its sequence, not fatal.
func TestUnparseableMessageCounted(t *testing.T) {
	url := testutil.StartNATS(t)
	msgs := cloudTrailLines(t, 3)
	msgs = append(msgs[:1], append([][]byte{[]byte("{not a record")}, msgs[1:]...)...)
	testutil.PublishLogs(t, url, "logs.aws.trail", msgs)
	c := &collector{}
	fl := follower(t, url)
	run(t, fl, c, func(n int) bool { return n >= 3 })
	st := fl.Stats()["nats:LOGS/logs.aws.>"]
	if st.MalformedCount != 1 || len(st.Malformed) != 1 || st.Malformed[0].Line != 2 || st.Events != 3 {
		t.Fatalf("stats %+v, want 3 events and 1 malformed at sequence 2", st)
	}
}
