// Package k8ssecret delivers a secret into a key of a Kubernetes Secret
// and restarts the Deployment that reads it, through client-go's typed
// clients (internal/kubeapi).
//
// A write changes only its keys, in a copy of the Secret read, and sends
// it with that version's resourceVersion, so a concurrent writer makes
// the API server answer 409 Conflict instead of being overwritten; the
// target reads again and retries, a bounded number of times. Pods read a
// Secret's keys as environment variables only when they start, so once
// the Secret holds the value the named Deployment is restarted as
// `kubectl rollout restart` does (a pod template annotation), and its
// rollout status is awaited. The annotation records the Secret's
// resourceVersion it restarted for: a resumed Write that finds the value
// already there still restarts a Deployment that was not restarted for it.
package k8ssecret

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/rekeyhq/rekey/internal/deliver"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/kubeapi"
	"github.com/rekeyhq/rekey/internal/secret"
)

// Annotations kubectl and rekey put on a Deployment's pod template.
const (
	restartedAt  = "kubectl.kubernetes.io/restartedAt"
	restartedFor = "rekey.dev/restarted-for"
)

// Config says which Secret, keys and Deployment.
type Config struct {
	Client                     kubernetes.Interface
	Namespace, Name, Key, User string // User: the optional user_key
	// Deployment is restarted once the Secret holds the value; "" for none.
	Deployment string
	// Attempts bounds conflict retries (default 5); Polls and Wait bound
	// the rollout status checks (default 60 polls, 5 s apart).
	Attempts, Polls int
	Wait            time.Duration
}

// Target is a key of a Secret, and the Deployment reading it.
type Target struct{ cfg Config }

var _ deliver.Target = (*Target)(nil)

const op = "deliver kubernetes-secret"

// New checks c and returns its target. It does not contact the cluster.
func New(c Config) (*Target, error) {
	switch {
	case c.Client == nil || c.Namespace == "" || c.Name == "" || c.Key == "":
		return nil, errs.New(op, errs.Invalid, c.Namespace+"/"+c.Name, "a kubernetes-secret delivery needs a cluster, a namespace, a name and a key")
	case c.Key == c.User:
		return nil, errs.New(op, errs.Invalid, c.Namespace+"/"+c.Name, "key and user_key are the same")
	}
	if c.Attempts <= 0 {
		c.Attempts = 5
	}
	if c.Polls <= 0 {
		c.Polls = 60
	}
	if c.Wait <= 0 {
		c.Wait = 5 * time.Second
	}
	return &Target{cfg: c}, nil
}

// FromInventory builds the target of a consumer's kubernetes-secret
// delivery: the kubernetes system it names gives the kubeconfig (its admin
// reference, resolved with getenv), endpoint and default namespace.
func FromInventory(inv *inventory.Inventory, d *inventory.Delivery, getenv func(string) string) (*Target, error) {
	if d == nil || d.Type != inventory.DeliverKubernetesSecret {
		return nil, errs.New(op, errs.Invalid, "", "not a kubernetes-secret delivery")
	}
	s := inv.SystemByName(d.System)
	if s == nil || s.Type != inventory.TypeKubernetes {
		return nil, errs.New(op, errs.Invalid, d.System, "no kubernetes system of that name in the inventory")
	}
	kc, err := s.Admin.Resolve(getenv)
	if err != nil {
		return nil, errs.E(op, errs.KindOf(err), s.Name, err)
	}
	c, err := kubeapi.New(kc.Reveal(), s.Endpoint)
	if err != nil {
		return nil, errs.E(op, errs.Invalid, s.Name, err)
	}
	ns := d.Namespace
	if ns == "" {
		ns = c.Namespace
	}
	_, dep, _ := strings.Cut(d.Restart, "/")
	return New(Config{Client: c, Namespace: ns, Name: d.Name, Key: d.Key, User: d.UserKey, Deployment: dep})
}

