package engine

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/rekeyhq/rekey/internal/deliver"
	"github.com/rekeyhq/rekey/internal/deliver/tlsfiles"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/keys"
	"github.com/rekeyhq/rekey/internal/keys/keytest"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/certs"
	"github.com/rekeyhq/rekey/internal/provider/certs/catest"
	"github.com/rekeyhq/rekey/internal/provider/sshtrust"
	"github.com/rekeyhq/rekey/internal/scope"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
)

// keyWorld is one leaked key on an openssl CA (with its OCSP responder)
// and in an authorized_keys file: a server's tls-files consumer and a
// deployer's key-file consumer, an incident and the engine's
// dependencies over the real x509 and ssh providers.
type keyWorld struct {
	dir, leaked, oldSerial string
	stray                  string // a server presenting the old certificate, no consumer's
	spki, fp               string
	ca                     *catest.CA
	st                     store.Store
	inc                    store.Incident
	inv                    *inventory.Inventory
	deps                   Deps
}

func newKeyWorld(t *testing.T, strategy plan.Strategy) *keyWorld {
	t.Helper()
	return newKeyWorldWith(t, strategy, false)
}

// newKeyWorldWith adds, with stray, a TLS server the x509 system lists as
// an endpoint that presents the leaked key's certificate and that no
// consumer delivers to.
func newKeyWorldWith(t *testing.T, strategy plan.Strategy, stray bool) *keyWorld {
	t.Helper()
	dir := t.TempDir()
	w := &keyWorld{dir: dir, ca: catest.Start(t, dir, "Engine Test CA")}
	w.leaked = keytest.GenKey(t, dir, "leaked.key", keytest.ECSEC1)
	for _, d := range []string{"srv", "deploy", "ak"} {
		keytest.Must(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	w.ca.Issue(t, w.leaked, "shop.example.org", []string{"shop.example.org"}, "server", filepath.Join(dir, "srv/tls.crt"))
	w.oldSerial = keytest.Serial(t, filepath.Join(dir, "srv/tls.crt"))
	pemKey, err := os.ReadFile(w.leaked)
	keytest.Must(t, err)
	keytest.WriteFile(t, filepath.Join(dir, "srv/tls.key"), pemKey, 0o600)
	keytest.WriteFile(t, filepath.Join(dir, "deploy/id"), pemKey, 0o600)
	pub, err := os.ReadFile(keytest.SSHPublic(t, w.leaked, filepath.Join(dir, "leaked.pub")))
	keytest.Must(t, err)
	keytest.WriteFile(t, filepath.Join(dir, "ak/deploy"), []byte("restrict "+strings.TrimSpace(string(pub))+" deploy\n"), 0o600)
	keytest.Run(t, w.ca.Dir, nil, "sh", "-c", w.ca.OCSPReload)
	endpoints := ""
	if stray {
		pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "srv/tls.crt"), w.leaked)
		keytest.Must(t, err)
		l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}})
		keytest.Must(t, err)
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.(*tls.Conn).Handshake()
				c.Close()
			}
		}()
		w.stray = l.Addr().String()
		endpoints = fmt.Sprintf("\n    endpoints: [%q]", w.stray)
	}
	w.spki = "sha256:" + keytest.SPKISHA256(t, w.leaked, false)
	w.fp = keytest.SSHFingerprint(t, w.leaked)

	ca := w.ca
	yml := fmt.Sprintf(`version: 1
systems:
  - name: shop-tls
    type: x509
    certs: ["srv/*.crt"]%s
    ca: { index: %q, certs_dir: %q, cert: %q, config: %q, crl: %q, ocsp: %q, ocsp_reload: %q }
  - name: bastion
    type: ssh
    authorized_keys: ["ak/*"]
identities:
  - { name: %q, system: shop-tls }
  - { name: %q, system: bastion }
consumers:
  - { name: web, identity: "shop-tls/%s", deliver: { type: tls-files, cert: srv/tls.crt, key: srv/tls.key } }
  - { name: deployer, identity: "bastion/%s", deliver: { type: key-file, path: deploy/id } }
`, endpoints, ca.Index, ca.NewCerts, ca.Cert, ca.Config, filepath.Join(ca.Dir, "ca.crl"), ca.OCSPURL, ca.OCSPReload, w.spki, w.fp, w.spki, w.fp)
	inv, rep, err := inventory.Parse(filepath.Join(dir, "inventory.yml"), []byte(yml),
		inventory.Options{KnownSystemTypes: []string{inventory.TypeX509, inventory.TypeSSH}})
	if err != nil || !rep.OK() {
		t.Fatalf("inventory: %v %v", err, rep.Errors)
	}
	w.inv = inv
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "rekey.db"))
	keytest.Must(t, err)
	t.Cleanup(func() { st.Close() })
	w.st = st
	sum := sha256.Sum256(pemKey)
	w.inc, _, err = st.OpenIncident(context.Background(), store.Incident{Fingerprint: secret.Fingerprint(hex.EncodeToString(sum[:])),
		Identity: store.IdentityRef{System: "shop-tls", Name: w.spki}})
	keytest.Must(t, err)

	var mu sync.Mutex
	provs := map[string]provider.Provider{}
	open := func(ctx context.Context, system string) (provider.Provider, error) {
		mu.Lock()
		defer mu.Unlock()
		if p := provs[system]; p != nil {
			return p, nil
		}
		sys := inv.SystemByName(system)
		f := certs.New
		if sys.Type == inventory.TypeSSH {
			f = sshtrust.New
		}
		p, err := f(ctx, provider.Config{System: system, Spec: sys})
		if err == nil {
			provs[system] = p
		}
		return p, err
	}
	w.deps = testDeps(st, inv, dir, w.inc.ID, open)
	w.deps.Target = func(c *inventory.Consumer) (deliver.Target, error) { return tlsfiles.FromInventory(inv, c.Deliver) }

	// The scope as open would record it: the certificate's privileges
	// from the provider itself.
	p, err := open(context.Background(), "shop-tls")
	keytest.Must(t, err)
	id, err := p.Inspect(context.Background(), provider.IdentityRef{System: "shop-tls", Name: w.spki})
	keytest.Must(t, err)
	sc := scope.Scope{Incident: w.inc.ID, Identity: scope.Identity{Status: "identified", Name: w.spki, System: "shop-tls", Declared: true},
		Reuse:     []store.IdentityRef{{System: "bastion", Name: w.fp}},
		Consumers: []scope.Consumer{{Name: "web", Declared: true}, {Name: "deployer", Declared: true}}, Flags: scope.Flags{Shared: true}}
	for _, pr := range id.Privileges {
		sc.Identity.Privileges = append(sc.Identity.Privileges, scope.Privilege{Name: pr.Name, Risk: string(pr.Risk), Via: pr.Via, CreatesCredentials: pr.CreatesCredentials})
	}
	pl, err := plan.Build(plan.Input{Scope: sc, Inventory: inv, Strategy: strategy})
	keytest.Must(t, err)
	putPlan(t, st, w.inc.ID, pl)
	return w
}

