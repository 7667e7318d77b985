// Package scope computes the blast radius of one leaked secret from what
// an incident recorded: where its copies are, which identity it belongs to
// and what that identity can do, who uses it (declared in the inventory,
// observed in sessions), what uses it that nobody declared, what else is
// tied to it, and a risk score with the reasons behind it. It is pure:
// gathering the facts (trace, providers, logs) is the caller's job.
package scope

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/store"
)

// Unknown marks a fact rekey could not establish, instead of a guess.
const Unknown = "unknown"

// SystemWide is the identity name under which a system that could not be
// searched at all (unreachable, refused) is recorded.
const SystemWide = "?"

// Input is everything an incident recorded, plus the inventory it was
// opened with (nil when the file is no longer readable).
type Input struct {
	Incident    store.Incident
	Occurrences []store.Occurrence
	Identities  []store.Identity
	Consumers   []store.Consumer
	// Events are the credential's uses read from logs (incident open
	// --logs): like sessions, each one is either from a declared
	// consumer's sources or unexplained.
	Events    []store.Event
	Inventory *inventory.Inventory
	Now       time.Time
	// NoBaseline says the exposure review found no use before the leak
	// (see ExposureWithoutBaseline): like a missing leak time, nothing
	// then says what is usual, and uses must be explained fully.
	NoBaseline bool
	// NoEvidence leaves out the unexplained uses' evidence lines (nil
	// Evidence): a caller that shows only the risk and identity, such
	// as an incident's summary, does not format a line per use.
	NoEvidence bool
}

// ExposureWithoutBaseline reports whether the stored exposure review
// (its JSON's has_baseline) had no baseline to compare with.
func ExposureWithoutBaseline(rs []store.Review) bool {
	for _, r := range rs {
		var rep struct {
			HasBaseline bool `json:"has_baseline"`
		}
		if r.Phase == "exposure" && json.Unmarshal(r.Body, &rep) == nil && !rep.HasBaseline {
			return true
		}
	}
	return false
}

// Scope is the blast radius; its JSON is the contract of `incident scope
// --format json` (docs/formats.md).
type Scope struct {
	Incident    string              `json:"incident"`
	Secret      Secret              `json:"secret"`
	Identity    Identity            `json:"identity"`
	Occurrences []store.Occurrence  `json:"occurrences"`
	Consumers   []Consumer          `json:"consumers"`
	Unexplained []Unexplained       `json:"unexplained"`
	Reuse       []store.IdentityRef `json:"reuse"`
	Related     []store.Related     `json:"related"`
	Flags       Flags               `json:"flags"`
	Risk        Risk                `json:"risk"`
	// NotSearched lists systems that could not be searched, with why: the
	// identity may be in one of them.
	NotSearched []Problem `json:"not_searched"`
}

type Secret struct {
	Kind        string `json:"kind"`
	Preview     string `json:"preview"`
	Fingerprint string `json:"fingerprint"`
}

type Privilege struct {
	Name               string `json:"name"`
	Risk               string `json:"risk"`
	Via                string `json:"via,omitempty"`
	CreatesCredentials bool   `json:"creates_credentials,omitempty"`
	// Kept is true when the inventory says a replacement must keep it.
	Kept bool `json:"kept,omitempty"`
}

type Identity struct {
	// Status is "identified" (a stored verifier accepted the secret),
	// "unknown" (no system's verifier did, or none could be searched).
	Status     string      `json:"status"`
	Name       string      `json:"name"`
	System     string      `json:"system"`
	Method     string      `json:"method,omitempty"`
	Owner      string      `json:"owner,omitempty"`
	Kind       string      `json:"kind,omitempty"`
	CanLogin   bool        `json:"can_login"`
	ValidUntil *time.Time  `json:"valid_until,omitempty"`
	Privileges []Privilege `json:"privileges"`
	// Error is why the identity could not be inspected, when it could not.
	Error string `json:"error,omitempty"`
	// Declared is whether the inventory names this identity.
	Declared bool `json:"declared"`
}

type Consumer struct {
	Name       string   `json:"name"`
	Declared   bool     `json:"declared"`
	Observed   bool     `json:"observed"`
	Sources    []string `json:"sources"`
	ThirdParty bool     `json:"third_party"`
}

