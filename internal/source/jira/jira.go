// Package jira is the Jira export source. It reads the JSON the REST API
// returns (a search result {"issues":[…]}, a top-level array of issues, or
// one issue; API v2 with plain-string bodies or v3 with Atlassian Document
// Format bodies) and Jira's CSV export ("Export Excel CSV (all fields)"), or
// a directory of such files, and emits a chunk for each text field: the
// summary, description, environment and custom fields of each issue, the
// body of each comment, worklog comments and the old and new values in the
// changelog.
//
// Refs name the issue ("OPS-12", its id when it has no key) and, for a
// comment, the comment: "OPS-12#comment-10001" in JSON (its id),
// "OPS-12#comment-3" in CSV (the 1-based index of its Comment column, which
// is the comment's rank in the issue); "OPS-12#worklog-10300" and
// "OPS-12#changelog-10200" likewise. Path is the export file, Class ticket.
// In JSON, Time is when the text was written: a comment's, worklog's or
// change's "created", the issue's for its fields (the incident's leak
// time is the earliest copy's). CSV chunks carry no time.
//
// Line and Column are real positions in the export. A JSON chunk is Flat: a
// string value stays on one physical line, so a finding reports the line
// and byte column where the string's text starts. An ADF body is emitted a
// block at a time (a paragraph, heading or code block, its text nodes
// joined, hard breaks as newlines) at the position of the block's first
// text node; link and card URLs (which a pasted URL becomes) are chunks of
// their own. A CSV chunk is not Flat: it is the field's text and starts at
// its first byte, so a finding in a multi-line description reports its
// own line. Columns after a doubled quote ("") on the same line are one
// byte short per pair, as the chunk holds the unescaped text.
package jira

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/jsonscan"
	"github.com/rekeyhq/rekey/internal/source"
)

// Options configure a Jira export walk.
type Options struct {
	// Path is an export file (.json or .csv, told apart by content) or a
	// directory whose .json and .csv files, at any depth, are exports.
	Path string
	// OnError receives the files that could not be read or parsed; the walk
	// goes on without them.
	OnError source.ErrorFunc
}

// Source walks a Jira export.
type Source struct {
	opts Options
	dir  bool
}

// New checks that Path is an export: a JSON or CSV file that looks like
// one, or a directory holding .json or .csv files.
func New(opts Options) (*Source, error) {
	p := opts.Path
	fi, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, iofs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no such file or directory", p)
		}
		return nil, fmt.Errorf("%s: %w", p, source.UnwrapPathErr(err))
	}
	if opts.OnError == nil {
		opts.OnError = func(*source.FileError) {}
	}
	s := &Source{opts: opts, dir: fi.IsDir()}
	if s.dir {
		files, err := s.files(func(*source.FileError) {})
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("%s: %w: no .json, .csv or .xml file in it", p, ErrNotExport)
		}
		return s, nil
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, source.UnwrapPathErr(err))
	}
	defer f.Close()
	k, r, err := sniff(f)
	if err == nil && k == kindJSON {
		err = jsonShape(r)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return s, nil
}

// errShapeKnown ends jsonShape's reading once the answer is known.
var errShapeKnown = errors.New("shape known")

// jsonShape reads a JSON document only as far as it takes to tell whether
// it holds issues: a search result's "issues" array, an array with an
// issue in it, or one issue. Malformed JSON is not its concern: Walk
// reports it.
func jsonShape(r io.Reader) error {
	s := jsonscan.New(r)
	isIssue := func(k, v jsonscan.Token) bool {
		return (k.Str == "key" || k.Str == "id") && v.Kind == jsonscan.String || k.Str == "fields" && v.Kind == jsonscan.Object
	}
	v, err := s.Value()
	if err != nil {
		return nil
	}
	switch v.Kind {
	case jsonscan.Array:
		n := 0
		err = s.Array(v, func(v jsonscan.Token) error {
			n++
			if v.Kind != jsonscan.Object {
				return s.Skip(v)
			}
			return s.Object(v, func(k, v jsonscan.Token) error {
				if isIssue(k, v) {
					return errShapeKnown
				}
				return s.Skip(v)
			})
		})
		if err == nil && n > 0 {
			return fmt.Errorf("%w: no element of the array is an issue", ErrNotExport)
		}
	case jsonscan.Object:
		err = s.Object(v, func(k, v jsonscan.Token) error {
			if k.Str == "issues" && v.Kind == jsonscan.Array || isIssue(k, v) {
				return errShapeKnown
			}
			return s.Skip(v)
		})
		if err == nil {
			return fmt.Errorf("%w: no \"issues\" array and no issue key", ErrNotExport)
		}
	default:
		return fmt.Errorf("%w: found %s", ErrNotExport, v.Describe())
	}
	return nil
}

