// Command apiload is bench/serve.sh's helper: `seed` fills a store with
// incidents through the store API, `load` measures `rekey serve` with
// concurrent clients and prints latency percentiles and throughput per
// endpoint.
//
//	apiload seed --store SPEC --incidents 1000 --ids FILE   (REKEY_HOME must be set)
//	apiload header                                          (the column heads of load's rows)
//	apiload load --url URL --token-file F --ids FILE [--clients 50] [--duration 10s] [--label NAME]
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/audit"
	"github.com/rekeyhq/rekey/internal/store/open"
)

// endpoints are the reads the goal is about (p99 under 50 ms),
// after the health check: no store and no token check, it is the floor
// that HTTP, the middleware and the machine's load set under the others.
var endpoints = []string{"/api/v1/health", "/api/v1/incidents/{id}", "/api/v1/incidents/{id}/scope"}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := dispatch(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "apiload:", err)
		os.Exit(1)
	}
}

func dispatch(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("want a command: seed, header or load")
	}
	switch args[0] {
	case "header":
		_, err := fmt.Fprintln(out, header)
		return err
	case "seed":
		return cmdSeed(ctx, args[1:], out)
	case "load":
		return cmdLoad(ctx, args[1:], out)
	}
	return fmt.Errorf("unknown command %q: want seed, header or load", args[0])
}

func cmdSeed(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	spec := fs.String("store", "", "store to fill (a path or a postgres:// URL)")
	n := fs.Int("incidents", 1000, "incidents to create")
	events := fs.Int("events", 50, "usage events per incident")
	idsFile := fs.String("ids", "", "file to write the incident ids to, one a line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	home := os.Getenv("REKEY_HOME")
	if *spec == "" || *idsFile == "" || home == "" {
		return errors.New("seed: --store, --ids and $REKEY_HOME are required")
	}
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	st, err := open.Open(ctx, *spec)
	if err != nil {
		return err
	}
	defer st.Close()
	// The audit log as the CLI and the server keep it for this store, so
	// that they accept what was appended here.
	log := audit.New(st, audit.WitnessPath(home, *spec)).WithKey(filepath.Join(home, audit.KeyFile), true)
	start := time.Now()
	ids, err := seed(ctx, st, log, seedOptions{Incidents: *n, Events: *events, Actor: "bench-seed", Now: time.Now()})
	if err != nil {
		return err
	}
	if err := os.WriteFile(*idsFile, []byte(strings.Join(ids, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(out, "seeded %d incidents (%d events each) in %s\n", len(ids), *events, time.Since(start).Round(time.Millisecond))
	return nil
}

func cmdLoad(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	base := fs.String("url", "", "the server, http://HOST:PORT")
	tokenFile := fs.String("token-file", "", "file holding the bearer token")
	idsFile := fs.String("ids", "", "incident ids, one a line (from seed)")
	clients := fs.Int("clients", 50, "concurrent clients")
	duration := fs.Duration("duration", 10*time.Second, "measured time per endpoint")
	warmup := fs.Duration("warmup", 2*time.Second, "unmeasured time per endpoint before it")
	label := fs.String("label", "", "first column of each row (the store)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *base == "" || *tokenFile == "" || *idsFile == "" {
		return errors.New("load: --url, --token-file and --ids are required")
	}
	tok, err := os.ReadFile(*tokenFile)
	if err != nil {
		return err
	}
	ids, err := readLines(*idsFile)
	if err != nil {
		return err
	}
	failed := false
	for _, p := range endpoints {
		r, err := load(ctx, loadOptions{
			BaseURL: strings.TrimRight(*base, "/"), Token: strings.TrimSpace(string(tok)), Path: p, IDs: ids,
			Clients: *clients, Duration: *duration, Warmup: *warmup,
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%-9s %-31s %7d %6d %8s %8s %8s %8s %8.0f\n", *label, "GET "+strings.TrimPrefix(p, "/api/v1"),
			r.Requests, r.Errors, ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max), r.Throughput())
		if r.Errors > 0 {
			fmt.Fprintf(os.Stderr, "apiload: %d of %d requests failed; first: %s\n", r.Errors, r.Requests, r.FirstError)
			failed = true
		}
	}
	if failed {
		return errors.New("some requests failed: the numbers above measure errors, not the API")
	}
	return nil
}

// header is the column heads of load's rows.
const header = "store     endpoint                        requests errors  p50 ms   p90 ms   p99 ms   max ms    req/s"

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d.Microseconds())/1000) }

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out, sc.Err()
}
