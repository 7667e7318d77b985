package inventory

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/safefile"
)

// Options configure Load. The zero value checks structure only against
// what this package knows: any system type, no secret detection.
type Options struct {
	// KnownSystemTypes lists the system types rekey has providers for;
	// another type is an error. Nil accepts any type. This package does
	// not import providers: the caller passes their registry's types.
	KnownSystemTypes []string
	// FindSecrets finds credentials in the raw file; each is reported as an
	// inline secret. rekey passes its detector (detect.New(rules.All()))
	// adapted to this signature; nil skips the check, leaving only the
	// rule that admin must be a reference.
	FindSecrets func(data []byte) []SecretMatch
	// Getenv looks up env: references; nil means os.Getenv.
	Getenv func(string) string
	// SkipLocal skips the checks that look at this machine (variables,
	// files, globs), which yield warnings only.
	SkipLocal bool
}

// SecretMatch is a credential found in the inventory's bytes: its offsets
// and the rule that recognised it. It holds no value.
type SecretMatch struct {
	Start, End int
	Rule       string
}

// Problem is one error or warning at a position in the file.
type Problem struct {
	Pos Pos
	Msg string
}

// String is "file:line:col: msg".
func (p Problem) String() string { return p.Pos.String() + ": " + p.Msg }

// Report holds every problem found, sorted by position. Errors make the
// inventory unusable; warnings are things this machine cannot confirm
// (an unset variable, a missing path) that may be fine where rekey runs.
type Report struct {
	Errors   []Problem
	Warnings []Problem
}

// OK reports whether there are no errors.
func (r *Report) OK() bool { return len(r.Errors) == 0 }

// maxSize bounds an inventory file; real ones are a few kilobytes.
const maxSize = 8 << 20

// Load reads, decodes and validates the inventory at path. The error is
// only for a file that cannot be read or is not a YAML mapping at all (a
// syntax error); every problem in a readable file is in the Report, which
// the caller must check: an Inventory with Report errors is incomplete.
func Load(path string, opts Options) (*Inventory, *Report, error) {
	data, err := ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return Parse(path, data, opts)
}

// ReadFile reads an inventory file as Load does (a regular file, at most
// 8 MiB), for a caller that keeps the bytes it parses.
func ReadFile(path string) ([]byte, error) {
	f, err := safefile.OpenRegular("inventory", path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, errs.E("inventory", errs.Invalid, path, unwrapPath(err))
	}
	if len(data) > maxSize {
		return nil, errs.New("inventory", errs.Invalid, path, "larger than 8 MiB: not an inventory")
	}
	return data, nil
}

// Parse is Load for data already read; name is used in positions, and
// relative paths in the file are taken from its directory.
func Parse(name string, data []byte, opts Options) (*Inventory, *Report, error) {
	root, second, err := decodeYAML(data)
	if err != nil {
		var pe *posError
		if errors.As(err, &pe) {
			return nil, nil, errs.E("inventory", errs.Invalid, fmt.Sprintf("%s:%d", name, pe.line), errors.New(pe.msg))
		}
		return nil, nil, errs.E("inventory", errs.Invalid, name, err)
	}
	if root.Kind != yaml.MappingNode {
		return nil, nil, errs.New("inventory", errs.Invalid, name,
			fmt.Sprintf("not an inventory: the document is %s, want a mapping starting with version: %d", describe(root), Version))
	}
	dir := filepath.Dir(name)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	p := &parser{file: name, dir: dir, opts: opts, data: data}
	if second != nil {
		p.errorf(second, "a second YAML document: an inventory is one document")
	}
	p.secrets()
	inv := p.inventory(root)
	if !opts.SkipLocal {
		p.local(inv)
	}
	p.rep.sort()
	return inv, &p.rep, nil
}

// posError is a YAML syntax error with the line it names.
type posError struct {
	line int
	msg  string
}

func (e *posError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

var yamlLineErr = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// decodeYAML returns the first document's root node and, if there is one,
// the second document's.
func decodeYAML(data []byte) (root, second *yaml.Node, err error) {
	if !utf8.Valid(data) {
		return nil, nil, errors.New("not YAML: the file is not UTF-8 text")
	}
	defer func() {
		// A parser bug must not take the process down with it.
		if r := recover(); r != nil {
			root, second, err = nil, nil, fmt.Errorf("not YAML: parser failed: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, nil, errors.New("empty: not an inventory")
		}
		return nil, nil, syntaxError(err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == io.EOF:
	case err != nil:
		return nil, nil, syntaxError(err)
	default:
		second = &next
		if len(next.Content) > 0 {
			second = next.Content[0]
		}
	}
	if len(doc.Content) == 0 {
		return nil, nil, errors.New("empty: not an inventory")
	}
	return doc.Content[0], second, nil
}

func syntaxError(err error) error {
	if m := yamlLineErr.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return &posError{line: n, msg: "not YAML: " + m[2]}
	}
	msg := err.Error()
	if len(msg) > 6 && msg[:6] == "yaml: " {
		msg = msg[6:]
	}
	return errors.New("not YAML: " + msg)
}

func (r *Report) sort() {
	by := func(a, b Problem) int {
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line - b.Pos.Line
		}
		return a.Pos.Column - b.Pos.Column
	}
	slices.SortStableFunc(r.Errors, by)
	slices.SortStableFunc(r.Warnings, by)
}

// secrets reports every credential in the raw file, wherever it is: a
// value, a comment, a key. The message names the rule, never the value.
func (p *parser) secrets() {
	if p.opts.FindSecrets == nil {
		return
	}
	for _, m := range p.opts.FindSecrets(p.data) {
		if m.Start < 0 || m.Start > len(p.data) {
			continue
		}
		line, col := position(p.data, m.Start)
		p.secretLines = append(p.secretLines, [2]int{line, col})
		p.rep.Errors = append(p.rep.Errors, Problem{
			Pos: Pos{p.file, line, col},
			Msg: fmt.Sprintf("inline secret (rule %s): the inventory lives in git, so treat this credential as leaked, rotate it and refer to it with env:VAR or file:PATH", m.Rule),
		})
	}
}

// position is the 1-based line and column (in characters) of offset off.
func position(data []byte, off int) (line, col int) {
	before := data[:off]
	line = bytes.Count(before, []byte{'\n'}) + 1
	start := bytes.LastIndexByte(before, '\n') + 1
	return line, utf8.RuneCount(before[start:]) + 1
}
