package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/rekeyhq/rekey/internal/apierr"
)

// apiError is the API's error (package apierr), with the constructors
// for the refusals only the server makes.
type apiError = apierr.Error

// envelope is the body of every error response (DESIGN "The service").
type (
	envelope     = apierr.Envelope
	envelopeBody = apierr.Body
)

func invalid(format string, a ...any) error { return apierr.Invalid(format, a...) }

func unauthorized(format string, a ...any) error {
	return apierr.New(http.StatusUnauthorized, "unauthorized", format, a...)
}

func forbidden(format string, a ...any) error {
	return apierr.New(http.StatusForbidden, "forbidden", format, a...)
}

func asAPIError(err error) *apiError { return apierr.From(err) }

// statusClientGone is what the request log records for a request whose
// client went away before the answer (nginx's 499): the work was cut off
// by the client, not failed by the server, and nobody reads the body.
const statusClientGone = 499

func writeError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil && errors.Is(err, context.Canceled) {
		setError(r, err)
		w.WriteHeader(statusClientGone)
		return
	}
	setError(r, err)
	apierr.Write(w, asAPIError(err))
}

func writeJSON(w http.ResponseWriter, status int, v any) { apierr.WriteJSON(w, status, v) }

// maxBody bounds a request body: every request of the API is a few
// fields, and a server must not read an unbounded upload into memory.
const maxBody = 1 << 20

func decode(r *http.Request, v any) error { return apierr.Decode(r, v, maxBody) }
