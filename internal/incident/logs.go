package incident

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/logs"
	logsall "github.com/rekeyhq/rekey/internal/logs/all"
	"github.com/rekeyhq/rekey/internal/logs/cloudtrail"
	"github.com/rekeyhq/rekey/internal/logs/jsonl"
	"github.com/rekeyhq/rekey/internal/logs/postgres"
	"github.com/rekeyhq/rekey/internal/review"
	"github.com/rekeyhq/rekey/internal/store"
)

// LogSet is a set of log files and, when known, their format: the one
// place open, review and the engine's login check read logs through.
type LogSet struct {
	Glob   string
	Format string // "" detects each file's format from its content
	Prefix string // log_line_prefix, for postgres-stderr
	// Fields maps a jsonl log's records (the inventory's fields:).
	Fields *inventory.JSONFields
}

// LogSets are the log sets a command reads: globs (in format, "" to
// detect each file's), then the inventory's logs: entries (inv may be
// nil).
func LogSets(globs []string, format string, inv *inventory.Inventory) []LogSet {
	var sets []LogSet
	for _, l := range globs {
		sets = append(sets, LogSet{Glob: l, Format: format})
	}
	if inv != nil {
		for _, l := range inv.Logs {
			sets = append(sets, LogSet{Glob: inv.Abs(l.Path), Format: l.Type, Prefix: l.Prefix, Fields: l.Fields})
		}
	}
	return sets
}

// ExpandLogs turns globs (with ** for any depth) into one LogSet per
// file, refusing a glob that matches nothing: a mistyped path must not
// look like a clean review.
func ExpandLogs(sets []LogSet) ([]LogSet, error) {
	var out []LogSet
	for _, s := range sets {
		files, err := doublestar.FilepathGlob(s.Glob, doublestar.WithFilesOnly())
		if err != nil {
			return nil, errs.E("logs", errs.Invalid, s.Glob, err)
		}
		if len(files) == 0 {
			return nil, errs.New("logs", errs.NotFound, s.Glob, "matches no file")
		}
		sort.Strings(files)
		for _, f := range files {
			out = append(out, LogSet{Glob: f, Format: s.Format, Prefix: s.Prefix, Fields: s.Fields})
		}
	}
	return out, nil
}

// LogTally is what reading a set of log files came to, file by file:
// "0 events" from logs that could not be read is not a clean review, and
// the result says which it was.
type LogTally struct {
	Read        int `json:"read"`
	Unreadable  int `json:"unreadable"`
	Unparseable int `json:"unparseable"`
}

func (t *LogTally) add(o fileOutcome) {
	switch o {
	case fileRead:
		t.Read++
	case fileUnreadable:
		t.Unreadable++
	case fileUnparseable:
		t.Unparseable++
	}
}

func (t LogTally) String() string {
	files := "log files"
	if t.Read == 1 {
		files = "log file"
	}
	return fmt.Sprintf("%d %s read, %d unreadable, %d unparseable", t.Read, files, t.Unreadable, t.Unparseable)
}

// Check is an input error when files were given and none could be read.
func (t LogTally) Check() error {
	if t.Read == 0 && t.Unreadable+t.Unparseable > 0 {
		return errs.New("logs", errs.Invalid, "", "no log file could be read ("+t.String()+")")
	}
	return nil
}

type fileOutcome int

const (
	fileRead fileOutcome = iota
	fileUnreadable
	fileUnparseable
)

// ReadEvents parses every file and keeps the events keep accepts, as the
// store holds them. A file that cannot be read, or whose format cannot
// be told, is warned about and skipped; malformed records are counted
// and warned about per file, never fatal. When no file could be read it
// fails.
func ReadEvents(ctx context.Context, files []LogSet, keep func(logs.Event) bool, warn func(string)) ([]store.Event, error) {
	var out []store.Event
	tally, err := EachEvent(ctx, files, logsall.Parsers, func(e logs.Event) error {
		if keep(e) {
			out = append(out, store.Event{
				Time: e.Time, Credential: e.Credential, Identity: e.Identity, Source: e.Source,
				UserAgent: e.UserAgent, Application: e.Application, Action: e.Action,
				Outcome: string(e.Outcome), File: e.File, Line: e.Line, Detail: e.Detail,
			})
		}
		return nil
	}, warn, 1)
	if err == nil {
		err = tally.Check()
	}
	return out, err
}

