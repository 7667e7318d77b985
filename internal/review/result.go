package review

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/logs"
)

// Report is the review; its JSON is the contract of `rekey review
// --format json` (docs/formats.md).
type Report struct {
	Credential string    `json:"credential"`
	Windows    Windows   `json:"windows"`
	Findings   []Finding `json:"findings"`
	Related    []Related `json:"related"`
	Timeline   []Moment  `json:"timeline"`
	Summary    Summary   `json:"summary"`
	// HasBaseline is false when there is no leak time or no event in the
	// baseline window: findings then rest on sensitive actions and
	// sources alone.
	HasBaseline bool `json:"has_baseline"`
	// Events counts the credential's events inside the windows.
	Events int `json:"events"`
	// Notes say what the review could not do: events ignored, limits hit.
	Notes []string `json:"notes"`
}

// Windows are the review's time windows; Baseline is nil without a leak
// time and After without a rotation time.
type Windows struct {
	Baseline *Window `json:"baseline"`
	Exposure Window  `json:"exposure"`
	After    *Window `json:"after"`
}

// Window is one time window: [Start, End), nil for unbounded.
type Window struct {
	Start    *time.Time `json:"start"`
	End      *time.Time `json:"end"`
	Events   int        `json:"events"`
	Failures int        `json:"failures"`
	Sources  int        `json:"sources"`
	Actions  int        `json:"actions"`
}

// Finding is one thing a responder should look at.
type Finding struct {
	Kind     string   `json:"kind"`
	Severity Severity `json:"severity"`
	// Summary is a sentence a responder can paste into a ticket.
	Summary string `json:"summary"`
	// Window is where the finding is: baseline, exposure or after.
	Window string `json:"window,omitempty"`
	// Subject is what a new-source finding is about: an address or host,
	// or `application "NAME"`.
	Subject string `json:"subject,omitempty"`
	// Count is how many events are behind it (Evidence holds a few).
	Count    int        `json:"count"`
	Evidence []Evidence `json:"evidence"`
}

// Related is a credential the reviewed one created or obtained; it
// survives rotating the reviewed secret, so it must be revoked too.
type Related struct {
	Credential string    `json:"credential"`
	Kind       string    `json:"kind"`
	CreatedAt  time.Time `json:"created_at"`
	// Principal is whom it acts as (an assumed-role ARN, the user a key
	// is for), when the log says.
	Principal string `json:"principal,omitempty"`
	CreatedBy string `json:"created_by"`
	Via       string `json:"via"`
	From      string `json:"from"`
	// Outcome of the creating call: success, or unknown when the log
	// records the statement before it ran.
	Outcome  string     `json:"outcome"`
	Evidence []Evidence `json:"evidence"`
	Activity Activity   `json:"activity"`
}

// Activity is what a related credential did, from the second pass.
type Activity struct {
	Events        int        `json:"events"`
	Failures      int        `json:"failures"`
	AfterRotation int        `json:"after_rotation"`
	FirstSeen     *time.Time `json:"first_seen"`
	LastSeen      *time.Time `json:"last_seen"`
	Sources       []string   `json:"sources"`
	Actions       []string   `json:"actions"`
	Evidence      []Evidence `json:"evidence"`
}

// Moment is one line of the timeline: an event, its window and the
// findings that cite it.
type Moment struct {
	Evidence
	Window string   `json:"window"`
	Kinds  []string `json:"kinds"`
}

// Summary compares the windows per source and per action.
type Summary struct {
	Sources        []Row `json:"sources"`
	Actions        []Row `json:"actions"`
	OmittedSources int   `json:"omitted_sources"`
	OmittedActions int   `json:"omitted_actions"`
}

// Row counts one source or action per window.
type Row struct {
	Name     string `json:"name"`
	Baseline int    `json:"baseline"`
	Exposure int    `json:"exposure"`
	After    int    `json:"after"`
	Failures int    `json:"failures"`
	// Consumer is the declared consumer a source belongs to (sources only).
	Consumer  string `json:"consumer,omitempty"`
	Sensitive bool   `json:"sensitive,omitempty"`
}

