package sshtrust

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/keys/keytest"
	"github.com/rekeyhq/rekey/internal/provider"
)

// host is a machine's sshd trust files, built with ssh-keygen keys: the
// leaked key in root's and deploy's authorized_keys (deploy's with a
// forced command and from=), other keys beside it, a user CA key trusted
// by TrustedUserCAKeys and by a cert-authority line in ops's file, and
// AuthorizedPrincipals files.
type host struct {
	dir                           string
	leaked, other, userCA, pemRSA string
	locked                        string
	rootAK, deployAK, opsAK       string
	trustedCA                     string
	inv                           *inventory.Inventory
}

// nobody is the uid deploy's home belongs to: not root, so its
// authorized_keys is graded as another account's.
const nobody = 65534

// noUser is a uid with no passwd entry: the account is named by number.
const noUser = 54321

func newHost(t *testing.T) *host {
	t.Helper()
	dir := t.TempDir()
	h := &host{dir: dir}
	keysDir := filepath.Join(dir, "keys")
	keytest.Must(t, os.MkdirAll(keysDir, 0o700))
	h.leaked = keytest.SSHKey(t, keysDir, "id_leaked", "rsa", "")
	h.other = keytest.SSHKey(t, keysDir, "id_other", "ed25519", "")
	h.userCA = keytest.SSHKey(t, keysDir, "user_ca", "ecdsa", "")
	h.locked = keytest.SSHKey(t, keysDir, "id_locked", "ed25519", "a passphrase")
	h.pemRSA = keytest.GenKey(t, keysDir, "legacy.pem", keytest.RSAPKCS1)
	pub := func(path string) string {
		b, err := os.ReadFile(path)
		keytest.Must(t, err)
		return strings.TrimSpace(string(b))
	}
	legacyPub := pub(keytest.SSHPublic(t, h.pemRSA, h.pemRSA+".pub"))

	h.rootAK = filepath.Join(dir, "root/.ssh/authorized_keys")
	keytest.WriteFile(t, h.rootAK, []byte("# admins\n"+pub(h.other+".pub")+"\n"+pub(h.leaked+".pub")+"\nssh-rsa not-a-key garbage\n"), 0o600)
	h.deployAK = filepath.Join(dir, "home/deploy/.ssh/authorized_keys")
	keytest.WriteFile(t, h.deployAK, []byte(
		`from="10.0.4.0/24",command="/usr/bin/rsync --server -logDtpre.iLsfxC . /srv/www",no-pty `+pub(h.leaked+".pub")+"\n"+
			`restrict,expiry-time="20200101" `+pub(h.locked+".pub")+"\n"+
			legacyPub+"\n"), 0o600)
	keytest.Must(t, os.Chown(filepath.Join(dir, "home/deploy/.ssh"), nobody, nobody))
	h.opsAK = filepath.Join(dir, "home/ops/.ssh/authorized_keys")
	keytest.WriteFile(t, h.opsAK, []byte(`cert-authority,principals="ops,oncall" `+pub(h.userCA+".pub")+"\n"), 0o600)
	keytest.Must(t, os.Chown(filepath.Join(dir, "home/ops/.ssh"), noUser, noUser))
	h.trustedCA = filepath.Join(dir, "etc/ssh/user_ca.pub")
	keytest.WriteFile(t, h.trustedCA, []byte(pub(h.userCA+".pub")+"\n"), 0o644)
	keytest.WriteFile(t, filepath.Join(dir, "etc/ssh/auth_principals/alice"), []byte("alice\n# on call\nadmins\n"), 0o644)
	keytest.WriteFile(t, filepath.Join(dir, "etc/ssh/auth_principals/root"), []byte(`from="10.0.0.0/8" root-breakglass`+"\n"), 0o644)

	inv := `version: 1
systems:
  - name: bastion
    type: ssh
    authorized_keys: ["root/.ssh/authorized_keys", "home/*/.ssh/authorized_keys", "missing/authorized_keys"]
    authorized_principals: ["etc/ssh/auth_principals/*"]
    trusted_user_ca_keys: [etc/ssh/user_ca.pub]
`
	path := filepath.Join(dir, "inventory.yml")
	keytest.WriteFile(t, path, []byte(inv), 0o644)
	got, rep, err := inventory.Load(path, inventory.Options{KnownSystemTypes: []string{Type}, SkipLocal: true})
	keytest.Must(t, err)
	if !rep.OK() {
		t.Fatalf("inventory: %v", rep.Errors)
	}
	h.inv = got
	return h
}

