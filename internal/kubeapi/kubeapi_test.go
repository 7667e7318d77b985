package kubeapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// apiServer answers Secret reads and updates, the first throttle requests
// with priority and fairness's 429 (a Status with reason TooManyRequests,
// Retry-After, the flow schema's UID), as the API reference documents.
type apiServer struct {
	mu       sync.Mutex
	throttle int
	requests int
	bodies   []string
}

func (a *apiServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	a.requests++
	a.bodies = append(a.bodies, string(b))
	throttled := a.throttle > 0
	if throttled {
		a.throttle--
	}
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if throttled {
		w.Header().Set("Retry-After", "1")
		w.Header().Set("X-Kubernetes-PF-FlowSchema-UID", "7f3c2f7e-0d5f-4f4e-9a43-1c2f0e1d2a3b")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Too many requests, please try again later.","reason":"TooManyRequests","details":{"retryAfterSeconds":1},"code":429}`)
		return
	}
	json.NewEncoder(w).Encode(corev1.Secret{TypeMeta: metav1.TypeMeta{Kind: "Secret", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "shop", ResourceVersion: "7"}, Data: map[string][]byte{"k": []byte("v")}})
}

func (a *apiServer) count() (int, []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.requests, append([]string(nil), a.bodies...)
}

func testClient(t *testing.T, a *apiServer) *Client {
	t.Helper()
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	kc := fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: %q}\nusers:\n- name: u\n  user: {token: t0k}\n"+
		"contexts:\n- name: c\n  context: {cluster: c, user: u, namespace: shop}\ncurrent-context: c\n", srv.URL)
	// Retry-After asks for a second; the cap of a millisecond is what
	// the client waits.
	c, err := newClient([]byte(kc), "", retry{attempts: 3, maxWait: time.Millisecond, base: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A throttled read and a throttled update (its body sent again) succeed
// within the bound.
func TestThrottledRequestIsRetried(t *testing.T) {
	a := &apiServer{throttle: 2}
	c := testClient(t, a)
	ctx := context.Background()
	s, err := c.CoreV1().Secrets("shop").Get(ctx, "app", metav1.GetOptions{})
	if err != nil || string(s.Data["k"]) != "v" {
		t.Fatalf("Get through 2 throttled answers: %v", err)
	}
	a.mu.Lock()
	a.throttle, a.requests, a.bodies = 2, 0, nil
	a.mu.Unlock()
	s.Data["k"] = []byte("new")
	if _, err := c.CoreV1().Secrets("shop").Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("Update through 2 throttled answers: %v", err)
	}
	n, bodies := a.count()
	if n != 3 {
		t.Fatalf("the update was sent %d times, want 3", n)
	}
	for i, b := range bodies {
		if b == "" || b != bodies[0] {
			t.Errorf("try %d sent body %q, want the update each time", i+1, b)
		}
	}
}

// Past the bound the caller gets the 429 (client-go does not add its own
// ten retries), after exactly Attempts tries.
func TestThrottlingIsBounded(t *testing.T) {
	a := &apiServer{throttle: 100}
	c := testClient(t, a)
	_, err := c.CoreV1().Secrets("shop").Get(context.Background(), "app", metav1.GetOptions{})
	if !apierrors.IsTooManyRequests(err) {
		t.Errorf("Get while throttled: %v, want 429 TooManyRequests", err)
	}
	if n, _ := a.count(); n != c.Attempts || c.Attempts != 3 {
		t.Errorf("the throttled request was tried %d times, want the bound %d", n, c.Attempts)
	}
}

// The wait is Retry-After's, doubled from base without one, and never
// over maxWait.
func TestThrottleWait(t *testing.T) {
	r := retry{attempts: 5, maxWait: 10 * time.Second, base: 500 * time.Millisecond}
	for _, c := range []struct {
		header string
		try    int
		want   time.Duration
	}{
		{"2", 1, 2 * time.Second},
		{"0", 3, 0},
		{"120", 1, 10 * time.Second},
		{"", 1, 500 * time.Millisecond},
		{"", 3, 2 * time.Second},
		{"soon", 2, time.Second},
		{"", 6, 10 * time.Second},
	} {
		if got := r.wait(c.header, c.try); got != c.want {
			t.Errorf("wait(%q, %d) = %s, want %s", c.header, c.try, got, c.want)
		}
	}
}
