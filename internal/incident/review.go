package incident

import (
	"context"
	"encoding/json"
	"time"

	"github.com/rekeyhq/rekey/internal/engine"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/logs"
	"github.com/rekeyhq/rekey/internal/review"
	"github.com/rekeyhq/rekey/internal/store"
)

// ReviewOptions are how an incident review is asked for.
type ReviewOptions struct {
	// Logs are globs read besides the inventory's logs:, in LogFormat
	// ("" detects each file's).
	Logs      []string
	LogFormat string
	// LeakedAt, when set, replaces the incident's leak time (audited)
	// for this review and every later plan and report.
	LeakedAt time.Time
	// RotatedAt is when the secret was rotated; zero takes the time the
	// run recorded, if any.
	RotatedAt time.Time
	// Baseline is how far before the leak the baseline reaches.
	Baseline time.Duration
}

// ReviewOutcome is the review and how its log files were read (nil for
// a review of the uses stored at open).
type ReviewOutcome struct {
	Report review.Report
	Logs   *LogTally
}

// ReviewView is the JSON of an incident review (`incident review
// --format json`, POST /api/v1/incidents/{id}/review): the report with
// how its log files were read (absent for a review of the uses stored at
// open).
type ReviewView struct {
	review.Report
	Logs *LogTally `json:"logs,omitempty"`
}

// View is o as its JSON shows it.
func (o ReviewOutcome) View() ReviewView { return ReviewView{Report: o.Report, Logs: o.Logs} }

// Review reviews what the incident's identity did, with windows from the
// incident: its leak time, the rotation its run recorded, the consumers
// and logs of the inventory it was opened with. Without any logs, the
// uses stored at open are reviewed. The review is stored (phase
// "exposure" before the rotation, "after" once it happened) and audited.
func Review(ctx context.Context, d Deps, id string, o ReviewOptions) (ReviewOutcome, error) {
	st := d.Store
	inc, err := st.GetIncident(ctx, id)
	if err != nil {
		return ReviewOutcome{}, err
	}
	if inc.Identity.IsZero() {
		return ReviewOutcome{}, errs.New("incident review", errs.Invalid, id, "the incident has no identity to review; name the credential with rekey review --credential")
	}
	if !o.LeakedAt.IsZero() && !o.RotatedAt.IsZero() && o.RotatedAt.Before(o.LeakedAt) {
		return ReviewOutcome{}, errs.New("incident review", errs.Invalid, id, "the rotation time is before the leak time")
	}
	if !o.LeakedAt.IsZero() {
		if err := SetLeakedAt(ctx, d, &inc, o.LeakedAt, true); err != nil {
			return ReviewOutcome{}, err
		}
		if err := st.UpdateIncident(ctx, inc); err != nil {
			return ReviewOutcome{}, err
		}
	}
	rotated := o.RotatedAt
	if rotated.IsZero() {
		if rotated, err = engine.RotatedAt(ctx, st, id); err != nil {
			return ReviewOutcome{}, err
		}
	}
	cfg := review.Config{Credential: inc.Identity.Name, RotatedAt: rotated, Baseline: o.Baseline, Now: d.now()}
	if inc.LeakedAt != nil {
		cfg.LeakedAt = *inc.LeakedAt
	}
	proven, err := engine.Verified(ctx, st, id)
	if err != nil {
		return ReviewOutcome{}, err
	}
	for _, v := range proven {
		cfg.Verified = append(cfg.Verified, review.Verified{Consumer: v.Consumer, Login: v.Login, At: v.At, Sources: v.Sources, Applications: v.Applications})
	}
	sets := LogSets(o.Logs, o.LogFormat, nil)
	if inv := d.RecordedInventory(ctx, inc, "reviewing without its consumers and logs"); inv != nil {
		if invID := inv.IdentityByName(inc.Identity.System + "/" + inc.Identity.Name); invID != nil {
			cfg.Consumers = inv.ConsumersOf(invID)
		}
		sets = append(sets, LogSets(nil, "", inv)...)
	}
	var out ReviewOutcome
	if len(sets) > 0 {
		files, err := ExpandLogs(sets)
		if err != nil {
			return ReviewOutcome{}, err
		}
		rep, tally, err := ReviewLogs(ctx, cfg, files, d.say, d.warn)
		if err != nil {
			return ReviewOutcome{}, err
		}
		out = ReviewOutcome{Report: rep, Logs: &tally}
	} else {
		events, err := st.Events(ctx, id)
		if err != nil {
			return ReviewOutcome{}, err
		}
		r := review.New(cfg)
		for _, e := range events {
			r.Add(eventOf(e))
		}
		out.Report = r.Result()
	}
	// Kept for the report: the review of the exposure window before the
	// rotation, the one after it once it happened.
	phase := "exposure"
	if !rotated.IsZero() {
		phase = "after"
	}
	body, err := json.Marshal(out.Report)
	if err != nil {
		return ReviewOutcome{}, err
	}
	if err := st.PutReview(ctx, id, store.Review{Phase: phase, Body: body}); err != nil {
		return ReviewOutcome{}, err
	}
	if _, err := d.Audit.Append(ctx, d.Actor, "incident.review", id, map[string]any{"phase": phase, "findings": len(out.Report.Findings)}); err != nil {
		return ReviewOutcome{}, err
	}
	return out, nil
}

