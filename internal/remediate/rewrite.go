package remediate

import (
	"bytes"
	"cmp"
	"fmt"
	"go/parser"
	"go/token"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/trace"
)

// Change is one copy of the secret replaced in a file on the
// remediation branch. It never holds the value.
type Change struct {
	// Path is relative to the repository's top level, slash separated.
	Path string `json:"path"`
	Line int    `json:"line"`
	// Name is the variable (environment, CI secret, Terraform variable,
	// Kubernetes Secret key) that now provides the value.
	Name string `json:"name"`
	// Reference is what the copy became: os.Getenv("DB_PASSWORD"),
	// ${{ secrets.GITHUB_TOKEN }}, a secretKeyRef, an empty value.
	Reference string `json:"reference"`
	// Note is what a person must do for the reference to work.
	Note string `json:"note"`
	// OldUser and NewUser are set on a change of the login a file names
	// (the run retired OldUser); NewUser is "" when the file does not say
	// which new login it needs and the note says what to do.
	OldUser string `json:"old_user,omitempty"`
	NewUser string `json:"new_user,omitempty"`
	// KeyID is set on a change of the leaked key's public id (an AWS
	// access key id, not secret): the id stays beside the secret in
	// files, and merged alone the new secret would be paired with the
	// deleted key's id, so it gets a reference of its own.
	KeyID string `json:"key_id,omitempty"`
}

// edit replaces data[start:end] with text.
type edit struct {
	start, end int
	text       string
}

// style is how a file refers to a value kept elsewhere.
type style string

const (
	styleGo       style = "go"
	stylePython   style = "python"
	styleJS       style = "js"
	styleJava     style = "java"
	styleRuby     style = "ruby"
	stylePHP      style = "php"
	styleShell    style = "shell"
	styleActions  style = "github-actions"
	styleGitLab   style = "gitlab-ci"
	styleK8s      style = "kubernetes"
	styleTFVars   style = "tfvars"
	styleTF       style = "terraform"
	styleDotenv   style = "dotenv"
	styleConfig   style = "config"
	markerRemoved       = "rekey"
)

// styleOf picks the style from the path, and for YAML from the content
// (a Kubernetes manifest names apiVersion and kind).
func styleOf(p string, data []byte) style {
	lower := strings.ToLower(p)
	base, ext := path.Base(lower), path.Ext(lower)
	dirs := "/" + path.Dir(lower) + "/"
	switch {
	case strings.Contains(dirs, "/.github/workflows/"), strings.Contains(dirs, "/.github/actions/"):
		return styleActions
	case base == ".gitlab-ci.yml", strings.HasSuffix(base, ".gitlab-ci.yml"):
		return styleGitLab
	case ext == ".tfvars":
		return styleTFVars
	case ext == ".tf":
		return styleTF
	case base == ".env", strings.HasPrefix(base, ".env."), ext == ".env":
		return styleDotenv
	case ext == ".go":
		return styleGo
	case ext == ".py":
		return stylePython
	case ext == ".js", ext == ".mjs", ext == ".cjs", ext == ".ts", ext == ".tsx", ext == ".jsx":
		return styleJS
	case ext == ".java", ext == ".kt", ext == ".scala", ext == ".groovy":
		return styleJava
	case ext == ".rb":
		return styleRuby
	case ext == ".php":
		return stylePHP
	case ext == ".sh", ext == ".bash", ext == ".zsh", ext == "" && bytes.HasPrefix(data, []byte("#!")) && bytes.Contains(firstLine(data), []byte("sh")):
		return styleShell
	case (ext == ".yaml" || ext == ".yml") && k8sRE.Match(data):
		return styleK8s
	}
	return styleConfig
}

var k8sRE = regexp.MustCompile(`(?m)^apiVersion:\s*\S+`)

func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i]
	}
	return b
}

// value is the literal a copy of the secret sits in.
type value struct {
	ls, le int  // the line
	vs, ve int  // the value (inside the quotes when quoted)
	q      byte // the quote character, 0 when unquoted
	key    string
	dsn    bool // the value is a URL holding the secret
	whole  bool // the value is the copy itself
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.\-]*$`)

func isStop(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', '"', '\'', '`', ',', ';', '(', ')', '[', ']', '{', '}', '<', '>', '|':
		return true
	}
	return false
}

