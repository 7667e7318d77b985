// Package notify tells people what needs them now: an incident opened, a
// step waiting for their approval, a step that failed, a run that ended.
// It posts to the inventory's top-level notify: targets, Slack incoming
// webhooks and generic JSON webhooks, and is used by the server and the
// watcher.
//
// Two promises shape it. A notification never holds up a response: Notify
// only queues (a full queue drops the notification, counts and warns), and
// delivery, with its retries and timeouts, happens on the Notifier's own
// goroutines. And a notification never carries a secret: a webhook URL is
// a credential (held as a secret.Secret, never printed, never in an
// error), and every text field of an event passes the caller's masker
// before it is encoded.
package notify

import (
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/secret"
)

// Kind is what happened.
type Kind string

const (
	IncidentOpened Kind = "incident-opened"
	ApprovalNeeded Kind = "approval-needed"
	StepFailed     Kind = "step-failed"
	RunDone        Kind = "run-done"
	// The watcher's: an incident it contained on its own (auto_contain),
	// or tried to.
	Contained     Kind = "contained"
	ContainFailed Kind = "contain-failed"
)

// Event is one notification, as the generic webhook receives it.
type Event struct {
	Kind     Kind   `json:"kind"`
	Incident string `json:"incident"`
	// Identity is the identity under incident as system/name.
	Identity string `json:"identity,omitempty"`
	Risk     string `json:"risk,omitempty"`
	// Step is the plan step concerned (approval-needed, step-failed).
	Step string `json:"step,omitempty"`
	// Message is one line for a person: what happened and what is asked
	// of them.
	Message string `json:"message"`
	// Owners are the contacts of the identity's owners (the inventory's
	// identities[].owner.contact), named so that they are the ones to act.
	Owners []string `json:"owners,omitempty"`
	// Link is the incident's page when the server knows its public URL.
	Link string    `json:"link,omitempty"`
	Time time.Time `json:"time"`
}

// masked is ev with every text field passed through m.
func (ev Event) masked(m *secret.Masker) Event {
	if m == nil {
		return ev
	}
	ev.Incident, ev.Identity, ev.Risk = m.Mask(ev.Incident), m.Mask(ev.Identity), m.Mask(ev.Risk)
	ev.Step, ev.Message, ev.Link = m.Mask(ev.Step), m.Mask(ev.Message), m.Mask(ev.Link)
	owners := make([]string, len(ev.Owners))
	for i, o := range ev.Owners {
		owners[i] = m.Mask(o)
	}
	ev.Owners = owners
	return ev
}

// Target is one resolved notify: entry. Its URL is a secret.
type Target struct {
	// Type is inventory.NotifySlack or inventory.NotifyWebhook.
	Type string
	// Ref is the reference the URL came from (env:VAR, file:PATH): what
	// messages name it by.
	Ref string
	url secret.Secret
}

// NewTarget builds a target of type typ posting to rawURL; ref names it
// in messages. The URL must be absolute http(s) with a host; an error
// never quotes it.
func NewTarget(typ, ref string, rawURL secret.Secret) (Target, error) {
	if typ != inventory.NotifySlack && typ != inventory.NotifyWebhook {
		return Target{}, fmt.Errorf("notify %s: type %q is unknown (want slack or webhook)", ref, typ)
	}
	u, err := url.Parse(string(rawURL.Reveal()))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return Target{}, fmt.Errorf("notify %s: %s does not hold an http:// or https:// URL", typ, ref)
	}
	return Target{Type: typ, Ref: ref, url: rawURL}, nil
}

// Targets resolves inv's notify: entries with getenv (os.Getenv when
// nil). A target that cannot be resolved here is left out and reported,
// one error each naming its reference: the others still receive.
func Targets(inv *inventory.Inventory, getenv func(string) string) ([]Target, []error) {
	if inv == nil {
		return nil, nil
	}
	var out []Target
	var problems []error
	for _, nt := range inv.Notify {
		v, err := nt.URL.Resolve(getenv)
		if err != nil {
			problems = append(problems, fmt.Errorf("notify %s: %w", nt.Type, err))
			continue
		}
		t, err := NewTarget(nt.Type, nt.URL.String(), v)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		out = append(out, t)
	}
	return out, problems
}

// Owners returns the contacts of the owners of identity name in system
// (a team where no contact is given), without repeats.
func Owners(inv *inventory.Inventory, system, name string) []string {
	if inv == nil {
		return nil
	}
	var out []string
	for _, id := range inv.Identities {
		if id.System != system || id.Name != name {
			continue
		}
		c := id.Owner.Contact
		if c == "" {
			c = id.Owner.Team
		}
		if c != "" && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}
