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

	"github.com/rekeyhq/rekey/internal/detect"
	"github.com/rekeyhq/rekey/internal/report"
	"github.com/rekeyhq/rekey/internal/scan"
)

func checkFormat(got string, allowed ...string) error {
	if slices.Contains(allowed, got) {
		return nil
	}
	return usagef("--format %q: want one of %s", got, strings.Join(allowed, ", "))
}

// runFindings is the part scan and trace share: build the sources, scan
// with progress on a terminal, print, and turn "found" into exit status 1.
func runFindings(ctx context.Context, g *globals, in *inputFlags, paths []string, m scan.Matcher, format string, out io.Writer, det *detect.Detector) error {
	ferrs := &fileErrors{w: func(s string) { fmt.Fprintln(g.env.Stderr, s) }}
	in.getenv = g.env.Getenv
	sources, err := in.build(paths, ferrs.add, func(s string) { fmt.Fprintln(g.env.Stderr, s) })
	if err != nil {
		return err
	}
	opts := scan.Options{Matcher: m}
	if g.env.stderrIsTerminal() {
		opts.Progress = scan.NewProgress()
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() { opts.Progress.Report(g.env.Stderr, 200*time.Millisecond, stop); close(done) }()
		defer func() { close(stop); <-done; fmt.Fprintf(g.env.Stderr, "scanned %s\n", opts.Progress.Line()) }()
	}
	findings, err := scan.Run(ctx, opts, sources)
	if err != nil {
		return err
	}
	switch format {
	case "json":
		err = writeJSONLines(out, findings)
	case "sarif":
		err = report.WriteSARIF(out, findings, det.Rules())
	default:
		err = writeTable(out, findings)
	}
	if err != nil {
		return err
	}
	if len(findings) > 0 {
		return foundError{}
	}
	return nil
}

func writeJSONLines(w io.Writer, fs []scan.Finding) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, f := range fs {
		if err := enc.Encode(f); err != nil {
			return err
		}
	}
	return nil
}

// writeTable groups copies by secret: "this one token, 7 copies in 4
// places" is the sprawl a responder must see first.
func writeTable(w io.Writer, fs []scan.Finding) error {
	if len(fs) == 0 {
		_, err := fmt.Fprintln(w, "no secrets found")
		return err
	}
	type group struct {
		first  scan.Finding
		copies []scan.Finding
		places map[string]bool
		rules  []string
		sev    detect.Severity
	}
	byFP := map[string]*group{}
	var order []*group
	for _, f := range fs {
		gr := byFP[string(f.Fingerprint)]
		if gr == nil {
			gr = &group{first: f, places: map[string]bool{}}
			byFP[string(f.Fingerprint)] = gr
			order = append(order, gr)
		}
		gr.copies = append(gr.copies, f)
		gr.places[f.Path+"\x00"+f.Ref] = true
		if !slices.Contains(gr.rules, f.Rule) {
			gr.rules = append(gr.rules, f.Rule)
		}
		gr.sev = max(gr.sev, f.Severity)
	}
	slices.SortStableFunc(order, func(a, b *group) int {
		return cmp.Or(-cmp.Compare(a.sev, b.sev), -cmp.Compare(len(a.copies), len(b.copies)))
	})
	var b strings.Builder
	for _, gr := range order {
		f := gr.first
		tablef(&b, "%-8s %s  %s  fingerprint %s\n", strings.ToUpper(gr.sev.String()), f.Preview, strings.Join(gr.rules, ","), f.Fingerprint.Short())
		if f.Revealed != "" {
			tablef(&b, "         value: %s\n", f.Revealed)
		}
		tablef(&b, "         %s in %s (%s)\n", plural(len(gr.copies), "copy", "copies"), plural(len(gr.places), "place", "places"), classCounts(gr.copies))
		for _, c := range gr.copies {
			where := tables("%s:%d:%d", c.Path, c.Line, c.Column)
			var extra []string
			if c.Ref != "" {
				extra = append(extra, c.Ref)
			}
			if c.Commit != "" {
				state := "gone from HEAD"
				if c.AtHead {
					state = "at HEAD"
				}
				extra = append(extra, tables("commit %.12s, %s", c.Commit, state))
			}
			if c.Encoding != "" && c.Encoding != "plain" {
				extra = append(extra, c.Encoding)
			}
			if c.Match == "partial" {
				extra = append(extra, "partial")
			}
			line := tables("           %-8s %s", c.Class, where)
			if len(extra) > 0 {
				line += "  [" + strings.Join(extra, "; ") + "]"
			}
			b.WriteString(line + "\n")
		}
		b.WriteString("\n")
	}
	tablef(&b, "%s, %s\n", plural(len(order), "secret", "secrets"), plural(len(fs), "copy", "copies"))
	_, err := io.WriteString(w, b.String())
	return err
}

func classCounts(fs []scan.Finding) string {
	counts := map[string]int{}
	var names []string
	for _, f := range fs {
		if counts[string(f.Class)] == 0 {
			names = append(names, string(f.Class))
		}
		counts[string(f.Class)]++
	}
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", n, counts[n])
	}
	return strings.Join(parts, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
