package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/engine"
	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
)

const supplyStep = "supply:gh/octo-bot"

// supplyFixture is the fixture with a plan whose first step waits for a
// GitHub token a person creates, and a workflow that can seal it; logged
// collects what the server would log of each request.
func supplyFixture(t *testing.T) (f *fixture, srv *httptest.Server, open func() (string, bool), logged *strings.Builder) {
	t.Helper()
	f = newFixture(t, false)
	ctx := context.Background()
	p := plan.Plan{Incident: f.id, Strategy: plan.Graceful, Requested: "auto", Reason: "no API can create a personal access token.", Notes: []string{},
		Steps: []plan.Step{
			{ID: supplyStep, Kind: plan.Supply, Target: "gh/octo-bot", System: "gh", Identity: "octo-bot", Login: "octo-bot", Needs: []string{},
				Approval: plan.ApprovalSecret, Summary: "a person creates the replacement for gh/octo-bot and hands it to rekey"},
			{ID: "revoke:gh/octo-bot", Kind: plan.Revoke, Target: "gh/octo-bot", System: "gh", Identity: "octo-bot", Needs: []string{supplyStep},
				Summary: "revoke the leaked token"},
		}}
	body, _ := json.Marshal(p)
	if err := f.st.PutPlan(ctx, f.id, store.Plan{Strategy: "graceful", Body: body}); err != nil {
		t.Fatal(err)
	}
	if err := f.st.PutStep(ctx, f.id, store.Step{StepID: supplyStep, State: engine.WaitingApproval}); err != nil {
		t.Fatal(err)
	}
	sealKey, runs := make([]byte, 32), t.TempDir()
	sealer := func(id string) (*secret.Sealer, error) {
		s, err := secret.NewSealer(sealKey)
		if err != nil {
			return nil, err
		}
		return s.ForRun(runs, id), nil
	}
	var mu sync.Mutex
	logged = &strings.Builder{}
	f.h = New(Config{Store: f.st, Auth: f.tokens,
		LogActor: func(r *http.Request, actor string) {
			mu.Lock()
			defer mu.Unlock()
			logged.WriteString(r.Method + " " + r.URL.String() + " " + actor + "\n")
		},
		Deps: func(ctx context.Context, p auth.Principal) (incident.Deps, error) {
			return incident.Deps{Store: f.st, Audit: f.al, Actor: p.Name, Sealer: sealer,
				Fingerprinter: func() (*secret.Fingerprinter, error) { return secret.NewFingerprinter(make([]byte, 32)) },
				LoadInventory: func(string) (*inventory.Inventory, error) {
					inv, _, err := inventory.Parse("rekey.yml", []byte("version: 1\n"), inventory.Options{})
					return inv, err
				}}, nil
		}})
	srv = serve(t, f)
	// open reads back what was sealed for the step's login.
	open = func() (string, bool) {
		blob, ok, err := f.st.Sealed(ctx, f.id, "login:gh/octo-bot")
		if err != nil || !ok {
			return "", false
		}
		s, err := sealer(f.id)
		if err != nil {
			t.Fatal(err)
		}
		v, err := s.Open(blob, f.id+"/login:gh/octo-bot")
		if err != nil {
			t.Fatal(err)
		}
		return string(v.Reveal()), true
	}
	return f, srv, open, logged
}

