package inventory

import (
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	"go.yaml.in/yaml/v3"
)

// System types whose credential is a private key. Such a system is not a
// server rekey logs in to but the places that carry or trust a public
// key, so it has no admin: it lists those places instead.
const (
	TypeX509 = "x509" // certificates: files, Kubernetes TLS Secrets, keystores, TLS endpoints, an openssl ca index
	TypeSSH  = "ssh"  // sshd trust: authorized_keys, AuthorizedPrincipals, TrustedUserCAKeys
)

var (
	x509Keys      = []string{"certs", "kubernetes_tls_secrets", "keystores", "endpoints", "ca"}
	sshKeys       = []string{"authorized_keys", "authorized_principals", "trusted_user_ca_keys"}
	keystoreKeys  = []string{"path", "type", "password"}
	keystoreTypes = []string{"pkcs12", "jks"}
	caKeys        = []string{"index", "certs_dir", "cert", "config", "key", "key_passphrase", "crl", "ocsp", "ocsp_reload"}
)

// X509Places are where an x509 system's certificates are. Globs and paths
// are as written; Abs takes them from the inventory's directory.
type X509Places struct {
	// Certs are globs of PEM or DER certificate files (a PEM file may hold
	// a chain).
	Certs []string
	// KubernetesTLSSecrets are globs of Secret manifests (YAML or JSON,
	// several documents or a List): every data."tls.crt" and "ca.crt".
	KubernetesTLSSecrets []string
	Keystores            []Keystore
	// Endpoints are host:port addresses of TLS servers whose presented
	// chain is read (the handshake is never completed with a key).
	Endpoints []string
	// CA is an internal CA's issued-certificate records.
	CA *CAIndex
	// Dir is the inventory's directory.
	Dir string
}

// Keystore is a PKCS#12 or JKS file and a reference to its password.
type Keystore struct {
	Path     string
	Type     string // pkcs12 | jks
	Password Ref    // zero for a keystore without a password
	Pos      Pos
}

// CAIndex is an `openssl ca` database: index.txt (one V, R or E row per
// certificate issued, with its serial) and the directory of issued
// certificates named by serial (new_certs_dir).
type CAIndex struct {
	Index    string
	CertsDir string
	// Cert is the CA's own certificate (the config's certificate =), by
	// which a leaked CA key is recognised and everything in the index
	// listed as signed by it. Required.
	Cert string
	// Config is the CA's openssl.cnf: with it rekey revokes certificates
	// (openssl ca -revoke), regenerates the CRL (-gencrl) and has
	// replacements signed (openssl ca -in CSR). Without it the CA is read
	// only.
	Config string
	// Key is a file: reference to the CA's private key (openssl ca
	// -keyfile); zero means the config's private_key.
	Key Ref
	// KeyPassphrase is a reference to the CA key's passphrase, given to
	// openssl on its standard input (-passin stdin), never as an argument.
	KeyPassphrase Ref
	// CRL is where the CA publishes its CRL: -gencrl writes it here, and a
	// revocation is checked in it.
	CRL string
	// OCSP is the URL of the CA's OCSP responder, asked after a
	// revocation whether it says revoked.
	OCSP string
	// OCSPReload is a shell command that makes the responder read the
	// index again (`openssl ocsp` reads it once at start; with -multi it
	// rereads an index whose mtime changed, to the second), run after a
	// revocation. Empty: the responder follows the index by itself.
	OCSPReload string
	Pos        Pos
}

// SSHPlaces are the sshd files of an ssh system, as globs.
type SSHPlaces struct {
	AuthorizedKeys       []string
	AuthorizedPrincipals []string
	TrustedUserCAKeys    []string
	Dir                  string
}

// Abs returns p taken from the inventory's directory when relative.
func (x *X509Places) Abs(p string) string { return absFrom(x.Dir, p) }

// Abs returns p taken from the inventory's directory when relative.
func (s *SSHPlaces) Abs(p string) string { return absFrom(s.Dir, p) }

// isKeySystem reports whether a system of type typ holds places rather
// than an admin.
func isKeySystem(typ string) bool { return typ == TypeX509 || typ == TypeSSH }

