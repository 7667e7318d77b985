package server_test

import (
	"testing"

	"github.com/rekeyhq/rekey/internal/server"
	"github.com/rekeyhq/rekey/internal/server/runnertest"
)

func TestLocalRunner(t *testing.T) {
	runnertest.Run(t, func(t *testing.T, f server.RunFuncs) server.Runner { return server.NewLocalRunner(f) })
}
