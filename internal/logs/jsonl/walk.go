package jsonl

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"

	json "github.com/goccy/go-json"
)

// A small JSON walker: the jsonl parser reads a handful of paths out of
// records whose shape it does not know, and decoding every record into
// maps costs ten times what finding a few spans does.

// member is one key and the raw bytes of its value.
type member struct {
	key []byte // as written, without quotes; escapes left in (see keyEquals)
	esc bool   // key holds an escape
	val []byte
}

// walker holds the buffers of one record's walk, reused across records.
type walker struct {
	top    []member
	levels [maxDepth + 1][]member
}

var walkers = sync.Pool{New: func() any { return new(walker) }}

var errBadJSON = errors.New("invalid JSON")

// members splits the object in raw (which must be the whole of raw, white
// space around it aside) into its members, appending to buf.
func members(raw []byte, buf []member) ([]member, error) {
	i := skipWS(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return buf, fmt.Errorf("%w: not an object", errBadJSON)
	}
	end, buf, err := objectMembers(raw, i, buf)
	if err != nil {
		return buf, err
	}
	if j := skipWS(raw, end); j != len(raw) {
		return buf, fmt.Errorf("%w: %s after the object", errBadJSON, quoteByte(raw[j]))
	}
	return buf, nil
}

// objectMembers reads the object starting at raw[i] == '{', returning the
// index after it.
func objectMembers(raw []byte, i int, buf []member) (int, []member, error) {
	i = skipWS(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return i + 1, buf, nil
	}
	for {
		if i >= len(raw) || raw[i] != '"' {
			return 0, buf, fmt.Errorf("%w: want a key at byte %d", errBadJSON, i)
		}
		kend, err := skipValue(raw, i)
		if err != nil {
			return 0, buf, err
		}
		key := raw[i+1 : kend-1]
		esc := bytes.IndexByte(key, '\\') >= 0
		i = skipWS(raw, kend)
		if i >= len(raw) || raw[i] != ':' {
			return 0, buf, fmt.Errorf("%w: want ':' at byte %d", errBadJSON, i)
		}
		i = skipWS(raw, i+1)
		vend, err := skipValue(raw, i)
		if err != nil {
			return 0, buf, err
		}
		buf = append(buf, member{key: key, esc: esc, val: raw[i:vend]})
		i = skipWS(raw, vend)
		if i >= len(raw) {
			return 0, buf, fmt.Errorf("%w: the object is not closed", errBadJSON)
		}
		switch raw[i] {
		case ',':
			i = skipWS(raw, i+1)
		case '}':
			return i + 1, buf, nil
		default:
			return 0, buf, fmt.Errorf("%w: %s after a member", errBadJSON, quoteByte(raw[i]))
		}
	}
}

func skipWS(raw []byte, i int) int {
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\r' || raw[i] == '\n') {
		i++
	}
	return i
}

// skipValue returns the index after the value starting at raw[i]. It
// follows strings and nesting; scalars are taken up to a delimiter and
// checked when read (scalar).
func skipValue(raw []byte, i int) (int, error) {
	if i >= len(raw) {
		return 0, fmt.Errorf("%w: a value is missing", errBadJSON)
	}
	switch raw[i] {
	case '"':
		for j := i + 1; j < len(raw); j++ {
			switch raw[j] {
			case '\\':
				j++
			case '"':
				return j + 1, nil
			}
		}
		return 0, fmt.Errorf("%w: unterminated string", errBadJSON)
	case '{', '[':
		depth := 0
		for j := i; j < len(raw); j++ {
			switch raw[j] {
			case '"':
				end, err := skipValue(raw, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, fmt.Errorf("%w: unterminated %s", errBadJSON, quoteByte(raw[i]))
	case ',', ':', '}', ']':
		return 0, fmt.Errorf("%w: a value is missing at byte %d", errBadJSON, i)
	}
	j := i
scalar:
	for ; j < len(raw); j++ {
		switch raw[j] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			break scalar
		}
	}
	return j, nil
}

// keyEquals reports whether a key as written equals s.
func keyEquals(key []byte, s string) bool {
	if bytes.IndexByte(key, '\\') < 0 {
		return string(key) == s
	}
	var k string
	if json.Unmarshal(append(append([]byte{'"'}, key...), '"'), &k) != nil {
		return false
	}
	return k == s
}

// path is a dotted path with its runs of segments joined in advance:
// joined[a][b] is segments a..b (inclusive) joined by dots.
type path struct {
	segs   []string
	joined [][]string
}

func newPath(p string) path {
	segs := strings.Split(p, ".")
	pp := path{segs: segs, joined: make([][]string, len(segs))}
	for a := range segs {
		pp.joined[a] = make([]string, len(segs))
		for b := a; b < len(segs); b++ {
			pp.joined[a][b] = strings.Join(segs[a:b+1], ".")
		}
	}
	return pp
}

// find looks p up from its segment a in ms: at each level the longest
// run of segments that is a key wins, and a shorter one is tried when the
// longer leads nowhere.
func (w *walker) find(ms []member, p *path, a, depth int) ([]byte, bool) {
	if depth > maxDepth || a >= len(p.segs) {
		return nil, false
	}
	last := len(p.segs) - 1
	for b := last; b >= a; b-- {
		v, ok := get(ms, p.joined[a][b])
		if !ok {
			continue
		}
		if b == last {
			return v, true
		}
		if len(v) == 0 || v[0] != '{' {
			continue
		}
		_, subs, err := objectMembers(v, 0, w.levels[depth][:0])
		w.levels[depth] = subs
		if err != nil {
			continue
		}
		if r, ok := w.find(subs, p, b+1, depth+1); ok {
			return r, true
		}
	}
	return nil, false
}

// get returns the value of the member whose key is key; the last one wins
// when a key is repeated, as in encoding/json.
func get(ms []member, key string) ([]byte, bool) {
	var val []byte
	found := false
	for i := range ms {
		m := &ms[i]
		if !m.esc && string(m.key) == key || m.esc && keyEquals(m.key, key) {
			val, found = m.val, true
		}
	}
	return val, found
}

// scalar renders a JSON value as the text an event holds: a string
// unquoted, a number as written, a boolean as true or false, null as
// nothing, a list as its first element (sourceIPs: ["10.0.0.1", …]), an
// object as its JSON text. ok is false for a value that is not JSON.
func scalar(v []byte) (string, bool) {
	if len(v) == 0 {
		return "", false
	}
	switch v[0] {
	case '"':
		if bytes.IndexByte(v, '\\') < 0 {
			return string(v[1 : len(v)-1]), true
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", false
		}
		return s, true
	case '[':
		i := skipWS(v, 1)
		if i < len(v) && v[i] == ']' {
			return "", true
		}
		end, err := skipValue(v, i)
		if err != nil {
			return "", false
		}
		return scalar(v[i:end])
	case '{':
		return string(v), true
	case 'n':
		return "", string(v) == "null"
	case 't', 'f':
		return string(v), string(v) == "true" || string(v) == "false"
	}
	var n json.Number
	if json.Unmarshal(v, &n) != nil {
		return "", false
	}
	return string(v), true
}
