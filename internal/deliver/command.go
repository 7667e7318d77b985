package deliver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/secret"
)

// Command is one of a consumer's shell commands (reload or health), run
// with sh -c.
type Command struct {
	// Consumer names the consumer, for errors.
	Consumer string
	// Line is the command as the inventory writes it.
	Line string
	// Timeout bounds one run; 0 means 30 seconds.
	Timeout time.Duration
	// Dir is the working directory; "" is rekey's.
	Dir string
	// Env is the command's environment; nil means rekey's own, filtered
	// by Environ.
	Env []string
	// Mask knows every secret of the incident (the leaked one, the
	// previous and new ones, admin credentials): none may reach the
	// command's environment nor, if the command prints it, an error.
	Mask *secret.Masker
	// DropEnv names variables the command must not inherit whatever they
	// hold, such as the one --secret-env read the leaked secret from.
	DropEnv []string
}

// DefaultTimeout bounds one run of a command when Command.Timeout is 0.
const DefaultTimeout = 30 * time.Second

// maxOutput is how much of a command's output is kept: the tail, since
// the last line is what an error shows.
const maxOutput = 16 << 10

// Reload runs a consumer's reload command once, with its timeout. An empty
// Line does nothing: the consumer reads its config on each use.
func Reload(ctx context.Context, c Command) error {
	if c.Line == "" {
		return nil
	}
	if err := run(ctx, c); err != nil {
		return errs.E("consumer "+c.Consumer, errs.KindOf(err), "", fmt.Errorf("reload %q: %w", c.scrub(c.Line), err))
	}
	return nil
}

// Retry says how long Health keeps trying.
type Retry struct {
	// Deadline bounds all attempts together; 0 means 60 seconds.
	Deadline time.Duration
	// Initial is the wait after the first failure, doubled after each
	// further one up to Max; 0 means 250ms and 5s.
	Initial, Max time.Duration
}

// Health runs a consumer's health command until it exits 0, waiting longer
// after each failure, until r.Deadline. It returns how many attempts it
// made. The error names the consumer, the command and the last line the
// command printed. An empty Line passes at once, with 0 attempts.
func Health(ctx context.Context, c Command, r Retry) (int, error) {
	if c.Line == "" {
		return 0, nil
	}
	if r.Deadline <= 0 {
		r.Deadline = 60 * time.Second
	}
	if r.Initial <= 0 {
		r.Initial = 250 * time.Millisecond
	}
	if r.Max <= 0 {
		r.Max = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, r.Deadline)
	defer cancel()
	wait := r.Initial
	var last error // the last attempt that ran to its end says most
	for n := 1; ; n++ {
		err := run(ctx, c)
		if err == nil {
			return n, nil
		}
		if ctx.Err() == nil || last == nil {
			last = err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return n, errs.E("consumer "+c.Consumer, errs.Unreachable, "",
				fmt.Errorf("health %q still failing after %d attempts in %s: %w", c.scrub(c.Line), n, r.Deadline, last))
		case <-t.C:
		}
		wait = min(wait*2, r.Max)
	}
}

// run runs c once. Its error is one line: how it ended and its last
// output line, scrubbed of c.Hide.
func run(ctx context.Context, c Command) error {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", c.Line)
	cmd.Dir = c.Dir
	env := c.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = Environ(env, c.Mask, c.DropEnv...)
	out := &tail{max: maxOutput}
	cmd.Stdout, cmd.Stderr = out, out
	// The shell's children (a reload script's own commands) die with it
	// on timeout, and Wait does not hang on pipes they still hold.
	setProcessGroup(cmd)
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	if err == nil {
		return nil
	}
	var how string
	var ee *exec.ExitError
	switch {
	case parent.Err() != nil:
		how = "stopped: " + parent.Err().Error()
	case ctx.Err() != nil:
		how = fmt.Sprintf("timed out after %s", timeout)
	case errors.As(err, &ee):
		how = ee.ProcessState.String() // "exit status 1", "signal: killed"
	default:
		how = err.Error()
	}
	// Masked before it is cut: a cut could split a secret that the
	// masker would then miss.
	if last := cut(c.scrub(out.lastLine()), 200); last != "" {
		how += "; last output: " + last
	}
	return errors.New(how)
}

// scrub masks every secret of c.Mask in s.
func (c Command) scrub(s string) string { return c.Mask.Mask(s) }

// credentialNames are environment variables that hold credentials by
// convention; a consumer's commands never need rekey's copy of them.
var credentialNames = []string{"PASSWORD", "PASSWD", "SECRET", "TOKEN", "PGPASSWORD", "MYSQL_PWD", "REDISCLI_AUTH", "_DSN", "DATABASE_URL", "API_KEY", "ACCESS_KEY", "PRIVATE_KEY", "CREDENTIAL"}

// userinfoPassword matches a URL with a password in it (redis://:p@host).
var userinfoPassword = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:[^/\s@]+@`)

// Environ returns env without the variables that could carry a secret
// into a consumer's command: those named in drop, those whose value holds
// a secret mask knows (in any of its encodings, or by fingerprint), those
// named like credentials (…PASSWORD…, …TOKEN…, …_DSN, DATABASE_URL…),
// those holding a URL with a password, and rekey's own REKEY_* settings.
func Environ(env []string, mask *secret.Masker, drop ...string) []string {
	out := make([]string, 0, len(env))
next:
	for _, kv := range env {
		name, val, _ := strings.Cut(kv, "=")
		up := strings.ToUpper(name)
		if strings.HasPrefix(up, "REKEY_") || slices.Contains(drop, name) {
			continue
		}
		for _, n := range credentialNames {
			if strings.Contains(up, n) {
				continue next
			}
		}
		if userinfoPassword.MatchString(val) || mask.Holds(val) {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// tail keeps the last max bytes written to it.
type tail struct {
	max       int
	buf       []byte
	truncated bool
}

func (t *tail) Write(p []byte) (int, error) {
	n := len(p)
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.truncated = true
	}
	return n, nil
}

// lastLine is the last non-empty line. A line that started before the
// kept tail is not shown: its cut could split a secret that scrubbing
// would then miss.
func (t *tail) lastLine() string {
	b := bytes.TrimRight(t.buf, " \t\r\n")
	i := bytes.LastIndexByte(b, '\n')
	if i < 0 && t.truncated {
		return "(output too long)"
	}
	return strings.TrimSpace(string(b[i+1:]))
}

// cut returns s cut to n bytes, marked with "…" when cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
