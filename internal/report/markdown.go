package report

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/escape"
	"github.com/rekeyhq/rekey/internal/review"
	"github.com/rekeyhq/rekey/internal/scope"
)

// WriteJSON writes the report's JSON (docs/formats.md).
func (r *Incident) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// mdText escapes a value for Markdown prose and table cells: a consumer
// name or a log's source is data, and must not become a link, an HTML
// tag, a new table column or (escape.Text) a new row in the ticket it is
// pasted into.
var mdText = strings.NewReplacer(`\`, `\\`, "|", `\|`, "<", "&lt;", ">", "&gt;", "*", `\*`, "_", `\_`, "`", "\\`",
	"[", `\[`, "]", `\]`, "#", `\#`)

func md(s string) string { return mdText.Replace(escape.Text(s)) }

// mdCode shows a path, id or login in a code span (which nothing inside
// can end, and no pipe can split).
func mdCode(s string) string {
	if s == "" {
		return ""
	}
	s = strings.NewReplacer("`", "'", "|", `\|`).Replace(escape.Text(s))
	return "`" + s + "`"
}

func mdTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "—"
	}
	return ts(*t)
}

// WriteMarkdown writes the report as Markdown for a ticket.
func (r *Incident) WriteMarkdown(w io.Writer) error {
	b := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	sc := r.Scope
	p("# Incident %s: %s %s\n\n", md(r.Incident), md(sc.Secret.Kind), mdCode(sc.Secret.Preview))
	p("State **%s**, opened %s, report generated %s.\n\n", md(r.State), ts(r.Opened), ts(r.Generated))
	if r.Closed != nil {
		p("Closed %s by %s: %s\n\n", ts(*r.Closed), md(r.ClosedBy), md(r.CloseReason))
	}

	p("## Key facts\n\n")
	p("| fact | time |\n|---|---|\n")
	p("| leaked | %s |\n", mdTime(r.Facts.LeakedAt))
	first := mdTime(r.Facts.FirstUnexplainedUse)
	if r.Facts.UnexplainedSource != "" {
		first += " from " + md(r.Facts.UnexplainedSource)
	}
	p("| first unexplained use | %s |\n", first)
	p("| leaked secret revoked | %s |\n", mdTime(r.Facts.RevokedAt))
	if r.Facts.Exposure != "" {
		p("| exposure | %s |\n", md(r.Facts.Exposure))
	}
	p("\n")

	p("## Timeline\n\n")
	if len(r.Timeline) == 0 {
		p("Nothing recorded.\n\n")
	} else {
		p("| time | who | what |\n|---|---|---|\n")
		for _, m := range r.Timeline {
			who := md(m.Actor)
			if m.Source == "fact" {
				who = "*(fact)*"
			}
			p("| %s | %s | %s |\n", ts(m.Time), who, md(m.Summary))
		}
		p("\n")
	}

	p("## Scope\n\n")
	id := sc.Identity
	if id.Status == "identified" {
		p("Identity %s in system %s", mdCode(id.Name), mdCode(id.System))
		if id.Owner != "" {
			p(", owned by %s", md(id.Owner))
		}
		if id.Kind != "" {
			p(", kind %s", md(id.Kind))
		}
		p(". Risk **%d/100**.\n\n", sc.Risk.Score)
	} else {
		p("Identity unknown: no searched system's verifier accepted the secret. Risk **%d/100**.\n\n", sc.Risk.Score)
	}
	if len(id.Privileges) > 0 {
		p("| privilege | risk | via |\n|---|---|---|\n")
		for _, pr := range id.Privileges {
			note := md(pr.Via)
			if pr.CreatesCredentials {
				note = strings.TrimSpace(note + " (creates credentials)")
			}
			if pr.Kept {
				note = strings.TrimSpace(note + " (kept)")
			}
			p("| %s | %s | %s |\n", mdCode(pr.Name), md(pr.Risk), note)
		}
		p("\n")
	}
	p("Copies: %d (%s).\n\n", r.Copies.Total, md(cmp.Or(classList(r.Copies.ByClass), "none")))
	if len(sc.Consumers) > 0 {
		p("| consumer | declared | observed | third party | sources |\n|---|---|---|---|---|\n")
		for _, c := range sc.Consumers {
			p("| %s | %s | %s | %s | %s |\n", md(c.Name), yes(c.Declared), yes(c.Observed), yes(c.ThirdParty), md(strings.Join(c.Sources, ", ")))
		}
		p("\n")
	}
	for _, u := range sc.Unexplained {
		p("- Unexplained use from %s, %s to %s.\n", md(u.Source), ts(u.FirstSeen), ts(u.LastSeen))
	}
	for _, ru := range sc.Reuse {
		p("- The same secret also authenticates %s.\n", mdCode(ru.System+"/"+ru.Name))
	}
	for _, rel := range sc.Related {
		p("- Related: %s %s: %s.\n", md(rel.Kind), mdCode(rel.Name), md(rel.Detail))
	}
	p("- Flags: %s.\n", md(cmp.Or(flagNames(sc), "none")))
	for _, reason := range sc.Risk.Reasons {
		p("- Risk %s\n", md(reason))
	}
	p("\n")

	p("## Response\n\n")
	rs := r.Response
	if !rs.Planned {
		p("No plan was made.\n\n")
	} else {
		p("Strategy **%s**: %s. Run: **%s**.\n\n", md(rs.Strategy), md(rs.Reason), md(rs.RunState))
		section := func(title string, steps []Step) {
			p("%s:\n\n", title)
			if len(steps) == 0 {
				p("- nothing\n\n")
				return
			}
			for _, s := range steps {
				p("- %s %s at %s", mdCode(s.ID), md(s.Kind+" "+s.Target), mdTime(s.Finished))
				if s.Detail != "" {
					p(": %s", md(s.Detail))
				}
				p("\n")
			}
			p("\n")
		}
		section("Revoked and contained", rs.Revoked)
		section("Delivered", rs.Delivered)
		section("Verified", rs.Verified)
		if len(rs.Approvals) > 0 {
			p("Approvals:\n\n")
			for _, a := range rs.Approvals {
				p("- %s approved by **%s** at %s (%s)\n", mdCode(a.Step), md(a.By), mdTime(a.At), md(a.Reason))
			}
			p("\n")
		}
		p("| step | kind | target | state | finished | error |\n|---|---|---|---|---|---|\n")
		for _, s := range rs.Steps {
			p("| %s | %s | %s | %s | %s | %s |\n", mdCode(s.ID), md(s.Kind), md(s.Target), md(s.State), mdTime(s.Finished), md(s.Error))
		}
		p("\n")
	}
	if len(rs.Issued) > 0 {
		p("Issued:\n\n| login | consumer | issued | expires | enforced | state | lease |\n|---|---|---|---|---|---|---|\n")
		for _, is := range rs.Issued {
			p("| %s | %s | %s | %s | %s | %s | %s |\n", mdCode(is.System+"/"+is.Login), md(is.Consumer), ts(is.Issued), mdTime(is.Expires), yes(is.Enforced), md(is.State), mdCode(is.Lease))
		}
		p("\n")
	}

	p("## Review\n\n")
	if len(r.Reviews) == 0 {
		p("Not reviewed.\n\n")
	}
	for _, rv := range r.Reviews {
		p("### %s (reviewed %s)\n\n", md(rv.Phase), ts(rv.Created))
		rep := rv.Review
		p("%s of %s in the windows.\n\n", plural(rep.Events, "event", "events"), mdCode(rep.Credential))
		if len(rep.Findings) > 0 {
			p("| severity | kind | finding | evidence |\n|---|---|---|---|\n")
			for _, f := range rep.Findings {
				p("| %s | %s | %s | %s |\n", md(string(f.Severity)), md(f.Kind), md(f.Summary), md(evidenceList(f.Evidence)))
			}
			p("\n")
		}
		for _, rel := range rep.Related {
			p("- Derived: %s %s created %s by %s via %s from %s (%s).\n", md(rel.Kind), mdCode(rel.Credential), ts(rel.CreatedAt),
				md(rel.CreatedBy), md(rel.Via), md(rel.From), md(evidenceList(rel.Evidence)))
		}
		for _, n := range rep.Notes {
			p("- Note: %s\n", md(n))
		}
		p("\n")
	}

	p("## Copies remaining\n\n")
	if len(r.Copies.Remaining) == 0 {
		p("None: every copy found was removed.\n\n")
	} else {
		p("| copy | class | preview | tasks |\n|---|---|---|---|\n")
		for _, c := range r.Copies.Remaining {
			p("| %s | %s | %s | %s |\n", mdCode(c.Location), md(c.Class), mdCode(c.Preview), md(taskList(c)))
		}
		p("\n")
	}

	p("## Remaining risk\n\n")
	if len(r.Remaining) == 0 {
		p("None found.\n\n")
	}
	for _, x := range r.Remaining {
		p("- **%s** %s\n", md(x.Severity), md(x.Summary))
	}
	if len(r.Remaining) > 0 {
		p("\n")
	}

	p("## Standards\n\nOnly what this incident showed is mapped; each line says which fact mapped it.\n\n")
	if len(r.Standards) > 0 {
		p("| framework | id | name | because |\n|---|---|---|---|\n")
		for _, c := range r.Standards {
			id := md(c.ID)
			if c.Note != "" {
				id += " (" + md(c.Note) + ")"
			}
			p("| %s | %s | %s | %s |\n", md(c.Framework), id, md(c.Name), md(c.Trigger))
		}
		p("\n")
	}

	p("## Audit log\n\n")
	a := r.Audit
	if a.Intact {
		p("Intact: %s verified (%s of this incident), head %s.\n", plural(a.Entries, "entry", "entries"), plural(a.IncidentEntries, "entry", "entries"), mdCode(short(a.Head)))
	} else {
		p("**Broken**: %s.\n\n", plural(len(a.Breaks), "break", "breaks"))
		for _, br := range a.Breaks {
			p("- entry %d: %s\n", br.Seq, md(br.Problem))
		}
	}
	return b.Flush()
}

func yes(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}

func short(h string) string {
	if len(h) > 16 {
		return h[:16]
	}
	return h
}

func flagNames(sc scope.Scope) string {
	var on []string
	for _, f := range []struct {
		set  bool
		name string
	}{{sc.Flags.Shared, "shared"}, {sc.Flags.ThirdParty, "third-party"}, {sc.Flags.LongLived, "long-lived"}, {sc.Flags.OverPrivileged, "over-privileged"}, {sc.Flags.Agent, "agent"}} {
		if f.set {
			on = append(on, f.name)
		}
	}
	return strings.Join(on, ", ")
}

// evidenceList names a finding's evidence as file:line, the form a
// responder opens.
func evidenceList(evs []review.Evidence) string {
	var out []string
	for _, e := range evs {
		out = append(out, fmt.Sprintf("%s:%d", e.File, e.Line))
	}
	return strings.Join(out, ", ")
}

func taskList(c Copy) string {
	if len(c.Tasks) == 0 {
		return "no task"
	}
	var out []string
	for _, t := range c.Tasks {
		out = append(out, fmt.Sprintf("%s (%s, %s): %s", t.ID, t.Kind, t.State, t.Action))
	}
	return strings.Join(out, "; ")
}
