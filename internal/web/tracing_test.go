package web

import (
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/store"
)

// The incident page says how far the tracing of its sources is, and why
// a source failed; an incident without one has no such line.
func TestIncidentPageShowsTracing(t *testing.T) {
	f := newFixture(t, false)
	c := newClient(t, serve(t, f))
	c.signIn(tokViewer)
	if _, page := c.get("/incidents/" + f.id); strings.Contains(page, `id="tracing"`) {
		t.Fatal("a tracing line without a tracing")
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
	for _, want := range []string{"tracing 1/3 sources", "1 failed", "reload to follow", "/src/&lt;gone&gt;: no such file"} {
		if !strings.Contains(page, want) {
			t.Errorf("the incident page lacks %q", want)
		}
	}
	for _, seq := range seqs[:2] {
		if _, _, err := f.st.FinishTrace(t.Context(), f.id, store.TraceSource{Seq: seq, State: store.TraceDone}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, page = c.get("/incidents/" + f.id); !strings.Contains(page, "tracing 3/3 sources") || strings.Contains(page, "reload to follow") {
		t.Errorf("the finished tracing's line:\n%s", page)
	}
}
