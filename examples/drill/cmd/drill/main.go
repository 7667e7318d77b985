// Command drill runs the leaked-password drill (see package drill): make
// drill builds rekey and runs it.
//
//	go run ./examples/drill/cmd/drill [-rekey bin/rekey] [-via cli|api]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"

	"github.com/rekeyhq/rekey/examples/drill"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "consumer" {
		os.Exit(drill.RunConsumer(os.Args[2]))
	}
	rekey := flag.String("rekey", "bin/rekey", "the rekey binary to respond with")
	via := flag.String("via", drill.ViaCLI, "how to respond: cli (rekey respond --yes) or api (rekey serve, driven over HTTP by a responder and an approver)")
	keep := flag.Bool("keep", false, "keep the drill's files (repository, exports, report) for inspection")
	flag.Parse()
	if *via != drill.ViaCLI && *via != drill.ViaAPI {
		fmt.Fprintf(os.Stderr, "drill: -via %q: want cli or api\n", *via)
		os.Exit(2)
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "drill:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	out, err := drill.Run(ctx, drill.Options{
		Rekey:    func(args ...string) *exec.Cmd { return exec.Command(*rekey, args...) },
		Consumer: func(spec string) *exec.Cmd { return exec.Command(self, "consumer", spec) },
		Out:      os.Stdout,
		Keep:     *keep,
		Via:      *via,
	})
	if out != nil {
		out.Print(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "drill:", err)
		os.Exit(1)
	}
}
