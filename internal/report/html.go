package report

import (
	"cmp"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// WriteHTML writes the report as one self-contained HTML file: inline CSS
// and inline SVG, no script, no font, image or link that reaches the
// network, so that it opens the same offline, attached to a ticket or
// archived. Every value goes through html/template's contextual escaping.
func (r *Incident) WriteHTML(w io.Writer) error {
	return htmlTemplate.Execute(w, htmlData{R: r, Chart: timeChart(r), Rates: rateChart(r.Usage)})
}

type htmlData struct {
	R     *Incident
	Chart *chart
	Rates *rates
}

// chart is the geometry of the usage-over-time bars, computed here so that
// the template only places numbers.
type chart struct {
	W, H      int
	Bars      []chartBar
	Marks     []chartMark
	Max       int
	Bucket    string
	From, To  string
	Source    string
	BaseY     float64
	AxisLeft  float64
	AxisRight float64
}

type chartBar struct {
	X, W  float64
	Rects []chartRect
	Title string
}

type chartRect struct {
	Y, H  float64
	Class string
}

type chartMark struct {
	X     float64
	Label string
	Class string
	// LabelX, LabelY place the label (text-anchor start), laid out by
	// layoutLabels so that no two overlap and none leaves the chart.
	LabelX, LabelY float64
}

// Label geometry: the template's labels are 11px; labelCharW is a
// generous average advance for that size, so that estimated boxes are
// never narrower than the drawn text.
const (
	labelCharW = 7.0
	labelRowH  = 14.0
	labelGap   = 6.0
)

func textWidth(s string) float64 { return float64(utf8.RuneCountInString(s)) * labelCharW }

// layoutLabels places labels that want to start at xs on rows (row 0
// first) so that no two boxes on a row overlap (labelGap apart) and every
// box stays inside [minX, maxX]: a label is shifted left when it would run
// past maxX, clipped with "…" when it is wider than the whole span, and
// moved to the first row where it clears the labels already there. It
// returns each label's text, left edge and row, in the input's order.
func layoutLabels(texts []string, xs []float64, minX, maxX float64) ([]string, []float64, []int) {
	out := slices.Clone(texts)
	lefts := make([]float64, len(texts))
	rows := make([]int, len(texts))
	order := make([]int, len(texts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(xs[a], xs[b]) })
	var rowEnd []float64
	for _, i := range order {
		for len(out[i]) > 1 && textWidth(out[i]) > maxX-minX {
			r := []rune(strings.TrimSuffix(out[i], "…"))
			out[i] = string(r[:len(r)-1]) + "…"
		}
		w := textWidth(out[i])
		left := min(max(xs[i], minX), maxX-w)
		row := 0
		for row < len(rowEnd) && rowEnd[row]+labelGap > left {
			row++
		}
		if row == len(rowEnd) {
			rowEnd = append(rowEnd, 0)
		}
		rowEnd[row] = left + w
		lefts[i], rows[i] = left, row
	}
	return out, lefts, rows
}

const (
	chartW    = 760
	chartH    = 220
	chartLeft = 44
	chartTop  = 16
	chartBot  = 28
)

func timeChart(r *Incident) *chart {
	u := r.Usage
	if len(u.Bars) == 0 {
		return nil
	}
	c := &chart{W: chartW, H: chartH, Bucket: u.Bucket, Source: u.Source, AxisLeft: chartLeft, AxisRight: chartW - 8}
	for _, b := range u.Bars {
		c.Max = max(c.Max, b.Total())
	}
	if c.Max == 0 {
		return nil
	}
	plotH := float64(chartH - chartTop - chartBot)
	c.BaseY = chartTop + plotH
	bw := (float64(chartW-chartLeft) - 8) / float64(len(u.Bars))
	width := bucketWidth(u.Bucket)
	layout := "2006-01-02 15:04"
	if u.Bucket != "hour" {
		layout = "2006-01-02"
	}
	for i, b := range u.Bars {
		bar := chartBar{X: chartLeft + float64(i)*bw + bw*0.1, W: bw * 0.8,
			Title: fmt.Sprintf("%s (%s): %s — baseline %d, exposure %d, after %d; %d refused",
				b.Start.UTC().Format(layout), u.Bucket, plural(b.Total(), "event", "events"), b.Baseline, b.Exposure, b.After, b.Failures)}
		y := c.BaseY
		for _, part := range []struct {
			n     int
			class string
		}{{b.Baseline, "w-baseline"}, {b.Exposure, "w-exposure"}, {b.After, "w-after"}} {
			if part.n == 0 {
				continue
			}
			h := plotH * float64(part.n) / float64(c.Max)
			y -= h
			bar.Rects = append(bar.Rects, chartRect{Y: y, H: h, Class: part.class})
		}
		c.Bars = append(c.Bars, bar)
	}
	start := u.Bars[0].Start
	end := u.Bars[len(u.Bars)-1].Start.Add(width)
	c.From, c.To = start.UTC().Format(layout), u.Bars[len(u.Bars)-1].Start.UTC().Format(layout)
	mark := func(t *time.Time, label, class string) {
		if t == nil || t.Before(start) || !t.Before(end) {
			return
		}
		x := chartLeft + float64(t.Sub(start))/float64(end.Sub(start))*(float64(chartW-chartLeft)-8)
		c.Marks = append(c.Marks, chartMark{X: x, Label: label, Class: class})
	}
	mark(r.Facts.LeakedAt, "leaked", "m-leak")
	mark(r.Facts.RevokedAt, "revoked", "m-revoke")
	texts, xs := make([]string, len(c.Marks)), make([]float64, len(c.Marks))
	for i, m := range c.Marks {
		texts[i], xs[i] = m.Label, m.X+3
	}
	texts, lefts, rows := layoutLabels(texts, xs, 0, float64(c.W))
	nrows := 0
	for i := range c.Marks {
		c.Marks[i].Label, c.Marks[i].LabelX = texts[i], lefts[i]
		c.Marks[i].LabelY = float64(chartH) - 2 + labelRowH*float64(rows[i])
		nrows = max(nrows, rows[i]+1)
	}
	if nrows > 1 {
		c.H += int(labelRowH) * (nrows - 1)
	}
	return c
}

func bucketWidth(name string) time.Duration {
	switch name {
	case "hour":
		return time.Hour
	case "week":
		return 7 * 24 * time.Hour
	}
	return 24 * time.Hour
}

// rates is the before/after comparison: each window's events per day.
type rates struct {
	W, H int
	Rows []rateRow
}

type rateRow struct {
	Y, W   float64
	Name   string
	Class  string
	Label  string
	LabelX float64
}

func rateChart(u Usage) *rates {
	if len(u.Windows) == 0 {
		return nil
	}
	top := 0.0
	for _, w := range u.Windows {
		top = max(top, w.PerDay)
	}
	rt := &rates{W: chartW, H: 30*len(u.Windows) + 10}
	const left, right = 90.0, 260.0
	for i, w := range u.Windows {
		row := rateRow{Y: float64(10 + 30*i), Name: w.Name, Class: "w-" + w.Name}
		if top > 0 {
			row.W = (chartW - left - right) * w.PerDay / top
		}
		row.LabelX = left + row.W + 6
		if w.PerDay > 0 {
			row.Label = fmt.Sprintf("%s (%s, %d refused)", w.Rate, plural(w.Events, "event", "events"), w.Failures)
		} else {
			row.Label = fmt.Sprintf("%s, %d refused", w.Rate, w.Failures)
		}
		// Each row's label has a line of its own; the chart widens to
		// hold the longest rather than letting it run off the edge.
		rt.W = max(rt.W, int(math.Ceil(row.LabelX+textWidth(row.Label)))+4)
		rt.Rows = append(rt.Rows, row)
	}
	return rt
}

var htmlTemplate = template.Must(template.New("incident").Funcs(template.FuncMap{
	"ts": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return "—"
			}
			return ts(v)
		case *time.Time:
			if v == nil || v.IsZero() {
				return "—"
			}
			return ts(*v)
		}
		return "—"
	},
	"f1":       func(v float64) string { return fmt.Sprintf("%.1f", v) },
	"evidence": evidenceList,
	"tasks":    taskList,
	"classes":  classList,
	"flags":    flagNames,
	"yes":      yes,
	"short":    short,
	"join":     strings.Join,
	"sev":      func(s any) string { return "sev-" + strings.ToLower(fmt.Sprint(s)) },
}).Parse(htmlSource))

