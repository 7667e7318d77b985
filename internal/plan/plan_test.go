package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/scope"
	"github.com/rekeyhq/rekey/internal/store"
)

// shopInventory is the DESIGN.md example: three consumers of orders_svc,
// one of them a partner with a change window, and a cache identity.
const shopInventory = `version: 1
systems:
  - name: shop-db
    type: postgres
    admin: env:SHOP_DB_ADMIN_DSN
  - name: legacy-db
    type: mysql
    admin: env:LEGACY_DSN
identities:
  - name: orders_svc
    system: shop-db
    owner: { team: orders, contact: "#orders-oncall" }
    keep: [CREATEDB]
  - name: reporting@%
    system: legacy-db
consumers:
  - name: orders-api
    identity: orders_svc
    deliver: { type: file, path: /srv/orders/.env, format: dotenv, key: DATABASE_URL, user_key: DATABASE_USER }
    reload: "systemctl reload orders-api"
    health: "curl -fsS http://127.0.0.1:8080/healthz"
    sources: ["10.0.4.0/24"]
  - name: billing
    identity: orders_svc
    deliver: { type: file, path: /srv/billing/config.yaml, format: yaml, key: db.password, user_key: db.user }
    sources: ["10.0.5.7"]
  - name: acme-partner
    identity: orders_svc
    third_party: true
    change_window: "Sat 02:00-04:00 UTC"
policy:
  approve: [isolate]
  ttl: 720h
`

func inv(t *testing.T, text string) *inventory.Inventory {
	t.Helper()
	i, rep, err := inventory.Parse("inventory.yml", []byte(text), inventory.Options{SkipLocal: true})
	if err != nil || !rep.OK() {
		t.Fatalf("inventory: %v %v", err, rep.Errors)
	}
	return i
}

// now is a Wednesday: the partner's window opens on Saturday.
var now = time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)

func shopScope() scope.Scope {
	return scope.Scope{
		Incident: "INC-20261125-3f9a",
		Identity: scope.Identity{Status: "identified", Name: "orders_svc", System: "shop-db", Declared: true, CanLogin: true,
			Privileges: []scope.Privilege{
				{Name: "SELECT ON public.orders", Risk: "low"},
				{Name: "CREATEDB", Risk: "medium", Kept: true},
			}},
		Consumers: []scope.Consumer{
			{Name: "orders-api", Declared: true}, {Name: "billing", Declared: true}, {Name: "acme-partner", Declared: true, ThirdParty: true},
		},
		Flags: scope.Flags{Shared: true, ThirdParty: true},
	}
}

func build(t *testing.T, in Input) *Plan {
	t.Helper()
	if in.Now.IsZero() {
		in.Now = now
	}
	p, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("%v\n%s", err, dump(p))
	}
	// The plan survives its JSON (it is stored as JSON).
	b, _ := json.Marshal(p)
	var back Plan
	if err := json.Unmarshal(b, &back); err != nil || len(back.Steps) != len(p.Steps) {
		t.Fatalf("plan JSON round trip: %v", err)
	}
	return p
}

func dump(p *Plan) string {
	var sb strings.Builder
	for _, st := range p.Steps {
		sb.WriteString(st.ID + " <- " + strings.Join(st.Needs, ",") + " [" + st.Approval + "]\n")
	}
	return sb.String()
}

// before reports whether step a comes before b through the needs chain.
func before(p *Plan, a, b string) bool {
	st := p.Step(b)
	if st == nil {
		return false
	}
	for _, n := range st.Needs {
		if n == a || before(p, a, n) {
			return true
		}
	}
	return false
}

func mustStep(t *testing.T, p *Plan, id string) *Step {
	t.Helper()
	st := p.Step(id)
	if st == nil {
		t.Fatalf("no step %s in\n%s", id, dump(p))
	}
	return st
}

func TestAutoChooses(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*scope.Scope)
		want Strategy
	}{
		{"shared", func(*scope.Scope) {}, Split},
		{"unshared", func(s *scope.Scope) { s.Flags.Shared = false }, Graceful},
		{"unexplained source", func(s *scope.Scope) {
			s.Unexplained = []scope.Unexplained{{Source: "203.0.113.9"}}
		}, Emergency},
		{"over-privileged", func(s *scope.Scope) { s.Flags.OverPrivileged = true }, Emergency},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := shopScope()
			tc.mod(&s)
			p := build(t, Input{Scope: s, Inventory: inv(t, shopInventory)})
			if p.Strategy != tc.want || p.Requested != Auto || p.Reason == "" {
				t.Errorf("strategy %s (%s), want %s", p.Strategy, p.Reason, tc.want)
			}
		})
	}
}

