package sshtrust

import (
	"bytes"
	"context"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/keys"
	"github.com/rekeyhq/rekey/internal/keys/keytest"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/sshtrust/sshdtest"
	"github.com/rekeyhq/rekey/internal/secret"
)

// sshd is sshdtest's server with this package's old field names.
type sshd struct {
	*sshdtest.SSHD
	addr  string
	akDir string
	log   *bytes.Buffer
}

func startSSHD(t *testing.T, dir string) *sshd {
	t.Helper()
	s := sshdtest.Start(t, dir)
	return &sshd{SSHD: s, addr: s.Addr, akDir: s.AKDir, log: s.Log}
}

func (s *sshd) login(account string, key secret.Secret) error { return s.Login(account, key) }

func sshSystem(t *testing.T, akGlob string) *SSH {
	t.Helper()
	s, err := open(provider.Config{System: "bastion", Spec: &inventory.System{SSH: &inventory.SSHPlaces{AuthorizedKeys: []string{akGlob}}}})
	keytest.Must(t, err)
	return s
}

func stat(t *testing.T, path string) (os.FileMode, uint32, uint32) {
	t.Helper()
	fi, err := os.Stat(path)
	keytest.Must(t, err)
	st := fi.Sys().(*syscall.Stat_t)
	return fi.Mode(), st.Uid, st.Gid
}

// The leaked key's line is replaced by the new key's in the account's
// authorized_keys, keeping its options, the other lines, the file's mode
// and its owner (another uid); a real sshd then refuses the old key and
// accepts the new one. Replacing again changes nothing.
func TestReplaceKeyWithRealSSHD(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the authorized_keys file belongs to another uid")
	}
	dir := t.TempDir()
	srv := startSSHD(t, dir)
	me, err := user.Current()
	keytest.Must(t, err)
	leakedPath := keytest.SSHKey(t, dir, "id_leaked", "ed25519", "")
	otherPath := keytest.SSHKey(t, dir, "id_other", "rsa", "")
	leaked, other := keytest.Secret(t, leakedPath), keytest.Secret(t, otherPath)
	leakedPub, _ := os.ReadFile(leakedPath + ".pub")
	otherPub, _ := os.ReadFile(otherPath + ".pub")
	ak := filepath.Join(srv.akDir, me.Username)
	content := "# deploy keys\n" + `from="127.0.0.1",no-agent-forwarding ` + strings.TrimSpace(string(leakedPub)) + "\n" + string(otherPub)
	keytest.WriteFile(t, ak, []byte(content), 0o640)
	keytest.Must(t, os.Chown(ak, nobody, nobody))

	if err := srv.login(me.Username, leaked); err != nil {
		t.Fatalf("before: the leaked key is refused already: %v\n%s", err, srv.log)
	}
	k, err := keys.Parse(leaked)
	keytest.Must(t, err)
	newKey, newPub, err := keys.NewLike(k.Public, keys.FormatOpenSSH)
	keytest.Must(t, err)
	sshPub, err := ssh.NewPublicKey(newPub)
	keytest.Must(t, err)

	s := sshSystem(t, filepath.Join(srv.akDir, "*"))
	ch, err := s.ReplaceKey(context.Background(), AddRequest{Like: k.Fingerprints.SSH, New: sshPub})
	keytest.Must(t, err)
	if len(ch.Edits) != 1 || ch.Edits[0].File != ak || ch.Edits[0].Line != 2 || ch.Edits[0].Action != ActionReplaced {
		t.Errorf("edits: %+v", ch.Edits)
	}
	got, _ := os.ReadFile(ak)
	wantLine := `from="127.0.0.1",no-agent-forwarding ` + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " id_leaked@rekey-test"
	if want := "# deploy keys\n" + wantLine + "\n" + string(otherPub); string(got) != want {
		t.Errorf("authorized_keys:\n%s\nwant:\n%s", got, want)
	}
	if mode, uid, gid := stat(t, ak); mode != 0o640 || uid != nobody || gid != nobody {
		t.Errorf("mode %v owner %d:%d, want 0640 %d:%d", mode, uid, gid, nobody, nobody)
	}

	if err := srv.login(me.Username, leaked); err == nil {
		t.Errorf("after: sshd still accepts the leaked key")
	} else if !strings.Contains(err.Error(), "unable to authenticate") {
		t.Errorf("after: the leaked key fails for another reason: %v", err)
	}
	if err := srv.login(me.Username, newKey); err != nil {
		t.Errorf("after: sshd refuses the new key: %v\n%s", err, srv.log)
	}
	if err := srv.login(me.Username, other); err != nil {
		t.Errorf("after: the other key on the file no longer logs in: %v", err)
	}

	again, err := s.ReplaceKey(context.Background(), AddRequest{Like: k.Fingerprints.SSH, New: sshPub})
	keytest.Must(t, err)
	if after, _ := os.ReadFile(ak); len(again.Edits) != 0 || !bytes.Equal(after, got) {
		t.Errorf("replace again changed %+v", again.Edits)
	}
}

