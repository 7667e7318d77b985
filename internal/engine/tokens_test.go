package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/gitlab"
	"github.com/rekeyhq/rekey/internal/provider/gitlab/gitlabtest"
	"github.com/rekeyhq/rekey/internal/provider/vault"
	"github.com/rekeyhq/rekey/internal/provider/vault/vaulttest"
	"github.com/rekeyhq/rekey/internal/scope"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
)

// tokenWorld is a leaked token (GitLab or Vault: no key limit, no public
// id a consumer presents) of one principal, read by consumer api from a
// dotenv file without user_key, planned from the provider's inspection.
type tokenWorld struct {
	t    *testing.T
	env  string
	st   store.Store
	inc  store.Incident
	plan *plan.Plan
	deps Deps
}

// idExtra is added to the identity's YAML mapping (", revoke_prefix: …").
func newTokenWorld(t *testing.T, sysType, endpoint, admin string, prov provider.Provider, principal, leakedKey, leaked string, strategy plan.Strategy, idExtra ...string) *tokenWorld {
	t.Helper()
	w := &tokenWorld{t: t}
	dir := t.TempDir()
	w.env = filepath.Join(dir, "api.env")
	if err := os.WriteFile(w.env, []byte("TOKEN="+leaked+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yml := fmt.Sprintf("version: 1\nsystems:\n  - { name: sys, type: %s, admin: env:ADMIN, endpoint: %q }\nidentities:\n  - { name: %s, system: sys%s }\n"+
		"consumers:\n  - name: api\n    identity: %s\n    deliver: { type: file, path: %s, format: dotenv, key: TOKEN }\n    health: \"true\"\n",
		sysType, endpoint, principal, strings.Join(idExtra, ""), principal, w.env)
	inv, rep, err := inventory.Parse(filepath.Join(dir, "inventory.yml"), []byte(yml), inventory.Options{Getenv: func(string) string { return admin }})
	if err != nil || !rep.OK() {
		t.Fatalf("inventory: %v %v\n%s", err, rep.Errors, yml)
	}
	ctx := context.Background()
	if w.st, err = sqlite.Open(ctx, filepath.Join(dir, "rekey.db")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.st.Close() })
	fp := sha256.Sum256([]byte(leaked))
	if w.inc, _, err = w.st.OpenIncident(ctx, store.Incident{Fingerprint: secret.Fingerprint(hex.EncodeToString(fp[:])), Identity: store.IdentityRef{System: "sys", Name: principal}}); err != nil {
		t.Fatal(err)
	}
	id, err := prov.Inspect(ctx, provider.IdentityRef{System: "sys", Name: principal, Key: leakedKey})
	if err != nil {
		t.Fatal(err)
	}
	sc := scope.Scope{Incident: w.inc.ID, Identity: scope.Identity{Status: "identified", Name: principal, System: "sys", Declared: true, CanLogin: true, Privileges: []scope.Privilege{}},
		Consumers: []scope.Consumer{{Name: "api", Declared: true}}}
	for _, r := range id.Related {
		sc.Related = append(sc.Related, store.Related{Kind: r.Kind, Name: r.Name, Detail: r.Detail})
	}
	if w.plan, err = plan.Build(plan.Input{Scope: sc, Inventory: inv, Strategy: strategy}); err != nil {
		t.Fatal(err)
	}
	putPlan(t, w.st, w.inc.ID, w.plan)
	w.deps = testDeps(w.st, inv, dir, w.inc.ID, func(context.Context, string) (provider.Provider, error) { return prov, nil })
	return w
}

// runReplacing runs the plan to its end and returns the token the
// consumer's file holds then, which must be a new one.
func (w *tokenWorld) runReplacing(leaked string) string {
	w.t.Helper()
	runToTheEnd(w.t, w.deps, w.inc.ID)
	b, err := os.ReadFile(w.env)
	if err != nil {
		w.t.Fatal(err)
	}
	got := strings.TrimSuffix(strings.TrimPrefix(string(b), "TOKEN="), "\n")
	if got == leaked || got == "" {
		w.t.Fatalf("the consumer holds %q after the run", got)
	}
	return got
}

func (w *tokenWorld) order(ids ...string) {
	w.t.Helper()
	at := map[string]int{}
	for i, s := range w.plan.Steps {
		at[s.ID] = i + 1
	}
	for i := 1; i < len(ids); i++ {
		if at[ids[i-1]] == 0 || at[ids[i]] == 0 || at[ids[i-1]] > at[ids[i]] {
			w.t.Fatalf("want %s before %s in the plan: %+v", ids[i-1], ids[i], w.plan.Steps)
		}
	}
}

func gitlabWorld(t *testing.T, strategy plan.Strategy) (*tokenWorld, *gitlabtest.Server, *gitlabtest.User, gitlabtest.Token, string) {
	t.Helper()
	s := gitlabtest.New()
	t.Cleanup(s.Close)
	u := s.CreateUser("ci-bot", false)
	tok, val := s.CreateToken(u.ID, "ci", []string{"read_api"}, time.Now().AddDate(0, 6, 0).Format(time.DateOnly))
	p, err := gitlab.New(context.Background(), provider.Config{System: "sys", Endpoint: s.URL, Admin: secret.FromString(s.RootToken())})
	if err != nil {
		t.Fatal(err)
	}
	return newTokenWorld(t, "gitlab", s.URL, s.RootToken(), p, "ci-bot", strconv.FormatInt(tok.ID, 10), val, strategy), s, u, tok, val
}

// activeTokens are the ids of a GitLab user's active tokens, and whether
// the token id is among them.
func activeTokens(s *gitlabtest.Server, userID int64) map[int64]bool {
	out := map[int64]bool{}
	for _, t := range s.Tokens(userID) {
		if t.Active(time.Now()) {
			out[t.ID] = true
		}
	}
	return out
}

// TestGitLabGracefulAddsATokenBeside: graceful generates a second token
// for the same user (no key limit), delivers it to a consumer without
// user_key, and revokes the leaked token by its id after the verify.
func TestGitLabGracefulAddsATokenBeside(t *testing.T) {
	w, s, u, leaked, val := gitlabWorld(t, plan.Graceful)
	w.order("issue:sys/ci-bot", "deliver:api", "verify:api", "revoke:sys/ci-bot")
	if is := w.plan.Step("issue:sys/ci-bot"); is.Rotate || !is.Generated {
		t.Errorf("graceful issue %+v: want a token generated beside, not a rotation", is)
	}
	if got := w.runReplacing(val); !gitlabIs(t, s.URL, got, "ci-bot") {
		t.Error("the delivered token is not ci-bot's working token")
	}
	active := activeTokens(s, u.ID)
	if active[leaked.ID] || len(active) != 1 {
		t.Errorf("active tokens after the run: %v, want one, not the leaked %d", active, leaked.ID)
	}
}

// TestGitLabEmergencyRotates: emergency uses GitLab's rotate endpoint
// (the leaked token stops at once, no window with both), delivers the
// rotated token, and the closing revoke finds nothing left to do.
func TestGitLabEmergencyRotates(t *testing.T) {
	w, s, u, leaked, val := gitlabWorld(t, plan.Emergency)
	is := w.plan.Step("issue:sys/ci-bot")
	if is == nil || !is.Rotate || is.Key != strconv.FormatInt(leaked.ID, 10) {
		t.Fatalf("emergency issue %+v: want a rotation of the leaked token", is)
	}
	w.order("issue:sys/ci-bot", "deliver:api", "verify:api", "revoke:sys/ci-bot")
	if w.plan.Step("deactivate:sys/ci-bot") != nil || w.plan.Step("terminate:sys/ci-bot") != nil {
		t.Errorf("GitLab has no deactivation nor sessions: %+v", w.plan.Steps)
	}
	if got := w.runReplacing(val); !gitlabIs(t, s.URL, got, "ci-bot") {
		t.Error("the delivered token is not ci-bot's working token")
	}
	active := activeTokens(s, u.ID)
	if active[leaked.ID] || len(active) != 1 {
		t.Errorf("active tokens after the run: %v, want the rotated one only", active)
	}
	for _, tk := range s.Tokens(u.ID) {
		if active[tk.ID] && tk.Name != leaked.Name {
			t.Errorf("the remaining token %q is not the rotation of %q", tk.Name, leaked.Name)
		}
	}
}

// TestVaultEmergencyRevokesAtOnce: a Vault token cannot be suspended nor
// rotated in one call, and its replacement copies its policies: emergency
// issues the orphan replacement, revokes the leaked token by accessor
// right away (not after the consumers), then delivers (no user_key).
func TestVaultEmergencyRevokesAtOnce(t *testing.T) {
	s := vaulttest.New()
	t.Cleanup(s.Close)
	root := s.Client(s.RootToken())
	if _, err := root.Logical().Write("sys/policies/acl/app-reader", map[string]any{"policy": `path "secret/data/app/*" { capabilities = ["read"] }`}); err != nil {
		t.Fatal(err)
	}
	created, err := root.Logical().Write("auth/token/create-orphan", map[string]any{"display_name": "orders", "policies": []string{"app-reader"}, "ttl": "1h"})
	if err != nil {
		t.Fatal(err)
	}
	leaked, accessor := created.Auth.ClientToken, created.Auth.Accessor
	p := vaultProvider(t, s)
	w := newTokenWorld(t, "vault", s.URL, s.RootToken(), p, "orders", accessor, leaked, plan.Emergency)
	w.order("issue:sys/orders", "deliver:api", "verify:api")
	if rev := w.plan.Step("revoke:sys/orders"); rev == nil || rev.Key != accessor || !slicesHas(rev.Needs, "issue:sys/orders") || slicesHas(rev.Needs, "verify:api") {
		t.Errorf("the revoke %+v: want the leaked accessor, right after the issue, not after the verify", rev)
	}
	got := w.runReplacing(leaked)
	if _, err := s.Client(leaked).Auth().Token().LookupSelf(); err == nil {
		t.Error("the leaked token still works")
	}
	if _, err := s.Client(got).Logical().Read("secret/data/app/config"); err != nil {
		t.Errorf("the delivered token cannot read what the leaked one could: %v", err)
	}
	// The replacement has the leaked token's one-hour TTL, which Vault
	// enforces: its lease says so, for rekey leases --expiring.
	w.leaseExpiresInAnHour()
}

// leaseExpiresInAnHour checks the incident's one lease carries the
// enforced one-hour expiry Vault set on the replacement token.
func (w *tokenWorld) leaseExpiresInAnHour() {
	w.t.Helper()
	ls, err := w.st.Leases(context.Background(), store.LeaseFilter{IncidentID: w.inc.ID})
	if err != nil || len(ls) != 1 {
		w.t.Fatalf("leases %+v %v: want the replacement's", ls, err)
	}
	if l := ls[0]; l.Expires == nil || !l.Enforced || l.Expires.Before(time.Now().Add(50*time.Minute)) || l.Expires.After(time.Now().Add(61*time.Minute)) {
		w.t.Errorf("lease %+v: want an enforced expiry in about an hour", l)
	}
}

// TestResumedTokenLeaseKeepsItsExpiry: a run killed between sealing the
// generated token and writing its lease resumes with the expiry Vault set
// (sealed with the token), not a lease without one.
func TestResumedTokenLeaseKeepsItsExpiry(t *testing.T) {
	s := vaulttest.New()
	t.Cleanup(s.Close)
	leaked, accessor := ordersToken(t, s)
	p := vaultProvider(t, s)
	w := newTokenWorld(t, "vault", s.URL, s.RootToken(), p, "orders", accessor, leaked, plan.Emergency)
	crashAt(t, w.deps, w.inc.ID, func(id, phase string) bool { return id == "issue:sys/orders" && phase == "sealed" })
	if ls, err := w.st.Leases(context.Background(), store.LeaseFilter{IncidentID: w.inc.ID}); err != nil || len(ls) != 0 {
		t.Fatalf("leases before the resume %+v %v: want none yet", ls, err)
	}
	w.runReplacing(leaked)
	w.leaseExpiresInAnHour()
}

// TestVaultRevokePrefixAfterApproval: with revoke_prefix in the
// inventory, the leases under it end once a person approves, those of
// another token (one the attacker made as an orphan) too; a lease beside
// the prefix stays.
func TestVaultRevokePrefixAfterApproval(t *testing.T) {
	s := vaulttest.New()
	t.Cleanup(s.Close)
	root := s.Client(s.RootToken())
	leaked, accessor := ordersToken(t, s)
	orphan, err := root.Logical().Write("auth/token/create-orphan", map[string]any{"display_name": "attacker", "ttl": "1h"})
	if err != nil {
		t.Fatal(err)
	}
	theirs, _ := s.IssueLease(orphan.Auth.ClientToken, "database/creds/orders", time.Hour)
	beside, _ := s.IssueLease(orphan.Auth.ClientToken, "database/creds/reports", time.Hour)
	p := vaultProvider(t, s)
	w := newTokenWorld(t, "vault", s.URL, s.RootToken(), p, "orders", accessor, leaked, plan.Emergency, ", revoke_prefix: database/creds/orders")
	step := "revoke-related:sys/prefix/database/creds/orders"
	w.order("revoke:sys/orders", step)
	live := func(id string) bool {
		_, err := root.Logical().Write("sys/leases/lookup", map[string]any{"lease_id": id})
		return err == nil
	}
	e, err := New(context.Background(), w.deps, w.inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Run(context.Background()); !errors.Is(err, ErrWaiting) {
		t.Fatalf("run: %v, want it waiting for the prefix's approval", err)
	}
	if !live(theirs) {
		t.Fatal("a lease under the prefix ended before anyone approved")
	}
	if err := e.Approve(context.Background(), step, "bob", "alice"); err != nil {
		t.Fatal(err)
	}
	w.runReplacing(leaked)
	if live(theirs) {
		t.Error("the other token's lease under the prefix survived the approved step")
	}
	if !live(beside) {
		t.Error("a lease beside the prefix was ended")
	}
}

// TestGitLabProjectTokenIsRotatedEvenWhenGraceful: a project access
// token's bot user cannot hold a second token, so even a graceful plan
// rotates it (and says so), and the consumer ends on the rotated token.
func TestGitLabProjectTokenIsRotatedEvenWhenGraceful(t *testing.T) {
	s := gitlabtest.New()
	t.Cleanup(s.Close)
	project := s.CreateProject("acme/api")
	tok, val := s.CreateResourceToken(project.ID, "deploy", []string{"read_api"}, 30, time.Now().AddDate(0, 6, 0).Format(time.DateOnly))
	// The bot user's name is GitLab's (project_ID_bot_…).
	bot, err := gitlabUser(s.URL, val)
	if err != nil || !strings.HasPrefix(bot, fmt.Sprintf("project_%d_bot_", project.ID)) {
		t.Fatalf("the token's user is %q (%v)", bot, err)
	}
	p, err := gitlab.New(context.Background(), provider.Config{System: "sys", Endpoint: s.URL, Admin: secret.FromString(s.RootToken())})
	if err != nil {
		t.Fatal(err)
	}
	w := newTokenWorld(t, "gitlab", s.URL, s.RootToken(), p, bot, strconv.FormatInt(tok.ID, 10), val, plan.Graceful)
	if is := w.plan.Step("issue:sys/" + bot); is == nil || !is.Rotate {
		t.Fatalf("graceful on a project token: %+v, want a rotation", w.plan.Steps)
	}
	if !strings.Contains(strings.Join(w.plan.Notes, "\n"), "project or group access token") {
		t.Errorf("the plan does not say why it rotates: %v", w.plan.Notes)
	}
	if got := w.runReplacing(val); !gitlabIs(t, s.URL, got, bot) {
		t.Error("the delivered token is not the bot's working token")
	}
	if u := s.UserByName(bot); u == nil || activeTokens(s, u.ID)[tok.ID] || len(activeTokens(s, u.ID)) != 1 {
		t.Errorf("the bot's active tokens after the run: want the rotated one only")
	}
}

// gitlabUser is the username GitLab answers GET /user with, as token.
func gitlabUser(base, token string) (string, error) {
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v4/user", nil)
	req.Header.Set("PRIVATE-TOKEN", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /user: %s", resp.Status)
	}
	var me struct {
		Username string `json:"username"`
	}
	err = json.NewDecoder(resp.Body).Decode(&me)
	return me.Username, err
}

// gitlabIs reports whether token works and is user's.
func gitlabIs(t *testing.T, base, token, user string) bool {
	t.Helper()
	got, err := gitlabUser(base, token)
	if err != nil {
		t.Log(err)
	}
	return err == nil && got == user
}

// vaultProvider is the Vault provider of system "sys" on s, as its root.
func vaultProvider(t *testing.T, s *vaulttest.Server) provider.Provider {
	t.Helper()
	p, err := vault.New(context.Background(), provider.Config{System: "sys", Endpoint: s.URL, Admin: secret.FromString(s.RootToken())})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// ordersToken makes the orphan token "orders" (1 h) on s and returns it
// and its accessor.
func ordersToken(t *testing.T, s *vaulttest.Server) (token, accessor string) {
	t.Helper()
	created, err := s.Client(s.RootToken()).Logical().Write("auth/token/create-orphan", map[string]any{"display_name": "orders", "ttl": "1h"})
	if err != nil {
		t.Fatal(err)
	}
	return created.Auth.ClientToken, created.Auth.Accessor
}
