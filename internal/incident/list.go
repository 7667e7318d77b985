package incident

import (
	"context"
	"time"

	"github.com/rekeyhq/rekey/internal/engine"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/scope"
	"github.com/rekeyhq/rekey/internal/store"
)

// Summary is one incident in a list: the JSON of `incident list` and of
// GET /api/v1/incidents.
type Summary struct {
	ID       string      `json:"id"`
	State    store.State `json:"state"`
	OpenedAt time.Time   `json:"opened_at"`
	OpenedBy string      `json:"opened_by"`
	// Identity is "system/name", or "unknown" when no system knew the
	// secret.
	Identity string     `json:"identity"`
	Risk     int        `json:"risk"`
	ClosedAt *time.Time `json:"closed_at,omitempty"`
}

// States a list may ask for: store.Open, store.Closed, or All.
const All store.State = "all"

// List returns the incidents in state (All for every one), oldest first,
// each with its risk score as the scope computes it from what the store
// holds.
func List(ctx context.Context, d Deps, state store.State) ([]Summary, error) {
	f := store.Filter{}
	switch state {
	case store.Open, store.Closed:
		f.State = state
	case All, "":
	default:
		return nil, errs.New("incident list", errs.Invalid, string(state), "a state is open, closed or all")
	}
	incs, err := d.Store.ListIncidents(ctx, f)
	if err != nil {
		return nil, err
	}
	openers, err := openers(ctx, d.Store)
	if err != nil {
		return nil, err
	}
	out := make([]Summary, 0, len(incs))
	for _, inc := range incs {
		sum, err := summarize(ctx, d, inc, openers[inc.ID])
		if err != nil {
			return nil, err
		}
		out = append(out, sum)
	}
	return out, nil
}

// Show returns one incident's summary: the incident, what its risk is
// computed from and who opened it are read in one transaction.
func Show(ctx context.Context, d Deps, id string) (Summary, error) {
	sum, _, err := show(ctx, d, id)
	return sum, err
}

func show(ctx context.Context, d Deps, id string) (Summary, store.Snapshot, error) {
	snap, err := d.Store.Snapshot(ctx, id, store.WithRun)
	if err != nil {
		return Summary{}, store.Snapshot{}, err
	}
	opener := ""
	if snap.Opener != nil {
		opener = snap.Opener.Actor
	}
	in := scopeInput(snap, nil, d.now())
	in.NoEvidence = true // a summary shows the risk and identity only
	return summary(snap.Incident, scope.Compute(in), opener), snap, nil
}

// Detail is one incident with its run: the JSON of GET
// /api/v1/incidents/{id}.
type Detail struct {
	Summary
	// Run is the run JSON of the stored plan; nil before any plan.
	Run *engine.Result `json:"run,omitempty"`
}

// ShowDetail returns one incident's summary and its run's state.
func ShowDetail(ctx context.Context, d Deps, id string) (Detail, error) {
	sum, snap, err := show(ctx, d, id)
	if err != nil {
		return Detail{}, err
	}
	out := Detail{Summary: sum}
	// The snapshot says whether there is a plan: most incidents read
	// have none, and then this is the only read.
	if snap.Plan == nil {
		return out, nil
	}
	res, err := engine.StatusOf(ctx, d.Store, snap.Incident, *snap.Plan)
	if err != nil {
		return Detail{}, err
	}
	out.Run = &res
	return out, nil
}

func summarize(ctx context.Context, d Deps, inc store.Incident, opener string) (Summary, error) {
	sc, err := Scope(ctx, d.Store, inc, nil, d.now())
	if err != nil {
		return Summary{}, err
	}
	return summary(inc, sc, opener), nil
}

func summary(inc store.Incident, sc scope.Scope, opener string) Summary {
	id := scope.Unknown
	if sc.Identity.Status != scope.Unknown {
		id = sc.Identity.System + "/" + sc.Identity.Name
	}
	return Summary{ID: inc.ID, State: inc.State, OpenedAt: inc.Created, OpenedBy: opener,
		Identity: id, Risk: sc.Risk.Score, ClosedAt: inc.ClosedAt}
}

// openers maps each incident to who opened it, from the audit log.
func openers(ctx context.Context, st store.Store) (map[string]string, error) {
	log, err := st.AuditLog(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, e := range log {
		if e.Action == "incident.open" {
			if _, ok := out[e.IncidentID]; !ok {
				out[e.IncidentID] = e.Actor
			}
		}
	}
	return out, nil
}

// Opener is who opened incident id ("" when the audit log does not say).
// It reads that incident's entries only: the API asks it for every
// incident shown, and the whole log grows with every action of every one.
func Opener(ctx context.Context, st store.Store, id string) (string, error) {
	entries, err := st.IncidentAudit(ctx, id)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if e.Action == "incident.open" {
			return e.Actor, nil
		}
	}
	return "", nil
}