func (h *host) open(t *testing.T) *SSH {
	t.Helper()
	p, err := open(provider.Config{System: "bastion", Spec: h.inv.SystemByName("bastion")})
	keytest.Must(t, err)
	return p
}

func identifyOne(t *testing.T, p *SSH, keyPath string) *Report {
	t.Helper()
	ms, err := p.Identify(context.Background(), keytest.Secret(t, keyPath))
	if err != nil {
		t.Fatal(err)
	}
	want := keytest.SSHFingerprint(t, keyPath+".pub")
	if len(ms) != 1 || ms[0].Ref != (provider.IdentityRef{System: "bastion", Name: want}) || ms[0].Method != MethodSSH {
		t.Fatalf("Identify(%s) = %+v, want one match named %s (ssh-keygen -lf)", filepath.Base(keyPath), ms, want)
	}
	r, err := p.Examine(context.Background(), want)
	keytest.Must(t, err)
	return r
}

type where struct {
	file    string
	line    int
	kind    string
	account string
	risk    provider.Risk
}

func grantsOf(r *Report) []where {
	var out []where
	for _, g := range r.Grants {
		out = append(out, where{g.File, g.Line, g.Kind, g.Account, g.Risk})
	}
	return out
}

// The leaked key is matched to exactly the lines holding it, with their
// options, graded by account and restrictions; other keys' lines and a
// garbage line are not, and the garbage is a problem naming its line.
func TestLeakedKeyFindsItsLines(t *testing.T) {
	h := newHost(t)
	p := h.open(t)
	r := identifyOne(t, p, h.leaked)
	want := []where{
		{h.rootAK, 3, KindAuthorizedKey, "root", provider.RiskCritical},
		{h.deployAK, 1, KindAuthorizedKey, "nobody", provider.RiskMedium},
	}
	if got := grantsOf(r); !slices.Equal(got, want) {
		t.Fatalf("grants %+v\nwant %+v", got, want)
	}
	d := r.Grants[1]
	if d.From != "10.0.4.0/24" || d.Command != "/usr/bin/rsync --server -logDtpre.iLsfxC . /srv/www" || !slices.Contains(d.Options, "no-pty") {
		t.Errorf("deploy's options: from %q command %q options %q", d.From, d.Command, d.Options)
	}
	if len(r.Principals) != 0 {
		t.Errorf("a login key lists principals files: %+v", r.Principals)
	}
	problems := map[string]string{}
	for _, pr := range r.Problems {
		problems[pr.Where] = pr.Reason
		if strings.Contains(pr.String(), "AAAA") || strings.Contains(pr.String(), "garbage") {
			t.Errorf("problem quotes the line: %s", pr)
		}
	}
	wantProblems := map[string]string{h.rootAK + ":4": "not a public key line sshd reads", "missing/authorized_keys": "matches no file"}
	if !maps(problems, wantProblems) {
		t.Errorf("problems %v, want %v", problems, wantProblems)
	}

	id, err := p.Inspect(context.Background(), provider.IdentityRef{Name: r.Key})
	keytest.Must(t, err)
	if !id.Exists || !id.CanLogin || len(id.Privileges) != 2 || id.Privileges[0].Risk != provider.RiskCritical || id.Privileges[0].Via != h.rootAK+":3" {
		t.Errorf("identity %+v", id)
	}
}

func maps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}

