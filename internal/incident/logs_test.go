package incident

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/logs"
)

// A stderr log written with a custom log_line_prefix is read with the
// prefix the inventory gives, and refused cleanly without it.
func TestReadEventsUsesTheInventorysPrefix(t *testing.T) {
	const fixture = "../logs/postgres/testdata/app.stderr"
	all := func(logs.Event) bool { return true }
	var warnings []string
	warn := func(s string) { warnings = append(warnings, s) }
	files, err := ExpandLogs([]LogSet{{Glob: fixture, Format: "postgres-stderr", Prefix: "%t [%p]: user=%u,db=%d,app=%a,client=%h "}})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := ReadEvents(context.Background(), files, all, warn)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range evs {
		if e.Credential == "orders_svc" && e.Source == "10.0.4.17" && e.Application == "orders-api" && e.Action == "connect" {
			found = true
		}
		if e.Line < 1 || !strings.HasSuffix(e.File, "app.stderr") {
			t.Errorf("event without evidence: %+v", e)
		}
	}
	if !found || len(warnings) != 0 {
		t.Fatalf("%d events, orders-api connect found %v, warnings %v", len(evs), found, warnings)
	}
	// With PostgreSQL's default prefix assumed, the records do not parse:
	// they are reported as malformed, not taken for events, and a log set
	// of which nothing parses is an error, not an empty result.
	def, err := ReadEvents(context.Background(), []LogSet{{Glob: fixture, Format: "postgres-stderr"}}, all, warn)
	if err == nil || !strings.Contains(err.Error(), "no log file could be read (0 log files read, 0 unreadable, 1 unparseable)") {
		t.Fatalf("default prefix: err = %v", err)
	}
	if len(def) >= len(evs) || len(warnings) != 1 || !strings.Contains(warnings[0], "malformed") {
		t.Fatalf("default prefix: %d events (with the right one %d), warnings %v", len(def), len(evs), warnings)
	}
}

func TestDeliveredSinceSkipsOnlyEarlierCloudTrailFiles(t *testing.T) {
	name := func(ts string) LogSet {
		return LogSet{Glob: "/t/AWSLogs/1/CloudTrail/eu-west-1/2026/11/20/123456789012_CloudTrail_eu-west-1_" + ts + "_Ab3dE5fG7hJ9kL1m.json.gz"}
	}
	files := []LogSet{name("20261120T0855Z"), name("20261120T0905Z"), name("20261120T0910Z"), {Glob: "/var/log/postgresql/postgresql.csv"}}
	since := time.Date(2026, 11, 20, 9, 5, 40, 0, time.UTC)
	got := deliveredSince(files, since)
	if len(got) != 3 || got[0] != files[1] || got[2] != files[3] {
		t.Errorf("kept %v", got)
	}
	if got := deliveredSince(files, time.Time{}); len(got) != 4 {
		t.Errorf("no creation time must keep every file, kept %d", len(got))
	}
}
