// Package tlsfiles delivers a replacement key and certificate where a TLS
// server or client reads them: PEM files (certificate, chain, key) and a
// Kubernetes TLS Secret manifest (data."tls.crt" and data."tls.key",
// base64). Files are replaced atomically keeping their owner and mode
// (package atomicfile); a key file is never left readable by others; a
// manifest is edited in place by package file's YAML editor, so its
// comments, order and other fields stay as written. Nothing here prints
// or returns the key; errors name the file.
package tlsfiles

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/rekeyhq/rekey/internal/atomicfile"
	"github.com/rekeyhq/rekey/internal/deliver"
	"github.com/rekeyhq/rekey/internal/deliver/file"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/secret"
)

// Bundle is what is delivered: the new private key and its certificate
// with the chain up to (not always including) the root.
type Bundle struct {
	Key   secret.Secret // PEM
	Cert  []byte        // the leaf, PEM
	Chain []byte        // the CA certificates, PEM
}

// Modes of files created by a delivery. An existing file keeps its own
// (a key file minus any permission for others).
const (
	KeyMode  os.FileMode = 0o600
	CertMode os.FileMode = 0o644
)

// Files are the PEM files of one consumer. Cert receives the leaf, and
// the chain too when FullChain is set (nginx's ssl_certificate); Chain,
// when set, the chain alone; Key the private key.
type Files struct {
	Cert      string
	Chain     string
	Key       string
	FullChain bool
}

const op = "deliver tls"

// Describe names the files.
func (f Files) Describe() string {
	s := fmt.Sprintf("tls files cert %s key %s", f.Cert, f.Key)
	if f.Chain != "" {
		s += " chain " + f.Chain
	}
	return s
}

// Write puts b in the files, key first: each file is replaced atomically,
// so a reader sees the old or the new file, never half of one, but not
// both files at once; the consumer's reload (deliver.Reload) after Write
// is what makes it take the new pair. Files holding b already are left
// untouched, so Write may be repeated; it reports whether any changed.
func (f Files) Write(ctx context.Context, b Bundle) (changed bool, err error) {
	if f.Cert == "" || f.Key == "" {
		return false, errs.New(op, errs.Invalid, f.Cert, "a TLS files delivery needs cert and key")
	}
	if b.Key.IsZero() || len(b.Cert) == 0 {
		return false, errs.New(op, errs.Invalid, f.Cert, "nothing to deliver: no key or certificate")
	}
	cert := b.Cert
	if f.FullChain {
		cert = append(append([]byte(nil), b.Cert...), b.Chain...)
	}
	type one struct {
		path      string
		data      []byte
		mode, clr os.FileMode
	}
	files := []one{{f.Key, b.Key.Reveal(), KeyMode, 0o007}, {f.Cert, cert, CertMode, 0}}
	if f.Chain != "" {
		files = append(files, one{f.Chain, b.Chain, CertMode, 0})
	}
	for _, w := range files {
		if err := ctx.Err(); err != nil {
			return changed, err
		}
		c, err := atomicfile.Write(op, w.path, w.data, w.mode, w.clr)
		if err != nil {
			return changed, err
		}
		changed = changed || c
	}
	return changed, nil
}

// Manifest is a Kubernetes Secret manifest file of type kubernetes.io/tls
// holding one Secret with data."tls.crt".
type Manifest struct {
	Path string
}

// Describe names the manifest.
func (m Manifest) Describe() string { return "kubernetes tls secret manifest " + m.Path }

// Write puts b's key in data."tls.key" and the leaf with its chain in
// data."tls.crt", both base64, in one atomic replacement of the file that
// changes those two values' bytes only. A manifest holding b already is
// left untouched. A file with several TLS Secrets, or whose Secret uses
// stringData, is refused (Unsupported): which one is meant is not known.
func (m Manifest) Write(ctx context.Context, b Bundle) error {
	if err := m.check(); err != nil {
		return err
	}
	t, err := m.editor()
	if err != nil {
		return err
	}
	key := secret.FromString(base64.StdEncoding.EncodeToString(b.Key.Reveal()))
	defer key.Wipe()
	crt := base64.StdEncoding.EncodeToString(append(append([]byte(nil), b.Cert...), b.Chain...))
	return t.Write(ctx, deliver.Value{User: crt, Secret: key})
}

// editor is package file's YAML editor on the manifest. The file target
// writes a secret and a login name in one edit: here the key is the
// secret and the certificate stands in the name's place, so both change
// in the same rename.
func (m Manifest) editor() (*file.Target, error) {
	return file.New(file.Config{Path: m.Path, Format: "yaml", Key: "data.tls.key", UserKey: "data.tls.crt"})
}

// current reads the key and the certificate (with its chain) from the
// manifest, base64 decoded.
func (m Manifest) current(ctx context.Context) (deliver.State, error) {
	if err := m.check(); err != nil {
		return deliver.State{}, err
	}
	t, err := m.editor()
	if err != nil {
		return deliver.State{}, err
	}
	st, err := t.Current(ctx)
	if err != nil {
		return deliver.State{}, err
	}
	key, kerr := base64.StdEncoding.DecodeString(string(st.Secret.Reveal()))
	crt, cerr := base64.StdEncoding.DecodeString(st.User)
	st.Secret.Wipe()
	defer clear(key)
	if kerr != nil || cerr != nil {
		return deliver.State{}, errs.New(op, errs.Invalid, m.Path, "data.tls.key or data.tls.crt is not base64")
	}
	return deliver.State{User: string(crt), Secret: secret.New(key)}, nil
}

// check counts the manifest's Secrets with a tls.crt.
func (m Manifest) check() error {
	data, err := os.ReadFile(m.Path)
	if err != nil {
		return errs.FS(op, m.Path, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	n := 0
	for {
		var obj struct {
			Kind       string            `yaml:"kind"`
			Data       map[string]any    `yaml:"data"`
			StringData map[string]string `yaml:"stringData"`
		}
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return errs.New(op, errs.Invalid, m.Path, "not a YAML manifest")
		}
		if obj.Kind != "Secret" {
			continue
		}
		if _, ok := obj.StringData["tls.crt"]; ok {
			return errs.New(op, errs.Unsupported, m.Path, "the Secret gives tls.crt as stringData: rekey writes data (base64)")
		}
		if _, ok := obj.Data["tls.crt"]; ok {
			n++
		}
	}
	switch {
	case n == 0:
		return errs.New(op, errs.NotFound, m.Path, "no Secret with data.tls.crt")
	case n > 1:
		return errs.New(op, errs.Unsupported, m.Path, fmt.Sprintf("%d TLS Secrets in one file: deliver to a file holding one", n))
	}
	return nil
}
