package jiraapi

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/source"
	"github.com/rekeyhq/rekey/internal/source/jira"
)

// Options configure a live Jira walk.
type Options struct {
	Client *Client
	// JQL selects the issues (DefaultJQL when empty).
	JQL string
	// OnError receives the issues whose comments could not be read; the
	// walk goes on.
	OnError source.ErrorFunc
}

// Source walks the issues a JQL search finds.
type Source struct{ opts Options }

// New returns a live Jira source; it calls nothing until Walk.
func New(opts Options) *Source {
	if opts.OnError == nil {
		opts.OnError = func(*source.FileError) {}
	}
	return &Source{opts: opts}
}

// PathOf is the Location.Path of an issue's texts: its browse URL. A live
// issue has no file; Line and Column are positions in the field's or
// comment's text.
func (c *Client) PathOf(key string) string {
	return strings.TrimSuffix(c.URL, "/") + "/browse/" + key
}

// Walk searches, then reads each issue's text fields and comments. A
// search that fails (a refused token, bad JQL) ends the walk; an issue
// whose comments cannot be read is passed to OnError.
func (s *Source) Walk(ctx context.Context, emit func(source.Chunk) error) error {
	c := s.opts.Client
	return c.Search(ctx, s.opts.JQL, func(issues []Issue) error {
		for _, is := range issues {
			key := is.Key
			if key == "" {
				key = is.ID
			}
			path := c.PathOf(key)
			created := fieldTime(is.Fields["created"])
			for _, f := range TextFields {
				if err := emitTexts(is.Fields[f], path, key, created, emit); err != nil {
					return err
				}
			}
			err := c.Comments(ctx, key, func(cs []Comment) error {
				for _, cm := range cs {
					if err := emitTexts(cm.Body, path, key+"#comment-"+cm.ID, jira.ParseTime(cm.Created), emit); err != nil {
						return err
					}
				}
				return nil
			})
			var st source.Stop
			switch {
			case errors.As(err, &st):
				return st.Err
			case err != nil && ctx.Err() != nil:
				return ctx.Err()
			case err != nil:
				s.opts.OnError(&source.FileError{Path: path, Err: err})
			}
		}
		return nil
	})
}

func emitTexts(raw json.RawMessage, path, ref string, at time.Time, emit func(source.Chunk) error) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	texts, err := jira.Text(raw)
	if err != nil {
		return nil // a field of another shape (an object without text) holds nothing to scan
	}
	for _, t := range texts {
		err := emit(source.Chunk{Data: []byte(t), Loc: source.Location{
			Path: path, Line: 1, Column: 1, Class: source.ClassTicket, Ref: ref, AtHead: true, Time: at,
		}})
		if err != nil {
			return source.Stop{Err: err}
		}
	}
	return nil
}

func fieldTime(raw json.RawMessage) time.Time {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return time.Time{}
	}
	return jira.ParseTime(s)
}