// keyPlaces decodes the places of an x509 or ssh system into s, and
// reports their keys on a system of another type.
func (p *parser) keyPlaces(o *obj, s *System) {
	for _, k := range x509Keys {
		if o.vals[k] != nil && s.Type != TypeX509 && s.Type != "" {
			p.errorf(o.keys[k], "%s: %s applies to type %s only", o.where(), k, TypeX509)
		}
	}
	for _, k := range sshKeys {
		if o.vals[k] != nil && s.Type != TypeSSH && s.Type != "" {
			p.errorf(o.keys[k], "%s: %s applies to type %s only", o.where(), k, TypeSSH)
		}
	}
	if o.vals["admin"] != nil && isKeySystem(s.Type) {
		p.errorf(o.keys["admin"], "%s: a system of type %s has no admin: it lists where keys are carried or trusted", o.where(), s.Type)
	}
	switch s.Type {
	case TypeX509:
		x := &X509Places{Dir: p.dir}
		x.Certs = p.globs(o, "certs")
		x.KubernetesTLSSecrets = p.globs(o, "kubernetes_tls_secrets")
		for i, n := range o.list("keystores") {
			if ks, ok := p.keystore(n, o.prefix("keystores"), i); ok {
				x.Keystores = append(x.Keystores, ks)
			}
		}
		x.Endpoints = p.endpoints(o)
		if v := o.vals["ca"]; v != nil && !isNull(v) {
			x.CA = p.caIndex(v, o.prefix("ca"))
		}
		if len(x.Certs)+len(x.KubernetesTLSSecrets)+len(x.Keystores)+len(x.Endpoints) == 0 && x.CA == nil && o.vals["ca"] == nil {
			p.errorf(o.node, "%s: type x509 lists where certificates are: at least one of %s", o.where(), strings.Join(x509Keys, ", "))
		}
		s.X509 = x
	case TypeSSH:
		h := &SSHPlaces{Dir: p.dir}
		h.AuthorizedKeys = p.globs(o, "authorized_keys")
		h.AuthorizedPrincipals = p.globs(o, "authorized_principals")
		h.TrustedUserCAKeys = p.globs(o, "trusted_user_ca_keys")
		if len(h.AuthorizedKeys)+len(h.AuthorizedPrincipals)+len(h.TrustedUserCAKeys) == 0 {
			p.errorf(o.node, "%s: type ssh lists sshd's trust files: at least one of %s", o.where(), strings.Join(sshKeys, ", "))
		}
		s.SSH = h
	}
}

// globs reads a list of file globs.
func (p *parser) globs(o *obj, key string) []string {
	list, nodes := o.strings(key)
	var out []string
	for i, g := range list {
		if !doublestar.ValidatePattern(filepath.ToSlash(g)) {
			p.errorf(nodes[i], "%s: %s is not a valid glob", o.prefix(key), quote(g))
			continue
		}
		out = append(out, g)
	}
	return out
}

// endpoints reads host:port addresses.
func (p *parser) endpoints(o *obj) []string {
	list, nodes := o.strings("endpoints")
	var out []string
	for i, e := range list {
		host, port, err := net.SplitHostPort(e)
		n, perr := strconv.Atoi(port)
		if err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			p.errorf(nodes[i], "%s: %s: want host:port, like shop.example.org:443", o.prefix("endpoints"), quote(e))
			continue
		}
		out = append(out, e)
	}
	return out
}

func (p *parser) keystore(n *yaml.Node, list string, i int) (Keystore, bool) {
	o := p.object(n, list, list)
	if o == nil {
		return Keystore{}, false
	}
	o.ctx = list + "[" + strconv.Itoa(i) + "]"
	o.only(keystoreKeys...)
	ks := Keystore{Path: o.str("path", true), Pos: p.pos(o.node)}
	if ks.Type = o.str("type", true); ks.Type != "" {
		p.enum(o.at("type"), o.prefix("type"), ks.Type, keystoreTypes)
	}
	ks.Password = p.secretRef(o, "password")
	return ks, true
}

// secretRef reads o's key as a reference to a secret (env:VAR or
// file:PATH). An inline value is an error that never quotes it: it is the
// secret itself.
func (p *parser) secretRef(o *obj, key string) Ref {
	v := o.vals[key]
	if v == nil || isNull(v) {
		return Ref{}
	}
	s, ok := p.scalar(v, o.prefix(key))
	if !ok {
		return Ref{}
	}
	ref, err := ParseRef(s)
	switch {
	case err == errNotRef:
		p.errorf(v, "%s: %s must be a reference (env:VAR or file:PATH), not an inline value: the inventory lives in git", o.where(), key)
	case err != nil:
		p.errorf(v, "%s: %s: %v", o.where(), key, err)
	default:
		ref.Dir, ref.Pos = p.dir, p.pos(v)
		return ref
	}
	return Ref{}
}

