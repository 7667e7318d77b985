package scan

import (
	"github.com/rekeyhq/rekey/internal/detect"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/source"
	"github.com/rekeyhq/rekey/internal/trace"
)

// Trace matches every copy of one secret, in any encoding; a copy that a
// detection rule also recognises is reported under that rule.
type Trace struct {
	Secret        secret.Secret
	Matcher       *trace.Matcher
	Detector      *detect.Detector
	Fingerprinter *secret.Fingerprinter
	Reveal        bool
}

// Probe implements Prober.
func (t *Trace) Probe(ch source.Chunk) []int { return offsets(t.Match(ch), ch) }

// Match implements Matcher.
func (t *Trace) Match(ch source.Chunk) []Finding {
	owned := len(ch.Data) - ch.Tail
	ms := t.Matcher.Find(ch.Data)
	if len(ms) == 0 {
		return nil
	}
	var detected []detect.Finding
	if t.Detector != nil {
		detected = t.Detector.Scan(ch.Data)
	}
	fp := t.Fingerprinter.Of(t.Secret)
	var out []Finding
	for _, m := range ms {
		if m.Start >= owned {
			continue
		}
		f := Finding{
			Rule:        "trace",
			Provider:    "",
			Severity:    detect.High,
			Fingerprint: fp,
			Preview:     t.Secret.Preview(),
			Encoding:    m.Encoding,
			Match:       "exact",
			Secret:      t.Secret,
		}
		if m.Partial {
			f.Match = "partial"
			f.Severity = detect.Medium
		}
		for _, d := range detected {
			if d.Start <= m.Start && m.End <= d.End || m.Start <= d.Start && d.End <= m.End {
				f.Rule, f.Provider, f.Description, f.Identity = d.Rule.ID, d.Rule.Provider, d.Rule.Description, d.Identity
				f.Severity = max(f.Severity, d.Severity)
				break
			}
		}
		if t.Reveal {
			f.Revealed = string(t.Secret.Reveal())
		}
		out = append(out, place(f, ch.Data, m.Start, ch.Loc)...)
	}
	return out
}
