package engine

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/rekeyhq/rekey/internal/deliver"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/keys"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/provider/certs"
	"github.com/rekeyhq/rekey/internal/provider/sshtrust"
	"github.com/rekeyhq/rekey/internal/secret"
)

// The steps of a leaked private key (see plan/keys.go). The new private
// key is sealed in the step's login slot before any system sees it, as a
// password is: a resumed issue finds it there and asks the CA again for
// the same key, which answers with the certificate it already signed
// (certs.Authority.Issue is idempotent per key), and the trust files
// already hold the new key's lines (sshtrust edits are idempotent). The
// certificates are public: the issue step's result carries them to the
// deliveries.

// keySystem is the type of st's system when it holds private keys (x509,
// ssh), else "".
func (e *Engine) keySystem(st *plan.Step) string {
	if e.d.Inventory == nil {
		return ""
	}
	sys := e.d.Inventory.SystemByName(st.System)
	if sys == nil || !plan.IsKeySystem(sys.Type) {
		return ""
	}
	return sys.Type
}

// doKey is do for a step on an x509 or ssh system.
func (e *Engine) doKey(ctx context.Context, st *plan.Step, typ string) (map[string]any, error) {
	if st.Approval == plan.ApprovalManual {
		// A person did it; the approval is their word.
		return map[string]any{"detail": "done by a person: " + st.Summary + " (confirmed by the approver)"}, nil
	}
	switch st.Kind {
	case plan.Issue:
		if typ == inventory.TypeX509 {
			return e.issueCerts(ctx, st)
		}
		return e.issueSSHKey(ctx, st)
	case plan.Deliver:
		return e.deliverKey(ctx, st, typ)
	case plan.Verify:
		return e.verifyKey(ctx, st, typ)
	case plan.Revoke:
		if typ == inventory.TypeX509 {
			return e.revokeCerts(ctx, st)
		}
		return e.removeTrust(ctx, st)
	case plan.Notify:
		msg := fmt.Sprintf("tell %s's owner to install the new private key: it is sealed in the store until %s is verified (rekey incident credential %s %s/%s)",
			st.Consumer, st.Consumer, e.inc.ID, st.System, st.Login)
		if typ == inventory.TypeX509 {
			msg += "; its certificate and chain are in the issue step's result (its step.done entry in the audit log)"
		}
		e.say("%s", msg)
		return map[string]any{"detail": msg}, nil
	}
	return nil, errs.New("run", errs.Unsupported, st.ID, "this rekey cannot execute steps of kind "+string(st.Kind)+" on a "+typ+" system")
}

func (e *Engine) certsOf(ctx context.Context, st *plan.Step) (*certs.Certs, error) {
	p, err := e.provider(ctx, st.System)
	if err != nil {
		return nil, err
	}
	c, ok := p.(*certs.Certs)
	if !ok {
		return nil, errs.New("run", errs.Unsupported, st.ID, "system "+st.System+" is not an x509 system this rekey can act on")
	}
	return c, nil
}

func (e *Engine) sshOf(ctx context.Context, st *plan.Step) (*sshtrust.SSH, error) {
	p, err := e.provider(ctx, st.System)
	if err != nil {
		return nil, err
	}
	s, ok := p.(*sshtrust.SSH)
	if !ok {
		return nil, errs.New("run", errs.Unsupported, st.ID, "system "+st.System+" is not an ssh system this rekey can act on")
	}
	return s, nil
}

// sealedKey returns the new private key sealed in st's login slot, making
// and sealing one first when there is none (the first sealed wins).
func (e *Engine) sealedKey(ctx context.Context, st *plan.Step, make func() (secret.Secret, error)) (secret.Secret, error) {
	return e.sealOnce(ctx, loginSlot(st.System, st.Login), func() (secret.Secret, error) {
		k, err := make()
		if err != nil {
			return secret.Secret{}, errs.E("run", errs.Unsupported, st.ID, fmt.Errorf("new key: %w", err))
		}
		return k, nil
	})
}

// newCert is a replacement certificate, as the issue step's result
// carries it to the deliveries.
type newCert struct {
	Serial  string `json:"serial"`
	Subject string `json:"subject"`
	PEM     string `json:"pem"`
}

// issued is an x509 issue step's result.
type issued struct {
	// Certificates maps each replaced certificate's serial to its
	// replacement.
	Certificates map[string]newCert `json:"certificates"`
	Chain        string             `json:"chain"`
	Key          string             `json:"key"` // the new key's sha256:<hex>
	Skipped      []string           `json:"skipped,omitempty"`
	Detail       string             `json:"detail"`
}

