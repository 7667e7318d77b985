package plan

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/scope"
)

// A leaked private key is not a password: nothing logs in with it that
// rekey could give a new login. Its identity is its public key, in the
// places that carry it (x509: certificates) or trust it (ssh:
// authorized_keys). Replacing it means a new key with what the old one
// had: for x509, certificates with the same names signed by the system's
// CA; for ssh, the same authorized_keys lines with the new key. The steps
// keep the kinds of a credential's plan, so the engine's order, approvals,
// sealing and resume apply unchanged:
//
//	x509 issue    new key, sealed; the CA signs a certificate like each one carrying the old key
//	ssh issue     new key, sealed; trusted beside the old one (graceful) or in its place (emergency, in place)
//	deliver       key (and certificate and chain) into the consumer's files, then its reload
//	verify        the endpoint presents the new certificate (x509) or sshd trusts the new key (ssh); health
//	x509 revoke   revoke every certificate of the old key at the CA (keyCompromise), CRL and OCSP checked
//	ssh revoke    remove every line trusting the old key
//
// A leaked CA key is different: what it signed cannot be trusted whatever
// the CA's own records say, and replacing a CA is the team's work (a new
// key, a new root in every trust store, everything signed again). Its plan
// is a list of manual steps, one per certificate to sign again.

// KeyLogin is the login name of a key's replacement in its steps: the
// engine's sealed slot for the new private key. A key has no login; the
// name only has to be the same in the issue, deliver and verify steps.
const KeyLogin = "replacement"

// IsKeySystem reports whether a system of type typ holds private keys'
// places (x509, ssh) rather than logins.
func IsKeySystem(typ string) bool { return typ == inventory.TypeX509 || typ == inventory.TypeSSH }

var (
	// certPrivilege reads certs' privilege names: "<role> certificate
	// <subject> serial <HEX>[ for <SANs>] (issuer <issuer>, <status> until
	// <date>)". The subject is greedy so that a subject holding the word
	// serial does not move the match.
	certPrivilege = regexp.MustCompile(`^(\S+) certificate (.*) serial ([0-9A-F]+)(?: for .*)? \(issuer .*, (\S+) until \S+\)$`)
	issuedName    = regexp.MustCompile(`^serial ([0-9A-F]+) (.*)$`)
)

// certOf is one certificate of a key, as the scope's privileges name it.
type certOf struct {
	role, subject, serial, status string
}

func certsOf(id scope.Identity) []certOf {
	var out []certOf
	for _, p := range id.Privileges {
		if m := certPrivilege.FindStringSubmatch(p.Name); m != nil {
			out = append(out, certOf{role: m[1], subject: m[2], serial: m[3], status: m[4]})
		}
	}
	return out
}

// keyStrategy adjusts the chosen strategy for a key: split has no meaning
// (one key gets one replacement, wherever it is used), and a leaked CA
// key is an emergency.
func keyStrategy(sysType string, s scope.Scope, strategy Strategy, reason string) (Strategy, string) {
	if !IsKeySystem(sysType) {
		return strategy, reason
	}
	if sysType == inventory.TypeX509 && isCAKey(s.Identity) {
		return Emergency, "the leaked key is a certificate authority's: everything it signs is trusted, so its certificates are distrusted first and everything it signed is issued again"
	}
	if strategy == Split {
		return Graceful, "a private key is replaced like for like (a new key in each certificate and trust line that held it), which needs no split: " +
			"replace first, revoke after every consumer is verified"
	}
	return strategy, reason
}

func isCAKey(id scope.Identity) bool {
	for _, c := range certsOf(id) {
		if c.role == "CA" && c.status == "valid" {
			return true
		}
	}
	return false
}

