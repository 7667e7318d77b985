// Command rekey scopes, rotates and reviews leaked machine credentials.
package main

import (
	"context"
	"os"

	"github.com/rekeyhq/rekey/internal/cli"
)

func main() {
	ctx, stop := cli.SignalContext(context.Background(), os.Stderr)
	code := cli.Main(ctx, cli.Env{
		Args:   os.Args[1:],
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		Getenv: os.Getenv,
	})
	stop()
	os.Exit(code)
}
