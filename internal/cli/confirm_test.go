package cli

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// The confirmation prompt: yes goes on, anything else or Ctrl-C (the
// context cancelled while the prompt waits) refuses without changing
// anything.
func TestConfirmPrompt(t *testing.T) {
	yes := true
	ask := func(t *testing.T, input string, cancelAfter time.Duration) error {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		defer w.Close()
		var errb bytes.Buffer
		g := &globals{env: Env{Stdin: r, Stderr: &errb, StdinTerminal: &yes, Getenv: func(string) string { return "" }}}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		if input != "" {
			w.WriteString(input)
		}
		if cancelAfter > 0 {
			time.AfterFunc(cancelAfter, cancel)
		}
		err = g.confirm(ctx, false, "run 5 steps?")
		if !strings.Contains(errb.String(), "run 5 steps? [y/N]") {
			t.Errorf("prompt %q", errb.String())
		}
		return err
	}
	if err := ask(t, "y\n", 0); err != nil {
		t.Errorf("y: %v", err)
	}
	if err := ask(t, "YES\n", 0); err != nil {
		t.Errorf("YES: %v", err)
	}
	if err := ask(t, "n\n", 0); err == nil || !strings.Contains(err.Error(), "incident stays open") {
		t.Errorf("n: %v", err)
	}
	// Nothing typed: only the cancellation can end the wait (a hang here
	// is caught by the test timeout).
	if err := ask(t, "", 50*time.Millisecond); err == nil || !strings.Contains(err.Error(), "incident stays open") {
		t.Errorf("Ctrl-C at the prompt: %v", err)
	}
	no := false
	g := &globals{env: Env{Stdin: os.Stdin, StdinTerminal: &no, Getenv: func(string) string { return "" }}}
	if err := g.confirm(context.Background(), false, "x?"); err == nil || !strings.Contains(err.Error(), "--yes") {
		t.Errorf("without a terminal: %v", err)
	}
	if err := g.confirm(context.Background(), true, "x?"); err != nil {
		t.Errorf("--yes: %v", err)
	}
}
