// Package bench holds the side-by-side benchmarks against peer tools; its
// test here only builds the history fixture bench/scan.sh times.
package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/testutil"

	"github.com/rekeyhq/rekey/internal/source/git/gittest"
)

// TestMakeHistoryRepo builds, when REKEY_BENCH_MKREPO names a new
// directory, a repository of a few thousand commits made from the Go
// source tree, with a handful of planted credentials that are added and
// later removed. It is how bench/scan.sh gets a realistic history.
func TestMakeHistoryRepo(t *testing.T) {
	dir := os.Getenv("REKEY_BENCH_MKREPO")
	if dir == "" {
		t.Skip("set REKEY_BENCH_MKREPO=DIR to build the benchmark repository")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	res := gittest.BuildBulk(t, dir, gittest.BulkOptions{
		Source:      filepath.Join(testutil.GoRoot(t), "src"),
		Commits:     3000,
		MergeEvery:  100,
		DeleteEvery: 50,
		Seed:        42,
		Plant: func(i int) map[string]string {
			if i%500 != 7 {
				return nil
			}
			// A realistic config file that once held a database URL and a
			// Stripe live key (fake values that pass the format rules).
			n := strings.Repeat(string(rune('a'+i%26)), 4)
			return map[string]string{
				"deploy/prod.env": "DATABASE_URL=postgres://orders_svc:Qz7vN2" + n + "pLk9@db-prod.internal:5432/orders\n" +
					"STRIPE_SECRET_KEY=sk_live_51Hx" + n + "Jd8sK2mQpT5vW9yB3nR6cE1fA4hL7" + "\n",
			}
		},
	})
	t.Logf("built %d commits, %d files, %d blobs, %.1f MB of file versions in %s", res.Commits, res.Files, res.Blobs, float64(res.Bytes)/1e6, dir)
}