// A leaked user CA key is critical wherever sshd trusts it, creates
// credentials, and brings the AuthorizedPrincipals files it reaches.
func TestUserCAKey(t *testing.T) {
	h := newHost(t)
	p := h.open(t)
	r := identifyOne(t, p, h.userCA)
	want := []where{
		{h.trustedCA, 1, KindTrustedUserCA, "", provider.RiskCritical},
		{h.opsAK, 1, KindCertAuthority, "uid 54321", provider.RiskCritical},
	}
	if got := grantsOf(r); !slices.Equal(got, want) {
		t.Fatalf("grants %+v\nwant %+v", got, want)
	}
	if r.Grants[1].Principals != "ops,oncall" {
		t.Errorf("cert-authority principals %q", r.Grants[1].Principals)
	}
	var got []string
	for _, pr := range r.Principals {
		got = append(got, pr.Account+": "+strings.Join(pr.Principals, " "))
	}
	if !slices.Equal(got, []string{"alice: alice admins", "root: root-breakglass"}) {
		t.Errorf("principals %q", got)
	}
	id, err := p.Inspect(context.Background(), provider.IdentityRef{Name: r.Key})
	keytest.Must(t, err)
	for _, pv := range id.Privileges {
		if !pv.CreatesCredentials {
			t.Errorf("%s does not create credentials", pv.Name)
		}
	}
	var principals []string
	for _, r := range id.Related {
		if r.Kind == RelatedPrincipals {
			principals = append(principals, r.Name)
		}
	}
	if !slices.Equal(principals, []string{filepath.Join(h.dir, "etc/ssh/auth_principals/alice"), filepath.Join(h.dir, "etc/ssh/auth_principals/root")}) {
		t.Errorf("related principals %q, want the two files", principals)
	}
}

// Without AuthorizedPrincipals files, a user CA key reaches every
// account, and Inspect says so.
func TestUserCAKeyWithoutPrincipalsFiles(t *testing.T) {
	h := newHost(t)
	spec := *h.inv.SystemByName("bastion")
	places := *spec.SSH
	places.AuthorizedPrincipals = nil
	spec.SSH = &places
	p, err := open(provider.Config{System: "bastion", Spec: &spec})
	keytest.Must(t, err)
	id, err := p.Inspect(context.Background(), provider.IdentityRef{Name: keytest.SSHFingerprint(t, h.userCA+".pub")})
	keytest.Must(t, err)
	var got []string
	for _, r := range id.Related {
		if r.Kind == RelatedPrincipals {
			got = append(got, r.Name+": "+r.Detail)
		}
	}
	if len(got) != 1 || !strings.HasPrefix(got[0], "any account: ") || !strings.Contains(got[0], "root included") {
		t.Errorf("related principals %q, want one for any account", got)
	}
}

// A key with a passphrase is identified from the public key its file
// holds in clear; an expired line is listed, low, and sshd would refuse
// it. A PEM key from openssl is matched to its OpenSSH form.
func TestEncryptedExpiredAndPEMKeys(t *testing.T) {
	h := newHost(t)
	p := h.open(t)
	r := identifyOne(t, p, h.locked)
	if len(r.Grants) != 1 || !r.Grants[0].Expired || r.Grants[0].Risk != provider.RiskLow || !r.Grants[0].Restrict {
		t.Errorf("locked key grants %+v, want one expired restricted line, low", r.Grants)
	}
	id, err := p.Inspect(context.Background(), provider.IdentityRef{Name: r.Key})
	keytest.Must(t, err)
	if id.CanLogin {
		t.Error("CanLogin with only an expired line")
	}
	r = identifyOne(t, p, h.pemRSA)
	if got := grantsOf(r); len(got) != 1 || got[0].file != h.deployAK || got[0].line != 3 || got[0].risk != provider.RiskHigh {
		t.Errorf("PEM key grants %+v, want deploy's line 3, high", got)
	}
}

// A key no file holds matches nothing; a bad name is refused.
func TestStrayKey(t *testing.T) {
	h := newHost(t)
	p := h.open(t)
	stray := keytest.SSHKey(t, t.TempDir(), "id_stray", "ed25519", "")
	ms, err := p.Identify(context.Background(), keytest.Secret(t, stray))
	if err != nil || len(ms) != 0 {
		t.Fatalf("Identify(stray) = %v, %v", ms, err)
	}
	if _, err := p.Examine(context.Background(), "deploy@host"); err == nil {
		t.Error("Examine(a user name) succeeded: the name is a fingerprint")
	}
}
