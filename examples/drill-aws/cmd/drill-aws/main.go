// Command drill-aws runs the leaked-AWS-key drill (see package drillaws):
// make drill-aws builds rekey and runs it.
//
//	go run ./examples/drill-aws/cmd/drill-aws [-rekey bin/rekey]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"

	drillaws "github.com/rekeyhq/rekey/examples/drill-aws"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "check" {
		os.Exit(drillaws.Check(os.Args[2]))
	}
	rekey := flag.String("rekey", "bin/rekey", "the rekey binary to respond with")
	flag.Parse()
	self, err := os.Executable()
	if err == nil {
		*rekey, err = filepath.Abs(*rekey)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "drill-aws:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	out, err := drillaws.Run(ctx, drillaws.Options{
		Rekey: func(args ...string) *exec.Cmd { return exec.Command(*rekey, args...) },
		Check: func(spec string) string {
			return "'" + strings.ReplaceAll(self, "'", `'\''`) + "' check '" + spec + "'"
		},
		Out: os.Stdout,
	})
	if out != nil {
		out.Print(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "drill-aws:", err)
		os.Exit(1)
	}
}
