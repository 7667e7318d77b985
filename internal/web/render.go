package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/errs"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed assets
var assetFiles embed.FS

func assetFS() fs.FS {
	sub, err := fs.Sub(assetFiles, "assets")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}

// pages holds one template set per page, each with the layout.
type pages struct {
	sets map[string]*template.Template
}

var funcs = template.FuncMap{
	"ts": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return "—"
			}
			return v.UTC().Format("2006-01-02 15:04 UTC")
		case *time.Time:
			if v == nil || v.IsZero() {
				return "—"
			}
			return v.UTC().Format("2006-01-02 15:04 UTC")
		}
		return fmt.Sprint(t)
	},
	"riskClass": func(score int) string {
		switch {
		case score >= 75:
			return "risk-critical"
		case score >= 50:
			return "risk-high"
		case score >= 25:
			return "risk-medium"
		}
		return "risk-low"
	},
	"lower": strings.ToLower,
	"join":  strings.Join,
	"short": func(s string, n int) string {
		if len(s) <= n {
			return s
		}
		return s[:n]
	},
}

func parsePages() *pages {
	p := &pages{sets: map[string]*template.Template{}}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		p.sets[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", n))
	}
	return p
}

// layout is what every page's frame shows: who is signed in, and the
// CSRF token of the sign-out form.
type layout struct {
	// Refresh moves the browser on to the incidents by itself (after an
	// OIDC sign-in; see oidcCallback).
	Refresh bool
	Title   string
	User    *auth.Principal
	CSRF    string
	Page    any
}

// render writes page name inside the layout. It renders into a buffer
// first so that a template error is a clean 500, not half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, s *session, title string, data any) {
	t := h.pages.sets[name]
	l := layout{Title: title, User: principalOf(s), Page: data, Refresh: name == "continue"}
	if s != nil {
		l.CSRF = csrfToken(s.id, labelCSRF)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", l); err != nil {
		http.Error(w, "internal error rendering "+name, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type errorData struct {
	Status  int
	Message string
}

func (h *Handler) error(w http.ResponseWriter, r *http.Request, s *session, status int, msg string) {
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
		return
	}
	h.render(w, r, status, "error", s, http.StatusText(status), errorData{Status: status, Message: msg})
}

// fail shows err with the status its kind maps to; an error of no known
// kind may name internals and is shown as "internal error" only.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	status := http.StatusInternalServerError
	switch errs.KindOf(err) {
	case errs.Invalid, errs.Unsupported:
		status = http.StatusBadRequest
	case errs.NotFound:
		status = http.StatusNotFound
	case errs.Permission:
		status = http.StatusForbidden
	case errs.Conflict:
		status = http.StatusConflict
	case errs.Unreachable:
		status = http.StatusServiceUnavailable
	}
	msg := oneLine(err.Error())
	if status == http.StatusInternalServerError {
		msg = "internal error"
	}
	h.error(w, r, s, status, msg)
}
