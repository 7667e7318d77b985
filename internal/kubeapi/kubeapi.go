// Package kubeapi builds the one kind of Kubernetes client rekey uses, for
// the provider and the kubernetes-secret delivery alike: client-go's typed
// clientset from a kubeconfig (its current context), speaking JSON.
//
// Throttling: an API server's priority and fairness answers 429 Too Many
// Requests with Retry-After. client-go alone retries such an answer up to
// ten times, each after as long as the server asks; the client built here
// retries it at most Attempts tries in all, waiting what Retry-After asks
// but never more than MaxWait (growing waits when it asks nothing), and
// then hands client-go the 429 without Retry-After, so that it does not
// retry again and the caller gets the error.
package kubeapi

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// Attempts bounds the tries of one throttled request, MaxWait the wait
// before each retry.
const (
	Attempts = 5
	MaxWait  = 10 * time.Second
)

// Client is a clientset with what it was built from.
type Client struct {
	kubernetes.Interface
	// Host is the API server's URL, Namespace the context's ("default"
	// without one).
	Host, Namespace string
	// Token and Password are the kubeconfig's credentials, for a
	// sanitizer; empty when it uses certificates or a plugin.
	Token, Password string
	// Attempts is how many tries a throttled request gets, for errors.
	Attempts int
}

// retry is how throttled requests are retried; tests shorten the waits.
type retry struct {
	attempts int
	maxWait  time.Duration
	// base is the first wait when the server gives no Retry-After.
	base time.Duration
}

var defaultRetry = retry{attempts: Attempts, maxWait: MaxWait, base: 500 * time.Millisecond}

// New reads kubeconfig; endpoint, when set, replaces its cluster's server.
// Its errors hold nothing of the kubeconfig.
func New(kubeconfig []byte, endpoint string) (*Client, error) {
	return newClient(kubeconfig, endpoint, defaultRetry)
}

func newClient(kubeconfig []byte, endpoint string, rt retry) (*Client, error) {
	cc, err := clientcmd.NewClientConfigFromBytes(kubeconfig)
	if err != nil {
		return nil, errors.New("the administrator reference is not a kubeconfig")
	}
	rc, err := cc.ClientConfig()
	if err != nil {
		return nil, errors.New("the kubeconfig has no usable current context")
	}
	if endpoint != "" {
		rc.Host = endpoint
	}
	// The clientset prefers protobuf; every API server also speaks JSON,
	// the encoding the API reference documents and k8stest implements, so
	// what is tested is what runs.
	rc.ContentType, rc.AcceptContentTypes = "application/json", "application/json"
	// client-go's default of 5 requests a second would make an inspection
	// of a busy namespace crawl; kubectl allows 50 (burst 300).
	rc.QPS, rc.Burst = 50, 300
	rc.Wrap(func(next http.RoundTripper) http.RoundTripper { return &throttled{next: next, retry: rt} })
	ns, _, err := cc.Namespace()
	if err != nil || ns == "" {
		ns = metav1.NamespaceDefault
	}
	c, err := kubernetes.NewForConfig(rc)
	if err != nil {
		// Its text may quote the kubeconfig's TLS or auth settings.
		return nil, errors.New("the kubeconfig's cluster or credentials settings are unusable")
	}
	return &Client{Interface: c, Host: rc.Host, Namespace: ns, Token: rc.BearerToken, Password: rc.Password, Attempts: rt.attempts}, nil
}

// throttled retries a request the API server answers 429, within retry's
// bounds.
type throttled struct {
	next http.RoundTripper
	retry
}

func (t *throttled) RoundTrip(req *http.Request) (*http.Response, error) {
	for try := 1; ; try++ {
		resp, err := t.next.RoundTrip(req)
		if err != nil || resp.StatusCode != http.StatusTooManyRequests {
			return resp, err
		}
		if try >= t.attempts || (req.Body != nil && req.Body != http.NoBody && req.GetBody == nil) {
			// Without Retry-After client-go returns the 429 as an error
			// instead of retrying it up to ten more times.
			resp.Header.Del("Retry-After")
			return resp, nil
		}
		wait := t.wait(resp.Header.Get("Retry-After"), try)
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) //nolint:errcheck // drained so the connection is reused
		resp.Body.Close()
		timer := time.NewTimer(wait)
		select {
		case <-req.Context().Done():
			timer.Stop()
			return nil, req.Context().Err()
		case <-timer.C:
		}
		if req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req = req.Clone(req.Context())
			req.Body = body
		}
	}
}

// wait is what Retry-After asks (in seconds), or base doubled per try
// when it asks nothing, never more than maxWait.
func (r retry) wait(retryAfter string, try int) time.Duration {
	d := r.base << (try - 1)
	if n, err := strconv.Atoi(retryAfter); err == nil && n >= 0 {
		d = time.Duration(n) * time.Second
	}
	return min(d, r.maxWait)
}
