// Package sshdtest runs a real OpenSSH server for tests: sshd on a
// loopback port, in the foreground (-D -e), with its own host key and
// config, reading authorized_keys from DIR/ak/%u, started by the test and
// stopped in its cleanup. Tests of trust edits log in through it, never
// through a stand-in.
package sshdtest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/rekeyhq/rekey/internal/keys/keytest"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/testutil"
)

// SSHD is a running sshd.
type SSHD struct {
	Addr    string
	AKDir   string // authorized_keys files, one per account name
	HostKey ssh.PublicKey
	Log     *bytes.Buffer
}

// Start runs sshd under dir, or skips the test (fails it under
// REKEY_REQUIRE_SERVICES=1) when Debian's openssh-server is missing.
func Start(t testing.TB, dir string) *SSHD {
	t.Helper()
	bin := testutil.NeedTool(t, "sshd", "apt-get install openssh-server; make test installs it as root")
	if os.Geteuid() == 0 {
		// sshd's privilege separation directory, which the package's
		// service unit creates at boot.
		keytest.Must(t, os.MkdirAll("/run/sshd", 0o755))
	}
	hk := keytest.SSHKey(t, dir, "host_key", "ed25519", "")
	pubBytes, err := os.ReadFile(hk + ".pub")
	keytest.Must(t, err)
	hostPub, _, _, _, err := ssh.ParseAuthorizedKey(pubBytes)
	keytest.Must(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	keytest.Must(t, err)
	addr := l.Addr().String()
	l.Close()
	s := &SSHD{Addr: addr, AKDir: filepath.Join(dir, "ak"), HostKey: hostPub, Log: &bytes.Buffer{}}
	keytest.Must(t, os.MkdirAll(s.AKDir, 0o755))
	conf := filepath.Join(dir, "sshd_config")
	keytest.WriteFile(t, conf, []byte(fmt.Sprintf(`ListenAddress %s
HostKey %s
PidFile none
AuthorizedKeysFile %s/%%u
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
LogLevel VERBOSE
`, addr, hk, s.AKDir)), 0o644)
	cmd := exec.Command(bin, "-D", "-e", "-f", conf)
	cmd.Stdout, cmd.Stderr = s.Log, s.Log
	done := keytest.Daemon(t, cmd)
	for deadline := time.Now().Add(20 * time.Second); ; {
		select {
		case <-done:
			t.Fatalf("sshd exited: %s", s.Log.String())
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd on %s does not answer:\n%s", addr, s.Log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Login logs in as account with the private key (PEM) and runs `true`.
func (s *SSHD) Login(account string, key secret.Secret) error {
	signer, err := ssh.ParsePrivateKey(key.Reveal())
	if err != nil {
		return err
	}
	c, err := ssh.Dial("tcp", s.Addr, &ssh.ClientConfig{User: account, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.FixedHostKey(s.HostKey), Timeout: 20 * time.Second})
	if err != nil {
		return err
	}
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		return err
	}
	defer sess.Close()
	return sess.Run("true")
}