// logins returns the engine's check of successful logins in inv's logs
// (engine.Deps.Logins), for verifying consumers that hold no session
// open; nil when inv names no logs.
func logins(inv *inventory.Inventory) func(ctx context.Context, system, login string, since time.Time) ([]logs.Event, error) {
	if len(inv.Logs) == 0 {
		return nil
	}
	return func(ctx context.Context, _, login string, since time.Time) ([]logs.Event, error) {
		files, err := ExpandLogs(LogSets(nil, "", inv))
		if err != nil {
			return nil, nil // a log not there (yet) is no evidence either way
		}
		var out []logs.Event
		_, err = EachEvent(ctx, files, logsall.Parsers, func(e logs.Event) error {
			if e.Credential == login && e.Action == "connect" && e.Outcome == logs.Success && !e.Time.Before(since) {
				out = append(out, e)
			}
			return nil
		}, func(string) {}, 1)
		return out, err
	}
}

// EachEvent streams every event of files to emit, choosing each file's
// parser from parsers (by the set's format, or by sniffing its content),
// and tallies how each file went. Nothing is held beyond one record per
// file being read. With workers > 1 that many files are read at once
// (decompression is most of the work), each worker with parsers of its
// own; emit and warn are then called from one goroutine at a time, in no
// particular order across files. warn gets one line per file that was
// skipped or held malformed records, naming the file.
func EachEvent(ctx context.Context, files []LogSet, parsers func() []logs.Parser, emit func(logs.Event) error, warn func(string), workers int) (LogTally, error) {
	var tally LogTally
	if workers <= 1 || len(files) < 2 {
		ps := parsers()
		for _, f := range files {
			o, err := readEventsFrom(ctx, f, ps, emit, warn)
			if err != nil {
				return tally, err
			}
			tally.add(o)
		}
		return tally, nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var mu sync.Mutex
	lockedEmit := func(e logs.Event) error {
		mu.Lock()
		defer mu.Unlock()
		return emit(e)
	}
	lockedWarn := func(line string) {
		mu.Lock()
		defer mu.Unlock()
		warn(line)
	}
	next := make(chan LogSet)
	var wg sync.WaitGroup
	for range min(workers, len(files)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ps := parsers()
			for f := range next {
				o, err := readEventsFrom(ctx, f, ps, lockedEmit, lockedWarn)
				if err != nil {
					cancel(err)
					continue
				}
				mu.Lock()
				tally.add(o)
				mu.Unlock()
			}
		}()
	}
feed:
	for _, f := range files {
		select {
		case next <- f:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return tally, err
	}
	return tally, ctx.Err()
}

// readEventsFrom reads one file. A file that cannot be opened or read is
// unreadable, one whose format cannot be told or whose every record is
// malformed is unparseable: both are warned about and the review goes on.
// Errors are for what no other file would fix: a bad format name or field
// mapping, an interruption, emit failing.
func readEventsFrom(ctx context.Context, f LogSet, parsers []logs.Parser, emit func(logs.Event) error, warn func(string)) (fileOutcome, error) {
	var p logs.Parser
	var err error
	if f.Prefix != "" {
		if p, err = postgres.NewStderr(f.Prefix); err != nil {
			return 0, errs.E("logs", errs.Invalid, f.Glob, fmt.Errorf("log_line_prefix %q: %w", f.Prefix, err))
		}
	} else if f.Fields != nil {
		m := f.Fields
		if p, err = jsonl.New(jsonl.Mapping{Time: m.Time, TimeFormat: m.TimeFormat, Credential: m.Credential, Identity: m.Identity,
			Source: m.Source, UserAgent: m.UserAgent, Application: m.Application, Action: m.Action, Outcome: m.Outcome,
			Failure: m.Failure}); err != nil {
			return 0, errs.E("logs", errs.Invalid, f.Glob, fmt.Errorf("jsonl fields: %w", err))
		}
	} else if f.Format == "jsonl" {
		return 0, errs.New("logs", errs.Invalid, f.Glob, "jsonl logs need a field mapping; declare the log in the inventory's logs: with fields:")
	} else if f.Format != "" {
		if p = logsall.ByName(parsers, f.Format); p == nil {
			return 0, errs.New("logs", errs.Invalid, f.Glob, fmt.Sprintf("log format %q: not one rekey reads", f.Format))
		}
	}
	unreadable := func(err error) (fileOutcome, error) {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		// The line names the file once: drop the path the error repeats.
		var ee *errs.Error
		if errors.As(err, &ee) && ee.Path != "" {
			err = ee.Err
		}
		var pe *iofs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		warn(fmt.Sprintf("%s: unreadable, skipped: %v", f.Glob, err))
		return fileUnreadable, nil
	}
	br, err := logs.Open(f.Glob)
	if err != nil {
		return unreadable(err)
	}
	defer br.Close()
	if p == nil {
		head, err := br.Peek(logs.HeadSize)
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
			return unreadable(err)
		}
		if p = logs.Detect(head, parsers); p == nil {
			warn(fmt.Sprintf("%s: not a log format rekey reads, skipped; give its format to read it", f.Glob))
			return fileUnparseable, nil
		}
	}
	file, _ := filepath.Abs(f.Glob)
	emitErr := error(nil)
	st, err := p.Parse(ctx, file, br, func(e logs.Event) error {
		if err := emit(e); err != nil {
			emitErr = err
			return err
		}
		return nil
	})
	switch {
	case emitErr != nil:
		return 0, emitErr
	case err != nil:
		return unreadable(fmt.Errorf("%s: %w", p.Name(), err))
	}
	if st.MalformedCount > 0 {
		first := st.Malformed[0]
		warn(fmt.Sprintf("%s: %d malformed %s record(s) skipped, first at line %d: %s", f.Glob, st.MalformedCount, p.Name(), first.Line, first.Reason))
		if st.Events == 0 && st.MalformedCount >= st.Records {
			return fileUnparseable, nil
		}
	}
	return fileRead, nil
}

