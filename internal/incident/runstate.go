package incident

import (
	"github.com/rekeyhq/rekey/internal/engine"
	"github.com/rekeyhq/rekey/internal/store"
)

// Started returns the first step of a run that has changed something (or
// may have: running, done, failed, waiting for a window), and whether
// there is one. Steps still pending or waiting for an approval have done
// nothing, and skipped ones were undone by a rollback: a plan whose steps
// are all such may be replaced.
func Started(steps []store.Step) (store.Step, bool) {
	for _, s := range steps {
		if s.State != engine.Pending && s.State != engine.WaitingApproval && s.State != engine.Skipped {
			return s, true
		}
	}
	return store.Step{}, false
}
