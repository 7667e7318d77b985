package logs

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestLineReader(t *testing.T) {
	in := "first\r\n" + strings.Repeat("x", 100) + "\nlast"
	lr := NewLineReader(iotest.OneByteReader(strings.NewReader(in)), 10)
	type got struct {
		text string
		long bool
		line int
	}
	var all []got
	for {
		b, long, err := lr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, got{string(b), long, lr.Line()})
	}
	want := []got{{"first", false, 1}, {"xxxxxxxxxx", true, 2}, {"last", false, 3}}
	if len(all) != len(want) {
		t.Fatalf("got %+v", all)
	}
	for i := range want {
		if all[i] != want[i] {
			t.Errorf("line %d: %+v, want %+v", i, all[i], want[i])
		}
	}
}
