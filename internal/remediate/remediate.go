// Package remediate removes the copies of a leaked secret that rotation
// leaves behind. Rotation makes the old value useless; remediation keeps
// the next one from leaking the same way and takes the old one out of
// places people read:
//
//   - working trees: each copy committed at HEAD of a git repository among
//     the inventory's sources is replaced, on a branch rekey/<incident>, by
//     a reference fitting the file (an environment variable read in code,
//     ${{ secrets.NAME }} in GitHub Actions, $NAME in GitLab CI, a
//     secretKeyRef in a Kubernetes manifest, a sensitive Terraform
//     variable, an emptied .env entry). A key pair's public id (an AWS
//     access key id) in those files gets a reference too: it changes
//     with the secret. The commit is built through a
//     temporary index, so the user's working tree, index and checked-out
//     branch are never touched, and it is never pushed;
//   - git history: a git filter-repo --replace-text expressions file and
//     the steps to rewrite and force-push; the rewrite itself runs only
//     on a local mirror, after another person approves it;
//   - chat and tickets: a task per copy saying what to redact; a copy
//     read through Slack's or Jira's API is redacted through it once
//     another person approves its task.
//
// Afterwards every copy is traced again and each task is stored as done,
// open (a person must act) or remaining (with why).
package remediate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	actorpkg "github.com/rekeyhq/rekey/internal/actor"
	"github.com/rekeyhq/rekey/internal/audit"
	"github.com/rekeyhq/rekey/internal/detect"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/scan"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/source"
	"github.com/rekeyhq/rekey/internal/source/git"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/trace"
)

// Task kinds.
const (
	KindWorkingTree = "working-tree"
	KindHistory     = "history"
	KindChat        = "chat"
	KindTicket      = "ticket"
)

// RewritePrefix starts the id of a repository's history task, the one
// task that waits for an approval: rewrite-history:<repo>.
const RewritePrefix = "rewrite-history:"

// ErrWaiting is returned (wrapped, with the approve command) when
// --rewrite-history was asked for a repository whose rewrite is not
// approved yet. Everything else has been done and stored.
var ErrWaiting = errors.New("waiting for approval")

// Options are what Run works from.
type Options struct {
	Incident store.Incident
	Secret   secret.Secret
	// KeyID is the public id a consumer presents beside the secret (an
	// AWS access key id), "" when the credential has none. It changes
	// with the secret, so in each file holding a copy its occurrences
	// are replaced too, by a reference of the same style.
	KeyID         string
	Inventory     *inventory.Inventory
	Store         store.Store
	Audit         *audit.Log
	Actor         string
	Fingerprinter *secret.Fingerprinter
	// Detector, when set, names copies by the rule that recognises them.
	Detector *detect.Detector
	// Home is $REKEY_HOME: expressions files and mirrors go under
	// Home/remediate/<incident>/.
	Home string
	// RewriteHistory runs the approved rewrites on local mirrors.
	RewriteHistory bool
	// Logins are the logins the run retired and their replacements: a
	// copy's file that names a retired user beside the password gets the
	// user rewritten too, or a task saying what to put there.
	Logins []LoginChange
	// Warn receives problems that do not stop the run (a missing source).
	Warn func(string)
	// Getenv resolves the live sources' token references (os.Getenv when
	// nil).
	Getenv func(string) string
	// DeleteMessages redacts an approved chat message with chat.delete
	// rather than chat.update (the policy where a message's files or
	// attachments hold the copy).
	DeleteMessages bool
	// Now defaults to time.Now.
	Now func() time.Time
}

// Result is what a run did and left to do. It never holds the secret.
type Result struct {
	Incident string       `json:"incident"`
	Branches []Branch     `json:"branches"`
	History  []History    `json:"history"`
	Tasks    []store.Task `json:"tasks"`
	// Counts of the tasks by state.
	Open      int `json:"open"`
	Remaining int `json:"remaining"`
	Done      int `json:"done"`
}

// Branch is the remediation branch of one repository.
type Branch struct {
	Repo   string `json:"repo"`
	Branch string `json:"branch"`
	Commit string `json:"commit"`
	// NewCommit is false when the branch already held these changes.
	NewCommit bool     `json:"new_commit"`
	Changes   []Change `json:"changes"`
	// Clean is true when tracing the branch's tree finds no copy.
	Clean  bool   `json:"clean"`
	Review string `json:"review"`
	Push   string `json:"push"`
}

