package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rekeyhq/rekey/internal/testutil"
	"github.com/rekeyhq/rekey/internal/testutil/browsertest"
)

// TestServeBrowserFollowsARealRun is the web UI's live step states end to
// end: rekey serve as it is run (its store, tokens from rekey token
// create, the UI streaming the API server's events), a real PostgreSQL
// identity, and a run started through the API. The incident page, open
// in a browser before the run starts, shows each change in place as the
// run proceeds: the revoke waiting for an approval, the approval given
// through the API by another person, then every step done. The page's
// script refreshes only on an event, so each change came through the
// stream, and the page is never reloaded.
func TestServeBrowserFollowsARealRun(t *testing.T) {
	ctx := browsertest.New(t)
	pg := testutil.SharedPostgres(t)
	dir := t.TempDir()
	role, leaked := testutil.RandomName("live_"), "Leaked-"+testutil.RandomName("pw")+"-Xq7"
	pg.CreateRole(t, role, leaked, "")
	t.Cleanup(func() { pg.DropRole(t, role) })
	// No consumer: the graceful plan is the revoke, which the policy
	// makes wait for a person, then the end of its sessions.
	inv := filepath.Join(dir, "rekey.yml")
	if err := os.WriteFile(inv, []byte(fmt.Sprintf(`version: 1
systems:
  - { name: shop-db, type: postgres, admin: env:SHOP_DB_ADMIN_DSN }
identities:
  - { name: %s, system: shop-db }
policy:
  approve: [revoke]
`, role)), 0o644); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	env := map[string]string{"REKEY_HOME": home, "REKEY_STORE": filepath.Join(home, "rekey.db"), "SHOP_DB_ADMIN_DSN": pg.AdminURL()}
	tokens := map[string]string{}
	for _, p := range []struct{ name, role string }{{"ada", "admin"}, {"rosa", "responder"}, {"abe", "approver"}} {
		r := run(t, map[string]string{"REKEY_HOME": home, "REKEY_STORE": env["REKEY_STORE"], "REKEY_TOKEN": tokens["ada"]}, "",
			"token", "create", "--name", p.name, "--role", p.role, "--format", "json")
		var made struct{ Token string }
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &made) != nil {
			t.Fatalf("token create %s: %d %s", p.name, r.code, r.stderr)
		}
		tokens[p.name] = made.Token
	}

	s := startServeEnv(t, env, "--listen", "127.0.0.1:0", "--inventory", inv)
	// The request log is read as it comes, so that it never holds a
	// request up.
	var logMu sync.Mutex
	var log []string
	go func() {
		for line := range s.lines {
			logMu.Lock()
			log = append(log, line)
			logMu.Unlock()
		}
	}()
	base := "http://" + s.addr
	call := func(method, path, who, body string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tokens[who])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	code, b := call("POST", "/api/v1/incidents", "rosa", `{"secret":"`+leaked+`"}`)
	var opened struct{ ID string }
	if code != 201 || json.Unmarshal(b, &opened) != nil {
		t.Fatalf("open: %d %s", code, b)
	}
	id := opened.ID
	if code, b := call("POST", "/api/v1/incidents/"+id+"/plan", "rosa", `{"strategy":"graceful"}`); code != 200 {
		t.Fatalf("plan: %d %s", code, b)
	}
	revoke, terminate := "revoke:shop-db/"+role, "terminate:shop-db/"+role
	row := func(step string) string { return `tr[data-step="` + step + `"]` }

	browsertest.SignIn(t, ctx, base, tokens["abe"])
	// The script reads the steps once its stream is open: from then on,
	// a change can only arrive as an event.
	browsertest.Do(t, ctx, "the incident page", chromedp.Navigate(base+"/incidents/"+id), chromedp.WaitVisible(chromedp.CSS("#plan[data-updated]")))
	browsertest.Eval[bool](t, ctx, `(() => {
		window.rekeyMarker = true;
		window.rekeySeen = [];
		new MutationObserver(ms => ms.forEach(m => {
			const seen = m.target.getAttribute('data-step') + '=' + m.target.getAttribute('data-state');
			if (window.rekeySeen[window.rekeySeen.length - 1] !== seen) { window.rekeySeen.push(seen); }
		})).observe(document.getElementById('plan'), {subtree: true, attributes: true, attributeFilter: ['data-state']});
		return true;
	})()`)
	for _, step := range []string{revoke, terminate} {
		if st := browsertest.Eval[string](t, ctx, `document.querySelector('`+row(step)+`').getAttribute('data-state')`); st != "pending" {
			t.Fatalf("before the run, %s is %q", step, st)
		}
	}

	if code, b := call("POST", "/api/v1/incidents/"+id+"/run", "rosa", `{}`); code != 202 {
		t.Fatalf("run: %d %s", code, b)
	}
	browsertest.Do(t, ctx, "the revoke waits for an approval", chromedp.WaitVisible(chromedp.CSS(row(revoke)+`[data-state="waiting-approval"]`)))
	if code, b := call("POST", "/api/v1/incidents/"+id+"/approvals", "abe", `{"step":"`+revoke+`"}`); code != 200 {
		t.Fatalf("approve: %d %s", code, b)
	}
	browsertest.Do(t, ctx, "the approval shows", chromedp.WaitVisible(chromedp.CSS(row(revoke)+` .approved`)))
	if txt := browsertest.Eval[string](t, ctx, `document.querySelector('`+row(revoke)+` .approved').innerText`); txt != "approved by abe" {
		t.Errorf("the approval cell says %q", txt)
	}
	// The run's claim is released a moment after its state is stored.
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, b := call("POST", "/api/v1/incidents/"+id+"/run", "rosa", `{}`)
		if code == 202 {
			break
		}
		if code != 409 || time.Now().After(deadline) {
			t.Fatalf("run again: %d %s", code, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	browsertest.Do(t, ctx, "every step is done", chromedp.WaitVisible(chromedp.CSS(row(revoke)+`[data-state="done"]`)),
		chromedp.WaitVisible(chromedp.CSS(row(terminate)+`[data-state="done"]`)))
	if st := browsertest.Eval[string](t, ctx, `document.querySelector('`+row(terminate)+` [data-role=state]').innerText`); st != "done" {
		t.Errorf("the terminate step's state cell says %q", st)
	}
	// The run is stored as done after its last step: a later event.
	browsertest.Do(t, ctx, "the run's state turns done",
		chromedp.Poll[chromedp.Void](`document.getElementById('run-state').innerText === 'done'`, chromedp.WithPollingMutation()))

	if !browsertest.Eval[bool](t, ctx, `window.rekeyMarker === true`) {
		t.Error("the page was reloaded; the updates should come in place")
	}
	seen := strings.Join(browsertest.Eval[[]string](t, ctx, `window.rekeySeen`), "\n")
	for _, want := range []string{revoke + "=waiting-approval", revoke + "=done", terminate + "=done"} {
		if !strings.Contains(seen, want) {
			t.Errorf("the page never showed %s; it showed:\n%s", want, seen)
		}
	}
	// One stream, open all along: a stream that ended would be in the
	// request log, and the page refreshes when it reconnects, which would
	// show changes that no event carried.
	logMu.Lock()
	for _, line := range log {
		if strings.Contains(line, `"path":"/incidents/`+id+`/events"`) {
			t.Errorf("the page's event stream ended: %s", line)
		}
	}
	logMu.Unlock()
	if loginWorks(pg, role, leaked) {
		t.Error("the leaked password still logs in after the run")
	}
}
