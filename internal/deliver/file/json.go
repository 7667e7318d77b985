package file

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// jsonFormat finds a dotted path in JSON with its own scanner, which knows
// each value's byte span; the edit replaces that span only, so key order,
// indentation and everything else stay byte for byte. Comments and
// trailing commas (JSONC, as in VS Code or tsconfig files) are tolerated.
type jsonFormat struct{}

func (jsonFormat) find(data []byte, key string) ([]field, error) {
	s := &jscan{data: data, key: key}
	s.ws()
	if err := s.value(nil); err != nil {
		return nil, err
	}
	if s.ws(); s.pos != len(data) {
		return nil, s.errorf("unexpected text after the top-level value")
	}
	return s.found, s.err
}

func (jsonFormat) check(old, new []byte, _ map[int]string) error {
	if json.Valid(old) && !json.Valid(new) {
		return errors.New("the result is not valid JSON")
	}
	return nil
}

type jscan struct {
	data  []byte
	pos   int
	key   string
	found []field
	err   error // a match that is not a scalar
}

func (s *jscan) errorf(format string, a ...any) error {
	line := 1 + bytes.Count(s.data[:min(s.pos, len(s.data))], []byte("\n"))
	return fmt.Errorf("line %d: %s", line, fmt.Sprintf(format, a...))
}

// ws skips whitespace and comments.
func (s *jscan) ws() {
	for s.pos < len(s.data) {
		switch c := s.data[s.pos]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			s.pos++
		case c == '/' && s.pos+1 < len(s.data) && s.data[s.pos+1] == '/':
			s.pos = indexFrom(s.data, s.pos, '\n')
		case c == '/' && s.pos+1 < len(s.data) && s.data[s.pos+1] == '*':
			end := bytes.Index(s.data[s.pos+2:], []byte("*/"))
			if end < 0 {
				s.pos = len(s.data)
				return
			}
			s.pos += end + 4
		default:
			return
		}
	}
}

func (s *jscan) value(path []string) error {
	if s.pos >= len(s.data) {
		return s.errorf("unexpected end of file")
	}
	start := s.pos
	match := strings.Join(path, ".") == s.key && path != nil
	switch c := s.data[s.pos]; {
	case c == '{':
		if match && s.err == nil {
			s.err = s.errorf("%s is an object, not a value", s.key)
		}
		return s.object(path)
	case c == '[':
		if match && s.err == nil {
			s.err = s.errorf("%s is an array, not a value", s.key)
		}
		return s.array(path)
	case c == '"':
		str, err := s.str()
		if err != nil {
			return err
		}
		if match {
			s.found = append(s.found, field{start: start, end: s.pos, value: str, id: start, encode: jsonString})
		}
		return nil
	default:
		for s.pos < len(s.data) && strings.IndexByte(",}] \t\r\n/", s.data[s.pos]) < 0 {
			s.pos++
		}
		lit := string(s.data[start:s.pos])
		if lit == "" {
			return s.errorf("expected a value")
		}
		if match {
			if lit == "null" {
				lit = ""
			}
			// A number or boolean becomes a string: a password is text.
			s.found = append(s.found, field{start: start, end: s.pos, value: lit, id: start, encode: jsonString})
		}
		return nil
	}
}

func (s *jscan) object(path []string) error {
	s.pos++
	for {
		s.ws()
		if s.pos < len(s.data) && s.data[s.pos] == '}' {
			s.pos++
			return nil
		}
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return s.errorf("expected a key")
		}
		k, err := s.str()
		if err != nil {
			return err
		}
		s.ws()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return s.errorf("expected ':' after a key")
		}
		s.pos++
		s.ws()
		if err := s.value(append(path[:len(path):len(path)], k)); err != nil {
			return err
		}
		s.ws()
		if s.pos < len(s.data) && s.data[s.pos] == ',' {
			s.pos++
			continue
		}
		if s.pos < len(s.data) && s.data[s.pos] == '}' {
			s.pos++
			return nil
		}
		return s.errorf("expected ',' or '}'")
	}
}

func (s *jscan) array(path []string) error {
	s.pos++
	for i := 0; ; i++ {
		s.ws()
		if s.pos < len(s.data) && s.data[s.pos] == ']' {
			s.pos++
			return nil
		}
		if err := s.value(append(path[:len(path):len(path)], fmt.Sprint(i))); err != nil {
			return err
		}
		s.ws()
		if s.pos < len(s.data) && s.data[s.pos] == ',' {
			s.pos++
			continue
		}
		if s.pos < len(s.data) && s.data[s.pos] == ']' {
			s.pos++
			return nil
		}
		return s.errorf("expected ',' or ']'")
	}
}

// str reads a string token at s.pos and decodes it.
func (s *jscan) str() (string, error) {
	start := s.pos
	for i := s.pos + 1; i < len(s.data); i++ {
		switch s.data[i] {
		case '\\':
			i++
		case '"':
			s.pos = i + 1
			var v string
			if err := json.Unmarshal(s.data[start:s.pos], &v); err != nil {
				return "", s.errorf("malformed string")
			}
			return v, nil
		case '\n':
			return "", s.errorf("unterminated string")
		}
	}
	return "", s.errorf("unterminated string")
}

// jsonString encodes v as a JSON string, leaving <, > and & as they are.
func jsonString(v string) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}
