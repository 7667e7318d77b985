package cli

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/notify"
	"github.com/rekeyhq/rekey/internal/watch/watcher"
)

type watchOpts struct {
	inventory string
}

func newWatchCmd(g *globals) *cobra.Command {
	o := &watchOpts{}
	c := &cobra.Command{
		Use:   "watch [--inventory FILE] [--store DSN]",
		Short: "Follow the inventory's logs, judge each use, and act on what the inventory's watch: names",
		Long: `Watch runs the watcher alone, in the foreground, until it is interrupted. It
follows the inventory's logs: files (as they grow, across rotation, from the
offset recorded in the store, so a restart neither re-reads nor misses a
record), its watch: nats: subjects (a durable JetStream consumer) and each
Redis system's ACL LOG (Redis logs no logins), judges
each record against the baseline it keeps for each credential, and acts:

  - a finding whose kind watch: trigger: lists opens an incident for the
    identity it names, opened by "watch", or joins the open one; a later
    incident open of the leaked secret joins it too;
  - a finding whose kind watch: auto_contain: lists also runs the
    emergency plan at once, without a person, audited as automatic.

Any use of a canary login (rekey canary create) is a critical canary-use
finding. Progress goes to standard error on a terminal; piped, it is quiet
but for warnings. Interrupted, it stops after the batch at hand, and lets a
containment that has begun finish.

EXIT STATUS
  0  interrupted, stopped cleanly
  2  usage or input error (no or an invalid inventory, nothing to follow, a bad store)`,
		Example: `  rekey watch --inventory ops/rekey.yml
  rekey watch --inventory ops/rekey.yml --store postgres://rekey@db/rekey`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return runWatch(c.Context(), g, o) },
	}
	c.Flags().StringVar(&o.inventory, "inventory", "", "the inventory file (default $REKEY_INVENTORY)")
	return c
}

func runWatch(ctx context.Context, g *globals, o *watchOpts) error {
	inv, body, d, done, err := g.inventoryDeps(ctx, o.inventory)
	if err != nil {
		return err
	}
	defer done()
	send, stop := g.watchNotify(inv, g.warnLine)
	defer stop()
	return watcher.Run(ctx, watcher.Config{Deps: d, Inventory: inv, InventoryBody: body, Say: d.Say, Warn: g.warnLine, Notify: send})
}

// watchNotify tells the inventory's notify: targets what the watcher did
// (nil when there are none), warning with warn; stop sends what is
// queued, for a few seconds at most. The watcher never holds the leaked secret: its events
// name the identity, the owners and the finding.
func (g *globals) watchNotify(inv *inventory.Inventory, warn func(string)) (send func(context.Context, watcher.Event) error, stop func()) {
	targets, problems := notify.Targets(inv, g.env.Getenv)
	for _, p := range problems {
		warn(p.Error())
	}
	if len(targets) == 0 {
		return nil, func() {}
	}
	n := notify.New(notify.Options{Warn: warn})
	send = func(_ context.Context, e watcher.Event) error {
		msg := e.Finding.Summary
		if e.Detail != "" {
			msg += " (" + e.Detail + ")"
		}
		n.Notify(targets, notify.Event{Kind: notify.Kind(e.Kind), Incident: e.Incident,
			Identity: e.Identity.System + "/" + e.Identity.Name, Risk: string(e.Finding.Severity), Message: msg,
			Owners: notify.Owners(inv, e.Identity.System, e.Identity.Name)}, nil)
		return nil
	}
	return send, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = n.Close(ctx)
	}
}

// inventoryDeps reads the inventory (the flag's, else $REKEY_INVENTORY)
// strictly and opens the store with the incident workflow's deps over it.
func (g *globals) inventoryDeps(ctx context.Context, flag string) (*inventory.Inventory, []byte, incident.Deps, func(), error) {
	path := flag
	if path == "" {
		path = g.env.Getenv("REKEY_INVENTORY")
	}
	if path == "" {
		return nil, nil, incident.Deps{}, nil, usagef("--inventory FILE is required (or $REKEY_INVENTORY)")
	}
	inv, body, err := readInventoryStrict(g, path)
	if err != nil {
		return nil, nil, incident.Deps{}, nil, err
	}
	d, done, err := g.openDeps(ctx)
	return inv, body, d, done, err
}
