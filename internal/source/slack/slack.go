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
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rekeyhq/rekey/internal/jsonscan"
	"github.com/rekeyhq/rekey/internal/source"
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

// ErrNotExport is returned by New for a directory that holds nothing a
// Slack export tool writes; the caller may scan it as plain files instead.
var ErrNotExport = errors.New("not a Slack export")

// maxDepth is how deep below Dir conversations are looked for: an export
// unzipped into a folder of its own (Dir/workspace/channel/day.json).
const maxDepth = 3

// New checks that Dir is an unzipped Slack export in one of the layouts
// export tools write:
//   - Slack's workspace export: conversation lists (channels.json…) and one
//     folder of day files per conversation;
//   - the same without its lists (an export cut down to a few channels, or
//     channels under a subfolder), a folder's name naming its channel;
//   - a single conversation's folder: day files at the top, named for the
//     folder;
//   - slackdump's dump output: one JSON file per conversation,
//     {"channel_id", "name", "messages": […]} with thread replies nested in
//     "slackdump_thread_replies".
//
// A directory holding none of these is ErrNotExport.
func New(opts Options) (*Source, error) {
	dir := opts.Dir
	fi, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, iofs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no such file or directory", dir)
		}
		return nil, fmt.Errorf("%s: %w", dir, source.UnwrapPathErr(err))
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s: not a directory: a Slack export is scanned unzipped", dir)
	}
	if opts.OnError == nil {
		opts.OnError = func(*source.FileError) {}
	}
	s := &Source{opts: opts}
	l, err := s.layout(func(*source.FileError) {})
	if err != nil {
		return nil, err
	}
	if len(l.lists) == 0 && len(l.days) == 0 && len(l.dumps) == 0 {
		return nil, fmt.Errorf("%s: %w: no conversation list (channels.json…), no YYYY-MM-DD.json day files and no slackdump conversation file", dir, ErrNotExport)
	}
	return s, nil
}

// layout is what a walk of the export found.
type layout struct {
	lists []string // conversation lists, at any depth
	days  []dayJob // channel is the folder name, mapped through the lists by Walk
	dumps []string // slackdump conversation files
}

// nonConversation are the JSON files of a workspace export that hold no
// messages.
var nonConversation = map[string]bool{
	"users.json": true, "integration_logs.json": true, "canvases.json": true, "huddles.json": true,
	"org_users.json": true, "file_conversations.json": true, "lists.json": true,
}

// layout finds the export's files, up to maxDepth folders down; hidden
// folders and slackdump's attachment folders are left out.
func (s *Source) layout(onErr source.ErrorFunc) (layout, error) {
	root := s.opts.Dir
	var l layout
	err := source.WalkDir(root, onErr, func(p string, d iofs.DirEntry) error {
		rel, _ := filepath.Rel(root, p)
		depth := strings.Count(filepath.ToSlash(rel), "/") + 1
		name := d.Name()
		if d.IsDir() {
			if p != root && (strings.HasPrefix(name, ".") || name == "attachments" || name == "__uploads" || depth > maxDepth) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		switch {
		case slices.Contains(listFiles, name):
			l.lists = append(l.lists, p)
		case dayFile.MatchString(name):
			channel := filepath.Base(filepath.Dir(p))
			l.days = append(l.days, dayJob{path: p, channel: channel})
		case strings.HasSuffix(name, ".json") && !nonConversation[name] && isDump(p):
			l.dumps = append(l.dumps, p)
		}
		return nil
	})
	sort.Slice(l.days, func(i, j int) bool { return l.days[i].path < l.days[j].path })
	return l, err
}

// isDump tells a slackdump conversation file by its first bytes: an
// object whose first members include "channel_id" or "messages".
func isDump(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, _ := io.ReadFull(f, head)
	head = bytes.TrimLeft(head[:n], " \t\r\n\ufeff")
	return len(head) > 0 && head[0] == '{' && (bytes.Contains(head, []byte(`"channel_id"`)) || bytes.Contains(head, []byte(`"messages"`)))
}

type dayJob struct {
	path    string
	channel string
	// dump marks a slackdump conversation file; names maps channel ids
	// to names from the export's lists, for a dump without a name.
	dump  bool
	names map[string]string
}

// Walk emits the chunks of the conversation lists, then of every day file
// and slackdump conversation. They are read by several goroutines, so emit
// and OnError may be called concurrently.
func (s *Source) Walk(ctx context.Context, emit func(source.Chunk) error) error {
	l, err := s.layout(s.opts.OnError)
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, p := range l.lists {
		if err := ctx.Err(); err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			s.opts.OnError(&source.FileError{Path: p, Err: source.UnwrapPathErr(err)})
			continue
		}
		err = parseList(ctx, f, p, names, emit)
		f.Close()
		if err := source.FileDone(p, err, s.opts.OnError); err != nil {
			return err
		}
	}
	jobs := l.days
	for i, j := range jobs {
		if n, ok := names[j.channel]; ok {
			jobs[i].channel = n
		}
	}
	for _, p := range l.dumps {
		jobs = append(jobs, dayJob{path: p, channel: strings.TrimSuffix(filepath.Base(p), ".json"), dump: true, names: names})
	}
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
		s.opts.OnError(&source.FileError{Path: j.path, Err: source.UnwrapPathErr(err)})
		return nil
	}
	defer f.Close()
	emitted := false
	counted := func(ch source.Chunk) error { emitted = true; return emit(ch) }
	if j.dump {
		err = parseDump(ctx, f, j, counted)
	} else {
		err = parseDay(ctx, f, j.path, j.channel, counted)
	}
	if err != nil && !emitted {
		// A file that cannot be read as messages is still searched.
		return source.Fallback(j.path, source.ClassChat, err, s.opts.OnError, emit)
	}
	return source.FileDone(j.path, err, s.opts.OnError)
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

// parseDump reads one slackdump conversation file: an object with the
// conversation's "name" and "channel_id" and its "messages", each holding
// its thread's replies in "slackdump_thread_replies". Messages are sent
// once the object is read, as the name may follow them.
func parseDump(ctx context.Context, r io.Reader, j dayJob, emit func(source.Chunk) error) error {
	p := &parser{s: jsonscan.New(r), ctx: ctx, path: j.path, emit: emit}
	v, err := p.s.Value()
	if err != nil {
		return err
	}
	if v.Kind != jsonscan.Object {
		return p.s.Errorf(v.Line, v.Col, "not a slackdump conversation: want a JSON object, found %s", v.Describe())
	}
	var name, id string
	var msgs []*message
	err = p.s.Object(v, func(k, v jsonscan.Token) error {
		switch {
		case k.Str == "name" && v.Kind == jsonscan.String:
			name = v.Str
		case k.Str == "channel_id" && v.Kind == jsonscan.String:
			id = v.Str
		case k.Str == "messages":
			return p.objects(v, func(v jsonscan.Token) error {
				if err := ctx.Err(); err != nil {
					return source.Stop{Err: err}
				}
				m := &message{}
				msgs = append(msgs, m)
				return p.message(v, m)
			})
		}
		return p.s.Skip(v)
	})
	if err != nil {
		return err
	}
	if err := p.s.End(); err != nil {
		return err
	}
	channel := cmp.Or(name, j.names[id], id, j.channel)
	for _, m := range msgs {
		if err := p.sendMessage(m, "#"+channel, ""); err != nil {
			return err
		}
	}
	return nil
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
		case "slackdump_thread_replies":
			return p.objects(v, func(v jsonscan.Token) error {
				n := &message{}
				m.nested = append(m.nested, n)
				return p.message(v, n)
			})
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
