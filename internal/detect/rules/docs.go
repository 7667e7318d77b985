package rules

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/rekeyhq/rekey/internal/detect"
)

// Markdown renders the rule set as the reference page docs/rules.md: one
// row per rule with its provider, id, format, the documentation the format
// was written from and the shape of an example with its middle masked.
// docs_test.go fails when the committed page differs from what the rules
// say, and rewrites it with -update.
func Markdown(rs []*detect.Rule) ([]byte, error) {
	d, err := detect.New(rs)
	if err != nil {
		return nil, err
	}
	providers := map[string]int{}
	cited := 0
	for _, r := range rs {
		providers[r.Provider]++
		if r.Source != "" {
			cited++
		}
	}
	sorted := slices.Clone(rs)
	slices.SortStableFunc(sorted, func(a, b *detect.Rule) int {
		if c := strings.Compare(a.Provider, b.Provider); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})

	var sb strings.Builder
	sb.WriteString("# Detection rules\n\n")
	sb.WriteString("<!-- Generated from internal/detect/rules by `go test ./internal/detect/rules -run TestRulesDoc -update`; do not edit. -->\n\n")
	fmt.Fprintf(&sb, "%d rules for %d providers; %d cite the provider's own documentation of the format.\n", len(rs), len(providers), cited)
	sb.WriteString("Every rule carries examples that must match and near misses that must not (`rules_test.go`).\n")
	sb.WriteString("Example shapes are generated fakes with the middle masked, and the length in characters.\n\n")
	sb.WriteString("| Provider | Rule | Severity | Format | Source | Example shape |\n")
	sb.WriteString("|---|---|---|---|---|---|\n")
	for _, r := range sorted {
		src := "—"
		if r.Source != "" {
			src = "[" + sourceLabel(r.Source) + "](" + r.Source + ")"
		}
		fmt.Fprintf(&sb, "| %s | `%s` | %s | %s | %s | %s |\n",
			cell(r.Provider), r.ID, r.Severity, cell(r.Description), src, exampleShape(d, r))
	}
	return []byte(sb.String()), nil
}

// exampleShape is the secret of the rule's first example, masked: enough
// of the start to show the prefix, the last two characters and the length.
func exampleShape(d *detect.Detector, r *detect.Rule) string {
	for _, ex := range r.Examples {
		for _, f := range d.Scan([]byte(ex)) {
			if f.Rule.ID == r.ID {
				return "`" + mask(string(f.Secret.Reveal())) + "`"
			}
		}
	}
	return "—"
}

func mask(s string) string {
	n := utf8.RuneCountInString(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		// A PEM block or a file: its first line says what it is.
		return strings.ReplaceAll(s[:i], "`", "'") + "…" + fmt.Sprintf(" (%d chars)", n)
	}
	keep := min(12, max(3, len(s)/5))
	if len(s) <= keep+4 {
		return strings.Repeat("•", len(s))
	}
	shape := s[:keep] + "…" + s[len(s)-2:]
	return strings.NewReplacer("`", "'", "|", `\|`).Replace(shape) + fmt.Sprintf(" (%d chars)", n)
}

// cell makes text safe inside a Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "`", "'").Replace(s)
}

// sourceLabel is the link text for a source URL: its host and a short path.
func sourceLabel(u string) string {
	u = strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
	host, path, _ := strings.Cut(u, "/")
	host = strings.TrimPrefix(host, "www.")
	if path == "" {
		return host
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	last := parts[len(parts)-1]
	if i := strings.IndexAny(last, "?#"); i > 0 {
		last = last[:i]
	}
	if len(last) > 40 {
		last = last[:40] + "…"
	}
	return host + " › " + last
}
