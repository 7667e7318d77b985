package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/secret"
)

// receiver is a webhook endpoint: it records every request and answers
// with the next of its replies (the last one repeats).
type receiver struct {
	t       *testing.T
	mu      sync.Mutex
	got     []request
	replies []int
	srv     *httptest.Server
}

type request struct {
	path, event, delivery, contentType string
	body                               []byte
}

func newReceiver(t *testing.T, replies ...int) *receiver {
	t.Helper()
	r := &receiver{t: t, replies: replies}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, request{req.URL.Path, req.Header.Get("X-Rekey-Event"), req.Header.Get("X-Rekey-Delivery"), req.Header.Get("Content-Type"), b})
		code := http.StatusOK
		if len(r.replies) > 0 {
			code = r.replies[0]
			if len(r.replies) > 1 {
				r.replies = r.replies[1:]
			}
		}
		r.mu.Unlock()
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "0")
		}
		w.WriteHeader(code)
		if code == http.StatusOK {
			io.WriteString(w, "ok") // what Slack answers
		} else {
			io.WriteString(w, "invalid_payload")
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.got...)
}

// target is a target of typ posting to r under a path that stands for
// the secret part of a real webhook URL.
func (r *receiver) target(t *testing.T, typ string) Target {
	t.Helper()
	tg, err := NewTarget(typ, "env:HOOK_URL", secret.FromString(r.srv.URL+"/services/T0001/B0001/hooksecret0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// quick is a Notifier whose retries do not wait; warnings are collected.
func quick(t *testing.T, o Options) (*Notifier, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var warned []string
	o.Backoff, o.MaxBackoff = time.Millisecond, time.Millisecond
	o.Warn = func(l string) { mu.Lock(); warned = append(warned, l); mu.Unlock() }
	n := New(o)
	t.Cleanup(func() { n.Close(context.Background()) })
	return n, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), warned...) }
}

// drain closes n, waiting for every queued delivery.
func drain(t *testing.T, n *Notifier) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
}

var event = Event{
	Kind: ApprovalNeeded, Incident: "inc-7", Identity: "shop-db/orders_svc", Risk: "critical", Step: "revoke-old",
	Message: "revoke orders_svc's old password waits for an approver (policy: revoke)",
	Owners:  []string{"#orders-oncall", "data<team>@shop.example"}, Link: "https://rekey.example/incidents/inc-7",
	Time: time.Date(2026, 12, 6, 6, 0, 0, 0, time.UTC),
}

// Slack receives an incoming-webhook message: text (what notifications
// show) and blocks, every value escaped as Slack's formatting asks, the
// owners named and the link given.
func TestSlackMessage(t *testing.T) {
	r := newReceiver(t)
	n, _ := quick(t, Options{})
	n.Notify([]Target{r.target(t, inventory.NotifySlack)}, event, nil)
	drain(t, n)
	got := r.requests()
	if len(got) != 1 || got[0].contentType != "application/json" || got[0].event != "approval-needed" || got[0].path != "/services/T0001/B0001/hooksecret0123456789" {
		t.Fatalf("requests: %+v", got)
	}
	var msg struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type     string `json:"type"`
			Text     struct{ Type, Text string }
			Elements []struct{ Type, Text string }
		} `json:"blocks"`
	}
	if err := json.Unmarshal(got[0].body, &msg); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"*Incident inc-7: a step waits for approval*", "identity *shop-db/orders_svc*", "risk *critical*",
		"step `revoke-old`", "Owners: #orders-oncall, data&lt;team&gt;@shop.example", "waits for an approver"} {
		if !strings.Contains(msg.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, msg.Text)
		}
	}
	if strings.Contains(msg.Text, "<team>") {
		t.Errorf("unescaped <: %s", msg.Text)
	}
	if len(msg.Blocks) != 2 || msg.Blocks[0].Type != "section" || msg.Blocks[0].Text.Type != "mrkdwn" ||
		msg.Blocks[1].Type != "context" || msg.Blocks[1].Elements[0].Text != "<https://rekey.example/incidents/inc-7|Open incident inc-7>" {
		t.Errorf("blocks: %+v", msg.Blocks)
	}
	if s := n.Stats(); s != (Stats{Sent: 1}) {
		t.Errorf("stats %+v", s)
	}
}