func TestSplitGivesEachConsumerItsOwnLoginAndRevokesLast(t *testing.T) {
	p := build(t, Input{Scope: shopScope(), Inventory: inv(t, shopInventory), Strategy: Split})
	logins := map[string]bool{}
	for _, c := range []string{"orders-api", "billing", "acme-partner"} {
		v := mustStep(t, p, "verify:"+c)
		logins[v.Login] = true
		if !before(p, "verify:"+c, "revoke:shop-db/orders_svc") {
			t.Errorf("revoke does not wait for verify:%s\n%s", c, dump(p))
		}
	}
	if len(logins) != 3 || logins["orders_svc"] {
		t.Errorf("logins %v: want one new login per consumer", logins)
	}
	if st := mustStep(t, p, "issue:shop-db/orders_svc_billing"); st.TTL != Duration(720*time.Hour) || st.Temporary {
		t.Errorf("billing's login: ttl %v temporary %v, want the policy's 720h", time.Duration(st.TTL), st.Temporary)
	}
	if !before(p, "deliver:billing", "verify:billing") || !before(p, "issue:shop-db/orders_svc_billing", "deliver:billing") {
		t.Errorf("issue → deliver → verify order broken\n%s", dump(p))
	}
	if !before(p, "revoke:shop-db/orders_svc", "terminate:shop-db/orders_svc") {
		t.Error("sessions are not ended after the revoke")
	}
	if p.Step("isolate:shop-db/orders_svc") != nil {
		t.Error("isolate for an identity with nothing dangerous")
	}
}

func TestPartnerGetsTemporaryLoginWindowAndApproval(t *testing.T) {
	p := build(t, Input{Scope: shopScope(), Inventory: inv(t, shopInventory), Strategy: Split})
	iss := mustStep(t, p, "issue:shop-db/orders_svc_acme_partner")
	// The window opens Saturday 02:00 and closes 04:00; the login lives
	// until a day after it closes.
	want := time.Date(2026, 11, 28, 4, 0, 0, 0, time.UTC).Add(24 * time.Hour).Sub(now)
	if !iss.Temporary || time.Duration(iss.TTL) != want {
		t.Errorf("partner login: temporary %v ttl %v, want %v", iss.Temporary, time.Duration(iss.TTL), want)
	}
	if w := mustStep(t, p, "window:acme-partner"); w.Window != "Sat 02:00-04:00 UTC" || !before(p, "notify:acme-partner", w.ID) {
		t.Errorf("window step %+v", w)
	}
	if v := mustStep(t, p, "verify:acme-partner"); v.Approval != ApprovalManual {
		t.Errorf("partner verify approval %q, want manual", v.Approval)
	}
	if r := mustStep(t, p, "revoke:shop-db/orders_svc"); r.Approval != ApprovalThirdParty {
		t.Errorf("revoking a credential a partner uses: approval %q, want third-party", r.Approval)
	}
}

func TestEmergencyCutsOffFirst(t *testing.T) {
	s := shopScope()
	s.Unexplained = []scope.Unexplained{{Source: "203.0.113.9"}}
	p := build(t, Input{Scope: s, Inventory: inv(t, shopInventory)})
	if p.Strategy != Emergency {
		t.Fatalf("strategy %s", p.Strategy)
	}
	for _, c := range []string{"orders-api", "billing"} {
		iss := mustStep(t, p, "verify:"+c)
		if !before(p, "terminate:shop-db/orders_svc", iss.ID) {
			t.Errorf("%s is issued before the old secret is dead\n%s", c, dump(p))
		}
	}
	if logins := mustStep(t, p, "verify:orders-api").Login; logins == "orders_svc" {
		t.Error("emergency on a shared secret must still give each consumer its own login")
	}
}

func TestOverPrivilegedIsIsolatedAndReplacementsDropIt(t *testing.T) {
	s := shopScope()
	s.Identity.Privileges = append(s.Identity.Privileges,
		scope.Privilege{Name: "CREATEROLE", Risk: "high", CreatesCredentials: true},
		scope.Privilege{Name: "SUPERUSER", Risk: "critical"},
		scope.Privilege{Name: "pg_read_all_data", Risk: "critical", Via: "pg_read_all_data"})
	s.Flags.OverPrivileged = true
	p := build(t, Input{Scope: s, Inventory: inv(t, shopInventory)})
	iso := mustStep(t, p, "isolate:shop-db/orders_svc")
	if !slices.Equal(iso.Drop, []string{"CREATEROLE", "SUPERUSER"}) {
		t.Errorf("isolate drops %v, want the unkept dangerous attributes (CREATEDB is kept)", iso.Drop)
	}
	if iso.Approval != ApprovalPolicy {
		t.Errorf("isolate approval %q: the policy lists isolate", iso.Approval)
	}
	if !slices.Equal(iso.KeepSources, []string{"10.0.4.0/24", "10.0.5.7"}) {
		t.Errorf("isolate keeps sessions from %v", iso.KeepSources)
	}
	for _, st := range p.Steps {
		if st.Kind == Issue && !slices.Equal(st.Drop, iso.Drop) {
			t.Errorf("%s carries %v, want the isolate's drops", st.ID, st.Drop)
		}
		if st.ID != iso.ID && !before(p, iso.ID, st.ID) && st.Kind != WaitWindow {
			t.Errorf("%s does not wait for the isolation\n%s", st.ID, dump(p))
		}
	}
}

