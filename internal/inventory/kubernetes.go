package inventory

import (
	"regexp"
	"strings"
)

// TypeKubernetes is the system type of a Kubernetes cluster.
const TypeKubernetes = "kubernetes"

// DeliverKubernetesSecret is the delivery type writing a key of a
// Kubernetes Secret, then restarting the Deployment that reads it.
const DeliverKubernetesSecret = "kubernetes-secret"

var (
	k8sDeliverKeys = []string{"type", "namespace", "name", "key", "user_key", "restart", "system"}
	// k8sName is a DNS-1123 subdomain: a Secret's, a namespace's or a
	// Deployment's name.
	k8sName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)
	// k8sKey is a Secret data key: letters, digits, '-', '_', '.'.
	k8sKey = regexp.MustCompile(`^[-._a-zA-Z0-9]{1,253}$`)
)

// kubernetesDelivery reads {type: kubernetes-secret, namespace?, name,
// key, user_key?, restart?: deployment/NAME, system?}.
func (p *parser) kubernetesDelivery(o *obj, d *Delivery, what string, inv *Inventory) {
	o.only(k8sDeliverKeys...)
	d.Namespace = o.str("namespace", false)
	d.Name = o.str("name", true)
	for _, f := range []struct{ name, val string }{{"namespace", d.Namespace}, {"name", d.Name}} {
		if f.val != "" && !k8sName.MatchString(f.val) {
			p.errorf(o.at(f.name), "%s: %s %s: want a lower-case DNS name (letters, digits, '-', '.')", what, f.name, quote(f.val))
		}
	}
	d.Key = o.str("key", true)
	d.UserKey = o.str("user_key", false)
	for _, k := range []struct{ name, val string }{{"key", d.Key}, {"user_key", d.UserKey}} {
		if k.val != "" && !k8sKey.MatchString(k.val) {
			p.errorf(o.at(k.name), "%s: %s %s: a Secret key is letters, digits, '-', '_' and '.'", what, k.name, quote(k.val))
		}
	}
	if d.Key != "" && d.Key == d.UserKey {
		p.errorf(o.at("user_key"), "%s: user_key is the same as key", what)
	}
	if d.Restart = o.str("restart", false); d.Restart != "" {
		kind, name, _ := strings.Cut(d.Restart, "/")
		if kind != "deployment" || !k8sName.MatchString(name) {
			p.errorf(o.at("restart"), "%s: restart %s: want deployment/NAME", what, quote(d.Restart))
		}
	}
	d.System = p.deliverySystem(o, what, inv, TypeKubernetes, DeliverKubernetesSecret)
}
