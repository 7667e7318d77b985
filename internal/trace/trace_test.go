package trace

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/quick"

	"github.com/rekeyhq/rekey/internal/testutil"

	"github.com/rekeyhq/rekey/internal/secret"
)

const (
	tokenSecret  = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"
	escSecret    = `p@ss/w0rd+"q"&<x>`
	uniSecret    = "pässwörd-Ω-12345 é"
	plainSecret  = "abcd1234efgh5678" // every escaped form equals the plain one
	shortSecret  = "k3y!"
	emojiSecret  = "tok-😀-0123456789"
	binarySecret = "\x00\xff\x10secret\x80bytes"
)

func mustNew(t testing.TB, s string) *Matcher {
	t.Helper()
	m, err := New(secret.FromString(s))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func jsonInner(s string, html bool) string {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(html)
	if err := e.Encode(s); err != nil {
		panic(err)
	}
	out := strings.TrimSpace(b.String())
	return out[1 : len(out)-1]
}

var percentLower = regexp.MustCompile(`%[0-9A-F]{2}`)

// expectedForms lists encodings computed independently of the package.
func expectedForms(s string) map[string]string {
	q := strconv.Quote(s)
	f := map[string]string{
		"plain":              s,
		"url query":          url.QueryEscape(s),
		"url path":           url.PathEscape(s),
		"url query lower":    percentLower.ReplaceAllStringFunc(url.QueryEscape(s), strings.ToLower),
		"json":               jsonInner(s, true),
		"json no html":       jsonInner(s, false),
		"json slash":         strings.ReplaceAll(jsonInner(s, true), "/", `\/`),
		"go quote":           q[1 : len(q)-1],
		"hex":                hex.EncodeToString([]byte(s)),
		"HEX":                strings.ToUpper(hex.EncodeToString([]byte(s))),
		"base64 std":         base64.StdEncoding.EncodeToString([]byte(s)),
		"base64 std raw":     base64.RawStdEncoding.EncodeToString([]byte(s)),
		"base64 url":         base64.URLEncoding.EncodeToString([]byte(s)),
		"base64 url raw":     base64.RawURLEncoding.EncodeToString([]byte(s)),
		"shell double quote": strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`, "`", "\\`").Replace(s),
	}
	return f
}

func encodingOf(name string, s string, forms map[string]string) string {
	switch {
	case forms[name] == s:
		return Plain
	case strings.HasPrefix(name, "url"):
		return URL
	case strings.HasPrefix(name, "json"), strings.HasPrefix(name, "go"), strings.HasPrefix(name, "shell"):
		return JSONEscaped
	case strings.EqualFold(name, "hex"):
		return Hex
	default:
		return Base64
	}
}

func TestEveryEncoding(t *testing.T) {
	for _, s := range []string{tokenSecret, escSecret, uniSecret, plainSecret, shortSecret, emojiSecret, binarySecret} {
		m := mustNew(t, s)
		forms := expectedForms(s)
		for name, f := range forms {
			t.Run(fmt.Sprintf("%q/%s", s, name), func(t *testing.T) {
				pre := "some text: "
				data := []byte(pre + f + " and more\n")
				got := m.Find(data)
				want := Match{Start: len(pre), End: len(pre) + len(f), Encoding: encodingOf(name, s, forms)}
				if len(got) != 1 || got[0] != want {
					t.Fatalf("Find(%q) = %+v, want [%+v]", data, got, want)
				}
			})
		}
	}
}

func TestEscapedSecret(t *testing.T) {
	m := mustNew(t, escSecret)
	cases := []struct {
		data string
		enc  string
	}{
		{`password: p@ss/w0rd+"q"&<x>`, Plain},
		{`{"password":"p@ss/w0rd+\"q\"\u0026\u003cx\u003e"}`, JSONEscaped},
		{`{"password":"p@ss\/w0rd+\"q\"\u0026\u003cx\u003e"}`, JSONEscaped},
		{`{"password":"p@ss/w0rd+\"q\"&<x>"}`, JSONEscaped},
		{`https://u:p%40ss%2Fw0rd%2B%22q%22%26%3Cx%3E@host/`, URL},
		{`https://u:p%40ss%2fw0rd%2b%22q%22%26%3cx%3e@host/`, URL},
		{`?pw=p%40ss%2Fw0rd%2B%22q%22%26%3Cx%3E&a=b`, URL},
		{`PW="p@ss/w0rd+\"q\"&<x>"`, JSONEscaped},
		{`x := "` + hex.EncodeToString([]byte(escSecret[:len(escSecret)-1]+"?")) + `"`, ""}, // one byte off
		{`x := "` + hex.EncodeToString([]byte(escSecret)) + `"`, Hex},
	}
	for _, c := range cases {
		got := m.Find([]byte(c.data))
		if c.enc == "" {
			if len(got) != 0 {
				t.Errorf("%s: got %+v, want none", c.data, got)
			}
			continue
		}
		if len(got) != 1 || got[0].Encoding != c.enc || got[0].Partial {
			t.Errorf("%s: got %+v, want one %s", c.data, got, c.enc)
		}
	}
}

func TestNoDuplicateForms(t *testing.T) {
	m := mustNew(t, plainSecret)
	encs := map[string]int{}
	for _, p := range m.pats {
		if p.enc != "" {
			encs[p.enc]++
		}
	}
	if encs[URL] != 0 || encs[JSONEscaped] != 0 {
		t.Errorf("escaped forms equal to plain were added: %v", encs)
	}
	if encs[Plain] != 1 || encs[Hex] != 1 { // its hex digits are all 0-9: one case
		t.Errorf("forms: %v", encs)
	}
	got := m.Find([]byte(`"` + plainSecret + `"`))
	if len(got) != 1 || got[0] != (Match{1, 1 + len(plainSecret), Plain, false}) {
		t.Errorf("got %+v", got)
	}
}

// TestPatternsDistinct checks New never builds the same bytes twice.
func TestPatternsDistinct(t *testing.T) {
	for _, s := range []string{tokenSecret, escSecret, uniSecret, plainSecret, shortSecret, emojiSecret} {
		m := mustNew(t, s)
		if m.ac.PatternCount() != len(m.pats) {
			t.Fatalf("%q: %d automaton patterns, %d entries", s, m.ac.PatternCount(), len(m.pats))
		}
		seen := map[string]bool{}
		for _, p := range m.pats {
			if seen[string(p.b)] {
				t.Errorf("%q: pattern built twice", s)
			}
			seen[string(p.b)] = true
		}
	}
}

func TestBase64Embedded(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, s := range []string{tokenSecret, escSecret, uniSecret, "0123456", binarySecret, "\xfb\xff\xbf\xfe>??>"} {
		m := mustNew(t, s)
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			for k := range 3 {
				for _, tail := range []int{0, 1, 2, 3, 17} {
					pre := make([]byte, 3*r.IntN(20)+k)
					post := make([]byte, tail)
					fillRand(r, pre)
					fillRand(r, post)
					raw := append(append(append([]byte{}, pre...), s...), post...)
					blob := enc.EncodeToString(raw)
					lead := "blob: "
					data := []byte(lead + blob + "\n")
					drop := [3]int{0, 2, 3}[k]
					start := len(lead) + 4*(len(pre)/3) + drop
					end := len(lead) + 4*(len(pre)/3) + 8*(k+len(s))/6
					if end-start < minBase64 && (k != 0 || len(s)%3 != 0) && tail > 0 {
						continue
					}
					name := fmt.Sprintf("%q/k=%d/tail=%d/%s", s, k, tail, blob)
					got := m.Find(data)
					if len(got) != 1 || got[0].Encoding != Base64 || got[0].Start != start || got[0].End < end || got[0].End > end+3 {
						t.Errorf("%s: got %+v, want base64 %d..%d(+3)", name, got, start, end)
						continue
					}
					if tail == 0 && got[0].End != len(lead)+len(blob) {
						t.Errorf("%s: at the end of the blob, got %+v, want end %d", name, got, len(lead)+len(blob))
					}
				}
			}
		}
	}
}

