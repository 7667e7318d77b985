package scan

import (
	"context"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/source"
	"github.com/rekeyhq/rekey/internal/source/slackapi/slackapitest"
)

// TestInventoryLiveSource: an inventory's slack-api source is read
// through the API with its token resolved from the caller's environment,
// so incident open traces a live workspace as it traces an export.
func TestInventoryLiveSource(t *testing.T) {
	sl := &slackapitest.Server{Token: "xoxp-inventory", Self: "U1", Channels: []*slackapitest.Channel{{ID: "C1", Name: "ops", Member: true,
		Messages: []slackapitest.Message{{TS: slackapitest.TS(1), User: "U1", Text: "the vendor password is needle-in-chat"}}}}}
	sl.Start()
	defer sl.Close()
	src := []byte("version: 1\nsources:\n  - { type: slack-api, url: \"" + sl.URL() + "\", token: env:SLACK_TOKEN }\n")
	getenv := func(k string) string { return map[string]string{"SLACK_TOKEN": "xoxp-inventory"}[k] }
	inv, rep, err := inventory.Parse("inv.yml", src, inventory.Options{Getenv: getenv})
	if err != nil || !rep.OK() {
		t.Fatalf("inventory: %v %v", err, rep.Errors)
	}
	var warned []string
	srcs := InventorySources(inv, nil, func(s string) { warned = append(warned, s) }, getenv)
	if len(srcs) != 1 || len(warned) > 0 {
		t.Fatalf("sources %d, warnings %q", len(srcs), warned)
	}
	var seen []source.Location
	err = srcs[0].Walk(context.Background(), func(c source.Chunk) error {
		if strings.Contains(string(c.Data), "needle-in-chat") {
			seen = append(seen, c.Loc)
		}
		return nil
	})
	if err != nil || len(seen) != 1 || seen[0].Path != "slack:#ops" || seen[0].Class != source.ClassChat {
		t.Errorf("walk: %v, copies at %+v", err, seen)
	}
}