// keyIdentity adds the steps that replace and revoke a leaked private key
// in one x509 or ssh system.
func (b *builder) keyIdentity(id scope.Identity, key string, sys *inventory.System, consumers []*inventory.Consumer) error {
	if sys.Type == inventory.TypeX509 && isCAKey(id) {
		b.caKey(id, key, sys)
		return nil
	}
	if sys.Type == inventory.TypeX509 && (sys.X509 == nil || sys.X509.CA == nil || sys.X509.CA.Config == "") {
		b.add(Step{ID: "notify:" + key, Kind: Notify, Target: key, System: id.System, Identity: id.Name, Approval: ApprovalManual,
			Summary: "have each certificate carrying the leaked key revoked and issued again by its CA (" + certList(id) + "), and delivered: " +
				"system " + sys.Name + " names no CA rekey can act on (ca: with config:)"})
		b.note("%s: rekey cannot revoke or issue certificates without the system's CA (ca: index, cert and config): a person does it", key)
		return nil
	}
	emergency := b.plan.Strategy == Emergency
	var first []string
	issue := Step{ID: "issue:" + key, Kind: Issue, Target: key, System: id.System, Identity: id.Name, Login: KeyLogin}
	switch sys.Type {
	case inventory.TypeX509:
		issue.Summary = "make a new key like the leaked one (sealed) and have the CA sign, for it, a certificate with the names and uses of each certificate carrying the leaked key (" +
			certList(id) + ")"
		if emergency {
			first = []string{b.add(b.revokeKey(id, key, sys, nil, true))}
		}
	case inventory.TypeSSH:
		if sshCA(id) {
			b.add(b.revokeKey(id, key, sys, nil, true))
			b.add(Step{ID: "notify:" + key, Kind: Notify, Target: key, System: id.System, Identity: id.Name, Approval: ApprovalManual,
				Needs:   []string{"revoke:" + key},
				Summary: "sshd trusts the leaked key as a user CA: make a new CA key, trust it instead and sign the users' certificates again with it (rekey removed the old key's lines)"})
			b.note("%s is an SSH user CA key: rekey removes its trust lines; signing user certificates with a new CA key is a person's work", key)
			return nil
		}
		issue.Summary = "make a new key like the leaked one (sealed) and trust it beside the leaked one in each authorized_keys line that holds it, with the same options"
		if emergency {
			// Put the new key in the old one's place in one write per file:
			// sshd refuses the leaked key from then on.
			issue.ID, issue.Login = "issue:"+key+":in-place", id.Name
			issue.Summary = "make a new key like the leaked one (sealed) and put it in place of the leaked one in each authorized_keys line, options kept, in one atomic write per file: sshd refuses the leaked key from now on"
		}
	}
	issue.Needs = first
	is := b.add(issue)
	var verified []string
	for _, c := range consumers {
		verified = append(verified, b.keyConsumer(id, key, sys, c, issue.Login, is))
	}
	if len(consumers) == 0 {
		b.note("%s has no consumer in the inventory: its replacement is issued but delivered nowhere", key)
	}
	switch {
	case sys.Type == inventory.TypeSSH && emergency:
		// Lines the in-place replacement does not cover (a
		// TrustedUserCAKeys entry) go too.
		b.add(b.revokeKey(id, key, sys, []string{is}, false))
	case !emergency:
		b.add(b.revokeKey(id, key, sys, append([]string{is}, verified...), false))
	}
	return nil
}

// revokeKey is the step that makes the leaked key useless in sys.
func (b *builder) revokeKey(id scope.Identity, key string, sys *inventory.System, needs []string, first bool) Step {
	st := Step{ID: "revoke:" + key, Kind: Revoke, Target: key, System: id.System, Identity: id.Name, Needs: needs}
	when := ", once every consumer is verified on its replacement"
	if first {
		when = " now (consumers fail until their replacement arrives)"
	}
	if sys.Type == inventory.TypeX509 {
		st.Summary = "revoke at the CA every certificate carrying the leaked key (" + certList(id) + ") for keyCompromise, publish the CRL and check that it and the OCSP responder say revoked" + when
	} else {
		st.Summary = "remove every authorized_keys and TrustedUserCAKeys line that trusts the leaked key" + when
	}
	return st
}

