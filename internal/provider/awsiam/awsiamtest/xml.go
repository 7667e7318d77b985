package awsiamtest

import (
	"encoding/xml"
	"net/http"
	"strings"
	"time"
)

// node is one XML element of a response: text or children.
type node struct {
	name string
	text string
	kids []node
}

func leaf(name, text string) node         { return node{name: name, text: text} }
func elem(name string, kids ...node) node { return node{name: name, kids: kids} }

// members is a list as the Query API writes it: <Name><member>…</member>…</Name>.
func members(name string, items []node) node {
	for i := range items {
		items[i].name = "member"
	}
	return node{name: name, kids: items}
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func (n node) write(b *strings.Builder) {
	b.WriteString("<" + n.name + ">")
	if len(n.kids) == 0 {
		_ = xml.EscapeText(b, []byte(n.text))
	}
	for _, k := range n.kids {
		k.write(b)
	}
	b.WriteString("</" + n.name + ">")
}

func namespace(service string) string {
	if service == "sts" {
		return "https://sts.amazonaws.com/doc/" + stsVersion + "/"
	}
	return "https://iam.amazonaws.com/doc/" + iamVersion + "/"
}

// writeResult writes <ActionResponse><ActionResult>…</ActionResult>
// <ResponseMetadata><RequestId>…</RequestId></ResponseMetadata></ActionResponse>;
// an action without output has no Result element.
func writeResult(w http.ResponseWriter, service, action, reqID string, result []node) {
	var b strings.Builder
	b.WriteString(xml.Header)
	b.WriteString(`<` + action + `Response xmlns="` + namespace(service) + `">`)
	if result != nil {
		elem(action+"Result", result...).write(&b)
	}
	elem("ResponseMetadata", leaf("RequestId", reqID)).write(&b)
	b.WriteString(`</` + action + `Response>`)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", reqID)
	_, _ = w.Write([]byte(b.String()))
}

// writeError writes the documented ErrorResponse with its HTTP status.
func writeError(w http.ResponseWriter, service, reqID string, e *apiError) {
	if service == "secretsmanager" {
		writeJSONError(w, reqID, e)
		return
	}
	typ := "Sender"
	if e.status >= 500 {
		typ = "Receiver"
	}
	var b strings.Builder
	b.WriteString(xml.Header)
	b.WriteString(`<ErrorResponse xmlns="` + namespace(service) + `">`)
	elem("Error", leaf("Type", typ), leaf("Code", e.code), leaf("Message", e.message)).write(&b)
	leaf("RequestId", reqID).write(&b)
	b.WriteString(`</ErrorResponse>`)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", reqID)
	w.WriteHeader(e.status)
	_, _ = w.Write([]byte(b.String()))
}