// valueAt finds the literal holding the copy at m and the key it is
// assigned to on its line.
func valueAt(data []byte, m trace.Match) value {
	ls := bytes.LastIndexByte(data[:m.Start], '\n') + 1
	le := len(data)
	if i := bytes.IndexByte(data[m.End:], '\n'); i >= 0 {
		le = m.End + i
	}
	v := value{ls: ls, le: le}
	for p := m.Start - 1; p >= ls; p-- {
		c := data[p]
		if c != '"' && c != '\'' && c != '`' || p > ls && data[p-1] == '\\' {
			continue
		}
		if end := closing(data, m.End, le, c); end >= 0 {
			v.q, v.vs, v.ve = c, p+1, end
			break
		}
	}
	keyEnd := 0
	if v.q != 0 {
		keyEnd = v.vs - 1
	} else {
		ts, te := m.Start, m.End
		for ts > ls && !isStop(data[ts-1]) {
			ts--
		}
		for te < le && !isStop(data[te]) {
			te++
		}
		v.vs, v.ve, keyEnd = ts, te, ts
		if i := bytes.IndexByte(data[ts:m.Start], '='); i > 0 && identRE.Match(data[ts:ts+i]) {
			v.key, v.vs = string(data[ts:ts+i]), ts+i+1
		}
	}
	if v.key == "" {
		v.key = keyLeft(string(data[ls:keyEnd]))
	}
	v.dsn = bytes.Contains(data[v.vs:m.Start], []byte("://"))
	v.whole = m.Start == v.vs && m.End == v.ve || m.Encoding == trace.Base64 || m.Encoding == trace.Hex
	return v
}

// closing is the index of the first unescaped c in data[from:to], or -1.
func closing(data []byte, from, to int, c byte) int {
	for i := from; i < to; i++ {
		if data[i] == c && (c == '\'' || data[i-1] != '\\') {
			return i
		}
	}
	return -1
}