// files lists the exports in the directory Path, in lexical order.
func (s *Source) files(onErr source.ErrorFunc) ([]string, error) {
	var out []string
	root := s.opts.Path
	err := source.WalkDir(root, onErr, func(p string, d iofs.DirEntry) error {
		if d.IsDir() {
			if p != root && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".json", ".csv", ".xml":
			if d.Type().IsRegular() {
				out = append(out, p)
			}
		}
		return nil
	})
	return out, err
}

type kind int

const (
	kindJSON kind = iota + 1
	kindCSV
	kindXML
)

// ErrNotExport is a file or directory that is not a Jira export; the
// caller may scan it as plain files instead.
var ErrNotExport = errors.New("not a Jira export: want the REST API's JSON, the CSV export with a Summary or Issue key column, or Jira Server's XML (RSS) export")

// sniff tells a JSON export from a CSV one by its first bytes, and checks
// a CSV header. It returns a reader that starts at the beginning.
func sniff(r io.Reader) (kind, io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(512)
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
		return 0, nil, err
	}
	trimmed := bytes.TrimLeft(bytes.TrimPrefix(head, []byte(bom)), " \t\r\n")
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') {
		return kindJSON, br, nil
	}
	if bytes.HasPrefix(trimmed, []byte("<?xml")) || bytes.HasPrefix(trimmed, []byte("<rss")) || bytes.HasPrefix(trimmed, []byte("<!--")) {
		return kindXML, br, nil
	}
	// The header row, read as far as it goes.
	cr := csv.NewReader(bytes.NewReader(peekAll(br)))
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil || !columns(header).export() {
		return 0, nil, ErrNotExport
	}
	return kindCSV, br, nil
}

// peekAll returns as much of br's buffered input as it can see.
func peekAll(br *bufio.Reader) []byte {
	b, _ := br.Peek(br.Size())
	return b
}

const bom = "\ufeff"

// Walk emits every export file's chunks, one file after the other.
func (s *Source) Walk(ctx context.Context, emit func(source.Chunk) error) error {
	files := []string{s.opts.Path}
	if s.dir {
		var err error
		if files, err = s.files(s.opts.OnError); err != nil {
			return err
		}
	}
	for _, p := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.walkFile(ctx, p, emit); err != nil {
			return err
		}
	}
	return nil
}

func (s *Source) walkFile(ctx context.Context, path string, emit func(source.Chunk) error) error {
	f, err := os.Open(path)
	if err != nil {
		s.opts.OnError(&source.FileError{Path: path, Err: source.UnwrapPathErr(err)})
		return nil
	}
	defer f.Close()
	emitted := false
	counted := func(ch source.Chunk) error { emitted = true; return emit(ch) }
	k, r, err := sniff(f)
	if err == nil {
		switch k {
		case kindJSON:
			err = parseJSON(ctx, r, path, counted)
		case kindCSV:
			err = parseCSV(ctx, r, path, counted)
		case kindXML:
			err = parseXML(ctx, r, path, counted)
		}
	}
	if err != nil && !emitted {
		// A file that cannot be read as an export is still searched.
		return source.Fallback(path, source.ClassTicket, err, s.opts.OnError, emit)
	}
	return source.FileDone(path, err, s.opts.OnError)
}

// piece is one run of text to scan and where it starts.
type piece struct {
	text      string
	line, col int
}

// part is a comment, worklog or changelog entry of an issue.
type part struct {
	kind    string
	id      string
	created time.Time // when it was written, where the export says
	pieces  []piece
}

type issue struct {
	key, id   string
	created   time.Time // fields.created: when the summary and description were first written
	looksLike bool      // has a key, an id or fields
	fields    []piece
	parts     []*part
}