// Describe names the Secret, keys and Deployment.
func (t *Target) Describe() string {
	s := fmt.Sprintf("kubernetes-secret %s key %s", t.where(), t.cfg.Key)
	if t.cfg.User != "" {
		s += ", user_key " + t.cfg.User
	}
	if t.cfg.Deployment != "" {
		s += ", then rollout restart deployment/" + t.cfg.Deployment
	}
	return s
}

func (t *Target) where() string { return t.cfg.Namespace + "/" + t.cfg.Name }

// read returns the Secret, nil when it does not exist.
func (t *Target) read(ctx context.Context) (*corev1.Secret, error) {
	s, err := t.cfg.Client.CoreV1().Secrets(t.cfg.Namespace).Get(ctx, t.cfg.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, t.fail("read", "get on secrets", err)
	}
	return s, nil
}

// Current reads the keys; a missing Secret or key is errs.NotFound.
func (t *Target) Current(ctx context.Context) (deliver.State, error) {
	s, err := t.read(ctx)
	if err != nil {
		return deliver.State{}, err
	}
	if s == nil {
		return deliver.State{}, errs.New(op, errs.NotFound, t.where(), "no such Secret")
	}
	v, ok := s.Data[t.cfg.Key]
	if !ok {
		return deliver.State{}, errs.New(op, errs.NotFound, t.where(), "the Secret has no key "+t.cfg.Key)
	}
	return deliver.State{Secret: secret.New(v), User: string(s.Data[t.cfg.User])}, nil
}

// parts lists what writing v into s changes.
func (t *Target) parts(s *corev1.Secret, v deliver.Value) []deliver.Part {
	var out []deliver.Part
	if v.User != "" && t.cfg.User != "" && (s == nil || string(s.Data[t.cfg.User]) != v.User) {
		out = append(out, deliver.PartUser)
	}
	if s == nil || !v.Secret.Equal(secret.New(s.Data[t.cfg.Key])) {
		out = append(out, deliver.PartPassword)
	}
	return out
}

// Plan says which keys Write would change, and the restart.
func (t *Target) Plan(ctx context.Context, v deliver.Value) (deliver.Change, error) {
	s, err := t.read(ctx)
	if err != nil {
		return deliver.Change{}, err
	}
	e := deliver.Edit{Where: "secret " + t.where(), Key: t.cfg.Key, Form: "plain", Parts: t.parts(s, v)}
	if s == nil {
		e.Note = "the Secret is created"
	}
	if t.cfg.Deployment != "" {
		e.Note = strings.TrimPrefix(e.Note+"; then rollout restart deployment/"+t.cfg.Deployment, "; ")
	}
	return deliver.Change{Target: t.Describe(), Edits: []deliver.Edit{e}}, nil
}

// Write puts v into the Secret (creating it as an Opaque Secret when it is
// missing), retrying on 409 Conflict, then restarts the Deployment unless
// it was already restarted for this version of the Secret, and waits for
// its rollout.
func (t *Target) Write(ctx context.Context, v deliver.Value) error {
	secrets := t.cfg.Client.CoreV1().Secrets(t.cfg.Namespace)
	var rv string
	for attempt := 0; ; attempt++ {
		s, err := t.read(ctx)
		if err != nil {
			return err
		}
		if s != nil && len(t.parts(s, v)) == 0 {
			rv = s.ResourceVersion
			break
		}
		if s == nil {
			s = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: t.cfg.Name, Namespace: t.cfg.Namespace}, Type: corev1.SecretTypeOpaque}
		}
		if s.Data == nil {
			s.Data = map[string][]byte{}
		}
		s.Data[t.cfg.Key] = v.Secret.Reveal()
		if v.User != "" && t.cfg.User != "" {
			s.Data[t.cfg.User] = []byte(v.User)
		}
		var out *corev1.Secret
		if s.ResourceVersion == "" {
			out, err = secrets.Create(ctx, s, metav1.CreateOptions{})
		} else {
			out, err = secrets.Update(ctx, s, metav1.UpdateOptions{})
		}
		if (apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err)) && attempt+1 < t.cfg.Attempts {
			continue
		}
		if err != nil {
			return t.fail("write", "update on secrets", err)
		}
		rv = out.ResourceVersion
		break
	}
	if t.cfg.Deployment == "" {
		return nil
	}
	return t.restart(ctx, rv)
}

