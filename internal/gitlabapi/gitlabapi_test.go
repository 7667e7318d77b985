package gitlabapi

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		h    http.Header
		want time.Duration
		ok   bool
	}{
		{http.Header{"Retry-After": {"7"}}, 7 * time.Second, true},
		{http.Header{"Retry-After": {now.Add(30 * time.Second).Format(http.TimeFormat)}}, 30 * time.Second, true},
		{http.Header{"Ratelimit-Reset": {strconv.FormatInt(now.Add(12*time.Second).Unix(), 10)}}, 12 * time.Second, true},
		{http.Header{"Retry-After": {"soon"}}, 0, false},
		{http.Header{}, 0, false},
	} {
		got, ok := RetryAfter(c.h, now)
		if got != c.want || ok != c.ok {
			t.Errorf("RetryAfter(%v) = %v, %v; want %v, %v", c.h, got, ok, c.want, c.ok)
		}
	}
}

// A 429's Retry-After is what the client waits, bounded by MaxWait.
func TestBackoffHonoursRetryAfterWithinBound(t *testing.T) {
	var asked []time.Duration
	o := Options{MaxWait: 10 * time.Second, Sleep: func(d time.Duration) time.Duration { asked = append(asked, d); return 0 }}
	throttled := func(v string) *http.Response {
		return &http.Response{StatusCode: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {v}}}
	}
	o.backoff(0, 0, 1, throttled("3"))
	o.backoff(0, 0, 1, throttled("3600"))
	o.backoff(0, 0, 2, &http.Response{StatusCode: http.StatusBadGateway, Header: http.Header{"Retry-After": {"1"}}})
	want := []time.Duration{3 * time.Second, 10 * time.Second, 4 * time.Second}
	for i := range want {
		if i >= len(asked) || asked[i] != want[i] {
			t.Fatalf("waits %v, want %v", asked, want)
		}
	}
}