// replaceable lists the certificates carrying the leaked key that the
// system's CA can replace (it signed them; not a CA's; not expired, but
// revoked ones too: an emergency revokes before it issues), and says why
// each other one is left.
func replaceable(rep *certs.Report, ca *x509.Certificate) (olds []*x509.Certificate, skipped []string) {
	seen := map[string]bool{}
	for _, crt := range rep.Certificates {
		x := crt.X509()
		switch {
		case x == nil || seen[crt.Serial]:
			continue
		case x.IsCA:
			skipped = append(skipped, "serial "+crt.Serial+" is a CA certificate: replacing a CA is a person's work")
		case x.CheckSignatureFrom(ca) != nil:
			skipped = append(skipped, fmt.Sprintf("serial %s (%s) was signed by %s, not the system's CA: have that CA revoke and replace it", crt.Serial, crt.Subject, crt.Issuer))
		case crt.Status == certs.StatusExpired || crt.Status == certs.StatusNotYetValid:
			skipped = append(skipped, "serial "+crt.Serial+" is "+crt.Status)
		default:
			seen[crt.Serial] = true
			olds = append(olds, x)
		}
	}
	return olds, skipped
}

// authority opens st's system's CA and lists the certificates of the
// leaked key it can act on (replaceable).
func (e *Engine) authority(ctx context.Context, st *plan.Step) (auth *certs.Authority, olds []*x509.Certificate, skipped []string, presented []string, err error) {
	c, err := e.certsOf(ctx, st)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if auth, err = c.Authority(); err != nil {
		return nil, nil, nil, nil, err
	}
	rep, err := c.Examine(ctx, st.Identity)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	olds, skipped = replaceable(rep, auth.Cert())
	for _, crt := range rep.Certificates {
		for _, l := range crt.Locations {
			if l.Kind == "endpoint" {
				presented = append(presented, l.Where+" (serial "+crt.Serial+")")
			}
		}
	}
	return auth, olds, skipped, presented, nil
}

func (e *Engine) issueCerts(ctx context.Context, st *plan.Step) (map[string]any, error) {
	auth, olds, skipped, _, err := e.authority(ctx, st)
	if err != nil {
		return nil, err
	}
	if len(olds) == 0 {
		return nil, errs.New("run", errs.NotFound, st.ID, "no certificate carrying the leaked key that the system's CA signed is left to replace: "+strings.Join(skipped, "; "))
	}
	key, err := e.sealedKey(ctx, st, func() (secret.Secret, error) {
		k, _, err := keys.NewLike(olds[0].PublicKey, keys.FormatPKCS8)
		return k, err
	})
	if err != nil {
		return nil, err
	}
	res := issued{Certificates: map[string]newCert{}, Skipped: skipped,
		Chain: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: auth.Cert().Raw}))}
	var made []string
	for _, old := range olds {
		r, err := auth.Issue(ctx, certs.IssueRequest{Like: old, Key: key})
		if err != nil {
			return nil, err
		}
		res.Key = r.SPKI
		res.Certificates[certs.SerialOf(old)] = newCert{Serial: r.Serial, Subject: old.Subject.String(), PEM: string(r.CertPEM())}
		made = append(made, fmt.Sprintf("serial %s for %s (replacing %s)", r.Serial, old.Subject, certs.SerialOf(old)))
	}
	res.Detail = "new key " + res.Key + " sealed; the CA signed " + strings.Join(made, ", ")
	if len(skipped) > 0 {
		res.Detail += "; not replaced: " + strings.Join(skipped, "; ")
	}
	return toMap(res)
}

func toMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

