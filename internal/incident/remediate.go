package incident

import (
	"context"
	"strings"

	"github.com/rekeyhq/rekey/internal/detect"
	"github.com/rekeyhq/rekey/internal/detect/rules"
	"github.com/rekeyhq/rekey/internal/engine"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/remediate"
	"github.com/rekeyhq/rekey/internal/report"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
)

// RemediateOptions are how a remediation is asked for.
type RemediateOptions struct {
	// Secret is the leaked secret: the copies are found by it, so it
	// must be the one the incident was opened for.
	Secret secret.Secret
	// RewriteHistory rewrites approved repositories' history on local
	// mirrors (under Deps.Home).
	RewriteHistory bool
	// DeleteMessages redacts approved Slack messages with chat.delete
	// rather than chat.update.
	DeleteMessages bool
}

// Remediate removes the incident's copies as far as rekey can (claimed
// first): references instead of values on review branches, history
// rewrites once approved, tasks for the rest (see package remediate).
// A result comes back with remediate.ErrWaiting when a rewrite waits
// for its approval.
func Remediate(ctx context.Context, d Deps, id string, o RemediateOptions) (*remediate.Result, error) {
	ctx, release, err := d.Claim(ctx, id)
	if err != nil {
		return nil, err
	}
	defer release()
	inc, err := d.Store.GetIncident(ctx, id)
	if err != nil {
		return nil, err
	}
	if d.Fingerprinter == nil {
		return nil, errs.New("remediate", errs.Invalid, id, "no installation key to check the secret with")
	}
	fp, err := d.Fingerprinter()
	if err != nil {
		return nil, err
	}
	if fp.Of(o.Secret) != inc.Fingerprint {
		return nil, errs.New("remediate", errs.Invalid, id, "the secret given is not the one "+id+" was opened for (its fingerprint differs)")
	}
	if inc.Inventory == "" {
		return nil, errs.New("remediate", errs.Invalid, id, "the incident has no inventory")
	}
	inv, err := d.LoadInventory(inc.Inventory)
	if err != nil {
		return nil, err
	}
	det, err := detect.New(rules.All())
	if err != nil {
		return nil, err
	}
	logins, err := retiredLogins(ctx, d.Store, id, inv)
	if err != nil {
		return nil, err
	}
	return remediate.Run(ctx, remediate.Options{
		Incident: inc, Secret: o.Secret, Inventory: inv, Store: d.Store, Audit: d.Audit, Actor: d.Actor,
		Fingerprinter: fp, Detector: det, Home: d.Home, RewriteHistory: o.RewriteHistory, Logins: logins,
		// The sources' lines come prefixed for a terminal; Warn's are plain.
		Warn:   func(line string) { d.warn(strings.TrimPrefix(line, "rekey: ")) },
		Getenv: d.Getenv, DeleteMessages: o.DeleteMessages,
	})
}

// retiredLogins are the logins the run retired with what replaced them,
// each replacement with its consumer's delivery file when it has one.
func retiredLogins(ctx context.Context, st store.Store, id string, inv *inventory.Inventory) ([]remediate.LoginChange, error) {
	reps, err := engine.Replacements(ctx, st, id)
	if err != nil {
		return nil, err
	}
	var out []remediate.LoginChange
	idx := map[string]int{}
	for _, r := range reps {
		key := r.System + "/" + r.Identity
		i, ok := idx[key]
		if !ok {
			i = len(out)
			idx[key] = i
			out = append(out, remediate.LoginChange{Old: r.Identity})
		}
		n := remediate.NewLogin{Login: r.Login, Consumer: r.Consumer}
		if c := inv.ConsumerByName(r.Consumer); c != nil && c.Deliver != nil && c.Deliver.Type == "file" {
			n.Path = inv.Abs(c.Deliver.Path)
		}
		out[i].New = append(out[i].New, n)
	}
	return out, nil
}

// Report builds the incident's report from what the store recorded and
// the inventory it was opened with (its copy when the file is gone).
func Report(ctx context.Context, d Deps, id string) (*report.Incident, error) {
	inc, err := d.Store.GetIncident(ctx, id)
	if err != nil {
		return nil, err
	}
	inv := d.RecordedInventory(ctx, inc, "consumers are shown as recorded at open")
	return report.Build(ctx, report.Input{Store: d.Store, Incident: id, Inventory: inv, Audit: d.Audit, Now: d.now()})
}