// History is the history rewrite of one repository.
type History struct {
	Repo string `json:"repo"`
	Task string `json:"task"`
	// Copies is how many places in the history (blob at a path) hold one.
	Copies int `json:"copies"`
	// Expressions is the git filter-repo --replace-text file (mode 0600;
	// it holds the secret), "" once a rewrite has used and deleted it.
	Expressions  string   `json:"expressions,omitempty"`
	Instructions string   `json:"instructions"`
	Steps        []string `json:"steps"`
	ApprovedBy   string   `json:"approved_by,omitempty"`
	Rewritten    bool     `json:"rewritten"`
	Mirror       string   `json:"mirror,omitempty"`
	// MirrorCopies is what tracing the rewritten mirror's whole history
	// found (0 proves the rewrite).
	MirrorCopies int `json:"mirror_copies"`
}

// repo is a git repository among the inventory's sources.
type repo struct {
	dir, key string
}

// BranchName is the remediation branch of an incident.
func BranchName(incident string) string { return "rekey/" + incident }

// Dir is where an incident's remediation files live.
func Dir(home, incident string) string { return filepath.Join(home, "remediate", incident) }

// Run remediates every copy it can, traces again and stores the tasks.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Warn == nil {
		o.Warn = func(string) {}
	}
	inc := o.Incident.ID
	if o.Fingerprinter.Of(o.Secret) != o.Incident.Fingerprint {
		return nil, errs.New("remediate", errs.Invalid, inc, "the secret given is not the one this incident was opened for (fingerprints differ)")
	}
	tm, err := trace.New(o.Secret)
	if err != nil {
		return nil, errs.E("remediate", errs.Invalid, inc, err)
	}
	if _, err := newKeyID(o.KeyID, ""); err != nil {
		return nil, errs.E("remediate", errs.Invalid, inc, err)
	}
	dir := Dir(o.Home, inc)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, errs.E("remediate", errs.Permission, dir, err)
	}
	stored, err := o.Store.Tasks(ctx, inc)
	if err != nil {
		return nil, err
	}
	approvals := map[string]string{}
	for _, t := range stored {
		if by := detailString(t.Detail, "approved_by"); by != "" {
			approvals[t.ID] = by
		}
	}
	rs, err := redactors(o)
	if err != nil {
		return nil, errs.E("remediate", errs.Invalid, inc, err)
	}
	res := &Result{Incident: inc, Branches: []Branch{}, History: []History{}}
	repos := Repositories(o.Inventory)
	fixed := map[string]map[string]bool{} // repo dir → files rewritten on the branch
	var waiting []string
	for _, r := range repos {
		b, files, err := branch(ctx, o, tm, r)
		if err != nil {
			return nil, errs.E("remediate "+r.dir, errs.Invalid, "", err)
		}
		fixed[r.dir] = files
		if b != nil {
			res.Branches = append(res.Branches, *b)
		}
		h, err := history(ctx, o, tm, r, dir, approvals[RewritePrefix+r.key])
		if err != nil {
			return nil, errs.E("remediate "+r.dir, errs.Invalid, "", err)
		}
		if h == nil {
			continue
		}
		if o.RewriteHistory && h.ApprovedBy == "" {
			waiting = append(waiting, h.Task)
		}
		res.History = append(res.History, *h)
	}

	redactions := redactApproved(ctx, o, rs, stored)

	// Trace again: the inventory's sources, each branch's tree (a mirror
	// was traced as it was rewritten).
	after, err := traceSources(ctx, o, tm, scan.InventorySources(o.Inventory, nil, o.Warn, o.Getenv))
	if err != nil {
		return nil, err
	}
	branchCopies := map[string]map[string]int{}
	for i, b := range res.Branches {
		fs, err := traceSources(ctx, o, tm, []source.Source{&treeSource{repo: b.Repo, rev: "refs/heads/" + b.Branch}})
		if err != nil {
			return nil, err
		}
		res.Branches[i].Clean = len(fs) == 0
		branchCopies[b.Repo] = map[string]int{}
		for _, f := range fs {
			branchCopies[b.Repo][f.Path]++
		}
	}
	if err := o.Store.PutOccurrences(ctx, inc, occurrences(after)); err != nil {
		return nil, err
	}
	tasks := buildTasks(o, rs, approvals, repos, fixed, branchCopies, res, after)
	tasks = withRedactions(mergeStored(tasks, stored, o.Now().UTC()), redactions)
	if err := o.Store.PutTasks(ctx, inc, tasks); err != nil {
		return nil, err
	}
	res.Tasks = tasks
	for _, t := range tasks {
		switch t.State {
		case store.TaskOpen:
			res.Open++
		case store.TaskRemaining:
			res.Remaining++
		case store.TaskDone:
			res.Done++
		}
	}
	if err := o.audit(ctx, "remediate.tasks", map[string]int{"open": res.Open, "remaining": res.Remaining, "done": res.Done}); err != nil {
		return nil, err
	}
	if len(waiting) > 0 {
		var cmds []string
		for _, w := range waiting {
			cmds = append(cmds, fmt.Sprintf("rekey incident approve %s %s --as NAME", inc, w))
		}
		return res, fmt.Errorf("%w: the history rewrite needs another person's approval: %s", ErrWaiting, strings.Join(cmds, "; "))
	}
	return res, nil
}