func (e *Engine) issueSSHKey(ctx context.Context, st *plan.Step) (map[string]any, error) {
	s, err := e.sshOf(ctx, st)
	if err != nil {
		return nil, err
	}
	key, err := e.sealedKey(ctx, st, func() (secret.Secret, error) {
		old, err := s.Public(ctx, st.Identity)
		if err != nil {
			return secret.Secret{}, err
		}
		cp, ok := old.(ssh.CryptoPublicKey)
		if !ok {
			return secret.Secret{}, fmt.Errorf("a %s key has no public key rekey can make a new one like", old.Type())
		}
		k, _, err := keys.NewLike(cp.CryptoPublicKey(), keys.FormatOpenSSH)
		return k, err
	})
	if err != nil {
		return nil, err
	}
	pub, err := sshPublicOf(key)
	if err != nil {
		return nil, errs.E("run", errs.Invalid, st.ID, err)
	}
	req := sshtrust.AddRequest{Like: st.Identity, New: pub}
	var ch *sshtrust.TrustChange
	what := "trusted beside the leaked key"
	if st.Login == st.Identity {
		ch, err = s.ReplaceKey(ctx, req)
		what = "in place of the leaked key"
	} else {
		ch, err = s.AddKey(ctx, req)
	}
	if err != nil {
		return nil, err
	}
	fp := ssh.FingerprintSHA256(pub)
	return map[string]any{"key": fp, "edits": ch.Edits,
		"detail": fmt.Sprintf("new key %s sealed, %s in %s", fp, what, editList(ch))}, nil
}

func sshPublicOf(key secret.Secret) (ssh.PublicKey, error) {
	signer, err := ssh.ParsePrivateKey(key.Reveal())
	if err != nil {
		return nil, fmt.Errorf("the sealed key does not parse as an SSH private key")
	}
	return signer.PublicKey(), nil
}

func editList(ch *sshtrust.TrustChange) string {
	if len(ch.Edits) == 0 {
		return "no line (already done)"
	}
	var out []string
	for _, e := range ch.Edits {
		out = append(out, fmt.Sprintf("%s:%d", e.File, e.Line))
	}
	return strings.Join(out, ", ")
}

// issuedResult is the result of the step that issued st's login.
func (e *Engine) issuedResult(ctx context.Context, st *plan.Step) (issued, error) {
	var res issued
	is := e.issueOf(st)
	if is == nil {
		return res, errs.New("run", errs.NotFound, st.ID, "the plan issues no "+st.Login+" on "+st.System)
	}
	states, err := e.states(ctx)
	if err != nil {
		return res, err
	}
	if err := json.Unmarshal(states[is.ID].Result, &res); err != nil || len(res.Certificates) == 0 {
		return res, errs.New("run", errs.NotFound, st.ID, "step "+is.ID+" recorded no new certificate")
	}
	return res, nil
}

// bundleFor picks the replacement of the certificate a consumer's files
// hold: the one replacing its serial, or the one it already holds (a
// resumed delivery), or the only one.
func bundleFor(res issued, current string) (newCert, error) {
	if b, _ := pem.Decode([]byte(current)); b != nil {
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			serial := certs.SerialOf(c)
			if nc, ok := res.Certificates[serial]; ok {
				return nc, nil
			}
			for _, nc := range res.Certificates {
				if nc.Serial == serial {
					return nc, nil
				}
			}
			// Another certificate (another CA's, one the CA did not
			// replace): giving it one of the replacements would change
			// its names.
			return newCert{}, fmt.Errorf("its certificate file holds serial %s (%s), which the issue step did not replace", serial, c.Subject)
		}
	}
	// No certificate to go by (a file not there yet): the only
	// replacement, when there is one.
	if len(res.Certificates) == 1 {
		for _, nc := range res.Certificates {
			return nc, nil
		}
	}
	return newCert{}, fmt.Errorf("its certificate file holds none of the %d certificates replaced, so which one it takes is not known", len(res.Certificates))
}

func (e *Engine) deliverKey(ctx context.Context, st *plan.Step, typ string) (map[string]any, error) {
	c, t, key, err := e.delivery(ctx, st)
	if err != nil {
		return nil, err
	}
	v := deliver.Value{Secret: key.Secret}
	detail := "delivered the new key to " + t.Describe()
	if typ == inventory.TypeX509 {
		res, err := e.issuedResult(ctx, st)
		if err != nil {
			return nil, err
		}
		cur, err := t.Current(ctx)
		if err != nil {
			return nil, err
		}
		nc, err := bundleFor(res, cur.User)
		if err != nil {
			return nil, fmt.Errorf("consumer %s: %w", c.Name, err)
		}
		v.User = nc.PEM + res.Chain
		detail = fmt.Sprintf("delivered the new key and certificate serial %s to %s", nc.Serial, t.Describe())
	}
	if err := t.Write(ctx, v); err != nil {
		return nil, err
	}
	if err := deliver.Reload(ctx, e.command(c, c.Reload)); err != nil {
		return nil, err
	}
	return map[string]any{"target": t.Describe(), "detail": detail}, nil
}