// Result computes the report from what was added. It may be called more
// than once.
func (r *Reviewer) Result() Report {
	b, x, a := r.win[wBaseline], r.win[wExposure], r.win[wAfter]
	rep := Report{Credential: r.cfg.Credential, Events: r.matched, Findings: []Finding{}, Related: []Related{},
		Timeline: []Moment{}, Notes: []string{}}
	rep.HasBaseline = !r.cfg.LeakedAt.IsZero() && b.events > 0
	rep.Windows = r.windows()

	var fs []Finding
	fs = append(fs, r.noBaseline(rep.HasBaseline)...)
	fs = append(fs, r.newSources(x, b, rep.HasBaseline)...)
	if rep.HasBaseline {
		fs = append(fs, r.newAgents(x, b)...)
		fs = append(fs, r.newActions(x, b)...)
		fs = append(fs, r.offHours(x, b)...)
		fs = append(fs, r.volume(x, b)...)
	}
	fs = append(fs, r.sensitive(wExposure, b, rep.HasBaseline)...)
	fs = append(fs, r.sensitive(wAfter, b, rep.HasBaseline)...)
	fs = append(fs, r.bursts(wExposure, b)...)
	fs = append(fs, r.bursts(wAfter, b)...)
	fs = append(fs, r.afterRevocation(a, b, rep.HasBaseline)...)
	fs = append(fs, r.multiSource()...)
	fs = append(fs, r.derived(b, rep.HasBaseline)...)
	rep.Findings = capFindings(fs)
	for _, rc := range r.related {
		rep.Related = append(rep.Related, rc.report())
	}
	rep.Timeline = r.timeline(rep)
	rep.Summary = r.summary()
	rep.Notes = r.notes()
	return rep
}

func (r *Reviewer) windows() Windows {
	mk := func(w int, start, end time.Time) *Window {
		win := r.win[w]
		out := &Window{Events: win.events, Failures: win.failures, Sources: len(win.sources.m), Actions: len(win.actions.m)}
		if !start.IsZero() {
			out.Start = &start
		}
		if !end.IsZero() {
			out.End = &end
		}
		return out
	}
	var ws Windows
	if !r.cfg.LeakedAt.IsZero() {
		ws.Baseline = mk(wBaseline, r.base, r.cfg.LeakedAt)
	}
	ws.Exposure = *mk(wExposure, r.cfg.LeakedAt, r.cfg.RotatedAt)
	if !r.cfg.RotatedAt.IsZero() {
		ws.After = mk(wAfter, r.cfg.RotatedAt, time.Time{})
	}
	return ws
}

func (r *Reviewer) baselineSpan() string { return span(r.cfg.Baseline) }

func span(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		n := int(d / (24 * time.Hour))
		if n == 1 {
			return "day"
		}
		return fmt.Sprintf("%d days", n)
	}
	return d.String()
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func (r *Reviewer) noBaseline(has bool) []Finding {
	if has {
		return nil
	}
	if r.cfg.LeakedAt.IsZero() {
		return []Finding{{Kind: KindNoBaseline, Severity: Info, Evidence: []Evidence{},
			Summary: fmt.Sprintf("No leak time was given, so %s has no baseline: nothing is judged unusual by comparison; findings rest on sensitive actions and on sources no consumer declares.", r.cfg.Credential)}}
	}
	return []Finding{{Kind: KindNoBaseline, Severity: Info, Window: "baseline", Evidence: []Evidence{},
		Summary: fmt.Sprintf("%s has no recorded use in the %s before the leak at %s (in the logs read), so it has no baseline: findings rest on sensitive actions and on sources no consumer declares.", r.cfg.Credential, r.baselineSpan(), ts(r.cfg.LeakedAt))}}
}

func counts(en *entry) string {
	s := plural(en.n, "event", "events")
	if en.fail > 0 {
		s += fmt.Sprintf(" (%d refused)", en.fail)
	}
	return s
}

func (r *Reviewer) between(en *entry) string {
	if en.first.Equal(en.last) {
		return "at " + ts(en.first)
	}
	return "between " + ts(en.first) + " and " + ts(en.last)
}

func (r *Reviewer) newSources(x, b *window, has bool) []Finding {
	var fs []Finding
	for src, en := range x.sources.m {
		if en.undeclared == 0 || serviceSource(src) || has && b.sources.has(src) {
			continue
		}
		f := Finding{Kind: KindNewSource, Window: "exposure", Subject: src, Count: en.n, Evidence: en.ev.items}
		netNote := ""
		if has {
			n := network(src)
			f.Severity = NewSourceSeverity(true, en.ok > 0, n != "" && b.networks.has(n))
			if n != "" {
				if b.networks.has(n) {
					netNote = fmt.Sprintf(" (its network %s was seen before)", n)
				} else {
					netNote = fmt.Sprintf(" (its network %s too)", n)
				}
			}
			f.Summary = fmt.Sprintf("%s was used from %s, a source never seen in the %s before the leak%s and not declared for any consumer: %s %s.",
				r.cfg.Credential, src, r.baselineSpan(), netNote, counts(en), r.between(en))
		} else {
			f.Severity = NewSourceSeverity(false, en.ok > 0, false)
			f.Summary = fmt.Sprintf("%s was used from %s, which no consumer declares (there is no baseline to tell whether it is usual): %s %s.",
				r.cfg.Credential, src, counts(en), r.between(en))
		}
		fs = append(fs, f)
	}
	declaresApps := false
	for _, c := range r.cfg.Consumers {
		declaresApps = declaresApps || len(c.Apps) > 0
	}
	for app, en := range x.apps.m {
		if en.undeclared == 0 || has && b.apps.has(app) || !has && !declaresApps {
			continue
		}
		f := Finding{Kind: KindNewSource, Window: "exposure", Subject: fmt.Sprintf("application %q", app), Count: en.n, Evidence: en.ev.items, Severity: Medium}
		if en.ok == 0 || !has {
			f.Severity = Low
		}
		seen := fmt.Sprintf("never used in the %s before the leak and ", r.baselineSpan())
		if !has {
			seen = ""
		}
		f.Summary = fmt.Sprintf("%s was used by application %q, %snot declared for any consumer: %s %s.", r.cfg.Credential, app, seen, counts(en), r.between(en))
		fs = append(fs, f)
	}
	return fs
}