// keyLeft is the key a value is assigned to, from the text before it on
// its line: `password: `, `"token": `, `DB_URL = `, `dbPassword := `.
func keyLeft(prefix string) string {
	s := strings.TrimRight(prefix, " \t")
	assigned := false
	for _, op := range []string{":=", "=>", "?=", "||=", "=", ":"} {
		if strings.HasSuffix(s, op) {
			s, assigned = strings.TrimRight(s[:len(s)-len(op)], " \t"), true
			break
		}
	}
	if !assigned {
		return "" // an argument or a list item: no key names it
	}
	s = strings.TrimRight(s, "\"'`")
	i := len(s)
	for i > 0 && (isAlnum(s[i-1]) || strings.IndexByte("_.-$@", s[i-1]) >= 0) {
		i--
	}
	k := strings.TrimLeft(s[i:], "$@")
	for _, p := range []string{"self.", "this.", "cls."} {
		k = strings.TrimPrefix(k, p)
	}
	return strings.Trim(k, ".-")
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

var (
	upperSnakeRE = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	yamlKeyRE    = regexp.MustCompile(`^(\s*)(- )?([^\s:#'"][^:#]*?|"[^"]*"|'[^']*')\s*:(\s|$)`)
)

// yamlParent is the key of the mapping that holds the line at ls (the
// nearest line above with less indentation that opens a mapping).
func yamlParent(data []byte, ls int) string {
	line := lineAt(data, ls)
	m := yamlKeyRE.FindStringSubmatch(line)
	if m == nil {
		return ""
	}
	col := len(m[1]) + len(m[2])
	for p := ls; p > 0; {
		p = bytes.LastIndexByte(data[:p-1], '\n') + 1
		l := lineAt(data, p)
		if strings.TrimSpace(l) == "" || strings.HasPrefix(strings.TrimSpace(l), "#") {
			if p == 0 {
				break
			}
			continue
		}
		pm := yamlKeyRE.FindStringSubmatch(l)
		if pm != nil && len(pm[1])+len(pm[2]) < col {
			if strings.TrimSpace(l[len(pm[0]):]) == "" {
				return strings.Trim(pm[3], `"'`)
			}
			return ""
		}
		if indent(l) < col && pm == nil {
			return ""
		}
		if p == 0 {
			break
		}
	}
	return ""
}

func lineAt(data []byte, ls int) string {
	le := bytes.IndexByte(data[ls:], '\n')
	if le < 0 {
		return string(data[ls:])
	}
	return string(data[ls : ls+le])
}

func indent(l string) int { return len(l) - len(strings.TrimLeft(l, " ")) }

// upperSnake turns a key into an environment variable name:
// db.password → DB_PASSWORD, dbPassword → DB_PASSWORD.
func upperSnake(s string) string {
	var b strings.Builder
	prevLower := false
	for _, r := range s {
		switch {
		case unicode.IsUpper(r):
			if prevLower {
				b.WriteByte('_')
			}
			b.WriteRune(r)
			prevLower = false
		case unicode.IsLower(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToUpper(r))
			prevLower = true
		default:
			b.WriteByte('_')
			prevLower = false
		}
	}
	out := strings.Trim(regexp.MustCompile(`_+`).ReplaceAllString(b.String(), "_"), "_")
	if out != "" && out[0] >= '0' && out[0] <= '9' {
		out = "V_" + out
	}
	return out
}

func lowerSnake(s string) string { return strings.ToLower(upperSnake(s)) }

func kebab(s string) string { return strings.ReplaceAll(strings.ToLower(s), "_", "-") }

// genericKeys name a slot, not what is in it.
var genericKeys = map[string]bool{"value": true, "val": true, "default": true, "data": true}

// dsnName names the variable holding a connection URL after its scheme.
func dsnName(v []byte) string {
	scheme, _, _ := strings.Cut(strings.ToLower(string(v)), "://")
	switch {
	case strings.HasPrefix(scheme, "postgres"), strings.HasPrefix(scheme, "mysql"), strings.HasPrefix(scheme, "mariadb"),
		strings.HasPrefix(scheme, "sqlserver"), strings.HasPrefix(scheme, "jdbc"):
		return "DATABASE_URL"
	case strings.HasPrefix(scheme, "mongodb"):
		return "MONGODB_URI"
	case strings.HasPrefix(scheme, "redis"):
		return "REDIS_URL"
	case strings.HasPrefix(scheme, "amqp"):
		return "AMQP_URL"
	}
	if n := upperSnake(scheme); n != "" {
		return n + "_URL"
	}
	return "SERVICE_URL"
}

// keyID is the leaked key's public id, which a consumer presents beside
// the secret: its exact occurrences in a file holding a copy are replaced
// by a reference of the same style as the secret's.
type keyID struct {
	id string
	tm *trace.Matcher
	// fallback names the variable when no key does (AWS_ACCESS_KEY_ID).
	fallback string
	// secrets are the Kubernetes Secrets of the repository holding it.
	secrets []k8sRef
}

func newKeyID(id, fallback string) (*keyID, error) {
	if id == "" {
		return nil, nil
	}
	tm, err := trace.New(secret.FromString(id))
	if err != nil {
		return nil, fmt.Errorf("key id: %w", err)
	}
	return &keyID{id: id, tm: tm, fallback: fallback}, nil
}

// find lists the whole copies of the id in data: a longer id that starts
// or ends with it, or a truncated one, is another key's.
func (k *keyID) find(data []byte) []trace.Match {
	if k == nil {
		return nil
	}
	var out []trace.Match
	for _, m := range k.tm.Find(data) {
		if m.Partial || m.Start > 0 && isAlnum(data[m.Start-1]) || m.End < len(data) && isAlnum(data[m.End]) {
			continue
		}
		out = append(out, m)
	}
	return out
}

// workspace holds a repository's files as the remediation branch will
// have them.
type workspace struct {
	incident string
	fallback string // a name when neither key nor URL gives one
	key      *keyID // the leaked key's public id, nil when it has none
	read     func(p string) ([]byte, bool)
	files    map[string][]byte
	modes    map[string]string
	secrets  []k8sRef // Kubernetes Secrets of the repository holding the value
	ignore   []string // files to add to .gitignore
	tfvars   map[string][]string
	changes  []Change
	// logins are the logins the run retired, with their replacements;
	// dir is the repository's top level (for delivery paths).
	logins []LoginChange
	dir    string
}

// abs is a repository file's absolute path ("" when unknown).
func (w *workspace) abs(p string) string {
	if w.dir == "" {
		return ""
	}
	return filepath.Join(w.dir, filepath.FromSlash(p))
}

type k8sRef struct{ name, key string }

func (w *workspace) content(p string) ([]byte, bool) {
	if b, ok := w.files[p]; ok {
		return b, true
	}
	return w.read(p)
}

func (w *workspace) name(v value, p string, data []byte, fallback string) string {
	k := v.key
	isYAML := strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".yaml")
	if k != "" && !genericKeys[strings.ToLower(k)] {
		if isYAML && !upperSnakeRE.MatchString(k) {
			if parent := yamlParent(data, v.ls); parent != "" && !genericKeys[parent] {
				k = parent + "." + k
			}
		}
		if n := upperSnake(k); n != "" {
			return n
		}
	}
	if v.dsn {
		return dsnName(data[v.vs:v.ve])
	}
	return fallback
}

