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

// Probe implements Prober.
func (r *Rules) Probe(ch source.Chunk) []int { return offsets(r.Match(ch), ch) }

// Match implements Matcher.
func (r *Rules) Match(ch source.Chunk) []Finding {
	var out []Finding
	// Structured values (a Kubernetes Secret's base64 data, docker auths)
	// are decoded and scanned too; only whole files can be parsed. The
	// encoded text itself is not the secret, so a rule matching it at the
	// same place is dropped below.
	encoded := map[[2]int]bool{}
	whole := ch.Tail == 0 && ch.Loc.Line <= 1 && ch.Loc.Column <= 1 && !ch.Loc.Flat
	if whole {
		for _, d := range decode.Expand(ch.Loc.Path, ch.Data) {
			encoded[[2]int{d.Line, d.Column}] = true
			loc := ch.Loc
			loc.Line, loc.Column, loc.Flat, loc.Encoding = d.Line, d.Column, true, d.Encoding
			out = r.matchData(out, r.Detector.Scan(d.Data), nil, d.Data, len(d.Data), loc, nil, "")
		}
	}
	raw := r.Detector.Scan(ch.Data)
	owned := len(ch.Data) - ch.Tail
	// Split values are joined in whole files and in the changed regions
	// of a history version, which start at a line of their own.
	if !whole && !(ch.Tail == 0 && ch.Loc.Column <= 1 && !ch.Loc.Flat) {
		return r.matchData(out, raw, nil, ch.Data, owned, ch.Loc, encoded, "")
	}
	// A copy of the file with its JSON strings decoded, or its split
	// values joined, finds what the file hides as written; its findings
	// are mapped back to file offsets, so they report the real line and
	// column.
	rw := decode.Rewrite(ch.Loc.Path, ch.Data)
	if rw == nil {
		return r.matchData(out, raw, nil, ch.Data, owned, ch.Loc, encoded, "")
	}
	alt := r.Detector.Scan(rw.Data)
	for i := range alt {
		alt[i].Start, alt[i].End = rw.RawSpan(alt[i].Start, alt[i].End)
	}
	dropRaw, dropAlt := oneCopy(raw, alt)
	out = r.matchData(out, raw, dropRaw, ch.Data, owned, ch.Loc, encoded, "")
	return r.matchData(out, alt, dropAlt, ch.Data, owned, ch.Loc, encoded, rw.Encoding)
}

// oneCopy keeps one finding per copy when the file and its rewritten copy
// both hold one at overlapping places: the rewritten one when it spans
// more of the file (the raw one is a fragment of a split value), else the
// raw one (the same secret, seen as written).
func oneCopy(raw, alt []detect.Finding) (dropRaw, dropAlt []bool) {
	dropRaw, dropAlt = make([]bool, len(raw)), make([]bool, len(alt))
	for j, a := range alt {
		for i, f := range raw { // both sorted by Start: stop past a's end
			if f.Start >= a.End {
				break
			}
			if f.End <= a.Start {
				continue
			}
			if a.Start <= f.Start && f.End <= a.End && a.End-a.Start > f.End-f.Start {
				dropRaw[i] = true
				continue
			}
			dropAlt[j] = true
		}
	}
	return dropRaw, dropAlt
}

// matchData appends the findings fs of data that start before owned and
// are not dropped; a non-empty enc names how the copy they were found in
// was decoded.
func (r *Rules) matchData(out []Finding, fs []detect.Finding, drop []bool, data []byte, owned int, loc source.Location, skip map[[2]int]bool, enc string) []Finding {
	fps := make([]secret.Fingerprint, len(fs))
	for i := range fs {
		fps[i] = r.Fingerprinter.Of(fs[i].Secret)
	}
	for i, f := range fs {
		if f.Start >= owned || drop != nil && drop[i] {
			continue
		}
		if len(skip) > 0 {
			if line, col := source.Position(data, f.Start, loc); skip[[2]int{line, col}] {
				continue
			}
		}
		nf := r.finding(f, fps, i)
		nf.Encoding = enc
		out = append(out, place(nf, data, f.Start, loc)...)
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
