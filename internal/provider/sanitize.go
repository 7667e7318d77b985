package provider

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/rekeyhq/rekey/internal/errs"
)

// Sanitizer removes known secret values (an administrator DSN and its
// password, a candidate secret) from error texts and keeps them on one
// line. Providers build their errors so that secrets never reach them; the
// sanitizer is the belt to those braces, as STYLE.md asks of every
// provider.
type Sanitizer struct{ secrets []string }

// minScrub is the shortest value replaced: a shorter one (a one-letter test
// password) would mangle words without hiding anything.
const minScrub = 4

// Add registers more values to remove.
func (s *Sanitizer) Add(secrets ...string) {
	for _, v := range secrets {
		if len(v) >= minScrub {
			s.secrets = append(s.secrets, v)
		}
	}
}

// Clean returns text with every registered value, and extra, replaced by
// [REDACTED], on one line.
func (s *Sanitizer) Clean(text string, extra ...string) string {
	for _, v := range append(append([]string(nil), s.secrets...), extra...) {
		if len(v) >= minScrub {
			text = strings.ReplaceAll(text, v, "[REDACTED]")
		}
	}
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(text)
}

// Scrub returns err with its text cleaned, keeping its kind; err itself
// when there was nothing to remove.
func (s *Sanitizer) Scrub(err error, extra ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := s.Clean(msg, extra...)
	if clean == msg {
		return err
	}
	return errs.New("", errs.KindOf(err), "", clean)
}

// NetCause names a network failure in a few words, for "cannot reach
// host:port: <cause>" messages; ok is false when err is not one. Drivers
// with failures of their own (a driver-specific timeout) check those first.
func NetCause(err error) (cause string, ok bool) {
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused", true
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timed out", true
	case errors.Is(err, context.Canceled):
		return "cancelled", true
	case errors.As(err, &dnsErr):
		return "cannot resolve host " + dnsErr.Name, true
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "no route to host", true
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset", true
	case errors.Is(err, syscall.ENOENT):
		return "no such socket", true
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Err != nil {
		return opErr.Err.Error(), true
	}
	return "", false
}
