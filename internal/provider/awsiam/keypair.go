package awsiam

import (
	"bufio"
	"bytes"
	"regexp"
	"strings"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/secret"
)

// KeyPair is an AWS access key as a person hands it over: the public key
// id, which names the key and may be printed, and the secret access key,
// which may not.
type KeyPair struct {
	ID     string
	Secret secret.Secret
}

// keyIDPattern is an access key id: AKIA for a long-term key, ASIA for a
// temporary one, then 16 upper-case letters and digits.
var keyIDPattern = regexp.MustCompile(`^A[KS]IA[A-Z0-9]{16}$`)

// ParseKeyPair reads "KEY_ID:SECRET" or a block of an AWS credentials file
// ("[profile]", "aws_access_key_id = …", "aws_secret_access_key = …").
// ok is false when b is neither (a plain password: not an error); err is
// set when b looks like a key pair but is incomplete or ambiguous. The
// error names no part of the secret.
func ParseKeyPair(b []byte) (pair KeyPair, ok bool, err error) {
	b = bytes.TrimSpace(b)
	if id, sec, found := bytes.Cut(b, []byte(":")); found && keyIDPattern.Match(id) {
		if len(sec) == 0 || bytes.ContainsAny(sec, " \t\r\n") {
			return KeyPair{}, false, errs.New("read secret", errs.Invalid, "", "an AWS key pair is KEY_ID:SECRET with a secret and no spaces after the colon")
		}
		return KeyPair{ID: string(id), Secret: secret.New(bytes.Clone(sec))}, true, nil
	}
	var ids, secrets []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, found := strings.Cut(sc.Text(), "=")
		if !found {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "aws_access_key_id":
			ids = append(ids, strings.TrimSpace(v))
		case "aws_secret_access_key":
			secrets = append(secrets, strings.TrimSpace(v))
		}
	}
	switch {
	case len(ids) == 0 && len(secrets) == 0:
		return KeyPair{}, false, nil
	case len(ids) != 1 || len(secrets) != 1:
		return KeyPair{}, false, errs.New("read secret", errs.Invalid, "", "an AWS credentials block must hold exactly one aws_access_key_id and one aws_secret_access_key (give one profile)")
	case !keyIDPattern.MatchString(ids[0]):
		return KeyPair{}, false, errs.New("read secret", errs.Invalid, "", "aws_access_key_id "+ids[0]+" is not an access key id (AKIA… or ASIA…, 20 characters)")
	case secrets[0] == "":
		return KeyPair{}, false, errs.New("read secret", errs.Invalid, "", "aws_secret_access_key is empty")
	}
	return KeyPair{ID: ids[0], Secret: secret.FromString(secrets[0])}, true, nil
}