func TestGracefulKeepsOneReplacementLogin(t *testing.T) {
	s := shopScope()
	s.Flags.Shared = false
	p := build(t, Input{Scope: s, Inventory: inv(t, shopInventory)})
	if p.Strategy != Graceful {
		t.Fatalf("strategy %s", p.Strategy)
	}
	a, b := mustStep(t, p, "verify:orders-api"), mustStep(t, p, "verify:billing")
	if a.Login != b.Login || a.Login != "orders_svc_r3f9a" {
		t.Errorf("graceful logins %q %q, want one alternate login orders_svc_r3f9a", a.Login, b.Login)
	}
	issues := 0
	for _, st := range p.Steps {
		if st.Kind == Issue && st.Login == a.Login {
			issues++
		}
	}
	if issues != 1 {
		t.Errorf("%d issue steps for the one replacement login\n%s", issues, dump(p))
	}
}

func TestInPlaceConsumerKeepsItsLogin(t *testing.T) {
	text := strings.Replace(shopInventory, ", user_key: DATABASE_USER", "", 1)
	p := build(t, Input{Scope: shopScope(), Inventory: inv(t, text), Strategy: Split})
	st := mustStep(t, p, "issue:shop-db/orders_svc:in-place")
	if st.Login != "orders_svc" || mustStep(t, p, "verify:orders-api").Login != "orders_svc" {
		t.Errorf("in-place issue %+v", st)
	}
	if p.Step("revoke:shop-db/orders_svc") != nil {
		t.Error("a login a consumer keeps must not be revoked")
	}
	if term := mustStep(t, p, "terminate:shop-db/orders_svc"); len(term.KeepSources) == 0 {
		t.Error("ending sessions of a kept login must spare the declared consumers")
	}
	if !strings.Contains(strings.Join(p.Notes, "\n"), "orders-api") {
		t.Errorf("notes do not warn about orders-api: %q", p.Notes)
	}
	// CanChangeLogin (the CLI's look at the file: the value is a DSN)
	// overrides the missing user_key.
	p = build(t, Input{Scope: shopScope(), Inventory: inv(t, text), Strategy: Split,
		CanChangeLogin: func(*inventory.Consumer) bool { return true }})
	if p.Step("issue:shop-db/orders_svc:in-place") != nil {
		t.Error("a DSN value can take a new login")
	}
}

func TestReusedIdentityIsRevokedToo(t *testing.T) {
	s := shopScope()
	s.Reuse = append(s.Reuse, store.IdentityRef{System: "legacy-db", Name: "reporting@%"})
	p := build(t, Input{Scope: s, Inventory: inv(t, shopInventory)})
	if st := mustStep(t, p, "revoke:legacy-db/reporting@%"); st.System != "legacy-db" || st.Identity != "reporting@%" {
		t.Errorf("reuse revoke %+v", st)
	}
	if !strings.Contains(strings.Join(p.Notes, "\n"), "legacy-db/reporting@% has no consumer") {
		t.Errorf("notes %q", p.Notes)
	}
}

func TestLoginNames(t *testing.T) {
	for _, tc := range []struct{ typ, base, consumer, want string }{
		{"postgres", "orders_svc", "Orders-API", "orders_svc_orders_api"},
		{"mysql", "app@10.0.%", "billing", "app_billing@10.0.%"},
		// Cut to the limit, with a tag of the consumer's name.
		{"mysql", "a_very_long_user_name_here", "and-a-long-consumer", "a_very_long_user_name_h_" + tag("and-a-long-consumer")},
		{"postgres", strings.Repeat("x", 60), "consumer", strings.Repeat("x", 54) + "_" + tag("consumer")},
		// A cut never splits a character of the identity's name.
		{"postgres", strings.Repeat("x", 53) + "é", "consumer", strings.Repeat("x", 53) + "_" + tag("consumer")},
	} {
		got := loginName(tc.typ, tc.base, tc.consumer, true)
		if got != tc.want {
			t.Errorf("loginName(%s, %s, %s) = %q, want %q", tc.typ, tc.base, tc.consumer, got, tc.want)
		}
		if user, _, _ := strings.Cut(got, "@"); len(user) > maxLogin(tc.typ) {
			t.Errorf("%q is longer than %s takes", got, tc.typ)
		}
	}
}

