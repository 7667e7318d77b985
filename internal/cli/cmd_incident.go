package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/detect"
	"github.com/rekeyhq/rekey/internal/detect/rules"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/logs"
	"github.com/rekeyhq/rekey/internal/provider/all"
	"github.com/rekeyhq/rekey/internal/scan"
	"github.com/rekeyhq/rekey/internal/scope"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/trace"
)

func newIncidentCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "incident",
		Short: "Respond to one leaked secret: open, scope, plan, run, review",
		Args:  cobra.NoArgs,
		RunE:  func(c *cobra.Command, _ []string) error { return c.Help() },
	}
	c.AddCommand(newIncidentOpenCmd(g), newIncidentScopeCmd(g), newIncidentReviewCmd(g),
		newIncidentPlanCmd(g), newIncidentRunCmd(g), newIncidentApproveCmd(g), newIncidentRollbackCmd(g),
		newIncidentCredentialCmd(g))
	c.AddCommand(newIncidentRemediateCmd(g))
	c.AddCommand(newIncidentReportCmd(g))
	c.AddCommand(newIncidentListCmd(g), newIncidentCloseCmd(g), newIncidentShowCmd(g))
	return c
}

type openOpts struct {
	secret    secretFlags
	inventory string
	logs      []string
	leakedAt  string
	format    string
}

