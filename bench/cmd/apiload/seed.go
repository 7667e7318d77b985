package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/rekeyhq/rekey/internal/audit"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
)

// seedOptions shape each incident like one `incident open` leaves behind
// for a leaked database password: a few copies, one identity with its
// privileges and sessions, consumers, and the usage its logs showed.
type seedOptions struct {
	Incidents int
	Events    int // usage events per incident
	Actor     string
	Now       time.Time
}

// seed writes o.Incidents incidents through the store API (what would take
// minutes as a thousand CLI runs) and returns their ids. Each is audited as
// opened, as `incident open` does, so the API can say who opened it.
func seed(ctx context.Context, st store.Store, log *audit.Log, o seedOptions) ([]string, error) {
	ids := make([]string, 0, o.Incidents)
	for i := range o.Incidents {
		id, err := seedOne(ctx, st, log, o, i)
		if err != nil {
			return ids, fmt.Errorf("incident %d of %d: %w", i+1, o.Incidents, err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func seedOne(ctx context.Context, st store.Store, log *audit.Log, o seedOptions, i int) (string, error) {
	fp := make([]byte, 32)
	_, _ = rand.Read(fp)
	opened := o.Now.Add(-time.Duration(o.Incidents-i) * time.Minute)
	leaked := opened.Add(-36 * time.Hour)
	system, login := "shop-db", fmt.Sprintf("svc_%04d", i)
	inc, _, err := st.OpenIncident(ctx, store.Incident{
		Fingerprint: secret.Fingerprint(hex.EncodeToString(fp)), Preview: "Xk9…(24)", Kind: "postgres-password",
		Created: opened, LeakedAt: &leaked, Inventory: "/etc/rekey/inventory.yaml",
	})
	if err != nil {
		return "", err
	}
	inc.Identity = store.IdentityRef{System: system, Name: login}
	if err := st.UpdateIncident(ctx, inc); err != nil {
		return "", err
	}
	if _, err := log.Append(ctx, o.Actor, "incident.open", inc.ID, map[string]any{"fingerprint": inc.Fingerprint.Short()}); err != nil {
		return "", err
	}
	var occ []store.Occurrence
	for j, p := range []string{"deploy/app.env", "config/settings.py", "docs/runbook.md"} {
		occ = append(occ, store.Occurrence{
			Fingerprint: inc.Fingerprint, Preview: inc.Preview, Rule: "postgres-uri", Provider: "postgres", Severity: "high",
			Path: p, Line: 10 + j, Column: 5, Commit: fmt.Sprintf("%040x", i*7+j), AtHead: j == 0, Class: "source",
			Encoding: "plain", Ref: "refs/heads/main", FirstSeen: leaked, LastSeen: opened,
		})
	}
	if err := st.PutOccurrences(ctx, inc.ID, occ); err != nil {
		return "", err
	}
	inspected := opened.Add(time.Minute)
	if err := st.PutIdentity(ctx, inc.ID, store.Identity{
		System: system, Name: login, Method: "scram-sha-256", Inspected: true, InspectedAt: &inspected,
		Exists: true, CanLogin: true, Flags: []string{},
		Privileges: []store.Privilege{
			{Name: "LOGIN", Risk: "low"},
			{Name: "CONNECT ON DATABASE shop", Risk: "low"},
			{Name: "SELECT ON orders", Risk: "medium"},
			{Name: "INSERT, UPDATE ON orders", Risk: "medium"},
			{Name: "member of app_rw", Risk: "high", Via: "app_rw"},
			{Name: "CREATEROLE", Risk: "critical", CreatesCredentials: true},
		},
		Sessions: []store.Session{
			{ID: "4411", Client: "10.0.3.17:51022", Application: "orders-api", Started: opened.Add(-time.Hour), Database: "shop"},
			{ID: "4412", Client: "203.0.113.9:40110", Application: "psql", Started: opened.Add(-20 * time.Minute), Database: "shop"},
		},
		Related: []store.Related{{Kind: "role", Name: "app_rw", Detail: "granted to " + login}},
	}); err != nil {
		return "", err
	}
	if err := st.PutConsumers(ctx, inc.ID, []store.Consumer{
		{Name: "orders-api", Identity: system + "/" + login, Declared: true, Observed: true, Sources: []string{"10.0.3.17"}},
		{Name: "billing-worker", Identity: system + "/" + login, Declared: true, Sources: []string{}},
		{Name: "reporting", Identity: system + "/" + login, Declared: true, Observed: true, Sources: []string{"10.0.3.40"}},
	}); err != nil {
		return "", err
	}
	evs := make([]store.Event, 0, o.Events)
	for j := range o.Events {
		src, app, outcome := "10.0.3.17", "orders-api", "success"
		if j%10 == 9 {
			src, app = "203.0.113.9", "psql"
		}
		if j%25 == 24 {
			outcome = "failure"
		}
		evs = append(evs, store.Event{
			Time: leaked.Add(time.Duration(j) * 40 * time.Minute), Credential: login, Identity: system + "/" + login,
			Source: src, Application: app, Action: "connect", Outcome: outcome,
			File: "/var/log/postgresql/postgresql.json", Line: 1000*i + j + 1,
		})
	}
	if err := st.AddEvents(ctx, inc.ID, evs); err != nil {
		return "", err
	}
	return inc.ID, nil
}