func (e *Engine) verifyKey(ctx context.Context, st *plan.Step, typ string) (map[string]any, error) {
	c, err := e.consumer(st)
	if err != nil {
		return nil, err
	}
	t, err := e.d.Target(c)
	if err != nil {
		return nil, err
	}
	key, err := e.unseal(ctx, loginSlot(st.System, st.Login))
	if err != nil {
		return nil, err
	}
	if ok, err := deliver.Delivered(ctx, t, deliver.Value{Secret: key.Secret}); err != nil {
		return nil, err
	} else if !ok {
		return nil, fmt.Errorf("consumer %s: %s does not hold the new key", c.Name, t.Describe())
	}
	var proof string
	if typ == inventory.TypeX509 {
		if proof, err = e.presents(ctx, st, c); err != nil {
			return nil, err
		}
	} else {
		s, err := e.sshOf(ctx, st)
		if err != nil {
			return nil, err
		}
		pub, err := sshPublicOf(key.Secret)
		if err != nil {
			return nil, err
		}
		fp := ssh.FingerprintSHA256(pub)
		rep, err := s.Examine(ctx, fp)
		if err != nil {
			return nil, err
		}
		if len(rep.Grants) == 0 {
			return nil, fmt.Errorf("consumer %s: no trust file of %s holds its new key %s", c.Name, st.System, fp)
		}
		proof = fmt.Sprintf("%d trust file line(s) hold its new key %s", len(rep.Grants), fp)
	}
	attempts, err := deliver.Health(ctx, e.command(c, c.Health), e.d.HealthRetry)
	if err != nil {
		return nil, err
	}
	return map[string]any{"detail": fmt.Sprintf("%s; health check passed (%d attempt(s))", proof, attempts)}, nil
}

