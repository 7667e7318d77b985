package testutil

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// PGAttacker is the attacker of the rotation proofs and the drill: it
// holds a session with a leaked credential and tries a fresh login every
// 50 ms, recording when it was first refused after Mark and whether it
// got in again after that.
type PGAttacker struct {
	URL string // the leaked credential's connection URL

	conn    *pgx.Conn
	t0      atomic.Int64 // unix nanos of Mark; refusals before it do not count
	cut     atomic.Int64 // first refused login after t0
	after   atomic.Int64 // logins that worked after cut
	stopped chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
}

// Start opens the attacker's session and starts its login loop.
func (a *PGAttacker) Start(ctx context.Context) error {
	c, err := pgx.Connect(ctx, a.URL)
	if err != nil {
		return fmt.Errorf("attacker: %w", err)
	}
	a.conn = c
	a.stopped = make(chan struct{})
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		for {
			select {
			case <-a.stopped:
				return
			case <-time.After(50 * time.Millisecond):
			}
			cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			c, err := pgx.Connect(cctx, a.URL)
			cancel()
			if err == nil {
				c.Close(context.Background())
			}
			if a.t0.Load() == 0 {
				continue
			}
			if err != nil {
				a.cut.CompareAndSwap(0, time.Now().UnixNano())
			} else if a.cut.Load() != 0 {
				a.after.Add(1)
			}
		}
	}()
	return nil
}

// Mark is when the response starts: refusals count from then.
func (a *PGAttacker) Mark(t time.Time) { a.t0.Store(t.UnixNano()) }

// CutOff is the time from Mark to the first refused login, or -1 when
// the attacker was never refused.
func (a *PGAttacker) CutOff() time.Duration {
	if a.cut.Load() == 0 {
		return -1
	}
	return time.Duration(a.cut.Load() - a.t0.Load())
}

// LoginsAfterCutOff counts the logins that worked after the first
// refusal: a cut-off that did not hold.
func (a *PGAttacker) LoginsAfterCutOff() int64 { return a.after.Load() }

// SessionAlive reports whether the session opened by Start still works.
func (a *PGAttacker) SessionAlive(ctx context.Context) bool {
	if a.conn == nil {
		return false
	}
	_, err := a.conn.Exec(ctx, "SELECT 1")
	return err == nil
}

// Stop ends the login loop; the session stays for SessionAlive.
func (a *PGAttacker) Stop() {
	a.once.Do(func() {
		if a.stopped != nil {
			close(a.stopped)
			a.wg.Wait()
		}
	})
}

// Close stops the loop and closes the session.
func (a *PGAttacker) Close() {
	a.Stop()
	if a.conn != nil {
		a.conn.Close(context.Background())
	}
}
