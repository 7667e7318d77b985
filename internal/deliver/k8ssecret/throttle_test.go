package k8ssecret

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/kubeapi"
)

// An API server that keeps answering priority and fairness's 429 (with
// Retry-After: 0, so the retries do not wait): the delivery's client
// (kubeapi's) tries kubeapi.Attempts times, and the error is one line
// naming the Secret and the bound.
func TestThrottledPastTheBound(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Too many requests, please try again later.","reason":"TooManyRequests","details":{"retryAfterSeconds":0},"code":429}`)
	}))
	defer srv.Close()
	kc := fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: %q}\nusers:\n- name: u\n  user: {token: t0k}\n"+
		"contexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\n", srv.URL)
	c, err := kubeapi.New([]byte(kc), "")
	if err != nil {
		t.Fatal(err)
	}
	tg, err := New(Config{Client: c, Namespace: ns, Name: "orders-db", Key: "password"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = tg.Current(context.Background())
	want := fmt.Sprintf("still throttled after %d attempts", kubeapi.Attempts)
	if errs.KindOf(err) != errs.Unreachable || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "kubernetes-secret") ||
		!strings.Contains(err.Error(), ns+"/orders-db") || !strings.Contains(err.Error(), want) {
		t.Errorf("Current while throttled: %v (kind %v), want one Unreachable line saying %q", err, errs.KindOf(err), want)
	}
	if got := int(n.Load()); got != kubeapi.Attempts {
		t.Errorf("the API server was asked %d times, want the bound %d", got, kubeapi.Attempts)
	}
}
