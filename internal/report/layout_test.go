package report

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/review"
)

// TestOneRiskInTheReport: every risk score the report prints is the
// scope's, and the reasons it lists add up to it.
func TestOneRiskInTheReport(t *testing.T) {
	r := newWorld(t, worldOpts{}).build(t)
	var md, html bytes.Buffer
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	// html/template writes "+" as "&#43;".
	for name, out := range map[string]string{"md": md.String(), "html": strings.ReplaceAll(html.String(), "&#43;", "+")} {
		for _, m := range regexp.MustCompile(`(\d+)/100`).FindAllStringSubmatch(out, -1) {
			if n, _ := strconv.Atoi(m[1]); n != r.Scope.Risk.Score {
				t.Errorf("%s shows risk %d/100, the scope's is %d", name, n, r.Scope.Risk.Score)
			}
		}
		sum := 0
		for _, m := range regexp.MustCompile(`Risk ([+-]\d+) `).FindAllStringSubmatch(out, -1) {
			n, _ := strconv.Atoi(m[1])
			sum += n
		}
		if sum != r.Scope.Risk.Score {
			t.Errorf("%s: the risk reasons add up to %d, the score is %d", name, sum, r.Scope.Risk.Score)
		}
	}
}

// TestNoDailyRateFromAShortWindow: a 48-second window gives its count,
// not "511101.2 a day"; an hour or more gives a rate.
func TestNoDailyRateFromAShortWindow(t *testing.T) {
	at := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	win := func(start time.Time, d time.Duration, n int) *review.Window {
		end := start.Add(d)
		return &review.Window{Start: &start, End: &end, Events: n}
	}
	rev := review.Report{Windows: review.Windows{Baseline: win(at.Add(-72*time.Hour), 72*time.Hour, 30), Exposure: *win(at, 48*time.Second, 284)}}
	u := usage(nil, []ReviewPhase{{Phase: "exposure", Created: at.Add(time.Hour), Review: rev}}, Facts{}, at.Add(time.Hour))
	got := map[string]WindowUse{}
	for _, w := range u.Windows {
		got[w.Name] = w
	}
	if x := got["exposure"]; x.PerDay != 0 || x.Rate != "284 events in 48s" || x.Span != "48s" {
		t.Errorf("48 s exposure: %+v", x)
	}
	if b := got["baseline"]; b.PerDay != 10 || b.Rate != "10.0 a day" {
		t.Errorf("3-day baseline: %+v", b)
	}
	rc := rateChart(u)
	for _, row := range rc.Rows {
		if strings.Contains(row.Label, "a day") && row.Name == "exposure" {
			t.Errorf("the short window's label extrapolates: %q", row.Label)
		}
		if row.LabelX+textWidth(row.Label) > float64(rc.W) {
			t.Errorf("label %q runs past the chart's width %d", row.Label, rc.W)
		}
	}
}

// TestChartLabelsDoNotOverlap: the leak and the revocation 48 seconds
// apart on a week-long chart, and labels crowded at the right edge: no
// two label boxes on a row meet, none leaves the chart.
func TestChartLabelsDoNotOverlap(t *testing.T) {
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var bars []Bar
	for i := range 7 {
		bars = append(bars, Bar{Start: start.Add(time.Duration(i) * 24 * time.Hour), Exposure: i + 1})
	}
	leak := start.Add(3 * 24 * time.Hour)
	revoked := leak.Add(48 * time.Second)
	c := timeChart(&Incident{Usage: Usage{Bucket: "day", Bars: bars}, Facts: Facts{LeakedAt: &leak, RevokedAt: &revoked}})
	if len(c.Marks) != 2 {
		t.Fatalf("marks %+v", c.Marks)
	}
	checkLabels(t, c.Marks, float64(c.W), float64(c.H))

	// The same near the right edge, with more and longer labels.
	texts := []string{"leaked", "revoked", "first unexplained use", "review", "x"}
	xs := []float64{740, 741, 742, 300, 302}
	out, lefts, rows := layoutLabels(texts, xs, 0, chartW)
	var marks []chartMark
	for i := range out {
		marks = append(marks, chartMark{Label: out[i], LabelX: lefts[i], LabelY: float64(rows[i]) * labelRowH})
	}
	checkLabels(t, marks, chartW, 1e9)
	// A label wider than the chart is clipped, not spilled.
	out, lefts, _ = layoutLabels([]string{strings.Repeat("w", 200)}, []float64{10}, 0, 100)
	if lefts[0] < 0 || lefts[0]+textWidth(out[0]) > 100 || !strings.HasSuffix(out[0], "…") {
		t.Errorf("a long label: %q at %.1f", out[0], lefts[0])
	}
}

func checkLabels(t *testing.T, ms []chartMark, w, h float64) {
	t.Helper()
	for i, a := range ms {
		ax, aw := a.LabelX, textWidth(a.Label)
		if ax < 0 || ax+aw > w || a.LabelY > h {
			t.Errorf("label %q at (%.1f, %.1f), %.1f wide, leaves the %.0fx%.0f chart", a.Label, ax, a.LabelY, aw, w, h)
		}
		for _, b := range ms[i+1:] {
			if a.LabelY != b.LabelY {
				continue
			}
			bx, bw := b.LabelX, textWidth(b.Label)
			if ax < bx+bw && bx < ax+aw {
				t.Errorf("labels %q [%.1f, %.1f] and %q [%.1f, %.1f] overlap", a.Label, ax, ax+aw, b.Label, bx, bx+bw)
			}
		}
	}
}
