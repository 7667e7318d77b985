package watcher

import (
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/review"
)

// A finding is recorded once per record: the same kind and evidence at
// the same position is a repeat (another watcher's, or a batch read
// again), while evidence without a position (a Redis ACL LOG entry's
// folded repeats) is a use each time.
func TestSameFinding(t *testing.T) {
	at := time.Date(2026, 11, 26, 2, 52, 17, 0, time.UTC)
	ev := review.Evidence{File: "/var/log/pg.csv", Line: 23, Time: at, Source: "127.0.0.2", Credential: "ops_admin"}
	f := review.Finding{Kind: "sensitive-action", Subject: "CREATE ROLE", Evidence: []review.Evidence{ev}}
	next := ev
	next.Line = 24
	acl := review.Evidence{File: "authlog:cache", Time: at, Source: "127.0.0.1", Credential: "rk_canary"}
	for _, c := range []struct {
		name string
		a, b review.Finding
		want bool
	}{
		{"the same record", f, f, true},
		{"the next line", f, review.Finding{Kind: f.Kind, Subject: f.Subject, Evidence: []review.Evidence{next}}, false},
		{"another kind", f, review.Finding{Kind: "new-source", Subject: f.Subject, Evidence: f.Evidence}, false},
		{"no position", review.Finding{Kind: "canary-use", Evidence: []review.Evidence{acl}}, review.Finding{Kind: "canary-use", Evidence: []review.Evidence{acl}}, false},
		{"no evidence", review.Finding{Kind: "canary-use"}, review.Finding{Kind: "canary-use"}, false},
	} {
		if got := sameFinding(c.a, c.b); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
