package certs

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"go.yaml.in/yaml/v3"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/keys"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/places"
	"github.com/rekeyhq/rekey/internal/secret"
)

// collection gathers certificates once each, with every place each was
// found.
type collection struct {
	places.Reader
	c     *Certs
	byRaw map[string]*Certificate
	order []*Certificate
}

func (col *collection) problem(where, format string, a ...any) { col.Problem(where, format, a...) }

func (col *collection) add(cert *x509.Certificate, loc Location) *Certificate {
	if f := col.byRaw[string(cert.Raw)]; f != nil {
		f.Locations = append(f.Locations, loc)
		return f
	}
	f := describe(cert, col.c.now())
	f.Locations = []Location{loc}
	col.byRaw[string(cert.Raw)] = f
	col.order = append(col.order, f)
	return f
}

// collect reads every place of the system.
func (c *Certs) collect(ctx context.Context) ([]*Certificate, *caIndex, []Problem) {
	col := &collection{c: c, byRaw: map[string]*Certificate{}}
	pl := c.places
	for _, g := range pl.Certs {
		for _, path := range col.Glob(pl.Abs(g), g) {
			col.certFile(path)
		}
	}
	for _, g := range pl.KubernetesTLSSecrets {
		for _, path := range col.Glob(pl.Abs(g), g) {
			col.manifest(path)
		}
	}
	for _, ks := range pl.Keystores {
		col.keystore(pl.Abs(ks.Path), ks)
	}
	for _, ep := range pl.Endpoints {
		if ctx.Err() != nil {
			break
		}
		col.endpoint(ctx, ep)
	}
	var idx *caIndex
	if pl.CA != nil {
		idx = col.caIndex(pl)
	}
	for _, f := range col.order {
		f.setStatus(idx)
	}
	return col.order, idx, col.Problems
}

// certFile reads the PEM or DER certificates of one file.
func (col *collection) certFile(path string) {
	data, ok := col.Read(path)
	if !ok {
		return
	}
	certs, msg := parseCerts(data)
	if msg != "" {
		col.problem(path, "%s", msg)
	}
	for i, crt := range certs {
		where := path
		if len(certs) > 1 {
			where = fmt.Sprintf("%s [%d]", path, i)
		}
		col.add(crt, Location{Kind: "file", Where: where})
	}
}

// parseCerts reads PEM CERTIFICATE blocks, or DER when there is no PEM.
// msg says what was wrong, without quoting the data: a block that does
// not parse, or no certificate at all. A file holding only private keys
// (tls.key beside tls.crt) is skipped quietly: not a certificate file.
func parseCerts(data []byte) (certs []*x509.Certificate, msg string) {
	rest, blocks, keysOnly := data, 0, true
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		blocks++
		if b.Type != "CERTIFICATE" && b.Type != "TRUSTED CERTIFICATE" {
			if !strings.HasSuffix(b.Type, "PRIVATE KEY") {
				keysOnly = false
			}
			continue
		}
		keysOnly = false
		crt, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			msg = fmt.Sprintf("PEM block %d (CERTIFICATE) does not parse as X.509", blocks)
			continue
		}
		certs = append(certs, crt)
	}
	if blocks > 0 {
		if len(certs) == 0 && msg == "" && !keysOnly {
			msg = "holds no CERTIFICATE PEM block"
		}
		return certs, msg
	}
	if bytes.Contains(data, []byte("-----BEGIN")) {
		return nil, "a PEM block that does not decode (cut short or garbled base64)"
	}
	certs, err := x509.ParseCertificates(data)
	if err != nil || len(certs) == 0 {
		if len(data) > 1 && data[0] == 0x30 {
			return nil, "DER data that does not parse as a certificate (truncated or another structure)"
		}
		return nil, "holds no certificate (PEM CERTIFICATE blocks or DER)"
	}
	return certs, ""
}

// manifest reads the TLS Secrets of a Kubernetes manifest file: several
// documents, a List, data (base64) or stringData.
func (col *collection) manifest(path string) {
	data, ok := col.Read(path)
	if !ok {
		return
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	found := 0
	for doc := 1; ; doc++ {
		var obj map[string]any
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			col.problem(path, "document %d is not a YAML or JSON object", doc)
			return
		}
		found += col.secrets(path, obj)
	}
	if found == 0 {
		col.problem(path, "holds no Secret with a tls.crt or ca.crt")
	}
}

func (col *collection) secrets(path string, obj map[string]any) int {
	if items, ok := obj["items"].([]any); ok {
		n := 0
		for _, it := range items {
			if m, ok := it.(map[string]any); ok {
				n += col.secrets(path, m)
			}
		}
		return n
	}
	if obj["kind"] != "Secret" {
		return 0
	}
	meta, _ := obj["metadata"].(map[string]any)
	name := fmt.Sprintf("%v/%v", orDefault(meta["namespace"], "default"), meta["name"])
	// The Secret's tls.key, when it is the key of its tls.crt, is a copy
	// of the leaked key: the place where a new one will be delivered.
	keyRef := ""
	if b := secretField(obj, "tls.key"); b != nil {
		if k, err := keys.Parse(secret.New(b)); err == nil && k.Fingerprints != nil {
			keyRef = k.Fingerprints.SPKIRef()
		}
		clear(b)
	}
	n := 0
	for _, field := range []string{"tls.crt", "ca.crt"} {
		pemData := secretField(obj, field)
		if pemData == nil {
			if d, ok := obj["data"].(map[string]any); ok && d[field] != nil {
				col.problem(path, "Secret %s: data.%s is not base64", name, field)
			}
			continue
		}
		certs, msg := parseCerts(pemData)
		if msg != "" {
			col.problem(path, "Secret %s %s: %s", name, field, msg)
		}
		for i, crt := range certs {
			where := fmt.Sprintf("%s: %s %s[%d]", path, name, field, i)
			if field == "tls.crt" && keyRef != "" && spkiOf(crt) == keyRef {
				where += " (with its private key in tls.key)"
			}
			col.add(crt, Location{Kind: "kubernetes-secret", Where: where})
			n++
		}
	}
	return n
}

