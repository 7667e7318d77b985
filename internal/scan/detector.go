package scan

import (
	"github.com/rekeyhq/rekey/internal/decode"
	"github.com/rekeyhq/rekey/internal/detect"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/source"
)

// Rules matches chunks with a detector: what `scan` reports.
type Rules struct {
	Detector      *detect.Detector
	Fingerprinter *secret.Fingerprinter
	// Reveal puts the clear value in each finding (--reveal).
	Reveal bool
}

// Match implements Matcher.
func (r *Rules) Match(ch source.Chunk) []Finding {
	var out []Finding
	// Structured values (a Kubernetes Secret's base64 data, docker auths)
	// are decoded and scanned too; only whole files can be parsed. The
	// encoded text itself is not the secret, so a rule matching it at the
	// same place is dropped below.
	encoded := map[[2]int]bool{}
	if ch.Tail == 0 && ch.Loc.Line <= 1 && ch.Loc.Column <= 1 && !ch.Loc.Flat {
		for _, d := range decode.Expand(ch.Loc.Path, ch.Data) {
			encoded[[2]int{d.Line, d.Column}] = true
			loc := ch.Loc
			loc.Line, loc.Column, loc.Flat, loc.Encoding = d.Line, d.Column, true, d.Encoding
			out = r.matchData(out, d.Data, len(d.Data), loc, nil)
		}
	}
	return r.matchData(out, ch.Data, len(ch.Data)-ch.Tail, ch.Loc, encoded)
}

// matchData appends the findings in data that start before owned.
func (r *Rules) matchData(out []Finding, data []byte, owned int, loc source.Location, skip map[[2]int]bool) []Finding {
	raw := r.Detector.Scan(data)
	fps := make([]secret.Fingerprint, len(raw))
	for i := range raw {
		fps[i] = r.Fingerprinter.Of(raw[i].Secret)
	}
	for i, f := range raw {
		if f.Start >= owned {
			continue
		}
		if len(skip) > 0 {
			if line, col := source.Position(data, f.Start, loc); skip[[2]int{line, col}] {
				continue
			}
		}
		out = append(out, place(r.finding(f, fps, i), data, f.Start, loc)...)
	}
	return out
}

func (r *Rules) finding(f detect.Finding, fps []secret.Fingerprint, i int) Finding {
	out := Finding{
		Rule:        f.Rule.ID,
		Provider:    f.Rule.Provider,
		Severity:    f.Severity,
		Fingerprint: fps[i],
		Preview:     f.Secret.Preview(),
		Description: f.Rule.Description,
		Identity:    f.Identity,
		Secret:      f.Secret,
	}
	if f.Pair >= 0 {
		out.PairedWith = string(fps[f.Pair])
	}
	if r.Reveal {
		out.Revealed = string(f.Secret.Reveal())
	}
	return out
}