func (is *issue) ref() string {
	if is.key != "" {
		return is.key
	}
	return is.id
}

type jsonParser struct {
	s    *jsonscan.Scanner
	ctx  context.Context
	path string
	emit func(source.Chunk) error
}

// parseJSON reads one JSON export and emits its issues' chunks, one issue
// at a time.
func parseJSON(ctx context.Context, r io.Reader, path string, emit func(source.Chunk) error) error {
	p := &jsonParser{s: jsonscan.New(r), ctx: ctx, path: path, emit: emit}
	v, err := p.s.Value()
	if err != nil {
		return err
	}
	found := false
	switch v.Kind {
	case jsonscan.Array:
		n := 0
		if err := p.issues(v, &n, &found); err != nil {
			return err
		}
		if n > 0 && !found {
			return p.s.Errorf(v.Line, v.Col, "%v: no element of the array is an issue", ErrNotExport)
		}
	case jsonscan.Object:
		single := &issue{}
		sawIssues := false
		err := p.s.Object(v, func(k, v jsonscan.Token) error {
			if k.Str == "issues" && v.Kind == jsonscan.Array {
				sawIssues = true
				n := 0
				return p.issues(v, &n, &found)
			}
			return p.issueMember(single, k, v)
		})
		if err != nil {
			return err
		}
		if !sawIssues && !single.looksLike {
			return p.s.Errorf(v.Line, v.Col, "%v: no \"issues\" array and no issue key", ErrNotExport)
		}
		if single.looksLike {
			if err := p.send(single); err != nil {
				return err
			}
		}
	default:
		return p.s.Errorf(v.Line, v.Col, "%v: found %s", ErrNotExport, v.Describe())
	}
	return p.s.End()
}

func (p *jsonParser) issues(v jsonscan.Token, n *int, found *bool) error {
	return p.s.Array(v, func(v jsonscan.Token) error {
		if err := p.ctx.Err(); err != nil {
			return source.Stop{Err: err}
		}
		*n++
		if v.Kind != jsonscan.Object {
			return p.s.Skip(v)
		}
		is := &issue{}
		if err := p.s.Object(v, func(k, v jsonscan.Token) error { return p.issueMember(is, k, v) }); err != nil {
			return err
		}
		if !is.looksLike {
			return nil
		}
		*found = true
		return p.send(is)
	})
}

