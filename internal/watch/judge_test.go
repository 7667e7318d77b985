package watch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/logs"
	"github.com/rekeyhq/rekey/internal/logs/all"
	"github.com/rekeyhq/rekey/internal/review"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
	"github.com/rekeyhq/rekey/internal/store/sqlstore"
	"github.com/rekeyhq/rekey/internal/watch"
	"github.com/rekeyhq/rekey/internal/watch/follow"
)

var t0 = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)

func newStore(t *testing.T, path string) *sqlstore.Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "rekey.db")
	}
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func judge(t *testing.T, st store.Watch) *watch.Judge {
	t.Helper()
	j, err := watch.NewJudge(context.Background(), watch.JudgeConfig{Store: st, Learn: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func run(t *testing.T, j *watch.Judge, evs ...logs.Event) []watch.Finding {
	t.Helper()
	var got []watch.Finding
	h := j.Handler(func(_ context.Context, _ watch.Batch, fs []watch.Finding) error {
		got = append(got, fs...)
		return nil
	})
	if err := h(context.Background(), watch.Batch{Source: "test", Events: evs}); err != nil {
		t.Fatal(err)
	}
	return got
}

func kinds(fs []watch.Finding) map[string]int {
	m := map[string]int{}
	for _, f := range fs {
		m[f.Kind]++
	}
	return m
}

func use(cred, src string, at time.Time, line int) logs.Event {
	return logs.Event{Time: at, Credential: cred, Source: src, Action: "connect", Outcome: logs.Success, File: "/var/log/pg.csv", Line: line}
}

// A use of a canary login, refused or not, is one critical finding with
// its evidence.
func TestCanaryUse(t *testing.T) {
	st := newStore(t, "")
	if err := st.PutCanary(context.Background(), store.Canary{System: "shop-db", Login: "backup_admin"}); err != nil {
		t.Fatal(err)
	}
	j := judge(t, st)
	ev := use("backup_admin", "127.0.0.2", t0, 42)
	ev.Outcome = logs.Failure
	got := run(t, j, ev, use("orders_svc", "10.0.4.7", t0, 43))
	if k := kinds(got); k[watch.KindCanaryUse] != 1 {
		t.Fatalf("findings %v, want one canary-use", k)
	}
	f := got[0]
	if f.Severity != review.Critical || f.Credential != "backup_admin" || f.Canary == nil || f.Canary.System != "shop-db" {
		t.Fatalf("finding %+v", f)
	}
	if len(f.Evidence) != 1 || f.Evidence[0].File != "/var/log/pg.csv" || f.Evidence[0].Line != 42 {
		t.Fatalf("evidence %+v", f.Evidence)
	}
}

// A key canary (AWS) is named by its key in the logs: a use of the key,
// refused or not, is a canary-use finding; a login elsewhere with the
// canary user's name is not.
func TestKeyCanaryUse(t *testing.T) {
	st := newStore(t, "")
	if err := st.PutCanary(context.Background(), store.Canary{System: "aws", Login: "ci-deploy-old", KeyID: "AKIAZZZCANARY0000001"}); err != nil {
		t.Fatal(err)
	}
	j := judge(t, st)
	denied := use("AKIAZZZCANARY0000001", "198.51.100.9", t0, 1)
	denied.Identity, denied.Action, denied.Outcome = "arn:aws:iam::123456789012:user/ci-deploy-old", "iam:ListUsers", logs.Failure
	got := run(t, j, denied, use("ci-deploy-old", "10.0.4.7", t0, 2))
	if k := kinds(got); k[watch.KindCanaryUse] != 1 {
		t.Fatalf("findings %v, want one canary-use", k)
	}
	f := got[0]
	if f.Canary == nil || f.Canary.Login != "ci-deploy-old" || f.Severity != review.Critical || f.Evidence[0].Line != 1 ||
		!strings.Contains(f.Summary, "canary key AKIAZZZCANARY0000001 (user ci-deploy-old) of aws") {
		t.Fatalf("finding %+v", f)
	}
}

// Use of a login rekey revoked is a finding from the revocation on, not
// before it.
func TestUseAfterRevocation(t *testing.T) {
	st := newStore(t, "")
	ctx := context.Background()
	fp := "b1946ac92492d2347c6235b4d2611184b1946ac92492d2347c6235b4d2611184"
	inc, _, err := st.OpenIncident(ctx, store.Incident{Fingerprint: secret.Fingerprint(fp), Created: t0})
	if err != nil {
		t.Fatal(err)
	}
	body := json.RawMessage(`{"steps":[{"id":"r1","kind":"revoke","system":"shop-db","identity":"orders_svc"}]}`)
	if err := st.PutPlan(ctx, inc.ID, store.Plan{Strategy: "emergency", Created: t0, Body: body}); err != nil {
		t.Fatal(err)
	}
	revokedAt := t0.Add(time.Hour)
	if err := st.PutStep(ctx, inc.ID, store.Step{StepID: "r1", State: "done", Started: &t0, Finished: &revokedAt}); err != nil {
		t.Fatal(err)
	}
	j := judge(t, st)
	if got := run(t, j, use("orders_svc", "10.0.4.7", t0.Add(30*time.Minute), 1)); kinds(got)[review.KindUseAfterRevocation] != 0 {
		t.Fatalf("a use before the revocation is a finding: %+v", got)
	}
	got := run(t, j, use("orders_svc", "127.0.0.2", t0.Add(2*time.Hour), 2))
	if kinds(got)[review.KindUseAfterRevocation] != 1 || got[0].Severity != review.Critical || got[0].Revoked.IncidentID != inc.ID {
		t.Fatalf("findings %+v, want one critical use-after-revocation", got)
	}
}

// The baseline is stored: a new Judge on the same store (a restart)
// still knows the usual source, and flags the new one.
func TestBaselinePersistedAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rekey.db")
	st := newStore(t, path)
	j := judge(t, st)
	var evs []logs.Event
	for i := range 30 {
		evs = append(evs, use("orders_svc", "10.0.4.7", t0.Add(time.Duration(i)*2*time.Hour), i+1))
	}
	if got := run(t, j, evs...); len(got) != 0 {
		t.Fatalf("learning made findings: %+v", got)
	}
	st.Close()

	st2 := newStore(t, path)
	j2 := judge(t, st2)
	later := t0.Add(62 * time.Hour) // 11:00 UTC, an hour seen before
	if got := run(t, j2, use("orders_svc", "10.0.4.7", later, 31)); len(got) != 0 {
		t.Fatalf("a usual use after the restart made findings: %+v", got)
	}
	got := run(t, j2, use("orders_svc", "198.51.100.9", later.Add(time.Minute), 32))
	if k := kinds(got); len(got) != 1 || k[review.KindNewSource] != 1 {
		t.Fatalf("findings %v, want one new-source", k)
	}
	if got[0].Severity != review.High || got[0].Subject != "198.51.100.9" || got[0].Evidence[0].Line != 32 {
		t.Fatalf("finding %+v", got[0])
	}
	// Said once: the source is in the baseline now.
	if got := run(t, j2, use("orders_svc", "198.51.100.9", later.Add(2*time.Minute), 33)); len(got) != 0 {
		t.Fatalf("the same new source reported again: %+v", got)
	}
	// Without the stored baseline the same use is still being learned.
	fresh := judge(t, newStore(t, ""))
	if got := run(t, fresh, use("orders_svc", "198.51.100.9", later, 1)); len(got) != 0 {
		t.Fatalf("an empty baseline made findings: %+v", got)
	}
}

// Ten refusals within ten minutes are one burst.
func TestFailedAuthBurst(t *testing.T) {
	j := judge(t, newStore(t, ""))
	var evs []logs.Event
	for i := range 14 {
		e := use("orders_svc", "127.0.0.2", t0.Add(time.Duration(i)*20*time.Second), i+1)
		e.Outcome = logs.Failure
		evs = append(evs, e)
	}
	got := run(t, j, evs...)
	if k := kinds(got); k[review.KindFailedAuthBurst] != 1 {
		t.Fatalf("findings %v, want one failed-auth-burst", k)
	}
}

// Following the real PostgreSQL csv log into the Judge: the review's
// sensitive-action rules fire on ops_admin's CREATE ROLE, with the file
// and line.
func TestFollowIntoJudge(t *testing.T) {
	st := newStore(t, "")
	dir := t.TempDir()
	raw, err := os.ReadFile("../logs/postgres/testdata/live.csv")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "postgresql.csv")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := st.PutCanary(context.Background(), store.Canary{System: "shop-db", Login: "attacker"}); err != nil {
		t.Fatal(err)
	}
	j := judge(t, st)
	fl, err := follow.New(follow.Config{Paths: []string{path}, Parsers: all.Parsers(), Store: st, NoNotify: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []watch.Finding
	h := j.Handler(func(_ context.Context, _ watch.Batch, fs []watch.Finding) error {
		got = append(got, fs...)
		return nil
	})
	if err := fl.Pass(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	var role *watch.Finding
	for i, f := range got {
		if f.Kind == review.KindSensitiveAction && f.Subject == "CREATE ROLE" {
			role = &got[i]
		}
	}
	if role == nil || role.Credential != "ops_admin" || role.Evidence[0].File != path || role.Evidence[0].Line != 23 { // its line in live.csv
		t.Fatalf("no CREATE ROLE finding with its evidence in %+v", got)
	}
	if k := kinds(got); k[watch.KindCanaryUse] != 1 {
		t.Fatalf("findings %v, want one canary-use for the attacker login", k)
	}
}

// A declared consumer's source is not new; every set of a baseline is
// capped, and what did not fit is counted.
func TestDeclaredConsumerAndCaps(t *testing.T) {
	st := newStore(t, "")
	cons := &inventory.Consumer{Name: "orders-api", Prefixes: []netip.Prefix{netip.MustParsePrefix("10.0.5.0/24")}}
	j, err := watch.NewJudge(context.Background(), watch.JudgeConfig{Store: st, Learn: time.Hour, MaxKeys: 3, Consumers: []*inventory.Consumer{cons}})
	if err != nil {
		t.Fatal(err)
	}
	var evs []logs.Event
	for i := range 25 {
		evs = append(evs, use("orders_svc", fmt.Sprintf("10.0.4.%d", i%5), t0.Add(time.Duration(i)*10*time.Minute), i+1))
	}
	run(t, j, evs...)
	bl := j.Baseline("orders_svc")
	if len(bl.Sources) != 3 || bl.Overflow != 10 {
		t.Fatalf("baseline sources %v, overflow %d: want 3 kept and 10 not", bl.Sources, bl.Overflow)
	}
	later := t0.Add(4*time.Hour + 5*time.Minute) // 13:05, an hour seen before
	if got := run(t, j, use("orders_svc", "10.0.5.20", later, 26)); len(got) != 0 {
		t.Fatalf("a declared consumer's source made findings: %+v", got)
	}
	if got := run(t, j, use("orders_svc", "10.0.6.20", later, 27)); kinds(got)[review.KindNewSource] != 1 {
		t.Fatalf("an undeclared source made %+v, want new-source", got)
	}
}

// Past MaxCredentials the baselines held in memory are dropped once
// written, and one needed again is read back from the store whole.
func TestBaselinesBoundedInMemory(t *testing.T) {
	st := newStore(t, "")
	j, err := watch.NewJudge(context.Background(), watch.JudgeConfig{Store: st, MaxCredentials: 2})
	if err != nil {
		t.Fatal(err)
	}
	run(t, j, use("a_svc", "10.0.4.1", t0, 1), use("a_svc", "10.0.4.1", t0.Add(time.Minute), 2), use("b_svc", "10.0.4.2", t0, 3))
	if bl := j.Baseline("a_svc"); bl == nil || bl.Events != 2 {
		t.Fatalf("a_svc's baseline %+v, want two events held (two credentials fit)", bl)
	}
	run(t, j, use("c_svc", "10.0.4.3", t0, 4))
	for _, c := range []string{"a_svc", "b_svc", "c_svc"} {
		if j.Baseline(c) != nil {
			t.Errorf("%s's baseline still held past MaxCredentials", c)
		}
	}
	run(t, j, use("a_svc", "10.0.4.1", t0.Add(2*time.Minute), 5))
	if bl := j.Baseline("a_svc"); bl == nil || bl.Events != 3 || bl.Sources["10.0.4.1"] != 3 {
		t.Fatalf("a_svc's baseline reloaded: %+v, want its three events", bl)
	}
}