// rewrite replaces every copy in one file, and the leaked key's id
// beside it, and records the changes.
func (w *workspace) rewrite(p string, data []byte, ms []trace.Match) {
	st := styleOf(p, data)
	var eds []edit
	imports := false
	names := map[string]bool{}
	for _, m := range ms {
		v := valueAt(data, m)
		name := w.name(v, p, data, w.fallback)
		names[name] = true
		es, ch, code := w.replace(p, data, st, m, v, name, w.secrets)
		imports = imports || code
		if v.dsn && w.logins != nil {
			if lc, ok := dsnLogin(data[v.vs:v.ve], w.logins); ok {
				ch.OldUser, ch.NewUser = user(lc.Old), lc.pick(w.abs(p))
				if ch.NewUser != "" {
					ch.Note += fmt.Sprintf("; the value must now name user %s, not %s (retired by the rotation)", ch.NewUser, ch.OldUser)
				} else {
					ch.Note += fmt.Sprintf("; its user %s was retired by the rotation: the value must name the login of whoever reads it, one of %s", ch.OldUser, lc.choices())
				}
			}
		}
		eds = append(eds, es...)
		w.changes = append(w.changes, ch)
	}
	secretEdits := slices.Clone(eds)
	for _, m := range w.key.find(data) {
		// An id inside what the secret's reference replaced (a URL
		// holding both) went with it.
		if slices.ContainsFunc(secretEdits, func(e edit) bool { return m.Start < e.end && e.start < m.End }) {
			continue
		}
		v := valueAt(data, m)
		// Assigned to the key the secret is (KEY_ID:SECRET under one
		// key), the id needs a variable of its own.
		name := w.name(v, p, data, w.key.fallback)
		if names[name] {
			name = w.key.fallback
		}
		if names[name] {
			name += "_ID"
		}
		es, ch, code := w.replace(p, data, st, m, v, name, w.key.secrets)
		imports = imports || code
		ch.KeyID = w.key.id
		ch.Note += "; its value is the new key's id: " + w.key.id + " was the leaked key's"
		eds = append(eds, es...)
		w.changes = append(w.changes, ch)
	}
	at := make([]int, len(ms))
	for i, m := range ms {
		at[i] = m.Start
	}
	eds = append(eds, w.userEdits(p, data, st, at)...)
	out := apply(data, eds)
	if imports {
		out = addImport(st, out)
	}
	w.files[p] = out
}