// keyConsumer adds deliver → verify for one consumer of a key (or a
// manual notify → verify when rekey cannot write where it reads the key)
// and returns the verify step's id.
func (b *builder) keyConsumer(id scope.Identity, key string, sys *inventory.System, c *inventory.Consumer, login, issue string) string {
	want := []string{inventory.DeliverTLSFiles, inventory.DeliverTLSSecretManifest}
	what := "the new key, certificate and chain"
	if sys.Type == inventory.TypeSSH {
		want, what = []string{inventory.DeliverKeyFile}, "the new private key"
	}
	if c.Deliver == nil || !slices.Contains(want, c.Deliver.Type) {
		if c.Deliver != nil {
			b.note("%s: its delivery (%s) cannot take a private key from %s; a person hands it %s (want a %s delivery)", c.Name, c.Deliver.Type, sys.Type, what, strings.Join(want, " or "))
		}
		n := b.add(Step{ID: "notify:" + c.Name, Kind: Notify, Target: c.Name, System: id.System, Identity: id.Name, Login: login, Consumer: c.Name,
			Needs: []string{issue}, Summary: fmt.Sprintf("tell %s's owner to install %s (sealed in the store; rekey cannot write where it reads it)", c.Name, what)})
		return b.add(Step{ID: "verify:" + c.Name, Kind: Verify, Target: c.Name, System: id.System, Identity: id.Name, Login: login, Consumer: c.Name,
			Needs: []string{n}, Approval: ApprovalManual, Summary: fmt.Sprintf("a person confirms %s uses %s (rekey cannot check it)", c.Name, what)})
	}
	files := c.Deliver.Path
	if c.Deliver.Cert != "" {
		files = c.Deliver.Cert + " and " + files
	}
	d := b.add(Step{ID: "deliver:" + c.Name, Kind: Deliver, Target: c.Name + ": " + c.Deliver.Type + " " + files, System: id.System, Identity: id.Name,
		Login: login, Consumer: c.Name, Needs: []string{issue},
		Summary: fmt.Sprintf("write %s into %s atomically (the key file mode 0600), then run its reload command", what, files)})
	v := Step{ID: "verify:" + c.Name, Kind: Verify, Target: c.Name, System: id.System, Identity: id.Name, Login: login, Consumer: c.Name, Needs: []string{d}}
	switch {
	case sys.Type == inventory.TypeSSH:
		v.Summary = fmt.Sprintf("check that sshd's trust files hold the key %s now has and that its health check passes", c.Name)
	case c.Deliver.Endpoint != "":
		v.Summary = fmt.Sprintf("check that %s presents the new certificate (its chain verified against the CA) and that %s's health check passes", c.Deliver.Endpoint, c.Name)
	default:
		v.Summary = fmt.Sprintf("check that %s's files hold the new key and certificate and that its health check passes", c.Name)
	}
	return b.add(v)
}

// caKey is the plan for a leaked CA key: the CA is distrusted and every
// certificate it signed is issued again under a new one, all by people,
// each step waiting for the person who did it to approve it.
func (b *builder) caKey(id scope.Identity, key string, sys *inventory.System) {
	var ca certOf
	for _, c := range certsOf(id) {
		if c.role == "CA" {
			ca = c
			break
		}
	}
	newCA := b.add(Step{ID: "new-ca:" + key, Kind: Issue, Target: key, System: id.System, Identity: id.Name, Login: "new-ca", Approval: ApprovalManual,
		Summary: fmt.Sprintf("make a new CA key (offline, never beside the leaked one) and certificate to replace %s serial %s", ca.subject, ca.serial)})
	var reissued []string
	n := 0
	for _, r := range b.in.Scope.Related {
		m := issuedName.FindStringSubmatch(r.Name)
		if r.Kind != "issued-certificate" || m == nil {
			continue
		}
		n++
		if !strings.HasPrefix(r.Detail, "signed by the leaked CA key, valid") {
			continue // revoked or expired: nothing to issue again
		}
		reissued = append(reissued, b.add(Step{ID: "reissue:" + id.System + "/" + m[1], Kind: Notify, Target: m[2], System: id.System, Identity: id.Name,
			Needs: []string{newCA}, Approval: ApprovalManual,
			Summary: fmt.Sprintf("issue %s (serial %s) again under the new CA with a new key, and deliver it where it is used", m[2], m[1])}))
	}
	b.add(Step{ID: "distrust:" + key, Kind: Revoke, Target: key, System: id.System, Identity: id.Name, Approval: ApprovalManual,
		Needs:   append([]string{newCA}, reissued...),
		Summary: fmt.Sprintf("remove %s from every trust store (system and application bundles, Kubernetes, clients' CAfile), and revoke it at its parent if it has one: the leaked key can sign a certificate for any name, which its own CRL and OCSP would not list", ca.subject)})
	b.note("the leaked key is CA %s's (serial %s): its index and the places list %d certificate(s) it signed, %d still valid, each to be issued again under a new CA; a certificate minted with the leaked key outside the index is in no list, which is why the CA itself is distrusted",
		ca.subject, ca.serial, n, len(reissued))
}

// certList names the certificates of a key for a summary.
func certList(id scope.Identity) string {
	var parts []string
	for _, c := range certsOf(id) {
		parts = append(parts, "serial "+c.serial+" "+c.subject+" ("+c.status+")")
	}
	if len(parts) == 0 {
		return "those the system finds when the step runs"
	}
	return strings.Join(parts, "; ")
}

// sshCA reports whether sshd trusts the key as a user CA.
func sshCA(id scope.Identity) bool {
	for _, p := range id.Privileges {
		if strings.HasPrefix(p.Name, "user CA trusted by sshd") || strings.HasPrefix(p.Name, "cert-authority for ") {
			return true
		}
	}
	return false
}
