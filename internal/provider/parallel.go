package provider

import (
	"context"
	"sync"
)

// Parallel calls fn(i) for every i in [0, n) on up to workers goroutines
// and returns when all calls have ended. Identifying a secret means
// recomputing one verifier per account (a PBKDF2 each for SCRAM), which is
// CPU-bound with no shared state, so providers spread it over the cores.
// A cancelled ctx stops handing out work; the calls already running finish
// and ctx's error is returned.
func Parallel(ctx context.Context, n, workers int, fn func(i int)) error {
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	var err error
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	return err
}