func (o Options) audit(ctx context.Context, action string, detail any) error {
	if o.Audit == nil {
		return nil
	}
	_, err := o.Audit.Append(ctx, o.Actor, action, o.Incident.ID, detail)
	return err
}

// Repositories lists the git repositories among an inventory's sources:
// every git source, and a dir source that is a repository's top level.
// Each gets a short key (its directory's name, made unique) for task ids.
func Repositories(inv *inventory.Inventory) []repo {
	var out []repo
	seen := map[string]bool{}
	for _, s := range inv.Sources {
		if s.Type != "git" && s.Type != "dir" {
			continue
		}
		p := inv.Abs(s.Path)
		top, ok := git.IsRepository(p)
		if !ok {
			continue
		}
		if seen[top] {
			continue
		}
		seen[top] = true
		key := filepath.Base(top)
		for n := 2; slices.ContainsFunc(out, func(r repo) bool { return r.key == key }); n++ {
			key = fmt.Sprintf("%s-%d", filepath.Base(top), n)
		}
		out = append(out, repo{dir: top, key: key})
	}
	return out
}

func traceSources(ctx context.Context, o Options, tm *trace.Matcher, ss []source.Source) ([]scan.Finding, error) {
	if len(ss) == 0 {
		return nil, nil
	}
	m := &scan.Trace{Secret: o.Secret, Matcher: tm, Detector: o.Detector, Fingerprinter: o.Fingerprinter}
	return scan.Run(ctx, scan.Options{Matcher: m}, ss)
}

