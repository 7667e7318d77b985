package scan

import (
	"fmt"
	"os"

	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/source"
	"github.com/rekeyhq/rekey/internal/source/fs"
	"github.com/rekeyhq/rekey/internal/source/git"
	"github.com/rekeyhq/rekey/internal/source/jira"
	"github.com/rekeyhq/rekey/internal/source/live"
	"github.com/rekeyhq/rekey/internal/source/slack"
)

// InventorySources builds the inventory's sources as incident open traces them: a
// git source's history when it asks for it, plus its working tree
// (without the tracked, unchanged files its history covers), directories,
// Slack and Jira exports. A source that cannot be opened here is passed
// to warn and skipped.
func InventorySources(inv *inventory.Inventory, onErr source.ErrorFunc, warn func(string), getenv func(string) string) []source.Source {
	if onErr == nil {
		onErr = func(e *source.FileError) { warn("rekey: " + e.Error()) }
	}
	var out []source.Source
	for _, src := range inv.Sources {
		p := inv.Abs(src.Path)
		bad := func(err error) {
			where := src.Path
			if where == "" {
				where = src.Type + " " + src.URL
			}
			warn(fmt.Sprintf("rekey: %s:%d: source %s: %v", inv.File, src.Pos.Line, where, err))
		}
		switch src.Type {
		case "git", "dir":
			if _, err := os.Stat(p); err != nil {
				bad(err)
				continue
			}
			var skip func(string) bool
			if src.Type == "git" && src.History {
				if top, ok := git.IsRepository(p); ok {
					g, err := git.New(git.Options{Path: top, OnError: onErr})
					if err != nil {
						bad(err)
						continue
					}
					out = append(out, source.WithPathPrefix(g, p))
					if clean, err := git.CleanTracked(top); err == nil {
						skip = func(rel string) bool { return clean[rel] }
					}
				}
			}
			s, err := fs.New(fs.Options{Root: p, OnError: onErr, SkipGitTracked: skip})
			if err != nil {
				bad(err)
				continue
			}
			out = append(out, s)
		case "slack":
			s, err := slack.New(slack.Options{Dir: p, OnError: onErr})
			if err != nil {
				bad(err)
				continue
			}
			out = append(out, s)
		case "jira":
			s, err := jira.New(jira.Options{Path: p, OnError: onErr})
			if err != nil {
				bad(err)
				continue
			}
			out = append(out, s)
		case inventory.SourceSlackAPI, inventory.SourceJiraAPI:
			s, err := live.FromInventory(src).Source(live.Deps{OnError: onErr, Getenv: getenv})
			if err != nil {
				bad(err)
				continue
			}
			out = append(out, s)
		}
	}
	return out
}