// A long message (a step's error) is cut for Slack, whose section text
// holds 3,000 characters; the webhook gets it whole.
func TestSlackCutsLongMessages(t *testing.T) {
	r := newReceiver(t)
	n, _ := quick(t, Options{})
	long := event
	long.Message = strings.Repeat("é", 5000)
	n.Notify([]Target{r.target(t, inventory.NotifySlack), r.target(t, inventory.NotifyWebhook)}, long, nil)
	amps := event
	amps.Message = strings.Repeat("&", 1000) // 5,000 characters escaped
	n.Notify([]Target{r.target(t, inventory.NotifySlack)}, amps, nil)
	drain(t, n)
	for _, req := range r.requests() {
		var p struct {
			Text   string
			Blocks []struct{ Text struct{ Text string } }
		}
		if err := json.Unmarshal(req.body, &p); err != nil {
			t.Fatal(err)
		}
		if p.Blocks == nil {
			continue // the webhook
		}
		sec := p.Blocks[0].Text.Text
		if n := len([]rune(sec)); n > 3000 || !strings.Contains(sec, "é…") && !strings.HasSuffix(sec, "&amp;…") {
			t.Errorf("Slack section of %d characters: %.80s…%s", n, sec, sec[max(0, len(sec)-20):])
		}
	}
	var all string
	for _, req := range r.requests() {
		all += string(req.body)
	}
	if len(r.requests()) != 3 || !strings.Contains(all, strings.Repeat("é", 5000)) {
		t.Errorf("the webhook did not get the whole message")
	}
}

// A generic webhook receives the event as it is.
func TestWebhookEvent(t *testing.T) {
	r := newReceiver(t)
	n, _ := quick(t, Options{})
	n.Notify([]Target{r.target(t, inventory.NotifyWebhook)}, event, nil)
	drain(t, n)
	got := r.requests()
	if len(got) != 1 {
		t.Fatalf("requests: %+v", got)
	}
	var ev Event
	if err := json.Unmarshal(got[0].body, &ev); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(event, ev); diff != "" {
		t.Errorf("event (-want +got):\n%s", diff)
	}
}

// 5xx, 408 and 429 are tried again with the same delivery id until the
// receiver takes it; a 4xx is final; attempts are bounded.
func TestRetries(t *testing.T) {
	again := newReceiver(t, 503, 429, 408, 200)
	refused := newReceiver(t, 404)
	down := newReceiver(t, 500)
	n, warned := quick(t, Options{Attempts: 4})
	n.Notify([]Target{again.target(t, inventory.NotifySlack), refused.target(t, inventory.NotifySlack), down.target(t, inventory.NotifyWebhook)}, event, nil)
	drain(t, n)
	a := again.requests()
	if len(a) != 4 {
		t.Fatalf("retried %d times, want 4", len(a))
	}
	for _, r := range a {
		if r.delivery == "" || r.delivery != a[0].delivery {
			t.Errorf("delivery ids differ between attempts: %q %q", r.delivery, a[0].delivery)
		}
	}
	if got := len(refused.requests()); got != 1 {
		t.Errorf("a 404 was tried %d times", got)
	}
	if got := len(down.requests()); got != 4 {
		t.Errorf("a failing receiver was tried %d times, want the 4 attempts", got)
	}
	if s := n.Stats(); s != (Stats{Sent: 1, Failed: 2}) {
		t.Errorf("stats %+v", s)
	}
	w := strings.Join(warned(), "\n")
	for _, want := range []string{"notify slack env:HOOK_URL: approval-needed inc-7: 404 Not Found: invalid_payload",
		"notify webhook env:HOOK_URL: approval-needed inc-7: gave up after 4 attempts: 500 Internal Server Error"} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings lack %q:\n%s", want, w)
		}
	}
}

