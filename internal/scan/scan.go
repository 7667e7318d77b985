// Package scan runs sources through the detector (or, for trace, through
// one secret's matcher) on a pool of workers and turns raw matches into
// findings: positioned, fingerprinted, redacted and deduplicated.
package scan

import (
	"bytes"
	"cmp"
	"context"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/rekeyhq/rekey/internal/detect"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/source"
)

// Finding is one copy of a secret at one place. Its JSON shape is the
// contract of `scan --format json` (docs/formats.md); Secret never encodes.
type Finding struct {
	Rule        string             `json:"rule"`
	Provider    string             `json:"provider"`
	Severity    detect.Severity    `json:"severity"`
	Fingerprint secret.Fingerprint `json:"fingerprint"`
	Preview     string             `json:"preview"`
	Path        string             `json:"path"`
	Line        int                `json:"line"`
	Column      int                `json:"column"`
	Commit      string             `json:"commit"`
	AtHead      bool               `json:"at_head"`
	Class       source.Class       `json:"location_class"`
	Encoding    string             `json:"encoding"`
	Ref         string             `json:"ref"`
	// Match is set by trace only: exact or partial.
	Match       string            `json:"match,omitempty"`
	Description string            `json:"description,omitempty"`
	Identity    map[string]string `json:"identity,omitempty"`
	// ExposedAt is when this copy came to be, where its place records it:
	// the commit's time, the chat message's timestamp.
	ExposedAt *time.Time `json:"exposed_at,omitempty"`
	// PairedWith is the fingerprint of the other half of a paired
	// credential (an AWS secret key's access key id).
	PairedWith string        `json:"paired_with,omitempty"`
	Secret     secret.Secret `json:"-"`
	// Revealed is filled only when the user asked for --reveal.
	Revealed string `json:"secret,omitempty"`

	seq int // history order of Commit, for folding versions
}

// Matcher turns one chunk into findings. The detector-backed one serves
// scan; trace supplies its own.
type Matcher interface {
	Match(ch source.Chunk) []Finding
}

// Prober is a Matcher that can also tell, without side effects, where in
// a chunk it finds something: sources that can skip text (a history's
// versions, source.Prober) run it ahead of emitting.
type Prober interface {
	Matcher
	Probe(ch source.Chunk) []int
}

// offsets turns the findings of ch back into byte offsets of ch.Data,
// from their line and column (source.Position).
func offsets(fs []Finding, ch source.Chunk) []int {
	if len(fs) == 0 {
		return nil
	}
	line0, col0 := max(ch.Loc.Line, 1), max(ch.Loc.Column, 1)
	out := make([]int, 0, len(fs))
	for _, f := range fs {
		if ch.Loc.Flat || f.Line <= line0 {
			out = append(out, max(0, min(len(ch.Data), f.Column-col0)))
			continue
		}
		// The start of line f.Line: past f.Line-line0 newlines.
		off := 0
		for range f.Line - line0 {
			i := bytes.IndexByte(ch.Data[off:], '\n')
			if i < 0 {
				off = len(ch.Data)
				break
			}
			off += i + 1
		}
		out = append(out, min(len(ch.Data), off+f.Column-1))
	}
	return out
}

// Options configure a run.
type Options struct {
	Matcher Matcher
	// Workers scanning chunks in parallel (default GOMAXPROCS).
	Workers int
	// Progress, when set, counts files and bytes as chunks are scanned.
	Progress *Progress
}

