// Package kubeapi builds the one kind of Kubernetes client rekey uses, for
// the provider and the kubernetes-secret delivery alike: client-go's typed
// clientset from a kubeconfig (its current context), speaking JSON.
package kubeapi

import (
	"errors"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
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
}

// New reads kubeconfig; endpoint, when set, replaces its cluster's server.
// Its errors hold nothing of the kubeconfig.
func New(kubeconfig []byte, endpoint string) (*Client, error) {
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
	ns, _, err := cc.Namespace()
	if err != nil || ns == "" {
		ns = metav1.NamespaceDefault
	}
	c, err := kubernetes.NewForConfig(rc)
	if err != nil {
		// Its text may quote the kubeconfig's TLS or auth settings.
		return nil, errors.New("the kubeconfig's cluster or credentials settings are unusable")
	}
	return &Client{Interface: c, Host: rc.Host, Namespace: ns, Token: rc.BearerToken, Password: rc.Password}, nil
}
