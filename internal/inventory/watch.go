package inventory

import (
	"net/url"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Watch is the inventory's watch: section: NATS subjects to follow
// besides the logs: files, and what the watcher does with findings.
type Watch struct {
	NATS []WatchNATS
	// Trigger lists the finding kinds that open an incident (or join the
	// open one of the same identity).
	Trigger []string
	// AutoContain lists the kinds that also run the emergency plan at
	// once, without a person; each is a trigger too.
	AutoContain []string
	Pos         Pos
}

// WatchNATS is one JetStream subject whose messages are log records.
type WatchNATS struct {
	URL     string
	Subject string
	// Type is the log format of the messages (one of LogFormats but
	// jsonl, which needs a field mapping).
	Type string
	// Durable names the consumer, so a restart resumes.
	Durable string
	Pos     Pos
}

// Triggers reports whether a finding of this kind opens an incident.
func (w *Watch) Triggers(kind string) bool {
	return w != nil && (contains(w.Trigger, kind) || contains(w.AutoContain, kind))
}

// Contains reports whether a finding of this kind is contained at once.
func (w *Watch) Contains(kind string) bool { return w != nil && contains(w.AutoContain, kind) }

// FindingKinds are the kinds watch.trigger and watch.auto_contain may
// name: the review's, and canary-use.
var FindingKinds = []string{
	"new-source", "new-user-agent", "new-action", "sensitive-action", "failed-auth-burst", "off-hours",
	"volume", "use-after-revocation", "canary-use",
}

var (
	watchKeys     = []string{"nats", "trigger", "auto_contain"}
	watchNATSKeys = []string{"url", "subject", "type", "durable"}
	// A durable consumer's name: NATS refuses '.', '*', '>' and spaces.
	durableRe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
)

func (p *parser) watch(v *yaml.Node) *Watch {
	o := p.object(v, "watch", "watch")
	if o == nil {
		return nil
	}
	o.only(watchKeys...)
	w := &Watch{Pos: p.pos(o.node)}
	seen := map[string]Pos{}
	for i, n := range o.list("nats") {
		e, ok := p.watchNATS(n, i)
		if !ok {
			continue
		}
		if !p.once(seen, e.URL+" "+e.Durable, e.Pos, n, "nats consumer") {
			continue
		}
		w.NATS = append(w.NATS, e)
	}
	kinds := func(key string) []string {
		var out []string
		ks, nodes := o.strings(key)
		for j, k := range ks {
			if p.enum(nodes[j], "watch: "+key+": finding kind", k, FindingKinds) {
				out = append(out, k)
			}
		}
		return out
	}
	w.Trigger = kinds("trigger")
	w.AutoContain = kinds("auto_contain")
	return w
}

func (p *parser) watchNATS(n *yaml.Node, i int) (WatchNATS, bool) {
	o, _ := p.item(n, "watch: nats", "", i, false)
	if o == nil {
		return WatchNATS{}, false
	}
	o.only(watchNATSKeys...)
	e := WatchNATS{Pos: p.pos(o.node)}
	if e.URL = o.str("url", true); e.URL != "" {
		u, err := url.Parse(e.URL)
		if err != nil || u.Host == "" || (u.Scheme != "nats" && u.Scheme != "tls") {
			p.errorf(o.at("url"), "%s: %s is not a NATS URL like nats://127.0.0.1:4222", o.prefix("url"), quote(e.URL))
		} else if u.User != nil {
			// A password in the URL would be a secret in the inventory.
			p.errorf(o.at("url"), "%s: the URL carries credentials; give the server without them", o.prefix("url"))
		}
	}
	if e.Subject = o.str("subject", true); e.Subject != "" && (strings.ContainsAny(e.Subject, " \t") ||
		strings.HasPrefix(e.Subject, ".") || strings.HasSuffix(e.Subject, ".") || strings.Contains(e.Subject, "..")) {
		p.errorf(o.at("subject"), "%s: %s is not a NATS subject like logs.pg.>", o.prefix("subject"), quote(e.Subject))
	}
	if e.Type = o.str("type", true); e.Type != "" {
		if e.Type == "jsonl" {
			p.errorf(o.at("type"), "%s: jsonl needs a field mapping, which only logs: entries have", o.prefix("type"))
		} else {
			p.enum(o.at("type"), o.prefix("type"), e.Type, LogFormats)
		}
	}
	if e.Durable = o.str("durable", true); e.Durable != "" && !durableRe.MatchString(e.Durable) {
		p.errorf(o.at("durable"), "%s: %s: use letters, digits, '_' and '-'", o.prefix("durable"), quote(e.Durable))
	}
	return e, true
}