// ReviewLogs streams the logs through a reviewer, then reads them again
// for the credentials it derived (up to a chain of three), so their use is
// reported under them. CloudTrail files are read with a byte-level
// prefilter on the keys of each pass. say reports progress; warn gets the
// lines of files skipped.
func ReviewLogs(ctx context.Context, cfg review.Config, files []LogSet, say func(string, ...any), warn func(string)) (review.Report, LogTally, error) {
	r := review.New(cfg)
	say("reading %d log file(s) for %s", len(files), cfg.Credential)
	workers := runtime.GOMAXPROCS(0)
	n := 0
	keys := review.FilterKeys(cfg.Credential)
	tally, err := EachEvent(ctx, files, func() []logs.Parser { return filtered(keys) }, func(e logs.Event) error {
		n++
		r.Add(e)
		return nil
	}, warn, workers)
	if err == nil {
		err = tally.Check()
	}
	if err != nil {
		return review.Report{}, tally, err
	}
	for keys := r.NextRelated(); len(keys) > 0; keys = r.NextRelated() {
		// A credential cannot be used before it exists: files delivered
		// before the earliest of these was created are not read again.
		again := deliveredSince(files, r.RelatedSince())
		say("reading %d of the %d file(s) again for %d key(s) of derived credentials", len(again), len(files), len(keys))
		// The first pass reported malformed records already.
		if _, err := EachEvent(ctx, again, func() []logs.Parser { return filtered(keys) }, func(e logs.Event) error { r.AddRelated(e); return nil },
			func(string) {}, workers); err != nil {
			return review.Report{}, tally, err
		}
	}
	rep := r.Result()
	say("%d event(s) read from %s; %d of %s, %d finding(s)", n, tally, rep.Events, cfg.Credential, len(rep.Findings))
	return rep, tally, nil
}

// deliveredSince keeps the files that may hold events at or after since:
// all of them, except CloudTrail files whose name says they were delivered
// before it.
func deliveredSince(files []LogSet, since time.Time) []LogSet {
	if since.IsZero() {
		return files
	}
	var out []LogSet
	for _, f := range files {
		if at, ok := cloudtrail.DeliveredAt(f.Glob); ok && at.Before(since.Truncate(time.Minute)) {
			continue
		}
		out = append(out, f)
	}
	return out
}

// filtered is the parser list with CloudTrail's prefiltered on keys.
func filtered(keys []string) []logs.Parser {
	ps := logsall.Parsers()
	for i, p := range ps {
		if p.Name() == "cloudtrail" {
			ps[i] = cloudtrail.NewFiltered(keys...)
		}
	}
	return ps
}
