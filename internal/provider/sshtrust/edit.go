package sshtrust

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/rekeyhq/rekey/internal/atomicfile"
	"github.com/rekeyhq/rekey/internal/errs"
)

// Actions on a trust file line.
const (
	ActionRemoved  = "removed"
	ActionAdded    = "added"
	ActionReplaced = "replaced"
)

// LineEdit is one line changed in a trust file. It names the file, the
// line (as it was numbered before the edit; for an added line, the line
// it was added after) and the account; never the key itself.
type LineEdit struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Account string `json:"account,omitempty"`
	Action  string `json:"action"`
	Kind    string `json:"kind"`
}

// TrustChange is what an edit did. Empty Edits: nothing needed doing.
type TrustChange struct {
	Edits []LineEdit `json:"edits"`
}

// RemoveRequest names the leaked key whose trust is removed.
type RemoveRequest struct {
	// Key is its OpenSSH fingerprint, "SHA256:…".
	Key string
}

// AddRequest names the leaked key and its replacement.
type AddRequest struct {
	// Like is the leaked key's fingerprint: the new key is trusted
	// wherever it is, with the same options.
	Like string
	// New is the replacement public key.
	New ssh.PublicKey
	// Comment ends the new lines; "" keeps each old line's comment.
	Comment string
}

// RemoveKey deletes every line of the system's authorized_keys and
// TrustedUserCAKeys files that trusts req.Key: the "remove trust" half of
// a response, which an emergency plan runs first. Side effects: each file
// holding such a line is rewritten atomically, keeping its owner, group
// and mode (atomicfile). Idempotent: a key no longer trusted changes
// nothing. Errors name the file, never a key.
func (s *SSH) RemoveKey(ctx context.Context, req RemoveRequest) (*TrustChange, error) {
	if err := s.checkKey(req.Key); err != nil {
		return nil, err
	}
	return s.edit(ctx, true, func(path, kind string, n int, line string, pub ssh.PublicKey) ([]string, *LineEdit) {
		if ssh.FingerprintSHA256(pub) != req.Key {
			return nil, nil
		}
		return []string{}, &LineEdit{Action: ActionRemoved}
	})
}

// AddKey adds, after each authorized_keys line that trusts req.Like, a
// line trusting req.New with the same options: the "add new" half, which
// a graceful plan runs first (both keys log in until RemoveKey). Side
// effects as RemoveKey. Idempotent: a file whose line is already
// followed by the new key is left as it is. A user CA line
// (cert-authority, TrustedUserCAKeys) is refused as Unsupported:
// trusting a new CA key is useless until user certificates are signed
// again with it, which rekey does not do.
func (s *SSH) AddKey(ctx context.Context, req AddRequest) (*TrustChange, error) {
	return s.addOrReplace(ctx, req, ActionAdded)
}

// ReplaceKey replaces, in each authorized_keys line that trusts
// req.Like, the key with req.New, keeping the line's options (and its
// comment unless req.Comment is set): remove and add in one atomic write
// per file. Side effects, idempotence and refusals as AddKey: a file that
// already holds the new key in place of the old is left alone.
func (s *SSH) ReplaceKey(ctx context.Context, req AddRequest) (*TrustChange, error) {
	return s.addOrReplace(ctx, req, ActionReplaced)
}

func (s *SSH) addOrReplace(ctx context.Context, req AddRequest, action string) (*TrustChange, error) {
	if err := s.checkKey(req.Like); err != nil {
		return nil, err
	}
	if req.New == nil {
		return nil, errs.New(s.op, errs.Invalid, "", "no new public key")
	}
	newFP := ssh.FingerprintSHA256(req.New)
	if newFP == req.Like {
		return nil, errs.New(s.op, errs.Invalid, "", "the new key is the leaked one")
	}
	if strings.ContainsAny(req.Comment, "\r\n") {
		return nil, errs.New(s.op, errs.Invalid, "", "a comment with a line break")
	}
	return s.edit(ctx, false, func(path, kind string, n int, line string, pub ssh.PublicKey) ([]string, *LineEdit) {
		if ssh.FingerprintSHA256(pub) != req.Like {
			return nil, nil
		}
		if kind != KindAuthorizedKey {
			return nil, &LineEdit{Action: "refused", Kind: kind}
		}
		repl := withKey(line, pub, req.New, req.Comment)
		if action == ActionReplaced {
			return []string{repl}, &LineEdit{Action: ActionReplaced}
		}
		return []string{line, repl}, &LineEdit{Action: ActionAdded}
	})
}