// Run walks every source and returns the findings sorted by path, line and
// column, with duplicates (the same secret by the same rule at the same
// place, seen through two sources) removed. Sources are walked one after
// another; each one's chunks are scanned by the worker pool.
func Run(ctx context.Context, opts Options, sources []source.Source) ([]Finding, error) {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// A small buffer keeps memory bounded: at most workers+cap chunks of
	// source.DefaultChunking.Size each are alive at once.
	chunks := make(chan source.Chunk, workers)
	var (
		mu  sync.Mutex
		all []Finding
		wg  sync.WaitGroup
	)
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ch := range chunks {
				fs := opts.Matcher.Match(ch)
				if opts.Progress != nil {
					opts.Progress.chunk(ch)
				}
				if ch.Release != nil {
					ch.Release()
				}
				if len(fs) > 0 {
					mu.Lock()
					all = append(all, fs...)
					mu.Unlock()
				}
			}
		}()
	}
	emit := func(ch source.Chunk) error {
		select {
		case chunks <- ch:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var probe source.Probe
	if p, ok := opts.Matcher.(Prober); ok {
		probe = func(ch source.Chunk) []int {
			offs := p.Probe(ch)
			if opts.Progress != nil {
				opts.Progress.chunk(ch)
			}
			return offs
		}
	}
	var err error
	for _, s := range sources {
		if p, ok := s.(source.Prober); ok && probe != nil {
			err = p.WalkProbed(ctx, probe, emit)
		} else {
			err = s.Walk(ctx, emit)
		}
		if err != nil {
			break
		}
	}
	close(chunks)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	return foldHistory(dedupe(all)), nil
}

// foldHistory reports a secret that stayed at one path through many
// versions of the file once, not once per blob: at its HEAD copy when it
// is still there, else at its oldest copy, and always with the commit that
// first brought it to that path. Two copies in one version (the same key
// pasted twice) stay two: the n-th copy of a version folds with the n-th
// copy of the others.
func foldHistory(fs []Finding) []Finding {
	type key struct {
		path, rule, ref, enc string
		// match keeps a trace's partial copies apart from its exact
		// ones: they share rule and fingerprint, and counting them
		// together gave the exact copy the commit of a later partial.
		match string
		fp    secret.Fingerprint
		nth   int
	}
	type version struct {
		key
		commit string
	}
	nth := map[version]int{}
	best := map[key]int{}
	first := map[key]Finding{}
	var out []Finding
	for _, f := range fs { // sorted by path, line, column: ranks follow the lines
		if f.Commit == "" || f.seq == 0 {
			out = append(out, f)
			continue
		}
		k := key{path: f.Path, rule: f.Rule, ref: f.Ref, enc: f.Encoding, match: f.Match, fp: f.Fingerprint}
		v := version{k, f.Commit}
		k.nth = nth[v]
		nth[v]++
		i, ok := best[k]
		if !ok {
			best[k] = len(out)
			first[k] = f
			out = append(out, f)
			continue
		}
		if f.seq < first[k].seq {
			first[k] = f
		}
		if f.AtHead && !out[i].AtHead || f.AtHead == out[i].AtHead && f.seq < out[i].seq {
			out[i] = f
		}
	}
	for k, i := range best {
		out[i].Commit, out[i].seq, out[i].ExposedAt = first[k].Commit, first[k].seq, first[k].ExposedAt
	}
	// A HEAD copy may have replaced an older one at another line.
	slices.SortFunc(out, compare)
	return out
}

func dedupe(fs []Finding) []Finding {
	slices.SortFunc(fs, compare)
	out := fs[:0]
	for i, f := range fs {
		if i > 0 && sameCopy(fs[i-1], f) {
			prev := &out[len(out)-1]
			// A working-tree file and its HEAD blob are one copy; keep
			// the commit that introduced it.
			if prev.Commit == "" {
				prev.Commit = f.Commit
			}
			continue
		}
		out = append(out, f)
	}
	return out
}

func sameCopy(a, b Finding) bool {
	return a.Path == b.Path && a.Line == b.Line && a.Column == b.Column && a.Rule == b.Rule &&
		a.Fingerprint == b.Fingerprint && a.Ref == b.Ref && a.Encoding == b.Encoding &&
		(a.Commit == b.Commit || a.AtHead && b.AtHead)
}

func compare(a, b Finding) int {
	return cmp.Or(
		cmp.Compare(a.Path, b.Path),
		cmp.Compare(a.Line, b.Line),
		cmp.Compare(a.Column, b.Column),
		cmp.Compare(a.Rule, b.Rule),
		cmp.Compare(a.Fingerprint, b.Fingerprint),
		cmp.Compare(a.Ref, b.Ref),
		cmp.Compare(a.Encoding, b.Encoding),
		// At-head copies first, so the history duplicate folds into them.
		-cmp.Compare(btoi(a.AtHead), btoi(b.AtHead)),
		cmp.Compare(a.Commit, b.Commit),
	)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// place fills a finding's location fields from a chunk location and an
// offset, and returns one copy per place holding the same bytes.
func place(f Finding, data []byte, off int, loc source.Location) []Finding {
	f.Line, f.Column = source.Position(data, off, loc)
	out := []Finding{at(f, loc)}
	for _, also := range loc.Also {
		out = append(out, at(f, also))
	}
	return out
}

func at(f Finding, loc source.Location) Finding {
	f.Path, f.Commit, f.AtHead, f.Class, f.Ref, f.seq = loc.Path, loc.Commit, loc.AtHead, loc.Class, loc.Ref, loc.Seq
	f.ExposedAt = nil
	if !loc.Time.IsZero() {
		t := loc.Time
		f.ExposedAt = &t
	}
	if f.Encoding == "" || f.Encoding == "plain" {
		if loc.Encoding != "" {
			f.Encoding = loc.Encoding
		} else {
			f.Encoding = "plain"
		}
	}
	return f
}