// checkReplaced: the old certificate is revoked and exactly one new one
// is valid in the index, which the server's files hold with its key;
// authorized_keys holds one line, the deployer's new key, with its
// options; nothing stays sealed.
func (w *keyWorld) checkReplaced(t *testing.T) {
	t.Helper()
	idx, err := os.ReadFile(w.ca.Index)
	keytest.Must(t, err)
	var valid []string
	for _, line := range strings.Split(strings.TrimSpace(string(idx)), "\n") {
		f := strings.Split(line, "\t")
		switch {
		case f[3] == w.oldSerial && f[0] != "R":
			t.Errorf("the leaked key's certificate is not revoked: %q", line)
		case f[3] != w.oldSerial && f[0] == "V":
			valid = append(valid, f[3])
		}
	}
	if len(valid) != 1 {
		t.Fatalf("valid certificates besides the old one: %v, want exactly one replacement", valid)
	}
	if got := keytest.Serial(t, filepath.Join(w.dir, "srv/tls.crt")); got != valid[0] {
		t.Errorf("the server holds serial %s, want the replacement %s", got, valid[0])
	}
	k, err := keys.ParseFile(filepath.Join(w.dir, "srv/tls.key"))
	keytest.Must(t, err)
	crtPEM, err := os.ReadFile(filepath.Join(w.dir, "srv/tls.crt"))
	keytest.Must(t, err)
	blk, _ := pem.Decode(crtPEM)
	crt, err := x509.ParseCertificate(blk.Bytes)
	keytest.Must(t, err)
	crtKey, err := keys.SPKIFingerprint(crt.PublicKey)
	keytest.Must(t, err)
	if "sha256:"+k.Fingerprints.SPKISHA256 == w.spki || !strings.HasSuffix(crtKey, k.Fingerprints.SPKISHA256) {
		t.Error("the server's key is the leaked one, or not its certificate's")
	}
	ak, err := os.ReadFile(filepath.Join(w.dir, "ak/deploy"))
	keytest.Must(t, err)
	signer, err := ssh.ParsePrivateKey(keytest.Secret(t, filepath.Join(w.dir, "deploy/id")).Reveal())
	keytest.Must(t, err)
	want := "restrict " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))) + " deploy\n"
	if string(ak) != want {
		t.Errorf("authorized_keys:\n%s\nwant:\n%s", ak, want)
	}
	if names, _ := w.st.SealedNames(context.Background(), w.inc.ID); len(names) != 0 {
		t.Errorf("still sealed: %v", names)
	}
}