// branch replaces the copies committed at HEAD of r on the incident's
// branch. It returns nil when HEAD holds no copy.
func branch(ctx context.Context, o Options, tm *trace.Matcher, r repo) (*Branch, map[string]bool, error) {
	head, ok := revParse(ctx, r.dir, "HEAD^{commit}")
	if !ok {
		return nil, nil, nil
	}
	es, err := lsTree(ctx, r.dir, head)
	if err != nil {
		return nil, nil, err
	}
	type hit struct {
		e    treeEntry
		data []byte
		ms   []trace.Match
	}
	var hits []hit
	modes := map[string]string{}
	var tfFiles []string
	for _, e := range es {
		modes[e.path] = e.mode
		if strings.HasSuffix(e.path, ".tf") {
			tfFiles = append(tfFiles, e.path)
		}
	}
	err = readBlobs(ctx, r.dir, es, func(e treeEntry, data []byte) error {
		if e.mode == "120000" || e.mode == "160000" {
			return nil
		}
		if ms := tm.Find(data); len(ms) > 0 {
			hits = append(hits, hit{e, data, ms})
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if len(hits) == 0 {
		return nil, map[string]bool{}, nil
	}
	inc := o.Incident.ID
	key, err := newKeyID(o.KeyID, keyFallbackName(o.Incident, o.KeyID))
	if err != nil {
		return nil, nil, err
	}
	w := &workspace{
		incident: inc,
		key:      key,
		logins:   o.Logins,
		dir:      r.dir,
		fallback: fallbackName(o.Incident),
		files:    map[string][]byte{},
		modes:    modes,
		read: func(p string) ([]byte, bool) {
			if _, ok := modes[p]; !ok {
				return nil, false
			}
			out, err := runGit(ctx, r.dir, nil, nil, "cat-file", "blob", head+":"+p)
			return out, err == nil
		},
	}
	// Kubernetes Secrets holding the value (and the key id): a
	// container's env entry is pointed at them.
	for _, h := range hits {
		if styleOf(h.e.path, h.data) != styleK8s {
			continue
		}
		w.secrets = append(w.secrets, k8sSecrets(h.data, h.ms)...)
		if key != nil {
			key.secrets = append(key.secrets, k8sSecrets(h.data, key.find(h.data))...)
		}
	}
	files := map[string]bool{}
	for _, h := range hits {
		w.rewrite(h.e.path, h.data, h.ms)
		files[h.e.path] = true
	}
	w.finishTF(tfFiles)
	w.finishIgnore()
	name := BranchName(inc)
	commit, created, err := commitOnBranch(ctx, r.dir, head, name, modes, w.files, commitMessage(inc, w.changes))
	if err != nil {
		return nil, nil, err
	}
	b := &Branch{
		Repo: r.dir, Branch: name, Commit: commit, NewCommit: created, Changes: w.changes,
		Review: fmt.Sprintf("git -C %s log -p HEAD..%s", shellQuote(r.dir), name),
		Push:   fmt.Sprintf("git -C %s push origin %s   # then open a pull request", shellQuote(r.dir), name),
	}
	if err := o.audit(ctx, "remediate.branch", map[string]any{"repo": r.dir, "branch": name, "commit": commit, "new_commit": created, "files": len(files)}); err != nil {
		return nil, nil, err
	}
	return b, files, nil
}

// k8sSecrets are the Kubernetes Secrets of a manifest holding the
// literals at ms, with the key each is under.
func k8sSecrets(data []byte, ms []trace.Match) []k8sRef {
	var out []k8sRef
	for _, m := range ms {
		v := valueAt(data, m)
		if doc := docAt(data, v.ls); kindOf(doc) == "Secret" {
			out = append(out, k8sRef{name: metaName(doc), key: strings.Trim(v.key, `"'`)})
		}
	}
	return out
}

func commitMessage(inc string, cs []Change) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "rekey %s: replace copies of a leaked secret with references\n\n", inc)
	fmt.Fprintf(&sb, "Incident %s found a leaked credential committed in these files.\nEach copy now reads its value from where it belongs; the value itself\nis rotated by the incident response.\n\nFiles:\n", inc)
	var notes []string
	for _, c := range cs {
		fmt.Fprintf(&sb, "  %s:%d  %s → %s\n", c.Path, c.Line, c.Name, c.Reference)
		if c.Note != "" && !slices.Contains(notes, c.Note) {
			notes = append(notes, c.Note)
		}
	}
	if len(notes) > 0 {
		sb.WriteString("\nBefore merging:\n")
		for _, n := range notes {
			fmt.Fprintf(&sb, "  - %s\n", n)
		}
	}
	return sb.String()
}

// fallbackName names the variable when neither a key nor a URL does:
// after the provider or system (GITHUB_TOKEN, POSTGRES_PASSWORD).
func fallbackName(inc store.Incident) string {
	k := strings.ToLower(inc.Kind)
	switch {
	case strings.HasPrefix(k, "github"):
		return "GITHUB_TOKEN"
	case strings.HasPrefix(k, "gitlab"):
		return "GITLAB_TOKEN"
	case strings.HasPrefix(k, "slack"):
		return "SLACK_TOKEN"
	case strings.HasPrefix(k, "aws"):
		return "AWS_SECRET_ACCESS_KEY"
	case strings.HasSuffix(k, " password"):
		return upperSnake(strings.TrimSuffix(k, " password")) + "_PASSWORD"
	case k != "":
		if n := upperSnake(k); n != "" {
			return n
		}
	}
	return "LEAKED_SECRET"
}

// keyFallbackName names the key id's variable when no key does: the name
// AWS's tools read for an AWS key (an id with an AWS key prefix, or an
// incident of an AWS kind), else the secret's name with _ID.
func keyFallbackName(inc store.Incident, id string) string {
	if strings.HasPrefix(strings.ToLower(inc.Kind), "aws") || strings.HasPrefix(id, "AKIA") || strings.HasPrefix(id, "ASIA") {
		return "AWS_ACCESS_KEY_ID"
	}
	return fallbackName(inc) + "_ID"
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '_' || r == '-' || r == ':' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// formCollector is a scan matcher that records, instead of reporting,
// the bytes of every copy: the forms a history rewrite must replace.
type formCollector struct {
	tm     *trace.Matcher
	mu     sync.Mutex
	forms  map[string]bool
	copies int
}

func (c *formCollector) Match(ch source.Chunk) []scan.Finding {
	owned := len(ch.Data) - ch.Tail
	for _, m := range c.tm.Find(ch.Data) {
		if m.Start >= owned {
			continue
		}
		f := string(ch.Data[m.Start:m.End])
		c.mu.Lock()
		c.forms[f] = true
		c.copies += 1 + len(ch.Loc.Also)
		c.mu.Unlock()
	}
	return nil
}

// history plans (and, approved, runs on a mirror) the rewrite of r's
// history. It returns nil when no blob in the history holds a copy.
func history(ctx context.Context, o Options, tm *trace.Matcher, r repo, dir, approvedBy string) (*History, error) {
	g, err := git.New(git.Options{Path: r.dir})
	if err != nil {
		return nil, err
	}
	c := &formCollector{tm: tm, forms: map[string]bool{}}
	if _, err := scan.Run(ctx, scan.Options{Matcher: c}, []source.Source{g}); err != nil {
		return nil, err
	}
	if c.copies == 0 {
		return nil, nil
	}
	inc := o.Incident.ID
	h := &History{Repo: r.dir, Task: RewritePrefix + r.key, Copies: c.copies, ApprovedBy: approvedBy}
	exprPath := filepath.Join(dir, r.key+"-expressions.txt")
	mirror := filepath.Join(dir, r.key+".git")
	if err := writeExpressions(exprPath, inc, c.forms); err != nil {
		return nil, err
	}
	h.Expressions = exprPath
	origin := strings.TrimSpace(string(must(runGit(ctx, r.dir, nil, nil, "remote", "get-url", "origin"))))
	h.Steps = steps(inc, r, origin, exprPath, mirror)
	h.Instructions = filepath.Join(dir, r.key+"-history.md")
	if err := writeInstructions(h.Instructions, inc, r, h.Steps); err != nil {
		return nil, err
	}
	if err := o.audit(ctx, "remediate.history-plan", map[string]any{"repo": r.dir, "task": h.Task, "copies": c.copies, "forms": len(c.forms), "expressions": exprPath}); err != nil {
		return nil, err
	}
	if !o.RewriteHistory || approvedBy == "" {
		return h, nil
	}
	// The rewrite: on a fresh local mirror only; the user pushes it.
	if err := os.RemoveAll(mirror); err != nil {
		return nil, err
	}
	if _, err := runGit(ctx, dir, nil, nil, "clone", "--quiet", "--mirror", "--no-local", r.dir, mirror); err != nil {
		return nil, err
	}
	if _, err := runGit(ctx, mirror, nil, nil, "filter-repo", "--force", "--quiet", "--replace-text", exprPath); err != nil {
		return nil, fmt.Errorf("%w (is git-filter-repo installed? Debian: apt-get install git-filter-repo)", err)
	}
	mg, err := git.New(git.Options{Path: mirror})
	if err != nil {
		return nil, err
	}
	left, err := traceSources(ctx, o, tm, []source.Source{mg})
	if err != nil {
		return nil, err
	}
	h.Rewritten, h.Mirror, h.MirrorCopies = true, mirror, len(left)
	if err := os.Remove(exprPath); err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	h.Expressions = ""
	if err := o.audit(ctx, "remediate.history-rewrite", map[string]any{"repo": r.dir, "mirror": mirror, "copies_left": len(left), "approved_by": approvedBy}); err != nil {
		return nil, err
	}
	return h, nil
}

func must(b []byte, _ error) []byte { return b }

// writeExpressions writes the --replace-text file: one literal line per
// form found in the history (longest first, so that no form is cut by a
// shorter one), each replaced by a marker naming the incident. The file
// holds the secret: mode 0600, and deleted after a rewrite.
func writeExpressions(p, inc string, forms map[string]bool) error {
	list := make([]string, 0, len(forms))
	for f := range forms {
		if f == "" || strings.ContainsAny(f, "\r\n") || strings.Contains(f, "==>") {
			continue
		}
		list = append(list, f)
	}
	slices.SortFunc(list, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	var sb strings.Builder
	for _, f := range list {
		fmt.Fprintf(&sb, "literal:%s==>***REMOVED-%s***\n", f, inc)
	}
	fh, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := fh.Chmod(0o600); err != nil {
		fh.Close()
		return err
	}
	if _, err := fh.WriteString(sb.String()); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

func steps(inc string, r repo, origin, expr, mirror string) []string {
	remote := origin
	if remote == "" {
		remote = "<the repository's URL>"
	}
	return []string{
		fmt.Sprintf("Merge %s first, so that the rewritten HEAD holds no copy; rotate the credential (rewriting history does not make a leaked secret safe).", BranchName(inc)),
		fmt.Sprintf("Mirror-clone the repository: git clone --mirror %s %s", shellQuote(remote), shellQuote(mirror)),
		fmt.Sprintf("Rewrite every blob: git -C %s filter-repo --replace-text %s  (or: rekey incident remediate %s --rewrite-history, after approval)", shellQuote(mirror), shellQuote(expr), inc),
		fmt.Sprintf("Verify: rekey trace --secret-file F --history %s finds nothing", shellQuote(mirror)),
		fmt.Sprintf("Force-push every ref: git -C %s push --force --mirror %s  (allow force-pushes on protected branches for the duration)", shellQuote(mirror), shellQuote(remote)),
		"Everyone re-clones; an old clone pushed again brings the secret back.",
		"Invalidate what still holds the old commits: forks, pull/merge request refs (only the host's support can purge them), CI caches and artifacts, the host's cached views.",
		fmt.Sprintf("Delete %s: it holds the secret.", shellQuote(expr)),
	}
}

func writeInstructions(p, inc string, r repo, steps []string) error {
	var sb strings.Builder
	fmt.Fprintf(&sb, "# Rewrite the history of %s (incident %s)\n\n", r.dir, inc)
	for i, s := range steps {
		fmt.Fprintf(&sb, "%d. %s\n", i+1, s)
	}
	return os.WriteFile(p, []byte(sb.String()), 0o600)
}

// Approve records that actor approves the remediation task id: a history
// rewrite, or the redaction of a chat message or ticket read through its
// API. The one who opened the incident cannot.
func Approve(ctx context.Context, st store.Store, al *audit.Log, incident, id, actor, opener string) error {
	if !WaitsForApproval(id) {
		return errs.New("approve", errs.Invalid, incident, "remediation task "+id+" does not wait for an approval")
	}
	if actor == "" {
		return errs.New("approve", errs.Invalid, incident, "an approval needs a name (--as NAME)")
	}
	// Compared by key, stored as given: "alice " and "Alice" are alice.
	if _, err := actorpkg.Key(actor); err != nil {
		return errs.E("approve", errs.Invalid, incident, err)
	}
	if actorpkg.Same(actor, opener) {
		return errs.New("approve", errs.Permission, incident,
			fmt.Sprintf("%s opened this incident and cannot also approve its remediation; another person must (--as NAME)", actor))
	}
	tasks, err := st.Tasks(ctx, incident)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(tasks, func(t store.Task) bool { return t.ID == id })
	if i < 0 {
		return errs.New("approve", errs.NotFound, incident, "no remediation task "+id+"; run `rekey incident remediate "+incident+"` first")
	}
	t := tasks[i]
	if !strings.HasPrefix(id, RewritePrefix) && !detailBool(t.Detail, "live") {
		return errs.New("approve", errs.Invalid, incident, "remediation task "+id+" is a copy in an export, which rekey does not edit: redact it by hand")
	}
	if detailString(t.Detail, "approved_by") != "" {
		return nil
	}
	now := time.Now().UTC()
	t.Detail = setDetail(t.Detail, map[string]any{"approved_by": actor, "approved_at": now})
	t.Updated = now
	if err := st.PutTasks(ctx, incident, []store.Task{t}); err != nil {
		return err
	}
	if al != nil {
		_, err = al.Append(ctx, actor, "remediate.approved", incident, map[string]string{"task": id})
	}
	return err
}

func detailString(d json.RawMessage, key string) string {
	var m map[string]any
	if json.Unmarshal(d, &m) != nil {
		return ""
	}
	s, _ := m[key].(string)
	return s
}

func setDetail(d json.RawMessage, kv map[string]any) json.RawMessage {
	m := map[string]any{}
	_ = json.Unmarshal(d, &m)
	for k, v := range kv {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return b
}

func occurrences(fs []scan.Finding) []store.Occurrence {
	out := make([]store.Occurrence, 0, len(fs))
	for _, f := range fs {
		out = append(out, store.Occurrence{
			Fingerprint: f.Fingerprint, Preview: f.Preview, Rule: f.Rule, Provider: f.Provider, Severity: f.Severity.String(),
			Path: f.Path, Line: f.Line, Column: f.Column, Commit: f.Commit, AtHead: f.AtHead, Class: string(f.Class),
			Encoding: f.Encoding, Ref: f.Ref, Match: f.Match,
		})
	}
	return out
}
