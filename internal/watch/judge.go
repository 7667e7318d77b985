package watch

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/logs"
	"github.com/rekeyhq/rekey/internal/review"
	"github.com/rekeyhq/rekey/internal/store"
)

// KindCanaryUse is a use, successful or not, of a canary login.
const KindCanaryUse = "canary-use"

// Defaults of a Judge.
const (
	// DefaultLearn is how long a credential's baseline learns before
	// novelty (a new source, user agent, action, hour, volume) is a
	// finding.
	DefaultLearn = 7 * 24 * time.Hour
	// DefaultMaxCredentials bounds the baselines held in memory.
	DefaultMaxCredentials = 10000
)

// JudgeConfig is what a Judge knows besides the store.
type JudgeConfig struct {
	// Store holds baselines, canaries and what rekey revoked.
	Store store.Watch
	// Consumers are the declared workloads: their sources are not new.
	Consumers []*inventory.Consumer
	// Learn is how long a baseline learns (DefaultLearn); it also needs
	// review.MinBaselineEvents events.
	Learn time.Duration
	// MaxKeys caps each set of a baseline (review.DefaultMaxKeys).
	MaxKeys int
	// MaxCredentials caps the baselines held in memory
	// (DefaultMaxCredentials); past it, clean ones are dropped and
	// reloaded when needed.
	MaxCredentials int
}

// Finding is a review finding about one credential, from one event.
type Finding struct {
	review.Finding
	// Credential is the login or key the event names.
	Credential string `json:"credential"`
	// Identity is the principal, when the log names it.
	Identity string `json:"identity,omitempty"`
	// Canary or Revoked say what the store knew, for those kinds.
	Canary  *store.Canary  `json:"canary,omitempty"`
	Revoked *store.Revoked `json:"revoked,omitempty"`
}

// Baseline is what is usual for one credential: bounded sets of what it
// was seen doing, where from and when. It is stored as JSON.
type Baseline struct {
	Events    int            `json:"events"`
	First     time.Time      `json:"first"`
	Last      time.Time      `json:"last"`
	Sources   map[string]int `json:"sources"`
	Networks  map[string]int `json:"networks"`
	Agents    map[string]int `json:"agents"`
	Actions   map[string]int `json:"actions"`
	Apps      map[string]int `json:"apps"`
	Sensitive map[string]int `json:"sensitive"` // label and source
	Hours     [24]int        `json:"hours"`
	// Overflow counts values not kept because a set was full.
	Overflow int    `json:"overflow"`
	Volume   bucket `json:"volume"` // events per hour
	Fails    bucket `json:"fails"`  // refusals per ten minutes
}

// bucket counts events in the current time bucket and keeps the largest
// count of the buckets before it: constant memory.
type bucket struct {
	Cur  int64 `json:"cur"`
	N    int   `json:"n"`
	Peak int   `json:"peak"`
	// Said is the bucket already reported.
	Said int64 `json:"said"`
}

// add counts an event at t; it returns the current bucket's count, or 0
// for an event older than the current bucket (logs arrive nearly in
// order; a late one does not move the bucket back).
func (b *bucket) add(t time.Time, size time.Duration) int {
	k := t.UnixNano() / int64(size)
	switch {
	case k > b.Cur:
		if b.Cur != 0 {
			b.Peak = max(b.Peak, b.N)
		}
		b.Cur, b.N = k, 1
	case k == b.Cur:
		b.N++
	default:
		return 0
	}
	return b.N
}

func newBaseline() *Baseline {
	return &Baseline{Sources: map[string]int{}, Networks: map[string]int{}, Agents: map[string]int{}, Actions: map[string]int{},
		Apps: map[string]int{}, Sensitive: map[string]int{}}
}

func (b *Baseline) fill() {
	for _, m := range []*map[string]int{&b.Sources, &b.Networks, &b.Agents, &b.Actions, &b.Apps, &b.Sensitive} {
		if *m == nil {
			*m = map[string]int{}
		}
	}
}

