package incident

import (
	"context"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/engine"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/provider"
)

// describe adds to a dry run's actions the statements their systems
// would be sent, where the provider can say (provider.Describer): the
// SQL or ACL text of issue, revoke and terminate-sessions steps, secrets
// masked. Steps done or skipped send nothing more.
func describe(ctx context.Context, ed engine.Deps, p *plan.Plan, acts []engine.Action, now time.Time) error {
	steps := map[string]*plan.Step{}
	for i := range p.Steps {
		steps[p.Steps[i].ID] = &p.Steps[i]
	}
	for i := range acts {
		a := &acts[i]
		st := steps[a.Step]
		if st == nil || st.System == "" || a.State == engine.Done || a.State == engine.Skipped {
			continue
		}
		if st.Kind != plan.Issue && st.Kind != plan.Revoke && st.Kind != plan.TerminateSessions {
			continue
		}
		prov, err := ed.Provider(ctx, st.System)
		if err != nil {
			return err
		}
		d, ok := prov.(provider.Describer)
		if !ok {
			continue
		}
		id := provider.IdentityRef{System: st.System, Name: st.Identity, Key: st.Key}
		var stmts []string
		switch st.Kind {
		case plan.Issue:
			req := provider.IssueRequest{From: id, Name: st.Login, Drop: st.Drop}
			if st.TTL > 0 {
				req.ExpiresAt = now.Add(time.Duration(st.TTL)).Truncate(time.Second)
			}
			stmts, err = d.DescribeIssue(ctx, req)
		case plan.Revoke:
			stmts, err = d.DescribeRevoke(ctx, id)
		case plan.TerminateSessions:
			stmts, err = d.DescribeTerminate(ctx, id)
		}
		if err != nil {
			return err
		}
		if len(stmts) == 0 {
			continue
		}
		if a.Change != "" {
			a.Change += "\n"
		}
		a.Change += "statements:\n  " + strings.Join(stmts, "\n  ")
	}
	return nil
}
