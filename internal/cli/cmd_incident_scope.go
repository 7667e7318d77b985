package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rekeyhq/rekey/internal/escape"
	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/scope"
	"github.com/rekeyhq/rekey/internal/store"
)

type scopeOpts struct{ format string }

func newIncidentScopeCmd(g *globals) *cobra.Command {
	o := &scopeOpts{}
	c := &cobra.Command{
		Use:   "scope ID",
		Short: "Show the blast radius of an incident's secret",
		Long: `Scope prints the blast radius recorded by incident open: the secret, the
identity it belongs to and its privileges (with risk), every copy grouped by
location class, the consumers declared and observed, use from sources nobody
declared, other identities that accept the same secret, related credentials
to review, flags (shared, third-party, long-lived, over-privileged, agent) and
a risk score with the reasons behind it. What could not be established is
shown as unknown.

Formats: table, json (the contract in docs/formats.md), md (for a ticket),
dot and mermaid (a graph: secret → identity → privileges, consumers, copies).

EXIT STATUS
  0  printed, whatever the scope holds
  2  usage or input error (an unknown incident id, a bad store)`,
		Example: `  rekey incident scope INC-20261126-3f9a
  rekey incident scope INC-20261126-3f9a --format mermaid`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runIncidentScope(c.Context(), g, o, args[0], c.OutOrStdout())
		},
	}
	c.Flags().StringVar(&o.format, "format", "table", "output format: table, json, md, dot or mermaid")
	return c
}

func runIncidentScope(ctx context.Context, g *globals, o *scopeOpts, id string, out io.Writer) error {
	if err := checkFormat(o.format, "table", "json", "md", "dot", "mermaid"); err != nil {
		return err
	}
	st, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	sc, err := loadScope(ctx, g, st, id)
	if err != nil {
		return err
	}
	switch o.format {
	case "json":
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(sc)
	case "md":
		return writeScopeMarkdown(out, sc)
	case "dot":
		return writeScopeDot(out, sc)
	case "mermaid":
		return writeScopeMermaid(out, sc)
	}
	return writeScopeTable(out, sc)
}

// loadScope reads what the incident recorded and computes its scope, with
// the inventory it was opened with when that file is still readable.
func loadScope(ctx context.Context, g *globals, st store.Store, id string) (scope.Scope, error) {
	inc, err := st.GetIncident(ctx, id)
	if err != nil {
		return scope.Scope{}, err
	}
	inv := g.recordedInventory(ctx, st, inc, "consumers are shown as recorded at open")
	return incident.Scope(ctx, st, inc, inv, time.Now())
}

func flagList(f scope.Flags) string {
	var on []string
	for _, x := range []struct {
		set  bool
		name string
	}{{f.Shared, "shared"}, {f.ThirdParty, "third-party"}, {f.LongLived, "long-lived"}, {f.OverPrivileged, "over-privileged"}, {f.Agent, "agent"}} {
		if x.set {
			on = append(on, x.name)
		}
	}
	if len(on) == 0 {
		return "none"
	}
	return strings.Join(on, ", ")
}

func identityLine(id scope.Identity) string {
	if id.Status == scope.Unknown {
		return "unknown: no searched system's stored verifier accepts this secret"
	}
	parts := []string{fmt.Sprintf("%s/%s (proven by %s)", id.System, id.Name, id.Method)}
	if id.Owner != "" {
		parts = append(parts, "owner "+id.Owner)
	}
	if !id.Declared {
		parts = append(parts, "not in the inventory")
	}
	if id.Error != "" {
		parts = append(parts, "not inspected: "+id.Error)
	} else if id.CanLogin {
		parts = append(parts, "can log in")
	} else {
		parts = append(parts, "cannot log in")
	}
	if id.ValidUntil != nil {
		parts = append(parts, "valid until "+id.ValidUntil.UTC().Format(time.RFC3339))
	} else if id.Error == "" {
		parts = append(parts, "no expiry")
	}
	return strings.Join(parts, ", ")
}

