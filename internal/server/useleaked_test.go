package server

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/provider/awsiam/awsiamtest"
)

// TestOpenWithUseLeaked: POST /api/v1/incidents identifies an AWS key by
// its id without using it; with use_leaked it proves the secret with the
// one request signed by the key that AWS offers, and the audit log names
// the responder who allowed it and the system.
func TestOpenWithUseLeaked(t *testing.T) {
	srv := awsiamtest.New()
	t.Cleanup(srv.Close)
	srv.CreateUser("deploy-bot")
	keyID, keySecret := srv.CreateKey("deploy-bot")
	adminID, adminSecret := srv.AdminKey()
	inv := fmt.Sprintf("version: 1\nsystems:\n  - {name: aws-prod, type: aws-iam, admin: env:AWS_ADMIN, endpoint: %q}\n", srv.URL)
	w := newAPIWorldWith(t, filepath.Join(t.TempDir(), "rekey.db"), inv,
		map[string]string{"AWS_ADMIN": fmt.Sprintf(`{"AccessKeyId":%q,"SecretAccessKey":%q}`, adminID, adminSecret)})
	open := func(extra string) incident.OpenView {
		t.Helper()
		rec := do(t, w.h, "POST", "/api/v1/incidents", "tok-responder", `{"secret":"`+keyID+":"+keySecret+`"`+extra+`}`)
		if rec.Code != http.StatusCreated && rec.Code != http.StatusOK {
			t.Fatalf("open: %d %s", rec.Code, rec.Body)
		}
		if strings.Contains(rec.Body.String(), keySecret) {
			t.Fatal("the response holds the secret access key")
		}
		return decodeJSON[incident.OpenView](t, rec.Body.Bytes())
	}
	useLeaked := func(id string) []string {
		t.Helper()
		entries, err := w.st.IncidentAudit(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range entries {
			if e.Action == "identify.use-leaked" {
				out = append(out, e.Actor+" "+string(e.Detail))
			}
		}
		return out
	}
	v := open("")
	if v.Identity == nil || v.Identity.Name != "deploy-bot" {
		t.Fatalf("identity %+v, want deploy-bot found by the key id", v.Identity)
	}
	if n := srv.Signed(keyID); n != 0 || len(useLeaked(v.ID)) != 0 {
		t.Errorf("without use_leaked: %d request(s) signed with the leaked key, audit %v; want none", n, useLeaked(v.ID))
	}
	v = open(`,"use_leaked":true`)
	if n := srv.Signed(keyID); n != 1 {
		t.Errorf("use_leaked: %d request(s) signed with the leaked key, want the one that proves it", n)
	}
	if got := useLeaked(v.ID); len(got) != 1 || !strings.HasPrefix(got[0], "rita ") || !strings.Contains(got[0], "aws-prod") {
		t.Errorf("audit of use_leaked: %v, want one entry by rita naming aws-prod", got)
	}
	if rec := do(t, w.h, "POST", "/api/v1/incidents", "tok-viewer", `{"secret":"`+keyID+":"+keySecret+`","use_leaked":true}`); rec.Code != http.StatusForbidden {
		t.Errorf("a viewer's open with use_leaked: %d, want 403", rec.Code)
	}
	if n := srv.Signed(keyID); n != 1 {
		t.Errorf("a refused open signed %d request(s) in all, want still 1", n)
	}
}
