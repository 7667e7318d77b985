package server

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/testutil"
)

// A real identity (a PostgreSQL role whose password leaked) is planned
// through the API with a policy that makes revoking wait for a person:
// the opener is refused, an approver's approval is recorded under the
// token's name, and the incident shows the run's state.
func TestPlanAndApproveAsAnotherPerson(t *testing.T) {
	pg := testutil.SharedPostgres(t)
	role := testutil.RandomName("api_")
	leaked := "Leaked-" + testutil.RandomName("pw") + "-Xq7"
	pg.CreateRole(t, role, leaked, "")
	t.Cleanup(func() { pg.DropRole(t, role) })
	inv := fmt.Sprintf("version: 1\nsystems:\n  - {name: shop-db, type: postgres, admin: env:SHOP_DB_ADMIN_DSN}\n"+
		"identities:\n  - {name: %s, system: shop-db}\npolicy:\n  approve: [revoke]\n", role)
	env := map[string]string{"SHOP_DB_ADMIN_DSN": pg.AdminURL()}
	w := newAPIWorldWith(t, filepath.Join(t.TempDir(), "rekey.db"), inv, env)
	w.leaked = leaked

	v := w.openAs(t, "tok-admin")
	if v.Identity == nil || v.Identity.Name != role {
		t.Fatalf("opened %+v: the role was not identified", v)
	}
	rec := do(t, w.h, "POST", "/api/v1/incidents/"+v.ID+"/plan", "tok-responder", `{"strategy":"emergency"}`)
	if rec.Code != 200 {
		t.Fatalf("plan: %d %s", rec.Code, rec.Body)
	}
	p := decodeJSON[plan.Plan](t, rec.Body.Bytes())
	var revoke string
	for _, s := range p.Steps {
		if s.Kind == plan.Revoke && s.Approval != "" {
			revoke = s.ID
		}
	}
	if p.Strategy != plan.Emergency || revoke == "" {
		t.Fatalf("plan %s without a revoke waiting for approval: %s", p.Strategy, rec.Body)
	}

	rec = do(t, w.h, "POST", "/api/v1/incidents/"+v.ID+"/approvals", "tok-admin", `{"step":"`+revoke+`"}`)
	if e := errorOf(t, rec); rec.Code != 403 || !strings.Contains(e.Message, "opened this incident") {
		t.Fatalf("the opener approving: %d %s", rec.Code, rec.Body)
	}
	rec = do(t, w.h, "POST", "/api/v1/incidents/"+v.ID+"/approvals", "tok-approver", `{"step":"`+revoke+`"}`)
	if rec.Code != 200 || decodeJSON[approval](t, rec.Body.Bytes()) != (approval{Step: revoke, ApprovedBy: "abe"}) {
		t.Fatalf("approve: %d %s", rec.Code, rec.Body)
	}
	rec = do(t, w.h, "POST", "/api/v1/incidents/"+v.ID+"/approvals", "tok-approver", `{"step":"no-such-step"}`)
	if rec.Code != 404 {
		t.Fatalf("approving an unknown step: %d %s", rec.Code, rec.Body)
	}

	rec = do(t, w.h, "GET", "/api/v1/incidents/"+v.ID, "tok-viewer", "")
	det := decodeJSON[incident.Detail](t, rec.Body.Bytes())
	if rec.Code != 200 || det.Run == nil || len(det.Run.Steps) != len(p.Steps) {
		t.Fatalf("show: %d %s", rec.Code, rec.Body)
	}
	steps, err := w.st.Steps(t.Context(), v.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range steps {
		if s.StepID == revoke && s.ApprovedBy != "abe" {
			t.Errorf("revoke step %+v: approved_by not abe", s)
		}
	}
	entries, err := w.st.AuditLog(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	last := entries[len(entries)-1]
	if last.Action != "step.approved" || last.Actor != "abe" {
		t.Fatalf("last audit entry %+v", last)
	}
	rec = do(t, w.h, "POST", "/api/v1/incidents/"+v.ID+"/review", "tok-responder", `{}`)
	if rv := decodeJSON[incident.ReviewView](t, rec.Body.Bytes()); rec.Code != 200 || rv.Credential != role {
		t.Fatalf("review: %d %s", rec.Code, rec.Body)
	}
	rec = do(t, w.h, "POST", "/api/v1/incidents/"+v.ID+"/review", "tok-responder", `{"logs":["`+filepath.Join(w.dir, "no-such-*.log")+`"]}`)
	if e := errorOf(t, rec); rec.Code != 404 || !strings.Contains(e.Message, "matches no file") {
		t.Fatalf("review of a glob that matches nothing: %d %s", rec.Code, rec.Body)
	}
	b, _ := json.Marshal(det)
	if strings.Contains(string(b), leaked) || strings.Contains(w.log.String(), leaked) {
		t.Fatal("the secret reached a response or the log")
	}
}