// replace is the edit that puts a reference in place of the literal at
// m, in the file's style, and the change it makes; code reports a
// reference that needs an import. name is the variable; secrets are the
// repository's Kubernetes Secrets holding the value, for a container's
// env entry to refer to.
func (w *workspace) replace(p string, data []byte, st style, m trace.Match, v value, name string, secrets []k8sRef) (es []edit, ch Change, code bool) {
	line := bytes.Count(data[:m.Start], []byte("\n")) + 1
	ch = Change{Path: p, Line: line, Name: name}
	switch st {
	case styleGo, stylePython, styleJS, styleJava, styleRuby, stylePHP:
		es, ch.Reference = codeEdits(st, data, m, v, name)
		ch.Note = "set " + name + " in the program's environment (and in its deployment)"
		code = true
	case styleShell:
		es, ch.Reference = shellEdits(data, m, v, name)
		ch.Note = "set " + name + " in the environment that runs the script"
	case styleActions:
		ref := "${{ secrets." + name + " }}"
		es, ch.Reference = inline(m, v, ref), ref
		ch.Note = "add the repository secret " + name + " (gh secret set " + name + ") before merging"
	case styleGitLab:
		ref := "$" + name
		if e := replaceEnd(m, v); e < len(data) && (isAlnum(data[e]) || data[e] == '_') {
			ref = "${" + name + "}"
		}
		es, ch.Reference = inline(m, v, ref), ref
		ch.Note = "add " + name + " as a masked, protected CI/CD variable (Settings › CI/CD › Variables) before merging"
	case styleK8s:
		es, ch = w.k8sEdits(data, m, v, ch, secrets)
	case styleTFVars:
		es, ch = w.tfvarsEdits(p, data, m, v, ch)
	case styleTF:
		tfName := lowerSnake(name)
		if v.whole || v.dsn {
			s, e := v.vs, v.ve
			if v.q != 0 {
				s, e = s-1, e+1
			}
			es = []edit{{s, e, "var." + tfName}}
		} else {
			es = []edit{{m.Start, m.End, "${var." + tfName + "}"}}
		}
		ch.Name, ch.Reference = tfName, "var."+tfName
		w.tfVariable(path.Dir(p), tfName)
		ch.Note = "supply it as TF_VAR_" + tfName + " (declared sensitive) or from a secret manager"
	case styleDotenv:
		s, e := v.vs, v.ve
		if v.q != 0 {
			s, e = s-1, e+1
		}
		es = []edit{{s, e, ""}}
		ch.Reference = name + "= (value removed)"
		ch.Note = "set " + name + " in the environment; the file is now in .gitignore (git rm --cached " + p + " stops tracking it)"
		w.ignore = append(w.ignore, p)
	default:
		ref := "${" + name + "}"
		es, ch.Reference = inline(m, v, ref), ref
		ch.Note = "set " + name + " where this file is read, and make sure the reader expands ${" + name + "} from the environment"
	}
	return es, ch, code
}

// replaceEnd is where the span inline replaces ends.
func replaceEnd(m trace.Match, v value) int {
	if v.whole || v.dsn {
		return v.ve
	}
	return m.End
}

// inline replaces the value (a whole value or a URL holding the secret)
// or, inside a longer string, the copy alone, keeping quotes.
func inline(m trace.Match, v value, ref string) []edit {
	if v.whole || v.dsn {
		return []edit{{v.vs, v.ve, ref}}
	}
	return []edit{{m.Start, m.End, ref}}
}

func codeRef(st style, name string) string {
	switch st {
	case styleGo:
		return `os.Getenv("` + name + `")`
	case stylePython:
		return `os.environ["` + name + `"]`
	case styleJS:
		return "process.env." + name
	case styleJava:
		return `System.getenv("` + name + `")`
	case styleRuby:
		return `ENV.fetch("` + name + `")`
	case stylePHP:
		return `getenv('` + name + `')`
	}
	return name
}

func codeEdits(st style, data []byte, m trace.Match, v value, name string) ([]edit, string) {
	ref := codeRef(st, name)
	var es []edit
	if st == styleGo {
		// A constant cannot hold a call: a lone `const x = "…"` becomes a var.
		line := data[v.ls:v.le]
		if t := bytes.TrimLeft(line, " \t"); bytes.HasPrefix(t, []byte("const ")) {
			at := v.ls + len(line) - len(t)
			es = append(es, edit{at, at + len("const"), "var"})
		}
	}
	if v.q == 0 {
		return append(es, edit{v.vs, v.ve, ref}), ref
	}
	if v.whole || v.dsn {
		return append(es, edit{v.vs - 1, v.ve + 1, ref}), ref
	}
	if v.q == '`' && st == styleJS {
		return append(es, edit{m.Start, m.End, "${" + ref + "}"}), ref
	}
	q := string(v.q)
	join := " + "
	if st == stylePHP {
		join = " . "
	}
	var parts []string
	if pre := data[v.vs:m.Start]; len(pre) > 0 {
		parts = append(parts, q+string(pre)+q)
	}
	parts = append(parts, ref)
	if post := data[m.End:v.ve]; len(post) > 0 {
		parts = append(parts, q+string(post)+q)
	}
	return append(es, edit{v.vs - 1, v.ve + 1, strings.Join(parts, join)}), ref
}

