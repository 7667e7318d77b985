package web

import (
	"context"
	"flag"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/rekeyhq/rekey/internal/engine"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/testutil/browsertest"
)

// -update writes the screenshots of docs/screenshots (the README shows
// them) while the browser tests run.
var update = flag.Bool("update", false, "write docs/screenshots/*.png")

// screenshot saves the whole page as docs/screenshots/name.png under -update.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if !*update {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func signInWithBrowser(t *testing.T, ctx context.Context, base, token string, shoot bool) {
	t.Helper()
	if shoot {
		browsertest.Do(t, ctx, "sign-in page", chromedp.Navigate(base+"/signin"), chromedp.WaitVisible(chromedp.ID("token")))
		screenshot(t, ctx, "signin")
	}
	browsertest.SignIn(t, ctx, base, token)
}

func TestBrowserSignInListAndApprove(t *testing.T) {
	f := newFixture(t, false)
	srv := httptest.NewServer(f.h)
	t.Cleanup(srv.Close)
	ctx := browsertest.New(t)

	signInWithBrowser(t, ctx, srv.URL, tokApprover, true)
	browsertest.Do(t, ctx, "incident list", chromedp.WaitVisible(chromedp.CSS(`tr[data-incident="`+f.id+`"]`)))
	row := browsertest.Eval[string](t, ctx, `document.querySelector('tr[data-incident]').innerText`)
	for _, want := range []string{f.id, "open", "shop-db/orders_svc", "olga", "3 hours"} {
		if !strings.Contains(row, want) {
			t.Errorf("the list row %q lacks %q", row, want)
		}
	}
	if who := browsertest.Eval[string](t, ctx, `document.querySelector('header.top .who').innerText`); !strings.Contains(who, "alice") || !strings.Contains(who, "approver") {
		t.Errorf("the header says %q", who)
	}
	screenshot(t, ctx, "incidents")

	browsertest.Do(t, ctx, "open the incident", chromedp.Click(chromedp.CSS(`tr[data-incident] a`)), chromedp.WaitVisible(chromedp.ID("plan")))
	if n := browsertest.Eval[int](t, ctx, `document.querySelectorAll('#scope svg .node').length`); n < 7 {
		t.Errorf("the scope graph has %d nodes", n)
	}
	screenshot(t, ctx, "incident")
	approve := chromedp.CSS(`tr[data-step="` + f.approval + `"] form.approve button`)
	browsertest.Do(t, ctx, "approve", chromedp.WaitVisible(approve), chromedp.Click(approve),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-step="`+f.approval+`"] .approved`)))
	if s := stepOf(t, f, f.approval); s.ApprovedBy != "alice" || s.State != engine.Pending {
		t.Fatalf("after the click: %+v", s)
	}

	// The report's own style block is allowed by its hash, nothing else.
	browsertest.Do(t, ctx, "report", chromedp.Navigate(srv.URL+"/incidents/"+f.id+"/report"), chromedp.WaitVisible(chromedp.CSS("h1")))
	if mw := browsertest.Eval[string](t, ctx, `getComputedStyle(document.body).maxWidth`); mw != "1040px" {
		t.Errorf("the report's style is not applied (body max-width %q)", mw)
	}

	browsertest.Do(t, ctx, "leases", chromedp.Navigate(srv.URL+"/leases"), chromedp.WaitVisible(chromedp.CSS("main table")))
	screenshot(t, ctx, "leases")
	browsertest.Do(t, ctx, "audit", chromedp.Navigate(srv.URL+"/audit"), chromedp.WaitVisible(chromedp.ID("verdict")))
	if v := browsertest.Eval[string](t, ctx, `document.getElementById('verdict').innerText`); !strings.HasPrefix(v, "Intact") {
		t.Errorf("audit verdict %q", v)
	}
	screenshot(t, ctx, "audit")
}

func TestBrowserNoApproveButtonForTheOpener(t *testing.T) {
	f := newFixture(t, false)
	srv := httptest.NewServer(f.h)
	t.Cleanup(srv.Close)
	ctx := browsertest.New(t)
	signInWithBrowser(t, ctx, srv.URL, tokOpener, false)
	browsertest.Do(t, ctx, "incident", chromedp.Navigate(srv.URL+"/incidents/"+f.id), chromedp.WaitVisible(chromedp.ID("plan")))
	if n := browsertest.Eval[int](t, ctx, `document.querySelectorAll('form.approve').length`); n != 0 {
		t.Fatalf("the opener (an admin) is shown %d Approve buttons", n)
	}
	cell := browsertest.Eval[string](t, ctx, `document.querySelector('tr[data-step="`+f.approval+`"] [data-role=approval]').innerText`)
	if !strings.Contains(cell, "olga opened this incident") {
		t.Errorf("the approval cell says %q", cell)
	}

	// Printed, the page drops its navigation and forms.
	hidden := `getComputedStyle(document.querySelector('header.top nav')).display === 'none'`
	if browsertest.Eval[bool](t, ctx, hidden) {
		t.Fatal("the navigation is hidden on screen")
	}
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"}); err != nil {
		t.Fatal(err)
	}
	if !browsertest.Eval[bool](t, ctx, hidden) || !browsertest.Eval[bool](t, ctx, `getComputedStyle(document.querySelector('header.top form')).display === 'none'`) {
		t.Error("the print stylesheet keeps the navigation or the sign-out form")
	}
}

func TestBrowserLiveStepUpdates(t *testing.T) {
	f := newFixture(t, false)
	ctx := openLive(t, f, "#plan[data-updated]")
	if n := f.events.listeners(); n != 1 {
		t.Fatalf("%d event streams open, want the page's one", n)
	}

	fin := time.Now()
	started := fin.Add(-time.Second)
	if err := f.st.PutStep(t.Context(), f.id, store.Step{StepID: "deliver-orders-api", State: engine.Done, Started: &started, Finished: &fin}); err != nil {
		t.Fatal(err)
	}
	f.events.send("step")
	browsertest.Do(t, ctx, "the delivered step turns done", chromedp.WaitVisible(chromedp.CSS(`tr[data-step="deliver-orders-api"][data-state="done"]`)))
	if txt := browsertest.Eval[string](t, ctx, `document.querySelector('tr[data-step="deliver-orders-api"] [data-role=state]').innerText`); txt != "done" {
		t.Errorf("the state cell says %q", txt)
	}
	// Another person approves the waiting step elsewhere.
	if err := f.st.PutStep(t.Context(), f.id, store.Step{StepID: f.approval, State: engine.Pending, ApprovedBy: "ada", ApprovedAt: &fin}); err != nil {
		t.Fatal(err)
	}
	f.events.send("audit")
	browsertest.Do(t, ctx, "the approval shows", chromedp.WaitVisible(chromedp.CSS(`tr[data-step="`+f.approval+`"] .approved`)))
	if !browsertest.Eval[bool](t, ctx, `window.rekeyMarker === true`) {
		t.Error("the page was reloaded; the update should come in place")
	}
}

// TestBrowserWithoutJavaScript: with scripts off, signing in and
// approving still work; only the live updates need the script.
func TestBrowserWithoutJavaScript(t *testing.T) {
	f := newFixture(t, false)
	srv := httptest.NewServer(f.h)
	t.Cleanup(srv.Close)
	ctx := browsertest.New(t)
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	signInWithBrowser(t, ctx, srv.URL, tokAdmin, false)
	approve := chromedp.CSS(`tr[data-step="` + f.approval + `"] form.approve button`)
	browsertest.Do(t, ctx, "approve without JavaScript", chromedp.Navigate(srv.URL+"/incidents/"+f.id), chromedp.WaitVisible(approve), chromedp.Click(approve),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-step="`+f.approval+`"] .approved`)))
	if s := stepOf(t, f, f.approval); s.ApprovedBy != "ada" {
		t.Fatalf("after the click: %+v", s)
	}
	if n := f.events.listeners(); n != 0 {
		t.Errorf("%d event streams opened with scripts off", n)
	}
}

