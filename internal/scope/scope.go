// Package scope computes the blast radius of one leaked secret from what
// an incident recorded: where its copies are, which identity it belongs to
// and what that identity can do, who uses it (declared in the inventory,
// observed in sessions), what uses it that nobody declared, what else is
// tied to it, and a risk score with the reasons behind it. It is pure:
// gathering the facts (trace, providers, logs) is the caller's job.
package scope

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
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
	Inventory   *inventory.Inventory
	Now         time.Time
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

// consumers lists the declared consumers of the identity (observed when a
// session comes from one of their sources) and the sessions nobody
// declared.
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
	var sessions []store.Session
	if primary != nil {
		sessions = primary.Sessions
	}
	explained := make([]bool, len(sessions))
	for _, c := range declared {
		cons := Consumer{Name: c.Name, Declared: true, Sources: orEmpty(c.Sources), ThirdParty: c.ThirdParty, Observed: stored[c.Name].Observed}
		for i, sess := range sessions {
			if Matches(c, sess) {
				cons.Observed = true
				explained[i] = true
			}
		}
		out = append(out, cons)
	}
	if len(declared) == 0 {
		// No inventory at hand: keep what open recorded.
		for _, c := range in.Consumers {
			out = append(out, Consumer{Name: c.Name, Declared: c.Declared, Observed: c.Observed, Sources: orEmpty(c.Sources), ThirdParty: c.ThirdParty})
		}
	}
	bySource := map[string]*Unexplained{}
	var order []string
	for i, sess := range sessions {
		if explained[i] {
			continue
		}
		src := sessionSource(sess)
		u := bySource[src]
		if u == nil {
			u = &Unexplained{Source: src, FirstSeen: sess.Started, LastSeen: in.Now}
			bySource[src] = u
			order = append(order, src)
		}
		if sess.Started.Before(u.FirstSeen) {
			u.FirstSeen = sess.Started
		}
		ev := fmt.Sprintf("session %s from %s", sess.ID, sess.Client)
		if sess.Application != "" {
			ev += fmt.Sprintf(" (application %q)", sess.Application)
		}
		if sess.Database != "" {
			ev += " on " + sess.Database
		}
		u.Evidence = append(u.Evidence, ev+", open since "+sess.Started.UTC().Format(time.RFC3339))
	}
	un := []Unexplained{}
	for _, src := range order {
		un = append(un, *bySource[src])
	}
	return out, un
}

// sessionSource is the address a session comes from, without its port.
func sessionSource(s store.Session) string {
	if ap, err := netip.ParseAddrPort(s.Client); err == nil {
		return ap.Addr().String()
	}
	if a, err := netip.ParseAddr(s.Client); err == nil {
		return a.String()
	}
	if host, _, ok := strings.Cut(s.Client, ":"); ok && host != "" && !strings.Contains(s.Client, "[") {
		return host
	}
	return cmp.Or(s.Client, Unknown)
}

// Matches reports whether a session comes from a consumer's declared
// sources: its address inside one of the CIDRs, or equal to a declared
// host, or its application name declared.
func Matches(c *inventory.Consumer, s store.Session) bool {
	src := sessionSource(s)
	if a, err := netip.ParseAddr(src); err == nil {
		for _, p := range c.Prefixes {
			if p.Contains(a.Unmap()) {
				return true
			}
		}
	}
	for _, h := range c.Hosts {
		if strings.EqualFold(h, src) {
			return true
		}
	}
	for _, app := range c.Apps {
		if s.Application != "" && app == s.Application {
			return true
		}
	}
	return false
}

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
// sentence a responder can paste into the ticket.
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
	r.Score = min(100, r.Score)
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
