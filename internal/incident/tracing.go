package incident

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/detect/rules"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/scan"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/source"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/trace"
)

// Tracing fanned out: an incident opened with many sources (an
// organisation's repositories) records them as pending and returns; one
// job per source, on whichever worker or replica takes it, traces the
// secret through that source and joins the copies it found to the
// incident (TraceSource). The jobs need the secret, which no job
// argument and no store row holds in clear: it is sealed in the store,
// under a key of the tracing's own beside the sealing key (so replicas
// sharing --keys open it), and both go once no source is pending.

// TraceSourceTypes are the source types a tracing takes: the file-based
// ones. A live API source would read the token its inventory entry
// names, which a caller of the server must not choose.
var TraceSourceTypes = []string{"git", "dir", "slack", "jira"}

// Tracing is how far an incident's fanned-out tracing is: the
// `tracing` of the incident's JSON.
type Tracing struct {
	// Pending sources are not traced yet; Done ones are (Failed among
	// them: they could not be read).
	Pending int `json:"pending"`
	Done    int `json:"done"`
	Failed  int `json:"failed"`
	// Copies is how many copies the done sources held.
	Copies int `json:"copies"`
	// Failures name each failed source with its one-line error.
	Failures []TraceFailure `json:"failures"`
}

// TraceFailure is a source that could not be traced.
type TraceFailure struct {
	Source string `json:"source"`
	Error  string `json:"error"`
}

// CheckTraceSources refuses sources a tracing cannot take, naming the
// first; relative paths are made absolute from dir (the inventory's).
func CheckTraceSources(srcs []inventory.Source, dir string) ([]inventory.Source, error) {
	const op = "trace"
	out := make([]inventory.Source, 0, len(srcs))
	for i, s := range srcs {
		if !slices.Contains(TraceSourceTypes, s.Type) {
			return nil, errs.New(op, errs.Invalid, "", fmt.Sprintf("sources[%d]: type %q: want one of %s", i, s.Type, strings.Join(TraceSourceTypes, ", ")))
		}
		if strings.TrimSpace(s.Path) == "" {
			return nil, errs.New(op, errs.Invalid, "", fmt.Sprintf("sources[%d]: path is required", i))
		}
		if s.History && s.Type != "git" {
			return nil, errs.New(op, errs.Invalid, "", fmt.Sprintf("sources[%d]: history is for git sources", i))
		}
		if !filepath.IsAbs(s.Path) && dir != "" {
			s.Path = filepath.Join(dir, s.Path)
		}
		s.Path = filepath.Clean(s.Path)
		out = append(out, s)
	}
	return out, nil
}

// StartTracing records srcs as incident id's pending sources, with s
// sealed for the jobs, and returns their numbers: the caller queues one
// job per number. srcs are checked already (CheckTraceSources).
func StartTracing(ctx context.Context, d Deps, id string, s secret.Secret, srcs []inventory.Source) ([]int, error) {
	const op = "trace"
	if d.Sealer == nil {
		return nil, errs.New(op, errs.Invalid, id, "no sealing key to keep the secret for the tracing's jobs")
	}
	if len(srcs) == 0 {
		return nil, nil
	}
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		return nil, err
	}
	keyName := id + "-trace-" + hex.EncodeToString(r[:])
	x, err := d.Sealer(keyName)
	if err != nil {
		return nil, err
	}
	blob, err := x.Seal(s, traceSlot(id))
	if err != nil {
		return nil, errs.E(op, errs.Other, id, err)
	}
	rows := make([]store.TraceSource, len(srcs))
	for i, src := range srcs {
		rows[i] = store.TraceSource{Type: src.Type, Path: src.Path, History: src.History}
	}
	seqs, err := d.Store.StartTrace(ctx, id, append([]byte(keyName+"\n"), blob...), rows)
	if err != nil {
		_ = x.Destroy()
		return nil, err
	}
	if err := joinedTracing(ctx, d, id, keyName, x, seqs[0]); err != nil {
		return nil, err
	}
	if _, err := d.Audit.Append(ctx, d.Actor, "incident.trace.start", id, map[string]string{"sources": fmt.Sprint(len(srcs))}); err != nil {
		return nil, err
	}
	return seqs, nil
}

func traceSlot(id string) string { return "trace:" + id }

