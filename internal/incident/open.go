package incident

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/detect"
	"github.com/rekeyhq/rekey/internal/detect/rules"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/logs"
	"github.com/rekeyhq/rekey/internal/provider/awsiam"
	"github.com/rekeyhq/rekey/internal/scan"
	"github.com/rekeyhq/rekey/internal/scope"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/source"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/trace"
)

// OpenOptions are how an incident is opened.
type OpenOptions struct {
	// Secret is the leaked value; KeyID its public id when it came as a
	// pair (an AWS access key id), else "".
	Secret secret.Secret
	KeyID  string
	// UseLeaked lets identify prove the secret with one request made
	// with it where that is the only way (AWS, GitHub); each system
	// allowed to is named in the audit log.
	UseLeaked bool
	// LeakedAt, when set, is when a person says it leaked; else the
	// earliest copy's time is taken.
	LeakedAt *time.Time
	// Logs are globs read for uses of the identity, besides the
	// inventory's logs:.
	Logs []string
	// InventoryPath names the inventory (and is where later commands
	// read it); InventoryBody, when set, is its content, so that a
	// caller that received it (a server) needs no file. Without a body
	// the file at InventoryPath is read.
	InventoryPath string
	InventoryBody []byte
}

// OpenView is what an Open found: the JSON of `incident open --format
// json` and of POST /api/v1/incidents. It holds no secret.
type OpenView struct {
	ID          string              `json:"id"`
	Existing    bool                `json:"existing"`
	LeakedAt    *time.Time          `json:"leaked_at"`
	Identity    *store.IdentityRef  `json:"identity"`
	Reuse       []store.IdentityRef `json:"reuse"`
	Occurrences int                 `json:"occurrences"`
	Events      int                 `json:"events"`
	Kind        string              `json:"kind"`
	Searched    []string            `json:"searched"`
	NotSearched []scope.Problem     `json:"not_searched"`
	// Tracing is how far the tracing of the sources given besides the
	// inventory's is (tracing.go); nil when none were.
	Tracing *Tracing `json:"tracing,omitempty"`
}

// IdentityString is "system/name", or "" when no system knew the secret.
func (v OpenView) IdentityString() string {
	if v.Identity == nil {
		return ""
	}
	return v.Identity.System + "/" + v.Identity.Name
}

// OpenOutcome is the incident as Open left it and what it found.
type OpenOutcome struct {
	Incident store.Incident
	View     OpenView
}

