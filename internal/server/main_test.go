package server

import (
	"os"
	"testing"

	"github.com/rekeyhq/rekey/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.PostgresMain(m)) }
