package events

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/store"
)

func TestStepOf(t *testing.T) {
	at := time.Date(2026, 12, 6, 6, 0, 0, 0, time.UTC)
	entry := func(action, detail string) store.AuditEntry {
		return store.AuditEntry{Seq: 7, Time: at, Actor: "alice", Action: action, Detail: json.RawMessage(detail)}
	}
	cases := []struct {
		e    store.AuditEntry
		want Step
		ok   bool
	}{
		{entry("step.running", `{"step":"issue:db/app","kind":"issue","attempt":2}`), Step{Seq: 7, Time: at, Step: "issue:db/app", State: "running", Actor: "alice", Attempt: 2}, true},
		{entry("step.failed", `{"step":"verify:api","error":"no session"}`), Step{Seq: 7, Time: at, Step: "verify:api", State: "failed", Actor: "alice", Error: "no session"}, true},
		{entry("step.waiting-approval", `{"step":"revoke:db/app","reason":"policy: revoke"}`), Step{Seq: 7, Time: at, Step: "revoke:db/app", State: "waiting-approval", Actor: "alice", Reason: "policy: revoke"}, true},
		{entry("step.approved", `{"step":"revoke:db/app","reason":"policy: revoke"}`), Step{Seq: 7, Time: at, Step: "revoke:db/app", State: "pending", Actor: "alice", Reason: "policy: revoke", ApprovedBy: "alice"}, true},
		{entry("run.start", `{"strategy":"graceful"}`), Step{}, false},
		{entry("step.done", `{}`), Step{}, false},
	}
	for _, c := range cases {
		got, ok := StepOf(c.e)
		if ok != c.ok || !cmp.Equal(got, c.want) {
			t.Errorf("%s: %+v %v, want %+v %v", c.e.Action, got, ok, c.want, c.ok)
		}
	}
}

func TestLastEventID(t *testing.T) {
	for _, c := range []struct {
		header, query string
		want          int64
		bad           bool
	}{
		{"", "", 0, false},
		{"42", "", 42, false},
		{"42", "7", 42, false}, // a reconnect's header wins over the first URL
		{"", "7", 7, false},
		{"x", "", 0, true},
		{"-1", "", 0, true},
	} {
		r := httptest.NewRequest("GET", "/events?after="+c.query, nil)
		if c.header != "" {
			r.Header.Set("Last-Event-ID", c.header)
		}
		got, err := LastEventID(r)
		if got != c.want || (err != nil) != c.bad || c.bad && errs.KindOf(err) != errs.Invalid {
			t.Errorf("header %q query %q: %d %v", c.header, c.query, got, err)
		}
	}
}

// A Poke wakes whoever waits on Changed; the nil Hub wakes nobody.
func TestHub(t *testing.T) {
	h := NewHub()
	ch := h.Changed()
	if _, err := h.Write([]byte("rekey: step\n")); err != nil {
		t.Fatal(err)
	}
	<-ch // closed by the Write's Poke
	select {
	case <-h.Changed():
		t.Error("a new wait is woken without a Poke")
	default:
	}
	var nilHub *Hub
	nilHub.Poke()
	if nilHub.Changed() != nil {
		t.Error("the nil Hub has a channel")
	}
}
