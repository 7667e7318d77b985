package scope

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/store"
)

var update = flag.Bool("update", false, "rewrite testdata/scopes.json from Compute")

// evidenceInputs are scopes with every kind of evidence line: sessions,
// logged uses, and a consumer's address under an undeclared program.
func evidenceInputs(t *testing.T) []Input {
	withLogs := shopInput(t)
	withLogs.Events = []store.Event{
		{Time: now.Add(-30 * time.Hour), Credential: "orders_svc", Source: "198.51.100.7", Application: "psql", Action: "connect", Outcome: "failure", File: "/var/log/postgresql/pg.csv", Line: 41},
		{Time: now.Add(-29 * time.Hour), Credential: "orders_svc", Source: "198.51.100.7", Action: "connect", Outcome: "success", File: "/var/log/postgresql/pg.csv", Line: 44},
	}
	foreign := shopInput(t)
	ids := foreign.Identities[1]
	ids.Sessions = []store.Session{{ID: "6001", Client: "billing-1.internal:5011", Application: "psql", Started: now.Add(-5 * time.Minute), Database: "shop"}}
	foreign.Identities = []store.Identity{ids}
	return []Input{shopInput(t), withLogs, foreign}
}

// TestScopeJSONIsUnchanged: the scope GET /scope returns, byte for byte,
// as testdata/scopes.json recorded it before NoEvidence existed.
func TestScopeJSONIsUnchanged(t *testing.T) {
	var got []Scope
	for _, in := range evidenceInputs(t) {
		got = append(got, Compute(in))
	}
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "scopes.json")
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("scope JSON differs from %s:\n%s", path, b)
	}
}

// TestNoEvidenceChangesNothingElse: a scope computed without evidence
// lines has the same risk, identity and everything else.
func TestNoEvidenceChangesNothingElse(t *testing.T) {
	for i, in := range evidenceInputs(t) {
		full := Compute(in)
		in.NoEvidence = true
		lean := Compute(in)
		if len(full.Unexplained) == 0 || len(full.Unexplained[0].Evidence) == 0 {
			t.Fatalf("input %d: no evidence to leave out: %+v", i, full.Unexplained)
		}
		for j := range lean.Unexplained {
			if lean.Unexplained[j].Evidence != nil {
				t.Errorf("input %d: evidence %q with NoEvidence", i, lean.Unexplained[j].Evidence)
			}
			full.Unexplained[j].Evidence = nil
		}
		a, _ := json.Marshal(full)
		b, _ := json.Marshal(lean)
		if !bytes.Equal(a, b) {
			t.Errorf("input %d: without evidence\n%s\nwant\n%s", i, b, a)
		}
	}
}
