package server

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
)

// The new secret of a supply-secret step (one no API can mint) comes in
// the approval's body: it is sealed for the step's login, and neither the
// answer, the request log nor the audit log holds it; a step that takes
// no secret refuses one without echoing it.
func TestApproveSupplyStepWithItsSecret(t *testing.T) {
	sealKey := make([]byte, 32)
	runs := filepath.Join(t.TempDir(), "runs")
	w := newAPIWorldWith(t, filepath.Join(t.TempDir(), "rekey.db"), "version: 1\nsources:\n  - {type: dir, path: src}\n", nil, func(c *Config) {
		inner := c.Deps
		c.Deps = func(ctx context.Context, p auth.Principal) (incident.Deps, error) {
			d, err := inner(ctx, p)
			d.Sealer = func(id string) (*secret.Sealer, error) {
				s, err := secret.NewSealer(sealKey)
				if err != nil {
					return nil, err
				}
				return s.ForRun(runs, id), nil
			}
			return d, err
		}
	})
	v := w.openAs(t, "tok-admin")
	ctx := context.Background()
	p := plan.Plan{Incident: v.ID, Strategy: plan.Graceful, Requested: plan.Graceful, Notes: []string{}, Steps: []plan.Step{
		{ID: "supply:gh/octo", Kind: plan.Supply, Target: "gh/octo", System: "gh", Identity: "octo", Login: "octo", Needs: []string{}, Approval: plan.ApprovalSecret},
		{ID: "revoke:gh/octo", Kind: plan.Revoke, Target: "gh/octo", System: "gh", Identity: "octo", Needs: []string{"supply:gh/octo"}, Approval: plan.ApprovalPolicy},
	}}
	body, _ := json.Marshal(p)
	if err := w.st.PutPlan(ctx, v.ID, store.Plan{Strategy: "graceful", Body: body}); err != nil {
		t.Fatal(err)
	}
	const fresh = "github_pat_11AAAAFRESHtokenSuppliedByAPerson0123456789"
	var seen strings.Builder
	post := func(tok, req string) (int, string) {
		rec := do(t, w.h, "POST", "/api/v1/incidents/"+v.ID+"/approvals", tok, req)
		seen.WriteString(rec.Body.String())
		return rec.Code, rec.Body.String()
	}
	if code, b := post("tok-approver", `{"step":"supply:gh/octo"}`); code != 400 || !strings.Contains(b, "--secret-file") {
		t.Errorf("a supply step approved without its secret: %d %s", code, b)
	}
	if code, b := post("tok-approver", `{"step":"revoke:gh/octo","secret":"`+fresh+`"}`); code != 400 || !strings.Contains(b, "takes no secret") {
		t.Errorf("a secret for a step that takes none: %d %s", code, b)
	}
	if code, b := post("tok-admin", `{"step":"supply:gh/octo","secret":"`+fresh+`"}`); code != 403 {
		t.Errorf("the opener handing in the secret: %d %s", code, b)
	}
	if names, _ := w.st.SealedNames(ctx, v.ID); len(names) != 0 {
		t.Fatalf("refused approvals sealed %v", names)
	}
	if code, b := post("tok-approver", `{"step":"supply:gh/octo","secret":"`+fresh+`"}`); code != 200 || decodeJSON[approval](t, []byte(b)) != (approval{Step: "supply:gh/octo", ApprovedBy: "abe"}) {
		t.Fatalf("approve with the secret: %d %s", code, b)
	}
	if names, _ := w.st.SealedNames(ctx, v.ID); len(names) != 1 || names[0] != "login:gh/octo" {
		t.Errorf("sealed %v, want login:gh/octo", names)
	}
	log, _ := w.st.AuditLog(ctx)
	for _, a := range log {
		seen.Write(a.Detail)
	}
	seen.WriteString(w.log.String())
	if strings.Contains(seen.String(), "FRESHtoken") {
		t.Error("the supplied secret is in an answer, the request log or the audit log")
	}
}