// postSupply sends the form as a browser does (multipart, with the file
// input empty when file is "").
func (c *client) postSupply(id string, fields map[string]string, file string) (*http.Response, string) {
	c.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("secret_file", map[bool]string{true: "", false: "token.txt"}[file == ""])
	io.WriteString(fw, file)
	mw.Close()
	req, _ := http.NewRequest("POST", c.base+"/incidents/"+id+"/supply", &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// The incident page offers who may approve a form to hand in the new
// token of a supply-secret step, saying what it is for; the opener and a
// viewer get none.
func TestSupplyFormOnlyForWhoMayApprove(t *testing.T) {
	f, srv, _, _ := supplyFixture(t)
	form := `action="/incidents/` + f.id + `/supply" enctype="multipart/form-data"`
	for _, c := range []struct {
		token string
		shown bool
	}{{tokApprover, true}, {tokAdmin, true}, {tokOpener, false}, {tokStarter, false}, {tokViewer, false}} {
		cl := newClient(t, srv)
		cl.signIn(c.token)
		_, page := cl.get("/incidents/" + f.id)
		if strings.Contains(page, form) != c.shown {
			t.Errorf("%s: the supply form shown = %v, want %v", c.token, !c.shown, c.shown)
		}
		if c.shown && (!strings.Contains(page, `name="secret"`) || !strings.Contains(page, `type="file" name="secret_file"`) ||
			!strings.Contains(page, "No API can create the replacement for <code>gh/octo-bot</code>") || strings.Contains(page, `value="`+supplyStep+`">
        <input type="hidden" name="csrf" value="`+csrfOf(t, page)+`">
        <button type="submit">Approve</button>`)) {
			t.Errorf("%s: the form lacks its fields or its explanation, or a plain Approve button is offered:\n%s", c.token, page)
		}
	}
}

// Handing in the token: refused without the CSRF token, by a viewer and by
// the opener, with no secret or two; accepted from a file (its trailing
// newline dropped) and sealed for the step's login, the step approved.
// The secret is in no answer, page, request log or audit entry.
func TestSupplySecretPost(t *testing.T) {
	f, srv, open, logged := supplyFixture(t)
	const fresh = "github_pat_11AAAAFRESHtokenFromTheWebForm0123456789"
	var seen strings.Builder
	alice := newClient(t, srv)
	alice.signIn(tokApprover)
	_, page := alice.get("/incidents/" + f.id)
	csrf := csrfOf(t, page)
	post := func(c *client, fields map[string]string, file string) int {
		resp, body := c.postSupply(f.id, fields, file)
		seen.WriteString(body)
		return resp.StatusCode
	}
	if code := post(alice, map[string]string{"step": supplyStep, "secret": fresh}, ""); code != http.StatusForbidden {
		t.Errorf("without CSRF: %d", code)
	}
	for _, tok := range []string{tokViewer, tokOpener} {
		c := newClient(t, srv)
		c.signIn(tok)
		_, p := c.get("/incidents/" + f.id)
		if code := post(c, map[string]string{"step": supplyStep, "csrf": csrfOf(t, p), "secret": fresh}, ""); code != http.StatusForbidden {
			t.Errorf("%s hands in the secret: %d", tok, code)
		}
	}
	if code := post(alice, map[string]string{"step": supplyStep, "csrf": csrf, "secret": fresh}, fresh+"\n"); code != http.StatusBadRequest {
		t.Errorf("pasted and a file: %d", code)
	}
	if code := post(alice, map[string]string{"step": supplyStep, "csrf": csrf, "secret": "\r\n"}, ""); code != http.StatusBadRequest {
		t.Errorf("no secret: %d", code)
	}
	if code := post(alice, map[string]string{"step": "revoke:gh/octo-bot", "csrf": csrf}, fresh); code != http.StatusBadRequest {
		t.Errorf("a secret for a step that takes none: %d", code)
	}
	if _, ok := open(); ok {
		t.Fatal("a refused request sealed a secret")
	}
	if code := post(alice, map[string]string{"step": supplyStep, "csrf": csrf}, fresh+"\n"); code != http.StatusSeeOther {
		t.Fatalf("hand in from a file: %d\n%s", code, seen.String())
	}
	if got, ok := open(); !ok || got != fresh {
		t.Errorf("sealed %q (%v), want the file's token without its newline", got, ok)
	}
	if s := stepOf(t, f, supplyStep); s.ApprovedBy != "alice" || s.State != engine.Pending {
		t.Errorf("the step after handing in: %+v", s)
	}
	_, page = alice.get("/incidents/" + f.id)
	seen.WriteString(page)
	if !strings.Contains(page, "approved by alice") || strings.Contains(page, "/supply") {
		t.Error("the page still offers the form")
	}
	log, _ := f.st.AuditLog(t.Context())
	for _, e := range log {
		seen.Write(e.Detail)
	}
	seen.WriteString(logged.String())
	if strings.Contains(seen.String(), "FRESHtoken") {
		t.Error("the supplied secret is in an answer, a page, the request log or the audit log")
	}
}

// A pasted token (a textarea sends CRLF line breaks) is sealed without
// its trailing line break.
func TestSupplySecretPasted(t *testing.T) {
	f, srv, open, _ := supplyFixture(t)
	ada := newClient(t, srv)
	ada.signIn(tokAdmin)
	_, page := ada.get("/incidents/" + f.id)
	if resp, body := ada.postSupply(f.id, map[string]string{"step": supplyStep, "csrf": csrfOf(t, page), "secret": "glpat-pasted-token\r\n"}, ""); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("hand in pasted: %d\n%s", resp.StatusCode, body)
	}
	if got, _ := open(); got != "glpat-pasted-token" {
		t.Errorf("sealed %q", got)
	}
}