func (w *keyWorld) run(t *testing.T) Result {
	t.Helper()
	e, err := New(context.Background(), w.deps, w.inc.ID)
	keytest.Must(t, err)
	res, err := e.Run(context.Background())
	if err != nil || res.State != store.RunDone {
		t.Fatalf("run: %v %+v", err, res)
	}
	return res
}

// Emergency on keys: the certificate is revoked before anything else
// runs, the ssh key is replaced in place (the leaked one refused at once),
// and the consumers get their new key after.
func TestKeysEmergencyRevokesFirst(t *testing.T) {
	w := newKeyWorld(t, plan.Emergency)
	e, err := New(context.Background(), w.deps, w.inc.ID)
	keytest.Must(t, err)
	steps := e.Plan().Steps
	if steps[0].Kind != plan.Revoke || steps[0].System != "shop-tls" || len(steps[0].Needs) != 0 {
		t.Fatalf("the emergency plan does not start with the revoke: %+v", steps[0])
	}
	var inPlace *plan.Step
	for i := range steps {
		if steps[i].System == "bastion" && steps[i].Kind == plan.Issue {
			inPlace = &steps[i]
		}
	}
	if inPlace == nil || inPlace.Login != w.fp || len(inPlace.Needs) != 0 {
		t.Fatalf("the ssh key is not replaced in place first: %+v", inPlace)
	}
	res := w.run(t)
	w.checkReplaced(t)
	byID := map[string]StepResult{}
	for _, s := range res.Steps {
		byID[s.ID] = s
	}
	rev, is := byID[steps[0].ID], byID["issue:shop-tls/"+w.spki]
	if rev.Finished == nil || is.Started == nil || is.Started.Before(*rev.Finished) {
		t.Errorf("the new certificate was issued before the old one was revoked: %+v %+v", rev, is)
	}
	if at, err := RotatedAt(context.Background(), w.st, w.inc.ID); err != nil || at.IsZero() {
		t.Errorf("RotatedAt: %v %v", at, err)
	}
}

// A key's run killed at every step boundary and resumed finishes with
// one replacement certificate (the CA is asked again for the sealed key
// and answers with what it signed), one trusted new key, nothing sealed.
func TestKeysCrashAtEveryBoundaryResumes(t *testing.T) {
	probe := newKeyWorld(t, plan.Graceful)
	e, err := New(context.Background(), probe.deps, probe.inc.ID)
	keytest.Must(t, err)
	for i, st := range e.Plan().Steps {
		for _, phase := range []string{"before", "after"} {
			t.Run(fmt.Sprintf("%d-%s-%s-%s", i, st.Kind, st.System, phase), func(t *testing.T) {
				w := newKeyWorld(t, plan.Graceful)
				e, err := New(context.Background(), w.deps, w.inc.ID)
				keytest.Must(t, err)
				point := e.Plan().Steps[i].ID + "/" + phase
				crashAt(t, w.deps, w.inc.ID, func(id, ph string) bool { return id+"/"+ph == point })
				w.run(t)
				w.checkReplaced(t)
			})
		}
	}
}