// learned reports whether the baseline says what is usual.
func (b *Baseline) learned(learn time.Duration) bool {
	return b.Events >= review.MinBaselineEvents && b.Last.Sub(b.First) >= learn
}

func (b *Baseline) inc(m map[string]int, k string, lim int) {
	if _, ok := m[k]; !ok && len(m) >= lim {
		b.Overflow++
		return
	}
	m[k]++
}

// Judge turns events into findings against each credential's stored
// baseline, and updates the baseline. Safe for concurrent use.
type Judge struct {
	cfg JudgeConfig

	mu        sync.Mutex
	baselines map[string]*Baseline
	dirty     map[string]bool
	canaries  map[string]store.Canary
	revoked   map[string]store.Revoked // the earliest revocation of each login
}

// NewJudge returns a Judge with the store's canaries and revoked logins.
func NewJudge(ctx context.Context, cfg JudgeConfig) (*Judge, error) {
	if cfg.Learn <= 0 {
		cfg.Learn = DefaultLearn
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = review.DefaultMaxKeys
	}
	if cfg.MaxCredentials <= 0 {
		cfg.MaxCredentials = DefaultMaxCredentials
	}
	j := &Judge{cfg: cfg, baselines: map[string]*Baseline{}, dirty: map[string]bool{}}
	return j, j.Refresh(ctx)
}

// Refresh reloads canaries and revoked logins from the store: call it
// when a response revokes something or a canary is created.
func (j *Judge) Refresh(ctx context.Context) error {
	cs, err := j.cfg.Store.Canaries(ctx)
	if err != nil {
		return err
	}
	rs, err := j.cfg.Store.RevokedLogins(ctx)
	if err != nil {
		return err
	}
	canaries := map[string]store.Canary{}
	for _, c := range cs {
		if c.KeyID != "" {
			// The logs name a key canary by its key; its user's name
			// may well be some other system's login.
			canaries[c.KeyID] = c
			continue
		}
		canaries[c.Login] = c
	}
	revoked := map[string]store.Revoked{}
	for _, r := range rs {
		if cur, ok := revoked[r.Login]; !ok || r.At.Before(cur.At) {
			revoked[r.Login] = r
		}
	}
	j.mu.Lock()
	j.canaries, j.revoked = canaries, revoked
	j.mu.Unlock()
	return nil
}

// names are the logins an event may name: its credential, its identity,
// and the user part of user@host.
func names(e *logs.Event) []string {
	out := []string{e.Credential}
	if e.Identity != "" && e.Identity != e.Credential {
		out = append(out, e.Identity)
		if u, _, ok := strings.Cut(e.Identity, "@"); ok && u != "" {
			out = append(out, u)
		}
	}
	return out
}