// Graceful order with a real sshd: AddKey first (both keys log in), then
// RemoveKey (only the new one). Each is idempotent.
func TestAddThenRemoveWithRealSSHD(t *testing.T) {
	dir := t.TempDir()
	srv := startSSHD(t, dir)
	me, err := user.Current()
	keytest.Must(t, err)
	leakedPath := keytest.SSHKey(t, dir, "id_leaked", "ecdsa", "")
	leaked := keytest.Secret(t, leakedPath)
	leakedPub, _ := os.ReadFile(leakedPath + ".pub")
	ak := filepath.Join(srv.akDir, me.Username)
	keytest.WriteFile(t, ak, []byte(`restrict,command="true" `+strings.TrimSpace(string(leakedPub))), 0o600) // no final newline
	k, err := keys.Parse(leaked)
	keytest.Must(t, err)
	newKey, newPub, err := keys.NewLike(k.Public, keys.FormatOpenSSH)
	keytest.Must(t, err)
	sshPub, _ := ssh.NewPublicKey(newPub)
	s := sshSystem(t, ak)
	ctx := context.Background()

	for i := 0; i < 2; i++ {
		ch, err := s.AddKey(ctx, AddRequest{Like: k.Fingerprints.SSH, New: sshPub, Comment: "rekey-replacement"})
		keytest.Must(t, err)
		if wantEdits := 1 - i; len(ch.Edits) != wantEdits {
			t.Errorf("add #%d: %d edits, want %d", i+1, len(ch.Edits), wantEdits)
		}
	}
	got, _ := os.ReadFile(ak)
	if want := `restrict,command="true" ` + strings.TrimSpace(string(leakedPub)) + "\n" + `restrict,command="true" ` + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " rekey-replacement"; string(got) != want {
		t.Errorf("after add:\n%q\nwant\n%q", got, want)
	}
	for name, key := range map[string]secret.Secret{"leaked": leaked, "new": newKey} {
		if err := srv.login(me.Username, key); err != nil {
			t.Errorf("after add, the %s key: %v", name, err)
		}
	}
	// Replacing after adding leaves one line for the new key (restored
	// afterwards, to go on with RemoveKey).
	ch, err := s.ReplaceKey(ctx, AddRequest{Like: k.Fingerprints.SSH, New: sshPub, Comment: "rekey-replacement"})
	keytest.Must(t, err)
	afterReplace, _ := os.ReadFile(ak)
	if want := `restrict,command="true" ` + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " rekey-replacement"; len(ch.Edits) != 1 || string(afterReplace) != want {
		t.Errorf("replace after add: %+v\n%q\nwant\n%q", ch.Edits, afterReplace, want)
	}
	keytest.Must(t, os.WriteFile(ak, got, 0o600))
	for i := 0; i < 2; i++ {
		ch, err := s.RemoveKey(ctx, RemoveRequest{Key: k.Fingerprints.SSH})
		keytest.Must(t, err)
		if wantEdits := 1 - i; len(ch.Edits) != wantEdits {
			t.Errorf("remove #%d: %d edits, want %d", i+1, len(ch.Edits), wantEdits)
		}
	}
	if err := srv.login(me.Username, leaked); err == nil {
		t.Errorf("after remove, sshd accepts the leaked key")
	}
	if err := srv.login(me.Username, newKey); err != nil {
		t.Errorf("after remove, the new key: %v", err)
	}
	if mode, _, _ := stat(t, ak); mode != 0o600 {
		t.Errorf("mode %v, want 0600", mode)
	}
}

// A user CA line is not replaced (a new CA key signs no certificate
// yet), and the refusal changes no file; removing it works. Errors name
// the file and line, never a key.
func TestUserCALinesAndErrors(t *testing.T) {
	dir := t.TempDir()
	caPath := keytest.SSHKey(t, dir, "user_ca", "ed25519", "")
	caPub, _ := os.ReadFile(caPath + ".pub")
	ak := filepath.Join(dir, "authorized_keys")
	content := "cert-authority,principals=\"ops\" " + string(caPub)
	keytest.WriteFile(t, ak, []byte(content), 0o600)
	k, err := keys.ParseFile(caPath)
	keytest.Must(t, err)
	_, newPub, err := keys.NewLike(k.Public, keys.FormatOpenSSH)
	keytest.Must(t, err)
	sshPub, _ := ssh.NewPublicKey(newPub)
	s := sshSystem(t, ak)
	_, err = s.ReplaceKey(context.Background(), AddRequest{Like: k.Fingerprints.SSH, New: sshPub})
	if errs.KindOf(err) != errs.Unsupported || !strings.Contains(err.Error(), ak+":1") {
		t.Errorf("replace a CA line: %v", err)
	}
	if strings.Contains(err.Error(), strings.Fields(string(caPub))[1][:20]) {
		t.Errorf("the error quotes the key: %v", err)
	}
	if got, _ := os.ReadFile(ak); string(got) != content {
		t.Errorf("a refused edit changed the file")
	}
	ch, err := s.RemoveKey(context.Background(), RemoveRequest{Key: k.Fingerprints.SSH})
	keytest.Must(t, err)
	if got, _ := os.ReadFile(ak); len(ch.Edits) != 1 || ch.Edits[0].Kind != KindCertAuthority || len(got) != 0 {
		t.Errorf("remove a CA line: %+v, file %q", ch.Edits, got)
	}
	// A file that cannot be read is named.
	gone := sshSystem(t, filepath.Join(dir, "missing", "authorized_keys"))
	if _, err := gone.RemoveKey(context.Background(), RemoveRequest{Key: k.Fingerprints.SSH}); err != nil {
		t.Errorf("a glob matching nothing: %v", err)
	}
	// A file the edit cannot replace safely (a second hard link would
	// keep the old line) is named, and left as it is.
	keytest.Must(t, os.WriteFile(ak, []byte(content), 0o600))
	keytest.Must(t, os.Link(ak, ak+".bak"))
	_, err = s.RemoveKey(context.Background(), RemoveRequest{Key: k.Fingerprints.SSH})
	if err == nil || !strings.Contains(err.Error(), ak) || !strings.Contains(err.Error(), "hard links") {
		t.Errorf("a file with two links: %v", err)
	}
	if got, _ := os.ReadFile(ak); string(got) != content {
		t.Errorf("a refused edit changed the file")
	}
}
