package web

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/engine"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/token"
)

// client is a browser without JavaScript: a cookie jar, no redirects
// followed unless asked.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newClient(t *testing.T, srv *httptest.Server) *client {
	jar, _ := cookiejar.New(nil)
	// One http.Client per browser: srv.Client() is shared.
	hc := &http.Client{Transport: srv.Client().Transport, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &client{t: t, base: srv.URL, hc: hc}
}

func (c *client) get(path string) (*http.Response, string) {
	c.t.Helper()
	resp, err := c.hc.Get(c.base + path)
	if err != nil {
		c.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func (c *client) post(path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	req, _ := http.NewRequest("POST", c.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", page)
	}
	return m[1]
}

// signIn signs c in with token and returns the incidents page.
func (c *client) signIn(token string) string {
	c.t.Helper()
	_, page := c.get("/signin")
	resp, body := c.post("/signin", url.Values{"token": {token}, "csrf": {csrfOf(c.t, page)}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/incidents" {
		c.t.Fatalf("sign in: %d %s\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	resp, body = c.get("/incidents")
	if resp.StatusCode != 200 {
		c.t.Fatalf("incidents after sign in: %d\n%s", resp.StatusCode, body)
	}
	return body
}

func serve(t *testing.T, f *fixture) *httptest.Server {
	srv := httptest.NewServer(f.h)
	t.Cleanup(srv.Close)
	return srv
}

func TestSecurityHeadersOnEveryPage(t *testing.T) {
	f := newFixture(t, false)
	srv := serve(t, f)
	c := newClient(t, srv)
	c.signIn(tokViewer)
	for _, path := range []string{"/signin", "/incidents", "/incidents/" + f.id, "/leases", "/audit", "/assets/style.css", "/assets/live.js", "/no/such/page", "/incidents/" + f.id + "/report"} {
		resp, _ := c.get(path)
		for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
			if resp.Header.Get(k) != v {
				t.Errorf("%s: %s = %q, want %q", path, k, resp.Header.Get(k), v)
			}
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.HasPrefix(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP %q", path, csp)
		}
	}
}

func TestPagesHaveNoInlineScriptOrStyle(t *testing.T) {
	f := newFixture(t, false)
	c := newClient(t, serve(t, f))
	c.signIn(tokApprover)
	otherOrigin := regexp.MustCompile(`(?i)(src|href|action)="(https?:)?//`)
	inline := regexp.MustCompile(`(?i)<script[^>]*>[^<]|<style|\sstyle=|\son[a-z]+=|javascript:`)
	for _, path := range []string{"/signin", "/incidents", "/incidents/" + f.id, "/leases", "/audit"} {
		_, body := c.get(path)
		if m := inline.FindString(body); m != "" {
			t.Errorf("%s holds inline script or style: %q", path, m)
		}
		if m := otherOrigin.FindString(body); m != "" {
			t.Errorf("%s loads or links another origin: %s", path, m)
		}
	}
}

func TestSignInSetsAStrictHttpOnlyCookie(t *testing.T) {
	for _, secure := range []bool{false, true} {
		f := newFixture(t, secure)
		var srv *httptest.Server
		if secure {
			srv = httptest.NewTLSServer(f.h)
		} else {
			srv = httptest.NewServer(f.h)
		}
		t.Cleanup(srv.Close)
		c := newClient(t, srv)
		_, page := c.get("/signin")
		resp, _ := c.post("/signin", url.Values{"token": {tokViewer}, "csrf": {csrfOf(t, page)}})
		var sess *http.Cookie
		for _, ck := range resp.Cookies() {
			if strings.HasSuffix(ck.Name, "rekey_session") {
				sess = ck
			}
		}
		if sess == nil {
			t.Fatalf("secure=%v: no session cookie in %v", secure, resp.Header["Set-Cookie"])
		}
		if !sess.HttpOnly || sess.SameSite != http.SameSiteStrictMode || sess.Path != "/" || sess.Secure != secure || sess.MaxAge <= 0 {
			t.Errorf("secure=%v: cookie %+v", secure, sess)
		}
		if secure != strings.HasPrefix(sess.Name, "__Host-") {
			t.Errorf("secure=%v: cookie name %s", secure, sess.Name)
		}
		// The store holds the id's hash, never the id, and no token in clear.
		ws, ok, err := f.st.WebSession(t.Context(), hashID(sess.Value))
		if err != nil || !ok || ws.Actor != "vera" || ws.Role != "viewer" || ws.Via != "token" {
			t.Fatalf("stored session %+v %v %v", ws, ok, err)
		}
		if strings.Contains(ws.Credential, tokViewer) || ws.Credential == "" {
			t.Errorf("the stored credential is not sealed: %q", ws.Credential)
		}
		if _, ok, _ := f.st.WebSession(t.Context(), sess.Value); ok {
			t.Error("a session is found by its id itself")
		}
	}
}

func TestSignInRefusals(t *testing.T) {
	f := newFixture(t, false)
	c := newClient(t, serve(t, f))
	_, page := c.get("/signin")
	csrf := csrfOf(t, page)
	// An oversized form is not read: its CSRF token is not found either.
	if resp, _ := c.post("/signin", url.Values{"csrf": {csrf}, "token": {strings.Repeat("x", 100<<10)}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("an oversized form: %d", resp.StatusCode)
	}
	_, page = c.get("/signin")
	csrf = csrfOf(t, page)
	resp, body := c.post("/signin", url.Values{"token": {"rekey_wrong"}, "csrf": {csrf}})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "invalid, revoked or expired") {
		t.Errorf("a wrong token: %d\n%s", resp.StatusCode, body)
	}
	if strings.Contains(body, "rekey_wrong") {
		t.Error("the page echoes the token it was given")
	}
	// Without the form's token (a form posted from elsewhere).
	c2 := newClient(t, serve(t, f))
	resp, _ = c2.post("/signin", url.Values{"token": {tokAdmin}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in without a CSRF token: %d", resp.StatusCode)
	}
	// Pages need a session.
	resp, _ = c2.get("/incidents")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/signin" {
		t.Errorf("incidents without a session: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestCrossOriginPostRefused(t *testing.T) {
	f := newFixture(t, false)
	srv := serve(t, f)
	c := newClient(t, srv)
	page := c.signIn(tokApprover)
	req, _ := http.NewRequest("POST", srv.URL+"/incidents/"+f.id+"/approve", strings.NewReader(url.Values{"step": {f.approval}, "csrf": {csrfOf(t, page)}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a cross-site POST: %d", resp.StatusCode)
	}
	if st := stepOf(t, f, f.approval); st.ApprovedBy != "" {
		t.Errorf("approved by a cross-site request: %+v", st)
	}
}

func stepOf(t *testing.T, f *fixture, id string) (s struct{ State, ApprovedBy string }) {
	t.Helper()
	m, err := stepStates(t.Context(), f.st, f.id)
	if err != nil {
		t.Fatal(err)
	}
	return struct{ State, ApprovedBy string }{m[id].State, m[id].ApprovedBy}
}

func TestApproveButtonOnlyForWhoMayApprove(t *testing.T) {
	f := newFixture(t, false)
	srv := serve(t, f)
	button := `name="step" value="` + f.approval + `"`
	for _, c := range []struct {
		token, why string
		shown      bool
	}{
		{tokApprover, "", true},
		{tokAdmin, "", true},
		{tokOpener, "olga opened this incident and cannot also approve its steps; another person must", false},
		{tokViewer, "role viewer cannot approve", false},
		{tokStarter, "ravi started this incident&#39;s run and cannot also approve its steps", false},
	} {
		cl := newClient(t, srv)
		cl.signIn(c.token)
		_, page := cl.get("/incidents/" + f.id)
		if strings.Contains(page, button) != c.shown {
			t.Errorf("%s: Approve button shown = %v, want %v", c.token, !c.shown, c.shown)
		}
		if c.why != "" && !strings.Contains(page, c.why) {
			t.Errorf("%s: the page does not say %q", c.token, c.why)
		}
	}
}

func TestApprovePost(t *testing.T) {
	f := newFixture(t, false)
	srv := serve(t, f)
	form := func(page string) url.Values {
		return url.Values{"step": {f.approval}, "csrf": {csrfOf(t, page)}}
	}
	// Refused: no CSRF token, a viewer, the run's starter.
	alice := newClient(t, srv)
	page := alice.signIn(tokApprover)
	if resp, _ := alice.post("/incidents/"+f.id+"/approve", url.Values{"step": {f.approval}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("without CSRF: %d", resp.StatusCode)
	}
	if resp, _ := alice.post("/incidents/"+f.id+"/approve", url.Values{"step": {f.approval}, "csrf": {"x" + csrfOf(t, page)}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a wrong CSRF token: %d", resp.StatusCode)
	}
	for _, tok := range []string{tokViewer, tokStarter, tokOpener} {
		c := newClient(t, srv)
		p := c.signIn(tok)
		if resp, body := c.post("/incidents/"+f.id+"/approve", form(p)); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s approves: %d\n%s", tok, resp.StatusCode, body)
		}
	}
	// Another session's CSRF token is not this one's.
	ada := newClient(t, srv)
	adaPage := ada.signIn(tokAdmin)
	if resp, _ := alice.post("/incidents/"+f.id+"/approve", form(adaPage)); resp.StatusCode != http.StatusForbidden {
		t.Errorf("with another session's CSRF token: %d", resp.StatusCode)
	}
	if s := stepOf(t, f, f.approval); s.ApprovedBy != "" || s.State != engine.WaitingApproval {
		t.Fatalf("approved by a refused request: %+v", s)
	}
	resp, body := alice.post("/incidents/"+f.id+"/approve", form(page))
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("approve: %d\n%s", resp.StatusCode, body)
	}
	if s := stepOf(t, f, f.approval); s.ApprovedBy != "alice" || s.State != engine.Pending {
		t.Fatalf("after approving: %+v", s)
	}
	log, _ := f.st.AuditLog(t.Context())
	if last := log[len(log)-1]; last.Action != "step.approved" || last.Actor != "alice" {
		t.Errorf("audit: %+v", last)
	}
	_, page = alice.get("/incidents/" + f.id)
	if !strings.Contains(page, "approved by alice") || strings.Contains(page, `name="step" value="`+f.approval+`"`) {
		t.Error("the page still offers the approval")
	}
}

func TestRevokedTokenEndsItsSessions(t *testing.T) {
	f := newFixture(t, false)
	c := newClient(t, serve(t, f))
	c.signIn(tokApprover)
	f.tokens.revoke(tokApprover)
	resp, _ := c.get("/incidents")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/signin" {
		t.Fatalf("a revoked token's session: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The row is gone: nothing is left to sweep even far in the future.
	if n, _ := f.st.DeleteExpiredWebSessions(t.Context(), time.Now().Add(100*24*time.Hour), time.Now().Add(100*24*time.Hour)); n != 0 {
		t.Errorf("%d sessions left after the revoked token's was used", n)
	}
}

func TestSessionExpiry(t *testing.T) {
	f := newFixture(t, false)
	now := time.Now()
	f.h.cfg.Now = func() time.Time { return now }
	f.h.cfg.IdleTimeout, f.h.cfg.MaxAge = 10*time.Minute, time.Hour
	c := newClient(t, serve(t, f))
	c.signIn(tokViewer)
	for _, step := range []time.Duration{9 * time.Minute, 9 * time.Minute, 9 * time.Minute} {
		now = now.Add(step)
		if resp, _ := c.get("/incidents"); resp.StatusCode != 200 {
			t.Fatalf("an active session ended after %v: %d", step, resp.StatusCode)
		}
	}
	now = now.Add(11 * time.Minute) // idle
	if resp, _ := c.get("/incidents"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("an idle session still works: %d", resp.StatusCode)
	}
	c.signIn(tokViewer)
	for range 7 { // active, but past the absolute expiry
		now = now.Add(9 * time.Minute)
		c.get("/incidents")
	}
	if resp, _ := c.get("/incidents"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a session outlived its absolute expiry: %d", resp.StatusCode)
	}
}

func TestSignOut(t *testing.T) {
	f := newFixture(t, false)
	var actors []string
	f.h.cfg.LogActor = func(r *http.Request, actor string) { actors = append(actors, r.URL.Path+" "+actor) }
	c := newClient(t, serve(t, f))
	page := c.signIn(tokViewer)
	if resp, _ := c.post("/signout", url.Values{}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-out without CSRF: %d", resp.StatusCode)
	}
	resp, _ := c.post("/signout", url.Values{"csrf": {csrfOf(t, page)}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out: %d", resp.StatusCode)
	}
	if resp, _ := c.get("/incidents"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("signed out, the incidents: %d", resp.StatusCode)
	}
	if len(actors) != 1 || actors[0] != "/incidents vera" {
		t.Errorf("the request log was told %q, want the one signed-in page", actors)
	}
}

func TestPagesShowTheIncidentWithoutItsSecret(t *testing.T) {
	f := newFixture(t, false)
	// A name anyone could have put in an inventory or a log.
	if err := f.st.PutConsumers(t.Context(), f.id, []store.Consumer{{Name: "<script>alert(1)</script>", Identity: "orders_svc", Observed: true}}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, serve(t, f))
	list := c.signIn(tokViewer)
	for _, want := range []string{f.id, "shop-db/orders_svc", "open", "olga", "3 hours"} {
		if !strings.Contains(list, want) {
			t.Errorf("the list lacks %q", want)
		}
	}
	_, page := c.get("/incidents/" + f.id)
	for _, want := range []string{"<svg", "SUPERUSER", "deploy/orders.env:3", // scope graph
		"revoke-orders_svc", "waiting-approval", "an undeclared consumer still uses orders_svc", // plan
		"203.0.113.9", "/var/log/postgresql/pg.json:118", // review evidence
		"&lt;script&gt;alert(1)&lt;/script&gt;", // escaped consumer name
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the incident page lacks %q", want)
		}
	}
	for _, path := range []string{"/incidents", "/incidents/" + f.id, "/incidents/" + f.id + "/report", "/incidents/" + f.id + "/steps", "/leases", "/audit"} {
		_, body := c.get(path)
		if strings.Contains(body, leakedSecret) || strings.Contains(body, "<script>alert") {
			t.Errorf("%s holds the secret or an unescaped name", path)
		}
	}
	_, audit := c.get("/audit")
	if !strings.Contains(audit, "Intact") || !strings.Contains(audit, "run.start") {
		t.Errorf("the audit page:\n%s", audit)
	}
	resp, report := c.get("/incidents/" + f.id + "/report")
	if resp.StatusCode != 200 || !strings.Contains(report, "Incident "+f.id) || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "style-src 'sha256-") {
		t.Errorf("report: %d %s", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
}

func TestStepsJSON(t *testing.T) {
	f := newFixture(t, false)
	c := newClient(t, serve(t, f))
	c.signIn(tokViewer)
	_, body := c.get("/incidents/" + f.id + "/steps")
	var got struct {
		RunState string `json:"run_state"`
		Steps    []struct{ ID, State string }
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err, body)
	}
	if got.RunState != "waiting" || len(got.Steps) != 3 || got.Steps[2].State != engine.WaitingApproval {
		t.Errorf("steps: %+v", got)
	}
	if resp, _ := c.get("/incidents/NO-SUCH/steps"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown incident: %d", resp.StatusCode)
	}
}

func TestClosedIncidentTakesNoApproval(t *testing.T) {
	f := newFixture(t, false)
	c := newClient(t, serve(t, f))
	page := c.signIn(tokApprover)
	if err := f.st.CloseIncident(t.Context(), f.id, time.Time{}); err != nil {
		t.Fatal(err)
	}
	_, inc := c.get("/incidents/" + f.id)
	// Neither the step's approval nor the history rewrite's.
	if strings.Contains(inc, `/approve"`) || !strings.Contains(inc, "the incident is closed") {
		t.Error("a closed incident offers the Approve button")
	}
	if resp, _ := c.post("/incidents/"+f.id+"/approve", url.Values{"step": {f.approval}, "csrf": {csrfOf(t, page)}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("approving in a closed incident: %d", resp.StatusCode)
	}
}

func TestOIDCSignIn(t *testing.T) {
	f := newFixture(t, false)
	started := 0
	f.h = New(Config{Store: f.st, Auth: f.tokens, OIDC: &OIDC{Name: "Example SSO",
		Start: func(w http.ResponseWriter, r *http.Request) {
			started++
			http.Redirect(w, r, "/auth/oidc/callback?code=ok", http.StatusFound)
		},
		Callback: func(w http.ResponseWriter, r *http.Request) (auth.Principal, error) {
			if r.URL.Query().Get("code") != "ok" {
				return auth.Principal{}, errors.New("bad code")
			}
			return auth.Principal{Name: "pat@example.org", Role: auth.Approver, Via: "token"}, nil
		}},
		Deps: f.h.cfg.Deps})
	c := newClient(t, serve(t, f))
	if _, page := c.get("/signin"); !strings.Contains(page, `href="/auth/oidc/login"`) || !strings.Contains(page, "Sign in with Example SSO") {
		t.Fatal("the sign-in page offers no OIDC button")
	}
	if resp, body := c.get("/auth/oidc/callback?code=bad"); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Single sign-on failed") {
		t.Errorf("a failed callback: %d", resp.StatusCode)
	}
	resp, _ := c.get("/auth/oidc/login")
	if started != 1 || resp.StatusCode != http.StatusFound {
		t.Fatalf("start: %d (%d calls)", resp.StatusCode, started)
	}
	resp, body := c.get(resp.Header.Get("Location"))
	// The callback's page moves on by itself: a redirect continuing the
	// provider's cross-site navigation would not carry a Strict cookie.
	if resp.StatusCode != 200 || !strings.Contains(body, `<meta http-equiv="refresh" content="0;url=/incidents">`) {
		t.Fatalf("callback: %d\n%s", resp.StatusCode, body)
	}
	resp, list := c.get("/incidents")
	if resp.StatusCode != 200 || !strings.Contains(list, "pat@example.org") {
		t.Fatalf("incidents after OIDC: %d", resp.StatusCode)
	}
	var sess string
	for _, ck := range c.hc.Jar.Cookies(mustURL(t, c.base)) {
		if ck.Name == "rekey_session" {
			sess = ck.Value
		}
	}
	if ws, ok, _ := f.st.WebSession(t.Context(), hashID(sess)); !ok || ws.Via != "oidc" || ws.Credential != "" || ws.Role != "approver" {
		t.Errorf("the OIDC session: %+v", ws)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestEventStreamEndsWithTheSession(t *testing.T) {
	f := newFixture(t, false)
	var got time.Time
	var gotID string
	f.h.cfg.Events = func(w http.ResponseWriter, r *http.Request, id string) {
		got, _ = r.Context().Deadline()
		gotID = id
	}
	f.h = New(f.h.cfg)
	c := newClient(t, serve(t, f))
	c.signIn(tokViewer)
	if resp, _ := c.get("/incidents/" + f.id + "/events"); resp.StatusCode != 200 || gotID != f.id {
		t.Fatalf("events: %d for %q", resp.StatusCode, gotID)
	}
	var ws struct{ Expires time.Time }
	for _, ck := range c.hc.Jar.Cookies(mustURL(t, c.base)) {
		if ck.Name == "rekey_session" {
			s, _, _ := f.st.WebSession(t.Context(), hashID(ck.Value))
			ws.Expires = s.Expires
		}
	}
	if ws.Expires.IsZero() || !got.Equal(ws.Expires) {
		t.Errorf("the stream's deadline %v, want the session's expiry %v", got, ws.Expires)
	}
	if resp, _ := c.get("/incidents/NO-SUCH/events"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("events of an unknown incident: %d", resp.StatusCode)
	}
	anon := newClient(t, serve(t, f))
	req, _ := http.NewRequest("GET", anon.base+"/incidents/"+f.id+"/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := anon.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("events without a session: %d", resp.StatusCode)
	}
}

func TestApproveHistoryRewrite(t *testing.T) {
	f := newFixture(t, false)
	srv := serve(t, f)
	const task = "rewrite-history:shop"
	olga := newClient(t, srv)
	olga.signIn(tokOpener)
	if _, page := olga.get("/incidents/" + f.id); strings.Contains(page, "Approve the rewrite") {
		t.Error("the opener is offered the history rewrite's approval")
	}
	ravi := newClient(t, srv)
	ravi.signIn(tokStarter)
	if _, page := ravi.get("/incidents/" + f.id); strings.Contains(page, "Approve the rewrite") {
		t.Error("the run's starter is offered the history rewrite's approval")
	}
	alice := newClient(t, srv)
	alice.signIn(tokApprover)
	_, page := alice.get("/incidents/" + f.id)
	if !strings.Contains(page, "Approve the rewrite") || strings.Count(page, `name="step" value="`+task+`"`) != 1 {
		t.Fatal("the approver is not offered the history rewrite's approval")
	}
	if resp, body := alice.post("/incidents/"+f.id+"/approve", url.Values{"step": {task}, "csrf": {csrfOf(t, page)}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("approve the rewrite: %d\n%s", resp.StatusCode, body)
	}
	ts, _ := f.st.Tasks(t.Context(), f.id)
	for _, tk := range ts {
		if tk.ID == task && !strings.Contains(string(tk.Detail), `"approved_by":"alice"`) {
			t.Errorf("task after approval: %s", tk.Detail)
		}
	}
	if _, page := alice.get("/incidents/" + f.id); strings.Contains(page, "Approve the rewrite") || !strings.Contains(page, "approved by alice") {
		t.Error("the page still offers the rewrite's approval")
	}
}

// TestRealTokens signs in with tokens of package token over the store:
// revoking one (as `rekey token revoke` does) ends the sessions it
// signed in, at their next request.
func TestRealTokens(t *testing.T) {
	f := newFixture(t, false)
	ctx := t.Context()
	tok, _, err := token.Create(ctx, f.st, "alice", auth.Approver, time.Hour, "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f.h.cfg.Auth = &token.Authenticator{Store: f.st}
	srv := serve(t, f)
	a, b := newClient(t, srv), newClient(t, srv)
	for _, c := range []*client{a, b} {
		if page := c.signIn(string(tok.Reveal())); !strings.Contains(page, "alice") {
			t.Fatal("signed in, the page does not name alice")
		}
	}
	if _, err := token.Revoke(ctx, f.st, "alice", time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{a, b} {
		if resp, _ := c.get("/incidents"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/signin" {
			t.Errorf("a session of a revoked token: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if n, _ := f.st.DeleteExpiredWebSessions(ctx, time.Now().Add(1000*time.Hour), time.Now().Add(1000*time.Hour)); n != 0 {
		t.Errorf("%d sessions of the revoked token are still stored", n)
	}
}

// TestStoreFailureKeepsTheSession: a token that cannot be checked (the
// store is down) is not a revoked one: the request fails, the session
// stays.
func TestStoreFailureKeepsTheSession(t *testing.T) {
	f := newFixture(t, false)
	c := newClient(t, serve(t, f))
	c.signIn(tokViewer)
	f.tokens.down = errors.New("database is locked")
	resp, body := c.get("/incidents")
	if resp.StatusCode != http.StatusInternalServerError || strings.Contains(body, "database is locked") {
		t.Fatalf("store down: %d\n%s", resp.StatusCode, body)
	}
	f.tokens.down = nil
	if resp, _ := c.get("/incidents"); resp.StatusCode != 200 {
		t.Fatalf("the store is back, the session is gone: %d", resp.StatusCode)
	}
}

// TestEventStreamEndsWhenTheTokenIsRevoked: an open stream checks its
// session now and then; a revoked token ends it.
func TestEventStreamEndsWhenTheTokenIsRevoked(t *testing.T) {
	f := newFixture(t, false)
	opened, ended := make(chan struct{}), make(chan struct{})
	f.h.cfg.Events = func(w http.ResponseWriter, r *http.Request, id string) {
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()
		close(opened)
		<-r.Context().Done()
		close(ended)
	}
	f.h = New(f.h.cfg)
	f.h.recheckEvery = 5 * time.Millisecond
	c := newClient(t, serve(t, f))
	c.signIn(tokViewer)
	go func() {
		resp, err := c.hc.Get(c.base + "/incidents/" + f.id + "/events")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	<-opened
	select {
	case <-ended:
		t.Fatal("the stream ended while its session held")
	case <-time.After(50 * time.Millisecond): // several checks pass
	}
	f.tokens.revoke(tokViewer)
	select {
	case <-ended:
	case <-time.After(time.Minute): // a bound, not a measure
		t.Fatal("the stream of a revoked token's session goes on")
	}
}

// TestBareIncident: an incident just opened, with no identity, plan,
// review or copy, renders; unknown incidents and states are errors.
func TestBareIncident(t *testing.T) {
	f := newFixture(t, false)
	inc, _, err := f.st.OpenIncident(t.Context(), store.Incident{Fingerprint: "ab00000000000000000000000000000000000000000000000000000000000000", Preview: "xo…zz", Kind: "generic"})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, serve(t, f))
	c.signIn(tokApprover)
	resp, page := c.get("/incidents/" + inc.ID)
	if resp.StatusCode != 200 {
		t.Fatalf("a bare incident: %d\n%s", resp.StatusCode, page)
	}
	for _, want := range []string{"No plan yet", "Not reviewed yet", "unknown", "none"} {
		if !strings.Contains(page, want) {
			t.Errorf("the bare incident's page lacks %q", want)
		}
	}
	if resp, body := c.get("/incidents/INC-NO-SUCH"); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "no such incident") {
		t.Errorf("an unknown incident: %d", resp.StatusCode)
	}
	if resp, _ := c.get("/assets/"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("the assets directory is listed: %d", resp.StatusCode)
	}
	if resp, _ := c.get("/incidents?state=bogus"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a bogus state: %d", resp.StatusCode)
	}
	if err := f.st.CloseIncident(t.Context(), inc.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	for state, want := range map[string][]string{"open": {f.id}, "closed": {inc.ID}, "all": {f.id, inc.ID}} {
		_, list := c.get("/incidents?state=" + state)
		if n := strings.Count(list, "<tr data-incident="); n != len(want) {
			t.Errorf("state %s: %d rows, want %v", state, n, want)
		}
		for _, id := range want {
			if !strings.Contains(list, `data-incident="`+id+`"`) {
				t.Errorf("state %s lacks %s", state, id)
			}
		}
	}
}

// TestSigningInAgainEndsTheFirstSession: a browser signed in as vera that
// signs in as alice keeps nothing of vera's session.
func TestSigningInAgainEndsTheFirstSession(t *testing.T) {
	f := newFixture(t, false)
	c := newClient(t, serve(t, f))
	c.signIn(tokViewer)
	first := sessionCookie(t, c)
	// The sign-in page sends a signed-in browser on; a second sign-in
	// posts the form as it was.
	if resp, _ := c.get("/signin"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the sign-in page for a signed-in browser: %d", resp.StatusCode)
	}
	c2 := newClient(t, serve(t, f))
	_, page := c2.get("/signin")
	for _, ck := range c2.hc.Jar.Cookies(mustURL(t, c2.base)) {
		c.hc.Jar.SetCookies(mustURL(t, c.base), []*http.Cookie{ck})
	}
	if resp, _ := c.post("/signin", url.Values{"token": {tokApprover}, "csrf": {csrfOf(t, page)}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("second sign-in: %d", resp.StatusCode)
	}
	if _, ok, _ := f.st.WebSession(t.Context(), hashID(first)); ok {
		t.Error("the first session is still stored")
	}
	if second := sessionCookie(t, c); second == first || second == "" {
		t.Error("the session id did not change")
	}
}

func sessionCookie(t *testing.T, c *client) string {
	t.Helper()
	for _, ck := range c.hc.Jar.Cookies(mustURL(t, c.base)) {
		if ck.Name == "rekey_session" {
			return ck.Value
		}
	}
	return ""
}
