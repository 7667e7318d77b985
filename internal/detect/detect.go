package detect

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"sync"

	ahocorasick "github.com/petar-dambovaliev/aho-corasick"

	"github.com/rekeyhq/rekey/internal/secret"
)

// Finding is one secret found in a buffer. Start and End are byte offsets
// of the secret itself (not the whole match) in the scanned buffer.
type Finding struct {
	Rule       *Rule
	Secret     secret.Secret
	Start, End int
	Severity   Severity
	// Identity holds hints about whose credential it is: user, host,
	// account, key_id… taken from the match and the rule's Identity func.
	Identity map[string]string
	// Pair is the index, in the same Scan result, of the other half of a
	// paired credential (an AWS key id for a secret key), or -1.
	Pair int
}

// Detector runs a rule set over buffers. It is safe for concurrent use.
type Detector struct {
	rules  []*Rule
	groups []int
	// anchored holds, for rules with an Anchor, the regex wrapped in ^(?:…).
	anchored []*regexp.Regexp
	byID     map[string]int
	ac       ahocorasick.AhoCorasick
	kwRules  [][]int // keyword index → rule indices
	maxWin   int
	scratch  sync.Pool // *cands
}

// New builds a Detector. It fails on an invalid rule or a duplicate id.
func New(rules []*Rule) (*Detector, error) {
	d := &Detector{rules: rules, byID: map[string]int{}}
	kwIndex := map[string]int{}
	var keywords []string
	for i, r := range rules {
		if err := validateRule(r); err != nil {
			return nil, err
		}
		if _, dup := d.byID[r.ID]; dup {
			return nil, fmt.Errorf("duplicate rule id %s", r.ID)
		}
		d.byID[r.ID] = i
		d.groups = append(d.groups, secretGroup(r.Regex))
		var anch *regexp.Regexp
		if r.Anchor != 0 {
			var err error
			if anch, err = regexp.Compile(`^(?:` + r.Regex.String() + `)`); err != nil {
				return nil, fmt.Errorf("rule %s: anchored regex: %w", r.ID, err)
			}
		}
		d.anchored = append(d.anchored, anch)
		for _, k := range r.Keywords {
			ki, ok := kwIndex[k]
			if !ok {
				ki = len(keywords)
				kwIndex[k] = ki
				keywords = append(keywords, k)
				d.kwRules = append(d.kwRules, nil)
			}
			if !slices.Contains(d.kwRules[ki], i) {
				d.kwRules[ki] = append(d.kwRules[ki], i)
			}
		}
		d.maxWin = max(d.maxWin, r.Window)
	}
	for _, r := range rules {
		if r.PairWith != "" {
			if _, ok := d.byID[r.PairWith]; !ok {
				return nil, fmt.Errorf("rule %s pairs with unknown rule %s", r.ID, r.PairWith)
			}
		}
	}
	b := ahocorasick.NewAhoCorasickBuilder(ahocorasick.Opts{
		AsciiCaseInsensitive: true,
		MatchKind:            ahocorasick.StandardMatch,
		DFA:                  true,
	})
	d.ac = b.Build(keywords)
	d.scratch.New = func() any {
		return &cands{windows: make([][]span, len(rules)), anchors: make([][]span, len(rules))}
	}
	return d, nil
}

// Rules returns the detector's rules in their original order.
func (d *Detector) Rules() []*Rule { return d.rules }

// Rule returns the rule with the given id, or nil.
func (d *Detector) Rule(id string) *Rule {
	if i, ok := d.byID[id]; ok {
		return d.rules[i]
	}
	return nil
}

// MaxWindow is the longest span past a keyword any rule needs; sources that
// split a long file overlap their chunks by at least this much.
func (d *Detector) MaxWindow() int { return d.maxWin }

type span struct{ start, end int }

// Scan returns every finding in data, ordered by offset.
func (d *Detector) Scan(data []byte) []Finding {
	c := d.scratch.Get().(*cands)
	d.candidates(c, data)
	var out []Finding
	for _, ri := range c.hit {
		if ws := c.windows[ri]; len(ws) > 0 {
			out = d.runRule(out, ri, data, mergeSpans(ws))
		}
		if as := c.anchors[ri]; len(as) > 0 {
			out = d.runAnchored(out, ri, data, as)
		}
	}
	c.reset()
	d.scratch.Put(c)
	slices.SortFunc(out, func(a, b Finding) int {
		if a.Start != b.Start {
			return a.Start - b.Start
		}
		return a.End - b.End
	})
	out = d.dropContained(out)
	d.pair(out)
	return out
}

