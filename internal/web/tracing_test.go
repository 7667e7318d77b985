package web

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/store"
)

// The incident page says how far the tracing of its sources is, and why
// a source failed; an incident without one has no such line. With an
// event stream the page follows it (no "reload to follow"), and the
// tracing's JSON is what the live script reads on each tracing event.
func TestIncidentPageShowsTracing(t *testing.T) {
	f := newFixture(t, false)
	c := newClient(t, serve(t, f))
	c.signIn(tokViewer)
	if _, page := c.get("/incidents/" + f.id); strings.Contains(page, `id="tracing"`) {
		t.Fatal("a tracing line without a tracing")
	}
	if resp, _ := c.get("/incidents/" + f.id + "/tracing"); resp.StatusCode != 404 {
		t.Errorf("the tracing of an incident without one: %d", resp.StatusCode)
	}
	seqs, err := f.st.StartTrace(t.Context(), f.id, []byte("sealed"), []store.TraceSource{
		{Type: "git", Path: "/src/a"}, {Type: "git", Path: "/src/b"}, {Type: "dir", Path: "/src/<gone>"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.st.FinishTrace(t.Context(), f.id, store.TraceSource{Seq: seqs[2], State: store.TraceFailed, Error: "/src/<gone>: no such file or directory"}, nil); err != nil {
		t.Fatal(err)
	}
	_, page := c.get("/incidents/" + f.id)
	for _, want := range []string{"tracing 1/3 sources", "1 failed", "/src/&lt;gone&gt;: no such file",
		`data-events="/incidents/` + f.id + `/events"`, `data-tracing="/incidents/` + f.id + `/tracing"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the incident page lacks %q", want)
		}
	}
	if strings.Contains(page, "reload to follow") {
		t.Error("the page follows the event stream, yet says to reload")
	}
	tracingJSON := func() tracingJSON {
		t.Helper()
		resp, body := c.get("/incidents/" + f.id + "/tracing")
		var got tracingJSON
		if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &got) != nil {
			t.Fatalf("the tracing's JSON: %d %s", resp.StatusCode, body)
		}
		return got
	}
	got := tracingJSON()
	if got.Line != "tracing 1/3 sources, 0 copies found, 1 failed" || got.Pending != 2 || len(got.Failures) != 1 || got.Failures[0].Source != "dir /src/<gone>" {
		t.Errorf("the tracing's JSON: %+v", got)
	}
	for _, seq := range seqs[:2] {
		if _, _, err := f.st.FinishTrace(t.Context(), f.id, store.TraceSource{Seq: seq, State: store.TraceDone, Copies: 2}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if got := tracingJSON(); got.Line != "tracing 3/3 sources, 4 copies found, 1 failed" || got.Pending != 0 {
		t.Errorf("the finished tracing's JSON: %+v", got)
	}
	if _, page = c.get("/incidents/" + f.id); !strings.Contains(page, "tracing 3/3 sources") {
		t.Errorf("the finished tracing's line:\n%s", page)
	}

	// Without an event stream, the page says to reload while sources
	// are pending.
	f.h.cfg.Events = nil
	f.h = New(f.h.cfg)
	c = newClient(t, serve(t, f))
	c.signIn(tokViewer)
	if _, err := f.st.StartTrace(t.Context(), f.id, []byte("sealed"), []store.TraceSource{{Type: "dir", Path: "/src/c"}}); err != nil {
		t.Fatal(err)
	}
	if _, page = c.get("/incidents/" + f.id); !strings.Contains(page, "tracing 3/4 sources") || !strings.Contains(page, "(reload to follow)") || strings.Contains(page, "data-tracing") {
		t.Errorf("the tracing's line without an event stream:\n%s", page)
	}
}