// restart patches the pod template as `kubectl rollout restart` does,
// unless it already names rv, then waits for the rollout.
func (t *Target) restart(ctx context.Context, rv string) error {
	deps := t.cfg.Client.AppsV1().Deployments(t.cfg.Namespace)
	d, err := deps.Get(ctx, t.cfg.Deployment, metav1.GetOptions{})
	if err != nil {
		return t.fail("restart", "get on deployments", err)
	}
	if d.Spec.Template.Annotations[restartedFor] != rv {
		patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
			"annotations": map[string]string{restartedAt: time.Now().UTC().Format(time.RFC3339), restartedFor: rv}}}}})
		if _, err := deps.Patch(ctx, t.cfg.Deployment, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return t.fail("restart", "patch on deployments", err)
		}
	}
	for range t.cfg.Polls {
		d, err := deps.Get(ctx, t.cfg.Deployment, metav1.GetOptions{})
		if err != nil {
			return t.fail("rollout status", "get on deployments", err)
		}
		done, why := rolledOut(d)
		if done {
			return nil
		}
		if why != "" {
			return errs.New(op, errs.Other, "deployment/"+t.cfg.Deployment, why)
		}
		select {
		case <-ctx.Done():
			return errs.E(op, errs.Unreachable, "deployment/"+t.cfg.Deployment, ctx.Err())
		case <-time.After(t.cfg.Wait):
		}
	}
	return errs.New(op, errs.Unreachable, "deployment/"+t.cfg.Deployment, fmt.Sprintf("the rollout did not finish after %d checks", t.cfg.Polls))
}

// rolledOut is kubectl's rollout status for a Deployment: the controller
// saw the latest generation, every replica is updated and available, and
// none of the old ones is left. why is set when it will not finish.
func rolledOut(d *appsv1.Deployment) (done bool, why string) {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			return false, "the rollout exceeded its progress deadline"
		}
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	st := d.Status
	return d.Generation <= st.ObservedGeneration && st.UpdatedReplicas >= want && st.Replicas <= st.UpdatedReplicas && st.AvailableReplicas >= st.UpdatedReplicas, ""
}

// fail turns a client error into one line with a kind; the API server's
// Status messages name objects, never Secret data.
func (t *Target) fail(what, need string, err error) error {
	var se apierrors.APIStatus
	if errors.As(err, &se) {
		st := se.Status()
		switch {
		case st.Code == http.StatusForbidden || st.Code == http.StatusUnauthorized:
			return errs.New(op, errs.Permission, t.where(), what+": the kubeconfig's user lacks "+need+" ("+st.Message+")")
		case st.Code == http.StatusNotFound:
			return errs.New(op, errs.NotFound, t.where(), what+": "+st.Message)
		case st.Code == http.StatusTooManyRequests:
			msg := "throttled (" + st.Message + ")"
			if c, ok := t.cfg.Client.(*kubeapi.Client); ok {
				msg = fmt.Sprintf("still throttled after %d attempts (%s)", c.Attempts, st.Message)
			}
			return errs.New(op, errs.Unreachable, t.where(), what+": "+msg)
		case st.Code >= 500:
			return errs.New(op, errs.Unreachable, t.where(), what+": "+st.Message)
		}
		return errs.New(op, errs.Other, t.where(), what+": "+st.Message)
	}
	return errs.New(op, errs.Unreachable, t.where(), what+": cannot reach the API server")
}