// withKey is line with old's key type and blob swapped for new's, and
// its comment for comment when comment is set. Options and spacing stay.
func withKey(line string, old, nw ssh.PublicKey, comment string) string {
	oldField := old.Type() + " " + base64.StdEncoding.EncodeToString(old.Marshal())
	newField := nw.Type() + " " + base64.StdEncoding.EncodeToString(nw.Marshal())
	i := strings.Index(line, oldField)
	if i < 0 {
		// Keys written with unusual spacing: rebuild from the parts.
		_, cmt, opts, _, _ := ssh.ParseAuthorizedKey([]byte(line))
		if comment == "" {
			comment = cmt
		}
		out := newField
		if len(opts) > 0 {
			out = strings.Join(opts, ",") + " " + out
		}
		if comment != "" {
			out += " " + comment
		}
		return out
	}
	out := line[:i] + newField
	rest := line[i+len(oldField):]
	if comment != "" {
		rest = " " + comment
	}
	return out + rest
}

func (s *SSH) checkKey(key string) error {
	if !strings.HasPrefix(key, "SHA256:") || len(key) != len("SHA256:")+43 {
		return errs.New(s.op, errs.Invalid, "", fmt.Sprintf("%q is not a key name: want an OpenSSH fingerprint, SHA256: and 43 base64 characters", key))
	}
	return nil
}

// lineFunc decides a matching line's fate: the lines to write in its
// place (nil: keep it as it is) and what happened. An edit whose Action
// is "refused" stops the whole change.
type lineFunc func(path, kind string, n int, line string, pub ssh.PublicKey) ([]string, *LineEdit)

// edit applies f to every parsed line of the system's authorized_keys
// files (and TrustedUserCAKeys files when withCA), and rewrites each file
// that changes. Files are checked first and written after, so a refusal
// changes nothing.
func (s *SSH) edit(ctx context.Context, withCA bool, f lineFunc) (*TrustChange, error) {
	type pending struct {
		path     string
		old, new []byte
	}
	var writes []pending
	ch := &TrustChange{Edits: []LineEdit{}}
	var files []struct{ path, kind string }
	var rd examination
	pl := s.places
	if withCA {
		for _, g := range pl.TrustedUserCAKeys {
			for _, p := range rd.Glob(pl.Abs(g), g) {
				files = append(files, struct{ path, kind string }{p, KindTrustedUserCA})
			}
		}
	}
	for _, g := range pl.AuthorizedKeys {
		for _, p := range rd.Glob(pl.Abs(g), g) {
			files = append(files, struct{ path, kind string }{p, KindAuthorizedKey})
		}
	}
	for _, fl := range files {
		if err := ctx.Err(); err != nil {
			return nil, errs.E(s.op, errs.Other, "", err)
		}
		data, err := os.ReadFile(fl.path)
		if err != nil {
			return nil, errs.FS(s.op, fl.path, err)
		}
		account := ""
		if fl.kind == KindAuthorizedKey {
			account = accountOf(fl.path)
		}
		lines := strings.SplitAfter(string(data), "\n")
		var out strings.Builder
		var edits []LineEdit
		for i := 0; i < len(lines); i++ {
			raw := lines[i]
			body, nl := strings.CutSuffix(raw, "\n")
			trimmed := strings.TrimSpace(body)
			pub, _, opts, _, perr := ssh.ParseAuthorizedKey([]byte(trimmed))
			if trimmed == "" || strings.HasPrefix(trimmed, "#") || perr != nil {
				out.WriteString(raw)
				continue
			}
			kind := fl.kind
			if kind == KindAuthorizedKey && hasOption(opts, "cert-authority") {
				kind = KindCertAuthority
			}
			repl, e := f(fl.path, kind, i+1, body, pub)
			if e == nil {
				out.WriteString(raw)
				continue
			}
			e.File, e.Line, e.Account, e.Kind = fl.path, i+1, account, kind
			if e.Action == "refused" {
				return nil, errs.New(s.op, errs.Unsupported, fmt.Sprintf("%s:%d", fl.path, i+1),
					"a user CA line (cert-authority or TrustedUserCAKeys): a new CA key is of no use until user certificates are signed with it, which rekey does not do; remove the line (RemoveKey) and re-sign by hand")
			}
			if len(repl) > 0 && i+1 < len(lines) && strings.TrimSpace(strings.TrimSuffix(lines[i+1], "\n")) == strings.TrimSpace(repl[len(repl)-1]) {
				if e.Action == ActionAdded {
					out.WriteString(raw) // already added after it
					continue
				}
				// Replacing after an AddKey: the new line is there, the
				// old one goes.
				repl = nil
			}
			for j, r := range repl {
				out.WriteString(r)
				// A last line without a newline stays without one.
				if nl || j < len(repl)-1 {
					out.WriteString("\n")
				}
			}
			edits = append(edits, *e)
		}
		if len(edits) > 0 && !bytes.Equal([]byte(out.String()), data) {
			writes = append(writes, pending{fl.path, data, []byte(out.String())})
			ch.Edits = append(ch.Edits, edits...)
		}
	}
	for _, w := range writes {
		if err := atomicfile.Replace(s.op, w.path, w.new, w.old, 0, nil); err != nil {
			return nil, err
		}
	}
	return ch, nil
}
