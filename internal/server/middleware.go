package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// securityHeaders sets the headers every response carries, API and pages
// alike: nothing may be framed, sniffed, or leak its URL to another site,
// and no script or style comes from anywhere but this server.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// requestInfo is what a handler learns about its request that the log
// line needs (the actor, an error the client did not see in full).
type requestInfo struct {
	actor string
	err   string
}

type infoKey struct{}

func setActor(r *http.Request, actor string) {
	if ri, ok := r.Context().Value(infoKey{}).(*requestInfo); ok {
		ri.actor = actor
	}
}

func setError(r *http.Request, err error) {
	if ri, ok := r.Context().Value(infoKey{}).(*requestInfo); ok && err != nil {
		ri.err = oneLine(err.Error())
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// Flush lets event streams through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logLine is one request in the server's log. The query string is left
// out (a client may put anything there) and so are headers: the log must
// never hold a token.
type logLine struct {
	Time   string  `json:"time"`
	Method string  `json:"method"`
	Path   string  `json:"path"`
	Status int     `json:"status"`
	Bytes  int     `json:"bytes"`
	Millis float64 `json:"ms"`
	Actor  string  `json:"actor,omitempty"`
	Remote string  `json:"remote,omitempty"`
	Error  string  `json:"error,omitempty"`
}

func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &requestInfo{}
		r = r.WithContext(context.WithValue(r.Context(), infoKey{}, ri))
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if s.cfg.Log == nil {
			return
		}
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		remote := r.RemoteAddr
		if i := strings.LastIndexByte(remote, ':'); i > 0 {
			remote = remote[:i]
		}
		b, _ := json.Marshal(logLine{
			Time: start.UTC().Format(time.RFC3339Nano), Method: r.Method, Path: r.URL.Path,
			Status: sw.status, Bytes: sw.bytes, Millis: float64(time.Since(start).Microseconds()) / 1000,
			Actor: ri.actor, Remote: remote, Error: ri.err,
		})
		s.logMu.Lock()
		defer s.logMu.Unlock()
		_, _ = s.cfg.Log.Write(append(b, '\n'))
	})
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
