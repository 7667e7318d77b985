package cli

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	info := func(main string, settings ...debug.BuildSetting) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) {
			return &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: main}, Settings: settings}, true
		}
	}
	rev := debug.BuildSetting{Key: "vcs.revision", Value: "abc123"}
	for _, tc := range []struct {
		name, set string
		read      func() (*debug.BuildInfo, bool)
		want      string
	}{
		{"ldflags win", "v1.2.3", info("v0.0.1", rev), "rekey v1.2.3\ngo go1.99\nrevision abc123\n"},
		{"module version", "", info("v0.4.0", rev), "rekey v0.4.0\ngo go1.99\nrevision abc123\n"},
		{"dirty tree", "", info("", rev, debug.BuildSetting{Key: "vcs.modified", Value: "true"}), "rekey (devel)\ngo go1.99\nrevision abc123+dirty\n"},
		{"no build info", "", func() (*debug.BuildInfo, bool) { return nil, false }, "rekey (devel)\ngo unknown\nrevision unknown\n"},
	} {
		var b bytes.Buffer
		if err := writeVersion(&b, tc.set, tc.read); err != nil || b.String() != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, b.String(), err, tc.want)
		}
	}
	r := run(t, nil, "", "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "rekey ") || !strings.Contains(r.stdout, "\ngo go1.") {
		t.Errorf("rekey version: exit %d: %q", r.code, r.stdout)
	}
	if r := run(t, nil, "", "version", "extra"); r.code != 2 {
		t.Errorf("an argument: exit %d", r.code)
	}
}
