// Package review judges what a credential did before and after it leaked
// and after it was rotated, from the events the log parsers emit: sources,
// user agents and actions never seen in its baseline, sensitive actions,
// failed-authentication bursts, activity outside its usual hours, volume
// jumps, use after revocation, workload credentials used from elsewhere,
// and the credentials it created or obtained (which survive its
// rotation).
//
// It streams: events are added one at a time, in any order (log files are
// not read in time order), and only bounded aggregates are kept — counts
// per window and per source, network, user agent, application and action
// (each capped, and said so when capped), per-hour and per-ten-minute
// buckets, and a few evidence events per finding candidate. Memory grows
// with the number of distinct sources and actions, never with the number
// of events. It is pure: reading the logs is the caller's job.
package review

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/logs"
)

// Severity of a finding.
type Severity string

const (
	Critical Severity = "critical"
	High     Severity = "high"
	Medium   Severity = "medium"
	Low      Severity = "low"
	// Info is a note that frames the review (no baseline), not a sign of
	// abuse.
	Info Severity = "info"
)

var severityRank = map[Severity]int{Critical: 4, High: 3, Medium: 2, Low: 1, Info: 0}

func (s Severity) lower() Severity {
	switch s {
	case Critical:
		return High
	case High:
		return Medium
	}
	return Low
}

// Finding kinds (the review JSON contract, docs/formats.md).
const (
	KindNewSource          = "new-source"
	KindNewUserAgent       = "new-user-agent"
	KindNewAction          = "new-action"
	KindSensitiveAction    = "sensitive-action"
	KindFailedAuthBurst    = "failed-auth-burst"
	KindOffHours           = "off-hours"
	KindVolume             = "volume"
	KindUseAfterRevocation = "use-after-revocation"
	KindMultiSource        = "multi-source"
	KindDerivedCredential  = "derived-credential"
	KindNoBaseline         = "no-baseline"
)

// Defaults and bounds.
const (
	DefaultBaseline = 30 * 24 * time.Hour
	// DefaultMaxKeys bounds the distinct sources, actions, user agents…
	// kept per window.
	DefaultMaxKeys = 10000
	// MaxRelated bounds the derived credentials followed.
	MaxRelated = 200
	// maxFindingsPerKind bounds the findings of one kind; the rest are
	// summed up in one more.
	maxFindingsPerKind = 25
	evidencePerKey     = 3
	evidencePerFinding = 5
	maxHourBuckets     = 24 * 400
	maxTimeline        = 200
	maxSummaryRows     = 50
	burstBucket        = 10 * time.Minute
)

// Config is what a review is about.
type Config struct {
	// Credential is the reference under review: an AWS access key id, a
	// role or user name, a token accessor, fingerprint or hashed token, or
	// a principal ARN. An event is the credential's when its Credential or
	// Identity is the reference; for a role ARN, when it is a session of
	// that role; for a plain name, also when it is the event's IAM user
	// name or the user part of user@host.
	Credential string
	// LeakedAt is when the secret was exposed; zero means unknown, and
	// then there is no baseline.
	LeakedAt time.Time
	// RotatedAt is when the secret was rotated (the old one revoked);
	// zero means not yet.
	RotatedAt time.Time
	// Baseline is how far before LeakedAt the baseline reaches
	// (DefaultBaseline when zero).
	Baseline time.Duration
	// Consumers are the workloads declared to use the credential: their
	// sources are neither new nor an attacker's.
	Consumers []*inventory.Consumer
	// Now ends the exposure window when there is no rotation (time.Now
	// when zero).
	Now time.Time
	// MaxKeys overrides DefaultMaxKeys (tests).
	MaxKeys int
	// Verified is what the rotation proved about consumers: rekey's own
	// verify step saw each one work on its new login. A consumer proven
	// this way is not blamed for refused uses of the old secret from its
	// address; only its application name can still single it out.
	Verified []Verified
}

// Verified is one consumer that rekey's verify step proved on its
// replacement: Login worked for it at At, seen from Sources with
// Applications (the sessions or log records the step saw; empty when
// the step recorded none).
type Verified struct {
	Consumer     string    `json:"consumer"`
	Login        string    `json:"login"`
	At           time.Time `json:"at"`
	Sources      []string  `json:"sources,omitempty"`
	Applications []string  `json:"applications,omitempty"`
}

// Window indexes.
const (
	wBaseline = iota
	wExposure
	wAfter
	nWindows
)

var windowNames = [nWindows]string{"baseline", "exposure", "after"}

// window holds the aggregates of one time window.
type window struct {
	events, failures, successes int
	first                       sample // the earliest event
	lastEv                      *Evidence
	sources                     *counter // by source address or host
	networks                    *counter // by /24 or /64
	agents                      *counter
	apps                        *counter
	actions                     *counter
	sensitive                   *counter // by classify's label and source
	sensLabels                  *counter // by classify's label
	hourOfDay                   [24]int
	offHours                    [24]sample // evidence per hour of day
	volume                      *buckets   // per hour
	failBursts                  *buckets   // failures per ten minutes
	// After rotation: uses keyed by source and application, successes and
	// failures apart.
	afterOK, afterFail *counter
}

