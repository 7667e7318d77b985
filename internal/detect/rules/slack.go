package rules

import (
	"strings"

	"github.com/rekeyhq/rekey/internal/detect"
)

func slackRules() []*detect.Rule {
	team := "T" + fake("slack-team", upperAlnum, 10)
	return []*detect.Rule{
		{
			ID:          "slack-bot-token",
			Source:      "https://docs.slack.dev/authentication/tokens",
			Provider:    "slack",
			Description: "Slack bot token (xoxb-)",
			Keywords:    []string{"xoxb-"},
			Regex:       re(`(?:^|[^\w-])(?P<secret>xoxb-[0-9]{8,14}-(?:[0-9]{8,14}-)?[A-Za-z0-9]{24,34})(?:[^\w-]|$)`),
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples: []string{
				"SLACK_BOT_TOKEN=xoxb-" + fake("xoxb-1", digits, 12) + "-" + fake("xoxb-2", digits, 13) + "-" + fake("xoxb-3", alnum, 24),
				`  "token": "xoxb-` + fake("xoxb-4", digits, 11) + "-" + fake("xoxb-5", alnum, 24) + `",`,
			},
			NoMatch: []string{
				"SLACK_BOT_TOKEN=xoxb-not-a-real-token-this-will-not-work",
				"slack_bot_token: xoxb-123-456-abc",
			},
		},
		{
			ID:          "slack-user-token",
			Source:      "https://docs.slack.dev/authentication/tokens",
			Provider:    "slack",
			Description: "Slack user token (xoxp-)",
			Keywords:    []string{"xoxp-"},
			Regex:       re(`(?:^|[^\w.-])(?P<secret>xoxp-[0-9]{8,14}-[0-9]{8,14}-[0-9]{8,14}-[a-f0-9]{32})(?:[^\w-]|$)`),
			MinEntropy:  3.0,
			Severity:    detect.Critical,
			Examples:    []string{"export SLACK_USER_TOKEN=xoxp-" + fake("xoxp-1", digits, 12) + "-" + fake("xoxp-2", digits, 12) + "-" + fake("xoxp-3", digits, 13) + "-" + fake("xoxp-4", hexLower, 32)},
			NoMatch:     []string{"tokens look like xoxp-XXXXXXXXXXXX-XXXXXXXXXXXX-XXXXXXXXXXXXX-XXXXXXXX"},
		},
		{
			ID:          "slack-workspace-token",
			Provider:    "slack",
			Description: "Slack workspace app or legacy token (xoxa-, xoxo-, xoxs-)",
			Keywords:    []string{"xoxa-", "xoxo-", "xoxs-"},
			Regex:       re(`(?:^|[^\w-])(?P<secret>xox[aos]-(?:\d-)?[0-9]{8,14}-[0-9A-Za-z-]{20,})`),
			MinEntropy:  3.5,
			Severity:    detect.High,
			Examples:    []string{"SLACK_TOKEN=xoxa-2-" + fake("xoxa-1", digits, 12) + "-" + fake("xoxa-2", digits, 12) + "-" + fake("xoxa-3", digits, 12) + "-" + fake("xoxa-4", hexLower, 64)},
			NoMatch:     []string{"xoxa-2-<workspace token>"},
		},
		{
			ID:          "slack-refresh-token",
			Source:      "https://docs.slack.dev/authentication/using-token-rotation",
			Provider:    "slack",
			Description: "Slack refresh token for rotating tokens (xoxe-1-, xoxr-)",
			Keywords:    []string{"xoxe-", "xoxr-"},
			Regex:       re(`(?:^|[^\w.-])(?P<secret>xox[er]-\d-[A-Za-z0-9-]{100,})`),
			MinEntropy:  4.0,
			Severity:    detect.High,
			Examples:    []string{`{"refresh_token": "xoxe-1-` + fake("xoxe-1", alnum, 140) + `"}`},
			NoMatch:     []string{"xoxe-1-..."},
		},
		{
			ID:          "slack-config-token",
			Source:      "https://docs.slack.dev/authentication/tokens",
			Provider:    "slack",
			Description: "Slack app configuration access token (xoxe.xoxp-1-, xoxe.xoxb-1-)",
			Keywords:    []string{"xoxe.xox"},
			Regex:       re(`(?P<secret>xoxe\.xox[bp]-\d-[A-Za-z0-9]{140,})`),
			MinEntropy:  4.0,
			Severity:    detect.High,
			Examples:    []string{"SLACK_CONFIG_TOKEN=xoxe.xoxp-1-" + fake("xoxe-cfg", alnum, 160)},
			NoMatch:     []string{"SLACK_CONFIG_TOKEN=xoxe.xoxp-1-"},
		},
		{
			ID:          "slack-app-token",
			Source:      "https://docs.slack.dev/authentication/tokens",
			Provider:    "slack",
			Description: "Slack app-level token for Socket Mode (xapp-)",
			Keywords:    []string{"xapp-"},
			Regex:       re(`(?:^|[^\w-])(?P<secret>xapp-\d-[A-Z0-9]{9,11}-[0-9]{10,13}-[a-f0-9]{64})(?:[^\w-]|$)`),
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples:    []string{"SLACK_APP_TOKEN=xapp-1-A" + fake("xapp-1", upperAlnum, 10) + "-" + fake("xapp-2", digits, 13) + "-" + fake("xapp-3", hexLower, 64)},
			NoMatch:     []string{"SLACK_APP_TOKEN=xapp-1-..."},
		},
		{
			ID:          "slack-webhook-url",
			Source:      "https://api.slack.com/messaging/webhooks",
			Provider:    "slack",
			Description: "Slack incoming webhook or workflow trigger URL (the URL is the credential); names the workspace",
			Keywords:    []string{"hooks.slack.com"},
			Regex: re(`(?P<secret>https://hooks\.slack\.com/(?:services/(?P<account>T[A-Z0-9]{8,12})/B[A-Z0-9]{8,12}/[A-Za-z0-9]{24}` +
				`|(?:workflows|triggers)/(?P<account>T[A-Z0-9]{8,12})/A[A-Z0-9]{8,12}/[0-9]{10,20}/[A-Za-z0-9]{24,32}))`),
			Validate: func(u []byte) bool { return !detect.IsPlaceholder(u) && !strings.Contains(string(u), "/T00000000/") },
			Severity: detect.High,
			Examples: []string{
				"SLACK_WEBHOOK_URL=https://hooks.slack.com/services/" + team + "/B" + fake("slack-b", upperAlnum, 10) + "/" + fake("slack-wh", alnum, 24),
				`  webhook: "https://hooks.slack.com/triggers/` + team + "/A" + fake("slack-a", upperAlnum, 10) + "/" + fake("slack-n", digits, 13) + "/" + fake("slack-trig", alnum, 32) + `"`,
			},
			NoMatch: []string{
				"curl -X POST https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
				"url: https://hooks.slack.com/services/${SLACK_WEBHOOK_PATH}",
			},
		},
	}
}
