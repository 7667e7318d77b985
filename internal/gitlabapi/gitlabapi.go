// Package gitlabapi builds the official GitLab client
// (gitlab.com/gitlab-org/api/client-go/v2) the way rekey uses it, for the
// gitlab provider and the gitlab-ci-variable delivery target alike: the
// endpoint's /api/v4, throttling (429) retried a bounded number of times
// as GitLab's Retry-After or RateLimit-Reset asks, and other failures
// retried only for requests that cannot have acted twice (a POST that
// created a token or rotated one is never sent again by the client).
package gitlabapi

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	gl "gitlab.com/gitlab-org/api/client-go/v2"
)

// DefaultEndpoint is GitLab.com.
const DefaultEndpoint = "https://gitlab.com"

// Options bound the client's retries.
type Options struct {
	// Retries is how many times a throttled or failed request is tried
	// again (0: 4).
	Retries int
	// MaxWait bounds one wait, whatever GitLab asks (0: one minute): a
	// longer Retry-After is waited only that long, and the next answer
	// says whether the limit still holds.
	MaxWait time.Duration
	// Sleep, when set, replaces the wait before each retry (tests make it
	// short); it is given what the wait would have been.
	Sleep func(time.Duration) time.Duration
}

// New is a client for endpoint ("" is GitLab.com) authenticated with
// token.
func New(endpoint, token string, o Options) (*gl.Client, error) {
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	if o.Retries == 0 {
		o.Retries = 4
	}
	return gl.NewClient(strings.TrimSpace(token),
		gl.WithBaseURL(strings.TrimRight(endpoint, "/")+"/api/v4"),
		gl.WithCustomRetryMax(o.Retries),
		gl.WithOnlyIdempotentRetries(),
		gl.WithCustomBackoff(o.backoff))
}

// Attempts is how many times a request is sent at most.
func (o Options) Attempts() int {
	if o.Retries == 0 {
		return 5
	}
	return o.Retries + 1
}

// backoff is the wait before retry attempt: what a 429's Retry-After
// (seconds or an HTTP date) or RateLimit-Reset (a Unix time) asks, else
// exponential from a second; never more than MaxWait.
func (o Options) backoff(_, _ time.Duration, attempt int, resp *http.Response) time.Duration {
	limit := o.MaxWait
	if limit == 0 {
		limit = time.Minute
	}
	wait := time.Duration(math.Pow(2, float64(attempt))) * time.Second
	if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
		if asked, ok := RetryAfter(resp.Header, time.Now()); ok {
			wait = asked
		}
	}
	wait = min(max(wait, 0), limit)
	if o.Sleep != nil {
		return o.Sleep(wait)
	}
	return wait
}

// RetryAfter reads how long a throttled answer asks to wait: Retry-After
// in seconds or as an HTTP date, else RateLimit-Reset as a Unix time.
func RetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			return time.Duration(n) * time.Second, true
		}
		if t, err := http.ParseTime(v); err == nil {
			return t.Sub(now), true
		}
	}
	if v := h.Get("RateLimit-Reset"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
			return time.Unix(n, 0).Sub(now), true
		}
	}
	return 0, false
}

var _ retryablehttp.Backoff = Options{}.backoff
