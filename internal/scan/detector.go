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
	owned := len(ch.Data) - ch.Tail
	raw := r.Detector.Scan(ch.Data)
	fps := make([]secret.Fingerprint, len(raw))
	for i := range raw {
		fps[i] = r.Fingerprinter.Of(raw[i].Secret)
	}
	var out []Finding
	for i, f := range raw {
		if f.Start >= owned {
			continue
		}
		out = append(out, place(r.finding(f, fps, i), ch.Data, f.Start, ch.Loc)...)
	}
	// Structured values (a Kubernetes Secret's base64 data, docker auths)
	// are decoded and scanned too; only whole files can be parsed.
	if ch.Tail == 0 && ch.Loc.Line <= 1 && ch.Loc.Column <= 1 && !ch.Loc.Flat {
		for _, d := range decode.Expand(ch.Loc.Path, ch.Data) {
			dr := r.Detector.Scan(d.Data)
			dfps := make([]secret.Fingerprint, len(dr))
			for i := range dr {
				dfps[i] = r.Fingerprinter.Of(dr[i].Secret)
			}
			loc := ch.Loc
			loc.Line, loc.Column, loc.Flat, loc.Encoding = d.Line, d.Column, true, d.Encoding
			for i, f := range dr {
				out = append(out, place(r.finding(f, dfps, i), d.Data, f.Start, loc)...)
			}
		}
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