// attackTools are user-agent fragments of offensive tooling and of
// penetration-testing distributions.
var attackTools = []string{"kali", "parrot", "pentoo", "pacu", "trufflehog", "s3scanner", "cloudfox", "scoutsuite",
	"prowler", "enumerate-iam", "weirdaal", "nmap", "sqlmap", "hydra", "masscan", "zgrab", "nuclei", "gitleaks"}

func suspiciousAgent(ua string) bool {
	low := strings.ToLower(ua)
	for _, t := range attackTools {
		if strings.Contains(low, t) {
			return true
		}
	}
	return false
}

func (r *Reviewer) newAgents(x, b *window) []Finding {
	var fs []Finding
	for ua, en := range x.agents.m {
		if b.agents.has(ua) {
			continue
		}
		f := Finding{Kind: KindNewUserAgent, Window: "exposure", Count: en.n, Evidence: en.ev.items, Severity: Medium}
		note := ""
		switch {
		case suspiciousAgent(ua):
			f.Severity, note = High, " It names offensive tooling."
		case en.undeclared == 0:
			f.Severity, note = Low, " Only declared consumers used it (an upgrade?)."
		case en.ok == 0:
			f.Severity = Low
		}
		f.Summary = fmt.Sprintf("%s was used with user agent %q, never seen in the %s before the leak: %s %s.%s",
			r.cfg.Credential, clip(ua, 120), r.baselineSpan(), counts(en), r.between(en), note)
		fs = append(fs, f)
	}
	return fs
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func (r *Reviewer) newActions(x, b *window) []Finding {
	var fs []Finding
	for act, en := range x.actions.m {
		if en.sensitive || b.actions.has(act) || act == "" {
			continue
		}
		f := Finding{Kind: KindNewAction, Window: "exposure", Count: en.n, Evidence: en.ev.items, Severity: Low}
		if en.ok > 0 && en.undeclared > 0 {
			f.Severity = Medium
		}
		f.Summary = fmt.Sprintf("%s did %s, which it never did in the %s before the leak: %s %s.", r.cfg.Credential, act, r.baselineSpan(), counts(en), r.between(en))
		fs = append(fs, f)
	}
	return fs
}

func (r *Reviewer) sensitive(wi int, b *window, has bool) []Finding {
	w := r.win[wi]
	where := "during the exposure"
	if wi == wAfter {
		where = "after the rotation at " + ts(r.cfg.RotatedAt)
	}
	type use struct {
		n, ok, fail int
		ev          sample
		sources     []string // every source
		unusual     []string // undeclared and not seen in the baseline
	}
	uses := map[string]*use{}
	for key, en := range w.sensitive.m {
		label, src, _ := strings.Cut(key, "\x00")
		u := uses[label]
		if u == nil {
			u = &use{}
			uses[label] = u
		}
		u.n, u.ok, u.fail = u.n+en.n, u.ok+en.ok, u.fail+en.fail
		u.sources = append(u.sources, src)
		if en.undeclared > 0 && !(has && b.sources.has(src)) {
			u.unusual = append(u.unusual, src)
		}
		for _, e := range en.ev.items {
			u.ev.insert(evidencePerFinding, e)
		}
	}
	var fs []Finding
	var recon []string
	reconN := 0
	var reconEv sample
	for label, u := range uses {
		s := r.sens[label]
		slices.Sort(u.sources)
		slices.Sort(u.unusual)
		routine := has && b.sensLabels.has(label)
		if routine && len(u.unusual) == 0 {
			continue // what it did before the leak, from where it did it
		}
		if s.category == catRecon {
			if routine {
				continue
			}
			recon = append(recon, label)
			reconN += u.n
			for _, ev := range u.ev.items {
				reconEv.insert(evidencePerFinding, ev)
			}
			continue
		}
		f := Finding{Kind: KindSensitiveAction, Window: windowNames[wi], Count: u.n, Evidence: u.ev.items, Severity: s.severity}
		var notes []string
		if strings.HasSuffix(label, "download_zip") && u.n >= 10 {
			f.Severity, notes = High, append(notes, "a mass download")
		}
		if routine {
			f.Severity = f.Severity.lower()
			notes = append(notes, fmt.Sprintf("also done %s in the baseline", plural(b.sensLabels.m[label].n, "time", "times")))
		}
		if u.ok == 0 && u.fail > 0 {
			f.Severity = f.Severity.lower()
			notes = append(notes, "every attempt was refused")
		}
		if len(u.unusual) == 0 {
			f.Severity = f.Severity.lower()
			notes = append(notes, "only from declared consumers or sources seen before the leak")
		}
		note := ""
		if len(notes) > 0 {
			note = " (" + strings.Join(notes, "; ") + ")"
		}
		f.Summary = fmt.Sprintf("%s did %s (%s) %s, %s from %s%s.", r.cfg.Credential, label, s.category, where,
			plural(u.n, "time", "times"), strings.Join(firstN(u.sources, 6), ", "), note)
		fs = append(fs, f)
	}
	if len(recon) > 0 {
		slices.Sort(recon)
		sev := Medium
		if reconN < 3 {
			sev = Low
		}
		seen := ", none of them seen in the baseline"
		if !has {
			seen = ""
		}
		fs = append(fs, Finding{Kind: KindSensitiveAction, Window: windowNames[wi], Count: reconN, Evidence: reconEv.items, Severity: sev,
			Summary: fmt.Sprintf("%s mapped the account %s (%s): %s of %s%s: %s.", r.cfg.Credential, where, catRecon,
				plural(reconN, "call", "calls"), plural(len(recon), "action", "actions"), seen, strings.Join(firstN(recon, 12), ", "))})
	}
	return fs
}

func firstN(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(slices.Clip(s[:n]), fmt.Sprintf("and %d more", len(s)-n))
}

func sourcesOf(evs []Evidence) []string {
	var out []string
	for _, e := range evs {
		if !slices.Contains(out, e.Source) {
			out = append(out, e.Source)
		}
	}
	return out
}

// burstMin is the fewest refusals in ten minutes that make a burst, and
// burstFactor how many times the baseline's worst ten minutes.
const (
	burstMin    = 10
	burstFactor = 5
)

func (r *Reviewer) bursts(wi int, b *window) []Finding {
	w := r.win[wi]
	_, bp := b.failBursts.peak()
	floor := burstMin
	if bp != nil {
		floor = max(floor, burstFactor*bp.n)
	}
	n, total := 0, 0
	for _, en := range w.failBursts.m {
		if en.n >= floor {
			n++
			total += en.n
		}
	}
	if n == 0 {
		return nil
	}
	start, peak := w.failBursts.peak()
	sev := Medium
	if total >= 100 {
		sev = High
	}
	where := "during the exposure"
	if wi == wAfter {
		where = "after the rotation"
	}
	base := "the baseline had none"
	if bp != nil {
		base = fmt.Sprintf("the baseline's worst ten minutes had %d", bp.n)
	}
	type src struct {
		name string
		fail int
	}
	var top []src
	for s, en := range w.sources.m {
		if en.fail > 0 {
			top = append(top, src{s, en.fail})
		}
	}
	slices.SortFunc(top, func(a, b src) int { return cmp.Or(b.fail-a.fail, strings.Compare(a.name, b.name)) })
	var names []string
	for i, s := range top {
		if i == 5 {
			names = append(names, fmt.Sprintf("and %d more", len(top)-5))
			break
		}
		names = append(names, fmt.Sprintf("%s (%d)", s.name, s.fail))
	}
	return []Finding{{Kind: KindFailedAuthBurst, Severity: sev, Window: windowNames[wi], Count: total, Evidence: peak.ev.items,
		Summary: fmt.Sprintf("%d refused attempts with %s in %s of ten minutes %s, up to %d in the ten minutes from %s (%s); refused from %s.",
			total, r.cfg.Credential, plural(n, "burst", "bursts"), where, peak.n, ts(start), base, strings.Join(names, ", "))}}
}

// minBaselineEvents is the fewest baseline events from which its hours
// and volume say what is usual.
const minBaselineEvents = 20

func (r *Reviewer) offHours(x, b *window) []Finding {
	if b.events < minBaselineEvents {
		return nil
	}
	var active [24]bool
	n := 0
	for h, c := range b.hourOfDay {
		// An hour holding under 1% of the baseline is not a habit.
		if c > 0 && c*100 >= b.events {
			active[h] = true
			n++
		}
	}
	if n == 24 {
		return nil
	}
	off, hours := 0, []int{}
	var ev sample
	for h, c := range x.hourOfDay {
		if c > 0 && !active[h] {
			off += c
			hours = append(hours, h)
			for _, e := range x.offHours[h].items {
				ev.insert(evidencePerFinding, e)
			}
		}
	}
	if off == 0 {
		return nil
	}
	sev := Medium
	if off < 3 {
		sev = Low
	}
	return []Finding{{Kind: KindOffHours, Severity: sev, Window: "exposure", Count: off, Evidence: ev.items,
		Summary: fmt.Sprintf("%s was used %s at hours it was not used in the %s before the leak (%s UTC); before the leak it was active at %s UTC.",
			r.cfg.Credential, plural(off, "time", "times"), r.baselineSpan(), hourList(hours), hourRanges(active))}}
}

func hourList(hs []int) string {
	var s []string
	for _, h := range hs {
		s = append(s, fmt.Sprintf("%02d:00", h))
	}
	return strings.Join(firstN(s, 8), ", ")
}

func hourRanges(active [24]bool) string {
	var out []string
	for h := 0; h < 24; {
		if !active[h] {
			h++
			continue
		}
		e := h
		for e+1 < 24 && active[e+1] {
			e++
		}
		out = append(out, fmt.Sprintf("%02d:00–%02d:59", h, e))
		h = e + 1
	}
	return strings.Join(out, ", ")
}

// volumeMin is the fewest events in an hour that can make a volume jump.
const (
	volumeMin    = 20
	volumeFactor = 5
)

func (r *Reviewer) volume(x, b *window) []Finding {
	if b.events < minBaselineEvents {
		return nil
	}
	_, bp := b.volume.peak()
	start, xp := x.volume.peak()
	if xp == nil || bp == nil || xp.n < volumeMin || xp.n < volumeFactor*bp.n {
		return nil
	}
	baseHours := r.cfg.LeakedAt.Sub(r.base).Hours()
	if f := b.first.items; len(f) > 0 {
		baseHours = max(1, r.cfg.LeakedAt.Sub(f[0].Time).Hours())
	}
	sev := Medium
	if xp.n >= 4*volumeFactor*bp.n {
		sev = High
	}
	return []Finding{{Kind: KindVolume, Severity: sev, Window: "exposure", Count: xp.n, Evidence: xp.ev.items,
		Summary: fmt.Sprintf("%s made %d calls in the hour from %s, against at most %d in any hour of the baseline (%.1f an hour on average before the leak).",
			r.cfg.Credential, xp.n, ts(start), bp.n, float64(b.events)/baseHours)}}
}

func (r *Reviewer) afterRevocation(a, b *window, has bool) []Finding {
	if r.cfg.RotatedAt.IsZero() {
		return nil
	}
	split := func(key string) string { s, _, _ := strings.Cut(key, "\x00"); return s }
	var okN int
	var okEv sample
	var okSrc []string
	for key, en := range a.afterOK.m {
		src := split(key)
		if !r.ref.bound && (en.consumer != "" || has && b.sources.has(src)) {
			continue // a consumer using the new secret under the same name
		}
		okN += en.n
		okSrc = appendNew(okSrc, src)
		for _, e := range en.ev.items {
			okEv.insert(evidencePerFinding, e)
		}
	}
	var fs []Finding
	rot := ts(r.cfg.RotatedAt)
	if okN > 0 {
		why := "the old secret still works, or"
		if !r.ref.bound {
			why = "someone outside the declared consumers has the new secret, or"
		}
		fs = append(fs, Finding{Kind: KindUseAfterRevocation, Severity: Critical, Window: "after", Count: okN, Evidence: okEv.items,
			Summary: fmt.Sprintf("%s was used successfully %s after the rotation at %s, from %s: %s a session or derived credential outlived it. Revoke again and terminate sessions now.",
				r.cfg.Credential, plural(okN, "time", "times"), rot, strings.Join(firstN(okSrc, 6), ", "), why)})
	}
	type group struct {
		n     int
		ev    sample
		names []string
	}
	var declared, known, unknown, shared group
	for key, en := range a.afterFail.m {
		src := split(key)
		g, name := &unknown, src
		switch {
		case en.consumer != "":
			g, name = &declared, en.consumer
		case r.declaredSource(src):
			g = &shared
		case has && b.sources.has(src):
			g = &known
		}
		g.n += en.n
		g.names = appendNew(g.names, name)
		for _, e := range en.ev.items {
			g.ev.insert(evidencePerFinding, e)
		}
	}
	if unknown.n > 0 {
		fs = append(fs, Finding{Kind: KindUseAfterRevocation, Severity: High, Window: "after", Count: unknown.n, Evidence: unknown.ev.items,
			Summary: fmt.Sprintf("%s refused after the rotation at %s, from %s, which no consumer declares and which never used it before the leak: someone still tries the old secret, likely whoever took it.",
				plural(unknown.n, "attempt with "+r.cfg.Credential+" was", "attempts with "+r.cfg.Credential+" were"), rot, strings.Join(firstN(unknown.names, 6), ", "))})
	}
	if shared.n > 0 {
		fs = append(fs, Finding{Kind: KindUseAfterRevocation, Severity: High, Window: "after", Count: shared.n, Evidence: shared.ev.items,
			Summary: fmt.Sprintf("Unattributed: likely the attacker. %s refused after the rotation at %s, from %s, an address consumers declare; %s.",
				plural(shared.n, "attempt with "+r.cfg.Credential+" was", "attempts with "+r.cfg.Credential+" were"), rot,
				strings.Join(firstN(shared.names, 6), ", "), r.whyUnattributed(shared.names))})
	}
	if declared.n > 0 {
		fs = append(fs, Finding{Kind: KindUseAfterRevocation, Severity: Medium, Window: "after", Count: declared.n, Evidence: declared.ev.items,
			Summary: fmt.Sprintf("Consumer %s still uses the old secret of %s: %s refused after the rotation at %s. The rotation missed it; deliver the new secret there.",
				strings.Join(firstN(declared.names, 6), ", "), r.cfg.Credential, plural(declared.n, "attempt", "attempts"), rot)})
	}
	if known.n > 0 {
		fs = append(fs, Finding{Kind: KindUseAfterRevocation, Severity: Medium, Window: "after", Count: known.n, Evidence: known.ev.items,
			Summary: fmt.Sprintf("%s, which used %s before the leak but is declared for no consumer, still uses the old secret: %s refused after the rotation at %s. It is likely a consumer the inventory misses.",
				strings.Join(firstN(known.names, 6), ", "), r.cfg.Credential, plural(known.n, "attempt", "attempts"), rot)})
	}
	return fs
}

// declaredSource reports whether some consumer declares the address.
func (r *Reviewer) declaredSource(src string) bool {
	return slices.ContainsFunc(r.cfg.Consumers, func(c *inventory.Consumer) bool { return c.Matches(src, "") })
}

// whyUnattributed says why refusals from consumers' addresses are not
// pinned on any of them: which were proven on their new login (and when,
// from where), and which share the address.
func (r *Reviewer) whyUnattributed(srcs []string) string {
	var proven, several []string
	for _, c := range r.cfg.Consumers {
		if !slices.ContainsFunc(srcs, func(s string) bool { return c.Matches(s, "") }) {
			continue
		}
		if v, ok := r.cleared[c.Name]; ok {
			p := fmt.Sprintf("%s on login %s at %s", c.Name, v.Login, ts(v.At))
			if len(v.Sources) > 0 {
				p += " from " + strings.Join(firstN(v.Sources, 3), ", ")
			}
			if len(v.Applications) > 0 {
				p += fmt.Sprintf(" (application %s)", strings.Join(firstN(v.Applications, 3), ", "))
			}
			proven = append(proven, p)
			continue
		}
		several = append(several, c.Name)
	}
	var parts []string
	if len(proven) > 0 {
		parts = append(parts, "rekey's verify step proved "+strings.Join(proven, "; ")+" before these refusals, so the old secret is not theirs to send")
	}
	if len(several) > 1 {
		parts = append(parts, "the address is shared by "+strings.Join(several, ", ")+" and no application name singles one out")
	}
	if len(parts) == 0 {
		return "no application name singles out a consumer"
	}
	return strings.Join(parts, "; ") + ". Terminate what still connects with the old login and look for who holds it"
}

func appendNew(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

func (r *Reviewer) multiSource() []Finding {
	var fs []Finding
	for wl, u := range r.workloads {
		if n := len(u.sources.m); n > 1 {
			var srcs []string
			var ev sample
			for s, en := range u.sources.m {
				srcs = append(srcs, s)
				for _, e := range en.ev.items {
					ev.insert(evidencePerFinding, e)
				}
			}
			slices.Sort(srcs)
			more := ""
			if u.sources.overflow > 0 {
				more = " and more"
			}
			fs = append(fs, Finding{Kind: KindMultiSource, Severity: High, Count: n, Evidence: ev.items,
				Summary: fmt.Sprintf("The credential of %s was used from %d different sources (%s%s): a workload's credential is used from where the workload runs, so a copy of it is in use elsewhere.",
					wl, n, strings.Join(firstN(srcs, 6), ", "), more)})
		}
		if u.nMis > 0 {
			fs = append(fs, Finding{Kind: KindMultiSource, Severity: High, Count: u.nMis, Evidence: u.mismatch.items,
				Summary: fmt.Sprintf("The credential of %s, issued to %s, was used %s from another address (%s).",
					wl, u.bound, plural(u.nMis, "time", "times"), strings.Join(sourcesOf(u.mismatch.items), ", "))})
		}
	}
	return fs
}

func (r *Reviewer) derived(b *window, has bool) []Finding {
	var fs []Finding
	for _, rc := range r.related {
		sev := High
		if persistent(rc.kind) {
			sev = Critical
		}
		if !persistent(rc.kind) && (rc.consumer != "" || has && b.sources.has(rc.from)) {
			sev = Medium // sessions a consumer routinely opens
		}
		what := rc.kind + " " + rc.cred
		if rc.principal != "" && rc.principal != rc.cred {
			what += " (" + rc.principal + ")"
		}
		outcome := ""
		if rc.outcome == string(logs.Unknown) {
			outcome = " The log records the statement before it ran, so whether it succeeded is not known; check."
		}
		use := ""
		if rc.events > 0 {
			use = fmt.Sprintf(" It was then used %s from %s, last at %s.", plural(rc.events, "time", "times"),
				strings.Join(firstN(sortedKeys(rc.sources), 4), ", "), ts(rc.last))
		}
		by := rc.createdBy
		fs = append(fs, Finding{Kind: KindDerivedCredential, Severity: sev, Window: windowNames[r.windowIndex(rc.createdAt)], Count: max(1, rc.events), Evidence: rc.creation.items,
			Summary: fmt.Sprintf("%s used %s at %s from %s to obtain %s. It survives rotating %s: revoke it too.%s%s",
				by, rc.via, ts(rc.createdAt), rc.from, what, r.cfg.Credential, outcome, use)})
	}
	return fs
}

func (r *Reviewer) windowIndex(t time.Time) int {
	w, _ := r.windowOf(t)
	return w
}

func sortedKeys(c *counter) []string {
	ks := make([]string, 0, len(c.m))
	for k := range c.m {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b string) int { return cmp.Or(c.m[b].n-c.m[a].n, strings.Compare(a, b)) })
	return ks
}

func (rc *relatedCred) report() Related {
	out := Related{Credential: rc.cred, Kind: rc.kind, CreatedAt: rc.createdAt, Principal: rc.principal, CreatedBy: rc.createdBy,
		Via: rc.via, From: rc.from, Outcome: rc.outcome, Evidence: orEmpty(rc.creation.items),
		Activity: Activity{Events: rc.events, Failures: rc.failures, AfterRotation: rc.afterRotation,
			Sources: sortedKeys(rc.sources), Actions: sortedKeys(rc.actions), Evidence: orEmpty(rc.activity.items)}}
	if rc.events > 0 {
		f, l := rc.first, rc.last
		out.Activity.FirstSeen, out.Activity.LastSeen = &f, &l
	}
	return out
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// capFindings orders findings (most severe first, then by their first
// evidence) and keeps maxFindingsPerKind of each kind, summing up the
// rest in one more.
func capFindings(fs []Finding) []Finding {
	for i := range fs {
		fs[i].Evidence = orEmpty(fs[i].Evidence)
	}
	slices.SortStableFunc(fs, func(a, b Finding) int {
		if c := severityRank[b.Severity] - severityRank[a.Severity]; c != 0 {
			return c
		}
		if len(a.Evidence) > 0 && len(b.Evidence) > 0 {
			if c := a.Evidence[0].Time.Compare(b.Evidence[0].Time); c != 0 {
				return c
			}
		}
		if c := strings.Compare(a.Kind, b.Kind); c != 0 {
			return c
		}
		return strings.Compare(a.Summary, b.Summary)
	})
	perKind := map[string]int{}
	dropped := map[string]int{}
	droppedSev := map[string]Severity{}
	var kinds []string
	out := []Finding{}
	for _, f := range fs {
		perKind[f.Kind]++
		if perKind[f.Kind] > maxFindingsPerKind {
			if dropped[f.Kind] == 0 {
				kinds = append(kinds, f.Kind)
				droppedSev[f.Kind] = f.Severity
			}
			dropped[f.Kind]++
			continue
		}
		out = append(out, f)
	}
	for _, k := range kinds {
		out = append(out, Finding{Kind: k, Severity: droppedSev[k], Count: dropped[k], Evidence: []Evidence{},
			Summary: fmt.Sprintf("And %d more %s findings, not listed (at most %d of a kind are); narrow the logs or the windows to see them.", dropped[k], k, maxFindingsPerKind)})
	}
	return out
}

func (r *Reviewer) timeline(rep Report) []Moment {
	type keyT struct {
		file       string
		line       int
		off        int64
		credential string
	}
	type cand struct {
		m    Moment
		rank int
	}
	idx := map[keyT]int{}
	var cs []cand
	add := func(e Evidence, kind string, rank int) {
		k := keyT{e.File, e.Line, e.Offset, e.Credential}
		if i, ok := idx[k]; ok {
			if kind != "" && !slices.Contains(cs[i].m.Kinds, kind) {
				cs[i].m.Kinds = append(cs[i].m.Kinds, kind)
			}
			cs[i].rank = max(cs[i].rank, rank)
			return
		}
		w, _ := r.windowOf(e.Time)
		m := Moment{Evidence: e, Window: windowNames[w], Kinds: []string{}}
		if kind != "" {
			m.Kinds = append(m.Kinds, kind)
		}
		idx[k] = len(cs)
		cs = append(cs, cand{m, rank})
	}
	for _, f := range rep.Findings {
		for _, e := range f.Evidence {
			add(e, f.Kind, severityRank[f.Severity]+1)
		}
	}
	for _, rc := range rep.Related {
		for _, e := range rc.Activity.Evidence {
			add(e, "", 2)
		}
	}
	for w := range r.win {
		for _, e := range r.win[w].first.items {
			add(e, "", 1)
		}
		if e := r.win[w].lastEv; e != nil {
			add(*e, "", 1)
		}
	}
	slices.SortStableFunc(cs, func(a, b cand) int { return b.rank - a.rank })
	if len(cs) > maxTimeline {
		cs = cs[:maxTimeline]
	}
	out := make([]Moment, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.m)
	}
	slices.SortStableFunc(out, func(a, b Moment) int {
		return cmp.Or(a.Time.Compare(b.Time), strings.Compare(a.File, b.File), a.Line-b.Line)
	})
	return out
}

func (r *Reviewer) summary() Summary {
	rows := func(pick func(*window) *counter) ([]Row, int) {
		m := map[string]*Row{}
		for wi, w := range r.win {
			for k, en := range pick(w).m {
				row := m[k]
				if row == nil {
					row = &Row{Name: k}
					m[k] = row
				}
				switch wi {
				case wBaseline:
					row.Baseline += en.n
				case wExposure:
					row.Exposure += en.n
				case wAfter:
					row.After += en.n
				}
				row.Failures += en.fail
				row.Consumer = cmp.Or(row.Consumer, en.consumer)
				row.Sensitive = row.Sensitive || en.sensitive
			}
		}
		out := make([]Row, 0, len(m))
		for _, row := range m {
			out = append(out, *row)
		}
		slices.SortFunc(out, func(a, b Row) int {
			return cmp.Or((b.Baseline+b.Exposure+b.After)-(a.Baseline+a.Exposure+a.After), strings.Compare(a.Name, b.Name))
		})
		omitted := 0
		if len(out) > maxSummaryRows {
			omitted = len(out) - maxSummaryRows
			out = out[:maxSummaryRows]
		}
		return out, omitted
	}
	var s Summary
	s.Sources, s.OmittedSources = rows(func(w *window) *counter { return w.sources })
	s.Actions, s.OmittedActions = rows(func(w *window) *counter { return w.actions })
	for i := range s.Actions {
		s.Actions[i].Consumer = "" // an action is not a consumer's
	}
	return s
}

func (r *Reviewer) notes() []string {
	out := []string{}
	if r.early > 0 {
		out = append(out, fmt.Sprintf("%s before the baseline (%s) not reviewed.", plural(r.early, "event", "events"), ts(r.base)))
	}
	if r.undated > 0 {
		out = append(out, fmt.Sprintf("%s without a time not reviewed.", plural(r.undated, "event", "events")))
	}
	for wi, w := range r.win {
		for _, c := range []struct {
			name string
			c    *counter
		}{{"sources", w.sources}, {"networks", w.networks}, {"user agents", w.agents}, {"applications", w.apps}, {"actions", w.actions}} {
			if c.c.overflow > 0 {
				out = append(out, fmt.Sprintf("More than %d distinct %s in the %s window: %s with further ones were counted but not itemised, so they cannot be reported as new.",
					c.c.max, c.name, windowNames[wi], plural(c.c.overflow, "event", "events")))
			}
		}
		if w.volume.overflow > 0 {
			out = append(out, fmt.Sprintf("The %s window spans more than %d hours: volume is judged on its first %d.", windowNames[wi], maxHourBuckets, maxHourBuckets))
		}
	}
	if r.relatedDropped > 0 {
		out = append(out, fmt.Sprintf("More than %d derived credentials: %d more not followed.", MaxRelated, r.relatedDropped))
	}
	if r.workloadOverflow > 0 {
		out = append(out, fmt.Sprintf("More than %d workloads: %s of further ones not checked for use from several sources.", r.cfg.MaxKeys, plural(r.workloadOverflow, "event", "events")))
	}
	return out
}
