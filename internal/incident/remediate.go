package incident

import (
	"context"
	"fmt"
	"strings"

	"github.com/rekeyhq/rekey/internal/detect/rules"
	"github.com/rekeyhq/rekey/internal/engine"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/plan"
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
	// KeyID is the public id given with the secret (an AWS access key
	// id, from KEY_ID:SECRET), "" when none was.
	KeyID string
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
	det, err := rules.Detector()
	if err != nil {
		return nil, err
	}
	logins, err := retiredLogins(ctx, d.Store, id, inv)
	if err != nil {
		return nil, err
	}
	keyID, err := leakedKeyID(ctx, d.Store, id, inv, o.KeyID)
	if err != nil {
		return nil, err
	}
	return remediate.Run(ctx, remediate.Options{
		Incident: inc, Secret: o.Secret, KeyID: keyID, Inventory: inv, Store: d.Store, Audit: d.Audit, Actor: d.Actor,
		Fingerprinter: fp, Detector: det, Home: d.Home, RewriteHistory: o.RewriteHistory, Logins: logins,
		// The sources' lines come prefixed for a terminal; Warn's are plain.
		Warn:   func(line string) { d.warn(strings.TrimPrefix(line, "rekey: ")) },
		Getenv: d.Getenv, DeleteMessages: o.DeleteMessages,
	})
}

// leakedKeyID is the public id consumers present beside the leaked secret
// (an AWS access key id), which remediation replaces with the secret: the
// one the incident's system identified (its inspection's this-key), else
// the one given with the secret. A given id that differs from the
// identified one is refused: replaced, it would leave the leaked key's
// id in place.
func leakedKeyID(ctx context.Context, st store.Store, id string, inv *inventory.Inventory, given string) (string, error) {
	idents, err := st.Identities(ctx, id)
	if err != nil {
		return "", err
	}
	for _, ident := range idents {
		sys := inv.SystemByName(ident.System)
		if sys == nil || !plan.PresentsKeyID(sys.Type) {
			continue
		}
		for _, r := range ident.Related {
			if r.Kind != "this-key" {
				continue
			}
			if given != "" && given != r.Name {
				return "", errs.New("remediate", errs.Invalid, id, fmt.Sprintf("the key id given with the secret (%s) is not the leaked key %s identified (%s)", given, ident.System, r.Name))
			}
			return r.Name, nil
		}
	}
	return given, nil
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
	return report.Build(ctx, report.Input{Store: d.Store, Incident: id, Inventory: inv, Audit: d.Audit, Verifier: d.AuditVerifier, Now: d.now()})
}