func (p *jsonParser) send(is *issue) error {
	ref := is.ref()
	for _, pc := range is.fields {
		if err := p.emitPiece(pc, ref, is.created); err != nil {
			return err
		}
	}
	for i, pt := range is.parts {
		id := pt.id
		if id == "" {
			id = strconv.Itoa(i + 1)
		}
		for _, pc := range pt.pieces {
			if err := p.emitPiece(pc, ref+"#"+pt.kind+"-"+id, pt.created); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *jsonParser) emitPiece(pc piece, ref string, at time.Time) error {
	if pc.text == "" {
		return nil
	}
	err := p.emit(source.Chunk{
		Data: []byte(pc.text),
		Loc: source.Location{
			Path: p.path, Line: pc.line, Column: pc.col,
			Class: source.ClassTicket, Ref: ref, Flat: true, AtHead: true, Time: at,
		},
	})
	if err != nil {
		return source.Stop{Err: err}
	}
	return nil
}

// ParseTime parses a time as Jira's REST API writes it
// ("2024-03-04T09:02:11.000+0100"), or RFC 3339; zero when it is neither.
func ParseTime(v string) time.Time { return jiraTime(v) }

func jiraTime(v string) time.Time {
	for _, layout := range []string{"2006-01-02T15:04:05.000-0700", time.RFC3339Nano} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

func (p *jsonParser) issueMember(is *issue, k, v jsonscan.Token) error {
	switch k.Str {
	case "key":
		if v.Kind == jsonscan.String {
			is.key, is.looksLike = v.Str, true
		}
	case "id":
		if v.Kind == jsonscan.String {
			is.id, is.looksLike = v.Str, true
		}
	case "fields":
		if v.Kind == jsonscan.Object {
			is.looksLike = true
			return p.fields(is, v)
		}
	case "changelog":
		return p.changelog(is, v)
	}
	return p.s.Skip(v)
}

func (p *jsonParser) fields(is *issue, open jsonscan.Token) error {
	return p.s.Object(open, func(k, v jsonscan.Token) error {
		switch name := k.Str; {
		case name == "summary", name == "description", name == "environment", strings.HasPrefix(name, "customfield_"):
			return p.text(v, &is.fields)
		case name == "created" && v.Kind == jsonscan.String:
			is.created = jiraTime(v.Str)
		case name == "comment":
			// {"comments":[…]} from the API; a bare array from some tools.
			if v.Kind == jsonscan.Array {
				return p.parts(is, v, "comment", "body")
			}
			return p.member(v, "comments", func(v jsonscan.Token) error { return p.parts(is, v, "comment", "body") })
		case name == "worklog":
			return p.member(v, "worklogs", func(v jsonscan.Token) error { return p.parts(is, v, "worklog", "comment") })
		}
		return p.s.Skip(v)
	})
}

// member calls fn with the value of key in the object v, skipping the rest.
func (p *jsonParser) member(v jsonscan.Token, key string, fn func(v jsonscan.Token) error) error {
	if v.Kind != jsonscan.Object {
		return p.s.Skip(v)
	}
	return p.s.Object(v, func(k, v jsonscan.Token) error {
		if k.Str == key {
			return fn(v)
		}
		return p.s.Skip(v)
	})
}

// parts reads an array of comments or worklogs: objects with an id and a
// text body under bodyKey.
func (p *jsonParser) parts(is *issue, v jsonscan.Token, kind, bodyKey string) error {
	if v.Kind != jsonscan.Array {
		return p.s.Skip(v)
	}
	return p.s.Array(v, func(v jsonscan.Token) error {
		if v.Kind != jsonscan.Object {
			return p.s.Skip(v)
		}
		pt := &part{kind: kind}
		is.parts = append(is.parts, pt)
		return p.s.Object(v, func(k, v jsonscan.Token) error {
			switch {
			case k.Str == "id" && v.Kind == jsonscan.String:
				pt.id = v.Str
			case k.Str == "created" && v.Kind == jsonscan.String:
				pt.created = jiraTime(v.Str)
			case k.Str == bodyKey:
				return p.text(v, &pt.pieces)
			}
			return p.s.Skip(v)
		})
	})
}

func (p *jsonParser) changelog(is *issue, v jsonscan.Token) error {
	return p.member(v, "histories", func(v jsonscan.Token) error {
		if v.Kind != jsonscan.Array {
			return p.s.Skip(v)
		}
		return p.s.Array(v, func(v jsonscan.Token) error {
			if v.Kind != jsonscan.Object {
				return p.s.Skip(v)
			}
			pt := &part{kind: "changelog"}
			is.parts = append(is.parts, pt)
			return p.s.Object(v, func(k, v jsonscan.Token) error {
				switch {
				case k.Str == "id" && v.Kind == jsonscan.String:
					pt.id = v.Str
				case k.Str == "created" && v.Kind == jsonscan.String:
					pt.created = jiraTime(v.Str)
				case k.Str == "items" && v.Kind == jsonscan.Array:
					return p.s.Array(v, func(v jsonscan.Token) error {
						if v.Kind != jsonscan.Object {
							return p.s.Skip(v)
						}
						return p.s.Object(v, func(k, v jsonscan.Token) error {
							if k.Str == "fromString" || k.Str == "toString" {
								return p.text(v, &pt.pieces)
							}
							return p.s.Skip(v)
						})
					})
				}
				return p.s.Skip(v)
			})
		})
	})
}

// text reads a text field: a string (API v2) or an Atlassian Document
// Format document (API v3); anything else is skipped.
func (p *jsonParser) text(v jsonscan.Token, out *[]piece) error {
	switch v.Kind {
	case jsonscan.String:
		if v.Str != "" {
			*out = append(*out, piece{text: v.Str, line: v.Line, col: v.Col})
		}
		return nil
	case jsonscan.Object:
		n, err := p.adf(v)
		if err != nil {
			return err
		}
		flatten(n, out)
		return nil
	}
	return p.s.Skip(v)
}

// adfNode is a node of an Atlassian Document Format document: a block
// (doc, paragraph, codeBlock, listItem…) with content, or an inline node (a
// text node, with its text's position; hardBreak; mention…).
type adfNode struct {
	typ       string
	text      string
	hasText   bool
	line, col int
	content   []*adfNode
	// urls are the targets of links and cards (attrs.url, a link mark's
	// href): a pasted URL becomes a card with no text of its own.
	urls []piece
}

func (p *jsonParser) adf(open jsonscan.Token) (*adfNode, error) {
	n := &adfNode{}
	err := p.s.Object(open, func(k, v jsonscan.Token) error {
		switch {
		case k.Str == "type" && v.Kind == jsonscan.String:
			n.typ = v.Str
		case k.Str == "text" && v.Kind == jsonscan.String:
			n.text, n.hasText, n.line, n.col = v.Str, true, v.Line, v.Col
		case k.Str == "content" && v.Kind == jsonscan.Array:
			return p.s.Array(v, func(v jsonscan.Token) error {
				if v.Kind != jsonscan.Object {
					return p.s.Skip(v)
				}
				c, err := p.adf(v)
				if err == nil {
					n.content = append(n.content, c)
				}
				return err
			})
		case k.Str == "attrs":
			return p.adfAttrs(v, n)
		case k.Str == "marks" && v.Kind == jsonscan.Array:
			return p.s.Array(v, func(v jsonscan.Token) error {
				return p.member(v, "attrs", func(v jsonscan.Token) error { return p.adfAttrs(v, n) })
			})
		}
		return p.s.Skip(v)
	})
	return n, err
}

func (p *jsonParser) adfAttrs(v jsonscan.Token, n *adfNode) error {
	if v.Kind != jsonscan.Object {
		return p.s.Skip(v)
	}
	return p.s.Object(v, func(k, v jsonscan.Token) error {
		if (k.Str == "url" || k.Str == "href") && v.Kind == jsonscan.String && v.Str != "" {
			n.urls = append(n.urls, piece{text: v.Str, line: v.Line, col: v.Col})
		}
		return p.s.Skip(v)
	})
}

// flatten turns an ADF tree into pieces: each run of inline nodes in a
// block is one piece, so "password: " and a code-marked value next to it are
// scanned together.
func flatten(n *adfNode, out *[]piece) {
	var cur piece
	started := false
	var buf strings.Builder
	flush := func() {
		if started && buf.Len() > 0 {
			cur.text = buf.String()
			*out = append(*out, cur)
		}
		started = false
		buf.Reset()
	}
	if n.hasText && n.text != "" {
		*out = append(*out, piece{text: n.text, line: n.line, col: n.col})
	}
	*out = append(*out, n.urls...)
	for _, c := range n.content {
		if c.hasText || len(c.content) == 0 {
			*out = append(*out, c.urls...)
		}
		switch {
		case c.hasText:
			if !started {
				cur, started = piece{line: c.line, col: c.col}, true
			}
			buf.WriteString(c.text)
		case c.typ == "hardBreak":
			if started {
				buf.WriteByte('\n')
			}
		case len(c.content) == 0:
			// An inline node without text: a mention, an emoji, a card.
		default:
			flush()
			flatten(c, out)
		}
	}
	flush()
}

// columns is a CSV export's header row.
type columns []string

func (h columns) name(i int) string {
	return strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h[i], bom)))
}

