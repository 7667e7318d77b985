package awsiamtest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// sigv4 is one parsed Authorization header of AWS Signature Version 4
// ("AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/iam/aws4_request,
// SignedHeaders=host;x-amz-date, Signature=hex").
type sigv4 struct {
	keyID, date, region, service string
	signedHeaders                []string
	signature                    string
}

const sigv4Algorithm = "AWS4-HMAC-SHA256"

// parseAuthorization reads the header; ok is false when it is absent or not
// SigV4 at all.
func parseAuthorization(h string) (sigv4, bool) {
	rest, ok := strings.CutPrefix(h, sigv4Algorithm+" ")
	if !ok {
		return sigv4{}, false
	}
	var s sigv4
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 5 || f[4] != "aws4_request" {
				return sigv4{}, false
			}
			s.keyID, s.date, s.region, s.service = f[0], f[1], f[2], f[3]
		case "SignedHeaders":
			s.signedHeaders = strings.Split(v, ";")
		case "Signature":
			s.signature = v
		}
	}
	if s.keyID == "" || len(s.signedHeaders) == 0 || s.signature == "" {
		return sigv4{}, false
	}
	return s, true
}

// scope is the credential scope the string to sign names.
func (s sigv4) scope() string {
	return s.date + "/" + s.region + "/" + s.service + "/aws4_request"
}

// expectedSignature recomputes the signature the caller should have sent
// with secretKey, following the documented algorithm: canonical request,
// string to sign, then the HMAC chain over date, region, service and
// "aws4_request". It is written from the algorithm, not from the SDK's
// signer, so that the two agreeing is evidence.
func (s sigv4) expectedSignature(r *http.Request, body []byte, amzDate, secretKey string) string {
	canonical := strings.Join([]string{
		r.Method,
		canonicalURI(r.URL),
		canonicalQuery(r.URL.RawQuery),
		canonicalHeaders(r, s.signedHeaders),
		strings.Join(s.signedHeaders, ";"),
		payloadHash(r, body),
	}, "\n")
	sum := sha256.Sum256([]byte(canonical))
	toSign := sigv4Algorithm + "\n" + amzDate + "\n" + s.scope() + "\n" + hex.EncodeToString(sum[:])
	k := hmacSHA256([]byte("AWS4"+secretKey), s.date)
	k = hmacSHA256(k, s.region)
	k = hmacSHA256(k, s.service)
	k = hmacSHA256(k, "aws4_request")
	return hex.EncodeToString(hmacSHA256(k, toSign))
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// canonicalURI encodes each path segment once more, as SigV4 does for
// every service but S3.
func canonicalURI(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		return "/"
	}
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		segs[i] = uriEncode(seg)
	}
	return strings.Join(segs, "/")
}

func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	q, _ := url.ParseQuery(raw)
	var pairs []string
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, uriEncode(k)+"="+uriEncode(v))
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

// uriEncode is SigV4's URI encoding: every byte but the unreserved
// characters A-Z a-z 0-9 - _ . ~ as %XY with upper-case hex.
func uriEncode(s string) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexd[c>>4])
		b.WriteByte(hexd[c&15])
	}
	return b.String()
}

// canonicalHeaders lists the signed headers, lower-case, each value trimmed
// with inner runs of spaces collapsed, one per line.
func canonicalHeaders(r *http.Request, names []string) string {
	var b strings.Builder
	for _, n := range names {
		var v string
		switch n {
		case "host":
			v = r.Host
		case "content-length":
			v = r.Header.Get("Content-Length")
			if v == "" && r.ContentLength >= 0 {
				v = strconv.FormatInt(r.ContentLength, 10)
			}
		default:
			vals := r.Header.Values(n)
			for i := range vals {
				vals[i] = strings.Join(strings.Fields(vals[i]), " ")
			}
			v = strings.Join(vals, ",")
		}
		b.WriteString(n + ":" + v + "\n")
	}
	return b.String()
}

func payloadHash(r *http.Request, body []byte) string {
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" {
		return h
	}
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// maxSkew is how far a request's X-Amz-Date may be from the server's clock
// before AWS refuses it as expired.
const maxSkew = 15 * time.Minute
