package sshtrust

import (
	"context"
	"fmt"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/rekeyhq/rekey/internal/errs"
)

// Public returns the public key named key ("SHA256:…") as a trust file
// line of the system holds it: the replacement of a leaked key is made
// like it (same algorithm and size) without the leaked key being read
// again. NotFound when no line trusts the key any more.
func (s *SSH) Public(ctx context.Context, key string) (ssh.PublicKey, error) {
	if err := s.checkKey(key); err != nil {
		return nil, err
	}
	r, err := s.Examine(ctx, key)
	if err != nil {
		return nil, err
	}
	for _, g := range r.Grants {
		data, err := os.ReadFile(g.File)
		if err != nil {
			continue
		}
		lines := strings.Split(string(data), "\n")
		if g.Line < 1 || g.Line > len(lines) {
			continue
		}
		pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(strings.TrimSpace(lines[g.Line-1])))
		if err == nil && ssh.FingerprintSHA256(pub) == key {
			return pub, nil
		}
	}
	return nil, errs.New(s.op, errs.NotFound, "", fmt.Sprintf("no trust file line holds %s", key))
}
