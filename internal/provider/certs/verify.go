package certs

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"

	"github.com/rekeyhq/rekey/internal/errs"
)

// VerifyRequest asks whether a TLS endpoint has taken the new key.
type VerifyRequest struct {
	// Endpoint is host:port.
	Endpoint string
	// Key is the new key's "sha256:<hex>" SPKI digest: the leaf presented
	// must carry it.
	Key string
	// Roots, when set, must verify the presented chain (for the
	// endpoint's name), as a client trusting the CA would.
	Roots *x509.CertPool
	// ServerName is the name the chain must be valid for; "" is the
	// endpoint's host.
	ServerName string
}

// VerifyEndpoint connects to req.Endpoint and checks that the leaf it
// presents carries req.Key (and, with Roots, that its chain verifies for
// the endpoint's host). It changes nothing. The error names the endpoint
// and the keys by their SPKI digest, never more.
func (c *Certs) VerifyEndpoint(ctx context.Context, req VerifyRequest) error {
	chain, err := c.handshake(ctx, req.Endpoint)
	if err != nil {
		return errs.New(c.op, errs.Unreachable, req.Endpoint, err.Error())
	}
	if len(chain) == 0 {
		return errs.New(c.op, errs.Other, req.Endpoint, "presents no certificate")
	}
	leaf := chain[0]
	if got := spkiOf(leaf); got != req.Key {
		return errs.New(c.op, errs.Other, req.Endpoint, fmt.Sprintf("presents serial %s with key %s, not the new key %s (not reloaded?)", serialHex(leaf), got, req.Key))
	}
	if req.Roots != nil {
		inter := x509.NewCertPool()
		for _, ch := range chain[1:] {
			inter.AddCert(ch)
		}
		host := req.ServerName
		if h, _, err := net.SplitHostPort(req.Endpoint); err == nil && host == "" {
			host = h
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: req.Roots, Intermediates: inter, DNSName: host}); err != nil {
			return errs.New(c.op, errs.Other, req.Endpoint, "presents the new key but its chain does not verify: "+err.Error())
		}
	}
	return nil
}
