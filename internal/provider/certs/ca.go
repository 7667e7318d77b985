package certs

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/secret"
)

// Authority is an x509 system's internal CA as `openssl ca` runs it: its
// openssl.cnf, index, issued certificates, key, CRL and OCSP responder.
// It revokes, publishes the CRL, asks the responder and signs
// replacements by running openssl itself, so the CA's own records (index,
// serial, CRL number) stay what the team's tools read.
//
// Errors name the CA's config, index, CRL or responder, never key
// material or the passphrase.
type Authority struct {
	op       string
	index    string
	certsDir string
	config   string
	crl      string
	ocspURL  string
	reload   string
	key      inventory.Ref
	pass     inventory.Ref
	getenv   func(string) string
	ca       *x509.Certificate
	caPEM    []byte
	client   *http.Client
	// ocspWait bounds how long Revoke waits for the responder to say
	// revoked (it reads the index again on its next request).
	ocspWait time.Duration
}

// Authority opens the system's CA for revocation and issuance. A system
// whose ca block has no config is read only: ErrUnsupported-kind error.
func (c *Certs) Authority() (*Authority, error) {
	ca := c.places.CA
	if ca == nil || ca.Config == "" {
		return nil, errs.New(c.op, errs.Unsupported, "", "no CA to act on: the system's ca block needs config (the CA's openssl.cnf) to revoke and issue")
	}
	a := &Authority{
		op: c.op + " ca", index: c.places.Abs(ca.Index), config: c.places.Abs(ca.Config),
		key: ca.Key, pass: ca.KeyPassphrase, getenv: c.getenv, ocspURL: ca.OCSP, reload: ca.OCSPReload,
		client: &http.Client{Timeout: c.dialTimeout}, ocspWait: 30 * time.Second,
	}
	if ca.CertsDir != "" {
		a.certsDir = c.places.Abs(ca.CertsDir)
	}
	if ca.CRL != "" {
		a.crl = c.places.Abs(ca.CRL)
	}
	path := c.places.Abs(ca.Cert)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, errs.FS(a.op, path, err)
	}
	certs, msg := parseCerts(data)
	if msg != "" || len(certs) == 0 {
		return nil, errs.New(a.op, errs.Invalid, path, "the CA's certificate: "+orText(msg, "no certificate"))
	}
	a.ca = certs[0]
	a.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.ca.Raw})
	return a, nil
}

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Cert is the CA's own certificate: the issuer of what it signs and the
// chain a replacement is delivered with.
func (a *Authority) Cert() *x509.Certificate { return a.ca }

// Revocation reasons openssl ca -crl_reason takes.
var crlReasons = []string{"unspecified", "keyCompromise", "CACompromise", "affiliationChanged", "superseded", "cessationOfOperation", "certificateHold", "removeFromCRL"}

// RevokeRequest names a certificate the CA issued.
type RevokeRequest struct {
	// Serial is the certificate's serial in hex, as openssl prints it.
	Serial string
	// Reason is one of openssl's CRL reasons; "" is keyCompromise, the
	// reason for a leaked key.
	Reason string
	// Cert is the certificate, needed only when the CA keeps no copy of it
	// (no certs_dir): openssl ca -revoke reads a certificate file.
	Cert *x509.Certificate
}

// RevokeResult is what the CA says after Revoke.
type RevokeResult struct {
	Serial string `json:"serial"`
	// AlreadyRevoked is set when the index held the certificate revoked
	// before this call: nothing was revoked again.
	AlreadyRevoked bool `json:"already_revoked"`
	Status
}

