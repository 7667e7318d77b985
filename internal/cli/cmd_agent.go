package cli

import (
	"context"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/rekeyhq/rekey/internal/broker/agent"
	"github.com/rekeyhq/rekey/internal/deliver"
	"github.com/rekeyhq/rekey/internal/deliver/file"
	"github.com/rekeyhq/rekey/internal/incident"
)

type agentOpts struct {
	server, jwtFile, role string
	inventory, consumer   string
	file, format, key     string
	userKey, reload       string
}

func newAgentCmd(g *globals) *cobra.Command {
	o := &agentOpts{}
	c := &cobra.Command{
		Use:   "agent --server URL --jwt-file F --role ROLE (--inventory F --consumer NAME | --deliver-file P --format F --key K [--user-key K]) [--reload CMD]",
		Short: "Keep a workload's config holding a live lease from the broker",
		Long: `Agent runs next to a workload. It proves the workload's identity to the rekey
server's broker with the token in --jwt-file (read again before every request,
as platforms rotate it), requests a lease of --role, writes its login and
password into the consumer's config (atomically, changing nothing else), runs
the reload command, renews the lease at two thirds of its lifetime, requests
a new one when a renewal is refused or the lease was ended, and revokes its
lease when it is stopped (SIGTERM or interrupt).

The config is the delivery of --consumer in --inventory (its reload command
too, unless --reload is given), or the file --deliver-file, whose --key holds
the password or a connection string (whose user is changed too), and whose
--user-key, if given, holds the login name.

EXIT STATUS
  0  stopped by a signal, its lease revoked
  2  it could not start: a flag, the token file, the server's refusal (with
     its reasons) or the first delivery`,
		Example: `  rekey agent --server https://rekey.internal:8420 --jwt-file /var/run/secrets/tokens/rekey \
    --role orders-rw --deliver-file /srv/orders/.env --format dotenv --key DATABASE_URL --reload 'kill -HUP 1'`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runAgent(c.Context(), g, o, c.ErrOrStderr())
		},
	}
	f := c.Flags()
	f.StringVar(&o.server, "server", "", "the rekey server's URL")
	f.StringVar(&o.jwtFile, "jwt-file", "", "file holding the workload's identity token (a JWT)")
	f.StringVar(&o.role, "role", "", "the broker role to hold a lease of")
	f.StringVar(&o.inventory, "inventory", "", "inventory naming the consumer")
	f.StringVar(&o.consumer, "consumer", "", "the consumer whose delivery receives the lease")
	f.StringVar(&o.file, "deliver-file", "", "config file receiving the lease")
	f.StringVar(&o.format, "format", "", "--deliver-file's format: dotenv, yaml, json, ini or properties")
	f.StringVar(&o.key, "key", "", "--deliver-file's key holding the password or connection string")
	f.StringVar(&o.userKey, "user-key", "", "--deliver-file's key holding the login name")
	f.StringVar(&o.reload, "reload", "", "shell command that makes the workload read its config")
	return c
}

func runAgent(ctx context.Context, g *globals, o *agentOpts, stderr io.Writer) error {
	for _, req := range []struct{ flag, v string }{{"--server", o.server}, {"--jwt-file", o.jwtFile}, {"--role", o.role}} {
		if req.v == "" {
			return usagef("%s is required", req.flag)
		}
	}
	byInventory, byFile := o.inventory != "" || o.consumer != "", o.file != "" || o.format != "" || o.key != "" || o.userKey != ""
	if byInventory == byFile {
		return usagef("give either --inventory and --consumer, or --deliver-file, --format and --key")
	}
	var target deliver.Target
	reload := deliver.Command{Consumer: o.consumer, Line: o.reload}
	if byInventory {
		if o.inventory == "" || o.consumer == "" {
			return usagef("--inventory and --consumer go together")
		}
		inv, err := loadInventoryStrict(g, o.inventory)
		if err != nil {
			return err
		}
		cons := inv.ConsumerByName(o.consumer)
		switch {
		case cons == nil:
			return usagef("consumer %q is not in %s", o.consumer, o.inventory)
		case cons.JIT != nil && cons.JIT.Role != o.role:
			return usagef("consumer %s declares jit role %s, not %s", o.consumer, cons.JIT.Role, o.role)
		}
		if target, err = (incident.Systems{Inventory: inv, Getenv: os.Getenv}).Target(cons); err != nil {
			return err
		}
		if reload.Line == "" {
			reload.Line = cons.Reload
		}
	} else {
		if o.file == "" || o.format == "" || o.key == "" {
			return usagef("--deliver-file, --format and --key go together")
		}
		reload.Consumer = o.file
		t, err := file.New(file.Config{Path: o.file, Format: o.format, Key: o.key, UserKey: o.userKey})
		if err != nil {
			return err
		}
		target = t
	}
	a, err := agent.New(agent.Config{Server: o.server, JWTFile: o.jwtFile, Role: o.role, Target: target, Reload: reload, Log: stderr})
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