// TestBrowserLiveTracing: the tracing line follows the event stream: a
// source finished elsewhere updates it in place, with the failure.
func TestBrowserLiveTracing(t *testing.T) {
	f := newFixture(t, false)
	seqs, err := f.st.StartTrace(t.Context(), f.id, []byte("sealed"), []store.TraceSource{{Type: "git", Path: "/src/a"}, {Type: "dir", Path: "/src/gone"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := openLive(t, f, "#tracing[data-updated]")
	if _, _, err := f.st.FinishTrace(t.Context(), f.id, store.TraceSource{Seq: seqs[1], State: store.TraceFailed, Error: "/src/gone: no such file or directory"}, nil); err != nil {
		t.Fatal(err)
	}
	f.events.send("tracing")
	browsertest.Do(t, ctx, "the failed source shows", chromedp.WaitVisible(chromedp.CSS(`#tracing-failures li`)))
	if txt := browsertest.Eval[string](t, ctx, `document.querySelector('#tracing [data-role=line]').innerText`); txt != "tracing 1/2 sources, 0 copies found, 1 failed" {
		t.Errorf("the tracing line says %q", txt)
	}
	if _, _, err := f.st.FinishTrace(t.Context(), f.id, store.TraceSource{Seq: seqs[0], State: store.TraceDone, Copies: 3}, nil); err != nil {
		t.Fatal(err)
	}
	f.events.send("tracing")
	browsertest.Do(t, ctx, "the tracing ends", chromedp.WaitVisible(chromedp.CSS(`#tracing[data-pending="0"]`)))
	if txt := browsertest.Eval[string](t, ctx, `document.querySelector('#tracing [data-role=line]').innerText`); txt != "tracing 2/2 sources, 3 copies found, 1 failed" {
		t.Errorf("the finished tracing's line says %q", txt)
	}
	if !browsertest.Eval[bool](t, ctx, `window.rekeyMarker === true`) {
		t.Error("the page was reloaded; the update should come in place")
	}
}

// openLive opens f's incident page signed in as the viewer and waits for
// ready, what the live script marks once its stream is open and it has
// read the page's state, so that what changes next can only arrive as
// an event; it marks the window, to tell an update in place from a
// reload.
func openLive(t *testing.T, f *fixture, ready string) context.Context {
	t.Helper()
	srv := httptest.NewServer(f.h)
	t.Cleanup(srv.Close)
	ctx := browsertest.New(t)
	signInWithBrowser(t, ctx, srv.URL, tokViewer, false)
	browsertest.Do(t, ctx, "incident", chromedp.Navigate(srv.URL+"/incidents/"+f.id), chromedp.WaitVisible(chromedp.CSS(ready)))
	browsertest.Eval[bool](t, ctx, `window.rekeyMarker = true`)
	return ctx
}