// Status is how the CA's published answers see a serial.
type Status struct {
	// CRL is the CRL file checked, "" when the CA publishes none; InCRL
	// says whether the serial is listed in it (its signature checked
	// against the CA's certificate).
	CRL       string `json:"crl,omitempty"`
	CRLNumber string `json:"crl_number,omitempty"`
	InCRL     bool   `json:"in_crl"`
	// OCSP is the responder's answer (good, revoked, unknown), "" without
	// a responder. Its signature is checked against the CA's certificate.
	OCSP       string     `json:"ocsp,omitempty"`
	OCSPReason string     `json:"ocsp_reason,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// Revoke revokes the certificate with req.Serial at the CA (openssl ca
// -revoke -crl_reason), writes a new CRL (openssl ca -gencrl, replacing
// the CRL file atomically) and asks the OCSP responder until it says
// revoked. Side effects: the CA's index.txt gets the R row, the CRL file
// and crlnumber change. Idempotent: a serial already revoked is not
// revoked again, and the CRL is written again only if it does not list
// it. A serial the index does not hold is a NotFound error.
func (a *Authority) Revoke(ctx context.Context, req RevokeRequest) (*RevokeResult, error) {
	serial := strings.ToUpper(strings.TrimSpace(req.Serial))
	reason := req.Reason
	if reason == "" {
		reason = "keyCompromise"
	}
	if !containsFold(crlReasons, reason) {
		return nil, errs.New(a.op, errs.Invalid, a.config, fmt.Sprintf("revocation reason %q: want one of %s", reason, strings.Join(crlReasons, ", ")))
	}
	row, err := a.row(serial)
	if err != nil {
		return nil, err
	}
	res := &RevokeResult{Serial: row.serial, AlreadyRevoked: row.status == 'R'}
	if !res.AlreadyRevoked {
		certPath, cleanup, err := a.certFile(row, req.Cert)
		if err != nil {
			return nil, err
		}
		_, err = a.openssl(ctx, "-revoke", certPath, "-crl_reason", reason)
		cleanup()
		if err != nil {
			return nil, errs.E(a.op, errs.KindOf(err), a.config, fmt.Errorf("revoke serial %s: %w", row.serial, errors.Unwrap(err)))
		}
	}
	if err := a.ReloadResponder(ctx); err != nil {
		return nil, err
	}
	n, err := serialInt(row.serial)
	if err != nil {
		return nil, errs.New(a.op, errs.Invalid, a.index, err.Error())
	}
	if a.crl != "" {
		st, err := a.crlStatus(n)
		if err != nil || !st.InCRL {
			if err := a.GenCRL(ctx); err != nil {
				return nil, err
			}
		}
	}
	st, err := a.waitRevoked(ctx, n)
	res.Status = st
	return res, err
}

// waitRevoked checks the CRL and polls the responder until both say
// revoked, or ocspWait passes (an error naming the responder).
func (a *Authority) waitRevoked(ctx context.Context, serial *big.Int) (Status, error) {
	deadline := time.Now().Add(a.ocspWait)
	for {
		st, err := a.status(ctx, serial)
		// A responder being reloaded is away for a moment.
		if err != nil && (errs.KindOf(err) != errs.Unreachable || time.Now().After(deadline)) {
			return st, err
		}
		if a.crl != "" && !st.InCRL {
			return st, errs.New(a.op, errs.Other, a.crl, fmt.Sprintf("the CRL does not list serial %X after -gencrl", serial))
		}
		if a.ocspURL == "" || err == nil && st.OCSP == ocspRevoked {
			return st, nil
		}
		if time.Now().After(deadline) {
			return st, errs.New(a.op, errs.Unreachable, a.ocspURL, fmt.Sprintf("the OCSP responder still says %s for serial %X after %s", st.OCSP, serial, a.ocspWait))
		}
		select {
		case <-ctx.Done():
			return st, errs.E(a.op, errs.Other, a.ocspURL, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// ReloadResponder runs the ca block's ocsp_reload command, which makes
// the OCSP responder read the index again, with only PATH in its
// environment. Without one it does nothing. Safe to repeat.
func (a *Authority) ReloadResponder(ctx context.Context) error {
	if a.reload == "" {
		return nil
	}
	if _, err := a.run(ctx, nil, "sh", "-c", a.reload); err != nil {
		return errs.E(a.op, errs.KindOf(err), a.ocspURL, fmt.Errorf("ocsp_reload %q: %w", a.reload, errors.Unwrap(err)))
	}
	return nil
}

// Status says how the CA's CRL and OCSP responder see the certificate
// with serial (hex). It changes nothing.
func (a *Authority) Status(ctx context.Context, serial string) (Status, error) {
	n, err := serialInt(serial)
	if err != nil {
		return Status{}, errs.New(a.op, errs.Invalid, "", err.Error())
	}
	return a.status(ctx, n)
}

func (a *Authority) status(ctx context.Context, serial *big.Int) (Status, error) {
	var st Status
	if a.crl != "" {
		c, err := a.crlStatus(serial)
		if err != nil {
			return st, err
		}
		st = c
	}
	if a.ocspURL != "" {
		if err := a.ask(ctx, serial, &st); err != nil {
			return st, err
		}
	}
	return st, nil
}

// crlStatus reads the CRL file, checks its signature with the CA's
// certificate and looks for serial in it.
func (a *Authority) crlStatus(serial *big.Int) (Status, error) {
	st := Status{CRL: a.crl}
	data, err := os.ReadFile(a.crl)
	if err != nil {
		return st, errs.FS(a.op, a.crl, err)
	}
	der := data
	if b, _ := pem.Decode(data); b != nil {
		der = b.Bytes
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return st, errs.New(a.op, errs.Invalid, a.crl, "not a CRL (PEM or DER X509 CRL)")
	}
	if err := crl.CheckSignatureFrom(a.ca); err != nil {
		return st, errs.New(a.op, errs.Invalid, a.crl, "the CRL is not signed by the CA's certificate")
	}
	if crl.Number != nil {
		st.CRLNumber = fmt.Sprintf("%X", crl.Number)
	}
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(serial) == 0 {
			st.InCRL = true
			t := e.RevocationTime.UTC()
			st.RevokedAt = &t
		}
	}
	return st, nil
}

// OCSP answers.
const (
	ocspGood    = "good"
	ocspRevoked = "revoked"
	ocspUnknown = "unknown"
)

var ocspReasons = map[int]string{
	ocsp.Unspecified: "unspecified", ocsp.KeyCompromise: "keyCompromise", ocsp.CACompromise: "CACompromise",
	ocsp.AffiliationChanged: "affiliationChanged", ocsp.Superseded: "superseded", ocsp.CessationOfOperation: "cessationOfOperation",
	ocsp.CertificateHold: "certificateHold", ocsp.RemoveFromCRL: "removeFromCRL",
}

// ask posts an OCSP request for serial to the responder and reads its
// answer, whose signature must verify with the CA's certificate (signed
// by the CA or by a responder certificate the CA issued).
func (a *Authority) ask(ctx context.Context, serial *big.Int, st *Status) error {
	reqDER, err := ocsp.CreateRequest(&x509.Certificate{SerialNumber: serial}, a.ca, nil)
	if err != nil {
		return errs.E(a.op, errs.Other, a.ocspURL, fmt.Errorf("build the OCSP request: %w", err))
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, a.ocspURL, bytes.NewReader(reqDER))
	if err != nil {
		return errs.E(a.op, errs.Invalid, a.ocspURL, err)
	}
	hreq.Header.Set("Content-Type", "application/ocsp-request")
	resp, err := a.client.Do(hreq)
	if err != nil {
		return errs.New(a.op, errs.Unreachable, a.ocspURL, "the OCSP responder does not answer: "+netReason(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return errs.New(a.op, errs.Unreachable, a.ocspURL, fmt.Sprintf("the OCSP responder answers HTTP %d", resp.StatusCode))
	}
	r, err := ocsp.ParseResponseForCert(body, &x509.Certificate{SerialNumber: serial}, a.ca)
	if err != nil {
		return errs.New(a.op, errs.Invalid, a.ocspURL, "the OCSP answer does not verify with the CA's certificate or is not for the serial: "+err.Error())
	}
	switch r.Status {
	case ocsp.Good:
		st.OCSP = ocspGood
	case ocsp.Revoked:
		st.OCSP = ocspRevoked
		st.OCSPReason = ocspReasons[r.RevocationReason]
		t := r.RevokedAt.UTC()
		st.RevokedAt = &t
	default:
		st.OCSP = ocspUnknown
	}
	return nil
}

func netReason(err error) string {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && ue.Unwrap() != nil {
		err = ue.Unwrap()
	}
	return err.Error()
}

// GenCRL has the CA write a new CRL (openssl ca -gencrl) to its CRL path,
// through a temporary file renamed over it so a reader never sees half a
// CRL. Side effect: crlnumber goes up by one. Safe to repeat.
func (a *Authority) GenCRL(ctx context.Context) error {
	if a.crl == "" {
		return errs.New(a.op, errs.Unsupported, a.config, "the ca block names no crl to write")
	}
	tmp, err := os.CreateTemp(filepath.Dir(a.crl), "."+filepath.Base(a.crl)+".rekey-*")
	if err != nil {
		return errs.FS(a.op, a.crl, err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	if _, err := a.openssl(ctx, "-gencrl", "-out", tmp.Name()); err != nil {
		return errs.E(a.op, errs.KindOf(err), a.config, fmt.Errorf("gencrl: %w", errors.Unwrap(err)))
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return errs.FS(a.op, a.crl, err)
	}
	if err := os.Rename(tmp.Name(), a.crl); err != nil {
		return errs.FS(a.op, a.crl, err)
	}
	return nil
}

// row finds serial's row in the index.
func (a *Authority) row(serial string) (indexRow, error) {
	data, err := os.ReadFile(a.index)
	if err != nil {
		return indexRow{}, errs.FS(a.op, a.index, err)
	}
	want, err := serialInt(serial)
	if err != nil {
		return indexRow{}, errs.New(a.op, errs.Invalid, a.index, err.Error())
	}
	for n, line := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		r, err := parseIndexRow(line)
		if err != nil {
			return indexRow{}, errs.New(a.op, errs.Invalid, fmt.Sprintf("%s:%d", a.index, n+1), err.Error())
		}
		if got, _ := serialInt(r.serial); got != nil && got.Cmp(want) == 0 {
			r.line = n + 1
			if a.certsDir != "" {
				r.certPath = filepath.Join(a.certsDir, r.serial+".pem")
			}
			return r, nil
		}
	}
	return indexRow{}, errs.New(a.op, errs.NotFound, a.index, fmt.Sprintf("serial %s is not in the CA's index: it did not issue it", serial))
}

// certFile is a file holding the row's certificate for openssl ca
// -revoke: the CA's own copy, else given, written to a private temporary
// file.
func (a *Authority) certFile(r indexRow, given *x509.Certificate) (string, func(), error) {
	if r.certPath != "" {
		if _, err := os.Stat(r.certPath); err == nil {
			return r.certPath, func() {}, nil
		}
	}
	if given == nil {
		return "", nil, errs.New(a.op, errs.NotFound, a.index, fmt.Sprintf("serial %s: the CA keeps no copy of the certificate (certs_dir) and none was given", r.serial))
	}
	if given.CheckSignatureFrom(a.ca) != nil || serialHex(given) != r.serial {
		return "", nil, errs.New(a.op, errs.Invalid, a.index, fmt.Sprintf("serial %s: the certificate given is not the one this CA issued with that serial", r.serial))
	}
	dir, err := os.MkdirTemp("", "rekey-ca-")
	if err != nil {
		return "", nil, errs.E(a.op, errs.Other, "", err)
	}
	p := filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: given.Raw}), 0o600); err != nil {
		os.RemoveAll(dir)
		return "", nil, errs.E(a.op, errs.Other, "", err)
	}
	return p, func() { os.RemoveAll(dir) }, nil
}

// openssl runs `openssl ca -config CONFIG [-keyfile KEY] [-passin stdin]
// ARGS…` with the CA key's passphrase on its standard input, never in its
// arguments or environment. The error is openssl's last line of output.
func (a *Authority) openssl(ctx context.Context, args ...string) ([]byte, error) {
	full := []string{"ca", "-config", a.config}
	if !a.key.IsZero() {
		full = append(full, "-keyfile", a.key.Path())
	}
	var stdin []byte
	var pass secret.Secret
	if !a.pass.IsZero() {
		p, err := a.pass.Resolve(a.getenv)
		if err != nil {
			return nil, errs.E(a.op, errs.KindOf(err), a.config, fmt.Errorf("key_passphrase: %w", errors.Unwrap(err)))
		}
		pass = p
		defer pass.Wipe()
		stdin = append(append([]byte(nil), p.Reveal()...), '\n')
		defer clear(stdin)
		full = append(full, "-passin", "stdin")
	}
	full = append(full, args...)
	out, err := a.run(ctx, stdin, "openssl", full...)
	if err != nil {
		msg := errors.Unwrap(err).Error()
		if !pass.IsZero() {
			msg = strings.ReplaceAll(msg, string(pass.Reveal()), secret.Redacted)
		}
		return nil, errs.New(a.op, errs.KindOf(err), a.config, "openssl ca "+args[0]+": "+msg)
	}
	return out, nil
}

// run runs a command for the CA in the config's directory, with only
// PATH in its environment: openssl and a reload command need nothing of
// rekey's, and a variable holding a secret stays out of them. The error
// is how it ended and its last line of output.
func (a *Authority) run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = filepath.Dir(a.config)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		kind := errs.Other
		if errors.Is(err, exec.ErrNotFound) {
			kind = errs.Unsupported
		}
		return nil, errs.E(a.op, kind, "", fmt.Errorf("%v: %s", err, lastLine(errb.String()+out.String())))
	}
	return out.Bytes(), nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	l := strings.TrimSpace(lines[len(lines)-1])
	if len(l) > 300 {
		l = l[:300] + "…"
	}
	return l
}

func serialInt(s string) (*big.Int, error) {
	n, ok := new(big.Int).SetString(strings.TrimSpace(s), 16)
	if !ok || n.Sign() < 0 {
		return nil, fmt.Errorf("serial %q is not hex", s)
	}
	return n, nil
}

func containsFold(list []string, s string) bool {
	for _, l := range list {
		if strings.EqualFold(l, s) {
			return true
		}
	}
	return false
}