// Judge judges a batch's events in order and returns their findings. It
// loads the baselines it lacks from the store; the updated ones are
// written by Flush.
func (j *Judge) Judge(ctx context.Context, b Batch) ([]Finding, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	var missing []string
	seen := map[string]bool{}
	for i := range b.Events {
		c := b.Events[i].Credential
		if _, ok := j.baselines[c]; !ok && c != "" && !seen[c] {
			seen[c] = true
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		stored, err := j.cfg.Store.Baselines(ctx, missing)
		if err != nil {
			return nil, err
		}
		for _, c := range missing {
			bl := newBaseline()
			if raw, ok := stored[c]; ok {
				if err := json.Unmarshal(raw, bl); err != nil {
					return nil, fmt.Errorf("watch: baseline of %s: %w", c, err)
				}
				bl.fill()
			}
			j.baselines[c] = bl
		}
	}
	var out []Finding
	for i := range b.Events {
		out = j.event(&b.Events[i], out)
	}
	return out, nil
}

func (j *Judge) event(e *logs.Event, out []Finding) []Finding {
	ev := []review.Evidence{review.EvidenceOf(e)}
	src := e.Source
	if src == "" {
		src = "unknown"
	}
	add := func(kind string, sev review.Severity, subject, summary string) *Finding {
		out = append(out, Finding{Finding: review.Finding{Kind: kind, Severity: sev, Subject: subject, Count: 1, Evidence: ev, Summary: summary},
			Credential: e.Credential, Identity: e.Identity})
		return &out[len(out)-1]
	}
	for _, n := range names(e) {
		if c, ok := j.canaries[n]; ok {
			what := "canary login " + c.Login
			if c.KeyID != "" {
				what = "canary key " + c.KeyID + " (user " + c.Login + ")"
			}
			f := add(KindCanaryUse, review.Critical, src, fmt.Sprintf("%s of %s was used from %s (%s, %s) at %s: whoever did it found the decoy.",
				what, c.System, src, e.Action, e.Outcome, ts(e.Time)))
			f.Canary = &c
			break
		}
	}
	for _, n := range names(e) {
		r, ok := j.revoked[n]
		if !ok || e.Time.Before(r.At) || e.Outcome == logs.Success && e.Action == "disconnect" {
			continue
		}
		sev, what := review.Critical, "used successfully"
		if e.Outcome == logs.Failure {
			sev, what = review.Medium, "tried (refused)"
		}
		f := add(review.KindUseAfterRevocation, sev, src, fmt.Sprintf("%s was %s from %s at %s, after rekey revoked it at %s (incident %s): someone still holds the old secret.",
			n, what, src, ts(e.Time), ts(r.At), r.IncidentID))
		f.Revoked = &r
		break
	}
	if e.Credential == "" {
		return out
	}
	bl := j.baselines[e.Credential]
	learned := bl.learned(j.cfg.Learn)
	declared := false
	for _, c := range j.cfg.Consumers {
		if c.Matches(e.Source, e.Application) {
			declared = true
			break
		}
	}
	ok := e.Outcome == logs.Success
	label, category, sev, sensitive := review.Sensitive(e)
	if sensitive && (!learned || bl.Sensitive[label+"\x00"+src] == 0) {
		add(review.KindSensitiveAction, sev, label, fmt.Sprintf("%s did %s (%s) from %s at %s (%s).", e.Credential, label, category, src, ts(e.Time), e.Outcome))
	}
	netw := review.Network(src)
	if learned && !declared && bl.Sources[src] == 0 && !review.ServiceSource(src) {
		s := review.NewSourceSeverity(true, ok, netw != "" && bl.Networks[netw] > 0)
		add(review.KindNewSource, s, src, fmt.Sprintf("%s was used from %s, a source never seen in its baseline (since %s) and not declared for any consumer: %s %s at %s.",
			e.Credential, src, ts(bl.First), e.Action, e.Outcome, ts(e.Time)))
	}
	agent := review.AgentKey(e.UserAgent)
	if learned && agent != "" && bl.Agents[agent] == 0 {
		s, note := review.Medium, ""
		switch {
		case review.SuspiciousAgent(agent):
			s, note = review.High, " It names offensive tooling."
		case declared:
			s, note = review.Low, " A declared consumer used it (an upgrade?)."
		case !ok:
			s = review.Low
		}
		add(review.KindNewUserAgent, s, agent, fmt.Sprintf("%s was used with user agent %q, never seen in its baseline, at %s.%s", e.Credential, agent, ts(e.Time), note))
	}
	if learned && !sensitive && e.Action != "" && bl.Actions[e.Action] == 0 {
		s := review.Low
		if ok && !declared {
			s = review.Medium
		}
		add(review.KindNewAction, s, e.Action, fmt.Sprintf("%s did %s, which it never did in its baseline, at %s.", e.Credential, e.Action, ts(e.Time)))
	}
	h := e.Time.UTC().Hour()
	if learned && bl.Hours[h] == 0 {
		s := review.Low
		if ok && !declared {
			s = review.Medium
		}
		add(review.KindOffHours, s, fmt.Sprintf("%02d:00", h), fmt.Sprintf("%s was used at %s, an hour of the day (UTC) it was never used in its baseline.", e.Credential, ts(e.Time)))
	}
	if n := bl.Volume.add(e.Time, time.Hour); learned && n > 0 && bl.Volume.Peak > 0 && n >= max(review.VolumeMin, review.VolumeFactor*bl.Volume.Peak) && bl.Volume.Said != bl.Volume.Cur {
		bl.Volume.Said = bl.Volume.Cur
		s := review.Medium
		if n >= 4*review.VolumeFactor*bl.Volume.Peak {
			s = review.High
		}
		add(review.KindVolume, s, "", fmt.Sprintf("%s made %d calls in the hour up to %s, against at most %d in any hour of its baseline.", e.Credential, n, ts(e.Time), bl.Volume.Peak))
	}
	if e.Outcome == logs.Failure {
		n := bl.Fails.add(e.Time, review.BurstBucket)
		if floor := max(review.BurstMin, review.BurstFactor*bl.Fails.Peak); n >= floor && bl.Fails.Said != bl.Fails.Cur {
			bl.Fails.Said = bl.Fails.Cur
			add(review.KindFailedAuthBurst, review.Medium, src, fmt.Sprintf("%d refused attempts with %s within ten minutes up to %s (its baseline's worst ten minutes had %d).",
				n, e.Credential, ts(e.Time), bl.Fails.Peak))
		}
	}
	// Learn: what was judged is now known (a novelty is reported once).
	bl.Events++
	if bl.First.IsZero() || e.Time.Before(bl.First) {
		bl.First = e.Time
	}
	if e.Time.After(bl.Last) {
		bl.Last = e.Time
	}
	lim := j.cfg.MaxKeys
	bl.inc(bl.Sources, src, lim)
	if netw != "" {
		bl.inc(bl.Networks, netw, lim)
	}
	if agent != "" {
		bl.inc(bl.Agents, agent, lim)
	}
	if e.Action != "" {
		bl.inc(bl.Actions, e.Action, lim)
	}
	if e.Application != "" {
		bl.inc(bl.Apps, e.Application, lim)
	}
	if sensitive {
		bl.inc(bl.Sensitive, label+"\x00"+src, lim)
	}
	bl.Hours[h]++
	j.dirty[e.Credential] = true
	return out
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Flush writes the baselines changed since the last Flush, in one
// transaction, and drops clean ones past MaxCredentials.
func (j *Judge) Flush(ctx context.Context) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.dirty) > 0 {
		out := make(map[string]json.RawMessage, len(j.dirty))
		for c := range j.dirty {
			b, err := json.Marshal(j.baselines[c])
			if err != nil {
				return err
			}
			out[c] = b
		}
		if err := j.cfg.Store.PutBaselines(ctx, out); err != nil {
			return err
		}
		clear(j.dirty)
	}
	if len(j.baselines) > j.cfg.MaxCredentials {
		clear(j.baselines)
	}
	return nil
}

// Baseline returns a copy of a credential's baseline as held in memory
// (nil when none is).
func (j *Judge) Baseline(credential string) *Baseline {
	j.mu.Lock()
	defer j.mu.Unlock()
	b := j.baselines[credential]
	if b == nil {
		return nil
	}
	raw, _ := json.Marshal(b)
	out := newBaseline()
	_ = json.Unmarshal(raw, out)
	return out
}

// Handler returns the watch.Handler that judges each batch, hands its
// findings to act (which stores or acts on them before it returns), then
// writes the baselines: only then is the batch recorded as consumed.
func (j *Judge) Handler(act func(ctx context.Context, b Batch, fs []Finding) error) Handler {
	return func(ctx context.Context, b Batch) error {
		fs, err := j.Judge(ctx, b)
		if err != nil {
			return err
		}
		if act != nil {
			if err := act(ctx, b, fs); err != nil {
				return err
			}
		}
		return j.Flush(ctx)
	}
}