const htmlSource = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Incident {{.R.Incident}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d232b;max-width:1040px;margin:24px auto;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d5dae1;padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;width:100%;margin:6px 0 12px}th,td{border:1px solid #d5dae1;padding:4px 6px;text-align:left;vertical-align:top}th{background:#f2f4f7}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:#f2f4f7;padding:0 3px;border-radius:3px;word-break:break-all}
.muted{color:#5b6675}.fact td{background:#fbf7ee}
.sev-critical{color:#fff;background:#a4161a}.sev-high{color:#fff;background:#d9480f}.sev-medium{background:#ffd43b}.sev-low{background:#d3f9d8}.sev-info{background:#e7f5ff}
.badge{display:inline-block;padding:0 6px;border-radius:3px;font-size:12px}
.w-baseline{fill:#8a94a6;background:#8a94a6}.w-exposure{fill:#d9822b;background:#d9822b}.w-after{fill:#2e8b57;background:#2e8b57}
.m-leak{stroke:#a4161a}.m-revoke{stroke:#2e8b57}.axis{stroke:#5b6675}.lbl{font-size:11px;fill:#1d232b}
.key{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}
</style>
</head>
<body>
<h1>Incident {{.R.Incident}}: {{.R.Scope.Secret.Kind}} <code>{{.R.Scope.Secret.Preview}}</code></h1>
<p class="muted">State {{.R.State}}, opened {{ts .R.Opened}}, report generated {{ts .R.Generated}}.</p>
{{with .R.Closed}}<p><strong>Closed {{ts .}} by {{$.R.ClosedBy}}: {{$.R.CloseReason}}</strong></p>{{end}}

<h2>Key facts</h2>
<table>
<tr><th>leaked</th><td>{{ts .R.Facts.LeakedAt}}</td></tr>
<tr><th>first unexplained use</th><td>{{ts .R.Facts.FirstUnexplainedUse}}{{with .R.Facts.UnexplainedSource}} from {{.}}{{end}}</td></tr>
<tr><th>leaked secret revoked</th><td>{{ts .R.Facts.RevokedAt}}</td></tr>
{{with .R.Facts.Exposure}}<tr><th>exposure</th><td>{{.}}</td></tr>{{end}}
<tr><th>risk</th><td>{{.R.Scope.Risk.Score}}/100</td></tr>
</table>

<h2>Use of the credential</h2>
{{with .Chart}}
<p class="muted">Events per {{.Bucket}}, {{.From}} to {{.To}} ({{.Source}}).
<span class="key w-baseline"></span>baseline<span class="key w-exposure"></span>exposure<span class="key w-after"></span>after rotation</p>
<svg role="img" aria-label="events per {{.Bucket}}" width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}">
<line class="axis" x1="{{.AxisLeft}}" y1="{{.BaseY}}" x2="{{.AxisRight}}" y2="{{.BaseY}}"/>
<text class="lbl" x="4" y="20">{{.Max}}</text><text class="lbl" x="4" y="{{.BaseY}}">0</text>
{{range .Bars}}<g><title>{{.Title}}</title>{{$x := .X}}{{$w := .W}}{{range .Rects}}<rect class="{{.Class}}" x="{{f1 $x}}" y="{{f1 .Y}}" width="{{f1 $w}}" height="{{f1 .H}}"/>{{end}}</g>
{{end}}{{range .Marks}}<line class="{{.Class}}" stroke-dasharray="4 3" x1="{{f1 .X}}" y1="8" x2="{{f1 .X}}" y2="{{$.Chart.BaseY}}"/><text class="lbl" x="{{f1 .LabelX}}" y="{{f1 .LabelY}}">{{.Label}}</text>
{{end}}</svg>
{{else}}<p class="muted">No dated use of the credential was recorded.</p>{{end}}
{{with .Rates}}
<h3>Before and after: events a day per window (a window under an hour: its count)</h3>
<svg role="img" aria-label="events a day per window" width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}">
{{range .Rows}}<text class="lbl" x="4" y="{{f1 .Y}}" dy="14">{{.Name}}</text><rect class="{{.Class}}" x="90" y="{{f1 .Y}}" width="{{f1 .W}}" height="20"/><text class="lbl" x="{{f1 .LabelX}}" y="{{f1 .Y}}" dy="14">{{.Label}}</text>
{{end}}</svg>
{{end}}

<h2>Timeline</h2>
{{if .R.Timeline}}<table><tr><th>time</th><th>who</th><th>what</th></tr>
{{range .R.Timeline}}<tr{{if eq .Source "fact"}} class="fact"{{end}}><td>{{ts .Time}}</td><td>{{if eq .Source "fact"}}<em>fact</em>{{else}}{{.Actor}}{{end}}</td><td>{{.Summary}}</td></tr>
{{end}}</table>{{else}}<p>Nothing recorded.</p>{{end}}

<h2>Scope</h2>
{{with .R.Scope}}
{{if eq .Identity.Status "identified"}}<p>Identity <code>{{.Identity.Name}}</code> in system <code>{{.Identity.System}}</code>{{with .Identity.Owner}}, owned by {{.}}{{end}}{{with .Identity.Kind}}, kind {{.}}{{end}}.</p>
{{else}}<p>Identity unknown: no searched system's verifier accepted the secret.</p>{{end}}
{{if .Identity.Privileges}}<table><tr><th>privilege</th><th>risk</th><th>via</th><th>notes</th></tr>
{{range .Identity.Privileges}}<tr><td><code>{{.Name}}</code></td><td><span class="badge {{sev .Risk}}">{{.Risk}}</span></td><td>{{.Via}}</td><td>{{if .CreatesCredentials}}creates credentials {{end}}{{if .Kept}}kept{{end}}</td></tr>
{{end}}</table>{{end}}
<p>Copies: {{len .Occurrences}} ({{classes $.R.Copies.ByClass}}).</p>
{{if .Consumers}}<table><tr><th>consumer</th><th>declared</th><th>observed</th><th>third party</th><th>sources</th></tr>
{{range .Consumers}}<tr><td>{{.Name}}</td><td>{{yes .Declared}}</td><td>{{yes .Observed}}</td><td>{{yes .ThirdParty}}</td><td>{{join .Sources ", "}}</td></tr>
{{end}}</table>{{end}}
<ul>
{{range .Unexplained}}<li>Unexplained use from {{.Source}}, {{ts .FirstSeen}} to {{ts .LastSeen}}.</li>{{end}}
{{range .Reuse}}<li>The same secret also authenticates <code>{{.System}}/{{.Name}}</code>.</li>{{end}}
{{range .Related}}<li>Related: {{.Kind}} <code>{{.Name}}</code>: {{.Detail}}</li>{{end}}
<li>Flags: {{flags .}}</li>
{{range .Risk.Reasons}}<li>Risk {{.}}</li>{{end}}
</ul>
{{end}}

<h2>Response</h2>
{{with .R.Response}}
{{if .Planned}}<p>Strategy <strong>{{.Strategy}}</strong>: {{.Reason}}. Run: <strong>{{.RunState}}</strong>.</p>
<h3>Revoked and contained</h3>{{if .Revoked}}<ul>{{range .Revoked}}<li><code>{{.ID}}</code> {{.Kind}} {{.Target}} at {{ts .Finished}}{{with .Detail}}: {{.}}{{end}}</li>{{end}}</ul>{{else}}<p>Nothing yet.</p>{{end}}
<h3>Delivered</h3>{{if .Delivered}}<ul>{{range .Delivered}}<li><code>{{.ID}}</code> {{.Target}} at {{ts .Finished}}{{with .Detail}}: {{.}}{{end}}</li>{{end}}</ul>{{else}}<p>Nothing yet.</p>{{end}}
<h3>Verified</h3>{{if .Verified}}<ul>{{range .Verified}}<li><code>{{.ID}}</code> {{.Target}} at {{ts .Finished}}{{with .Detail}}: {{.}}{{end}}</li>{{end}}</ul>{{else}}<p>Nothing yet.</p>{{end}}
{{if .Approvals}}<h3>Approvals</h3><ul>{{range .Approvals}}<li><code>{{.Step}}</code> approved by <strong>{{.By}}</strong> at {{ts .At}} ({{.Reason}})</li>{{end}}</ul>{{end}}
<h3>Steps</h3>
<table><tr><th>step</th><th>kind</th><th>target</th><th>state</th><th>finished</th><th>error</th></tr>
{{range .Steps}}<tr><td><code>{{.ID}}</code></td><td>{{.Kind}}</td><td>{{.Target}}</td><td>{{.State}}</td><td>{{ts .Finished}}</td><td>{{.Error}}</td></tr>
{{end}}</table>
{{else}}<p>No plan was made.</p>{{end}}
{{if .Issued}}<h3>Issued</h3><table><tr><th>login</th><th>consumer</th><th>issued</th><th>expires</th><th>enforced</th><th>state</th><th>lease</th></tr>
{{range .Issued}}<tr><td><code>{{.System}}/{{.Login}}</code></td><td>{{.Consumer}}</td><td>{{ts .Issued}}</td><td>{{ts .Expires}}</td><td>{{yes .Enforced}}</td><td>{{.State}}</td><td><code>{{.Lease}}</code></td></tr>
{{end}}</table>{{end}}
{{end}}

<h2>Review</h2>
{{range .R.Reviews}}<h3>{{.Phase}} (reviewed {{ts .Created}})</h3>
<p>{{.Review.Events}} events of <code>{{.Review.Credential}}</code> in the windows.</p>
{{if .Review.Findings}}<table><tr><th>severity</th><th>kind</th><th>finding</th><th>evidence</th></tr>
{{range .Review.Findings}}<tr><td><span class="badge {{sev .Severity}}">{{.Severity}}</span></td><td>{{.Kind}}</td><td>{{.Summary}}</td><td><code>{{evidence .Evidence}}</code></td></tr>
{{end}}</table>{{end}}
{{if .Review.Related}}<ul>{{range .Review.Related}}<li>Derived: {{.Kind}} <code>{{.Credential}}</code> created {{ts .CreatedAt}} by {{.CreatedBy}} via {{.Via}} from {{.From}} (<code>{{evidence .Evidence}}</code>)</li>{{end}}</ul>{{end}}
{{else}}<p>Not reviewed.</p>{{end}}

<h2>Copies remaining</h2>
{{if .R.Copies.Remaining}}<table><tr><th>copy</th><th>class</th><th>preview</th><th>tasks</th></tr>
{{range .R.Copies.Remaining}}<tr><td><code>{{.Location}}</code></td><td>{{.Class}}</td><td><code>{{.Preview}}</code></td><td>{{tasks .}}</td></tr>
{{end}}</table>{{else}}<p>None: every copy found was removed.</p>{{end}}

<h2>Remaining risk</h2>
{{if .R.Remaining}}<ul>{{range .R.Remaining}}<li><span class="badge {{sev .Severity}}">{{.Severity}}</span> {{.Summary}}</li>{{end}}</ul>{{else}}<p>None found.</p>{{end}}

<h2>Standards</h2>
<p class="muted">Only what this incident showed is mapped; each line says which fact mapped it.</p>
{{if .R.Standards}}<table><tr><th>framework</th><th>id</th><th>name</th><th>because</th></tr>
{{range .R.Standards}}<tr><td>{{.Framework}}</td><td><strong>{{.ID}}</strong>{{with .Note}}<br><span class="muted">{{.}}</span>{{end}}</td><td>{{.Name}}</td><td>{{.Trigger}}</td></tr>
{{end}}</table>{{end}}

<h2>Audit log</h2>
{{with .R.Audit}}{{if .Intact}}<p>Intact: {{.Entries}} entries verified ({{.IncidentEntries}} of this incident), head <code>{{short .Head}}</code>.</p>
{{else}}<p><span class="badge sev-critical">broken</span></p><ul>{{range .Breaks}}<li>entry {{.Seq}}: {{.Problem}}</li>{{end}}</ul>{{end}}{{end}}
</body>
</html>
`