// joinedTracing destroys the key x (named keyName) just made for a
// tracing when the store kept another's sealed secret instead: the new
// sources joined a tracing in progress, whose key stays until its last
// source (now one of these) ends. A key left behind would keep a sealed
// copy of the secret openable for ever.
func joinedTracing(ctx context.Context, d Deps, id, keyName string, x *secret.Sealer, seq int) error {
	_, kept, err := d.Store.TraceSource(ctx, id, seq)
	if err != nil {
		return err
	}
	if bytes.HasPrefix(kept, []byte(keyName+"\n")) {
		return nil
	}
	// Not ours: never read by a job. (None kept: the round these joined
	// ended already, and its last job destroyed what it opened.)
	if err := x.Destroy(); err != nil {
		d.warn(fmt.Sprintf("incident %s: the joining tracing's key: %v", id, err))
	}
	return nil
}

// TraceSource traces incident id's secret through its source seq and
// joins what it finds: the copies (a source finished before, by a job
// run twice, is left as it is and adds none), the source's outcome, an
// audit entry when it held copies or failed, and, with the last source,
// the leak time when none is known and a summary entry. A source that
// cannot be read is recorded as failed with its one-line error and is
// not an error here (trying again reads the same); an error is what a
// later attempt may get past (the store unreachable, ctx ended).
func TraceSource(ctx context.Context, d Deps, id string, seq int) error {
	src, sealed, err := d.Store.TraceSource(ctx, id, seq)
	if err != nil {
		return err
	}
	if src.State != store.TracePending {
		return nil
	}
	out := store.TraceSource{Seq: seq, State: store.TraceDone}
	var (
		findings []scan.Finding
		keyName  string
	)
	s, keyName, err := openTraceSecret(d, id, sealed)
	if err == nil {
		findings, err = traceOne(ctx, d, s, src)
		if err != nil {
			// The sources' errors name paths, not contents; this is the
			// last line before one is stored.
			err = errors.New(strings.ReplaceAll(err.Error(), string(s.Reveal()), "[secret]"))
		}
		s.Wipe()
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		out.State, out.Error = store.TraceFailed, oneLine(err)
	}
	out.Copies = len(findings)
	out.ExposedAt = earliestExposure(findings)
	changed, left, err := d.Store.FinishTrace(ctx, id, out, occurrencesOf(findings, d.now()))
	if err != nil {
		return err
	}
	if !changed {
		return nil
	}
	return afterFinish(ctx, d, id, src, out, left, keyName)
}

// afterFinish audits a source just finished and, with the last,
// finishes the tracing. Every source gets its entry, copies or not: the
// audit log is what event streams follow (package events), on every
// replica, so the entry is how a page learns that the tracing moved.
func afterFinish(ctx context.Context, d Deps, id string, src, out store.TraceSource, left int, keyName string) error {
	detail := map[string]string{"source": src.Type + " " + src.Path, "state": out.State, "copies": fmt.Sprint(out.Copies)}
	if out.Error != "" {
		detail["error"] = out.Error
	}
	if _, err := d.Audit.Append(ctx, d.Actor, "incident.trace", id, detail); err != nil {
		return err
	}
	if left > 0 {
		return nil
	}
	return finishTracing(ctx, d, id, keyName)
}

// GiveUpTraceSource records source seq as failed with why, its last
// attempt's error: a job that ran out of attempts leaves no source
// pending for ever. A source finished meanwhile is left as it is.
func GiveUpTraceSource(ctx context.Context, d Deps, id string, seq int, why error) error {
	src, sealed, err := d.Store.TraceSource(ctx, id, seq)
	if err != nil {
		return err
	}
	if src.State != store.TracePending {
		return nil
	}
	out := store.TraceSource{Seq: seq, State: store.TraceFailed, Error: "gave up: " + oneLine(why)}
	changed, left, err := d.Store.FinishTrace(ctx, id, out, nil)
	if err != nil || !changed {
		return err
	}
	keyName, _, _ := bytes.Cut(sealed, []byte("\n"))
	return afterFinish(ctx, d, id, src, out, left, string(keyName))
}

// finishTracing is what the last source's job does: the tracing's key
// goes (what is left of the sealed secret in old pages no longer opens),
// the leak time is the earliest copy's when none is known, and the audit
// log sums the tracing up.
func finishTracing(ctx context.Context, d Deps, id, keyName string) error {
	if keyName != "" {
		if x, err := d.Sealer(keyName); err == nil {
			if err := x.Destroy(); err != nil {
				d.warn(fmt.Sprintf("incident %s: the tracing's key: %v", id, err))
			}
		}
	}
	srcs, err := d.Store.TraceSources(ctx, id, "")
	if err != nil {
		return err
	}
	var (
		copies, failed int
		first          *time.Time
	)
	for _, s := range srcs {
		copies += s.Copies
		if s.State == store.TraceFailed {
			failed++
		}
		if s.ExposedAt != nil && (first == nil || s.ExposedAt.Before(*first)) {
			first = s.ExposedAt
		}
	}
	if first != nil {
		inc, err := d.Store.GetIncident(ctx, id)
		if err != nil {
			return err
		}
		if inc.LeakedAt == nil {
			if err := SetLeakedAt(ctx, d, &inc, *first, false); err != nil {
				return err
			}
			if err := d.Store.UpdateIncident(ctx, inc); err != nil {
				return err
			}
		}
	}
	_, err = d.Audit.Append(ctx, d.Actor, "incident.trace.done", id, map[string]string{
		"sources": fmt.Sprint(len(srcs)), "copies": fmt.Sprint(copies), "failed": fmt.Sprint(failed)})
	return err
}