func newIncidentOpenCmd(g *globals) *cobra.Command {
	o := &openOpts{}
	c := &cobra.Command{
		Use:   "open (--secret-file F | --secret-stdin | --secret-env VAR) --inventory FILE",
		Short: "Open (or find) the incident for a leaked secret and gather its scope",
		Long: `Open creates the incident for a leaked secret, or finds the one already open for
it (the same secret has the same fingerprint). It then gathers the facts the
scope is computed from, touching nothing:

  - every copy of the secret in the inventory's sources (as rekey trace does);
  - whose secret it is: each system in the inventory is asked, as its
    administrator, which identities' stored verifiers accept the secret — no
    one logs in with the leaked secret, and more than one match is reuse;
  - each matching identity's privileges, open sessions and related
    credentials;
  - the identity's uses in the logs (--logs and the inventory's logs:
    PostgreSQL csv/json/stderr, CloudTrail; each file's format detected
    from its content unless the inventory names it);
  - the declared consumers, and which of them were seen in sessions or logs.

A system that cannot be reached or refuses the administrator is recorded as
not searched, and the scope says so instead of guessing.

The incident id is printed alone on standard output (table), or with what was
found (json).

EXIT STATUS
  0  the incident is open (new or existing), whatever was found
  2  usage or input error (no secret, an unreadable or invalid inventory, a bad store)`,
		Example: `  rekey incident open --secret-file /tmp/leaked.txt --inventory ops/rekey.yml
  printf %s "$PW" | rekey incident open --secret-stdin --inventory ops/rekey.yml --format json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runIncidentOpen(c.Context(), g, o, c.OutOrStdout())
		},
	}
	o.secret.register(c)
	c.Flags().StringVar(&o.inventory, "inventory", "", "the inventory file (required)")
	c.Flags().StringVar(&o.leakedAt, "leaked-at", "", "when the secret was exposed (RFC 3339)")
	c.Flags().StringArrayVar(&o.logs, "logs", nil, "log files or quoted globs (** for any depth) to read for uses of the identity, besides the inventory's logs (repeatable)")
	c.Flags().StringVar(&o.format, "format", "table", "output format: table (the id alone) or json")
	return c
}

// openResult is the JSON of `incident open`.
type openResult struct {
	ID          string              `json:"id"`
	Existing    bool                `json:"existing"`
	LeakedAt    *time.Time          `json:"leaked_at"`
	Identity    *store.IdentityRef  `json:"identity"`
	Reuse       []store.IdentityRef `json:"reuse"`
	Occurrences int                 `json:"occurrences"`
	Events      int                 `json:"events"`
	Kind        string              `json:"kind"`
	Searched    []string            `json:"searched"`
	NotSearched []scope.Problem     `json:"not_searched"`
}

func runIncidentOpen(ctx context.Context, g *globals, o *openOpts, out io.Writer) error {
	if err := checkFormat(o.format, "table", "json"); err != nil {
		return err
	}
	if o.inventory == "" {
		return usagef("--inventory FILE is required")
	}
	var leakedAt *time.Time
	if o.leakedAt != "" {
		t, err := time.Parse(time.RFC3339, o.leakedAt)
		if err != nil {
			return usagef("--leaked-at %q: want RFC 3339, such as 2026-11-25T22:10:00Z", o.leakedAt)
		}
		leakedAt = &t
	}
	s, err := o.secret.read(g)
	if err != nil {
		return err
	}
	inv, invBytes, err := readInventoryStrict(g, o.inventory)
	if err != nil {
		return err
	}
	logFiles, err := incident.ExpandLogs(incident.LogSets(o.logs, "", inv))
	if err != nil {
		return err
	}
	fp, err := g.fingerprinter()
	if err != nil {
		return err
	}
	det, err := detect.New(rules.All())
	if err != nil {
		return err
	}
	st, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := g.actAs(ctx, st, auth.Respond); err != nil {
		return err
	}
	say := g.progress()

	say("tracing the secret through %d source(s)", len(inv.Sources))
	findings, err := traceInventory(ctx, g, inv, s, det, fp)
	if err != nil {
		return err
	}
	given := leakedAt != nil
	if leakedAt == nil {
		leakedAt = earliestExposure(findings)
	}
	inc, existing, err := st.OpenIncident(ctx, store.Incident{
		Fingerprint: fp.Of(s),
		Preview:     s.Preview(),
		Kind:        kindOf(det, s),
		Created:     time.Now().UTC(),
		LeakedAt:    leakedAt,
		Inventory:   inv.File,
	})
	if err != nil {
		return err
	}
	if !existing {
		al, err := g.auditLog(st)
		if err != nil {
			return err
		}
		if _, err := al.Append(ctx, g.actor(), "incident.open", inc.ID, map[string]string{"fingerprint": string(inc.Fingerprint), "inventory": inv.File}); err != nil {
			return err
		}
	}
	if existing && (given || inc.LeakedAt == nil) && leakedAt != nil {
		// A leak time given now (respond on resume, open again) replaces
		// the stored one; a guess fills only a missing one.
		d, err := g.deps(st)
		if err != nil {
			return err
		}
		if err := incident.SetLeakedAt(ctx, d, &inc, *leakedAt, given); err != nil {
			return err
		}
	}
	if err := st.PutInventory(ctx, inc.ID, store.InventoryCopy{Path: inv.File, Body: invBytes}); err != nil {
		return err
	}
	if err := st.PutOccurrences(ctx, inc.ID, occurrencesOf(findings)); err != nil {
		return err
	}

	res := openResult{ID: inc.ID, Existing: existing, LeakedAt: inc.LeakedAt, Occurrences: len(findings), Reuse: []store.IdentityRef{}, Searched: []string{}, NotSearched: []scope.Problem{}}
	idents := g.systems(inv).Identify(ctx, incident.Leaked{Secret: s, KeyID: o.secret.keyID}, say)
	for _, id := range idents {
		if err := st.PutIdentity(ctx, inc.ID, id); err != nil {
			return err
		}
		if id.Name == scope.SystemWide {
			res.NotSearched = append(res.NotSearched, scope.Problem{System: id.System, Error: id.InspectError})
		} else if !slices.Contains(res.Searched, id.System) {
			res.Searched = append(res.Searched, id.System)
		}
	}
	for _, sys := range inv.Systems {
		if !slices.ContainsFunc(idents, func(i store.Identity) bool { return i.System == sys.Name }) {
			res.Searched = append(res.Searched, sys.Name) // searched, nothing matched
		}
	}
	var events []store.Event
	if len(logFiles) > 0 {
		say("reading %d log file(s)", len(logFiles))
		events, err = incident.ReadEvents(ctx, logFiles, usesOf(idents), g.warnLine)
		if err != nil {
			return err
		}
		if err := st.AddEvents(ctx, inc.ID, events); err != nil {
			return err
		}
	}
	res.Events = len(events)
	sc := scope.Compute(scope.Input{Incident: inc, Identities: idents, Events: events, Inventory: inv, Now: time.Now()})
	var cons []store.Consumer
	for _, c := range sc.Consumers {
		cons = append(cons, store.Consumer{Name: c.Name, Identity: sc.Identity.Name, Declared: c.Declared, Observed: c.Observed, Sources: c.Sources, ThirdParty: c.ThirdParty})
	}
	if err := st.PutConsumers(ctx, inc.ID, cons); err != nil {
		return err
	}
	if sc.Identity.Status != scope.Unknown {
		ref := store.IdentityRef{System: sc.Identity.System, Name: sc.Identity.Name}
		res.Identity = &ref
		inc.Identity = ref
		if inc.Kind == "" {
			inc.Kind = incident.SystemType(inv, ref.System) + " password"
		}
	}
	res.Reuse = sc.Reuse
	res.Kind = cmp.Or(inc.Kind, scope.Unknown)
	if err := st.UpdateIncident(ctx, inc); err != nil {
		return err
	}
	say("incident %s: %d copies, identity %s", inc.ID, len(findings), cmp.Or(refString(res.Identity), scope.Unknown))
	if o.format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	_, err = fmt.Fprintln(out, inc.ID)
	return err
}

func refString(r *store.IdentityRef) string {
	if r == nil {
		return ""
	}
	return r.System + "/" + r.Name
}

// progress returns a printer of stage lines on a terminal, and a no-op
// when stderr is piped.
// warnLine prints a line the person should know of, that stops nothing.
func (g *globals) warnLine(line string) { tablef(g.env.Stderr, "rekey: %s\n", line) }

func (g *globals) progress() func(format string, a ...any) {
	if !g.env.stderrIsTerminal() {
		return func(string, ...any) {}
	}
	return func(format string, a ...any) { tablef(g.env.Stderr, "rekey: "+format+"\n", a...) }
}

// loadInventoryStrict loads an inventory and refuses one with structural
// errors: a response must not run on a half-understood inventory.
func loadInventoryStrict(g *globals, path string) (*inventory.Inventory, error) {
	inv, _, err := readInventoryStrict(g, path)
	return inv, err
}

// readInventoryStrict is loadInventoryStrict that also returns the bytes
// it parsed, for the incident's copy.
func readInventoryStrict(g *globals, path string) (*inventory.Inventory, []byte, error) {
	opts, err := inventoryOptions(g)
	if err != nil {
		return nil, nil, err
	}
	opts.SkipLocal = true
	data, err := inventory.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	inv, rep, err := inventory.Parse(path, data, opts)
	if err != nil {
		return nil, nil, err
	}
	if len(rep.Errors) > 0 {
		return nil, nil, errs.New("inventory", errs.Invalid, path,
			fmt.Sprintf("%d error(s), first %s; run rekey inventory check %s", len(rep.Errors), rep.Errors[0], path))
	}
	return inv, data, nil
}

// kindOf names the secret's format when a rule recognises the value itself.
func kindOf(det *detect.Detector, s secret.Secret) string {
	for _, f := range det.Scan(s.Reveal()) {
		if f.Start == 0 && f.End == s.Len() {
			return f.Rule.ID
		}
	}
	return ""
}

// traceInventory finds every copy of s in the inventory's sources.
func traceInventory(ctx context.Context, g *globals, inv *inventory.Inventory, s secret.Secret, det *detect.Detector, fp *secret.Fingerprinter) ([]scan.Finding, error) {
	tm, err := trace.New(s)
	if err != nil {
		return nil, errs.E("trace", errs.Invalid, "", err)
	}
	ferrs := &fileErrors{w: func(line string) { fmt.Fprintln(g.env.Stderr, line) }}
	warn := func(line string) { fmt.Fprintln(g.env.Stderr, line) }
	// A source missing here is reported, not fatal: the inventory may list
	// places only some machines have.
	sources := scan.InventorySources(inv, ferrs.add, warn, g.env.Getenv)
	m := &scan.Trace{Secret: s, Matcher: tm, Detector: det, Fingerprinter: fp}
	return scan.Run(ctx, scan.Options{Matcher: m}, sources)
}

func occurrencesOf(fs []scan.Finding) []store.Occurrence {
	now := time.Now().UTC()
	out := make([]store.Occurrence, 0, len(fs))
	for _, f := range fs {
		out = append(out, store.Occurrence{
			Fingerprint: f.Fingerprint, Preview: f.Preview, Rule: f.Rule, Provider: f.Provider, Severity: f.Severity.String(),
			Path: f.Path, Line: f.Line, Column: f.Column, Commit: f.Commit, AtHead: f.AtHead, Class: string(f.Class),
			Encoding: f.Encoding, Ref: f.Ref, Match: f.Match, FirstSeen: now, LastSeen: now,
		})
	}
	return out
}

// systems opens inv's systems with this command's environment.
func (g *globals) systems(inv *inventory.Inventory) incident.Systems {
	return incident.Deps{Registry: all.Registry(), Getenv: g.env.Getenv}.Systems(inv)
}

// earliestExposure is when the earliest copy came to be: the commit,
// chat message or ticket comment that holds it (the sources give each
// copy's time where their place records it).
func earliestExposure(fs []scan.Finding) *time.Time {
	var first *time.Time
	for _, f := range fs {
		if f.ExposedAt != nil && (first == nil || f.ExposedAt.Before(*first)) {
			first = f.ExposedAt
		}
	}
	return first
}

// usesOf keeps the log events that name one of the identities the secret
// authenticates as (a role, a user, the user part of user@host).
func usesOf(idents []store.Identity) func(logs.Event) bool {
	names := map[string]bool{}
	for _, id := range idents {
		if id.Name == scope.SystemWide {
			continue
		}
		names[id.Name] = true
		user, _, _ := strings.Cut(id.Name, "@")
		names[user] = true
	}
	return func(e logs.Event) bool {
		return e.Credential != "" && names[e.Credential] || e.Identity != "" && names[e.Identity]
	}
}
