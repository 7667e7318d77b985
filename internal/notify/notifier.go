package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rekeyhq/rekey/internal/secret"
)

// Options tune a Notifier; zero values are the defaults.
type Options struct {
	// Queue bounds the notifications waiting to be sent to the targets
	// one worker serves (256); past it Notify drops.
	Queue int
	// Workers is how many deliveries run at once (2). Each target is
	// served by one worker, so its events arrive in the order they were
	// notified (a step's failure before the run's end).
	Workers int
	// Attempts bounds the tries of one delivery (5); Timeout bounds each
	// (10 s). Backoff is the wait before the second try (1 s), doubled
	// before each next one up to MaxBackoff (30 s); a 429's Retry-After is
	// honoured up to MaxBackoff.
	Attempts            int
	Timeout             time.Duration
	Backoff, MaxBackoff time.Duration
	// Client sends the requests (a client without cookies or redirects to
	// other hosts: http.DefaultClient's transport).
	Client *http.Client
	// Warn gets one line per notification dropped or given up on; nil is
	// quiet. It is called from Notify too, so it must not block.
	Warn func(line string)
}

func (o Options) withDefaults() Options {
	if o.Queue <= 0 {
		o.Queue = 256
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.Attempts <= 0 {
		o.Attempts = 5
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.Client == nil {
		o.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return o
}

// Stats count what a Notifier did with the deliveries it was given (one
// per event and target).
type Stats struct {
	Sent, Failed, Dropped int64
}

// Notifier delivers events to targets in the background. The nil
// Notifier drops everything silently: a server without notify: targets
// needs no checks at each call.
type Notifier struct {
	o      Options
	queues []chan delivery // one per worker; a target always goes to the same one
	ctx    context.Context // ends deliveries in flight when Close gives up waiting
	stop   context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.RWMutex // closed vs. sends on queue
	closed bool

	sent, failed, dropped atomic.Int64
}

type delivery struct {
	t    Target
	ev   Event
	body []byte
	id   string
}

// New starts a Notifier's workers; Close stops them.
func New(o Options) *Notifier {
	o = o.withDefaults()
	ctx, stop := context.WithCancel(context.Background())
	n := &Notifier{o: o, ctx: ctx, stop: stop}
	for range o.Workers {
		q := make(chan delivery, o.Queue)
		n.queues = append(n.queues, q)
		n.wg.Add(1)
		go n.work(q)
	}
	return n
}

// Notify queues ev for every target, its text fields masked with m
// (nil masks nothing). It never waits: a delivery that finds the queue
// full (or the Notifier closed) is dropped, counted and warned about.
func (n *Notifier) Notify(to []Target, ev Event, m *secret.Masker) {
	if n == nil || len(to) == 0 {
		return
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	ev = ev.masked(m)
	id := newID()
	n.mu.RLock()
	defer n.mu.RUnlock()
	for _, t := range to {
		b, err := body(t, ev)
		if err != nil {
			n.failed.Add(1)
			n.warn(fmt.Sprintf("notify %s %s: %s %s: encode: %v", t.Type, t.Ref, ev.Kind, ev.Incident, err))
			continue
		}
		if n.closed {
			n.dropped.Add(1)
			n.warn(fmt.Sprintf("notify %s %s: %s %s dropped: the notifier is closed", t.Type, t.Ref, ev.Kind, ev.Incident))
			continue
		}
		q := n.queueOf(t)
		select {
		case q <- delivery{t: t, ev: ev, body: b, id: id}:
		default:
			n.dropped.Add(1)
			n.warn(fmt.Sprintf("notify %s %s: %s %s dropped: %d notifications already wait", t.Type, t.Ref, ev.Kind, ev.Incident, cap(q)))
		}
	}
}

// Stats returns what was sent, given up on and dropped so far.
func (n *Notifier) Stats() Stats {
	if n == nil {
		return Stats{}
	}
	return Stats{Sent: n.sent.Load(), Failed: n.failed.Load(), Dropped: n.dropped.Load()}
}

// Close stops taking notifications and sends what is queued, until ctx
// ends; then deliveries in flight are cut off and what is left is
// counted as dropped. It is safe to call more than once.
func (n *Notifier) Close(ctx context.Context) error {
	if n == nil {
		return nil
	}
	n.mu.Lock()
	if !n.closed {
		n.closed = true
		for _, q := range n.queues {
			close(q)
		}
	}
	n.mu.Unlock()
	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	select {
	case <-done:
		n.stop()
		return nil
	case <-ctx.Done():
		n.stop()
		<-done
		return ctx.Err()
	}
}

func (n *Notifier) warn(line string) {
	if n.o.Warn != nil {
		n.o.Warn(line)
	}
}

// queueOf is the queue of the worker that serves t.
func (n *Notifier) queueOf(t Target) chan delivery {
	h := fnv.New32a()
	h.Write([]byte(t.Type))
	h.Write([]byte{0})
	h.Write([]byte(t.Ref))
	return n.queues[h.Sum32()%uint32(len(n.queues))]
}

func (n *Notifier) work(queue chan delivery) {
	defer n.wg.Done()
	for d := range queue {
		if n.ctx.Err() != nil {
			n.dropped.Add(1)
			continue
		}
		if err := n.deliver(d); err != nil {
			n.failed.Add(1)
			n.warn(fmt.Sprintf("notify %s %s: %s %s: %v", d.t.Type, d.t.Ref, d.ev.Kind, d.ev.Incident, err))
			continue
		}
		n.sent.Add(1)
	}
}

// deliver posts d until the target takes it, refuses it for good (a 4xx
// other than 408 and 429), or the attempts are spent.
func (n *Notifier) deliver(d delivery) error {
	wait := n.o.Backoff
	var last error
	for attempt := 1; attempt <= n.o.Attempts; attempt++ {
		retry, after, err := n.post(d)
		if err == nil {
			return nil
		}
		last = err
		if !retry {
			return err
		}
		if attempt == n.o.Attempts {
			break
		}
		if after <= 0 {
			after = wait
			wait = min(2*wait, n.o.MaxBackoff)
		}
		t := time.NewTimer(min(after, n.o.MaxBackoff))
		select {
		case <-t.C:
		case <-n.ctx.Done():
			t.Stop()
			return fmt.Errorf("stopped before attempt %d: %w", attempt+1, last)
		}
	}
	return fmt.Errorf("gave up after %d attempts: %w", n.o.Attempts, last)
}

// post makes one attempt. retry says whether another may succeed; after
// is how long the target asked to be left alone (429 Retry-After).
func (n *Notifier) post(d delivery) (retry bool, after time.Duration, err error) {
	ctx, cancel := context.WithTimeout(n.ctx, n.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, string(d.t.url.Reveal()), bytes.NewReader(d.body))
	if err != nil {
		return false, 0, errors.New("cannot build the request")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "rekey-notify")
	req.Header.Set("X-Rekey-Event", string(d.ev.Kind))
	// The same id on every attempt: a receiver that got a request whose
	// answer was lost can tell the retry from a new event.
	req.Header.Set("X-Rekey-Delivery", d.id)
	resp, err := n.o.Client.Do(req)
	if err != nil {
		return true, 0, errors.New(n.scrub(d.t, err))
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, 0, nil
	case resp.StatusCode == http.StatusTooManyRequests:
		return true, retryAfter(resp.Header.Get("Retry-After")), httpError(resp.Status, reply)
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
		return true, 0, httpError(resp.Status, reply)
	}
	return false, 0, httpError(resp.Status, reply)
}

// scrub is err's text without the target's URL: *url.Error quotes it,
// and a webhook URL is a credential.
func (n *Notifier) scrub(t Target, err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := err.Error()
	if errors.Is(err, context.DeadlineExceeded) {
		msg = "no answer within " + n.o.Timeout.String()
	}
	return strings.ReplaceAll(msg, string(t.url.Reveal()), "[the "+t.Ref+" URL]")
}

// httpError is a refusal with what the receiver said (Slack answers
// invalid_payload, channel_not_found… in plain text), cut to one short
// line.
func httpError(status string, reply []byte) error {
	said := strings.Join(strings.Fields(string(reply)), " ")
	if len(said) > 120 {
		said = said[:120] + "…"
	}
	if said == "" {
		return errors.New(status)
	}
	return fmt.Errorf("%s: %s", status, said)
}

// retryAfter reads a Retry-After header in seconds (the form Slack
// sends); 0 when absent or unreadable.
func retryAfter(h string) time.Duration {
	s, err := strconv.Atoi(strings.TrimSpace(h))
	if err != nil || s < 0 {
		return 0
	}
	return time.Duration(s) * time.Second
}

func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