func shellEdits(data []byte, m trace.Match, v value, name string) ([]edit, string) {
	ref := "${" + name + "}"
	switch {
	case v.q == '"':
		return inline(m, v, ref), `"` + ref + `"`
	case v.q == '\'' && (v.whole || v.dsn):
		return []edit{{v.vs - 1, v.ve + 1, `"` + ref + `"`}}, `"` + ref + `"`
	case v.q == '\'':
		return []edit{{m.Start, m.End, `'"` + ref + `"'`}}, `"` + ref + `"`
	}
	return inline(m, v, `"`+ref+`"`), `"` + ref + `"`
}

// k8sEdits: in a Secret the value is emptied (the Secret must be created
// out of band); a container's env value becomes a secretKeyRef; anything
// else is treated as configuration.
func (w *workspace) k8sEdits(data []byte, m trace.Match, v value, ch Change, secrets []k8sRef) ([]edit, Change) {
	doc := docAt(data, v.ls)
	line := lineAt(data, v.ls)
	km := yamlKeyRE.FindStringSubmatch(line)
	switch {
	case kindOf(doc) == "Secret":
		name := metaName(doc)
		key := strings.Trim(v.key, `"'`)
		s := v.vs
		if v.q != 0 {
			s--
		}
		ch.Name = key
		ch.Reference = `"" (placeholder)`
		ch.Note = fmt.Sprintf("Secret %s no longer carries %s: create it out of band (kubectl create secret generic %s --from-literal=%s=…, or your secret manager) before applying", name, key, name, key)
		return []edit{{s, v.le, `"" # ` + markerRemoved + " " + w.incident + ": create this Secret out of band"}}, ch
	case km != nil && strings.Trim(km[3], `"'`) == "value":
		col := len(km[1]) + len(km[2])
		envName := siblingName(data, v.ls, col)
		if envName == "" {
			envName = ch.Name
		}
		ref := k8sRef{name: kebab(envName), key: envName}
		created := true
		if len(secrets) > 0 {
			ref, created = secrets[0], false
		}
		sp := strings.Repeat(" ", col)
		text := fmt.Sprintf("valueFrom:\n%s  secretKeyRef:\n%s    name: %s\n%s    key: %s", sp, sp, ref.name, sp, ref.key)
		ch.Name = envName
		ch.Reference = fmt.Sprintf("secretKeyRef %s/%s", ref.name, ref.key)
		if created {
			ch.Note = fmt.Sprintf("create Secret %s with key %s out of band (kubectl create secret generic %s --from-literal=%s=…) before applying", ref.name, ref.key, ref.name, ref.key)
		} else {
			ch.Note = fmt.Sprintf("reads Secret %s (key %s), which must itself be created out of band", ref.name, ref.key)
		}
		return []edit{{v.ls + col, v.le, text}}, ch
	}
	ref := "${" + ch.Name + "}"
	ch.Reference = ref
	ch.Note = "move the value to a Kubernetes Secret and reference it; ${" + ch.Name + "} is a placeholder for your templating"
	return inline(m, v, ref), ch
}

// docAt is the YAML document (between --- lines) holding offset off.
func docAt(data []byte, off int) string {
	s, e := docBounds(data, off)
	return string(data[s:e])
}

// docBounds is where the YAML document holding offset off starts and ends.
func docBounds(data []byte, off int) (int, int) {
	start := 0
	for _, loc := range docSepRE.FindAllIndex(data, -1) {
		if loc[0] <= off {
			start = loc[1]
		} else {
			return start, loc[0]
		}
	}
	return start, len(data)
}

