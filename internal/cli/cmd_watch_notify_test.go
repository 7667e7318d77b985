package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/notify"
	"github.com/rekeyhq/rekey/internal/review"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/watch"
	"github.com/rekeyhq/rekey/internal/watch/watcher"
)

// The watcher's events reach the inventory's notify: targets with the
// identity, its owners and the finding; a target that cannot be resolved
// here is warned about, by its reference; no target, no notifier.
func TestWatchNotifies(t *testing.T) {
	var mu sync.Mutex
	var got []notify.Event
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev notify.Event
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Errorf("body %s: %v", b, err)
		}
		mu.Lock()
		got = append(got, ev)
		mu.Unlock()
	}))
	defer hook.Close()
	var stderr bytes.Buffer
	g := &globals{env: Env{Stderr: &stderr, Getenv: func(k string) string {
		return map[string]string{"HOOK": hook.URL + "/watchsecret0123"}[k]
	}}}
	inv := &inventory.Inventory{
		Identities: []inventory.Identity{{Name: "app", System: "db", Owner: inventory.Owner{Team: "orders", Contact: "#orders-oncall"}}},
		Notify: []inventory.NotifyTarget{
			{Type: inventory.NotifyWebhook, URL: inventory.Ref{Scheme: "env", Name: "HOOK"}},
			{Type: inventory.NotifySlack, URL: inventory.Ref{Scheme: "env", Name: "UNSET_SLACK"}},
		},
	}
	send, stop := g.watchNotify(inv, g.warnLine)
	if send == nil {
		t.Fatal("no notifier for an inventory with a target")
	}
	f := watch.Finding{Finding: review.Finding{Kind: "canary-use", Severity: "critical", Summary: "the canary login decoy logged in from 203.0.113.9"}}
	if err := send(context.Background(), watcher.Event{Kind: watcher.EventContained, Incident: "INC-1",
		Identity: store.IdentityRef{System: "db", Name: "app"}, Finding: f, Detail: "run done"}); err != nil {
		t.Fatal(err)
	}
	stop()
	if len(got) != 1 {
		t.Fatalf("%d notifications: %+v", len(got), got)
	}
	ev := got[0]
	if ev.Kind != notify.Contained || ev.Incident != "INC-1" || ev.Identity != "db/app" || ev.Risk != "critical" ||
		strings.Join(ev.Owners, ",") != "#orders-oncall" || ev.Message != "the canary login decoy logged in from 203.0.113.9 (run done)" {
		t.Errorf("event: %+v", ev)
	}
	if w := stderr.String(); !strings.Contains(w, "env:UNSET_SLACK") || strings.Contains(w, "watchsecret") {
		t.Errorf("warnings: %q", w)
	}
	if send, _ := g.watchNotify(&inventory.Inventory{}, g.warnLine); send != nil {
		t.Error("a notifier without targets")
	}
}
