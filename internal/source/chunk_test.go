package source

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadChunksPositionsAndOverlap(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 500; i++ {
		b.WriteString("line with some words in it\n")
	}
	b.WriteString(strings.Repeat("x", 3000) + "NEEDLE" + strings.Repeat("y", 50))
	data := b.String()
	c := Chunking{Size: 1024, Overlap: 100}
	var got [][2]int
	var total int
	err := c.ReadChunks(iotest.HalfReader(strings.NewReader(data)), Location{Path: "f"}, func(ch Chunk) error {
		owned := len(ch.Data) - ch.Tail
		total += owned
		if i := bytes.Index(ch.Data, []byte("NEEDLE")); i >= 0 && i < owned {
			l, col := Position(ch.Data, i, ch.Loc)
			got = append(got, [2]int{l, col})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if total != len(data) {
		t.Fatalf("owned bytes %d, want %d", total, len(data))
	}
	if len(got) != 1 || got[0] != [2]int{501, 3001} {
		t.Fatalf("NEEDLE at %v, want once at 501:3001", got)
	}
}

func TestReadChunksEmpty(t *testing.T) {
	n := 0
	if err := DefaultChunking.ReadChunks(strings.NewReader(""), Location{}, func(Chunk) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("n=%d err=%v", n, err)
	}
}

func TestReadChunksExactMultipleKeepsTail(t *testing.T) {
	data := strings.Repeat("a", 1024-100-6) + "NEEDLE" + strings.Repeat("b", 100)
	c := Chunking{Size: 1024, Overlap: 100}
	found := 0
	err := c.ReadChunks(strings.NewReader(data+strings.Repeat("c", 924)), Location{}, func(ch Chunk) error {
		owned := len(ch.Data) - ch.Tail
		for i := 0; ; {
			j := bytes.Index(ch.Data[i:], []byte("NEEDLE"))
			if j < 0 {
				break
			}
			if i+j < owned {
				found++
			}
			i += j + 1
		}
		return nil
	})
	if err != nil || found != 1 {
		t.Fatalf("found %d, err %v", found, err)
	}
}

func TestFileDoneSortsStopsFromFileErrors(t *testing.T) {
	var reported []*FileError
	onErr := func(e *FileError) { reported = append(reported, e) }
	stopErr := errors.New("consumer gone")
	if err := FileDone("a.json", fmt.Errorf("parse: %w", Stop{Err: stopErr}), onErr); err != stopErr {
		t.Fatalf("stop: got %v", err)
	}
	if err := FileDone("b.json", errors.New("line 3: bad"), onErr); err != nil {
		t.Fatalf("file error ended the walk: %v", err)
	}
	if err := FileDone("c.json", nil, onErr); err != nil {
		t.Fatal(err)
	}
	if len(reported) != 1 || reported[0].Path != "b.json" {
		t.Fatalf("reported %v", reported)
	}
}