// secretField returns a Secret's field from data (base64) or stringData,
// or nil when it is absent or not base64.
func secretField(obj map[string]any, field string) []byte {
	if d, ok := obj["data"].(map[string]any); ok {
		if s, ok := d[field].(string); ok {
			b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
			if err != nil {
				return nil
			}
			return b
		}
	}
	if d, ok := obj["stringData"].(map[string]any); ok {
		if s, ok := d[field].(string); ok {
			return []byte(s)
		}
	}
	return nil
}

func orDefault(v any, def string) any {
	if v == nil || v == "" {
		return def
	}
	return v
}

// keystore reads a PKCS#12 or JKS file with its password.
func (col *collection) keystore(path string, ks inventory.Keystore) {
	data, ok := col.Read(path)
	if !ok {
		return
	}
	var password []byte
	if !ks.Password.IsZero() {
		pw, err := ks.Password.Resolve(col.c.getenv)
		if err != nil {
			col.problem(path, "password %s: %v", ks.Password, errors.Unwrap(err))
			return
		}
		password = append([]byte(nil), pw.Reveal()...)
		defer clear(password)
	}
	switch ks.Type {
	case "pkcs12":
		col.pkcs12(path, data, string(password))
	case "jks":
		col.jks(path, data, password)
	}
}

func (col *collection) pkcs12(path string, data []byte, password string) {
	priv, leaf, chain, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		certs, terr := pkcs12.DecodeTrustStore(data, password)
		if terr != nil {
			col.problem(path, "%s", p12Reason(err))
			return
		}
		for i, crt := range certs {
			col.add(crt, Location{Kind: "keystore", Where: fmt.Sprintf("%s [%d]", path, i)})
		}
		return
	}
	where := path
	if priv != nil {
		// The keystore holds the private key itself: a copy of the secret.
		if signer, ok := priv.(crypto.Signer); ok {
			if fp, err := keys.SPKIFingerprint(signer.Public()); err == nil && fp == spkiOf(leaf) {
				where += " (with its private key)"
			}
		}
	}
	col.add(leaf, Location{Kind: "keystore", Where: where})
	for i, crt := range chain {
		col.add(crt, Location{Kind: "keystore", Where: fmt.Sprintf("%s chain[%d]", path, i+1)})
	}
}

func p12Reason(err error) string {
	if errors.Is(err, pkcs12.ErrIncorrectPassword) {
		return "the PKCS#12 password is wrong"
	}
	return "not a PKCS#12 keystore rekey reads"
}

func (col *collection) jks(path string, data []byte, password []byte) {
	ks := keystore.New()
	if err := ks.Load(bytes.NewReader(data), password); err != nil {
		// keystore-go has no sentinel: a wrong password fails its keyed
		// digest with this text.
		if err.Error() == "got invalid digest" {
			col.problem(path, "the JKS password is wrong")
		} else {
			col.problem(path, "not a JKS keystore rekey reads")
		}
		return
	}
	for _, alias := range ks.Aliases() {
		var ders [][]byte
		switch {
		case ks.IsPrivateKeyEntry(alias):
			chain, err := ks.GetPrivateKeyEntryCertificateChain(alias)
			if err != nil {
				col.problem(path, "alias %s: its certificate chain does not read", alias)
				continue
			}
			for _, c := range chain {
				ders = append(ders, c.Content)
			}
		case ks.IsTrustedCertificateEntry(alias):
			e, err := ks.GetTrustedCertificateEntry(alias)
			if err != nil {
				continue
			}
			ders = append(ders, e.Certificate.Content)
		}
		for i, der := range ders {
			crt, err := x509.ParseCertificate(der)
			if err != nil {
				col.problem(path, "alias %s: certificate %d does not parse", alias, i)
				continue
			}
			col.add(crt, Location{Kind: "keystore", Where: fmt.Sprintf("%s alias %s[%d]", path, alias, i)})
		}
	}
}

// endpoint reads the chain a TLS server presents. The handshake does not
// verify it (a chain is read, not trusted) and sends no client
// certificate.
func (col *collection) endpoint(ctx context.Context, addr string) {
	chain, err := col.c.handshake(ctx, addr)
	if err != nil {
		col.problem(addr, "cannot reach: %s", err)
		return
	}
	for i, crt := range chain {
		col.add(crt, Location{Kind: "endpoint", Where: fmt.Sprintf("%s chain[%d]", addr, i)})
	}
}

// handshake reads the chain the TLS server at addr presents. It
// verifies nothing (a chain is read, not trusted) and sends no client
// certificate. Its error says why in a few words.
func (c *Certs) handshake(ctx context.Context, addr string) ([]*x509.Certificate, error) {
	host, _, _ := net.SplitHostPort(addr)
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: c.dialTimeout}, Config: &tls.Config{
		InsecureSkipVerify: true, // reading what is presented, never trusting it
		ServerName:         host,
	}}
	ctx, cancel := context.WithTimeout(ctx, c.dialTimeout)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		why, ok := provider.NetCause(err)
		if !ok {
			why = "TLS handshake failed: " + err.Error()
		}
		return nil, errors.New(why)
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates, nil
}
