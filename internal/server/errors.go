package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/rekeyhq/rekey/internal/errs"
)

// apiError is an error with the API's kind, status and optional reasons
// (a preflight's problems, a policy's deny set).
type apiError struct {
	Status  int
	Kind    string
	Message string
	Reasons []string
}

func (e *apiError) Error() string { return e.Message }

func invalid(format string, a ...any) error {
	return &apiError{Status: http.StatusBadRequest, Kind: "invalid", Message: fmt.Sprintf(format, a...)}
}

func unauthorized(format string, a ...any) error {
	return &apiError{Status: http.StatusUnauthorized, Kind: "unauthorized", Message: fmt.Sprintf(format, a...)}
}

func forbidden(format string, a ...any) error {
	return &apiError{Status: http.StatusForbidden, Kind: "forbidden", Message: fmt.Sprintf(format, a...)}
}

// envelope is the body of every error response (DESIGN "The service").
type envelope struct {
	Error envelopeBody `json:"error"`
}

type envelopeBody struct {
	Kind    string   `json:"kind"`
	Message string   `json:"message"`
	Reasons []string `json:"reasons,omitempty"`
}

// asAPIError maps any error to its API form: an *apiError as it is, an
// errs kind to its status, anything else to a 500 whose message is kept
// for the log but not sent (it may name internals).
func asAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	status, kind := http.StatusInternalServerError, "internal"
	switch errs.KindOf(err) {
	case errs.Invalid:
		status, kind = http.StatusBadRequest, "invalid"
	case errs.NotFound:
		status, kind = http.StatusNotFound, "not-found"
	case errs.Permission:
		status, kind = http.StatusForbidden, "forbidden"
	case errs.Conflict:
		status, kind = http.StatusConflict, "conflict"
	case errs.Unreachable:
		status, kind = http.StatusServiceUnavailable, "unavailable"
	case errs.Unsupported:
		status, kind = http.StatusBadRequest, "invalid"
	}
	msg := err.Error()
	if status == http.StatusInternalServerError {
		msg = "internal error"
	}
	return &apiError{Status: status, Kind: kind, Message: msg}
}

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
	ae := asAPIError(err)
	setError(r, err)
	writeJSON(w, ae.Status, envelope{Error: envelopeBody{Kind: ae.Kind, Message: ae.Message, Reasons: ae.Reasons}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

// maxBody bounds a request body: every request of the API is a few
// fields, and a server must not read an unbounded upload into memory.
const maxBody = 1 << 20

// decode reads r's JSON body into v strictly: unknown fields and trailing
// data are a 400 naming what was wrong, so a typo in a field name is not
// silently ignored. An empty body leaves v as it is.
func decode(r *http.Request, v any) error {
	if r.Body == nil || r.ContentLength == 0 {
		return nil
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid("bad JSON body: %s", oneLine(err.Error()))
	}
	if dec.More() {
		return invalid("bad JSON body: more than one JSON value")
	}
	return nil
}