func tag(consumer string) string {
	sum := sha256.Sum256([]byte(consumer))
	return hex.EncodeToString(sum[:4])
}

// collidingInventory has consumers whose names, cut to the system's
// limit or mapped to login characters, were one login (issue 10.5).
func collidingInventory(typ, identity string, consumers ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nsystems:\n  - name: db\n    type: %s\n    admin: env:ADMIN\nidentities:\n  - name: %q\n    system: db\nconsumers:\n", typ, identity)
	for _, c := range consumers {
		fmt.Fprintf(&b, "  - name: %s\n    identity: %q\n    deliver: { type: file, path: /srv/%s/.env, format: dotenv, key: PASSWORD, user_key: USER }\n", c, identity, c)
	}
	return b.String()
}

func TestSplitGivesEachConsumerItsOwnLogin(t *testing.T) {
	for _, tc := range []struct {
		typ, identity string
		consumers     []string
	}{
		// 32 bytes: orders_service_account_orders_a for both.
		{"mysql", "orders_service_account@%", []string{"orders-api-eu", "orders-api-us"}},
		{"postgres", strings.Repeat("o", 52), []string{"orders-api-eu", "orders-api-us"}},
		{"redis", strings.Repeat("o", 120), []string{"orders-api-eu", "orders-api-us"}},
		// Not cut, but one name once mapped to login characters.
		{"postgres", "orders_svc", []string{"orders.api", "orders-api", "orders_api"}},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			in := inv(t, collidingInventory(tc.typ, tc.identity, tc.consumers...))
			s := scope.Scope{Incident: "INC-20261125-3f9a",
				Identity: scope.Identity{Status: "identified", Name: tc.identity, System: "db", Declared: true, CanLogin: true}}
			for _, strategy := range []Strategy{Split, Emergency} {
				p := build(t, Input{Scope: s, Inventory: in, Strategy: strategy})
				logins := map[string]string{}
				for _, c := range tc.consumers {
					st := mustStep(t, p, "verify:"+c)
					if other, ok := logins[st.Login]; ok {
						t.Fatalf("%s: %s and %s share login %s", strategy, other, c, st.Login)
					}
					logins[st.Login] = c
					if user, _, _ := strings.Cut(st.Login, "@"); len(user) > maxLogin(tc.typ) {
						t.Errorf("%s: login %q is over the %s limit", strategy, st.Login, tc.typ)
					}
					if mustStep(t, p, "deliver:"+c).Login != st.Login {
						t.Errorf("%s: %s is delivered another login than it is verified on", strategy, c)
					}
				}
				// Built again (resume re-reads the plan; a rebuilt one must agree).
				q := build(t, Input{Scope: s, Inventory: in, Strategy: strategy})
				for _, c := range tc.consumers {
					if a, b := mustStep(t, p, "verify:"+c).Login, mustStep(t, q, "verify:"+c).Login; a != b {
						t.Errorf("%s: %s got %s, then %s", strategy, c, a, b)
					}
				}
			}
		})
	}
}

func TestValidateRefusesTwoStepsCreatingOneLogin(t *testing.T) {
	p := build(t, Input{Scope: shopScope(), Inventory: inv(t, shopInventory), Strategy: Split})
	if err := p.Validate(); err != nil {
		t.Fatalf("a built plan: %v", err)
	}
	// A stored plan (from an older rekey, or edited) in which two
	// consumers' issue steps create one login.
	var issues []int
	for i, st := range p.Steps {
		if st.Kind == Issue {
			issues = append(issues, i)
		}
	}
	if len(issues) < 2 {
		t.Fatalf("want two issue steps in %+v", p.Steps)
	}
	p.Steps[issues[1]].Login = p.Steps[issues[0]].Login
	err := p.Validate()
	if err == nil || !strings.Contains(err.Error(), "both create login "+p.Steps[issues[0]].Login) {
		t.Fatalf("Validate: %v", err)
	}
	// The same login on two systems is two logins.
	p.Steps[issues[1]].System = "other-db"
	if err := p.Validate(); err != nil {
		t.Errorf("one name on two systems: %v", err)
	}
}

