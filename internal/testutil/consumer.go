package testutil

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// PGConsumer is a workload as rotation tests need one: it reads its
// connection URL from a dotenv file on every loop (so a delivery takes
// effect without a reload), keeps one connection open like a pool would,
// reconnects when the URL changes or the connection breaks, and runs a
// query every Interval, counting successes and failures. It writes its
// last outcome to Status ("ok LOGIN" or "fail …") for a health command
// to read.
type PGConsumer struct {
	File     string // dotenv file
	Key      string // the variable holding the URL
	Status   string // where to write the last outcome; "" for none
	Query    string // default "SELECT 1"
	Interval time.Duration
	// App is the application_name the consumer connects with.
	App string

	OK, Fail atomic.Int64

	mu        sync.Mutex
	lastErr   string
	firstFail time.Time // of the current run of failures
	lastFail  time.Time
	login     string
	// Outages are the failure runs seen: from their first failure to the
	// next success.
	outages []time.Duration
}

// Run loops until ctx ends.
func (c *PGConsumer) Run(ctx context.Context) {
	if c.Interval == 0 {
		c.Interval = 50 * time.Millisecond
	}
	if c.Query == "" {
		c.Query = "SELECT 1"
	}
	var (
		conn *pgx.Conn
		url  string
	)
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	tick := time.NewTicker(c.Interval)
	defer tick.Stop()
	for {
		err := func() error {
			u, err := readDotenv(c.File, c.Key)
			if err != nil {
				return err
			}
			if u != url || conn == nil || conn.IsClosed() {
				if conn != nil {
					conn.Close(context.Background())
					conn = nil
				}
				url = u
				cfg, err := pgx.ParseConfig(u)
				if err != nil {
					return fmt.Errorf("bad url in %s", c.File)
				}
				if c.App != "" {
					cfg.RuntimeParams["application_name"] = c.App
				}
				cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				defer cancel()
				conn, err = pgx.ConnectConfig(cctx, cfg)
				if err != nil {
					conn = nil
					return err
				}
				c.mu.Lock()
				c.login = cfg.User
				c.mu.Unlock()
			}
			qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			_, err = conn.Exec(qctx, c.Query)
			if err != nil {
				conn.Close(context.Background())
				conn = nil
			}
			return err
		}()
		if ctx.Err() != nil {
			return
		}
		c.record(err)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (c *PGConsumer) record(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	status := "ok " + c.login
	if err != nil {
		c.Fail.Add(1)
		c.lastErr = err.Error()
		if c.firstFail.IsZero() {
			c.firstFail = now
		}
		c.lastFail = now
		status = "fail " + firstLine(err.Error())
	} else {
		c.OK.Add(1)
		if !c.firstFail.IsZero() {
			c.outages = append(c.outages, now.Sub(c.firstFail))
			c.firstFail = time.Time{}
		}
	}
	if c.Status != "" {
		os.WriteFile(c.Status+".tmp", []byte(status+"\n"), 0o600)
		os.Rename(c.Status+".tmp", c.Status)
	}
}

// LastError is the last failure's message.
func (c *PGConsumer) LastError() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

// Login is the user of the current connection.
func (c *PGConsumer) Login() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.login
}

// Outages are the failure runs that ended in a success, longest first
// not guaranteed: in the order they happened.
func (c *PGConsumer) Outages() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.outages...)
}

// readDotenv returns the value of key in a dotenv file (KEY=VALUE, an
// optional export prefix, optional single or double quotes).
func readDotenv(path, key string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimPrefix(strings.TrimSpace(sc.Text()), "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) != key {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		return v, nil
	}
	return "", fmt.Errorf("%s: no %s", path, key)
}

// ConsumerReport is what a consumer process (RunConsumerProcess) writes
// when it is stopped.
type ConsumerReport struct {
	OK, Fail int64
	Login    string
	LastErr  string
	Outages  []time.Duration
}

// RunConsumerProcess is the body of a consumer process for end-to-end
// tests and the drill: spec is "envfile|status|report|app". It runs a
// PGConsumer with query every 50 ms until SIGTERM or an interrupt, then
// writes a ConsumerReport (JSON) to report, and returns the exit code.
func RunConsumerProcess(spec, query string) int {
	f := strings.Split(spec, "|")
	if len(f) != 4 {
		fmt.Fprintln(os.Stderr, "consumer: bad spec, want envfile|status|report|app")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	c := &PGConsumer{File: f[0], Key: "DATABASE_URL", Status: f[1], App: f[3], Interval: 50 * time.Millisecond, Query: query}
	c.Run(ctx)
	b, err := json.Marshal(ConsumerReport{OK: c.OK.Load(), Fail: c.Fail.Load(), Login: c.Login(), LastErr: c.LastError(), Outages: c.Outages()})
	if err == nil {
		err = os.WriteFile(f[2], b, 0o600)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "consumer:", err)
		return 1
	}
	return 0
}
