package postgres

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/testutil"
)

// benchRoles is how many login roles BenchmarkIdentify10k creates.
const benchRoles = 10_000

// BenchmarkIdentify10k identifies one password among 10,000 roles with
// SCRAM-SHA-256 verifiers at PostgreSQL's default 4096 iterations, with one
// worker and with one per CPU. Only `go test -bench` runs it; the roles are
// created when it starts and dropped when it ends.
//
// The roles are created from verifiers made here (see createBenchRoles):
// asking the server to hash 10,000 passwords would take longer than the
// benchmark. Every role but the target gets a verifier of an
// unknown password (random keys, a salt of its own), which costs Identify
// exactly what a real one does.
func BenchmarkIdentify10k(b *testing.B) {
	if testing.Short() {
		b.Skip("creates 10,000 roles; not under -short")
	}
	c := testutil.SharedPostgres(b)
	target, password := createBenchRoles(b, c, benchRoles)
	p, err := open(context.Background(), adminConfig(c))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()

	for _, workers := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run("workers="+strconv.Itoa(workers), func(b *testing.B) {
			p.workers = workers
			var checked int
			for b.Loop() {
				r, err := p.IdentifyReport(context.Background(), secret.FromString(password))
				if err != nil {
					b.Fatal(err)
				}
				if len(r.Matches) != 1 || r.Matches[0].Ref.Name != target {
					b.Fatalf("matches = %+v, want %s", r.Matches, target)
				}
				checked = r.Checked
			}
			if checked < benchRoles {
				b.Fatalf("checked %d roles, want at least %d", checked, benchRoles)
			}
			perOp := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(float64(checked)/perOp, "roles/s")
			b.ReportMetric(perOp, "s/identify")
		})
	}
}

// createBenchRoles creates n login roles and returns the one whose password
// is known, with the password; they are dropped in b.Cleanup.
func createBenchRoles(b *testing.B, c *testutil.PGCluster, n int) (target, password string) {
	b.Helper()
	ctx := context.Background()
	prefix := testutil.RandomName("rkbench")
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s_%05d", prefix, i)
	}
	target, password = names[n/2+n/7], "bench-"+testutil.RandomName("pw")

	b.Cleanup(func() {
		for i := 0; i < n; i += 1000 {
			batch := names[i:min(i+1000, n)]
			if _, err := c.Pool(b).Exec(ctx, "DROP ROLE IF EXISTS "+strings.Join(batch, ", ")); err != nil {
				b.Errorf("drop bench roles: %v", err)
			}
		}
	})
	verifiers := make([]string, n)
	var sql strings.Builder
	for i, name := range names {
		if name == target {
			salt := make([]byte, 16)
			_, _ = rand.Read(salt)
			verifiers[i] = scramVerifier(password, salt, 4096)
		} else {
			verifiers[i] = randomVerifier(4096)
		}
		fmt.Fprintf(&sql, "CREATE ROLE %s LOGIN;\n", name)
		if (i+1)%1000 == 0 || i == n-1 {
			if _, err := c.Pool(b).Exec(ctx, sql.String()); err != nil {
				b.Fatalf("create bench roles: %v", err)
			}
			sql.Reset()
		}
	}
	// CREATE ROLE … PASSWORD 'SCRAM-SHA-256$…' stores the verifier as is
	// but first checks it does not accept the empty password: one PBKDF2
	// on the server per role, 29 s for 10,000 roles here. Writing the column directly
	// (a superuser may) skips that.
	if _, err := c.Pool(b).Exec(ctx, `UPDATE pg_authid a SET rolpassword = v.p
		FROM unnest($1::text[], $2::text[]) AS v(n, p) WHERE a.rolname = v.n`, names, verifiers); err != nil {
		b.Fatalf("set bench verifiers: %v", err)
	}
	return target, password
}

// randomVerifier is a well-formed SCRAM-SHA-256 verifier of a password
// nobody knows.
func randomVerifier(iter int) string {
	buf := make([]byte, 16+32+32)
	_, _ = rand.Read(buf)
	b64 := base64.StdEncoding.EncodeToString
	return "SCRAM-SHA-256$" + strconv.Itoa(iter) + ":" + b64(buf[:16]) + "$" + b64(buf[16:48]) + ":" + b64(buf[48:])
}

// BenchmarkSCRAMStoredKey is the cost of testing one role: one PBKDF2 at
// 4096 iterations and two hashes.
func BenchmarkSCRAMStoredKey(b *testing.B) {
	salt := []byte("0123456789abcdef")
	for b.Loop() {
		scramStoredKey("correct horse battery staple", salt, 4096)
	}
}
