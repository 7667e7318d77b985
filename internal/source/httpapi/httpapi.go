// Package httpapi is what the live chat and ticket sources (Slack's Web
// API, Jira's REST API) share: sending a request with the token, and
// waiting out HTTP 429 as the service's Retry-After asks, within a bound,
// so that a scan of a large workspace slows down instead of failing and a
// service asking for an hour's pause fails at once with a clear error.
package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Limits bound how long a client waits for a rate-limited service.
type Limits struct {
	// Retries is how many times one request is retried after a 429
	// (default 5).
	Retries int
	// MaxWait is the longest single Retry-After honoured (default 60s); a
	// longer one fails the request rather than stall a scan for it.
	MaxWait time.Duration
	// Sleep waits d or until ctx is done; tests replace it so that they do
	// not wait. Default: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (l Limits) withDefaults() Limits {
	if l.Retries <= 0 {
		l.Retries = 5
	}
	if l.MaxWait <= 0 {
		l.MaxWait = time.Minute
	}
	if l.Sleep == nil {
		l.Sleep = sleep
	}
	return l
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// RateLimited is a request the service kept refusing with 429, or asked to
// wait longer than MaxWait for.
type RateLimited struct {
	RetryAfter time.Duration
	Tries      int
}

func (e *RateLimited) Error() string {
	return fmt.Sprintf("rate limited: HTTP 429 after %d tries (Retry-After %s)", e.Tries, e.RetryAfter)
}

// Do sends the request newReq builds (called again for each retry, so that
// a body can be re-sent) and returns the first response that is not a 429.
// A 429's Retry-After (seconds; 1s when absent or unreadable) is waited out
// through l.Sleep, at most l.Retries times and never longer than l.MaxWait
// at once. The caller closes the returned body.
func Do(ctx context.Context, hc *http.Client, l Limits, newReq func(context.Context) (*http.Request, error)) (*http.Response, error) {
	l = l.withDefaults()
	if hc == nil {
		hc = http.DefaultClient
	}
	for try := 1; ; try++ {
		req, err := newReq(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusTooManyRequests {
			return resp, nil
		}
		wait := RetryAfter(resp.Header.Get("Retry-After"))
		resp.Body.Close()
		if try > l.Retries || wait > l.MaxWait {
			return nil, &RateLimited{RetryAfter: wait, Tries: try}
		}
		if err := l.Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// RetryAfter reads a Retry-After header given in seconds, as Slack and
// Jira send it; 1s when it is absent or not a number.
func RetryAfter(h string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(h))
	if err != nil || n < 0 {
		return time.Second
	}
	return time.Duration(n) * time.Second
}

// Scrub removes every occurrence of the token from s: a service that
// echoes a request back in an error must not put the token in ours.
func Scrub(s, token string) string {
	if len(token) < 4 {
		return s
	}
	return strings.ReplaceAll(s, token, "[token]")
}
