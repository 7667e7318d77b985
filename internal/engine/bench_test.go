package engine

import (
	"context"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/store"
)

// BenchmarkEmergencyContain measures time to contain: from the start of
// an emergency run until a fresh login with the leaked password is
// refused, watched from outside by a prober, on the package's local
// cluster with two consumers running. It also reports how long the
// slower consumer took to work again.
func BenchmarkEmergencyContain(b *testing.B) {
	var contain, recoverT time.Duration
	for range b.N {
		b.StopTimer()
		w := newWorld(b, worldOpts{consumers: []string{"orders-api", "billing"}, strategy: plan.Emergency})
		w.startConsumers()
		e := w.engine()
		b.StartTimer()
		start := time.Now()
		dead := make(chan time.Duration, 1)
		go func() {
			for time.Since(start) < 30*time.Second {
				if w.login(w.role, w.password) != nil {
					dead <- time.Since(start)
					return
				}
			}
			dead <- -1
		}()
		res, err := e.Run(context.Background())
		b.StopTimer()
		if err != nil || res.State != store.RunDone {
			b.Fatalf("run: %v %s", err, res.State)
		}
		d := <-dead
		if d < 0 {
			b.Fatal("the leaked password kept working")
		}
		contain += d
		time.Sleep(100 * time.Millisecond)
		w.stopConsumers()
		worst := time.Duration(0)
		for _, c := range w.consumers {
			for _, o := range c.Outages() {
				worst = max(worst, o)
			}
		}
		recoverT += worst
	}
	b.ReportMetric(float64(contain.Milliseconds())/float64(b.N), "ms-to-contain")
	b.ReportMetric(float64(recoverT.Milliseconds())/float64(b.N), "ms-consumer-outage")
}