// A receiver that does not answer is cut off by the per-attempt timeout
// and tried again; an unreachable one too. Neither warning holds the URL.
func TestTimeoutAndUnreachable(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		first := calls == 1
		mu.Unlock()
		if first {
			// Never answers: the client gives up and closes the
			// connection, which the server sees once the body is read.
			io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
			return
		}
		io.WriteString(w, "ok")
	}))
	defer slow.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	goneURL := gone.URL + "/services/T0001/B0001/gonesecret0123456789"
	gone.Close()
	slowT, _ := NewTarget(inventory.NotifySlack, "env:SLOW", secret.FromString(slow.URL+"/hook/slowsecret0123456789"))
	goneT, _ := NewTarget(inventory.NotifyWebhook, "file:/etc/rekey/hook.url", secret.FromString(goneURL))
	n, warned := quick(t, Options{Attempts: 2, Timeout: 200 * time.Millisecond})
	n.Notify([]Target{slowT, goneT}, event, nil)
	drain(t, n)
	mu.Lock()
	defer mu.Unlock()
	if calls != 2 {
		t.Errorf("the slow receiver was called %d times, want 2", calls)
	}
	if s := n.Stats(); s != (Stats{Sent: 1, Failed: 1}) {
		t.Errorf("stats %+v", s)
	}
	w := strings.Join(warned(), "\n")
	if !strings.Contains(w, "notify webhook file:/etc/rekey/hook.url: approval-needed inc-7: gave up after 2 attempts") {
		t.Errorf("warnings: %s", w)
	}
	if strings.Contains(w, "secret0123456789") {
		t.Errorf("a warning holds a webhook URL: %s", w)
	}
}

// Notify never waits for a receiver: with the one worker stuck and the
// queue full, further notifications are dropped, counted and warned
// about, and Notify returns at once.
func TestNotifyNeverBlocks(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 100)
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	}))
	defer stuck.Close()
	defer close(release)
	tg, _ := NewTarget(inventory.NotifyWebhook, "env:HOOK_URL", secret.FromString(stuck.URL))
	n, warned := quick(t, Options{Queue: 2, Workers: 1, Attempts: 1, Timeout: time.Hour})
	n.Notify([]Target{tg}, event, nil)
	<-entered // the worker holds the first delivery
	for range 10 {
		n.Notify([]Target{tg}, event, nil)
	}
	if s := n.Stats(); s.Dropped != 8 {
		t.Errorf("dropped %d, want 8 (2 wait in the queue)", s.Dropped)
	}
	if w := warned(); len(w) != 8 || !strings.Contains(w[0], "dropped: 2 notifications already wait") {
		t.Errorf("warnings: %q", w)
	}
}

// A secret the caller holds never reaches a receiver, in any encoding
// the masker knows, whichever field it was put in.
func TestNoSecretInAnyPayload(t *testing.T) {
	held := secret.FromString("s3cr3t-Pa55word/with+chars")
	m := secret.NewMasker(nil)
	m.Add(held)
	slack := newReceiver(t)
	hook := newReceiver(t)
	n, _ := quick(t, Options{})
	leaky := event
	leaky.Message = "psql failed: password authentication failed for s3cr3t-Pa55word/with+chars"
	leaky.Step = "deliver-s3cr3t-Pa55word%2Fwith%2Bchars"
	leaky.Owners = []string{"czNjcjN0LVBhNTV3b3JkL3dpdGgrY2hhcnM="}
	leaky.Link = "https://rekey.example/?p=s3cr3t-Pa55word%2Fwith%2Bchars"
	for _, k := range []Kind{IncidentOpened, ApprovalNeeded, StepFailed, RunDone} {
		leaky.Kind = k
		n.Notify([]Target{slack.target(t, inventory.NotifySlack), hook.target(t, inventory.NotifyWebhook)}, leaky, m)
	}
	drain(t, n)
	all := append(slack.requests(), hook.requests()...)
	if len(all) != 8 {
		t.Fatalf("%d requests, want 8", len(all))
	}
	for _, r := range all {
		if m.Holds(string(r.body)) || strings.Contains(string(r.body), "Pa55word") {
			t.Errorf("a payload holds the secret: %s", r.body)
		}
		if !strings.Contains(string(r.body), secret.Redacted) {
			t.Errorf("nothing was masked in %s", r.body)
		}
	}
}