func fillRand(r *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(r.Uint32())
	}
}

func TestPartial(t *testing.T) {
	m := mustNew(t, tokenSecret)
	esc := mustNew(t, escSecret)
	cases := []struct {
		m    *Matcher
		data string
		want string // the span, "" for no match
		enc  string
	}{
		{m, "token: ghp_16C7e42F… (rotated)", "ghp_16C7e42F…", Plain},
		{m, "token: ghp_16C7e42F292c…B4a", "ghp_16C7e42F292c…", Plain},
		{m, "token=ghp_16C7****", "ghp_16C7****", Plain},
		{m, "token=ghp_16C7e4xxxxxxxxxx\n", "ghp_16C7e4xxxxxxxxxx", Plain},
		{m, "token=ghp_16C7e4XXXX1234\n", "ghp_16C7e4XXXX", Plain},
		{m, "ghp_16C7e42F292c...", "ghp_16C7e42F292c...", Plain},
		{m, "ghp_16C7e42F[REDACTED]", "ghp_16C7e42F[REDACTED]", Plain},
		{m, "ghp_16C7e42F[redacted] x", "ghp_16C7e42F[redacted]", Plain},
		{m, "<b>ghp_16C7<REDACTED></b>", "ghp_16C7<REDACTED>", Plain},
		{m, "ghp_16C7e42F####", "ghp_16C7e42F####", Plain},
		{m, "tok ghp_16C7e42F292c", "ghp_16C7e42F292c", Plain},
		{m, `"ghp_16C7e42F292c"`, "ghp_16C7e42F292c", Plain},
		{m, "[ghp_16C7e42F292c6912E77, other]", "ghp_16C7e42F292c6912E77", Plain},
		{m, "(ghp_16C7e42F)", "ghp_16C7e42F", Plain},
		{m, "{ghp_16C7e42F}", "ghp_16C7e42F", Plain},
		{m, "<a>ghp_16C7e42F</a>", "ghp_16C7e42F", Plain},
		{m, "?t=ghp_16C7e42F&u=1", "ghp_16C7e42F", Plain},
		{m, "t=ghp_16C7e42F;", "ghp_16C7e42F", Plain},
		{m, "t=ghp_16C7e42F\tx", "ghp_16C7e42F", Plain},
		{m, "t='ghp_16C7e42F'", "ghp_16C7e42F", Plain},
		{m, "hex 6768705f31364337652034", "", ""},
		{m, "hex 6768705f3136433765343246…", "6768705f3136433765343246…", Hex},
		// Not partial: another token sharing a prefix.
		{m, "token: ghp_16C7e42F292cZZZZ", "", ""},
		{m, "token: ghp_16C7e42F292c6912E7710c838347Ae178B4b", "", ""},
		{m, "token: ghp_16C7e42F292c-x", "", ""},
		{m, "token: ghp_16C7e4xx", "", ""},
		{m, "token: ghp_16C7.", "", ""},
		{m, "token: ghp_16C7e42F292c[0]", "", ""},
		{m, "token: xghp_16C7e42F292c", "", ""},
		{m, "token: 1ghp_16C7e42F292c", "", ""},
		{m, "token: ghp_16C ", "", ""}, // fewer than 8 characters
		// The whole secret is a plain match, not a partial one.
		{m, "token: " + tokenSecret + "…", tokenSecret, Plain},
		{m, "token: " + tokenSecret + "x", tokenSecret, Plain},
		// Partial copies in an escaped form.
		{esc, `u=p%40ss%2Fw0rd%2B…`, `p%40ss%2Fw0rd%2B…`, URL},
		{esc, `{"pw":"p@ss\/w0rd+\"q\"\u0026\u003c…"}`, `p@ss\/w0rd+\"q\"\u0026\u003c…`, JSONEscaped},
		{esc, `pw: p@ss/w0rd+***`, `p@ss/w0rd+***`, Plain},
	}
	for _, c := range cases {
		got := c.m.Find([]byte(c.data))
		if c.want == "" {
			if len(got) != 0 {
				t.Errorf("%q: got %+v, want none", c.data, got)
			}
			continue
		}
		start := strings.Index(c.data, c.want)
		wantPartial := c.want != tokenSecret
		want := Match{Start: start, End: start + len(c.want), Encoding: c.enc, Partial: wantPartial}
		if len(got) != 1 || got[0] != want {
			t.Errorf("%q: got %+v, want %+v (%q)", c.data, got, want, c.want)
		}
	}
}

