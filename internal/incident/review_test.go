package incident

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/review"
	"github.com/rekeyhq/rekey/internal/store"
)

// Without logs, the uses stored at open are reviewed, with the leak time
// a person gives (audited as theirs), and the review is kept for the
// report under its phase.
func TestReviewOfStoredUses(t *testing.T) {
	ctx := context.Background()
	d, inc := planned(t)
	leaked := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	if err := d.Store.AddEvents(ctx, inc.ID, []store.Event{
		{Time: leaked.Add(-48 * time.Hour), Credential: "app", Source: "10.0.4.17", Action: "connect", Outcome: "success"},
		{Time: leaked.Add(time.Hour), Credential: "app", Source: "203.0.113.9", Action: "connect", Outcome: "success"},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := Review(ctx, d, inc.ID, ReviewOptions{LeakedAt: leaked, RotatedAt: leaked.Add(-time.Hour), Baseline: review.DefaultBaseline}); errs.KindOf(err) != errs.Invalid {
		t.Fatalf("rotated before leaked: %v", err)
	}
	out, err := Review(ctx, d, inc.ID, ReviewOptions{LeakedAt: leaked, Baseline: review.DefaultBaseline})
	if err != nil {
		t.Fatal(err)
	}
	if out.Logs != nil || out.Report.Events != 2 {
		t.Errorf("logs %+v, %d events", out.Logs, out.Report.Events)
	}
	newSource := false
	for _, f := range out.Report.Findings {
		if f.Kind == "new-source" && strings.Contains(f.Summary, "203.0.113.9") {
			newSource = true
		}
	}
	if !newSource {
		t.Errorf("no new-source finding for 203.0.113.9: %+v", out.Report.Findings)
	}
	got, _ := d.Store.GetIncident(ctx, inc.ID)
	if got.LeakedAt == nil || !got.LeakedAt.Equal(leaked) {
		t.Errorf("leaked at %v", got.LeakedAt)
	}
	revs, err := d.Store.Reviews(ctx, inc.ID)
	if err != nil || len(revs) != 1 || revs[0].Phase != "exposure" {
		t.Fatalf("stored reviews %+v %v", revs, err)
	}
	var stored review.Report
	if err := json.Unmarshal(revs[0].Body, &stored); err != nil || stored.Events != 2 {
		t.Errorf("stored body: %v %+v", err, stored)
	}
	log, _ := d.Store.AuditLog(ctx)
	actions := map[string]string{}
	for _, e := range log {
		actions[e.Action] = e.Actor + " " + string(e.Detail)
	}
	if a := actions["incident.leaked-at"]; !strings.Contains(a, "alice") || !strings.Contains(a, "--leaked-at") {
		t.Errorf("leaked-at audit %q", a)
	}
	if a := actions["incident.review"]; !strings.Contains(a, `"phase":"exposure"`) {
		t.Errorf("review audit %q", a)
	}
}

// An inventory file gone since the incident was opened is read from the
// copy kept at open, and the caller is told; with no copy either, it is
// told what goes without it.
func TestRecordedInventoryFallsBackToTheCopy(t *testing.T) {
	ctx := context.Background()
	d, inc := planned(t)
	var warned []string
	d.Warn = func(l string) { warned = append(warned, l) }
	body := must(os.ReadFile(inc.Inventory))
	if inv := d.RecordedInventory(ctx, inc, "lost"); inv == nil || len(warned) != 0 {
		t.Fatalf("the file itself: %v, warned %q", inv, warned)
	}
	if err := os.Remove(inc.Inventory); err != nil {
		t.Fatal(err)
	}
	if inv := d.RecordedInventory(ctx, inc, "going without"); inv != nil || len(warned) != 1 || !strings.HasSuffix(warned[0], "; going without") {
		t.Fatalf("no file, no copy: %v, warned %q", inv, warned)
	}
	// GET /scope reads the copy with the snapshot (SnapshotInventory).
	snapshot := func() store.Snapshot {
		t.Helper()
		snap, err := d.Store.Snapshot(ctx, inc.ID, store.WithInventory)
		if err != nil {
			t.Fatal(err)
		}
		return snap
	}
	if inv := d.SnapshotInventory(snapshot(), "going without"); inv != nil || len(warned) != 2 || !strings.HasSuffix(warned[1], "; going without") {
		t.Fatalf("snapshot, no file, no copy: %v, warned %q", inv, warned)
	}
	if err := d.Store.PutInventory(ctx, inc.ID, store.InventoryCopy{Path: inc.Inventory, Body: body}); err != nil {
		t.Fatal(err)
	}
	inv := d.RecordedInventory(ctx, inc, "going without")
	if inv == nil || inv.SystemByName("db") == nil || len(warned) != 3 || !strings.Contains(warned[2], "using the copy kept") {
		t.Fatalf("the copy: %v, warned %q", inv, warned)
	}
	inv = d.SnapshotInventory(snapshot(), "going without")
	if inv == nil || inv.SystemByName("db") == nil || len(warned) != 4 || !strings.Contains(warned[3], "using the copy kept") {
		t.Fatalf("snapshot, the copy: %v, warned %q", inv, warned)
	}
}
