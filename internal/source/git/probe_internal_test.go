package git

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// numbered returns n numbered lines and the offset each starts at.
func numbered(n int) (string, []int) {
	var b strings.Builder
	var starts []int
	for i := range n {
		starts = append(starts, b.Len())
		fmt.Fprintf(&b, "line %02d\n", i)
	}
	return b.String(), append(starts, b.Len())
}

// The probe's windows are the changed lines widened by ContextLines on
// each side (a keyword line above a changed value, a value under a
// changed keyword), merged when they meet, and widened to a key block a
// change touches.
func TestProbeWindows(t *testing.T) {
	data, at := numbered(40)
	cases := []struct {
		name    string
		changed [][2]int
		want    [][2]int
	}{
		{"an insert inside line 10", [][2]int{{at[10] + 2, at[10] + 4}}, [][2]int{{at[10-ContextLines], at[11+ContextLines]}}},
		{"a join at the start of line 10", [][2]int{{at[10], at[10]}}, [][2]int{{at[10-ContextLines], at[11+ContextLines]}}},
		{"lines 10-12 inserted", [][2]int{{at[10], at[13]}}, [][2]int{{at[10-ContextLines], at[13+ContextLines]}}},
		{"at the top", [][2]int{{0, 3}}, [][2]int{{0, at[1+ContextLines]}}},
		{"at the end", [][2]int{{len(data), len(data)}}, [][2]int{{at[40-ContextLines], len(data)}}},
		{"two that meet", [][2]int{{at[10], at[11]}, {at[18], at[19]}}, [][2]int{{at[10-ContextLines], at[19+ContextLines]}}},
		{"two apart", [][2]int{{at[5], at[6]}, {at[30], at[31]}}, [][2]int{{at[5-ContextLines], at[6+ContextLines]}, {at[30-ContextLines], at[31+ContextLines]}}},
	}
	for _, c := range cases {
		if d := cmp.Diff(c.want, windows([]byte(data), c.changed, false, nil)); d != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, d)
		}
	}

	// A change in the middle of a key block probes the whole block.
	key := "head\n-----BEGIN PRIVATE KEY-----\n" + strings.Repeat("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n", 20) + "-----END PRIVATE KEY-----\ntail\n"
	mid := strings.Index(key, "MIIE") + 12*33
	got := windows([]byte(key), [][2]int{{mid, mid + 4}}, true, nil)
	if len(got) != 1 || !strings.HasPrefix(key[got[0][0]:], "-----BEGIN") || !strings.HasSuffix(key[:got[0][1]], "-----END PRIVATE KEY-----\n") {
		t.Errorf("key block window %v: %q", got, key[got[0][0]:got[0][1]])
	}
	if !mayHoldKeys([]byte(key)) || mayHoldKeys([]byte(data)) {
		t.Error("mayHoldKeys")
	}
}