// openTraceSecret opens the sealed secret: KEYNAME "\n" blob.
func openTraceSecret(d Deps, id string, sealed []byte) (secret.Secret, string, error) {
	if sealed == nil {
		return secret.Secret{}, "", errors.New("the tracing's secret is no longer kept (the tracing finished meanwhile)")
	}
	name, blob, ok := bytes.Cut(sealed, []byte("\n"))
	if !ok {
		return secret.Secret{}, "", errors.New("the tracing's sealed secret is malformed")
	}
	x, err := d.Sealer(string(name))
	if err != nil {
		return secret.Secret{}, "", err
	}
	s, err := x.Open(blob, traceSlot(id))
	return s, string(name), err
}

// traceOne finds the copies of s in one source. The source not being
// there, or not being what its type says, is an error; a file inside it
// that cannot be read is skipped, as incident open skips it.
func traceOne(ctx context.Context, d Deps, s secret.Secret, src store.TraceSource) ([]scan.Finding, error) {
	det, err := rules.Detector()
	if err != nil {
		return nil, err
	}
	fp, err := d.Fingerprinter()
	if err != nil {
		return nil, err
	}
	tm, err := trace.New(s)
	if err != nil {
		return nil, err
	}
	var bad string
	inv := &inventory.Inventory{Sources: []inventory.Source{{Type: src.Type, Path: src.Path, History: src.History}}}
	warn := func(line string) {
		if bad == "" {
			bad = line
		}
	}
	onErr := func(e *source.FileError) { d.warn(fmt.Sprintf("%s: %v", e.Path, e.Err)) }
	sources := scan.InventorySources(inv, onErr, warn, d.Getenv)
	if len(sources) == 0 {
		if bad == "" {
			bad = "the source cannot be read"
		}
		// "rekey: :0: source PATH: ERR" from a one-source inventory
		// without a file: the error is what follows the path.
		_, after, ok := strings.Cut(bad, "source "+src.Path+": ")
		if !ok {
			after = bad
		}
		return nil, errors.New(src.Path + ": " + after)
	}
	m := &scan.Trace{Secret: s, Matcher: tm, Detector: det, Fingerprinter: fp}
	return scan.Run(ctx, scan.Options{Matcher: m}, sources)
}

// TracingOf is incident id's tracing, nil when it has none.
func TracingOf(ctx context.Context, st store.Store, id string) (*Tracing, error) {
	c, err := st.TraceCounts(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.Pending+c.Done+c.Failed == 0 {
		return nil, nil
	}
	t := &Tracing{Pending: c.Pending, Done: c.Done + c.Failed, Failed: c.Failed, Copies: c.Copies, Failures: []TraceFailure{}}
	if c.Failed > 0 {
		failed, err := st.TraceSources(ctx, id, store.TraceFailed)
		if err != nil {
			return nil, err
		}
		for _, f := range failed {
			t.Failures = append(t.Failures, TraceFailure{Source: f.Type + " " + f.Path, Error: f.Error})
		}
	}
	return t, nil
}

// TracingDone refuses (errs.Conflict, for op) to plan or start a run of
// incident id while its fanned-out tracing has sources pending: the
// copies they hold, and the consumers those copies show, are not known
// yet, so a plan made now could replace the secret and leave a consumer
// on the old one. There is no override: the jobs finish or give up
// (GiveUpTraceSource) within their attempts.
func TracingDone(ctx context.Context, st store.Store, id, op string) error {
	c, err := st.TraceCounts(ctx, id)
	if err != nil {
		return err
	}
	if c.Pending == 0 {
		return nil
	}
	return errs.New(op, errs.Conflict, id, fmt.Sprintf(
		"the tracing has %d of %d sources pending: the copies and consumers they show are not known yet; try again once it is done",
		c.Pending, c.Pending+c.Done+c.Failed))
}