func TestShortSecretHasNoPartial(t *testing.T) {
	m := mustNew(t, "12345678") // exactly PartialMin characters
	if got := m.Find([]byte("1234567 12345678…")); len(got) != 1 || got[0].Partial {
		t.Errorf("got %+v", got)
	}
	for _, p := range m.pats {
		if len(p.prefixOf) > 0 {
			t.Errorf("a %d-character secret has partial patterns", PartialMin)
		}
	}
}

func TestNew(t *testing.T) {
	for _, s := range []string{"", "a", "abc"} {
		if _, err := New(secret.FromString(s)); err == nil {
			t.Errorf("New(%q) = nil error", s)
		}
	}
	m := mustNew(t, tokenSecret)
	if out := fmt.Sprintf("%v %+v %#v %s %v", m, m, m, m, *m); strings.Contains(out, "ghp_") || strings.Contains(out, "Z2hw") {
		t.Errorf("matcher printed its forms: %s", out)
	}
	if m.MaxLen() < len(base64.StdEncoding.EncodeToString([]byte(tokenSecret))) {
		t.Errorf("MaxLen %d", m.MaxLen())
	}
}

func TestOrderedNonOverlapping(t *testing.T) {
	m := mustNew(t, tokenSecret)
	var data bytes.Buffer
	forms := expectedForms(tokenSecret)
	names := []string{}
	for n := range forms {
		names = append(names, n)
	}
	for i := 0; i < 200; i++ {
		f := forms[names[i%len(names)]]
		fmt.Fprintf(&data, "line %d %s;\n", i, f)
		fmt.Fprintf(&data, "%s%s\n", f, f) // adjacent copies
	}
	got := m.Find(data.Bytes())
	if len(got) != 600 {
		t.Errorf("got %d matches, want 600", len(got))
	}
	for i := 1; i < len(got); i++ {
		if got[i].Start < got[i-1].End {
			t.Fatalf("overlap: %+v then %+v", got[i-1], got[i])
		}
	}
}