var (
	docSepRE  = regexp.MustCompile(`(?m)^---.*$`)
	kindRE    = regexp.MustCompile(`(?m)^kind:\s*["']?([A-Za-z]+)`)
	metaRE    = regexp.MustCompile(`(?m)^metadata:\s*\n((?:[ \t]+.*\n|\s*\n)*)`)
	metaNmRE  = regexp.MustCompile(`(?m)^[ \t]+name:\s*["']?([^"'\s#]+)`)
	tfVarLine = regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*`)
)

func kindOf(doc string) string {
	if m := kindRE.FindStringSubmatch(doc); m != nil {
		return m[1]
	}
	return ""
}

func metaName(doc string) string {
	if m := metaRE.FindStringSubmatch(doc); m != nil {
		if n := metaNmRE.FindStringSubmatch(m[1]); n != nil {
			return n[1]
		}
	}
	return "?"
}

// siblingName is the `name:` of the list item whose `value:` key is at
// column col of the line at ls (a container's env entry).
func siblingName(data []byte, ls, col int) string {
	check := func(l string) (string, bool) {
		m := yamlKeyRE.FindStringSubmatch(l)
		if m == nil || len(m[1])+len(m[2]) != col {
			return "", indent(l) >= col || strings.TrimSpace(l) == ""
		}
		if strings.Trim(m[3], `"'`) == "name" {
			return strings.Trim(strings.TrimSpace(stripComment(l[len(m[0]):])), `"'`), false
		}
		return "", m[2] == "" // a new item ends the search
	}
	// Upwards, to the item's first line.
	for p := ls; p > 0; {
		p = bytes.LastIndexByte(data[:p-1], '\n') + 1
		l := lineAt(data, p)
		if n, more := check(l); n != "" {
			return n
		} else if !more || strings.HasPrefix(strings.TrimLeft(l, " "), "- ") {
			break
		}
	}
	for p := bytes.IndexByte(data[ls:], '\n'); p >= 0; {
		start := ls + p + 1
		if start >= len(data) {
			break
		}
		l := lineAt(data, start)
		n, more := check(l)
		if n != "" {
			return n
		}
		if !more {
			break
		}
		np := bytes.IndexByte(data[start:], '\n')
		if np < 0 {
			break
		}
		p = start + np - ls
	}
	return ""
}

func stripComment(s string) string {
	if i := strings.Index(s, " #"); i >= 0 {
		return s[:i]
	}
	return s
}

// tfvarsEdits removes the assignment; the variable is declared sensitive
// and supplied as TF_VAR_name.
func (w *workspace) tfvarsEdits(p string, data []byte, m trace.Match, v value, ch Change) ([]edit, Change) {
	line := lineAt(data, v.ls)
	lm := tfVarLine.FindStringSubmatch(line)
	if lm == nil {
		s, e := v.vs, v.ve
		ch.Reference = `"" (value removed)`
		ch.Note = "the value is removed; supply it from a secret manager"
		return []edit{{s, e, ""}}, ch
	}
	name := lm[1]
	end := v.le
	if end < len(data) {
		end++
	}
	ch.Name = name
	ch.Reference = "TF_VAR_" + name
	ch.Note = "the assignment is removed and the variable declared sensitive: supply it as TF_VAR_" + name + " (or from a secret manager)"
	w.tfVariable(path.Dir(p), name)
	return []edit{{v.ls, end, ""}}, ch
}

// tfVariable makes sure variable name is declared sensitive in dir's .tf
// files, adding a declaration to variables.tf when there is none.
func (w *workspace) tfVariable(dir, name string) {
	if w.tfvars == nil {
		w.tfvars = map[string][]string{}
	}
	if slices.Contains(w.tfvars[dir], name) {
		return
	}
	w.tfvars[dir] = append(w.tfvars[dir], name)
}

var tfVarDecl = regexp.MustCompile(`(?m)^variable\s+"([^"]+)"\s*\{[ \t]*\n`)

// finishTF declares the recorded variables: an existing declaration gets
// `sensitive = true`, a missing one is added to variables.tf.
func (w *workspace) finishTF(tfFiles []string) {
	for _, dir := range sortedKeys(w.tfvars) {
		for _, name := range w.tfvars[dir] {
			done := false
			for _, f := range tfFiles {
				if path.Dir(f) != dir {
					continue
				}
				b, ok := w.content(f)
				if !ok {
					continue
				}
				for _, loc := range tfVarDecl.FindAllSubmatchIndex(b, -1) {
					if string(b[loc[2]:loc[3]]) != name {
						continue
					}
					done = true
					end := bytes.Index(b[loc[1]:], []byte("\n}"))
					if end >= 0 && regexp.MustCompile(`(?m)^\s*sensitive\s*=\s*true`).Match(b[loc[1]:loc[1]+end]) {
						break
					}
					nb := slices.Concat(b[:loc[1]], []byte("  sensitive = true\n"), b[loc[1]:])
					w.files[f] = nb
					break
				}
				if done {
					break
				}
			}
			if done {
				continue
			}
			vf := path.Join(dir, "variables.tf")
			if dir == "." {
				vf = "variables.tf"
			}
			b, _ := w.content(vf)
			if len(b) > 0 && !bytes.HasSuffix(b, []byte("\n")) {
				b = append(slices.Clone(b), '\n')
			}
			decl := fmt.Sprintf("\nvariable %q {\n  type      = string\n  sensitive = true\n}\n", name)
			if len(b) == 0 {
				decl = decl[1:]
			}
			w.files[vf] = slices.Concat(b, []byte(decl))
		}
	}
}

