package events

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/audit"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
)

// A stream with no Hub still sees what another process appends to the
// same store (it polls), skips other incidents' entries and what came
// before `after`, and keeps an idle connection alive with heartbeats.
func TestStreamFollowsAnotherWriter(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rekey.db")
	mine, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer mine.Close()
	theirs, err := sqlite.Open(ctx, path) // another process's handle
	if err != nil {
		t.Fatal(err)
	}
	defer theirs.Close()
	inc, _, err := mine.OpenIncident(ctx, store.Incident{Fingerprint: secret.Fingerprint(strings.Repeat("ab", 32)), Preview: "x…"})
	if err != nil {
		t.Fatal(err)
	}
	log := audit.New(theirs, "")
	add := func(incident, action string) store.AuditEntry {
		e, err := log.Append(ctx, "alice", action, incident, map[string]string{"step": "revoke:db/app"})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	old := add(inc.ID, "incident.open")
	s := &Streamer{Store: mine, Poll: 10 * time.Millisecond, Heartbeat: 10 * time.Millisecond}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		after, _ := LastEventID(r)
		if err := s.Stream(w, r, r.URL.Query().Get("incident"), after); err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
		}
	}))
	defer srv.Close()
	if resp, err := http.Get(srv.URL + "/?incident=INC-nope"); err != nil || resp.StatusCode != 404 {
		t.Fatalf("unknown incident: %v %v", resp, err)
	}
	resp, err := http.Get(srv.URL + "/?incident=" + inc.ID + "&after=" + itoa(old.Seq))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	readUntil := func(want string) []string {
		var lines []string
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("stream ended: %v after %q", err, lines)
			}
			lines = append(lines, strings.TrimSpace(l))
			if strings.Contains(l, want) {
				return lines
			}
		}
	}
	readUntil(": heartbeat")
	add("INC-other", "step.running")
	e := add(inc.ID, "step.running")
	lines := readUntil(`"state":"running"`)
	got := strings.Join(lines, "\n")
	if strings.Contains(got, "incident.open") || strings.Contains(got, "id: "+itoa(e.Seq-1)) {
		t.Errorf("the stream repeated an entry before `after` or another incident's:\n%s", got)
	}
	if !strings.Contains(got, "event: audit\nid: "+itoa(e.Seq)) || !strings.Contains(got, "event: step\nid: "+itoa(e.Seq)) {
		t.Errorf("no audit and step events for entry %d:\n%s", e.Seq, got)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// A tracing's entries are also `tracing` events, with the finished
// source's outcome; other entries are not.
func TestStreamTracingEvents(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "rekey.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	inc, _, err := st.OpenIncident(ctx, store.Incident{Fingerprint: secret.Fingerprint(strings.Repeat("cd", 32)), Preview: "x…"})
	if err != nil {
		t.Fatal(err)
	}
	log := audit.New(st, "")
	for _, a := range []struct {
		action string
		detail map[string]string
	}{
		{"incident.open", nil},
		{"incident.trace.start", map[string]string{"sources": "2"}},
		{"incident.trace", map[string]string{"source": "git /srv/shop", "state": "done", "copies": "3"}},
		{"incident.trace", map[string]string{"source": "dir /srv/gone", "state": "failed", "copies": "0", "error": "/srv/gone: no such file or directory"}},
		{"incident.trace.done", map[string]string{"sources": "2", "copies": "3", "failed": "1"}},
	} {
		if _, err := log.Append(ctx, "rita", a.action, inc.ID, a.detail); err != nil {
			t.Fatal(err)
		}
	}
	s := &Streamer{Store: st, Poll: 10 * time.Millisecond}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _ = s.Stream(w, r, inc.ID, 0) }))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	var got []string
	for len(got) < 4 {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended: %v after %q", err, got)
		}
		if l == "event: tracing\n" {
			r.ReadString('\n') // id
			data, _ := r.ReadString('\n')
			got = append(got, strings.TrimSpace(data))
		}
	}
	for i, want := range []string{`"what":"start"`, `"what":"source","source":"git /srv/shop","state":"done","copies":3`,
		`"what":"source","source":"dir /srv/gone","state":"failed","error":"/srv/gone: no such file or directory"`, `"what":"done"`} {
		if !strings.Contains(got[i], want) {
			t.Errorf("tracing event %d: %s, want %s", i, got[i], want)
		}
	}
}