// On very long lines (minified code, a JSON document on one line) a
// keyword's window is cut to capBefore bytes before it and capAfter after
// it: every credential matched on one line fits (a rule whose values run
// longer, such as a kubeconfig's base64 client key, sets Window), and
// without the cut each hit would make the regexes rescan the whole line.
const (
	capBefore = 512
	capAfter  = 4096
)

// candidates maps each rule with a keyword hit to the windows its regex must
// search: the hit's line (cut to capBefore/capAfter bytes around the hit),
// or from the line start to Window bytes on. Anchored rules get, instead,
// the places a match may start, each with the end of its window.
func (d *Detector) candidates(c *cands, data []byte) {
	windows, anchors := c.windows, c.anchors
	it := d.ac.IterOverlappingByte(data)
	lastLine := span{-1, -1}
	trueStart := false // lastLine.start is the line's real start, not a cut
	for m := it.Next(); m != nil; m = it.Next() {
		s, e := m.Start(), m.End()
		if s < lastLine.start || e > lastLine.end {
			from := max(0, s-capBefore)
			nl := bytes.LastIndexByte(data[from:s], '\n')
			trueStart = nl >= 0 || from == 0
			ls := from + nl + 1
			to := min(len(data), e+capAfter)
			le := bytes.IndexByte(data[e:to], '\n')
			if le < 0 {
				le = to
			} else {
				le += e
			}
			lastLine = span{ls, le}
		}
		for _, ri := range d.kwRules[m.Pattern()] {
			r := d.rules[ri]
			if len(windows[ri]) == 0 && len(anchors[ri]) == 0 {
				c.hit = append(c.hit, ri)
			}
			end := lastLine.end
			if r.Window > 0 {
				end = min(len(data), e+r.Window)
			}
			if r.Anchor != 0 {
				if r.Anchor&AtKeyword != 0 {
					anchors[ri] = append(anchors[ri], span{s, end})
				}
				if r.Anchor&AtLineStart != 0 && trueStart {
					anchors[ri] = append(anchors[ri], span{lastLine.start, end})
				}
				continue
			}
			w := span{lastLine.start, end}
			ws := windows[ri]
			if n := len(ws); n > 0 && ws[n-1].end >= w.start && ws[n-1].start <= w.start {
				ws[n-1].end = max(ws[n-1].end, w.end)
				continue
			}
			windows[ri] = append(ws, w)
		}
	}
}

// cands holds one Scan's candidate windows and anchors by rule index. It is
// reused between calls (through Detector.scratch): allocating them afresh
// for every file was ~8 % of a directory scan's allocations, and the
// collector's work grows with those.
type cands struct {
	windows, anchors [][]span
	hit              []int // rules with a window or an anchor, in first-hit order
}

// keepSpans bounds the span capacity a cands keeps for one rule between
// scans, so that one dense file does not pin its lists for the whole run.
const keepSpans = 64

func (c *cands) reset() {
	for _, ri := range c.hit {
		c.windows[ri] = trimSpans(c.windows[ri])
		c.anchors[ri] = trimSpans(c.anchors[ri])
	}
	c.hit = c.hit[:0]
}

func trimSpans(s []span) []span {
	if cap(s) > keepSpans {
		return nil
	}
	return s[:0]
}

func mergeSpans(ws []span) []span {
	slices.SortFunc(ws, func(a, b span) int { return a.start - b.start })
	out := ws[:1]
	for _, w := range ws[1:] {
		last := &out[len(out)-1]
		if w.start <= last.end {
			last.end = max(last.end, w.end)
			continue
		}
		out = append(out, w)
	}
	return out
}

func (d *Detector) runRule(out []Finding, ri int, data []byte, ws []span) []Finding {
	seen := -1
	for _, w := range ws {
		for _, loc := range d.rules[ri].Regex.FindAllSubmatchIndex(data[w.start:w.end], -1) {
			out, seen = d.found(out, ri, data, loc, w.start, seen)
		}
	}
	return out
}

// runAnchored tries an anchored rule at each place a match may start,
// skipping places inside a match already found.
func (d *Detector) runAnchored(out []Finding, ri int, data []byte, as []span) []Finding {
	slices.SortFunc(as, func(a, b span) int { return a.start - b.start })
	seen, next := -1, 0
	for i, a := range as {
		if a.start < next || i > 0 && a.start == as[i-1].start {
			continue
		}
		loc := d.anchored[ri].FindSubmatchIndex(data[a.start:a.end])
		if loc == nil {
			continue
		}
		next = a.start + loc[1]
		out, seen = d.found(out, ri, data, loc, a.start, seen)
	}
	return out
}

