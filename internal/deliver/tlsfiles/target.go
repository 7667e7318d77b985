package tlsfiles

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rekeyhq/rekey/internal/atomicfile"
	"github.com/rekeyhq/rekey/internal/deliver"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/secret"
)

// Target is a tls-files or key-file delivery as the engine's
// deliver.Target: Value.Secret is the private key (PEM) and Value.User the
// certificate followed by its chain (PEM), which a key file does not take.
// Carrying the certificate where a password's login name goes lets the
// engine's rollback put back what the files held with the same two
// fields.
type Target struct {
	Files Files
	// KeyOnly marks a key-file delivery: the key and nothing else.
	KeyOnly bool
	// Manifest, when set, is a Kubernetes TLS Secret manifest the key and
	// certificate go into instead of Files.
	Manifest *Manifest
}

var _ deliver.Target = (*Target)(nil)

// FromInventory opens a tls-files or key-file delivery, its paths taken
// from the inventory's directory.
func FromInventory(inv *inventory.Inventory, d *inventory.Delivery) (*Target, error) {
	switch {
	case d == nil:
		return nil, errs.New(op, errs.Invalid, "", "no delivery")
	case d.Type == inventory.DeliverKeyFile:
		return &Target{Files: Files{Key: inv.Abs(d.Path)}, KeyOnly: true}, nil
	case d.Type == inventory.DeliverTLSSecretManifest:
		return &Target{Manifest: &Manifest{Path: inv.Abs(d.Path)}}, nil
	case d.Type != inventory.DeliverTLSFiles:
		return nil, errs.New(op, errs.Invalid, "", "not a tls-files delivery")
	}
	f := Files{Cert: inv.Abs(d.Cert), Key: inv.Abs(d.Path), FullChain: d.FullChain}
	if d.Chain != "" {
		f.Chain = inv.Abs(d.Chain)
	}
	return &Target{Files: f}, nil
}

// Describe names the files.
func (t *Target) Describe() string {
	if t.Manifest != nil {
		return t.Manifest.Describe()
	}
	if t.KeyOnly {
		return "key file " + t.Files.Key
	}
	return t.Files.Describe()
}

// Current reads the key file and the certificate (with the chain file's
// certificates when it has one). A missing key file is NotFound.
func (t *Target) Current(ctx context.Context) (deliver.State, error) {
	if t.Manifest != nil {
		return t.Manifest.current(ctx)
	}
	key, err := os.ReadFile(t.Files.Key)
	if err != nil {
		return deliver.State{}, errs.FS(op, t.Files.Key, err)
	}
	st := deliver.State{Secret: secret.New(key)}
	clear(key)
	if t.KeyOnly {
		return st, nil
	}
	var certs []byte
	for _, p := range []string{t.Files.Cert, t.Files.Chain} {
		if p == "" || p == t.Files.Cert && len(certs) > 0 {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return deliver.State{}, errs.FS(op, p, err)
		}
		certs = append(certs, b...)
	}
	st.User = string(certs)
	return st, nil
}

// split is v's certificate PEM: the first certificate, then the rest.
func split(pemText string) (leaf, chain []byte) {
	rest := []byte(pemText)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return leaf, chain
		}
		enc := pem.EncodeToMemory(&pem.Block{Type: b.Type, Bytes: b.Bytes})
		if leaf == nil {
			leaf = enc
		} else {
			chain = append(chain, enc...)
		}
	}
}

// Plan says which files Write would replace, changing nothing.
func (t *Target) Plan(ctx context.Context, v deliver.Value) (deliver.Change, error) {
	ch := deliver.Change{Target: t.Describe()}
	cur, err := t.Current(ctx)
	if err != nil && errs.KindOf(err) != errs.NotFound {
		return ch, err
	}
	if t.Manifest != nil {
		ed, err := t.Manifest.editor()
		if err != nil {
			return ch, err
		}
		key := secret.FromString(base64.StdEncoding.EncodeToString(v.Secret.Reveal()))
		defer key.Wipe()
		return ed.Plan(ctx, deliver.Value{Secret: key, User: base64.StdEncoding.EncodeToString([]byte(v.User))})
	}
	e := deliver.Edit{Where: t.Files.Key, Key: "private key", Form: "pem"}
	if !cur.Secret.Equal(v.Secret) {
		e.Parts = []deliver.Part{deliver.PartPassword}
	}
	ch.Edits = append(ch.Edits, e)
	if !t.KeyOnly {
		e := deliver.Edit{Where: t.Files.Cert, Key: "certificate", Form: "pem"}
		if cur.User != v.User {
			e.Parts = []deliver.Part{deliver.PartUser}
		}
		if t.Files.Chain != "" {
			e.Note = "chain in " + t.Files.Chain
		}
		ch.Edits = append(ch.Edits, e)
	}
	return ch, nil
}

// Write puts v's key (and certificate and chain) in the files, each
// replaced atomically (Files.Write); files already holding them are left
// as they are.
func (t *Target) Write(ctx context.Context, v deliver.Value) error {
	if t.KeyOnly {
		if v.Secret.IsZero() {
			return errs.New(op, errs.Invalid, t.Files.Key, "nothing to deliver: no key")
		}
		_, err := atomicfile.Write(op, t.Files.Key, v.Secret.Reveal(), KeyMode, 0o007)
		return err
	}
	leaf, chain := split(v.User)
	if leaf == nil {
		return errs.New(op, errs.Invalid, t.Files.Cert, "nothing to deliver: no certificate")
	}
	if t.Manifest != nil {
		return t.Manifest.Write(ctx, Bundle{Key: v.Secret, Cert: leaf, Chain: chain})
	}
	_, err := t.Files.Write(ctx, Bundle{Key: v.Secret, Cert: leaf, Chain: chain})
	return err
}

// Check reads the files as Write will: each is a regular file or absent,
// and its directory exists and is writable.
func (t *Target) Check(ctx context.Context) error {
	if t.Manifest != nil {
		return t.Manifest.check()
	}
	for _, p := range []string{t.Files.Key, t.Files.Cert, t.Files.Chain} {
		if p == "" {
			continue
		}
		if fi, err := os.Lstat(p); err == nil && !fi.Mode().IsRegular() && fi.Mode()&os.ModeSymlink == 0 {
			return errs.New(op, errs.Invalid, p, fmt.Sprintf("not a regular file (%s)", fi.Mode().Type()))
		} else if err != nil && !errors.Is(err, os.ErrNotExist) {
			return errs.FS(op, p, err)
		}
		dir := filepath.Dir(p)
		f, err := os.CreateTemp(dir, ".rekey-check-*")
		if err != nil {
			return errs.FS(op, dir, err)
		}
		f.Close()
		os.Remove(f.Name())
	}
	return nil
}
