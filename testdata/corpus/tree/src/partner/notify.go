package partner

import "net/http"

// Token of the partner-notify Slack app, until the vault migration lands.
const slackToken = "xoxb-711139033372-384563261871" +
	"5-EkPt6XcOMkbSWZloDf0IhiAA"

func newRequest(url string) (*http.Request, error) {
	req, err := http.NewRequest(http.MethodPost, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+slackToken)
	return req, nil
}