func (h columns) index(name string) int {
	for i := range h {
		if h.name(i) == name {
			return i
		}
	}
	return -1
}

func (h columns) export() bool { return h.index("summary") >= 0 || h.index("issue key") >= 0 }

// csvColumn is a column to scan: comment is the 1-based rank of a Comment
// column, 0 for the issue's own fields.
type csvColumn struct {
	index   int
	comment int
}

// parseCSV reads a CSV export record by record.
func parseCSV(ctx context.Context, r io.Reader, path string, emit func(source.Chunk) error) error {
	rec := &recorder{r: r}
	cr := csv.NewReader(rec)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return err
	}
	h := columns(slices.Clone(header))
	if !h.export() {
		return ErrNotExport
	}
	keyCol, idCol := h.index("issue key"), h.index("issue id")
	var scan []csvColumn
	comments := 0
	for i := range h {
		switch name := h.name(i); {
		case name == "comment":
			comments++
			scan = append(scan, csvColumn{index: i, comment: comments})
		case name == "summary", name == "description", name == "environment", strings.HasPrefix(name, "custom field ("):
			scan = append(scan, csvColumn{index: i})
		}
	}
	rec.mark(cr.InputOffset(), countLines(rec.buf[:cr.InputOffset()-rec.base]))
	for {
		if err := ctx.Err(); err != nil {
			return source.Stop{Err: err}
		}
		row, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		end := cr.InputOffset()
		raw := rec.buf[:end-rec.base]
		ref := ""
		if keyCol >= 0 && keyCol < len(row) {
			ref = row[keyCol]
		}
		if ref == "" && idCol >= 0 && idCol < len(row) {
			ref = row[idCol]
		}
		for _, c := range scan {
			if c.index >= len(row) || row[c.index] == "" {
				continue
			}
			text := row[c.index]
			line, col := cr.FieldPos(c.index)
			if off := rec.offset(raw, line, col); off >= 0 && off < len(raw) && raw[off] == '"' {
				col++ // the field's text starts after its opening quote
			}
			r := ref
			if c.comment > 0 {
				r = fmt.Sprintf("%s#comment-%d", ref, c.comment)
				// "date;author;body": the body alone is the comment.
				if prefix, ok := commentPrefix(text); ok {
					text, col = text[len(prefix):], col+len(prefix)
				}
			}
			if text == "" {
				continue
			}
			err := emit(source.Chunk{
				Data: []byte(text),
				Loc:  source.Location{Path: path, Line: line, Column: col, Class: source.ClassTicket, Ref: r, AtHead: true},
			})
			if err != nil {
				return source.Stop{Err: err}
			}
		}
		rec.mark(end, rec.line+countLines(raw))
	}
}