func newWindow(w, maxKeys int) *window {
	k := evidencePerKey
	if w == wBaseline {
		k = 0 // the baseline only says what is usual
	}
	win := &window{
		sources: newCounter(maxKeys, k), networks: newCounter(maxKeys, k), agents: newCounter(maxKeys, k),
		apps: newCounter(maxKeys, k), actions: newCounter(maxKeys, k), sensitive: newCounter(maxKeys, evidencePerFinding), sensLabels: newCounter(maxKeys, 0),
		volume: newBuckets(time.Hour, maxHourBuckets, k), failBursts: newBuckets(burstBucket, maxHourBuckets, k),
	}
	if w == wAfter {
		win.afterOK, win.afterFail = newCounter(maxKeys, evidencePerFinding), newCounter(maxKeys, evidencePerFinding)
	}
	return win
}

// Reviewer accumulates a credential's events and computes its Report. It
// is not safe for concurrent use.
type Reviewer struct {
	cfg     Config
	ref     ref
	base    time.Time // start of the baseline; zero without one
	win     [nWindows]*window
	matched int
	early   int // events before the baseline
	undated int

	sens             map[string]sensitivity // by label, as classify found it first
	workloads        map[string]*workloadUse
	workloadOverflow int

	// cleared holds the consumers that address alone would have blamed
	// for a refusal after the rotation, but that the run proved on their
	// new login before it: by consumer name.
	cleared map[string]Verified

	related        []*relatedCred
	relatedBy      map[string]*relatedCred // by every key that names it
	relatedDropped int
	pass           int // the AddRelated pass NextRelated opened
}

type workloadUse struct {
	sources  *counter
	bound    string // the address it was issued to, when known
	mismatch sample // uses from another address than bound
	nMis     int
}

// New returns a reviewer for cfg.
func New(cfg Config) *Reviewer {
	if cfg.Baseline <= 0 {
		cfg.Baseline = DefaultBaseline
	}
	if cfg.Now.IsZero() {
		cfg.Now = time.Now()
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = DefaultMaxKeys
	}
	r := &Reviewer{cfg: cfg, ref: parseRef(cfg.Credential), sens: map[string]sensitivity{}, cleared: map[string]Verified{}, workloads: map[string]*workloadUse{}, relatedBy: map[string]*relatedCred{}}
	if !cfg.LeakedAt.IsZero() {
		r.base = cfg.LeakedAt.Add(-cfg.Baseline)
	}
	for w := range r.win {
		r.win[w] = newWindow(w, cfg.MaxKeys)
	}
	return r
}

// Matches reports whether e is a use of the credential under review.
func (r *Reviewer) Matches(e logs.Event) bool { return r.ref.matches(&e) }

// windowOf places a time in a window; ok is false before the baseline.
func (r *Reviewer) windowOf(t time.Time) (int, bool) {
	switch {
	case !r.cfg.RotatedAt.IsZero() && !t.Before(r.cfg.RotatedAt):
		return wAfter, true
	case r.cfg.LeakedAt.IsZero() || !t.Before(r.cfg.LeakedAt):
		return wExposure, true
	case !t.Before(r.base):
		return wBaseline, true
	}
	return 0, false
}

// consumerOf names the declared consumer whose sources match a use.
func (r *Reviewer) consumerOf(source, app string) string {
	for _, c := range r.cfg.Consumers {
		if c.Matches(source, app) {
			return c.Name
		}
	}
	return ""
}

// attribute names the consumer a refused use after the rotation belongs
// to, or "" when the evidence does not single one out. Its application
// name, when exactly one consumer declares it, singles that consumer out.
// Its address alone does only when exactly one consumer declares the
// address, does not name other applications than the event's, and was
// not proven by the run on its new login before the refusal (a proven
// consumer no longer sends the old secret: whoever does shares its
// address, such as an attacker on the same host or behind the same NAT).
func (r *Reviewer) attribute(e *logs.Event) string {
	if e.Application != "" {
		var byApp []string
		for _, c := range r.cfg.Consumers {
			if slices.Contains(c.Apps, e.Application) {
				byApp = append(byApp, c.Name)
			}
		}
		if len(byApp) == 1 {
			return byApp[0]
		}
	}
	var cands []string
	for _, c := range r.cfg.Consumers {
		if !c.Matches(e.Source, "") {
			continue
		}
		if e.Application != "" && len(c.Apps) > 0 && !slices.Contains(c.Apps, e.Application) {
			continue // it names its applications, and this is not one
		}
		if v, ok := r.verifiedBefore(c.Name, e.Time); ok {
			if _, seen := r.cleared[c.Name]; !seen {
				r.cleared[c.Name] = v
			}
			continue
		}
		cands = append(cands, c.Name)
	}
	if len(cands) == 1 {
		return cands[0]
	}
	return ""
}