// eventOf turns a stored use back into a log event.
func eventOf(e store.Event) logs.Event {
	return logs.Event{Time: e.Time, Credential: e.Credential, Identity: e.Identity, Source: e.Source, UserAgent: e.UserAgent,
		Application: e.Application, Action: e.Action, Outcome: logs.Outcome(e.Outcome), File: e.File, Line: e.Line, Detail: e.Detail}
}

// SetLeakedAt sets the incident's leak time to t (given: a person said
// so; else the earliest copy's time) and records the change, with the
// time it replaces, in the audit log. The caller stores the incident
// (UpdateIncident). Setting the time it already has does nothing.
func SetLeakedAt(ctx context.Context, d Deps, inc *store.Incident, t time.Time, given bool) error {
	t = t.UTC()
	if inc.LeakedAt != nil && inc.LeakedAt.Equal(t) {
		return nil
	}
	detail := map[string]string{"to": t.Format(time.RFC3339), "from": "", "by": "earliest copy"}
	if inc.LeakedAt != nil {
		detail["from"] = inc.LeakedAt.UTC().Format(time.RFC3339)
	}
	if given {
		detail["by"] = "--leaked-at"
	}
	if _, err := d.Audit.Append(ctx, d.Actor, "incident.leaked-at", inc.ID, detail); err != nil {
		return err
	}
	inc.LeakedAt = &t
	return nil
}

// RecordedInventory is the incident's inventory for reading what it
// recorded: the file at its path, else the copy the store kept when it
// was opened (the file moved, changed into something invalid, or this is
// another machine), else nil, warning so and what goes without it
// (lost).
func (d Deps) RecordedInventory(ctx context.Context, inc store.Incident, lost string) *inventory.Inventory {
	return d.recordedInventory(inc, lost, func() (store.InventoryCopy, bool, error) { return d.Store.GetInventory(ctx, inc.ID) })
}

// SnapshotInventory is RecordedInventory for a snapshot read
// store.WithInventory: the kept copy comes from the snapshot, not from
// another read.
func (d Deps) SnapshotInventory(snap store.Snapshot, lost string) *inventory.Inventory {
	return d.recordedInventory(snap.Incident, lost, func() (store.InventoryCopy, bool, error) {
		if snap.Inventory == nil {
			return store.InventoryCopy{}, false, nil
		}
		return *snap.Inventory, true, nil
	})
}

// RecordedInventoryOptions are the options an incident's inventory is
// read again with (recordedInventory): structure only, this machine's
// variables and files not looked at. A Deps.Inventories cache must use
// them.
func RecordedInventoryOptions(getenv func(string) string) inventory.Options {
	return inventory.Options{SkipLocal: true, Getenv: getenv}
}

func (d Deps) recordedInventory(inc store.Incident, lost string, kept func() (store.InventoryCopy, bool, error)) *inventory.Inventory {
	if inc.Inventory == "" {
		return nil
	}
	opts := RecordedInventoryOptions(d.Getenv)
	load := func(path string) (*inventory.Inventory, *inventory.Report, error) { return inventory.Load(path, opts) }
	if d.Inventories != nil {
		load = d.Inventories.Load
	}
	if inv, rep, err := load(inc.Inventory); err == nil && rep.OK() {
		return inv
	}
	if c, ok, err := kept(); err == nil && ok {
		if inv, rep, err := inventory.Parse(c.Path, c.Body, opts); err == nil && rep.OK() {
			d.warn("inventory " + inc.Inventory + " is no longer readable as it was; using the copy kept when the incident was opened (" +
				c.Saved.UTC().Format(time.RFC3339) + ")")
			return inv
		}
	}
	d.warn("inventory " + inc.Inventory + " is no longer readable as it was; " + lost)
	return nil
}