func countLines(b []byte) int { return bytes.Count(b, []byte{'\n'}) }

// commentPrefix returns the "date;author;" that starts a CSV comment, when
// there is one: a short first part with a digit in it and an author id
// without blanks, neither holding a quote or a line break.
func commentPrefix(s string) (string, bool) {
	date, rest, ok := strings.Cut(s, ";")
	if !ok || len(date) > 40 || !strings.ContainsAny(date, "0123456789") || strings.ContainsAny(date, "\"\n\r") {
		return "", false
	}
	author, _, ok := strings.Cut(rest, ";")
	if !ok || len(author) > 128 || strings.ContainsAny(author, " \t\"\n\r") {
		return "", false
	}
	return s[:len(date)+1+len(author)+1], true
}

// recorder keeps the raw bytes the CSV reader has read since the start of
// the current record, to tell a quoted field from a bare one.
type recorder struct {
	r    io.Reader
	buf  []byte // input from offset base on
	base int64
	line int // line number at base
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.buf = append(r.buf, p[:n]...)
	return n, err
}

// mark drops the input before offset off, which is on line line (0-based
// count of the line breaks before it).
func (r *recorder) mark(off int64, line int) {
	drop := int(off - r.base)
	r.buf = append(r.buf[:0], r.buf[drop:]...)
	r.base, r.line = off, line
}

// offset finds the 1-based line and byte column in raw, the input from
// base on.
func (r *recorder) offset(raw []byte, line, col int) int {
	off := 0
	for l := r.line + 1; l < line; l++ {
		i := bytes.IndexByte(raw[off:], '\n')
		if i < 0 {
			return -1
		}
		off += i + 1
	}
	return off + col - 1
}

// Text returns the texts of one field's JSON value as the export reader
// scans them: a plain string (API v2), or an Atlassian Document Format
// document (API v3) flattened a block at a time, with link and card URLs
// as texts of their own. The live source (jiraapi) uses it so that both
// read a field the same way.
func Text(value []byte) ([]string, error) {
	p := &jsonParser{s: jsonscan.New(bytes.NewReader(value)), ctx: context.Background()}
	v, err := p.s.Value()
	if err != nil {
		return nil, err
	}
	var pieces []piece
	if err := p.text(v, &pieces); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(pieces))
	for _, pc := range pieces {
		if pc.text != "" {
			out = append(out, pc.text)
		}
	}
	return out, nil
}