// Open creates the incident for a leaked secret, or finds the one open
// for it (the same fingerprint), and gathers what its scope is computed
// from, touching nothing: every copy in the inventory's sources, whose
// secret it is (each system asked as its administrator), the identity's
// privileges, sessions and uses in the logs, and the consumers. A system
// that cannot be searched is recorded as not searched. The inventory's
// bytes are stored with the incident, so that a process without its file
// (a server, another machine) reads the same one.
func Open(ctx context.Context, d Deps, o OpenOptions) (OpenOutcome, error) {
	const op = "incident open"
	if o.Secret.IsZero() {
		return OpenOutcome{}, errs.New(op, errs.Invalid, "", "the secret is empty")
	}
	if o.InventoryPath == "" && o.InventoryBody == nil {
		return OpenOutcome{}, errs.New(op, errs.Invalid, "", "an incident needs an inventory")
	}
	if d.Fingerprinter == nil {
		return OpenOutcome{}, errs.New(op, errs.Invalid, "", "no installation key to fingerprint the secret with")
	}
	inv, body, err := d.readInventory(o.InventoryPath, o.InventoryBody)
	if err != nil {
		return OpenOutcome{}, err
	}
	logFiles, err := ExpandLogs(LogSets(o.Logs, "", inv))
	if err != nil {
		return OpenOutcome{}, err
	}
	fp, err := d.Fingerprinter()
	if err != nil {
		return OpenOutcome{}, err
	}
	det, err := rules.Detector()
	if err != nil {
		return OpenOutcome{}, err
	}
	st := d.Store

	d.say("tracing the secret through %d source(s)", len(inv.Sources))
	findings, err := d.traceInventory(ctx, inv, o.Secret, det, fp)
	if err != nil {
		return OpenOutcome{}, err
	}
	leakedAt, given := o.LeakedAt, o.LeakedAt != nil
	if leakedAt == nil {
		leakedAt = earliestExposure(findings)
	}
	// Identified before the incident is opened: an incident the watcher
	// opened for the same identity (without the secret) is joined.
	var allowed []string
	idents := d.Systems(inv).Identify(ctx, Leaked{Secret: o.Secret, KeyID: o.KeyID, UseLeaked: o.UseLeaked,
		Used: func(sys string) { allowed = append(allowed, sys) }}, d.say)
	kind := kindOf(det, o.Secret)
	inc, existing, joined, err := OpenOrJoin(ctx, st, store.Incident{
		Fingerprint: fp.Of(o.Secret),
		Preview:     o.Secret.Preview(),
		Kind:        kind,
		Created:     d.now().UTC(),
		LeakedAt:    leakedAt,
		Inventory:   inv.File,
	}, idents)
	if err != nil {
		return OpenOutcome{}, err
	}
	if !existing || joined {
		action := "incident.open"
		if joined {
			action = "incident.join"
		}
		if _, err := d.Audit.Append(ctx, d.Actor, action, inc.ID, map[string]string{"fingerprint": string(inc.Fingerprint), "inventory": inv.File}); err != nil {
			return OpenOutcome{}, err
		}
	}
	if len(allowed) > 0 {
		// The leaked secret may have signed a request of its own, which the
		// system logs as the key's use: say who allowed it, and where.
		if _, err := d.Audit.Append(ctx, d.Actor, "identify.use-leaked", inc.ID, map[string]string{"systems": strings.Join(allowed, ",")}); err != nil {
			return OpenOutcome{}, err
		}
	}
	if joined && kind != "" {
		inc.Kind = kind
	}
	if existing && (given || inc.LeakedAt == nil) && leakedAt != nil {
		// A leak time given now (respond on resume, open again) replaces
		// the stored one; a guess fills only a missing one.
		if err := SetLeakedAt(ctx, d, &inc, *leakedAt, given); err != nil {
			return OpenOutcome{}, err
		}
	}
	if err := st.PutInventory(ctx, inc.ID, store.InventoryCopy{Path: inv.File, Body: body}); err != nil {
		return OpenOutcome{}, err
	}
	if err := st.PutOccurrences(ctx, inc.ID, occurrencesOf(findings, d.now())); err != nil {
		return OpenOutcome{}, err
	}

	v := OpenView{ID: inc.ID, Existing: existing, LeakedAt: inc.LeakedAt, Occurrences: len(findings), Reuse: []store.IdentityRef{}, Searched: []string{}, NotSearched: []scope.Problem{}}
	for _, id := range idents {
		if err := st.PutIdentity(ctx, inc.ID, id); err != nil {
			return OpenOutcome{}, err
		}
		if id.Name == scope.SystemWide {
			v.NotSearched = append(v.NotSearched, scope.Problem{System: id.System, Error: id.InspectError})
		} else if !slices.Contains(v.Searched, id.System) {
			v.Searched = append(v.Searched, id.System)
		}
	}
	for _, sys := range inv.Systems {
		if !slices.ContainsFunc(idents, func(i store.Identity) bool { return i.System == sys.Name }) {
			v.Searched = append(v.Searched, sys.Name) // searched, nothing matched
		}
	}
	var events []store.Event
	if len(logFiles) > 0 {
		d.say("reading %d log file(s)", len(logFiles))
		events, err = ReadEvents(ctx, logFiles, usesOf(idents), d.warn)
		if err != nil {
			return OpenOutcome{}, err
		}
		if err := st.AddEvents(ctx, inc.ID, events); err != nil {
			return OpenOutcome{}, err
		}
	}
	v.Events = len(events)
	sc := scope.Compute(scope.Input{Incident: inc, Identities: idents, Events: events, Inventory: inv, Now: d.now()})
	var cons []store.Consumer
	for _, c := range sc.Consumers {
		cons = append(cons, store.Consumer{Name: c.Name, Identity: sc.Identity.Name, Declared: c.Declared, Observed: c.Observed, Sources: c.Sources, ThirdParty: c.ThirdParty})
	}
	if err := st.PutConsumers(ctx, inc.ID, cons); err != nil {
		return OpenOutcome{}, err
	}
	if sc.Identity.Status != scope.Unknown {
		ref := store.IdentityRef{System: sc.Identity.System, Name: sc.Identity.Name}
		v.Identity = &ref
		inc.Identity = ref
		if inc.Kind == "" {
			inc.Kind = SystemType(inv, ref.System) + " password"
		}
	}
	v.Reuse = sc.Reuse
	v.Kind = cmp.Or(inc.Kind, scope.Unknown)
	if err := st.UpdateIncident(ctx, inc); err != nil {
		return OpenOutcome{}, err
	}
	d.say("incident %s: %d copies, identity %s", inc.ID, len(findings), cmp.Or(v.IdentityString(), scope.Unknown))
	return OpenOutcome{Incident: inc, View: v}, nil
}

// InventoryOptions are how the workflow parses an inventory: system types
// from d's registry, the detector to refuse inline secrets, and nothing
// checked on this machine (a missing file is a warning at check time,
// not a reason to refuse a response).
func (d Deps) InventoryOptions() (inventory.Options, error) {
	det, err := rules.Detector()
	if err != nil {
		return inventory.Options{}, err
	}
	opts := inventory.Options{
		FindSecrets: func(data []byte) []inventory.SecretMatch {
			var out []inventory.SecretMatch
			for _, f := range det.Scan(data) {
				out = append(out, inventory.SecretMatch{Start: f.Start, End: f.End, Rule: f.Rule.ID})
			}
			return out
		},
		Getenv:    d.Getenv,
		SkipLocal: true,
	}
	if d.Registry != nil {
		opts.KnownSystemTypes = d.Registry.Types()
	}
	return opts, nil
}