func TestTargetsResolveReferences(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hook.url"), []byte("https://hooks.example/x/y\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.url"), []byte("not a url but a secret value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	inv := &inventory.Inventory{Notify: []inventory.NotifyTarget{
		{Type: inventory.NotifySlack, URL: inventory.Ref{Scheme: "env", Name: "SLACK_URL"}},
		{Type: inventory.NotifyWebhook, URL: inventory.Ref{Scheme: "file", Name: "hook.url", Dir: dir}},
		{Type: inventory.NotifySlack, URL: inventory.Ref{Scheme: "env", Name: "UNSET"}},
		{Type: inventory.NotifyWebhook, URL: inventory.Ref{Scheme: "file", Name: "bad.url", Dir: dir}},
	}}
	got, problems := Targets(inv, func(k string) string {
		return map[string]string{"SLACK_URL": "https://hooks.slack.com/services/T/B/abc"}[k]
	})
	if len(got) != 2 || got[0].Type != "slack" || got[0].Ref != "env:SLACK_URL" || got[1].Ref != "file:hook.url" ||
		string(got[1].url.Reveal()) != "https://hooks.example/x/y" {
		t.Errorf("targets: %+v", got)
	}
	var lines []string
	for _, p := range problems {
		lines = append(lines, p.Error())
	}
	all := strings.Join(lines, "\n")
	if len(problems) != 2 || !strings.Contains(all, "env:UNSET") || !strings.Contains(all, "notify webhook: file:bad.url does not hold an http:// or https:// URL") {
		t.Errorf("problems: %s", all)
	}
	if strings.Contains(all, "secret value") {
		t.Errorf("a problem quotes the file's content: %s", all)
	}
}

func TestOwners(t *testing.T) {
	inv := &inventory.Inventory{Identities: []inventory.Identity{
		{Name: "app", System: "db", Owner: inventory.Owner{Team: "orders", Contact: "#orders-oncall"}},
		{Name: "app", System: "cache", Owner: inventory.Owner{Contact: "#cache"}},
		{Name: "etl", System: "db", Owner: inventory.Owner{Team: "data"}},
	}}
	if got := Owners(inv, "db", "app"); !cmp.Equal(got, []string{"#orders-oncall"}) {
		t.Errorf("db/app: %q", got)
	}
	if got := Owners(inv, "db", "etl"); !cmp.Equal(got, []string{"data"}) {
		t.Errorf("db/etl (a team, no contact): %q", got)
	}
	if got := Owners(inv, "db", "nobody"); got != nil {
		t.Errorf("unknown: %q", got)
	}
}

// The nil Notifier takes everything and does nothing.
func TestNilNotifier(t *testing.T) {
	var n *Notifier
	n.Notify([]Target{{Type: "slack"}}, event, nil)
	if n.Stats() != (Stats{}) || n.Close(context.Background()) != nil {
		t.Error("nil notifier")
	}
}

// One target's events arrive in the order they were notified, even when
// the first needs a retry and other workers are free: a run's end must
// not overtake the failure of its step.
func TestOneTargetsEventsStayInOrder(t *testing.T) {
	r := newReceiver(t, http.StatusServiceUnavailable, http.StatusOK)
	n, _ := quick(t, Options{Workers: 4})
	tg := r.target(t, inventory.NotifyWebhook)
	for i := range 8 {
		ev := event
		ev.Step = fmt.Sprintf("s%d", i)
		n.Notify([]Target{tg}, ev, nil)
	}
	drain(t, n)
	var order []string
	for _, req := range r.requests() {
		var ev Event
		if err := json.Unmarshal(req.body, &ev); err != nil {
			t.Fatal(err)
		}
		if len(order) == 0 || order[len(order)-1] != ev.Step {
			order = append(order, ev.Step)
		}
	}
	if got := strings.Join(order, ","); got != "s0,s1,s2,s3,s4,s5,s6,s7" {
		t.Errorf("delivered in the order %s", got)
	}
}
