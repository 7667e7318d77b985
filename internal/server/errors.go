package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"sync"

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

// writeJSON writes v as apierr.WriteJSON does, encoded first into a
// reused buffer so that the response carries its Content-Length: a scope
// is larger than net/http's buffer, and was sent chunked, in several
// writes, with a fresh encoder buffer per request.
func writeJSON(w http.ResponseWriter, status int, v any) {
	buf := jsonBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledJSON {
			buf.Reset()
			jsonBuffers.Put(buf)
		}
	}()
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		apierr.WriteJSON(w, status, v) // as before: whatever it makes of v
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

var jsonBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledJSON keeps a rare huge answer (a long incident list) from
// staying allocated in the pool.
const maxPooledJSON = 256 << 10

// maxBody bounds a request body: every request of the API is a few
// fields, and a server must not read an unbounded upload into memory.
const maxBody = 1 << 20

func decode(r *http.Request, v any) error { return apierr.Decode(r, v, maxBody) }