type Unexplained struct {
	Source    string    `json:"source"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	Evidence  []string  `json:"evidence"`
}

type Flags struct {
	Shared         bool `json:"shared"`
	ThirdParty     bool `json:"third_party"`
	LongLived      bool `json:"long_lived"`
	OverPrivileged bool `json:"over_privileged"`
	Agent          bool `json:"agent"`
}

type Risk struct {
	Score   int      `json:"score"`
	Reasons []string `json:"reasons"`
}

type Problem struct {
	System string `json:"system"`
	Error  string `json:"error"`
}

// Compute builds the scope. It never fails: what was not established is
// reported as unknown.
func Compute(in Input) Scope {
	if in.Now.IsZero() {
		in.Now = time.Now()
	}
	s := Scope{
		Incident:    in.Incident.ID,
		Secret:      Secret{Kind: cmp.Or(in.Incident.Kind, Unknown), Preview: in.Incident.Preview, Fingerprint: string(in.Incident.Fingerprint)},
		Occurrences: orEmpty(in.Occurrences),
		Identity:    Identity{Status: Unknown, Privileges: []Privilege{}},
		Consumers:   []Consumer{},
		Unexplained: []Unexplained{},
		Reuse:       []store.IdentityRef{},
		Related:     []store.Related{},
		NotSearched: []Problem{},
	}
	primary := pickPrimary(in)
	for _, id := range in.Identities {
		switch {
		case id.Name == SystemWide:
			s.NotSearched = append(s.NotSearched, Problem{System: id.System, Error: id.InspectError})
		case primary != nil && id.System == primary.System && id.Name == primary.Name:
		default:
			s.Reuse = append(s.Reuse, store.IdentityRef{System: id.System, Name: id.Name})
		}
	}
	var invID *inventory.Identity
	if primary != nil {
		s.Identity = identityOf(*primary)
		if in.Inventory != nil {
			invID = in.Inventory.IdentityByName(primary.System + "/" + primary.Name)
		}
		if invID != nil {
			s.Identity.Declared = true
			s.Identity.Kind = invID.Kind
			if invID.Owner.Team != "" || invID.Owner.Contact != "" {
				s.Identity.Owner = strings.TrimSpace(invID.Owner.Team + " " + invID.Owner.Contact)
			}
			keep := map[string]bool{}
			for _, k := range invID.Keep {
				keep[strings.ToLower(k)] = true
			}
			for i, p := range s.Identity.Privileges {
				s.Identity.Privileges[i].Kept = keep[strings.ToLower(p.Name)]
			}
		}
		s.Related = orEmpty(primary.Related)
	}
	s.Consumers, s.Unexplained = consumers(in, primary)
	s.Flags = flags(s, invID, in)
	s.Risk = risk(s, in)
	return s
}

// pickPrimary chooses, among the identities whose verifier accepted the
// secret, the one the inventory declares (the others reuse its password);
// failing that, the first inspected one.
func pickPrimary(in Input) *store.Identity {
	var first *store.Identity
	for i := range in.Identities {
		id := &in.Identities[i]
		if id.Name == SystemWide {
			continue
		}
		if in.Inventory != nil && in.Inventory.IdentityByName(id.System+"/"+id.Name) != nil {
			return id
		}
		if first == nil {
			first = id
		}
	}
	return first
}

func identityOf(id store.Identity) Identity {
	out := Identity{
		Status:     "identified",
		Name:       id.Name,
		System:     id.System,
		Method:     id.Method,
		CanLogin:   id.CanLogin,
		ValidUntil: id.ValidUntil,
		Error:      id.InspectError,
		Privileges: []Privilege{},
	}
	for _, p := range id.Privileges {
		out.Privileges = append(out.Privileges, Privilege{Name: p.Name, Risk: p.Risk, Via: p.Via, CreatesCredentials: p.CreatesCredentials})
	}
	return out
}

// use is one observed use of the identity: an open session, or a log
// record of a connection or call.
type use struct {
	client, app string
	at          time.Time
	evidence    string
	fromLog     bool
}

// consumers lists the declared consumers of the identity (observed when a
// session or a logged use comes from one of their sources) and the uses
// nobody declared.
func consumers(in Input, primary *store.Identity) ([]Consumer, []Unexplained) {
	out := []Consumer{}
	var declared []*inventory.Consumer
	if in.Inventory != nil && primary != nil {
		if id := in.Inventory.IdentityByName(primary.System + "/" + primary.Name); id != nil {
			declared = in.Inventory.ConsumersOf(id)
		}
	}
	stored := map[string]store.Consumer{}
	for _, c := range in.Consumers {
		stored[c.Name] = c
	}
	var uses []use
	if primary != nil {
		// Sized once: the API computes a scope per request, and growing
		// this slice over an incident's events was a quarter of it.
		uses = make([]use, 0, len(primary.Sessions)+len(in.Events))
		user, _, _ := strings.Cut(primary.Name, "@")
		for _, sess := range primary.Sessions {
			u := use{client: sess.Client, app: sess.Application, at: sess.Started}
			if !in.NoEvidence {
				u.evidence = sessionEvidence(sess)
			}
			uses = append(uses, u)
		}
		for _, e := range in.Events {
			if !usedBy(e, primary.Name, user) {
				continue
			}
			u := use{client: e.Source, app: e.Application, at: e.Time, fromLog: true}
			if !in.NoEvidence {
				u.evidence = eventEvidence(e)
			}
			uses = append(uses, u)
		}
	}
	explained := make([]bool, len(uses))
	// Without a leak time (or without a use before it) there is no
	// baseline to say what is usual, so a use must be explained fully:
	// from a consumer's address, under an application name it declares
	// when it declares any (an undeclared program on a consumer's host,
	// or behind its NAT, is not the consumer).
	strict := in.Incident.LeakedAt == nil || in.NoBaseline
	foreign := make([]string, len(uses)) // the consumer whose address a use had, under another name
	for _, c := range declared {
		cons := Consumer{Name: c.Name, Declared: true, Sources: orEmpty(c.Sources), ThirdParty: c.ThirdParty, Observed: stored[c.Name].Observed}
		for i, u := range uses {
			if !matches(c, u.client, u.app) {
				continue
			}
			if strict && u.app != "" && len(c.Apps) > 0 && !slices.Contains(c.Apps, u.app) {
				foreign[i] = c.Name
				continue
			}
			cons.Observed = true
			explained[i] = true
		}
		out = append(out, cons)
	}
	for i := range uses {
		if !explained[i] && foreign[i] != "" && !in.NoEvidence {
			uses[i].evidence += fmt.Sprintf("; from %s's address but not an application it declares, and with no baseline nothing calls it usual", foreign[i])
		}
	}
	if len(declared) == 0 {
		// No inventory at hand: keep what open recorded.
		for _, c := range in.Consumers {
			out = append(out, Consumer{Name: c.Name, Declared: c.Declared, Observed: c.Observed, Sources: orEmpty(c.Sources), ThirdParty: c.ThirdParty})
		}
	}
	bySource := map[string]*Unexplained{}
	var order []string
	// Uses come from a few clients, each many times: parse each once.
	sources := map[string]string{}
	for i, u := range uses {
		if explained[i] {
			continue
		}
		src, ok := sources[u.client]
		if !ok {
			src = sourceOf(u.client)
			sources[u.client] = src
		}
		un := bySource[src]
		if un == nil {
			un = &Unexplained{Source: src, FirstSeen: u.at, LastSeen: u.at}
			bySource[src] = un
			order = append(order, src)
		}
		if u.at.Before(un.FirstSeen) {
			un.FirstSeen = u.at
		}
		// An open session is still in use now; a log record was seen then.
		last := u.at
		if !u.fromLog {
			last = in.Now
		}
		if last.After(un.LastSeen) {
			un.LastSeen = last
		}
		if !in.NoEvidence {
			un.Evidence = append(un.Evidence, u.evidence)
		}
	}
	un := []Unexplained{}
	for _, src := range order {
		un = append(un, *bySource[src])
	}
	return out, un
}

// sessionEvidence and eventEvidence concatenate rather than format: the
// API computes a scope per request, and fmt was a seventh of it.
func sessionEvidence(sess store.Session) string {
	ev := "session " + sess.ID + " from " + sess.Client
	if sess.Application != "" {
		ev += " (application " + strconv.Quote(sess.Application) + ")"
	}
	if sess.Database != "" {
		ev += " on " + sess.Database
	}
	return ev + ", open since " + sess.Started.UTC().Format(time.RFC3339)
}

func eventEvidence(e store.Event) string {
	// Appended into one buffer sized up front: /scope makes one of these
	// per logged use, and the concatenation's temporaries (the time, the
	// line number) were half of their cost.
	b := make([]byte, 0, len(e.File)+len(e.Action)+len(e.Outcome)+len(e.Source)+len(e.Application)+64)
	b = append(b, e.File...)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(e.Line), 10)
	b = append(b, " at "...)
	b = e.Time.UTC().AppendFormat(b, time.RFC3339)
	b = append(b, ": "...)
	b = append(b, e.Action...)
	b = append(b, ' ')
	b = append(b, e.Outcome...)
	b = append(b, " from "...)
	b = append(b, e.Source...)
	if e.Application != "" {
		b = append(b, " (application "...)
		b = strconv.AppendQuote(b, e.Application)
		b = append(b, ')')
	}
	return string(b)
}

// usedBy reports whether a log event is a use of the identity called
// name: its credential or identity field names it (a role, a user,
// user@host; user is name before any @host, cut once by the caller).
func usedBy(ev store.Event, name, user string) bool {
	for _, v := range [2]string{ev.Credential, ev.Identity} {
		if v != "" && (v == name || v == user) {
			return true
		}
	}
	return false
}

// sourceOf is the address a client connects from, without its port.
func sourceOf(client string) string {
	if ap, err := netip.ParseAddrPort(client); err == nil {
		return ap.Addr().String()
	}
	if a, err := netip.ParseAddr(client); err == nil {
		return a.String()
	}
	if host, _, ok := strings.Cut(client, ":"); ok && host != "" && !strings.Contains(client, "[") {
		return host
	}
	return cmp.Or(client, Unknown)
}

// Matches reports whether a session comes from a consumer's declared
// sources: its address inside one of the CIDRs, or equal to a declared
// host, or its application name declared.
func Matches(c *inventory.Consumer, s store.Session) bool { return matches(c, s.Client, s.Application) }

func matches(c *inventory.Consumer, client, app string) bool { return c.Matches(client, app) }

func flags(s Scope, invID *inventory.Identity, in Input) Flags {
	f := Flags{}
	declared := 0
	for _, c := range s.Consumers {
		if c.Declared {
			declared++
		}
		if c.ThirdParty {
			f.ThirdParty = true
		}
	}
	f.Shared = declared > 1 || len(s.Reuse) > 0
	if invID != nil {
		f.ThirdParty = f.ThirdParty || invID.ThirdParty
		f.Agent = invID.IsAgent()
	}
	if s.Identity.Status != Unknown {
		f.LongLived = s.Identity.ValidUntil == nil || s.Identity.ValidUntil.Sub(in.Now) > 90*24*time.Hour
		for _, p := range s.Identity.Privileges {
			if (p.Risk == "critical" || p.CreatesCredentials) && !p.Kept {
				f.OverPrivileged = true
			}
		}
	}
	return f
}

// risk scores 0–100 from the facts that make a leak worse, each with the
// sentence a responder can paste into the ticket. The reasons' points
// ("+30 …", and "-N …" for the cap at 100) add up to the score, so that a
// report shows one risk, however it is read.
func risk(s Scope, in Input) Risk {
	r := Risk{Reasons: []string{}}
	add := func(points int, format string, a ...any) {
		r.Score += points
		r.Reasons = append(r.Reasons, fmt.Sprintf("+%d ", points)+fmt.Sprintf(format, a...))
	}
	if n := len(s.Unexplained); n > 0 {
		add(30, "%s the identity from where no declared consumer runs (%s)", count(n, "source uses", "sources use"), s.Unexplained[0].Source)
	}
	if s.Flags.OverPrivileged {
		var names []string
		for _, p := range s.Identity.Privileges {
			if (p.Risk == "critical" || p.CreatesCredentials) && !p.Kept {
				names = append(names, p.Name)
			}
		}
		add(25, "the identity holds privileges beyond its job: %s", strings.Join(names, ", "))
	}
	classes := map[string]int{}
	for _, o := range s.Occurrences {
		classes[o.Class]++
	}
	exposed := 0
	for _, c := range []string{"chat", "ticket", "history", "ci"} {
		if classes[c] > 0 {
			exposed++
		}
	}
	if exposed > 0 {
		var where []string
		for _, c := range []string{"chat", "ticket", "history", "ci"} {
			if classes[c] > 0 {
				where = append(where, fmt.Sprintf("%s %d", c, classes[c]))
			}
		}
		add(min(20, 8*exposed), "copies where many people or systems can read them: %s", strings.Join(where, ", "))
	}
	if n := len(s.Occurrences); n > 3 {
		add(min(10, n), "%d copies of the secret", n)
	}
	if len(s.Reuse) > 0 {
		add(15, "the same secret authenticates %s", count(len(s.Reuse), "other identity", "other identities"))
	}
	if s.Flags.Shared {
		add(10, "shared by several consumers: rotating it touches all of them")
	}
	if s.Flags.ThirdParty {
		add(10, "a third party holds it: its rotation needs their change window")
	}
	if s.Flags.LongLived {
		add(5, "no expiry within 90 days")
	}
	if s.Flags.Agent {
		add(5, "an autonomous agent's identity")
	}
	if s.Identity.Status == Unknown {
		add(15, "whose secret it is is unknown: no searched system's verifier accepted it")
	}
	if len(s.NotSearched) > 0 {
		var sys []string
		for _, p := range s.NotSearched {
			sys = append(sys, p.System)
		}
		add(5, "not every system could be searched: %s", strings.Join(sys, ", "))
	}
	if r.Score > 100 {
		// The reasons are the score's one account: they add up to it.
		r.Reasons = append(r.Reasons, fmt.Sprintf("%d the score stops at 100 (the reasons above add up to %d)", 100-r.Score, r.Score))
		r.Score = 100
	}
	return r
}

func orEmpty[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return slices.Clone(v)
}

func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
