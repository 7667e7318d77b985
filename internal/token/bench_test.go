package token

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/postgres"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
	"github.com/rekeyhq/rekey/internal/testutil"
)

// BenchmarkAuthenticate is the cost every API request pays before its
// handler runs (bench/serve.sh measures the whole request): a store of
// 100 live tokens, presented from 50 goroutines as the benchmark's 50
// clients do. "garbage" is a bearer that fails its checksum, refused
// without a query.
func BenchmarkAuthenticate(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			var (
				st  store.Store
				err error
			)
			if engine == "sqlite" {
				st, err = sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "rekey.db"))
			} else {
				st, err = postgres.Open(context.Background(), testutil.PostgresDB(b))
			}
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { st.Close() })
			now := time.Now()
			var toks []string
			for i := range 100 {
				tok, _, err := Create(context.Background(), st, fmt.Sprintf("bench-%03d", i), auth.Viewer, time.Hour, "bench", now)
				if err != nil {
					b.Fatal(err)
				}
				toks = append(toks, string(tok.Reveal()))
			}
			a := &Authenticator{Store: st}
			b.Run("valid", func(b *testing.B) {
				b.SetParallelism(25) // 50 goroutines on 2 cores
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := a.Authenticate(context.Background(), toks[rand.IntN(len(toks))]); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
			b.Run("garbage", func(b *testing.B) {
				last := toks[0][len(toks[0])-1:]
				bad := toks[0][:len(toks[0])-1] + map[bool]string{true: "y", false: "x"}[last == "x"]
				for b.Loop() {
					if _, err := a.Authenticate(context.Background(), bad); err == nil {
						b.Fatal("a token with a broken checksum was accepted")
					}
				}
			})
		})
	}
}
