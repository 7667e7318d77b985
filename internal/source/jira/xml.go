package jira

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"strings"

	"github.com/rekeyhq/rekey/internal/source"
)

// Jira Server and Data Center export search results as XML (the issue
// navigator's "Export XML", an RSS 0.92 document): one <item> per issue
// holding <key>, <summary>, <description> and <environment> (HTML, escaped
// as XML text), <comments><comment id="…">, and custom fields'
// <customfieldvalue>s. The key may follow the description, so an item's
// texts are sent when the item ends.

// xmlText are the item elements whose text is scanned.
var xmlText = map[string]bool{"summary": true, "description": true, "environment": true, "customfieldvalue": true}

// parseXML reads a Jira XML export and emits each item's texts. A text is
// not Flat: it starts at its first character in the file, and a finding in
// a multi-line description reports its own line. HTML tags in the text
// are blanked (same length), so `<p>password: …</p>` reads as prose; a
// column after an entity (&lt;) on the same line is short by the entity's
// length less one.
func parseXML(ctx context.Context, r io.Reader, path string, emit func(source.Chunk) error) error {
	d := xml.NewDecoder(r)
	d.Strict = false
	var (
		is      *issue
		cur     *piece // the text being read, in an element of xmlText or a comment
		comment *part
		items   int
	)
	send := func() error {
		ref := is.ref()
		for _, pc := range is.fields {
			if err := emitText(emit, path, pc, ref); err != nil {
				return err
			}
		}
		for _, pt := range is.parts {
			for _, pc := range pt.pieces {
				if err := emitText(emit, path, pc, ref+"#"+pt.kind+"-"+pt.id); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return source.Stop{Err: err}
		}
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := strings.ToLower(t.Name.Local)
			switch {
			case name == "item":
				is, items = &issue{}, items+1
			case is == nil:
			case name == "key":
				for _, a := range t.Attr {
					if a.Name.Local == "id" {
						is.id = a.Value
					}
				}
				cur = &piece{}
			case name == "comment":
				comment = &part{kind: "comment"}
				for _, a := range t.Attr {
					if a.Name.Local == "id" {
						comment.id = a.Value
					}
				}
				cur = &piece{}
			case xmlText[name]:
				cur = &piece{}
			}
			if cur != nil && cur.line == 0 {
				cur.line, cur.col = d.InputPos()
			}
		case xml.CharData:
			if cur != nil {
				cur.text += string(t)
			}
		case xml.EndElement:
			name := strings.ToLower(t.Name.Local)
			switch {
			case is == nil || cur == nil && name != "item":
			case name == "key":
				is.key, cur = strings.TrimSpace(cur.text), nil
			case name == "comment" && comment != nil:
				comment.pieces = append(comment.pieces, *cur)
				is.parts = append(is.parts, comment)
				comment, cur = nil, nil
			case xmlText[name]:
				is.fields = append(is.fields, *cur)
				cur = nil
			case name == "item":
				if err := send(); err != nil {
					return err
				}
				is = nil
			}
		}
	}
	if items == 0 {
		return ErrNotExport
	}
	return nil
}

// emitText emits one XML text with its HTML tags blanked.
func emitText(emit func(source.Chunk) error, path string, pc piece, ref string) error {
	if strings.TrimSpace(pc.text) == "" {
		return nil
	}
	err := emit(source.Chunk{
		Data: blankTags([]byte(pc.text)),
		Loc:  source.Location{Path: path, Line: pc.line, Column: pc.col, Class: source.ClassTicket, Ref: ref, AtHead: true},
	})
	if err != nil {
		return source.Stop{Err: err}
	}
	return nil
}

// blankTags replaces each HTML tag (<p>, </pre>, <div class="…">) with as
// many spaces, keeping line breaks, so offsets do not move.
func blankTags(b []byte) []byte {
	for i := 0; i < len(b); i++ {
		if b[i] != '<' || i+1 >= len(b) || !(b[i+1] == '/' || b[i+1] >= 'a' && b[i+1] <= 'z' || b[i+1] >= 'A' && b[i+1] <= 'Z') {
			continue
		}
		end := i + 1
		for end < len(b) && b[end] != '>' && b[end] != '<' {
			end++
		}
		if end == len(b) || b[end] != '>' {
			continue
		}
		for j := i; j <= end; j++ {
			if b[j] != '\n' {
				b[j] = ' '
			}
		}
		i = end
	}
	return b
}