// found turns one regex match (offsets relative to base) into a finding if
// the rule accepts its secret; seen is the start of the last one taken.
func (d *Detector) found(out []Finding, ri int, data []byte, loc []int, base, seen int) ([]Finding, int) {
	r, g := d.rules[ri], d.groups[ri]
	s, e := loc[2*g], loc[2*g+1]
	if s < 0 {
		return out, seen
	}
	if m := loc[0] + base; r.WordStart && m > 0 && isWordByte(data[m-1]) {
		return out, seen
	}
	s, e = s+base, e+base
	if s <= seen {
		return out, seen
	}
	val := data[s:e]
	if !d.accept(r, val) {
		return out, seen
	}
	f := Finding{Rule: r, Secret: secret.New(val), Start: s, End: e, Severity: r.Severity, Pair: -1}
	for i, n := range r.Regex.SubexpNames() {
		if n == "" || n == "secret" || loc[2*i] < 0 {
			continue
		}
		if f.Identity == nil {
			f.Identity = map[string]string{}
		}
		f.Identity[n] = string(data[loc[2*i]+base : loc[2*i+1]+base])
	}
	if r.Identity != nil {
		if f.Identity == nil {
			f.Identity = map[string]string{}
		}
		r.Identity(val, f.Identity)
	}
	return append(out, f), s
}

func (d *Detector) accept(r *Rule, val []byte) bool {
	if len(val) == 0 || IsExample(val) {
		return false
	}
	if r.Validate != nil && !r.Validate(val) {
		return false
	}
	if r.MinEntropy > 0 && Entropy(val) < r.MinEntropy {
		return false
	}
	if r.Generic {
		return !isPlaceholder(val, r.HexValues) && !looksLikeCode(val)
	}
	return !templatePart.Match(val)
}

// dropContained removes a finding whose secret lies inside another's: a
// generic match inside a specific one (a "token: ghp_…" line matches both),
// a shorter match inside a longer one of the same kind, and of two rules
// matching exactly the same span, the one that does not recognise the value
// itself (a docker auth rule and a Docker Hub token rule on one password:
// the token rule names the provider), else the one listed first.
func (d *Detector) dropContained(fs []Finding) []Finding {
	// fs is sorted by Start, so a finding that covers f starts at most
	// longest bytes before it: look back only that far, not at every
	// finding (a long line can hold tens of thousands).
	longest := 0
	for _, f := range fs {
		longest = max(longest, f.End-f.Start)
	}
	// A new slice: filtering in place would overwrite findings the
	// look-back still reads.
	out := make([]Finding, 0, len(fs))
	for i, f := range fs {
		covered := false
		lo := i
		for lo > 0 && fs[lo-1].Start >= f.Start-longest {
			lo--
		}
		for j := lo; j < len(fs) && fs[j].Start <= f.Start && !covered; j++ {
			o := fs[j]
			if i == j || f.End > o.End {
				continue
			}
			switch {
			case f.Rule.Generic && !o.Rule.Generic:
				covered = true
			case f.Rule.Generic != o.Rule.Generic:
			case o.End-o.Start > f.End-f.Start:
				covered = true
			case o.Start == f.Start && o.End == f.End:
				fSelf, oSelf := selfIdentified(f), selfIdentified(o)
				covered = oSelf && !fSelf || oSelf == fSelf && d.byID[o.Rule.ID] < d.byID[f.Rule.ID]
			}
		}
		if !covered {
			out = append(out, f)
		}
	}
	return out
}

// selfIdentified reports whether one of the rule's keywords is part of the
// secret itself (a "dckr_pat_" prefix), rather than of the text around it.
func selfIdentified(f Finding) bool {
	v := bytes.ToLower(f.Secret.Reveal())
	for _, k := range f.Rule.Keywords {
		if bytes.Contains(v, []byte(k)) {
			return true
		}
	}
	return false
}

// pair links each finding of a rule with PairWith to the nearest finding of
// the partner rule within PairDistance bytes, on both sides.
func (d *Detector) pair(fs []Finding) {
	for i := range fs {
		r := fs[i].Rule
		if r.PairWith == "" {
			continue
		}
		best, bestDist := -1, r.PairDistance+1
		for j := range fs {
			if fs[j].Rule.ID != r.PairWith {
				continue
			}
			dist := fs[i].Start - fs[j].Start
			if dist < 0 {
				dist = -dist
			}
			if dist < bestDist {
				best, bestDist = j, dist
			}
		}
		if best < 0 {
			continue
		}
		fs[i].Pair, fs[best].Pair = best, i
		for k, v := range fs[best].Identity {
			if fs[i].Identity == nil {
				fs[i].Identity = map[string]string{}
			}
			if _, ok := fs[i].Identity[k]; !ok {
				fs[i].Identity[k] = v
			}
		}
	}
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}