func TestUnknownIdentityCannotBePlanned(t *testing.T) {
	s := shopScope()
	s.Identity = scope.Identity{Status: scope.Unknown}
	if _, err := Build(Input{Scope: s, Inventory: inv(t, shopInventory), Now: now}); !errors.Is(err, ErrNoIdentity) {
		t.Errorf("err %v", err)
	}
	if _, err := Build(Input{Scope: shopScope(), Inventory: inv(t, shopInventory), Strategy: "yolo"}); err == nil {
		t.Error("an unknown strategy was accepted")
	}
}

func TestMermaid(t *testing.T) {
	p := build(t, Input{Scope: shopScope(), Inventory: inv(t, shopInventory)})
	m := p.Mermaid()
	if !strings.HasPrefix(m, "flowchart TD\n") || strings.Count(m, " --> ") < len(p.Steps)-1 || !strings.Contains(m, "approval: third-party") {
		t.Errorf("mermaid:\n%s", m)
	}
}

func TestAutoHeedsTheReview(t *testing.T) {
	s := shopScope()
	s.Flags.Shared = false
	p := build(t, Input{Scope: s, Inventory: inv(t, shopInventory), ReviewedSources: []string{"198.51.100.23"}})
	if p.Strategy != Emergency || !strings.Contains(p.Reason, "198.51.100.23") {
		t.Errorf("strategy %s (%s): a source the review found unexplained must make auto emergency", p.Strategy, p.Reason)
	}
}

func TestDerivedLoginsAreRevokedAfterTheCutOff(t *testing.T) {
	p := build(t, Input{Scope: shopScope(), Inventory: inv(t, shopInventory), Strategy: Split, Related: []Related{
		{Name: "backup_admin", Kind: "role", Why: "CREATE ROLE by orders_svc from 203.0.113.9 at 2026-11-24T02:14:00Z"},
		{Name: "ASIAXYZ", Kind: "session"},
		{Name: "AKIAEXAMPLEDERIVED01", Kind: "access-key", Why: "CreateAccessKey"},
	}})
	st := mustStep(t, p, "revoke-related:shop-db/backup_admin")
	if st.Kind != RevokeRelated || st.Identity != "backup_admin" || st.Approval != ApprovalManual {
		t.Errorf("revoke-related step %+v", st)
	}
	if !before(p, "revoke:shop-db/orders_svc", st.ID) {
		t.Errorf("the derived login is revoked before the leaked one is cut off\n%s", dump(p))
	}
	if p.Step("revoke-related:shop-db/ASIAXYZ") != nil {
		t.Error("a session that expires by itself got a step")
	}
	if !strings.Contains(strings.Join(p.Notes, "\n"), "AKIAEXAMPLEDERIVED01") {
		t.Errorf("no note for a derived cloud key: %q", p.Notes)
	}
}

// TestAutoWithoutBaselineSaysSo: with no baseline, use no consumer
// explains is an attacker's (emergency, and the reason says why), and a
// plan that finds none says that it had no baseline rather than "no sign
// of attack" alone.
func TestAutoWithoutBaselineSaysSo(t *testing.T) {
	s := shopScope()
	s.Flags.Shared = false
	s.Unexplained = []scope.Unexplained{{Source: "10.0.4.17", Evidence: []string{`session 77 from 10.0.4.17:5000 (application "psql")`}}}
	p := build(t, Input{Scope: s, Inventory: inv(t, shopInventory), NoBaseline: true})
	if p.Strategy != Emergency || !strings.Contains(p.Reason, "no baseline") || !strings.Contains(p.Reason, "10.0.4.17") {
		t.Errorf("strategy %s (%s): without a baseline, unexplained use must give emergency and say why", p.Strategy, p.Reason)
	}
	p = build(t, Input{Scope: s, Inventory: inv(t, shopInventory), NoBaseline: true, ReviewedSources: []string{`application "exfil"`}})
	if p.Strategy != Emergency || !strings.Contains(p.Reason, `application "exfil"`) {
		t.Errorf("strategy %s (%s): an application the review found no consumer declares must count", p.Strategy, p.Reason)
	}
	s.Unexplained = nil
	p = build(t, Input{Scope: s, Inventory: inv(t, shopInventory), NoBaseline: true})
	if p.Strategy != Graceful || !strings.Contains(p.Reason, "no baseline") {
		t.Errorf("strategy %s (%s): a plan without a baseline must say it had none", p.Strategy, p.Reason)
	}
	p = build(t, Input{Scope: s, Inventory: inv(t, shopInventory)})
	if strings.Contains(p.Reason, "baseline") {
		t.Errorf("a plan with a baseline mentions none: %s", p.Reason)
	}
}
