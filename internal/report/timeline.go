package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/review"
	"github.com/rekeyhq/rekey/internal/store"
)

// timeline merges the incident's audit entries with the facts that frame
// them (leak, first unexplained use, revocation, derived credentials),
// in time order.
func timeline(entries []store.AuditEntry, r *Incident, run *storedRun) []Moment {
	out := []Moment{}
	fact := func(t time.Time, action, summary string) {
		out = append(out, Moment{Time: t.UTC(), Source: "fact", Action: action, Summary: summary})
	}
	f := r.Facts
	if f.LeakedAt != nil {
		fact(*f.LeakedAt, "leaked", "The secret was first exposed ("+r.Scope.Secret.Preview+").")
	}
	if f.FirstUnexplainedUse != nil {
		fact(*f.FirstUnexplainedUse, "first-unexplained-use", "First use from a source no consumer declares: "+f.UnexplainedSource+".")
	}
	if f.RevokedAt != nil {
		fact(*f.RevokedAt, "revoked", "The leaked secret stopped working.")
	}
	seen := map[string]bool{}
	for _, rv := range r.Reviews {
		for _, rel := range rv.Review.Related {
			key := rel.Kind + "\x00" + rel.Credential
			if seen[key] || rel.CreatedAt.IsZero() {
				continue
			}
			seen[key] = true
			fact(rel.CreatedAt, "derived-credential", fmt.Sprintf("%s obtained %s %s via %s from %s.", rel.CreatedBy, rel.Kind, rel.Credential, rel.Via, rel.From))
		}
	}
	steps := map[string]Step{}
	for _, s := range r.Response.Steps {
		steps[s.ID] = s
	}
	grouped := map[string]int{} // step id → its moment in out
	for _, e := range entries {
		if id, ok := stepEntry(e); ok {
			if i, seen := grouped[id]; seen {
				foldStep(&out[i], e, steps)
				continue
			}
			grouped[id] = len(out)
			m := Moment{Time: e.Time.UTC(), Source: "step", Seq: e.Seq, Actor: e.Actor, Action: "step", Step: id}
			foldStep(&m, e, steps)
			out = append(out, m)
			continue
		}
		m := Moment{Time: e.Time.UTC(), Source: "audit", Seq: e.Seq, Actor: e.Actor, Action: e.Action, Summary: describeEntry(e, steps)}
		out = append(out, m)
		if e.Action == "incident.close" {
			var d struct{ Reason string }
			_ = json.Unmarshal(e.Detail, &d)
			r.ClosedBy, r.CloseReason = e.Actor, d.Reason
		}
		if e.Action == "incident.open" {
			sc := r.Scope
			who := sc.Identity.Name
			if sc.Identity.System != "" {
				who = sc.Identity.System + "/" + who
			}
			fact(e.Time, "scope", fmt.Sprintf("Scope: identity %s, %s, %s, risk %d/100.", who,
				plural(len(sc.Occurrences), "copy", "copies"), plural(len(sc.Consumers), "consumer", "consumers"), sc.Risk.Score))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// stepEntry returns the step an engine entry is about: step.running,
// step.done, step.failed, step.waiting-*; not step.approved, a person's
// act that keeps its own row.
func stepEntry(e store.AuditEntry) (string, bool) {
	if !strings.HasPrefix(e.Action, "step.") || e.Action == "step.approved" {
		return "", false
	}
	var d struct {
		Step string `json:"step"`
	}
	if json.Unmarshal(e.Detail, &d) != nil || d.Step == "" {
		return "", false
	}
	return d.Step, true
}

// foldStep adds one of a step's audit entries to its moment: the first
// sets the start, each later one the outcome; an end (done, failed) sets
// the finish and the duration, and the summary says it in one sentence.
func foldStep(m *Moment, e store.AuditEntry, steps map[string]Step) {
	m.Entries++
	at := e.Time.UTC()
	if m.Started == nil {
		m.Started = &at
	}
	m.Actor = cmp.Or(m.Actor, e.Actor)
	var d map[string]any
	_ = json.Unmarshal(e.Detail, &d)
	outcome := strings.TrimPrefix(e.Action, "step.")
	m.Outcome = outcome
	detail := ""
	switch outcome {
	case "done":
		if r, ok := d["result"].(map[string]any); ok {
			detail, _ = r["detail"].(string)
		}
	case "failed":
		detail, _ = d["error"].(string)
	case "running":
		m.Finished, m.Duration = nil, ""
	}
	if outcome == "done" || outcome == "failed" {
		m.Finished = &at
		m.Duration = at.Sub(*m.Started).Round(time.Millisecond).String()
	}
	what := m.Step
	if st, ok := steps[m.Step]; ok && st.Target != "" {
		what = fmt.Sprintf("%s (%s %s)", m.Step, st.Kind, st.Target)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "Step %s: %s", what, m.Outcome)
	if m.Finished != nil {
		fmt.Fprintf(&sb, " at %s after %s", ts(*m.Finished), m.Duration)
	} else {
		fmt.Fprintf(&sb, " since %s", ts(at))
	}
	if m.Entries > 2 {
		fmt.Fprintf(&sb, " (%d log entries)", m.Entries)
	}
	if detail != "" {
		sb.WriteString(": " + detail)
	}
	m.Summary = sb.String()
	if !strings.HasSuffix(m.Summary, ".") {
		m.Summary += "."
	}
}

// describeEntry turns one audit entry into a sentence. Details are the
// engine's and commands' own (never a secret); an action this version
// does not know is shown with its detail's plain values.
func describeEntry(e store.AuditEntry, steps map[string]Step) string {
	var d map[string]any
	_ = json.Unmarshal(e.Detail, &d)
	s := func(k string) string {
		switch v := d[k].(type) {
		case string:
			return v
		case float64:
			return fmt.Sprintf("%g", v)
		case bool:
			return fmt.Sprint(v)
		}
		return ""
	}
	step := func() string {
		id := s("step")
		if st, ok := steps[id]; ok && st.Target != "" {
			return fmt.Sprintf("%s (%s %s)", id, st.Kind, st.Target)
		}
		return id
	}
	switch e.Action {
	case "incident.open":
		return "Opened the incident with inventory " + cmp.Or(s("inventory"), "?") + "."
	case "incident.close":
		return "Closed the incident: " + s("reason")
	case "incident.plan":
		return fmt.Sprintf("Planned %s %s rotation (%s requested), %s steps.", article(s("strategy")), s("strategy"), cmp.Or(s("requested"), "auto"), cmp.Or(s("steps"), "?"))
	case "run.start":
		return "Started the run (" + s("strategy") + ")."
	case "step.running":
		n := s("attempt")
		if n != "" && n != "1" {
			return fmt.Sprintf("Step %s started (attempt %s).", step(), n)
		}
		return "Step " + step() + " started."
	case "step.done":
		out := "Step " + step() + " done"
		if r, ok := d["result"].(map[string]any); ok {
			if det, ok := r["detail"].(string); ok && det != "" {
				out += ": " + det
			}
		}
		return out + "."
	case "step.failed":
		return "Step " + step() + " failed: " + s("error")
	case "step.waiting-approval":
		return "Step " + step() + " waits for an approval (" + s("reason") + ")."
	case "step.waiting-window":
		return "Step " + step() + " waits for its change window (opens " + s("opens") + ")."
	case "step.approved":
		return e.Actor + " approved step " + step() + " (" + s("reason") + ")."
	case "credential.revealed":
		return fmt.Sprintf("%s revealed the new secret of %s/%s (to hand it over).", e.Actor, s("system"), s("login"))
	case "incident.leaked-at":
		if s("from") == "" {
			return fmt.Sprintf("Set the leak time to %s (%s).", s("to"), cmp.Or(s("by"), "?"))
		}
		return fmt.Sprintf("Changed the leak time from %s to %s (%s).", s("from"), s("to"), cmp.Or(s("by"), "?"))
	case "incident.review":
		return fmt.Sprintf("Reviewed the credential's use (%s phase): %s findings.", s("phase"), cmp.Or(s("findings"), "0"))
	case "lease.renew":
		return "Renewed lease " + s("lease") + " until " + s("until") + "."
	case "remediate.branch":
		return fmt.Sprintf("Replaced %s copies in %s on branch %s (not pushed).", cmp.Or(s("files"), "?"), s("repo"), s("branch"))
	case "remediate.history-plan":
		return fmt.Sprintf("Wrote the history rewrite plan for %s (%s copies in history).", s("repo"), cmp.Or(s("copies"), "?"))
	case "remediate.history-rewrite":
		return fmt.Sprintf("Rewrote the history of %s on the local mirror %s; %s copies left.", s("repo"), s("mirror"), cmp.Or(s("copies_left"), "0"))
	case "remediate.approved":
		return e.Actor + " approved remediation task " + s("task") + "."
	case "remediate.tasks":
		return fmt.Sprintf("Traced the copies again: %s tasks open, %s remaining, %s done.", cmp.Or(s("open"), "0"), cmp.Or(s("remaining"), "0"), cmp.Or(s("done"), "0"))
	case "rollback.start":
		return "Started a rollback."
	case "rollback.restored":
		return "Rollback restored consumer " + s("consumer") + "'s previous secret."
	case "rollback.removed":
		return "Rollback removed login " + s("login") + "."
	}
	if state, ok := strings.CutPrefix(e.Action, "run."); ok {
		return "The run ended " + state + "."
	}
	return e.Action + plainDetail(d)
}

// plainDetail renders a detail's scalar values, sorted by key, for an
// action the report has no sentence for.
func plainDetail(d map[string]any) string {
	var keys []string
	for k, v := range d {
		switch v.(type) {
		case string, float64, bool:
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return "."
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%v", k, d[k]))
	}
	out := ": " + strings.Join(parts, ", ")
	if len(out) > 300 {
		out = out[:300] + "…"
	}
	return out + "."
}

// Usage is the credential's use over time, for the before/after chart:
// counted events per bucket, split by review window, and each window's
// totals from the reviews.
type Usage struct {
	// Bucket is the width of a bar: hour, day or week.
	Bucket string `json:"bucket"`
	// Source says what Bars count: the uses stored at open and the
	// reviews' evidence events (a sample of what the reviews read).
	Source  string      `json:"source"`
	Bars    []Bar       `json:"bars"`
	Windows []WindowUse `json:"windows"`
}

// Bar is one bucket's events by window.
type Bar struct {
	Start    time.Time `json:"start"`
	Baseline int       `json:"baseline"`
	Exposure int       `json:"exposure"`
	After    int       `json:"after"`
	Failures int       `json:"failures"`
}

// Total is the bar's height.
func (b Bar) Total() int { return b.Baseline + b.Exposure + b.After }

// WindowUse is one review window's totals and rate.
type WindowUse struct {
	Name     string     `json:"name"`
	Start    *time.Time `json:"start"`
	End      *time.Time `json:"end"`
	Events   int        `json:"events"`
	Failures int        `json:"failures"`
	// PerDay is Events over the window's length in days; 0 when the
	// window has no start or is shorter than MinRateWindow (a count over
	// seconds says nothing about a day).
	PerDay float64 `json:"per_day"`
	// Span is the window's length (Go duration text), "" without a start.
	Span string `json:"span,omitempty"`
	// Rate says the window's use in words: "3.5 a day", or for a short
	// window the count over it ("12 events in 48s").
	Rate string `json:"rate"`
}

// MinRateWindow is the shortest window whose events are given as a
// daily rate: below it the report gives the count over the window.
const MinRateWindow = time.Hour

// maxBars bounds the chart: a week of hours.
const maxBars = 168

// usage buckets the uses rekey has times for, and takes the windows'
// totals from the latest review.
func usage(events []store.Event, revs []ReviewPhase, f Facts, now time.Time) Usage {
	u := Usage{Bars: []Bar{}, Windows: []WindowUse{}}
	type ev struct {
		t      time.Time
		failed bool
	}
	var evs []ev
	seen := map[string]bool{}
	add := func(file string, line int, t time.Time, outcome string) {
		if t.IsZero() {
			return
		}
		key := fmt.Sprintf("%s\x00%d\x00%d", file, line, t.UnixNano())
		if seen[key] {
			return
		}
		seen[key] = true
		evs = append(evs, ev{t.UTC(), outcome == "failure"})
	}
	for _, e := range events {
		add(e.File, e.Line, e.Time, e.Outcome)
	}
	for _, rv := range revs {
		for _, m := range rv.Review.Timeline {
			add(m.File, m.Line, m.Time, m.Outcome)
		}
	}
	if len(revs) > 0 {
		u.Source = "uses stored when the incident was opened, and the events the reviews cite"
		latest := revs[len(revs)-1]
		w := latest.Review.Windows
		mk := func(name string, win *review.Window) {
			if win == nil {
				return
			}
			wu := WindowUse{Name: name, Start: win.Start, End: win.End, Events: win.Events, Failures: win.Failures}
			end := latest.Created
			if win.End != nil {
				end = *win.End
			}
			wu.Rate = fmt.Sprintf("%s (no start: no rate)", plural(win.Events, "event", "events"))
			if win.Start != nil && end.After(*win.Start) {
				d := end.Sub(*win.Start)
				wu.Span = d.Round(time.Second).String()
				if d >= MinRateWindow {
					wu.PerDay = float64(win.Events) / (d.Hours() / 24)
					wu.Rate = fmt.Sprintf("%.1f a day", wu.PerDay)
				} else {
					wu.Rate = fmt.Sprintf("%s in %s", plural(win.Events, "event", "events"), wu.Span)
				}
			}
			u.Windows = append(u.Windows, wu)
		}
		mk("baseline", w.Baseline)
		mk("exposure", &w.Exposure)
		mk("after", w.After)
	} else {
		u.Source = "uses stored when the incident was opened"
	}
	if len(evs) == 0 {
		u.Bucket = "day"
		return u
	}
	first, last := evs[0].t, evs[0].t
	for _, e := range evs {
		if e.t.Before(first) {
			first = e.t
		}
		if e.t.After(last) {
			last = e.t
		}
	}
	width, name := time.Hour, "hour"
	for _, c := range []struct {
		d    time.Duration
		name string
	}{{time.Hour, "hour"}, {24 * time.Hour, "day"}, {7 * 24 * time.Hour, "week"}} {
		width, name = c.d, c.name
		if int(last.Sub(first.Truncate(c.d))/c.d)+1 <= maxBars {
			break
		}
	}
	u.Bucket = name
	start := first.Truncate(width)
	n := int(last.Sub(start)/width) + 1
	if n > maxBars { // weeks beyond maxBars: keep the latest
		start = start.Add(time.Duration(n-maxBars) * width)
		n = maxBars
	}
	bars := make([]Bar, n)
	for i := range bars {
		bars[i].Start = start.Add(time.Duration(i) * width)
	}
	for _, e := range evs {
		i := int(e.t.Sub(start) / width)
		if i < 0 || i >= n {
			continue
		}
		b := &bars[i]
		switch {
		case f.RevokedAt != nil && !e.t.Before(*f.RevokedAt):
			b.After++
		case f.LeakedAt != nil && e.t.Before(*f.LeakedAt):
			b.Baseline++
		default:
			b.Exposure++
		}
		if e.failed {
			b.Failures++
		}
	}
	u.Bars = bars
	return u
}

// article is "an" before a vowel ("an emergency rotation"), else "a".
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiouAEIOU", rune(word[0])) {
		return "an"
	}
	return "a"
}