func writeScopeTable(w io.Writer, s scope.Scope) error {
	var b strings.Builder
	tablef(&b, "%s  %s  %s  fingerprint %.12s\n", s.Incident, s.Secret.Kind, s.Secret.Preview, s.Secret.Fingerprint)
	tablef(&b, "\nRISK %d/100   flags: %s\n", s.Risk.Score, flagList(s.Flags))
	for _, r := range s.Risk.Reasons {
		tablef(&b, "  %s\n", r)
	}
	tablef(&b, "\nIDENTITY  %s\n", identityLine(s.Identity))
	for _, p := range s.Identity.Privileges {
		extra := ""
		if p.Via != "" {
			extra += " via " + escape.Text(p.Via)
		}
		if p.CreatesCredentials {
			extra += " (can create credentials)"
		}
		if p.Kept {
			extra += " (kept by policy)"
		}
		tablef(&b, "  %-8s %s%s\n", strings.ToUpper(p.Risk), p.Name, extra)
	}
	tablef(&b, "\nCOPIES  %d\n", len(s.Occurrences))
	for _, o := range s.Occurrences {
		extra := ""
		if o.Ref != "" {
			extra += "  [" + o.Ref + "]"
		}
		if o.Commit != "" {
			extra += tables("  [commit %.12s]", o.Commit)
		}
		if o.Encoding != "" && o.Encoding != "plain" {
			extra += "  [" + o.Encoding + "]"
		}
		if o.Match == "partial" {
			extra += "  [partial]"
		}
		tablef(&b, "  %-8s %s:%d%s\n", o.Class, o.Path, o.Line, extra)
	}
	tablef(&b, "\nCONSUMERS  %d\n", len(s.Consumers))
	for _, c := range s.Consumers {
		state := "declared, not seen"
		if c.Observed {
			state = "declared, seen"
		}
		if c.ThirdParty {
			state += ", third party"
		}
		tablef(&b, "  %-20s %-28s %s\n", c.Name, state, strings.Join(c.Sources, " "))
	}
	if len(s.Unexplained) > 0 {
		tablef(&b, "\nUNEXPLAINED USE  %d source(s) no consumer declares\n", len(s.Unexplained))
		for _, u := range s.Unexplained {
			tablef(&b, "  %s  since %s\n", u.Source, u.FirstSeen.UTC().Format(time.RFC3339))
			for _, e := range u.Evidence {
				tablef(&b, "    %s\n", e)
			}
		}
	}
	if len(s.Reuse) > 0 {
		tablef(&b, "\nREUSE  the same secret also authenticates\n")
		for _, r := range s.Reuse {
			tablef(&b, "  %s/%s\n", r.System, r.Name)
		}
	}
	if len(s.Related) > 0 {
		tablef(&b, "\nRELATED  to review: they survive rotating this secret\n")
		for _, r := range s.Related {
			tablef(&b, "  %-14s %s — %s\n", r.Kind, r.Name, r.Detail)
		}
	}
	if len(s.NotSearched) > 0 {
		tablef(&b, "\nNOT SEARCHED  the identity may be in these systems\n")
		for _, p := range s.NotSearched {
			tablef(&b, "  %s: %s\n", p.System, p.Error)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeScopeMarkdown(w io.Writer, s scope.Scope) error {
	var b strings.Builder
	mdf(&b, "# Scope of %s\n\n", s.Incident)
	mdf(&b, "- **Secret:** %s `%s` (fingerprint `%.12s`)\n", s.Secret.Kind, s.Secret.Preview, s.Secret.Fingerprint)
	mdf(&b, "- **Identity:** %s\n", identityLine(s.Identity))
	mdf(&b, "- **Risk:** %d/100; flags: %s\n\n", s.Risk.Score, flagList(s.Flags))
	for _, r := range s.Risk.Reasons {
		mdf(&b, "  - %s\n", r)
	}
	mdf(&b, "\n## Privileges\n\n| risk | privilege | via | creates credentials | kept |\n|---|---|---|---|---|\n")
	for _, p := range s.Identity.Privileges {
		mdf(&b, "| %s | %s | %s | %v | %v |\n", p.Risk, p.Name, p.Via, p.CreatesCredentials, p.Kept)
	}
	mdf(&b, "\n## Copies (%d)\n\n| class | where | ref | commit | encoding |\n|---|---|---|---|---|\n", len(s.Occurrences))
	for _, o := range s.Occurrences {
		mdf(&b, "| %s | `%s:%d` | %s | %.12s | %s |\n", o.Class, o.Path, o.Line, o.Ref, o.Commit, o.Encoding)
	}
	mdf(&b, "\n## Consumers\n\n| consumer | declared | seen | sources | third party |\n|---|---|---|---|---|\n")
	for _, c := range s.Consumers {
		mdf(&b, "| %s | %v | %v | %s | %v |\n", c.Name, c.Declared, c.Observed, strings.Join(c.Sources, " "), c.ThirdParty)
	}
	if len(s.Unexplained) > 0 {
		mdf(&b, "\n## Unexplained use\n\n")
		for _, u := range s.Unexplained {
			mdf(&b, "- **%s** since %s: %s\n", u.Source, u.FirstSeen.UTC().Format(time.RFC3339), strings.Join(u.Evidence, "; "))
		}
	}
	if len(s.Reuse)+len(s.Related)+len(s.NotSearched) > 0 {
		mdf(&b, "\n## Also\n\n")
		for _, r := range s.Reuse {
			mdf(&b, "- reuse: `%s/%s` accepts the same secret\n", r.System, r.Name)
		}
		for _, r := range s.Related {
			mdf(&b, "- related %s `%s`: %s\n", r.Kind, r.Name, r.Detail)
		}
		for _, p := range s.NotSearched {
			mdf(&b, "- not searched: %s (%s)\n", p.System, p.Error)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// graph is the scope as nodes and edges, drawn by dot and mermaid alike.
type graphNode struct{ id, label, shape string }
type graphEdge struct{ from, to, label string }

func scopeGraph(s scope.Scope) ([]graphNode, []graphEdge) {
	nodes := []graphNode{{"secret", fmt.Sprintf("secret %s\\n%s", s.Secret.Preview, s.Secret.Kind), "secret"}}
	var edges []graphEdge
	idNode := "identity"
	nodes = append(nodes, graphNode{idNode, "identity " + map[bool]string{true: scope.Unknown, false: s.Identity.System + "/" + s.Identity.Name}[s.Identity.Status == scope.Unknown], "identity"})
	edges = append(edges, graphEdge{"secret", idNode, "authenticates"})
	for i, p := range s.Identity.Privileges {
		n := fmt.Sprintf("priv%d", i)
		nodes = append(nodes, graphNode{n, p.Risk + ": " + p.Name, "privilege"})
		edges = append(edges, graphEdge{idNode, n, "holds"})
	}
	for i, c := range s.Consumers {
		n := fmt.Sprintf("consumer%d", i)
		label := c.Name
		if c.ThirdParty {
			label += " (third party)"
		}
		nodes = append(nodes, graphNode{n, label, "consumer"})
		edges = append(edges, graphEdge{n, idNode, map[bool]string{true: "uses (seen)", false: "uses"}[c.Observed]})
	}
	for i, u := range s.Unexplained {
		n := fmt.Sprintf("unexplained%d", i)
		nodes = append(nodes, graphNode{n, "UNEXPLAINED " + u.Source, "unexplained"})
		edges = append(edges, graphEdge{n, idNode, "uses"})
	}
	classes := map[string]int{}
	var order []string
	for _, o := range s.Occurrences {
		if classes[o.Class] == 0 {
			order = append(order, o.Class)
		}
		classes[o.Class]++
	}
	for _, c := range order {
		n := "copies_" + c
		nodes = append(nodes, graphNode{n, fmt.Sprintf("%d copies in %s", classes[c], c), "copy"})
		edges = append(edges, graphEdge{"secret", n, "copied to"})
	}
	for i, r := range s.Reuse {
		n := fmt.Sprintf("reuse%d", i)
		nodes = append(nodes, graphNode{n, "identity " + r.System + "/" + r.Name, "identity"})
		edges = append(edges, graphEdge{"secret", n, "also authenticates"})
	}
	return nodes, edges
}

func writeScopeDot(w io.Writer, s scope.Scope) error {
	shapes := map[string]string{"secret": "shape=box,style=filled,fillcolor=\"#fde2e2\"", "identity": "shape=box,style=rounded",
		"privilege": "shape=note", "consumer": "shape=component", "unexplained": "shape=octagon,color=red", "copy": "shape=folder"}
	nodes, edges := scopeGraph(s)
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %q {\n  rankdir=LR;\n", s.Incident)
	for _, n := range nodes {
		fmt.Fprintf(&b, "  %s [label=%q,%s];\n", n.id, strings.ReplaceAll(escape.Text(n.label), `\n`, "\n"), shapes[n.shape])
	}
	for _, e := range edges {
		fmt.Fprintf(&b, "  %s -> %s [label=%q];\n", e.from, e.to, e.label)
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func writeScopeMermaid(w io.Writer, s scope.Scope) error {
	nodes, edges := scopeGraph(s)
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	for _, n := range nodes {
		label := strings.NewReplacer(`"`, "#quot;", `\n`, "<br/>").Replace(escape.Text(n.label))
		open, closeBr := "[", "]"
		switch n.shape {
		case "identity":
			open, closeBr = "(", ")"
		case "unexplained":
			open, closeBr = "{{", "}}"
		case "copy":
			open, closeBr = "[(", ")]"
		}
		fmt.Fprintf(&b, "  %s%s\"%s\"%s\n", n.id, open, label, closeBr)
	}
	for _, e := range edges {
		fmt.Fprintf(&b, "  %s -->|%s| %s\n", e.from, e.label, e.to)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
