package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// loadOptions describe one measurement: Clients goroutines, each with its
// own keep-alive connection, request Path (with {id} replaced by a random
// incident) back to back for Duration, after Warmup unmeasured.
type loadOptions struct {
	BaseURL  string
	Token    string
	Path     string // e.g. /api/v1/incidents/{id}/scope
	IDs      []string
	Clients  int
	Duration time.Duration
	Warmup   time.Duration
}

type result struct {
	Path          string
	Requests      int
	Errors        int
	FirstError    string
	P50, P90, P99 time.Duration
	Max           time.Duration
	Elapsed       time.Duration
}

func (r result) Throughput() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

func load(ctx context.Context, o loadOptions) (result, error) {
	if len(o.IDs) == 0 || o.Clients < 1 {
		return result{}, fmt.Errorf("load: need incident ids and at least one client")
	}
	tr := &http.Transport{MaxIdleConns: o.Clients, MaxIdleConnsPerHost: o.Clients, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}

	if o.Warmup > 0 {
		if _, err := run(ctx, client, o, o.Warmup); err != nil {
			return result{}, err
		}
	}
	start := time.Now()
	per, err := run(ctx, client, o, o.Duration)
	if err != nil {
		return result{}, err
	}
	res := result{Path: o.Path, Elapsed: time.Since(start)}
	var all []time.Duration
	for _, c := range per {
		all = append(all, c.lat...)
		res.Errors += c.errors
		if res.FirstError == "" {
			res.FirstError = c.firstErr
		}
	}
	res.Requests = len(all)
	if len(all) == 0 {
		return res, fmt.Errorf("load %s: no request completed (%s)", o.Path, res.FirstError)
	}
	slices.Sort(all)
	q := func(p float64) time.Duration { return all[min(len(all)-1, int(p*float64(len(all))))] }
	res.P50, res.P90, res.P99, res.Max = q(0.50), q(0.90), q(0.99), all[len(all)-1]
	return res, nil
}

type clientStats struct {
	lat      []time.Duration
	errors   int
	firstErr string
}

func run(ctx context.Context, client *http.Client, o loadOptions, d time.Duration) ([]clientStats, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	stats := make([]clientStats, o.Clients)
	var wg sync.WaitGroup
	for i := range o.Clients {
		wg.Go(func() {
			st := &stats[i]
			st.lat = make([]time.Duration, 0, 4096)
			rng := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
			for ctx.Err() == nil {
				id := o.IDs[rng.IntN(len(o.IDs))]
				t0 := time.Now()
				status, msg, err := get(ctx, client, o.BaseURL+strings.ReplaceAll(o.Path, "{id}", id), o.Token)
				if ctx.Err() != nil {
					return // cut off by the deadline: not a measurement
				}
				st.lat = append(st.lat, time.Since(t0))
				if err != nil || status != http.StatusOK {
					st.errors++
					if st.firstErr == "" {
						st.firstErr = fmt.Sprintf("GET %s: %d %s %v", o.Path, status, msg, err)
					}
				}
			}
		})
	}
	wg.Wait()
	return stats, nil
}

// get reads the whole body (the measurement includes encoding all of it)
// and returns, on failure, the start of the error envelope.
func get(ctx context.Context, client *http.Client, url, token string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return resp.StatusCode, strings.TrimSpace(string(b)), nil
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, "", err
}