// ParseInventoryStrict parses an inventory and refuses one with
// structural errors: a response must not run on a half-understood
// inventory.
func ParseInventoryStrict(path string, data []byte, opts inventory.Options) (*inventory.Inventory, error) {
	inv, rep, err := inventory.Parse(path, data, opts)
	if err != nil {
		return nil, err
	}
	if len(rep.Errors) > 0 {
		return nil, errs.New("inventory", errs.Invalid, path,
			fmt.Sprintf("%d error(s), first %s; run rekey inventory check %s", len(rep.Errors), rep.Errors[0], path))
	}
	return inv, nil
}

// readInventory parses body (read from path when nil) strictly.
func (d Deps) readInventory(path string, body []byte) (*inventory.Inventory, []byte, error) {
	if body == nil {
		var err error
		if body, err = inventory.ReadFile(path); err != nil {
			return nil, nil, err
		}
	}
	opts, err := d.InventoryOptions()
	if err != nil {
		return nil, nil, err
	}
	inv, err := ParseInventoryStrict(path, body, opts)
	if err != nil {
		return nil, nil, err
	}
	return inv, body, nil
}

// kindOf names the secret's format when a rule recognises the value itself.
func kindOf(det *detect.Detector, s secret.Secret) string {
	for _, f := range det.Scan(s.Reveal()) {
		if f.Start == 0 && f.End == s.Len() {
			return f.Rule.ID
		}
	}
	return ""
}

// traceInventory finds every copy of s in the inventory's sources. A
// source missing here is reported, not fatal: the inventory may list
// places only some machines have.
func (d Deps) traceInventory(ctx context.Context, inv *inventory.Inventory, s secret.Secret, det *detect.Detector, fp *secret.Fingerprinter) ([]scan.Finding, error) {
	tm, err := trace.New(s)
	if err != nil {
		return nil, errs.E("trace", errs.Invalid, "", err)
	}
	// The scan package prefixes its lines for a terminal; Warn adds its
	// caller's own prefix.
	warn := func(line string) { d.warn(strings.TrimPrefix(line, "rekey: ")) }
	onErr := func(e *source.FileError) { d.warn(fmt.Sprintf("%s: %v", e.Path, e.Err)) }
	sources := scan.InventorySources(inv, onErr, warn, d.Getenv)
	m := &scan.Trace{Secret: s, Matcher: tm, Detector: det, Fingerprinter: fp}
	return scan.Run(ctx, scan.Options{Matcher: m}, sources)
}

func occurrencesOf(fs []scan.Finding, now time.Time) []store.Occurrence {
	now = now.UTC()
	out := make([]store.Occurrence, 0, len(fs))
	for _, f := range fs {
		out = append(out, store.Occurrence{
			Fingerprint: f.Fingerprint, Preview: f.Preview, Rule: f.Rule, Provider: f.Provider, Severity: f.Severity.String(),
			Path: f.Path, Line: f.Line, Column: f.Column, Commit: f.Commit, AtHead: f.AtHead, Class: string(f.Class),
			Encoding: f.Encoding, Ref: f.Ref, Match: f.Match, FirstSeen: now, LastSeen: now,
		})
	}
	return out
}

// earliestExposure is when the earliest copy came to be: the commit,
// chat message or ticket comment that holds it (the sources give each
// copy's time where their place records it).
func earliestExposure(fs []scan.Finding) *time.Time {
	var first *time.Time
	for _, f := range fs {
		if f.ExposedAt != nil && (first == nil || f.ExposedAt.Before(*first)) {
			first = f.ExposedAt
		}
	}
	return first
}

// usesOf keeps the log events that name one of the identities the secret
// authenticates as (a role, a user, the user part of user@host).
func usesOf(idents []store.Identity) func(logs.Event) bool {
	names := map[string]bool{}
	for _, id := range idents {
		if id.Name == scope.SystemWide {
			continue
		}
		names[id.Name] = true
		user, _, _ := strings.Cut(id.Name, "@")
		names[user] = true
	}
	return func(e logs.Event) bool {
		return e.Credential != "" && names[e.Credential] || e.Identity != "" && names[e.Identity]
	}
}

// ParseLeaked reads a leaked secret as it was given: an AWS key pair
// (KEY_ID:SECRET, or a block of an AWS credentials file) is its secret
// access key, with the key id kept in clear; anything else is the secret
// as it is. The error names no part of the value.
func ParseLeaked(raw []byte) (Leaked, error) {
	if len(raw) == 0 {
		return Leaked{}, errs.New("secret", errs.Invalid, "", "the secret is empty")
	}
	pair, ok, err := awsiam.ParseKeyPair(raw)
	if err != nil {
		return Leaked{}, err
	}
	if ok {
		return Leaked{Secret: pair.Secret, KeyID: pair.ID}, nil
	}
	return Leaked{Secret: secret.New(raw)}, nil
}
