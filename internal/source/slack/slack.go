// Package slack is the Slack workspace export source. It reads an unzipped
// export — channels.json, groups.json, mpims.json and dms.json listing the
// conversations, and one folder per conversation holding a YYYY-MM-DD.json
// file per day, each a JSON array of messages — and emits one chunk per text
// field of each message: its text, its attachments' text, fallback, pretext,
// title and field values, the text of its blocks, and the name, title and
// preview of its files. Thread replies and edited messages are ordinary
// messages of the day file; a message nested in another (message_changed's
// message and previous_message, a broadcast's root) is read as one too. The
// topic and purpose of each conversation in the list files are emitted as
// well.
//
// A field whose text is part of another field of the same message (the
// blocks and attachment fallback that repeat a message's text) is left out,
// so a secret in a message is reported once, at its longest copy.
//
// Every chunk is Flat: it holds one decoded JSON string, and its Location is
// the day file, the line and byte column of the string's first character
// in that file, class chat, and Ref "#<channel>@<ts>" (the conversation's
// name, or the folder name for a DM, and the message's ts). Text fields in
// Slack's mrkdwn (message and attachment text, mrkdwn text objects in blocks)
// have their &amp; &lt; &gt; escapes decoded, so a secret holding & < or >
// is seen as it was typed.
package slack

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rekeyhq/rekey/internal/source"
	"github.com/rekeyhq/rekey/internal/source/jsonscan"
)

// Options configure a Slack export walk.
type Options struct {
	// Dir is the unzipped export.
	Dir string
	// OnError receives the files that could not be read or parsed; the walk
	// goes on without them.
	OnError source.ErrorFunc
}

// Source walks a Slack export.
type Source struct{ opts Options }

// listFiles name the export's conversations: public channels, private
// channels, group DMs and DMs.
var listFiles = []string{"channels.json", "groups.json", "mpims.json", "dms.json"}

