package notify

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/rekeyhq/rekey/internal/inventory"
)

// body is what target t receives for ev (already masked).
func body(t Target, ev Event) ([]byte, error) {
	if t.Type == inventory.NotifySlack {
		return json.Marshal(slackMessage(ev))
	}
	return json.Marshal(ev)
}

// slackPayload is an incoming webhook's message: text, which Slack shows
// in notifications and where blocks cannot be shown, and blocks
// (https://api.slack.com/messaging/webhooks).
type slackPayload struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks,omitempty"`
}

type slackBlock struct {
	Type string     `json:"type"`
	Text *slackText `json:"text,omitempty"`
	// Elements are a context block's texts.
	Elements []slackText `json:"elements,omitempty"`
}

type slackText struct {
	Type string `json:"type"` // mrkdwn
	Text string `json:"text"`
}

var titles = map[Kind]string{
	IncidentOpened: "Incident %s opened",
	ApprovalNeeded: "Incident %s: a step waits for approval",
	StepFailed:     "Incident %s: a step failed",
	RunDone:        "Incident %s: the run ended",
	Contained:      "Incident %s: contained automatically",
	ContainFailed:  "Incident %s: automatic containment failed",
}

func title(ev Event) string {
	f, ok := titles[ev.Kind]
	if !ok {
		f = "Incident %s: " + string(ev.Kind)
	}
	return fmt.Sprintf(f, ev.Incident)
}

// slackMessage is ev for Slack. Every value from outside is escaped as
// Slack's formatting asks (&, <, >), so that a step name or an owner
// cannot become a link or a mention.
func slackMessage(ev Event) slackPayload {
	var facts []string
	if ev.Identity != "" {
		facts = append(facts, "identity *"+slackEscape(ev.Identity)+"*")
	}
	if ev.Risk != "" {
		facts = append(facts, "risk *"+slackEscape(ev.Risk)+"*")
	}
	if ev.Step != "" {
		facts = append(facts, "step `"+slackEscape(ev.Step)+"`")
	}
	head := "*" + slackEscape(title(ev)) + "*"
	lines := []string{head}
	if len(facts) > 0 {
		lines = append(lines, strings.Join(facts, ", "))
	}
	if ev.Message != "" {
		lines = append(lines, slackEscape(cut(ev.Message, maxSlackMessage)))
	}
	if len(ev.Owners) > 0 {
		owners := make([]string, len(ev.Owners))
		for i, o := range ev.Owners {
			owners[i] = slackEscape(o)
		}
		lines = append(lines, "Owners: "+strings.Join(owners, ", "))
	}
	text := cutEscaped(strings.Join(lines, "\n"), maxSlackText)
	p := slackPayload{Text: text, Blocks: []slackBlock{{Type: "section", Text: &slackText{Type: "mrkdwn", Text: text}}}}
	if ev.Link != "" {
		p.Text += "\n" + slackEscape(ev.Link)
		p.Blocks = append(p.Blocks, slackBlock{Type: "context", Elements: []slackText{{Type: "mrkdwn", Text: "<" + slackEscape(ev.Link) + "|Open incident " + slackEscape(ev.Incident) + ">"}}})
	}
	return p
}

// A section block's text may hold 3,000 characters, and Slack refuses
// the whole message (invalid_blocks) past that: a step's error can be
// long. The message is cut first so that the owners stay in.
const (
	maxSlackMessage = 1500
	maxSlackText    = 3000
)

// cut shortens s to at most n runes, marking the cut.
func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// cutEscaped is cut for escaped text: an entity (&amp;) is not split.
func cutEscaped(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	t := string(r[:n-1])
	if i := strings.LastIndexByte(t, '&'); i >= 0 && !strings.Contains(t[i:], ";") {
		t = t[:i]
	}
	return t + "…"
}

// slackEscape escapes the three characters Slack's text formatting gives
// a meaning to.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
