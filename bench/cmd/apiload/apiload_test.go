package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/audit"
	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/open"
	"github.com/rekeyhq/rekey/internal/testutil"
)

func openSeeded(t testing.TB, spec string, n, events int) (store.Store, []string) {
	t.Helper()
	ctx := context.Background()
	home := t.TempDir()
	st, err := open.Open(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := audit.New(st, audit.WitnessPath(home, spec)).WithKey(filepath.Join(home, audit.KeyFile), true)
	ids, err := seed(ctx, st, log, seedOptions{Incidents: n, Events: events, Actor: "bench-seed", Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := log.Verify(ctx)
	if err != nil || !rep.OK() {
		t.Fatalf("the seeded audit log does not verify: %v %+v", err, rep)
	}
	return st, ids
}

// standIn serves the two endpoints the benchmark reads as the API does,
// through package incident, so that the load generator is tested without
// `rekey serve`.
func standIn(t *testing.T, st store.Store, token string) *httptest.Server {
	t.Helper()
	d := incident.Deps{Store: st}
	auth := func(h func(w http.ResponseWriter, r *http.Request) (any, error)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+token {
				http.Error(w, `{"error":{"kind":"unauthorized","message":"bad token"}}`, http.StatusUnauthorized)
				return
			}
			v, err := h(w, r)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			_ = json.NewEncoder(w).Encode(v)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/health", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	mux.HandleFunc("GET /api/v1/incidents/{id}", auth(func(w http.ResponseWriter, r *http.Request) (any, error) {
		return incident.Show(r.Context(), d, r.PathValue("id"))
	}))
	mux.HandleFunc("GET /api/v1/incidents/{id}/scope", auth(func(w http.ResponseWriter, r *http.Request) (any, error) {
		snap, err := st.Snapshot(r.Context(), r.PathValue("id"))
		if err != nil {
			return nil, err
		}
		return incident.ScopeOf(snap, nil, time.Now()), nil
	}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestSeedMakesIncidentsTheAPIShows(t *testing.T) {
	st, ids := openSeeded(t, filepath.Join(t.TempDir(), "rekey.db"), 3, 30)
	if len(ids) != 3 {
		t.Fatalf("seeded %d incidents, want 3", len(ids))
	}
	s, err := incident.Show(context.Background(), incident.Deps{Store: st}, ids[1])
	if err != nil {
		t.Fatal(err)
	}
	if s.OpenedBy != "bench-seed" || s.Identity != "shop-db/svc_0001" || s.Risk == 0 || s.State != store.Open {
		t.Errorf("summary = %+v: want opened by bench-seed, identity shop-db/svc_0001, a risk, open", s)
	}
	evs, err := st.Events(context.Background(), ids[1])
	if err != nil || len(evs) != 30 {
		t.Errorf("events: %d, %v; want 30", len(evs), err)
	}
}

func TestLoadMeasuresAndCountsErrors(t *testing.T) {
	st, ids := openSeeded(t, filepath.Join(t.TempDir(), "rekey.db"), 5, 5)
	srv := standIn(t, st, "good-token")
	for _, p := range endpoints {
		r, err := load(context.Background(), loadOptions{BaseURL: srv.URL, Token: "good-token", Path: p, IDs: ids,
			Clients: 3, Duration: 2 * time.Second, Warmup: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if r.Requests == 0 || r.Errors != 0 || r.P50 > r.P99 || r.P99 > r.Max {
			t.Errorf("%s: %+v: want requests, no errors, p50 <= p99 <= max", p, r)
		}
	}
	// Long enough that a loaded machine completes some requests: one cut
	// off by the deadline is not counted, and none completed is an error.
	r, err := load(context.Background(), loadOptions{BaseURL: srv.URL, Token: "wrong", Path: "/api/v1/incidents/{id}", IDs: ids,
		Clients: 2, Duration: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if r.Errors != r.Requests || !strings.Contains(r.FirstError, "401") {
		t.Errorf("wrong token: %d errors of %d, first %q; want every request a 401", r.Errors, r.Requests, r.FirstError)
	}
}

func TestLoadCommandFailsOnErrors(t *testing.T) {
	st, ids := openSeeded(t, filepath.Join(t.TempDir(), "rekey.db"), 2, 1)
	srv := standIn(t, st, "good-token")
	dir := t.TempDir()
	idsFile, tokFile := filepath.Join(dir, "ids"), filepath.Join(dir, "token")
	if err := os.WriteFile(idsFile, []byte(strings.Join(ids, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tokFile, []byte("good-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	args := []string{"load", "--url", srv.URL, "--token-file", tokFile, "--ids", idsFile, "--clients", "2", "--duration", "100ms", "--warmup", "0", "--label", "sqlite"}
	if err := dispatch(context.Background(), args, &out); err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(l, "sqlite ") {
			rows++
		}
	}
	if rows != len(endpoints) {
		t.Errorf("output:\n%s\nwant one row per endpoint", out.String())
	}
	if err := os.WriteFile(tokFile, []byte("revoked\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := dispatch(context.Background(), args, &out); err == nil {
		t.Error("a load whose requests failed must fail")
	}
}

// BenchmarkReads times what the two endpoints compute, without HTTP, over
// REKEY_BENCH_INCIDENTS incidents (1000) in SQLite and PostgreSQL: where
// the API's latency goes when bench/serve.sh misses its goal. Besides the
// wall time per read it reports this process's CPU time per read
// (cpu-ns/op), which the machine's other load moves far less; on
// PostgreSQL the server's share of the work is not in it. As in the
// server, a read after the first of each incident is served from the
// store's kept snapshot (one version check): the loop cycles over the
// ids, so with b.N well above their number it times those; cold times
// the read of a snapshot not kept.
func BenchmarkReads(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("REKEY_BENCH_INCIDENTS")); err == nil && v > 0 {
		n = v
	}
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			spec := filepath.Join(b.TempDir(), "rekey.db")
			if engine == "postgres" {
				spec = testutil.PostgresDB(b)
			}
			st, ids := openSeeded(b, spec, n, 50)
			d := incident.Deps{Store: st}
			ctx := context.Background()
			reads := []struct {
				name string
				read func(id string) error
			}{
				{"show", func(id string) error { _, err := incident.Show(ctx, d, id); return err }},
				{"detail", func(id string) error { _, err := incident.ShowDetail(ctx, d, id); return err }},
				{"scope", func(id string) error {
					// As GET /scope reads it.
					snap, err := st.Snapshot(ctx, id, store.WithInventory)
					if err != nil {
						return err
					}
					_ = incident.ScopeOf(snap, d.SnapshotInventory(snap, ""), time.Now())
					return nil
				}},
				{"cold", func(id string) error {
					// A snapshot not kept: an incident's first read, or
					// its first after a write.
					st.(interface{ DropSnapshots() }).DropSnapshots()
					_, err := st.Snapshot(ctx, id, store.WithInventory)
					return err
				}},
			}
			for _, r := range reads {
				b.Run(r.name, func(b *testing.B) {
					i := 0
					cpu0 := cpuTime()
					for b.Loop() {
						if err := r.read(ids[i%len(ids)]); err != nil {
							b.Fatal(err)
						}
						i++
					}
					b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
				})
			}
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