var dayFile = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}\.json$`)

// New checks that Dir is an unzipped Slack export: a directory with at
// least one of the conversation lists.
func New(opts Options) (*Source, error) {
	dir := opts.Dir
	fi, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, iofs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no such file or directory", dir)
		}
		return nil, fmt.Errorf("%s: %w", dir, unwrapPathErr(err))
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s: not a directory: a Slack export is scanned unzipped", dir)
	}
	found := false
	for _, name := range listFiles {
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && fi.Mode().IsRegular() {
			found = true
			break
		}
	}
	if !found {
		return nil, fmt.Errorf("%s: not a Slack export: no channels.json, groups.json, mpims.json or dms.json", dir)
	}
	if opts.OnError == nil {
		opts.OnError = func(*source.FileError) {}
	}
	return &Source{opts: opts}, nil
}

func unwrapPathErr(err error) error {
	var pe *iofs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

type dayJob struct {
	path    string
	channel string
}

// Walk emits the chunks of the conversation lists, then of every day file.
// Day files are read by several goroutines, so emit and OnError may be
// called concurrently.
func (s *Source) Walk(ctx context.Context, emit func(source.Chunk) error) error {
	dir := s.opts.Dir
	names := map[string]string{}
	for _, list := range listFiles {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := filepath.Join(dir, list)
		f, err := os.Open(p)
		if errors.Is(err, iofs.ErrNotExist) {
			continue
		}
		if err != nil {
			s.opts.OnError(&source.FileError{Path: p, Err: unwrapPathErr(err)})
			continue
		}
		err = parseList(ctx, f, p, names, emit)
		f.Close()
		if err := source.FileDone(p, err, s.opts.OnError); err != nil {
			return err
		}
	}

	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, unwrapPathErr(err))
	}
	var jobs []dayJob
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		folder := filepath.Join(dir, e.Name())
		days, err := os.ReadDir(folder)
		if err != nil {
			s.opts.OnError(&source.FileError{Path: folder, Err: unwrapPathErr(err)})
			continue
		}
		channel := e.Name()
		if n, ok := names[channel]; ok {
			channel = n
		}
		for _, d := range days {
			if d.Type().IsRegular() && dayFile.MatchString(d.Name()) {
				jobs = append(jobs, dayJob{path: filepath.Join(folder, d.Name()), channel: channel})
			}
		}
	}
	sort.Slice(jobs, func(i, j int) bool { return jobs[i].path < jobs[j].path })
	return s.readDays(ctx, jobs, emit)
}

func (s *Source) readDays(ctx context.Context, jobs []dayJob, emit func(source.Chunk) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	queue := make(chan dayJob)
	workers := min(runtime.GOMAXPROCS(0), 8, max(len(jobs), 1))
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range queue {
				if err := s.readDay(ctx, j, emit); err != nil {
					once.Do(func() { firstErr = err; cancel() })
				}
			}
		}()
	}
feed:
	for _, j := range jobs {
		select {
		case queue <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(queue)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

func (s *Source) readDay(ctx context.Context, j dayJob, emit func(source.Chunk) error) error {
	if ctx.Err() != nil {
		return nil
	}
	f, err := os.Open(j.path)
	if err != nil {
		s.opts.OnError(&source.FileError{Path: j.path, Err: unwrapPathErr(err)})
		return nil
	}
	defer f.Close()
	return source.FileDone(j.path, parseDay(ctx, f, j.path, j.channel, emit), s.opts.OnError)
}

// field is one string value to scan and where its text starts.
type field struct {
	text      string
	line, col int
	mrkdwn    bool
}

var entities = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">")

// decoded is the field's text as its author typed it.
func (f field) decoded() string {
	if f.mrkdwn && strings.IndexByte(f.text, '&') >= 0 {
		return entities.Replace(f.text)
	}
	return f.text
}

func (f field) chunk(path, ref string) source.Chunk {
	ch := source.Chunk{
		Data: []byte(f.decoded()),
		Loc: source.Location{
			Path: path, Line: f.line, Column: f.col,
			Class: source.ClassChat, Ref: ref, Flat: true, AtHead: true,
		},
	}
	ch.Loc.Time = tsTime(ref)
	return ch
}

func stringField(v jsonscan.Token, mrkdwn bool) (field, bool) {
	if v.Kind != jsonscan.String || v.Str == "" {
		return field{}, false
	}
	return field{text: v.Str, line: v.Line, col: v.Col, mrkdwn: mrkdwn}, true
}

type parser struct {
	s    *jsonscan.Scanner
	ctx  context.Context
	path string
	emit func(source.Chunk) error
}

func (p *parser) send(fields []field, ref string) error {
	for _, f := range fields {
		if err := p.emit(f.chunk(p.path, ref)); err != nil {
			return source.Stop{Err: err}
		}
	}
	return nil
}

// topArray reads a document that must be one array, calling fn for each
// element.
func (p *parser) topArray(what string, fn func(v jsonscan.Token) error) error {
	v, err := p.s.Value()
	if err != nil {
		return err
	}
	if v.Kind != jsonscan.Array {
		return p.s.Errorf(v.Line, v.Col, "not a Slack %s: want a JSON array, found %s", what, v.Describe())
	}
	if err := p.s.Array(v, func(v jsonscan.Token) error {
		if err := p.ctx.Err(); err != nil {
			return source.Stop{Err: err}
		}
		return fn(v)
	}); err != nil {
		return err
	}
	return p.s.End()
}

// parseList reads a conversation list (channels.json and the like): it
// records each conversation's name by its name and id in names, and emits
// its topic and purpose.
func parseList(ctx context.Context, r io.Reader, path string, names map[string]string, emit func(source.Chunk) error) error {
	p := &parser{s: jsonscan.New(r), ctx: ctx, path: path, emit: emit}
	return p.topArray("conversation list", func(v jsonscan.Token) error {
		if v.Kind != jsonscan.Object {
			return p.s.Skip(v)
		}
		var id, name string
		var fields []field
		err := p.s.Object(v, func(k, v jsonscan.Token) error {
			switch k.Str {
			case "id":
				if v.Kind == jsonscan.String {
					id = v.Str
				}
			case "name":
				if v.Kind == jsonscan.String {
					name = v.Str
				}
			case "topic", "purpose":
				if v.Kind != jsonscan.Object {
					return p.s.Skip(v)
				}
				return p.s.Object(v, func(k, v jsonscan.Token) error {
					if f, ok := stringField(v, true); ok && k.Str == "value" {
						fields = append(fields, f)
					}
					return p.s.Skip(v)
				})
			}
			return p.s.Skip(v)
		})
		if err != nil {
			return err
		}
		if name == "" {
			name = id
		}
		if name == "" {
			return nil
		}
		names[name] = name
		if id != "" {
			names[id] = name
		}
		return p.send(fields, "#"+name)
	})
}

// uncovered drops the fields of one message whose text is part of another
// field's: a message's blocks and attachment fallback mostly repeat its
// text, and one copy is enough to find a secret in.
func uncovered(fields []field) []field {
	if len(fields) < 2 {
		return fields
	}
	texts := make([]string, len(fields))
	order := make([]int, len(fields))
	for i, f := range fields {
		texts[i], order[i] = f.decoded(), i
	}
	sort.SliceStable(order, func(a, b int) bool { return len(texts[order[a]]) > len(texts[order[b]]) })
	keep := make([]bool, len(fields))
	var kept []int
next:
	for _, i := range order {
		for _, k := range kept {
			if strings.Contains(texts[k], texts[i]) {
				continue next
			}
		}
		kept = append(kept, i)
		keep[i] = true
	}
	out := fields[:0:0]
	for i, f := range fields {
		if keep[i] {
			out = append(out, f)
		}
	}
	return out
}

// message is one message's fields, and those of messages nested in it.
type message struct {
	ts     string
	fields []field
	nested []*message
}

// parseDay reads one day file of channel and emits its messages' chunks.
func parseDay(ctx context.Context, r io.Reader, path, channel string, emit func(source.Chunk) error) error {
	p := &parser{s: jsonscan.New(r), ctx: ctx, path: path, emit: emit}
	return p.topArray("day file", func(v jsonscan.Token) error {
		if v.Kind != jsonscan.Object {
			return p.s.Skip(v)
		}
		m := &message{}
		if err := p.message(v, m); err != nil {
			return err
		}
		return p.sendMessage(m, "#"+channel, "")
	})
}

func (p *parser) sendMessage(m *message, channel, ts string) error {
	if m.ts != "" {
		ts = m.ts
	}
	ref := channel
	if ts != "" {
		ref += "@" + ts
	}
	if err := p.send(uncovered(m.fields), ref); err != nil {
		return err
	}
	for _, n := range m.nested {
		if err := p.sendMessage(n, channel, ts); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) message(open jsonscan.Token, m *message) error {
	return p.s.Object(open, func(k, v jsonscan.Token) error {
		switch k.Str {
		case "text":
			if f, ok := stringField(v, true); ok {
				m.fields = append(m.fields, f)
			}
		case "ts":
			if v.Kind == jsonscan.String {
				m.ts = v.Str
			}
		case "attachments":
			return p.objects(v, func(v jsonscan.Token) error { return p.attachment(v, &m.fields) })
		case "blocks":
			return p.blockTexts(v, &m.fields)
		case "files":
			return p.objects(v, func(v jsonscan.Token) error { return p.file(v, &m.fields) })
		case "message", "previous_message", "root":
			if v.Kind == jsonscan.Object {
				n := &message{}
				m.nested = append(m.nested, n)
				return p.message(v, n)
			}
		}
		return p.s.Skip(v)
	})
}

// objects calls fn for each object of the array v (anything else is
// skipped).
func (p *parser) objects(v jsonscan.Token, fn func(v jsonscan.Token) error) error {
	if v.Kind != jsonscan.Array {
		return p.s.Skip(v)
	}
	return p.s.Array(v, func(v jsonscan.Token) error {
		if v.Kind != jsonscan.Object {
			return p.s.Skip(v)
		}
		return fn(v)
	})
}

func (p *parser) attachment(open jsonscan.Token, out *[]field) error {
	return p.s.Object(open, func(k, v jsonscan.Token) error {
		switch k.Str {
		case "text", "fallback", "pretext", "title":
			if f, ok := stringField(v, true); ok {
				*out = append(*out, f)
			}
		case "fields":
			return p.objects(v, func(v jsonscan.Token) error {
				return p.s.Object(v, func(k, v jsonscan.Token) error {
					if f, ok := stringField(v, true); ok && k.Str == "value" {
						*out = append(*out, f)
					}
					return p.s.Skip(v)
				})
			})
		case "blocks", "message_blocks":
			return p.blockTexts(v, out)
		}
		return p.s.Skip(v)
	})
}

func (p *parser) file(open jsonscan.Token, out *[]field) error {
	return p.s.Object(open, func(k, v jsonscan.Token) error {
		switch k.Str {
		case "name", "title", "preview":
			if f, ok := stringField(v, false); ok {
				*out = append(*out, f)
			}
		}
		return p.s.Skip(v)
	})
}

// blockTexts collects every string under a "text" key in the value v, at
// any depth: rich_text elements, section and header text objects, context
// elements. A text object of type mrkdwn is escaped as message text is.
func (p *parser) blockTexts(v jsonscan.Token, out *[]field) error {
	switch v.Kind {
	case jsonscan.Array:
		return p.s.Array(v, func(v jsonscan.Token) error { return p.blockTexts(v, out) })
	case jsonscan.Object:
		var typ string
		var own field
		has := false
		err := p.s.Object(v, func(k, v jsonscan.Token) error {
			switch {
			case k.Str == "type" && v.Kind == jsonscan.String:
				typ = v.Str
				return nil
			case k.Str == "text" && v.Kind == jsonscan.String:
				own, has = stringField(v, false)
				return nil
			}
			return p.blockTexts(v, out)
		})
		if err != nil {
			return err
		}
		if has {
			own.mrkdwn = typ == "mrkdwn"
			*out = append(*out, own)
		}
	}
	return nil
}

// tsTime is the time of a message from its Slack timestamp ("seconds.micros"
// after the "@" of a ref); zero when the ref has none.
func tsTime(ref string) time.Time {
	_, ts, ok := strings.Cut(ref, "@")
	if !ok {
		return time.Time{}
	}
	secs, frac, _ := strings.Cut(ts, ".")
	s, err := strconv.ParseInt(secs, 10, 64)
	if err != nil || s <= 0 {
		return time.Time{}
	}
	us, _ := strconv.ParseInt((frac + "000000")[:6], 10, 64)
	return time.Unix(s, us*1000).UTC()
}
