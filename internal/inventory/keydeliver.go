package inventory

import (
	"net"
	"strconv"
)

// Delivery types of a private key: where a consumer reads the key (and
// certificate) that replaces a leaked one.
const (
	// DeliverTLSFiles is a TLS server's or client's PEM files: key, cert
	// and optionally chain; endpoint is where a server presents them.
	DeliverTLSFiles = "tls-files"
	// DeliverKeyFile is a private key file alone (an SSH client's
	// identity file), written in OpenSSH form.
	DeliverKeyFile = "key-file"
	// DeliverTLSSecretManifest is a Kubernetes Secret manifest of type
	// kubernetes.io/tls in a file (applied by the team's own pipeline):
	// data."tls.crt" and data."tls.key".
	DeliverTLSSecretManifest = "tls-secret-manifest"
)

var (
	tlsDeliverKeys = []string{"type", "cert", "key", "chain", "full_chain", "endpoint"}
	keyFileKeys    = []string{"type", "path"}
)

// tlsDelivery reads {type: tls-files, cert, key, chain?, full_chain?,
// endpoint?}: the key file goes in Path, the others in their own fields.
func (p *parser) tlsDelivery(o *obj, d *Delivery, what string) {
	o.only(tlsDeliverKeys...)
	d.Cert = o.str("cert", true)
	d.Path = o.str("key", true)
	d.Chain = o.str("chain", false)
	d.FullChain = o.boolean("full_chain")
	if d.Cert != "" && d.Cert == d.Path {
		p.errorf(o.at("key"), "%s: key and cert are one file: rekey writes the key to a file of its own (mode 0600)", what)
	}
	if d.Endpoint = o.str("endpoint", false); d.Endpoint != "" {
		host, port, err := net.SplitHostPort(d.Endpoint)
		n, perr := strconv.Atoi(port)
		if err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			p.errorf(o.at("endpoint"), "%s: endpoint %s: want host:port, where the consumer presents its certificate", what, quote(d.Endpoint))
			d.Endpoint = ""
		}
	}
}

// keyFileDelivery reads {type: key-file, path} and {type:
// tls-secret-manifest, path}.
func (p *parser) keyFileDelivery(o *obj, d *Delivery) {
	o.only(keyFileKeys...)
	d.Path = o.str("path", true)
}