// Rolling back a key's run before the revoke: the consumers get the
// leaked key back (what they held), the new certificate is revoked as
// superseded and sshd no longer trusts the new key.
func TestKeysRollbackBeforeRevoke(t *testing.T) {
	w := newKeyWorld(t, plan.Graceful)
	// Run everything but the revokes: they wait (as for an approval).
	e, err := New(context.Background(), w.deps, w.inc.ID)
	keytest.Must(t, err)
	for i := range e.p.Steps {
		if e.p.Steps[i].Kind == plan.Revoke {
			e.p.Steps[i].Approval = plan.ApprovalPolicy
		}
	}
	if _, err := e.Run(context.Background()); err == nil {
		t.Fatal("the run did not stop at the revokes")
	}
	newSerial := keytest.Serial(t, filepath.Join(w.dir, "srv/tls.crt"))
	if newSerial == w.oldSerial {
		t.Fatal("nothing was delivered before the rollback")
	}
	if _, err := e.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := keytest.Serial(t, filepath.Join(w.dir, "srv/tls.crt")); got != w.oldSerial {
		t.Errorf("after rollback the server holds %s, want its original %s", got, w.oldSerial)
	}
	if got := w.ca.OCSPSays(t, newSerial); got != "revoked" {
		t.Errorf("the new certificate after rollback: OCSP %s, want revoked", got)
	}
	if got := w.ca.OCSPSays(t, w.oldSerial); got != "good" {
		t.Errorf("the old certificate after rollback: OCSP %s (nothing revoked it)", got)
	}
	ak, _ := os.ReadFile(filepath.Join(w.dir, "ak/deploy"))
	if n := strings.Count(string(ak), "\n"); n != 1 || !strings.Contains(string(ak), " deploy\n") {
		t.Errorf("authorized_keys after rollback: %q", ak)
	}
	if r, err := sshtrust.New(context.Background(), provider.Config{System: "bastion", Spec: w.inv.SystemByName("bastion")}); err == nil {
		if m, _ := r.Identify(context.Background(), keytest.Secret(t, filepath.Join(w.dir, "deploy/id"))); len(m) != 1 {
			t.Error("after rollback the deployer's key file is not the trusted leaked key")
		}
	}
}

// A consumer's files name the certificate it gets: the replacement of
// its serial (or the one it already holds, on resume); a certificate the
// issue step did not replace gets none, even when there is only one
// replacement; no certificate at all, the only one.
func TestBundleFor(t *testing.T) {
	dir := t.TempDir()
	k := keytest.GenKey(t, dir, "k.key", keytest.ECSEC1)
	pemOf := func(name string) (string, string) {
		p := keytest.SelfSigned(t, k, name, nil, filepath.Join(dir, name+".pem"))
		b, err := os.ReadFile(p)
		keytest.Must(t, err)
		return string(b), keytest.Serial(t, p)
	}
	old, oldSerial := pemOf("old")
	nw, newSerial := pemOf("new")
	other, _ := pemOf("other")
	res := issued{Certificates: map[string]newCert{oldSerial: {Serial: newSerial, PEM: nw}}}
	for _, c := range []struct {
		name, current string
		ok            bool
	}{{"old", old, true}, {"resumed", nw, true}, {"none", "", true}, {"other", other, false}} {
		got, err := bundleFor(res, c.current)
		if c.ok != (err == nil) || c.ok && got.Serial != newSerial {
			t.Errorf("%s: %+v %v", c.name, got, err)
		}
	}
}

// A server the x509 system lists, presenting the leaked key's
// certificate, that no consumer delivers to is named in the revoke's
// result: revoking breaks it for clients that check.
func TestKeysRevokeNamesAServerNoConsumerReplaces(t *testing.T) {
	w := newKeyWorldWith(t, plan.Graceful, true)
	res := w.run(t)
	for _, s := range res.Steps {
		if s.ID == "revoke:shop-tls/"+w.spki && !strings.Contains(s.Detail, "presented, when this step began, by "+w.stray+" chain[0]") {
			t.Errorf("revoke detail: %s", s.Detail)
		}
	}
	w.checkReplaced(t)
}
