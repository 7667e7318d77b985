package scope

import (
	"fmt"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/store"
)

// BenchmarkCompute is what the API computes per request once the
// incident's records are read (GET /incidents/{id} without evidence,
// GET /scope with it), over an incident shaped as bench/serve.sh seeds
// them: one identity with six privileges and two sessions, three
// consumers, 50 logged uses from two clients, no inventory at hand.
func BenchmarkCompute(b *testing.B) {
	now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	leaked := now.Add(-36 * time.Hour)
	in := Input{
		Incident: store.Incident{ID: "INC-1", Kind: "postgres-password", LeakedAt: &leaked, Identity: store.IdentityRef{System: "shop-db", Name: "svc_0001"}},
		Identities: []store.Identity{{System: "shop-db", Name: "svc_0001", Method: "scram-sha-256", Inspected: true, Exists: true, CanLogin: true,
			Privileges: []store.Privilege{{Name: "LOGIN", Risk: "low"}, {Name: "CONNECT ON DATABASE shop", Risk: "low"},
				{Name: "SELECT ON orders", Risk: "medium"}, {Name: "INSERT, UPDATE ON orders", Risk: "medium"},
				{Name: "member of app_rw", Risk: "high", Via: "app_rw"}, {Name: "CREATEROLE", Risk: "critical", CreatesCredentials: true}},
			Sessions: []store.Session{{ID: "4411", Client: "10.0.3.17:51022", Application: "orders-api", Started: now.Add(-time.Hour), Database: "shop"},
				{ID: "4412", Client: "203.0.113.9:40110", Application: "psql", Started: now.Add(-20 * time.Minute), Database: "shop"}}}},
		Consumers: []store.Consumer{{Name: "orders-api", Declared: true, Observed: true, Sources: []string{"10.0.3.17"}},
			{Name: "billing-worker", Declared: true}, {Name: "reporting", Declared: true, Observed: true, Sources: []string{"10.0.3.40"}}},
		Now: now,
	}
	for j := range 50 {
		src, app := "10.0.3.17", "orders-api"
		if j%10 == 9 {
			src, app = "203.0.113.9", "psql"
		}
		in.Events = append(in.Events, store.Event{Time: leaked.Add(time.Duration(j) * 40 * time.Minute), Credential: "svc_0001",
			Source: src, Application: app, Action: "connect", Outcome: "success", File: "/var/log/postgresql/postgresql.json", Line: j + 1})
	}
	for _, evidence := range []bool{false, true} {
		b.Run(fmt.Sprintf("evidence=%v", evidence), func(b *testing.B) {
			in := in
			in.NoEvidence = !evidence
			b.ReportAllocs()
			for b.Loop() {
				if s := Compute(in); s.Risk.Score == 0 {
					b.Fatal("no risk computed")
				}
			}
		})
	}
}
