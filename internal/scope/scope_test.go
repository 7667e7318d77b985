package scope

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
)

const shopInventory = `version: 1
systems:
  - name: shop-db
    type: postgres
    admin: env:SHOP_DB_ADMIN_DSN
identities:
  - name: orders_svc
    system: shop-db
    owner: { team: orders, contact: "#orders-oncall" }
consumers:
  - name: orders-api
    identity: orders_svc
    sources: ["10.0.4.0/24"]
  - name: billing
    identity: orders_svc
    sources: ["billing-1.internal", "app:billing-worker"]
  - name: acme-partner
    identity: orders_svc
    third_party: true
    change_window: "Sat 02:00-04:00 UTC"
`

func loadInventory(t *testing.T, text string) *inventory.Inventory {
	t.Helper()
	inv, rep, err := inventory.Parse("rekey.yml", []byte(text), inventory.Options{SkipLocal: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Errors) > 0 {
		t.Fatalf("inventory: %v", rep.Errors)
	}
	return inv
}

var now = time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)

func shopInput(t *testing.T) Input {
	fp := strings.Repeat("ab", 32)
	return Input{
		Now:       now,
		Inventory: loadInventory(t, shopInventory),
		Incident:  store.Incident{ID: "INC-20261126-3f9a", Fingerprint: secret.Fingerprint(fp), Preview: "Qz…", Kind: "postgres password"},
		Occurrences: []store.Occurrence{
			{Path: "/srv/orders/.env", Line: 3, Class: "config", Rule: "postgres-uri"},
			{Path: "/exports/slack/deploys/2024-03-02.json", Line: 11, Class: "chat", Ref: "#deploys@1709370060.000200", Rule: "postgres-uri"},
		},
		Identities: []store.Identity{
			{System: "shop-db", Name: "legacy_reports", Method: "scram-sha-256", Inspected: true, Exists: true, CanLogin: true},
			{System: "shop-db", Name: "orders_svc", Method: "scram-sha-256", Inspected: true, Exists: true, CanLogin: true,
				Privileges: []store.Privilege{
					{Name: "CREATEROLE", Risk: "high", CreatesCredentials: true},
					{Name: "INSERT ON public.orders", Risk: "low"},
				},
				Sessions: []store.Session{
					{ID: "4711", Client: "10.0.4.17:51234", Application: "orders-api", Started: now.Add(-2 * time.Hour), Database: "shop"},
					{ID: "4802", Client: "192.0.2.10:40022", Application: "billing-worker", Started: now.Add(-time.Hour), Database: "shop"},
					{ID: "5120", Client: "203.0.113.50:60111", Application: "psql", Started: now.Add(-20 * time.Minute), Database: "shop"},
				},
				Related: []store.Related{{Kind: "granted-role", Name: "reporting_rw", Detail: "granted by orders_svc"}},
			},
			{System: "crm-db", Name: SystemWide, InspectError: "mysql crm-db: cannot reach 10.0.9.4:3306: connection refused"},
		},
	}
}

func TestComputeShopScope(t *testing.T) {
	s := Compute(shopInput(t))
	if s.Identity.Status != "identified" || s.Identity.Name != "orders_svc" || !s.Identity.Declared || s.Identity.Owner != "orders #orders-oncall" {
		t.Errorf("identity %+v", s.Identity)
	}
	wantConsumers := []Consumer{
		{Name: "orders-api", Declared: true, Observed: true, Sources: []string{"10.0.4.0/24"}},
		{Name: "billing", Declared: true, Observed: true, Sources: []string{"billing-1.internal", "app:billing-worker"}},
		{Name: "acme-partner", Declared: true, Observed: false, Sources: []string{}, ThirdParty: true},
	}
	if d := cmp.Diff(wantConsumers, s.Consumers); d != "" {
		t.Errorf("consumers (-want +got):\n%s", d)
	}
	if len(s.Unexplained) != 1 || s.Unexplained[0].Source != "203.0.113.50" || !strings.Contains(s.Unexplained[0].Evidence[0], `"psql"`) ||
		!s.Unexplained[0].FirstSeen.Equal(now.Add(-20*time.Minute)) {
		t.Errorf("unexplained %+v", s.Unexplained)
	}
	if d := cmp.Diff([]store.IdentityRef{{System: "shop-db", Name: "legacy_reports"}}, s.Reuse); d != "" {
		t.Errorf("reuse: %s", d)
	}
	if d := cmp.Diff(Flags{Shared: true, ThirdParty: true, LongLived: true, OverPrivileged: true}, s.Flags); d != "" {
		t.Errorf("flags (-want +got):\n%s", d)
	}
	if len(s.NotSearched) != 1 || s.NotSearched[0].System != "crm-db" {
		t.Errorf("not searched %+v", s.NotSearched)
	}
	if len(s.Related) != 1 || s.Related[0].Name != "reporting_rw" {
		t.Errorf("related %+v", s.Related)
	}
	joined := strings.Join(s.Risk.Reasons, "\n")
	for _, want := range []string{"203.0.113.50", "CREATEROLE", "chat 1", "1 other identity", "third party", "crm-db"} {
		if !strings.Contains(joined, want) {
			t.Errorf("risk reasons lack %q:\n%s", want, joined)
		}
	}
	if s.Risk.Score < 80 || s.Risk.Score > 100 {
		t.Errorf("score %d", s.Risk.Score)
	}
}

