package identity

import (
	"errors"
	"fmt"
)

// Reason is why a workload token was refused, in a form a machine can act
// on: the server puts it in the error envelope's reasons and in the audit
// log, next to the human message.
type Reason string

// The reasons a token is refused. Unavailable is the one that is not the
// token's fault: the issuer's keys could not be fetched, and the caller
// should answer 503, not 401.
const (
	Malformed     Reason = "malformed"       // not a signed JWT, or a required claim is missing or of the wrong type
	AlgNone       Reason = "alg-none"        // unsigned ("alg": "none")
	AlgNotAllowed Reason = "alg-not-allowed" // HS* (a shared secret) or an algorithm outside the allow-list
	UnknownIssuer Reason = "unknown-issuer"  // iss (or the SPIFFE trust domain) is not one the broker trusts
	BadSignature  Reason = "bad-signature"   // no key of the issuer (with the token's kid) verifies it
	Expired       Reason = "expired"         // exp is in the past, beyond the leeway
	NotYetValid   Reason = "not-yet-valid"   // nbf or iat is in the future, beyond the leeway
	WrongAudience Reason = "wrong-audience"  // aud does not name the audience configured for the issuer
	Unavailable   Reason = "issuer-unavailable"
)

// Refusal is a token the verifier did not accept. Its message never holds
// the token or any part of its signature; it may quote claims (an issuer,
// a key id), cut short, because they say which configuration to look at.
type Refusal struct {
	Reason Reason
	// Issuer is the inventory name of the issuer the token was checked
	// against, "" when none was chosen.
	Issuer string
	Msg    string
	// Err is the library error behind the refusal, if any; it never holds
	// the token either (go-jose and go-oidc do not quote it).
	Err error
}

func (r *Refusal) Error() string {
	s := "workload token refused (" + string(r.Reason) + ")"
	if r.Issuer != "" {
		s += ": issuer " + r.Issuer
	}
	return s + ": " + r.Msg
}

func (r *Refusal) Unwrap() error { return r.Err }

// ReasonOf returns the reason of the Refusal in err's chain, or "" when
// err is not a refusal.
func ReasonOf(err error) Reason {
	var r *Refusal
	if errors.As(err, &r) {
		return r.Reason
	}
	return ""
}

func refuse(reason Reason, issuer, format string, a ...any) *Refusal {
	return &Refusal{Reason: reason, Issuer: issuer, Msg: fmt.Sprintf(format, a...)}
}

// quote quotes a value taken from a token for a message, cut short: a
// claim is chosen by whoever minted the token.
func quote(s string) string {
	if r := []rune(s); len(r) > 64 {
		s = string(r[:60]) + "…"
	}
	return fmt.Sprintf("%q", s)
}
