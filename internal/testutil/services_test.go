package testutil

import (
	"net"
	"testing"
)

func TestNeedServiceSkipsWhenUnreachable(t *testing.T) {
	t.Setenv(RequireServicesEnv, "")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	ran := false
	t.Run("up", func(t *testing.T) { NeedService(t, "test", addr); ran = true })
	if !ran {
		t.Error("NeedService stopped a test whose service answers")
	}
	l.Close()
	var skipped bool
	t.Run("down", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		NeedService(t, "test", addr)
	})
	if !skipped {
		t.Error("NeedService did not skip a test whose service is down")
	}
}

func TestNeedToolSkipsWhenMissing(t *testing.T) {
	t.Setenv(RequireServicesEnv, "")
	ran := false
	t.Run("present", func(t *testing.T) { NeedTool(t, "sh", "it is everywhere"); ran = true })
	if !ran {
		t.Error("NeedTool stopped a test whose tool is there")
	}
	var skipped bool
	t.Run("missing", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		NeedTool(t, "rekey-no-such-tool-7f3a", "nowhere")
	})
	if !skipped {
		t.Error("NeedTool did not skip a test whose tool is missing")
	}
}