func TestKeptPrivilegeIsNotOverPrivileged(t *testing.T) {
	in := shopInput(t)
	in.Inventory = loadInventory(t, strings.Replace(shopInventory, `    owner: { team: orders, contact: "#orders-oncall" }`, `    owner: { team: orders, contact: "#orders-oncall" }
    keep: [createrole]
    kind: agent`, 1))
	s := Compute(in)
	if s.Flags.OverPrivileged || !s.Identity.Privileges[0].Kept || !s.Flags.Agent {
		t.Fatalf("flags %+v privileges %+v", s.Flags, s.Identity.Privileges)
	}
}

func TestUnknownIdentityIsSaidNotGuessed(t *testing.T) {
	in := shopInput(t)
	in.Identities = in.Identities[2:] // only the unsearched system
	s := Compute(in)
	if s.Identity.Status != Unknown || s.Identity.Name != "" || s.Flags.LongLived || s.Flags.OverPrivileged {
		t.Fatalf("identity %+v flags %+v", s.Identity, s.Flags)
	}
	if !strings.Contains(strings.Join(s.Risk.Reasons, "\n"), "unknown") {
		t.Errorf("reasons %v", s.Risk.Reasons)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"incident"`, `"secret"`, `"identity"`, `"privileges":[]`, `"occurrences"`, `"consumers":[]`, `"unexplained":[]`, `"reuse":[]`, `"related":[]`, `"over_privileged":false`, `"agent":false`, `"score"`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("JSON lacks %s: %s", k, b)
		}
	}
}

func TestMatchesIPv6AndMappedAddresses(t *testing.T) {
	inv := loadInventory(t, strings.Replace(shopInventory, `["10.0.4.0/24"]`, `["10.0.4.0/24", "2001:db8:4::/48"]`, 1))
	c := inv.ConsumerByName("orders-api")
	for client, want := range map[string]bool{
		"[2001:db8:4::17]:5432":   true,
		"[::ffff:10.0.4.9]:40000": true,
		"10.0.5.1:5000":           false,
		"":                        false,
	} {
		if got := Matches(c, store.Session{Client: client}); got != want {
			t.Errorf("%q: %v", client, got)
		}
	}
}

func TestLoggedUsesCountLikeSessions(t *testing.T) {
	in := shopInput(t)
	in.Identities[1].Sessions = nil
	in.Events = []store.Event{
		{Time: now.Add(-48 * time.Hour), Credential: "orders_svc", Source: "10.0.4.12", Application: "orders-api", Action: "connect", Outcome: "success", File: "/var/log/postgresql/pg.csv", Line: 10},
		{Time: now.Add(-30 * time.Hour), Credential: "orders_svc", Source: "198.51.100.7", Application: "psql", Action: "connect", Outcome: "failure", File: "/var/log/postgresql/pg.csv", Line: 41},
		{Time: now.Add(-29 * time.Hour), Credential: "orders_svc", Source: "198.51.100.7", Application: "psql", Action: "connect", Outcome: "success", File: "/var/log/postgresql/pg.csv", Line: 44},
		{Time: now.Add(-1 * time.Hour), Credential: "someone_else", Source: "203.0.113.9", Action: "connect", Outcome: "success", File: "/var/log/postgresql/pg.csv", Line: 90},
	}
	s := Compute(in)
	if !s.Consumers[0].Observed || s.Consumers[1].Observed {
		t.Errorf("consumers %+v", s.Consumers)
	}
	if len(s.Unexplained) != 1 {
		t.Fatalf("unexplained %+v", s.Unexplained)
	}
	u := s.Unexplained[0]
	if u.Source != "198.51.100.7" || !u.FirstSeen.Equal(now.Add(-30*time.Hour)) || !u.LastSeen.Equal(now.Add(-29*time.Hour)) ||
		len(u.Evidence) != 2 || !strings.Contains(u.Evidence[0], "pg.csv:41") {
		t.Errorf("unexplained %+v", u)
	}
}

// TestWithoutLeakTimeAnUndeclaredProgramOnAConsumersHostIsUnexplained:
// with no leak time there is no baseline to call a use usual, so a
// session from billing's host under an application billing does not
// declare is unexplained use; with a leak time (a review can then judge
// it against the baseline) the host explains it, as before.
func TestWithoutLeakTimeAnUndeclaredProgramOnAConsumersHostIsUnexplained(t *testing.T) {
	in := shopInput(t)
	ids := in.Identities[1]
	ids.Sessions = []store.Session{{ID: "6001", Client: "billing-1.internal:5011", Application: "psql", Started: now.Add(-5 * time.Minute), Database: "shop"}}
	in.Identities = []store.Identity{ids}

	s := Compute(in)
	if len(s.Unexplained) != 1 || s.Unexplained[0].Source != "billing-1.internal" ||
		!strings.Contains(s.Unexplained[0].Evidence[0], "from billing's address but not an application it declares") {
		t.Fatalf("no leak time: unexplained %+v", s.Unexplained)
	}
	if c := s.Consumers[1]; c.Name != "billing" || c.Observed {
		t.Errorf("billing is observed through a program it does not declare: %+v", c)
	}

	leaked := now.Add(-48 * time.Hour)
	in.Incident.LeakedAt = &leaked
	if s := Compute(in); len(s.Unexplained) != 0 {
		t.Errorf("with a leak time the host explains the session: unexplained %+v", s.Unexplained)
	}
}

// TestRiskReasonsAddUpToTheScore: the reasons are the score's account,
// also when the facts add up to more than 100.
func TestRiskReasonsAddUpToTheScore(t *testing.T) {
	for _, leaked := range []bool{false, true} {
		in := shopInput(t)
		if leaked {
			// Fewer facts: no unexplained use, one consumer.
			in.Identities = in.Identities[1:2]
			in.Identities[0].Sessions = nil
			in.Identities[0].Privileges = nil
		}
		s := Compute(in)
		sum := 0
		for _, r := range s.Risk.Reasons {
			var n int
			if _, err := fmt.Sscanf(r, "%d", &n); err != nil {
				t.Fatalf("reason %q has no points", r)
			}
			sum += n
		}
		if sum != s.Risk.Score || s.Risk.Score > 100 {
			t.Errorf("score %d, reasons add up to %d:\n%s", s.Risk.Score, sum, strings.Join(s.Risk.Reasons, "\n"))
		}
	}
}

// TestNoBaselineFromTheReviewIsStrictToo: a leak time with no recorded
// use before it is no baseline either (the stored exposure review says
// so): the undeclared program on billing's host is unexplained again.
func TestNoBaselineFromTheReviewIsStrictToo(t *testing.T) {
	in := shopInput(t)
	ids := in.Identities[1]
	ids.Sessions = []store.Session{{ID: "6001", Client: "billing-1.internal:5011", Application: "psql", Started: now.Add(-5 * time.Minute)}}
	in.Identities = []store.Identity{ids}
	leaked := now.Add(-48 * time.Hour)
	in.Incident.LeakedAt = &leaked
	rs := []store.Review{{Phase: "after", Body: []byte(`{"has_baseline":false}`)}, {Phase: "exposure", Body: []byte(`{"has_baseline":true}`)}}
	if in.NoBaseline = ExposureWithoutBaseline(rs); in.NoBaseline || len(Compute(in).Unexplained) != 0 {
		t.Fatalf("an exposure review with a baseline: strict %v", in.NoBaseline)
	}
	rs[1].Body = []byte(`{"has_baseline":false}`)
	if in.NoBaseline = ExposureWithoutBaseline(rs); !in.NoBaseline || len(Compute(in).Unexplained) != 1 {
		t.Errorf("an exposure review without a baseline: strict %v, unexplained %+v", in.NoBaseline, Compute(in).Unexplained)
	}
}