func (p *parser) caIndex(v *yaml.Node, what string) *CAIndex {
	o := p.object(v, what, what)
	if o == nil {
		return nil
	}
	o.only(caKeys...)
	ca := &CAIndex{Index: o.str("index", true), CertsDir: o.str("certs_dir", false), Cert: o.str("cert", false),
		Config: o.str("config", false), CRL: o.str("crl", false), OCSP: o.str("ocsp", false), OCSPReload: o.str("ocsp_reload", false), Pos: p.pos(o.node)}
	if ca.Cert == "" && o.vals["cert"] == nil {
		// Required: the index names no issuer key, so without the CA's own
		// certificate a leaked CA key matches nothing at all.
		p.errorf(o.node, "%s: missing cert: the CA's own certificate (certificate = in its openssl config), by which a leaked CA key is recognised", what)
	}
	ca.Key = p.secretRef(o, "key")
	if !ca.Key.IsZero() && ca.Key.Scheme != RefFile {
		p.errorf(o.vals["key"], "%s: key must be a file: reference to the CA's private key (openssl ca -keyfile reads a file)", what)
		ca.Key = Ref{}
	}
	ca.KeyPassphrase = p.secretRef(o, "key_passphrase")
	for _, k := range []string{"key", "key_passphrase"} {
		if o.vals[k] != nil && ca.Config == "" {
			p.errorf(o.keys[k], "%s: %s needs config, the CA's openssl.cnf: openssl ca signs and revokes with both", what, k)
		}
	}
	if ca.OCSPReload != "" && o.vals["ocsp"] == nil {
		p.errorf(o.keys["ocsp_reload"], "%s: ocsp_reload needs ocsp, the responder it reloads", what)
	}
	if ca.OCSP != "" {
		u, err := url.Parse(ca.OCSP)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.errorf(o.vals["ocsp"], "%s: ocsp %s: want the responder's http:// or https:// URL", what, quote(ca.OCSP))
			ca.OCSP = ""
		}
	}
	return ca
}

// localKeyPlaces warns about places of x509 and ssh systems that this
// machine cannot confirm: globs matching nothing, a missing CA index, a
// keystore password reference that does not resolve here.
func (p *parser) localKeyPlaces(inv *Inventory, getenv func(string) string) {
	for _, s := range inv.Systems {
		var globs []string
		if x := s.X509; x != nil {
			globs = append(append(globs, x.Certs...), x.KubernetesTLSSecrets...)
			for _, ks := range x.Keystores {
				if ks.Path != "" && !globMatches(inv.Abs(ks.Path)) {
					p.warnf(ks.Pos, "system %s: keystore %s does not exist here", quote(s.Name), quote(ks.Path))
				}
				if !ks.Password.IsZero() {
					if err := ks.Password.Check(getenv); err != nil {
						p.warnf(ks.Password.Pos, "system %s: keystore password %v", quote(s.Name), err)
					}
				}
			}
			if x.CA != nil {
				for _, f := range []struct{ what, path string }{{"index", x.CA.Index}, {"cert", x.CA.Cert}, {"config", x.CA.Config}} {
					if f.path != "" && !globMatches(inv.Abs(f.path)) {
						p.warnf(x.CA.Pos, "system %s: ca %s %s does not exist here", quote(s.Name), f.what, quote(f.path))
					}
				}
				for _, r := range []struct {
					what string
					ref  Ref
				}{{"key", x.CA.Key}, {"key_passphrase", x.CA.KeyPassphrase}} {
					if !r.ref.IsZero() {
						if err := r.ref.Check(getenv); err != nil {
							p.warnf(r.ref.Pos, "system %s: ca %s %v", quote(s.Name), r.what, err)
						}
					}
				}
			}
		}
		if h := s.SSH; h != nil {
			globs = append(append(append(globs, h.AuthorizedKeys...), h.AuthorizedPrincipals...), h.TrustedUserCAKeys...)
		}
		for _, g := range globs {
			if !globMatches(inv.Abs(g)) {
				p.warnf(s.Pos, "system %s: %s matches no file here", quote(s.Name), quote(g))
			}
		}
	}
}
