package server

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/events"
	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/open"
	"github.com/rekeyhq/rekey/internal/testutil"
)

// withSealer gives the world's dependencies a sealing key, as rekey
// serve's have: a tracing keeps its secret sealed for its jobs.
func withSealer(t *testing.T) func(*Config) {
	return withSealerIn(t, filepath.Join(t.TempDir(), "runs"))
}

// withSealerIn is withSealer with the per-run keys in runs.
func withSealerIn(t *testing.T, runs string) func(*Config) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return func(c *Config) {
		inner := c.Deps
		c.Deps = func(ctx context.Context, p auth.Principal) (incident.Deps, error) {
			d, err := inner(ctx, p)
			d.Sealer = func(name string) (*secret.Sealer, error) {
				x, err := secret.NewSealer(key)
				if err != nil {
					return nil, err
				}
				return x.ForRun(runs, name), nil
			}
			return d, err
		}
	}
}

// traceFixture makes n sources under dir: every third directory holds
// the secret, one git repository holds it only in its history, one path
// does not exist. It returns the request's sources and how many copies
// they hold.
func traceFixture(t *testing.T, dir, leaked string, n int) ([]traceSource, int) {
	t.Helper()
	var (
		srcs   []traceSource
		copies int
	)
	for i := range n {
		d := filepath.Join(dir, fmt.Sprintf("repo-%03d", i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		body := "PORT=8080\n"
		if i%3 == 0 {
			body += "DB_PASSWORD=" + leaked + "\n"
			copies++
		}
		if err := os.WriteFile(filepath.Join(d, "app.env"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, traceSource{Type: "dir", Path: d})
	}
	if _, err := exec.LookPath("git"); err == nil {
		repo := filepath.Join(dir, "history")
		if err := os.MkdirAll(repo, 0o755); err != nil {
			t.Fatal(err)
		}
		git := func(args ...string) {
			cmd := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false"}, args...)...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("git %v: %v: %s", args, err, out)
			}
		}
		git("init", "-q")
		if err := os.WriteFile(filepath.Join(repo, "config.yml"), []byte("password: "+leaked+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		git("add", ".")
		git("commit", "-qm", "config")
		if err := os.WriteFile(filepath.Join(repo, "config.yml"), []byte("password: ${DB_PASSWORD}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		git("commit", "-qam", "no secret")
		srcs = append(srcs, traceSource{Type: "git", Path: repo, History: true})
		copies++
	}
	srcs = append(srcs, traceSource{Type: "dir", Path: filepath.Join(dir, "gone")})
	return srcs, copies
}

// Opening with many sources answers once they are queued, with the
// tracing pending; the jobs join each source's copies, a missing source
// is recorded as failed with its error, and a job worked again adds
// nothing.
func TestOpenTracesSourcesInJobs(t *testing.T) {
	onEachStore(t, func(t *testing.T, spec string) {
		testOpenTraces(t, newAPIWorldWith(t, spec, "version: 1\nsources:\n  - {type: dir, path: src}\n", nil, withSealer(t)))
	})
}

// onEachStore runs f on an embedded store and on a PostgreSQL one.
func onEachStore(t *testing.T, f func(t *testing.T, spec string)) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			spec := filepath.Join(t.TempDir(), "rekey.db")
			if name == "postgres" {
				spec = testutil.PostgresDB(t)
			}
			f(t, spec)
		})
	}
}

func testOpenTraces(t *testing.T, w *apiWorld) {
	ctx := context.Background()
	srcs, copies := traceFixture(t, filepath.Join(w.dir, "org"), w.leaked, 30)
	b, _ := json.Marshal(map[string]any{"secret": w.leaked, "sources": srcs})
	rec := do(t, w.h, "POST", "/api/v1/incidents", "tok-responder", string(b))
	if rec.Code != http.StatusCreated {
		t.Fatalf("open: %d %s", rec.Code, rec.Body)
	}
	v := decodeJSON[incident.OpenView](t, rec.Body.Bytes())
	if v.Tracing == nil || v.Tracing.Pending+v.Tracing.Done != len(srcs) {
		t.Fatalf("open's tracing: %s", rec.Body)
	}
	// The inventory's own source is traced in the request, as before.
	if v.Occurrences != 1 {
		t.Fatalf("open found %d copies in the inventory's source, want 1", v.Occurrences)
	}
	if strings.Contains(rec.Body.String(), w.leaked) {
		t.Fatal("the answer holds the secret")
	}
	var det incidentDetail
	deadline := time.Now().Add(2 * time.Minute)
	for {
		rec = do(t, w.h, "GET", "/api/v1/incidents/"+v.ID, "tok-viewer", "")
		det = decodeJSON[incidentDetail](t, rec.Body.Bytes())
		if rec.Code != 200 || det.Tracing == nil {
			t.Fatalf("show: %d %s", rec.Code, rec.Body)
		}
		if det.Tracing.Pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tracing still pending: %+v", det.Tracing)
		}
		time.Sleep(50 * time.Millisecond)
	}
	tr := det.Tracing
	if tr.Done != len(srcs) || tr.Failed != 1 || tr.Copies != copies {
		t.Fatalf("tracing done: %+v, want %d done, 1 failed, %d copies", tr, len(srcs), copies)
	}
	if len(tr.Failures) != 1 || !strings.Contains(tr.Failures[0].Source, "gone") || !strings.Contains(tr.Failures[0].Error, "gone") {
		t.Fatalf("failures: %+v", tr.Failures)
	}
	occ, err := w.st.Occurrences(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(occ) != copies+1 {
		t.Fatalf("%d copies joined the incident, want %d", len(occ), copies+1)
	}
	// A job worked again (River's retry after a lost acknowledgement, a
	// rescued job) finds its source done and adds nothing.
	trace := w.srv.traceFunc()
	for n := 1; n <= len(srcs); n++ {
		if err := trace(ctx, TraceJob{Incident: v.ID, Source: n, By: auth.Principal{Name: "rita", Role: auth.Responder}}); err != nil {
			t.Fatalf("source %d again: %v", n, err)
		}
	}
	again, err := w.st.Occurrences(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != len(occ) {
		t.Fatalf("jobs worked again: %d copies, want %d", len(again), len(occ))
	}
	// The last source's job sums the tracing up after recording the
	// source.
	var count map[string]int
	for {
		entries, err := w.st.IncidentAudit(ctx, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		count = map[string]int{}
		for _, e := range entries {
			count[e.Action]++
			if strings.Contains(string(e.Detail), w.leaked) {
				t.Fatalf("audit entry %s holds the secret", e.Action)
			}
		}
		if count["incident.trace.done"] > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	// One entry per source, one to start and one to end, whatever was
	// worked twice.
	// Nobody said when it leaked: the earliest copy's commit says.
	if inc, err := w.st.GetIncident(ctx, v.ID); err != nil || inc.LeakedAt == nil && copies > len(srcs)/3 {
		t.Fatalf("leaked at after the tracing: %+v, %v", inc.LeakedAt, err)
	}
	if count["incident.trace"] != len(srcs) || count["incident.trace.start"] != 1 || count["incident.trace.done"] != 1 {
		t.Fatalf("audit: %v", count)
	}
	w.noSecretIn(t)
}

// Sources the tracing cannot take are refused before anything is opened.
func TestOpenRefusesBadSources(t *testing.T) {
	w := newAPIWorldWith(t, filepath.Join(t.TempDir(), "rekey.db"), "version: 1\nsources:\n  - {type: dir, path: src}\n", nil, withSealer(t))
	for _, tc := range []struct{ body, want string }{
		{`{"secret":"` + w.leaked + `","sources":[{"type":"slack-api","path":"x"}]}`, `slack-api`},
		{`{"secret":"` + w.leaked + `","sources":[{"type":"dir"}]}`, "path is required"},
		{`{"secret":"` + w.leaked + `","sources":[{"type":"dir","path":"x","history":true}]}`, "history is for git"},
	} {
		rec := do(t, w.h, "POST", "/api/v1/incidents", "tok-responder", tc.body)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("%s: %d %s, want 400 naming %q", tc.body, rec.Code, rec.Body, tc.want)
		}
	}
	rec := do(t, w.h, "GET", "/api/v1/incidents", "tok-viewer", "")
	if rec.Body.String() != "[]\n" && rec.Body.String() != "[]" {
		t.Fatalf("an incident was opened: %s", rec.Body)
	}
}

// Sources left pending by a process that stopped (an in-process runner's
// queue is gone with it) are queued again at start and traced.
func TestResumeTracing(t *testing.T) {
	w := newAPIWorldWith(t, filepath.Join(t.TempDir(), "rekey.db"), "version: 1\nsources:\n  - {type: dir, path: src}\n", nil, withSealer(t))
	ctx := context.Background()
	v := w.open(t)
	srcs, copies := traceFixture(t, filepath.Join(w.dir, "org"), w.leaked, 9)
	checked, err := w.srv.traceSources(srcs)
	if err != nil {
		t.Fatal(err)
	}
	d, err := w.srv.deps(ctx, auth.Principal{Name: "rita", Role: auth.Responder})
	if err != nil {
		t.Fatal(err)
	}
	// Recorded, never queued: as after a crash between the two.
	if _, err := incident.StartTracing(ctx, d, v.ID, secret.FromString(w.leaked), checked); err != nil {
		t.Fatal(err)
	}
	n, err := w.srv.ResumeTracing(ctx)
	if err != nil || n != len(srcs) {
		t.Fatalf("resumed %d sources, want %d: %v", n, len(srcs), err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		tr, err := incident.TracingOf(ctx, w.st, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		if tr.Pending == 0 {
			if tr.Copies != copies || tr.Failed != 1 {
				t.Fatalf("resumed tracing: %+v, want %d copies and 1 failed", tr, copies)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tracing still pending: %+v", tr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	entries, err := w.st.IncidentAudit(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Action == "incident.trace" && e.Actor != "rita" {
			t.Fatalf("a resumed job audited as %q, want the opener", e.Actor)
		}
	}
	if n, err := w.srv.ResumeTracing(ctx); err != nil || n != 0 {
		t.Fatalf("nothing pending: resumed %d, %v", n, err)
	}
}

// refusingStore fails to record source seq as done, as a store that
// keeps failing would.
type refusingStore struct {
	store.Store
	seq int
}

func (s refusingStore) FinishTrace(ctx context.Context, id string, out store.TraceSource, occ []store.Occurrence) (bool, int, error) {
	if out.Seq == s.seq && out.State == store.TraceDone {
		return false, 0, errors.New("store: finish trace: the disk is full")
	}
	return s.Store.FinishTrace(ctx, id, out, occ)
}

// A job that keeps failing leaves its source pending while it has
// attempts left, and records it as failed, with the error, at its last.
func TestLastAttemptRecordsTheFailure(t *testing.T) {
	w := newAPIWorldWith(t, filepath.Join(t.TempDir(), "rekey.db"), "version: 1\nsources:\n  - {type: dir, path: src}\n", nil, withSealer(t),
		func(c *Config) {
			inner := c.Deps
			c.Deps = func(ctx context.Context, p auth.Principal) (incident.Deps, error) {
				d, err := inner(ctx, p)
				d.Store = refusingStore{Store: d.Store, seq: 1}
				return d, err
			}
		})
	ctx := context.Background()
	v := w.open(t)
	srcs, _ := traceFixture(t, filepath.Join(w.dir, "org"), w.leaked, 1)
	checked, p, d := traceAs(t, w, srcs[:1])
	if _, err := incident.StartTracing(ctx, d, v.ID, secret.FromString(w.leaked), checked); err != nil {
		t.Fatal(err)
	}
	trace := w.srv.traceFunc()
	if err := trace(ctx, TraceJob{Incident: v.ID, Source: 1, By: p}); err == nil || !strings.Contains(err.Error(), "disk is full") {
		t.Fatalf("an attempt with more to come: %v, want the store's error", err)
	}
	if tr, err := incident.TracingOf(ctx, w.st, v.ID); err != nil || tr.Pending != 1 {
		t.Fatalf("after a failed attempt: %+v, %v", tr, err)
	}
	if err := trace(ctx, TraceJob{Incident: v.ID, Source: 1, By: p, Last: true}); err != nil {
		t.Fatalf("the last attempt: %v", err)
	}
	tr, err := incident.TracingOf(ctx, w.st, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Pending != 0 || tr.Failed != 1 || len(tr.Failures) != 1 || !strings.Contains(tr.Failures[0].Error, "gave up: store: finish trace: the disk is full") {
		t.Fatalf("after the last attempt: %+v", tr)
	}
}

// Sources that could not be queued (the server shutting down) are
// recorded as failed, not left pending with no job to trace them.
func TestUnqueuedSourcesFail(t *testing.T) {
	w := newAPIWorldWith(t, filepath.Join(t.TempDir(), "rekey.db"), "version: 1\nsources:\n  - {type: dir, path: src}\n", nil, withSealer(t))
	v := w.open(t)
	if err := w.srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	srcs, _ := traceFixture(t, filepath.Join(w.dir, "org"), w.leaked, 3)
	b, _ := json.Marshal(map[string]any{"secret": w.leaked, "sources": srcs})
	rec := do(t, w.h, "POST", "/api/v1/incidents", "tok-responder", string(b))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("open while shutting down: %d %s", rec.Code, rec.Body)
	}
	tr, err := incident.TracingOf(context.Background(), w.st, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if tr == nil || tr.Pending != 0 || tr.Failed != len(srcs) || !strings.Contains(tr.Failures[0].Error, "not queued") {
		t.Fatalf("sources never queued: %+v", tr)
	}
}

// A second tracing started while the first is pending joins it: once
// both rounds' sources are done, no sealed copy of the secret is left in
// the store and no tracing key in the keys directory.
func TestOverlappingTracingsLeaveNoKey(t *testing.T) {
	runs := filepath.Join(t.TempDir(), "runs")
	w := newAPIWorldWith(t, filepath.Join(t.TempDir(), "rekey.db"), "version: 1\nsources:\n  - {type: dir, path: src}\n", nil, withSealerIn(t, runs))
	ctx := context.Background()
	v := w.open(t)
	srcs, copies := traceFixture(t, filepath.Join(w.dir, "org"), w.leaked, 6)
	checked, p, d := traceAs(t, w, srcs)
	keys := func() []string {
		t.Helper()
		m, err := filepath.Glob(filepath.Join(runs, "*-trace-*.key"))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	// Both rounds recorded before any job works (as when the second
	// request comes while the first round's jobs are queued).
	half := len(checked) / 2
	first, err := incident.StartTracing(ctx, d, v.ID, secret.FromString(w.leaked), checked[:half])
	if err != nil {
		t.Fatal(err)
	}
	second, err := incident.StartTracing(ctx, d, v.ID, secret.FromString(w.leaked), checked[half:])
	if err != nil {
		t.Fatal(err)
	}
	if k := keys(); len(k) != 1 {
		t.Fatalf("%d tracing keys while both rounds are pending, want the first round's one: %v", len(k), k)
	}
	trace := w.srv.traceFunc()
	// The first round's sources end before the second's: the key they
	// opened must outlive them, the second round's jobs need it.
	for _, n := range append(first, second...) {
		if err := trace(ctx, TraceJob{Incident: v.ID, Source: n, By: p}); err != nil {
			t.Fatalf("source %d: %v", n, err)
		}
	}
	tr, err := incident.TracingOf(ctx, w.st, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Pending != 0 || tr.Done != len(checked) || tr.Copies != copies || tr.Failed != 1 {
		t.Fatalf("both rounds: %+v, want %d done, %d copies, 1 failed (the missing path)", tr, len(checked), copies)
	}
	if _, sealed, err := w.st.TraceSource(ctx, v.ID, first[0]); err != nil || sealed != nil {
		t.Fatalf("the sealed secret after both rounds: %d bytes, %v", len(sealed), err)
	}
	if k := keys(); len(k) != 0 {
		t.Fatalf("tracing keys left after both rounds: %v", k)
	}
}

// traceAs checks srcs as the server does and returns them with rita, a
// responder, and her dependencies: what StartTracing is called with.
func traceAs(t *testing.T, w *apiWorld, srcs []traceSource) ([]inventory.Source, auth.Principal, incident.Deps) {
	t.Helper()
	checked, err := w.srv.traceSources(srcs)
	if err != nil {
		t.Fatal(err)
	}
	p := auth.Principal{Name: "rita", Role: auth.Responder}
	d, err := w.srv.deps(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return checked, p, d
}

// Planning or running while the tracing has sources pending is a 409
// naming how many: the plan's consumers and copies are not known yet.
// Once the sources are done, planning is no longer refused for it.
func TestPlanRefusedWhileTracing(t *testing.T) {
	w := newAPIWorldWith(t, filepath.Join(t.TempDir(), "rekey.db"), "version: 1\nsources:\n  - {type: dir, path: src}\n", nil, withSealer(t))
	ctx := context.Background()
	v := w.open(t)
	srcs, _ := traceFixture(t, filepath.Join(w.dir, "org"), w.leaked, 3)
	checked, p, d := traceAs(t, w, srcs)
	// Recorded, not queued yet: pending for as long as the test needs.
	seqs, err := incident.StartTracing(ctx, d, v.ID, secret.FromString(w.leaked), checked)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%d of %d sources pending", len(seqs), len(seqs))
	for _, c := range []struct{ path, body string }{
		{"/plan", `{"strategy":"graceful"}`},
		{"/run", `{}`},
		{"/run", `{"dry_run":true}`},
	} {
		rec := do(t, w.h, "POST", "/api/v1/incidents/"+v.ID+c.path, "tok-responder", c.body)
		if e := errorOf(t, rec); rec.Code != http.StatusConflict || !strings.Contains(e.Message, want) {
			t.Errorf("%s %s while tracing: %d %s, want 409 naming %q", c.path, c.body, rec.Code, rec.Body, want)
		}
	}
	if _, ok, err := w.st.GetPlan(ctx, v.ID); err != nil || ok {
		t.Fatalf("a plan was stored while tracing: %v, %v", ok, err)
	}
	trace := w.srv.traceFunc()
	for _, n := range seqs {
		if err := trace(ctx, TraceJob{Incident: v.ID, Source: n, By: p}); err != nil {
			t.Fatal(err)
		}
	}
	rec := do(t, w.h, "POST", "/api/v1/incidents/"+v.ID+"/plan", "tok-responder", `{"strategy":"graceful"}`)
	if rec.Code == http.StatusConflict || strings.Contains(rec.Body.String(), "pending") {
		t.Errorf("plan once the tracing is done: %d %s", rec.Code, rec.Body)
	}
}

// Each source a trace job finishes is a `tracing` event on the
// incident's stream, read from the store: a stream served by another
// replica (another store handle, no hub shared with the jobs) sees every
// source, then the end.
func TestTracingStreamsToAnotherReplica(t *testing.T) {
	onEachStore(t, func(t *testing.T, spec string) {
		w := newAPIWorldWith(t, spec, "version: 1\nsources:\n  - {type: dir, path: src}\n", nil, withSealer(t))
		ctx := context.Background()
		other, err := open.Open(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		v := w.open(t)
		s := &events.Streamer{Store: other, Poll: 20 * time.Millisecond}
		srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { _ = s.Stream(rw, r, v.ID, 0) }))
		defer srv.Close()
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()

		srcs, _ := traceFixture(t, filepath.Join(w.dir, "org"), w.leaked, 5)
		b, _ := json.Marshal(map[string]any{"secret": w.leaked, "sources": srcs})
		if rec := do(t, w.h, "POST", "/api/v1/incidents", "tok-responder", string(b)); rec.Code != http.StatusOK {
			t.Fatalf("open with sources: %d %s", rec.Code, rec.Body)
		}
		got := map[string]int{}
		done := make(chan error, 1)
		go func() {
			r := bufio.NewReader(resp.Body)
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					done <- err
					return
				}
				if l != "event: tracing\n" {
					continue
				}
				r.ReadString('\n') // id
				data, _ := r.ReadString('\n')
				var ev events.Tracing
				if err := json.Unmarshal([]byte(strings.TrimPrefix(data, "data: ")), &ev); err != nil {
					done <- err
					return
				}
				got[ev.What]++
				if ev.What == "source" && ev.Source == "" || strings.Contains(data, w.leaked) {
					done <- fmt.Errorf("event %s", data)
					return
				}
				if ev.What == "done" {
					done <- nil
					return
				}
			}
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(2 * time.Minute): // a bound, not a measure
			t.Fatal("the stream never said the tracing was done")
		}
		if got["start"] != 1 || got["source"] != len(srcs) {
			t.Fatalf("tracing events: %v, want 1 start and %d sources", got, len(srcs))
		}
	})
}
