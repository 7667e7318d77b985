package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/testutil"
)

// BenchmarkWatchContain is bench/watch.sh's latency: one `rekey watch`
// follows a password-auth cluster's csv log; each trial, an attacker logs
// in with a role's password and runs a sensitive statement, and the
// benchmark measures from the statement's return (its log record is
// written then) to (a) the incident opened by watch, (b) the attacker's
// session ended by the emergency plan (sensitive-action is in
// auto_contain). p50 and p95 over b.N trials (-benchtime 20x).
func BenchmarkWatchContain(b *testing.B) {
	pg := testutil.StartPostgres(b)
	dir := b.TempDir()
	roles := make([]string, b.N)
	var inv string
	for i := range roles {
		roles[i] = fmt.Sprintf("bench_%d_%s", i, testutil.RandomName(""))
		pg.CreateRole(b, roles[i], "Bench-pw-"+roles[i], "")
		pg.Exec(b, "ALTER ROLE "+testutil.QuoteIdent(roles[i])+" SET log_statement = 'all'")
		inv += fmt.Sprintf("  - { name: %s, system: shop-db }\n", roles[i])
	}
	invPath := filepath.Join(dir, "rekey.yml")
	body := fmt.Sprintf("version: 1\nsystems:\n  - { name: shop-db, type: postgres, admin: env:DSN }\nidentities:\n%slogs:\n  - { type: postgres-csv, path: %s }\nwatch:\n  trigger: [sensitive-action]\n  auto_contain: [sensitive-action]\n",
		inv, filepath.Join(pg.LogDir, "postgresql.csv"))
	if err := os.WriteFile(invPath, []byte(body), 0o644); err != nil {
		b.Fatal(err)
	}
	env := map[string]string{"REKEY_HOME": filepath.Join(dir, "home"), "DSN": pg.AdminURL()}
	w := startWatch(b, env, "--inventory", invPath)
	st := openTestStore(b, env)
	defer st.Close()
	var opened, cut []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		conn, err := pgx.Connect(context.Background(), pg.URL(roles[i], "Bench-pw-"+roles[i], "postgres")+"&application_name=exfil")
		if err != nil {
			b.Fatal(err)
		}
		conn.Exec(context.Background(), "CREATE ROLE "+testutil.QuoteIdent(roles[i]+"_x")) //nolint:errcheck // refused: the record is the point
		t0 := time.Now()
		var gotOpen bool
		for deadline := t0.Add(60 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatalf("trial %d: not contained within 60 s; watch said:\n%s", i, w.errText())
			}
			if !gotOpen {
				incs, err := st.ListIncidents(context.Background(), store.Filter{State: store.Open})
				if err != nil {
					b.Fatal(err)
				}
				if slices.ContainsFunc(incs, func(inc store.Incident) bool { return inc.Identity.Name == roles[i] }) {
					gotOpen = true
					opened = append(opened, time.Since(t0))
				}
			}
			if _, err := conn.Exec(context.Background(), "SELECT 1"); err != nil {
				d := time.Since(t0)
				cut = append(cut, d)
				if !gotOpen { // opened between the two looks: at most d
					opened = append(opened, d)
				}
				break
			}
		}
		conn.Close(context.Background())
	}
	b.StopTimer()
	w.stop()
	b.ReportMetric(pct(opened, 50), "ms-to-incident-p50")
	b.ReportMetric(pct(opened, 95), "ms-to-incident-p95")
	b.ReportMetric(pct(cut, 50), "ms-to-cutoff-p50")
	b.ReportMetric(pct(cut, 95), "ms-to-cutoff-p95")
}

// pct is the p-th percentile of ds, in milliseconds (nearest rank).
func pct(ds []time.Duration, p int) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return float64(s[max(i-1, 0)].Microseconds()) / 1000
}
