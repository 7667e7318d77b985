// Package apierr is the error side of rekey's HTTP APIs (the server's
// /api/v1 and the broker's /broker/v1, DESIGN "The service"): one
// envelope, {"error":{"kind","message","reasons"?}}, one mapping from an
// errs kind to a status, and one strict JSON body reader, so that the two
// APIs cannot drift apart.
package apierr

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/rekeyhq/rekey/internal/errs"
)

// Error is an answer other than success, with its status, kind and the
// reasons a refusal has (a preflight's problems, a policy's deny set).
type Error struct {
	Status  int
	Kind    string
	Message string
	Reasons []string
}

func (e *Error) Error() string { return e.Message }

// Body is the envelope's content, for clients (rekey agent, tests).
type Body struct {
	Kind    string   `json:"kind"`
	Message string   `json:"message"`
	Reasons []string `json:"reasons,omitempty"`
}

// Envelope is every error response's body.
type Envelope struct {
	Error Body `json:"error"`
}

// New is an *Error of status and kind with a formatted message.
func New(status int, kind, format string, a ...any) *Error {
	return &Error{Status: status, Kind: kind, Message: fmt.Sprintf(format, a...)}
}

// Invalid is a 400.
func Invalid(format string, a ...any) error {
	return New(http.StatusBadRequest, "invalid", format, a...)
}

// From maps any error to its API form: an *Error as it is, an errs kind
// to its status, anything else to a 500 whose message is not sent (it may
// name internals; the caller logs the error itself).
func From(err error) *Error {
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	status, kind := http.StatusInternalServerError, "internal"
	switch errs.KindOf(err) {
	case errs.Invalid, errs.Unsupported:
		status, kind = http.StatusBadRequest, "invalid"
	case errs.NotFound:
		status, kind = http.StatusNotFound, "not-found"
	case errs.Permission:
		status, kind = http.StatusForbidden, "forbidden"
	case errs.Conflict:
		status, kind = http.StatusConflict, "conflict"
	case errs.Unreachable:
		status, kind = http.StatusServiceUnavailable, "unavailable"
	}
	msg := OneLine(err.Error())
	if status == http.StatusInternalServerError {
		msg = "internal error"
	}
	return &Error{Status: status, Kind: kind, Message: msg}
}

// Write sends ae in the envelope.
func Write(w http.ResponseWriter, ae *Error) {
	WriteJSON(w, ae.Status, Envelope{Error: Body{Kind: ae.Kind, Message: ae.Message, Reasons: ae.Reasons}})
}

// WriteJSON sends v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Decode reads r's JSON body into v strictly, reading at most max bytes:
// unknown fields and trailing data are a 400 naming what was wrong, so a
// typo in a field name is not silently ignored. An empty body leaves v as
// it is.
func Decode(r *http.Request, v any, max int64) error {
	if r.Body == nil || r.ContentLength == 0 {
		return nil
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, max))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); errors.Is(err, io.EOF) {
		return nil
	} else if err != nil {
		return Invalid("bad JSON body: %s", OneLine(err.Error()))
	}
	if dec.More() {
		return Invalid("bad JSON body: more than one JSON value")
	}
	return nil
}

// OneLine folds s's whitespace, newlines included, into single spaces.
func OneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
