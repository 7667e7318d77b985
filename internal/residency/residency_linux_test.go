package residency

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// Only the executable's read-only, private mappings are kept: a writable
// one (its data, whose private changes madvise would throw away), a shared
// one, another file's and an anonymous one are not.
func TestParseReadOnlyKeepsCodeAndReadOnlyData(t *testing.T) {
	maps := `00400000-01e00000 r-xp 00000000 08:01 1234 /usr/local/bin/rekey
01e00000-03c00000 r--p 01a00000 08:01 1234 /usr/local/bin/rekey
03c00000-03d00000 rw-p 03800000 08:01 1234 /usr/local/bin/rekey
03d00000-05e00000 rw-p 00000000 00:00 0
7f0000000000-7f0000100000 r--s 00000000 08:01 99 /usr/local/bin/rekey
7f0000200000-7f0000300000 r-xp 00000000 08:01 77 /usr/lib/x86_64-linux-gnu/libc.so.6
7f0000400000-7f0000500000 r--p 00000000 08:01 1235 /usr/local/bin/rekey-old
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0 [stack]
`
	got := parseReadOnly([]byte(maps), "/usr/local/bin/rekey")
	want := []mapping{{0x400000, 0x1e00000}, {0x1e00000, 0x3c00000}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("parseReadOnly = %#v, want %#v", got, want)
	}
	if got := parseReadOnly([]byte("garbage line\n00400000 r-xp 0 0 0 /usr/local/bin/rekey\n"), "/usr/local/bin/rekey"); len(got) != 0 {
		t.Errorf("malformed lines kept: %#v", got)
	}
}

// The test binary's own image is advised: its resident file-backed pages
// drop, and the program goes on running the code it just gave back.
func TestReleaseImageLowersResidentImage(t *testing.T) {
	before := rssFileKB(t)
	n, err := ReleaseImage()
	if err != nil {
		t.Fatal(err)
	}
	after := rssFileKB(t)
	if n == 0 {
		t.Fatal("no mapping of the executable was advised")
	}
	if after >= before {
		t.Errorf("RssFile %d kB before, %d kB after releasing %d bytes of mappings: want fewer", before, after, n)
	}
	// Code released above runs again (it faults back in).
	if got := strings.Repeat("ab", 3); got != "ababab" {
		t.Fatalf("after the release: %q", got)
	}
}

func rssFileKB(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatalf("RssFile line %q: %v", line, err)
			}
			return n
		}
	}
	t.Skip("no RssFile in /proc/self/status")
	return 0
}