// verifiedBefore returns the run's proof that consumer worked on its
// replacement at or before t.
func (r *Reviewer) verifiedBefore(consumer string, t time.Time) (Verified, bool) {
	for _, v := range r.cfg.Verified {
		if v.Consumer == consumer && !v.At.IsZero() && !v.At.After(t) {
			return v, true
		}
	}
	return Verified{}, false
}

// Add takes one event. Events that are not the credential's are ignored,
// so a caller may pass every event of a log.
func (r *Reviewer) Add(e logs.Event) {
	if !r.ref.matches(&e) {
		return
	}
	if e.Time.IsZero() {
		r.undated++
		return
	}
	wi, ok := r.windowOf(e.Time)
	if !ok {
		r.early++
		return
	}
	r.matched++
	w := r.win[wi]
	cons := r.consumerOf(e.Source, e.Application)
	declared := cons != ""
	w.events++
	switch e.Outcome {
	case logs.Failure:
		w.failures++
	case logs.Success:
		w.successes++
	}
	w.first.add(1, &e, false)
	if w.lastEv == nil || e.Time.After(w.lastEv.Time) {
		ev := evidenceOf(&e, declared)
		w.lastEv = &ev
	}
	src := e.Source
	if src == "" {
		src = "unknown"
	}
	w.sources.add(src, &e, cons)
	if n := network(src); n != "" {
		w.networks.add(n, &e, cons)
	}
	if e.UserAgent != "" {
		w.agents.add(agentKey(e.UserAgent), &e, cons)
	}
	if e.Application != "" {
		w.apps.add(e.Application, &e, cons)
	}
	act := w.actions.add(e.Action, &e, cons)
	if label, s, ok := classify(&e); ok {
		if act != nil {
			act.sensitive = true
		}
		w.sensitive.add(label+"\x00"+src, &e, cons)
		if w.sensLabels.add(label, &e, cons) != nil {
			if cur, ok := r.sens[label]; !ok || severityRank[s.severity] > severityRank[cur.severity] {
				r.sens[label] = s
			}
		}
	}
	h := e.Time.UTC().Hour()
	w.hourOfDay[h]++
	if wi == wExposure {
		w.offHours[h].add(evidencePerKey, &e, declared)
	}
	w.volume.add(&e, cons)
	if e.Outcome == logs.Failure {
		w.failBursts.add(&e, cons)
	}
	if wi == wAfter {
		key := src + "\x00" + e.Application
		switch {
		case e.Outcome == logs.Success && e.Action == "disconnect":
			// The end of a session opened before the rotation (rekey
			// ends them itself): not a use of the secret after it.
		case e.Outcome == logs.Success:
			w.afterOK.add(key, &e, cons)
		case e.Outcome == logs.Failure:
			who := r.attribute(&e)
			w.afterFail.add(key+"\x00"+who, &e, who)
		}
	}
	r.addWorkload(&e, src)
	if wi != wBaseline && e.Outcome != logs.Failure {
		r.derive(&e, src, cons, nil)
	}
}

func (r *Reviewer) addWorkload(e *logs.Event, src string) {
	wl := workload(e)
	if wl == "" || serviceSource(src) {
		return
	}
	u := r.workloads[wl]
	if u == nil {
		if len(r.workloads) >= r.cfg.MaxKeys {
			r.workloadOverflow++
			return
		}
		u = &workloadUse{sources: newCounter(16, 1)}
		r.workloads[wl] = u
	}
	u.sources.add(src, e, "")
	if b := boundSource(e); b != "" {
		u.bound = b
		if network(b) != "" && sourceAddr(src) != sourceAddr(b) {
			u.nMis++
			u.mismatch.add(evidencePerFinding, e, false)
		}
	}
}

// network is the /24 (IPv4) or /64 (IPv6) around an address, or "" for a
// host name.
func network(src string) string {
	a, err := netip.ParseAddr(sourceAddr(src))
	if err != nil {
		return ""
	}
	a = a.Unmap()
	bits := 64
	if a.Is4() {
		bits = 24
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}

// sourceAddr strips a port from an address.
func sourceAddr(s string) string {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().String()
	}
	return s
}

// agentKey is a user agent without the parts that name the single call
// (AWS CLI v2 appends "command/iam.list-users", the SDKs "md/command#…"):
// one tool running twenty commands is one new user agent, not twenty.
func agentKey(ua string) string {
	if !strings.Contains(ua, "command") {
		return ua
	}
	f := strings.Fields(ua)
	out := f[:0]
	for _, t := range f {
		if strings.HasPrefix(t, "command/") || strings.HasPrefix(t, "md/command#") || strings.HasPrefix(t, "cfg/") {
			continue
		}
		out = append(out, t)
	}
	return strings.Join(out, " ")
}
