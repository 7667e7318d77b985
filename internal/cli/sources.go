package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/source"
	"github.com/rekeyhq/rekey/internal/source/fs"
	"github.com/rekeyhq/rekey/internal/source/git"
	"github.com/rekeyhq/rekey/internal/source/jira"
	"github.com/rekeyhq/rekey/internal/source/live"
	"github.com/rekeyhq/rekey/internal/source/slack"
)

// inputFlags say where scan and trace look.
type inputFlags struct {
	history bool
	sources []string
	exclude []string
	// getenv resolves a live source's token reference (env:VAR).
	getenv func(string) string
}

func (in *inputFlags) register(c *cobra.Command) {
	c.Flags().BoolVar(&in.history, "history", false, "also scan every reachable blob of every ref of git repositories")
	c.Flags().StringArrayVar(&in.sources, "source", nil, "an export or a live API to scan: slack:DIR, jira:FILE, slack-api:env:VAR, jira-api:https://HOST?token=env:VAR[&jql=…] (repeatable; tokens only by reference)")
	c.Flags().StringArrayVar(&in.exclude, "exclude", nil, "skip paths matching this glob, relative to each PATH (repeatable; ** matches any depth)")
}

// fileErrors collects per-file problems so the scan goes on and reports
// each one as a line on stderr.
type fileErrors struct {
	mu    sync.Mutex
	w     func(string)
	count int
}

func (f *fileErrors) add(e *source.FileError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count++
	f.w(tables("rekey: %s: %v", e.Path, e.Err))
}

func (in *inputFlags) build(paths []string, onErr source.ErrorFunc, warn func(string)) ([]source.Source, error) {
	if len(paths) == 0 && len(in.sources) == 0 {
		return nil, usagef("give at least one PATH or --source")
	}
	var out []source.Source
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return nil, errs.E("scan", errs.NotFound, p, unwrapPath(err))
		}
		var skip func(string) bool
		if in.history {
			if repo, ok := git.IsRepository(p); ok {
				g, err := git.New(git.Options{Path: repo, OnError: onErr})
				if err != nil {
					return nil, errs.E("scan history", errs.Invalid, p, err)
				}
				out = append(out, source.WithPathPrefix(g, p))
				// The repository's HEAD is in its history already; the
				// working tree adds only untracked, ignored and modified
				// files.
				if clean, err := git.CleanTracked(repo); err == nil {
					skip = func(rel string) bool { return clean[rel] }
				}
			} else if top, ok := git.Enclosing(p); ok {
				warn(fmt.Sprintf("rekey: --history: %s is inside the repository %s; give %s to scan its history (scanning files only)", p, top, top))
			}
		}
		s, err := fs.New(fs.Options{Root: p, Exclude: in.exclude, OnError: onErr, SkipGitTracked: skip})
		if err != nil {
			return nil, errs.E("scan", errs.Invalid, p, err)
		}
		out = append(out, s)
	}
	for _, spec := range in.sources {
		kind, loc, ok := strings.Cut(spec, ":")
		if !ok || loc == "" {
			return nil, usagef("--source %q: want slack:DIR or jira:FILE", spec)
		}
		if live.IsLive(kind) {
			sp, err := live.ParseSpec(kind, loc)
			if err != nil {
				return nil, err
			}
			s, err := sp.Source(live.Deps{OnError: onErr, Getenv: in.getenv})
			if err != nil {
				return nil, errs.E(kind, errs.Invalid, "", err)
			}
			out = append(out, s)
			continue
		}
		var (
			s         source.Source
			err       error
			notExport error // the error New gives a place not in the kind's layouts
			class     source.Class
		)
		switch kind {
		case "slack":
			s, err = newSource(slack.New(slack.Options{Dir: loc, OnError: onErr}))
			notExport, class = slack.ErrNotExport, source.ClassChat
		case "jira":
			s, err = newSource(jira.New(jira.Options{Path: loc, OnError: onErr}))
			notExport, class = jira.ErrNotExport, source.ClassTicket
		default:
			return nil, usagef("--source %q: unknown kind %q (want slack, jira, slack-api or jira-api)", spec, kind)
		}
		if errors.Is(err, notExport) {
			s, err = in.plain(loc, class, err, onErr, warn)
		} else if err != nil {
			err = errs.E(kind+" export", errs.Invalid, "", err)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// newSource turns a constructor's result into a Source, nil on error.
func newSource[S source.Source](s S, err error) (source.Source, error) {
	if err != nil {
		return nil, err
	}
	return s, nil
}

// plain scans an export that is not in a layout its source reads as plain
// files (JSON strings decoded), so that a copy in it is still found; the
// copies keep the export's class.
func (in *inputFlags) plain(loc string, class source.Class, why error, onErr source.ErrorFunc, warn func(string)) (source.Source, error) {
	s, err := fs.New(fs.Options{Root: loc, Exclude: in.exclude, OnError: onErr})
	if err != nil {
		return nil, errs.E("scan", errs.Invalid, loc, err)
	}
	warn(fmt.Sprintf("rekey: warning: %v; scanning its files as plain text", why))
	return source.WithClass(s, class), nil
}
