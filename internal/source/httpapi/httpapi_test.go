package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestDoRetriesWithinBounds(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls <= 2 {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	var slept []time.Duration
	l := Limits{Retries: 2, Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }}
	get := func(ctx context.Context) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	}
	resp, err := Do(context.Background(), nil, l, get)
	if err != nil || resp.StatusCode != http.StatusOK || len(slept) != 2 || slept[0] != 3*time.Second {
		t.Fatalf("%v %v slept %v", resp, err, slept)
	}
	resp.Body.Close()

	calls, slept = -10, nil // ten 429s: more than Retries
	_, err = Do(context.Background(), nil, l, get)
	var rl *RateLimited
	if !errors.As(err, &rl) || rl.Tries != 3 || len(slept) != 2 {
		t.Errorf("err %v, slept %v: want RateLimited after 3 tries", err, slept)
	}
}

func TestRetryAfterAndScrub(t *testing.T) {
	for in, want := range map[string]time.Duration{"30": 30 * time.Second, "": time.Second, "Wed, 21 Oct 2015 07:28:00 GMT": time.Second, "-1": time.Second} {
		if got := RetryAfter(in); got != want {
			t.Errorf("RetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
	if got := Scrub(`bad request: Authorization: Bearer xoxb-123-abc`, "xoxb-123-abc"); got != "bad request: Authorization: Bearer [token]" {
		t.Errorf("Scrub: %q", got)
	}
}
