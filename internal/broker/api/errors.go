package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/rekeyhq/rekey/internal/errs"
)

// apiError is an answer other than success, in the service's error
// envelope: {"error":{"kind","message","reasons"?}} (DESIGN "The
// service"; internal/server writes the same shape for the API's routes).
type apiError struct {
	Status  int
	Kind    string
	Message string
	Reasons []string
}

func (e *apiError) Error() string { return e.Message }

// ErrorBody is the envelope's content, for clients (rekey agent).
type ErrorBody struct {
	Kind    string   `json:"kind"`
	Message string   `json:"message"`
	Reasons []string `json:"reasons,omitempty"`
}

// Envelope is every error response's body.
type Envelope struct {
	Error ErrorBody `json:"error"`
}

func invalid(format string, a ...any) error {
	return &apiError{Status: http.StatusBadRequest, Kind: "invalid", Message: fmt.Sprintf(format, a...)}
}

// asAPIError maps an error to its status and kind by its errs kind; an
// error of no known kind is a 500 whose message is not sent (it may name
// internals).
func asAPIError(err error) *apiError {
	var ae *apiError
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
	msg := oneLine(err.Error())
	if status == http.StatusInternalServerError {
		msg = "internal error"
	}
	return &apiError{Status: status, Kind: kind, Message: msg}
}

func writeError(w http.ResponseWriter, ae *apiError) {
	writeJSON(w, ae.Status, Envelope{Error: ErrorBody{Kind: ae.Kind, Message: ae.Message, Reasons: ae.Reasons}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// maxBody bounds a request body: a role and a TTL.
const maxBody = 64 << 10

// decode reads r's JSON body into v strictly (unknown fields are a 400);
// an empty body leaves v as it is.
func decode(r *http.Request, v any) error {
	if r.Body == nil || r.ContentLength == 0 {
		return nil
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); errors.Is(err, io.EOF) {
		return nil
	} else if err != nil {
		return invalid("bad JSON body: %s", oneLine(err.Error()))
	}
	if dec.More() {
		return invalid("bad JSON body: more than one JSON value")
	}
	return nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