// presents checks, when the consumer declares an endpoint, that it
// presents the new certificate with a chain the CA verifies, waiting up
// to SeenTimeout for a reload that takes a moment.
func (e *Engine) presents(ctx context.Context, st *plan.Step, c *inventory.Consumer) (string, error) {
	res, err := e.issuedResult(ctx, st)
	if err != nil {
		return "", err
	}
	if c.Deliver.Endpoint == "" {
		return "its files hold the new key and certificate (it declares no endpoint to connect to)", nil
	}
	cs, err := e.certsOf(ctx, st)
	if err != nil {
		return "", err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(res.Chain)) {
		return "", errs.New("run", errs.Invalid, st.ID, "the recorded chain holds no certificate")
	}
	cur, err := e.d.Target(c)
	if err != nil {
		return "", err
	}
	state, err := cur.Current(ctx)
	if err != nil {
		return "", err
	}
	server := ""
	if b, _ := pem.Decode([]byte(state.User)); b != nil {
		if leaf, err := x509.ParseCertificate(b.Bytes); err == nil && len(leaf.DNSNames) > 0 {
			server = leaf.DNSNames[0]
		}
	}
	req := certs.VerifyRequest{Endpoint: c.Deliver.Endpoint, Key: res.Key, Roots: roots, ServerName: server}
	deadline := e.d.Now().Add(e.d.SeenTimeout)
	for {
		err := cs.VerifyEndpoint(ctx, req)
		if err == nil {
			return fmt.Sprintf("%s presents the new key %s, its chain verified by the CA for %s", c.Deliver.Endpoint, res.Key, orHost(server, c.Deliver.Endpoint)), nil
		}
		if e.d.Now().After(deadline) {
			return "", fmt.Errorf("consumer %s: %w", c.Name, err)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func orHost(name, endpoint string) string {
	if name != "" {
		return name
	}
	return endpoint
}

// revoked is one certificate an x509 revoke acted on.
type revoked struct {
	Serial  string `json:"serial"`
	Subject string `json:"subject"`
	certs.Status
	AlreadyRevoked bool `json:"already_revoked,omitempty"`
}

func (e *Engine) revokeCerts(ctx context.Context, st *plan.Step) (map[string]any, error) {
	auth, olds, skipped, presented, err := e.authority(ctx, st)
	if err != nil {
		return nil, err
	}
	var done []revoked
	var said []string
	for _, old := range olds {
		r, err := auth.Revoke(ctx, certs.RevokeRequest{Serial: certs.SerialOf(old), Cert: old})
		if err != nil {
			return nil, err
		}
		done = append(done, revoked{Serial: r.Serial, Subject: old.Subject.String(), Status: r.Status, AlreadyRevoked: r.AlreadyRevoked})
		s := "serial " + r.Serial + " revoked"
		if r.CRL != "" {
			s += fmt.Sprintf(", in CRL %s (number %s)", r.CRL, r.CRLNumber)
		}
		if r.OCSP != "" {
			s += ", OCSP says " + r.OCSP
		}
		said = append(said, s)
	}
	for _, cn := range e.consumersOf(st) {
		if err := e.d.Store.Wipe(ctx, e.inc.ID, previousSlot(cn.Name)); err != nil {
			return nil, err
		}
	}
	detail := strings.Join(said, "; ")
	if len(said) == 0 {
		detail = "no certificate of the leaked key that the system's CA signed"
	}
	if len(skipped) > 0 {
		detail += "; left: " + strings.Join(skipped, "; ")
	}
	// Servers the inventory lists but no consumer delivers to: their
	// clients that check revocation refuse them from now on.
	var orphans []string
	for _, p := range presented {
		served := false
		for _, cn := range e.consumersOf(st) {
			if cn.Deliver != nil && cn.Deliver.Endpoint != "" && strings.HasPrefix(p, cn.Deliver.Endpoint+" ") {
				served = true
			}
		}
		if !served {
			orphans = append(orphans, p)
		}
	}
	if len(orphans) > 0 {
		detail += "; presented, when this step began, by " + strings.Join(orphans, ", ") + ": no consumer delivers there, replace it by hand"
	}
	return map[string]any{"revoked": done, "skipped": skipped, "unreplaced_endpoints": orphans, "detail": detail}, nil
}

func (e *Engine) removeTrust(ctx context.Context, st *plan.Step) (map[string]any, error) {
	s, err := e.sshOf(ctx, st)
	if err != nil {
		return nil, err
	}
	ch, err := s.RemoveKey(ctx, sshtrust.RemoveRequest{Key: st.Identity})
	if err != nil {
		return nil, err
	}
	for _, cn := range e.consumersOf(st) {
		if err := e.d.Store.Wipe(ctx, e.inc.ID, previousSlot(cn.Name)); err != nil {
			return nil, err
		}
	}
	return map[string]any{"edits": ch.Edits, "detail": "the leaked key " + st.Identity + " is trusted no more: removed from " + editList(ch)}, nil
}

// unissuePrivateKey undoes an issue of a key before anything was revoked:
// sshd stops trusting the new key, the CA revokes the new certificates
// (superseded). A key put in place of the leaked one is not undone: that
// would trust the leaked key again.
func (e *Engine) unissuePrivateKey(ctx context.Context, st *plan.Step, typ string) error {
	if st.Approval == plan.ApprovalManual {
		return nil
	}
	states, err := e.states(ctx)
	if err != nil {
		return err
	}
	if typ == inventory.TypeSSH {
		if st.Login == st.Identity {
			return errs.New("rollback", errs.Invalid, st.ID, "the leaked key was replaced in place: rolling back would trust it again; finish the run instead")
		}
		var res struct {
			Key string `json:"key"`
		}
		_ = json.Unmarshal(states[st.ID].Result, &res)
		if res.Key == "" {
			if c, ok, err := e.sealed(ctx, loginSlot(st.System, st.Login)); err != nil {
				return err
			} else if ok {
				if pub, err := sshPublicOf(c.Secret); err == nil {
					res.Key = ssh.FingerprintSHA256(pub)
				}
			}
		}
		if res.Key == "" {
			return nil // never made: nothing is trusted
		}
		s, err := e.sshOf(ctx, st)
		if err != nil {
			return err
		}
		_, err = s.RemoveKey(ctx, sshtrust.RemoveRequest{Key: res.Key})
		return err
	}
	var res issued
	_ = json.Unmarshal(states[st.ID].Result, &res)
	if len(res.Certificates) == 0 {
		return nil
	}
	c, err := e.certsOf(ctx, st)
	if err != nil {
		return err
	}
	auth, err := c.Authority()
	if err != nil {
		return err
	}
	serials := make([]string, 0, len(res.Certificates))
	for _, nc := range res.Certificates {
		serials = append(serials, nc.Serial)
	}
	slices.Sort(serials)
	for _, s := range serials {
		if _, err := auth.Revoke(ctx, certs.RevokeRequest{Serial: s, Reason: "superseded"}); err != nil {
			return err
		}
	}
	return nil
}