// TestRepeatedSecret: a secret made of a repeated unit matches once per
// non-overlapping copy, leftmost first.
func TestRepeatedSecret(t *testing.T) {
	m := mustNew(t, "aaaaaaaa")
	got := m.Find([]byte("aaaaaaaaaaaaaaaaaaaa"))
	if len(got) != 2 || got[0].Start != 0 || got[1].Start != 8 {
		t.Errorf("got %+v", got)
	}
}

func TestNoMatchInUnrelatedData(t *testing.T) {
	data := goSource(t, 4<<20)
	r := rand.New(rand.NewPCG(3, 4))
	noise := make([]byte, 4<<20)
	fillRand(r, noise)
	for _, s := range []string{tokenSecret, escSecret, uniSecret, plainSecret, emojiSecret} {
		m := mustNew(t, s)
		if got := m.Find(data); len(got) != 0 {
			t.Errorf("%q in Go source: %+v", s, got)
		}
		if got := m.Find(noise); len(got) != 0 {
			t.Errorf("%q in random bytes: %+v", s, got)
		}
	}
}

func TestConcurrent(t *testing.T) {
	m := mustNew(t, tokenSecret)
	data := []byte("a " + tokenSecret + " b " + base64.StdEncoding.EncodeToString([]byte(tokenSecret)) + " c ghp_16C7e42F…")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if got := m.Find(data); len(got) != 3 {
					t.Errorf("got %+v", got)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestQuickCoverage: in random data sprinkled with forms of the secret,
// every occurrence of a full form is covered by a reported match, and every
// reported match is either a full form or a valid partial copy.
func TestQuickCoverage(t *testing.T) {
	m := mustNew(t, escSecret)
	forms := expectedForms(escSecret)
	var all []string
	for _, f := range forms {
		all = append(all, f)
	}
	prop := func(seed uint64, pieces []uint16) bool {
		r := rand.New(rand.NewPCG(seed, 9))
		var data []byte
		for _, p := range pieces {
			switch p % 4 {
			case 0:
				data = append(data, all[int(p/4)%len(all)]...)
			case 1:
				f := all[int(p/4)%len(all)]
				data = append(data, f[:int(p/16)%len(f)]...)
			default:
				junk := make([]byte, int(p/4)%12)
				for i := range junk {
					junk[i] = " \"'%\\/+&<>*…x.p@sw0rdq4032"[r.IntN(27)]
				}
				data = append(data, junk...)
			}
		}
		return checkFind(t, m, data)
	}
	if err := quick.Check(prop, &quick.Config{MaxCount: 3000}); err != nil {
		t.Error(err)
	}
}

// checkFind verifies Find against a naive search of the matcher's patterns.
func checkFind(t *testing.T, m *Matcher, data []byte) bool {
	t.Helper()
	got := m.Find(data)
	covered := func(s, e int) bool {
		for _, g := range got {
			if g.Start < e && s < g.End {
				return true
			}
		}
		return false
	}
	ok := true
	for _, p := range m.pats {
		if p.enc == "" {
			continue
		}
		pb := p.b
		for off := 0; ; {
			j := bytes.Index(data[off:], pb)
			if j < 0 {
				break
			}
			if !covered(off+j, off+j+len(pb)) {
				t.Errorf("occurrence %d..%d (%s) not reported in %q: %+v", off+j, off+j+len(pb), p.enc, data, got)
				ok = false
			}
			off += j + 1
		}
	}
	for i, g := range got {
		if i > 0 && g.Start < got[i-1].End {
			t.Errorf("overlapping matches %+v", got)
			ok = false
		}
		if g.Partial {
			continue
		}
		genuine := false
		for _, p := range m.pats {
			if p.enc == g.Encoding && bytes.Equal(p.b, data[g.Start:g.End]) {
				genuine = true
			}
		}
		if !genuine {
			t.Errorf("match %+v is no form of the secret", g)
			ok = false
		}
	}
	return ok
}

// FuzzFind embeds the secret in random data in a random encoding and checks
// Find reports it with the right encoding and span.
func FuzzFind(f *testing.F) {
	f.Add([]byte(tokenSecret), []byte("prefix "), []byte(" suffix"), uint8(0))
	f.Add([]byte(escSecret), []byte("{\"a\":\""), []byte("\"}"), uint8(3))
	f.Add([]byte(uniSecret), []byte{}, []byte{}, uint8(7))
	f.Add([]byte("\x00\x01\x02\x03\x04\x05\x06"), []byte("zz"), []byte{0xff}, uint8(12))
	f.Add([]byte("abcd"), []byte("\n"), []byte("\n"), uint8(20))
	f.Fuzz(func(t *testing.T, s, pre, post []byte, choice uint8) {
		if len(s) < MinLen {
			return
		}
		m, err := New(secret.New(s))
		if err != nil {
			t.Fatal(err)
		}
		// Filler uses only bytes no pattern contains, so no match can run
		// into it and the expected span is exact.
		var used [256]bool
		for _, p := range m.pats {
			for _, c := range p.b {
				used[c] = true
			}
		}
		var filler []byte
		for c := range 256 {
			if !used[c] {
				filler = append(filler, byte(c))
			}
		}
		fill := func(b []byte) []byte {
			out := make([]byte, len(b))
			if len(filler) == 0 {
				return nil
			}
			for i, c := range b {
				out[i] = filler[int(c)%len(filler)]
			}
			return out
		}
		pre, post = fill(pre), fill(post)

		forms := expectedForms(string(s))
		names := make([]string, 0, len(forms))
		for n := range forms {
			names = append(names, n)
		}
		slices.Sort(names)
		nChoices := len(names) + 3
		c := int(choice) % nChoices
		var data []byte
		var want Match
		if c < len(names) {
			name := names[c]
			form := forms[name]
			data = append(append(append(data, pre...), form...), post...)
			want = Match{Start: len(pre), End: len(pre) + len(form), Encoding: encodingOf(name, string(s), forms)}
			got := m.Find(data)
			if len(got) != 1 || got[0] != want {
				t.Fatalf("%s form %q in %q: got %+v, want %+v", name, form, data, got, want)
			}
			return
		}
		// Base64 embedded at alignment k in a longer blob made of the
		// (unfiltered) fuzz bytes.
		k := c - len(names)
		head := append([]byte{}, pre...)
		for len(head)%3 != k {
			head = append(head, 'k')
		}
		blob := base64.StdEncoding.EncodeToString(append(append(append([]byte{}, head...), s...), post...))
		drop := [3]int{0, 2, 3}[k]
		start := 4*(len(head)/3) + drop
		end := 4*(len(head)/3) + 8*(k+len(s))/6
		if end-start < minBase64 && (k != 0 || len(s)%3 != 0) {
			return // too short a core to be searched for
		}
		data = []byte("\x00" + blob + "\x00")
		got := m.Find(data)
		for _, g := range got {
			if g.Encoding == Base64 && g.Start == start+1 && g.End >= end+1 && g.End <= end+4 {
				return
			}
		}
		// Another form of the secret may legitimately cover the spot (the
		// random bytes around it can spell one); it must then overlap.
		for _, g := range got {
			if g.Start < end+1 && start+1 < g.End && (g.Start < start+1 || g.End > end+4) {
				return
			}
		}
		t.Fatalf("base64 k=%d of %q in %q: got %+v, want %d..%d", k, s, data, got, start+1, end+1)
	})
}

// goSource returns about n bytes of Go source from GOROOT, or generated
// Go-like text if GOROOT is not readable.
func goSource(tb testing.TB, n int) []byte {
	tb.Helper()
	var buf bytes.Buffer
	root := filepath.Join(testutil.GoRoot(tb), "src")
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || buf.Len() >= n {
			return filepath.SkipAll
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "vendor") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			if b, err := os.ReadFile(p); err == nil {
				buf.Write(b)
			}
		}
		return nil
	})
	for buf.Len() < n {
		fmt.Fprintf(&buf, "func f%d(ctx context.Context, s string) (int, error) {\n\treturn strconv.Atoi(s) // %d\n}\n", buf.Len(), buf.Len()*7)
	}
	return buf.Bytes()[:n]
}

