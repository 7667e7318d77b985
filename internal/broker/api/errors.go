package api

import (
	"net/http"

	"github.com/rekeyhq/rekey/internal/apierr"
)

// apiError is an answer other than success, in the service's error
// envelope (package apierr, which internal/server writes too).
type apiError = apierr.Error

// ErrorBody and Envelope are the envelope, for clients (rekey agent).
type (
	ErrorBody = apierr.Body
	Envelope  = apierr.Envelope
)

func invalid(format string, a ...any) error { return apierr.Invalid(format, a...) }

func asAPIError(err error) *apiError { return apierr.From(err) }

func writeError(w http.ResponseWriter, ae *apiError) { apierr.Write(w, ae) }

func writeJSON(w http.ResponseWriter, status int, v any) { apierr.WriteJSON(w, status, v) }

// maxBody bounds a request body: a role and a TTL.
const maxBody = 64 << 10

func decode(r *http.Request, v any) error { return apierr.Decode(r, v, maxBody) }

func oneLine(s string) string { return apierr.OneLine(s) }
