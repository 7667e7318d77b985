// Package browsertest drives the web UI in a real browser for tests: a
// headless Chromium (Debian's chromium; `make test-tools` installs it)
// with a fresh profile, through chromedp. Without chromium a test skips,
// and fails under REKEY_REQUIRE_SERVICES=1 (testutil.NeedTool). Its own
// package, so that only the tests that open a browser link chromedp.
package browsertest

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rekeyhq/rekey/internal/testutil"
)

// New starts the browser and returns a tab's context. Every wait in the
// tests is bounded by this context, not asserted as a time.
func New(t *testing.T) context.Context {
	t.Helper()
	path := testutil.NeedTool(t, "chromium", "make test-tools installs it (apt-get install chromium)")
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1366, 900),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-extensions", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	return ctx
}

// Do runs actions, failing the test with what they were for.
func Do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// Eval evaluates js in the page.
func Eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

// SignIn signs in at base with a token, as a person pastes it into the
// sign-in form, and waits for the signed-in header.
func SignIn(t *testing.T, ctx context.Context, base, token string) {
	t.Helper()
	Do(t, ctx, "sign-in page", chromedp.Navigate(base+"/signin"), chromedp.WaitVisible(chromedp.ID("token")))
	Do(t, ctx, "sign in", chromedp.SendKeys(chromedp.ID("token"), token), chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.CSS("header.top nav")))
}