func BenchmarkFind(b *testing.B) {
	data := goSource(b, 16<<20)
	// A few copies, as a leak would leave them.
	for i, f := range []string{tokenSecret, base64.StdEncoding.EncodeToString([]byte(tokenSecret)), "ghp_16C7e42F…"} {
		copy(data[(i+1)*len(data)/4:], " "+f+" ")
	}
	m := mustNew(b, tokenSecret)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		if got := m.Find(data); len(got) != 3 {
			b.Fatalf("got %d matches", len(got))
		}
	}
}

// BenchmarkFindBase64 is the prefilter's worst realistic case: a large
// base64 blob, whose alphabet every base64 pattern shares.
func BenchmarkFindBase64(b *testing.B) {
	raw := make([]byte, 12<<20)
	fillRand(rand.New(rand.NewPCG(5, 6)), raw)
	data := []byte(base64.StdEncoding.EncodeToString(raw))
	m := mustNew(b, tokenSecret)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		m.Find(data)
	}
}

// FuzzFindCoverage checks Find against a naive search of every pattern in
// arbitrary data.
func FuzzFindCoverage(f *testing.F) {
	f.Add([]byte(escSecret), []byte(`x p@ss/w0rd+"q"&<x> p%40ss%2Fw0rd+… cEBzcy93MHJkKyJxIiY8eD4=`))
	f.Add([]byte("aaaa"), []byte("aaaaaaaaaYWFhYQ==aaa"))
	f.Fuzz(func(t *testing.T, s, data []byte) {
		if len(s) < MinLen {
			return
		}
		m, err := New(secret.New(s))
		if err != nil {
			t.Fatal(err)
		}
		checkFind(t, m, data)
	})
}