// finishIgnore adds the recorded files to the top-level .gitignore.
func (w *workspace) finishIgnore() {
	if len(w.ignore) == 0 {
		return
	}
	b, _ := w.content(".gitignore")
	have := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		have[strings.TrimSpace(l)] = true
	}
	var add []string
	for _, p := range w.ignore {
		if e := "/" + p; !have[e] && !have[p] && !slices.Contains(add, e) {
			add = append(add, e)
		}
	}
	if len(add) == 0 {
		return
	}
	out := slices.Clone(b)
	if len(out) > 0 && !bytes.HasSuffix(out, []byte("\n")) {
		out = append(out, '\n')
	}
	out = append(out, []byte("# "+markerRemoved+" "+w.incident+": files that held a leaked secret\n"+strings.Join(add, "\n")+"\n")...)
	w.files[".gitignore"] = out
	if _, ok := w.modes[".gitignore"]; !ok {
		w.modes[".gitignore"] = "100644"
	}
}

// apply makes the edits (overlapping ones keep the first and widest).
func apply(data []byte, eds []edit) []byte {
	slices.SortFunc(eds, func(a, b edit) int { return cmp.Or(cmp.Compare(a.start, b.start), cmp.Compare(b.end, a.end)) })
	var keep []edit
	for _, e := range eds {
		if n := len(keep); n > 0 && e.start < keep[n-1].end {
			continue
		}
		keep = append(keep, e)
	}
	var out bytes.Buffer
	at := 0
	for _, e := range keep {
		out.Write(data[at:e.start])
		out.WriteString(e.text)
		at = e.end
	}
	out.Write(data[at:])
	return out.Bytes()
}

// addImport adds what a code reference needs: Go's "os", Python's os.
func addImport(st style, b []byte) []byte {
	switch st {
	case styleGo:
		if !bytes.Contains(b, []byte("os.Getenv(")) {
			return b
		}
		f, err := parser.ParseFile(token.NewFileSet(), "", b, parser.ImportsOnly)
		if err != nil {
			return b
		}
		for _, im := range f.Imports {
			if p, _ := strconv.Unquote(im.Path.Value); p == "os" && (im.Name == nil || im.Name.Name == "os") {
				return b
			}
		}
		off := int(f.Name.End()) - 1
		if i := bytes.IndexByte(b[off:], '\n'); i >= 0 {
			off += i + 1
		} else {
			off = len(b)
		}
		return slices.Concat(b[:off], []byte("\nimport \"os\"\n"), b[off:])
	case stylePython:
		if !bytes.Contains(b, []byte("os.environ[")) || regexp.MustCompile(`(?m)^import os\s*$`).Match(b) {
			return b
		}
		if loc := regexp.MustCompile(`(?m)^(import|from) `).FindIndex(b); loc != nil {
			return slices.Concat(b[:loc[0]], []byte("import os\n"), b[loc[0]:])
		}
		off := 0
		for off < len(b) && (b[off] == '#' || b[off] == '\n') {
			i := bytes.IndexByte(b[off:], '\n')
			if i < 0 {
				off = len(b)
				break
			}
			off += i + 1
		}
		if rest := b[off:]; bytes.HasPrefix(rest, []byte(`"""`)) || bytes.HasPrefix(rest, []byte(`'''`)) {
			if end := bytes.Index(rest[3:], rest[:3]); end >= 0 {
				off += 3 + end + 3
				if i := bytes.IndexByte(b[off:], '\n'); i >= 0 {
					off += i + 1
				}
			}
		}
		return slices.Concat(b[:off], []byte("import os\n"), b[off:])
	}
	return b
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
