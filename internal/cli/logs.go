package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"sync"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/logs"
	logsall "github.com/rekeyhq/rekey/internal/logs/all"
	"github.com/rekeyhq/rekey/internal/logs/jsonl"
	"github.com/rekeyhq/rekey/internal/logs/postgres"
	"github.com/rekeyhq/rekey/internal/store"
)

// logSpec is a set of log files and, when known, their format.
type logSpec struct {
	glob   string
	format string // "" detects each file's format from its content
	prefix string // log_line_prefix, for postgres-stderr
	// fields maps a jsonl log's records (the inventory's fields:).
	fields *inventory.JSONFields
}

// logSpecs are the log sets a command reads: the globs given on its
// command line (in format, "" to detect each file's), then the
// inventory's logs: entries (inv may be nil).
func logSpecs(globs []string, format string, inv *inventory.Inventory) []logSpec {
	var specs []logSpec
	for _, l := range globs {
		specs = append(specs, logSpec{glob: l, format: format})
	}
	if inv != nil {
		for _, l := range inv.Logs {
			specs = append(specs, logSpec{glob: inv.Abs(l.Path), format: l.Type, prefix: l.Prefix, fields: l.Fields})
		}
	}
	return specs
}

// expandLogs turns globs (with ** for any depth) into files, refusing a
// glob that matches nothing: a mistyped path must not look like a clean
// review.
func expandLogs(specs []logSpec) ([]logSpec, error) {
	var out []logSpec
	for _, s := range specs {
		files, err := doublestar.FilepathGlob(s.glob, doublestar.WithFilesOnly())
		if err != nil {
			return nil, usagef("--logs %q: %v", s.glob, err)
		}
		if len(files) == 0 {
			return nil, errs.New("logs", errs.NotFound, s.glob, "matches no file")
		}
		sort.Strings(files)
		for _, f := range files {
			out = append(out, logSpec{glob: f, format: s.format, prefix: s.prefix, fields: s.fields})
		}
	}
	return out, nil
}

// logTally is what reading a set of log files came to, file by file:
// "0 events" from logs that could not be read is not a clean review, and
// the result says which it was.
type logTally struct {
	Read        int `json:"read"`
	Unreadable  int `json:"unreadable"`
	Unparseable int `json:"unparseable"`
}

func (t *logTally) add(o fileOutcome) {
	switch o {
	case fileRead:
		t.Read++
	case fileUnreadable:
		t.Unreadable++
	case fileUnparseable:
		t.Unparseable++
	}
}

func (t logTally) String() string {
	return fmt.Sprintf("%s read, %d unreadable, %d unparseable", plural(t.Read, "log file", "log files"), t.Unreadable, t.Unparseable)
}

// check is an input error when files were given and none could be read.
func (t logTally) check() error {
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

// readEvents parses every file and keeps the events keep accepts. A file
// that cannot be read, or whose format cannot be told, is reported and
// skipped; malformed records are counted and reported per file, never
// fatal. When no file could be read it fails.
func readEvents(ctx context.Context, files []logSpec, keep func(logs.Event) bool, warn func(string)) ([]store.Event, error) {
	var out []store.Event
	tally, err := eachEvent(ctx, files, logsall.Parsers, func(e logs.Event) error {
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
		err = tally.check()
	}
	return out, err
}

// eachEvent streams every event of files to emit, choosing each file's
// parser from parsers (by the spec's format, or by sniffing its content),
// and tallies how each file went. Nothing is held beyond one record per
// file being read. With workers > 1 that many files are read at once
// (decompression is most of the work), each worker with parsers of its
// own; emit and warn are then called from one goroutine at a time, in no
// particular order across files.
func eachEvent(ctx context.Context, files []logSpec, parsers func() []logs.Parser, emit func(logs.Event) error, warn func(string), workers int) (logTally, error) {
	var tally logTally
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
	next := make(chan logSpec)
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
func readEventsFrom(ctx context.Context, f logSpec, parsers []logs.Parser, emit func(logs.Event) error, warn func(string)) (fileOutcome, error) {
	var p logs.Parser
	var err error
	if f.prefix != "" {
		if p, err = postgres.NewStderr(f.prefix); err != nil {
			return 0, usagef("log_line_prefix %q for %s: %v", f.prefix, f.glob, err)
		}
	} else if f.fields != nil {
		m := f.fields
		if p, err = jsonl.New(jsonl.Mapping{Time: m.Time, TimeFormat: m.TimeFormat, Credential: m.Credential, Identity: m.Identity,
			Source: m.Source, UserAgent: m.UserAgent, Application: m.Application, Action: m.Action, Outcome: m.Outcome,
			Failure: m.Failure}); err != nil {
			return 0, usagef("jsonl fields for %s: %v", f.glob, err)
		}
	} else if f.format == "jsonl" {
		return 0, usagef("%s: jsonl logs need a field mapping; declare the log in the inventory's logs: with fields:", f.glob)
	} else if f.format != "" {
		if p = logsall.ByName(parsers, f.format); p == nil {
			return 0, usagef("log format %q for %s: not one rekey reads", f.format, f.glob)
		}
	}
	unreadable := func(err error) (fileOutcome, error) {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		// The line names the file once: drop the path the error repeats.
		var pe *errs.Error
		if errors.As(err, &pe) && pe.Path != "" {
			err = pe.Err
		}
		warn(tables("rekey: %s: unreadable, skipped: %v", f.glob, unwrapPath(err)))
		return fileUnreadable, nil
	}
	br, err := logs.Open(f.glob)
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
			warn(tables("rekey: %s: not a log format rekey reads, skipped; give its format to read it", f.glob))
			return fileUnparseable, nil
		}
	}
	file, _ := filepath.Abs(f.glob)
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
		warn(tables("rekey: %s: %d malformed %s record(s) skipped, first at line %d: %s", f.glob, st.MalformedCount, p.Name(), first.Line, first.Reason))
		if st.Events == 0 && st.MalformedCount >= st.Records {
			return fileUnparseable, nil
		}
	}
	return fileRead, nil
}
