package source

import (
	"bytes"
	"errors"
	"io"
)

// Chunking bounds the memory one file takes: a file larger than Size is
// emitted in pieces of Size bytes, each repeating the last Overlap bytes of
// the previous piece so a match across a split is seen whole in one piece.
type Chunking struct {
	Size    int
	Overlap int
}

// DefaultChunking keeps a worker's buffer at 4 MiB; the 64 KiB overlap is
// far longer than any credential the rules match (a PEM block is ~3 KiB).
var DefaultChunking = Chunking{Size: 4 << 20, Overlap: 64 << 10}

// ReadChunks reads r to the end and emits it in chunks starting at loc.
// Line and Column of each chunk are advanced by counting the bytes before
// it. Each emitted chunk owns its Data: emit may keep it.
func (c Chunking) ReadChunks(r io.Reader, loc Location, emit func(Chunk) error) error {
	if c.Size <= c.Overlap {
		c = DefaultChunking
	}
	if loc.Line == 0 {
		loc.Line = 1
	}
	if loc.Column == 0 {
		loc.Column = 1
	}
	var carry []byte
	for {
		buf := make([]byte, c.Size)
		n := copy(buf, carry)
		m, err := io.ReadFull(r, buf[n:])
		buf = buf[:n+m]
		last := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !last {
			return err
		}
		if len(buf) == 0 {
			return nil
		}
		ch := Chunk{Data: buf, Loc: loc}
		if !last {
			ch.Tail = c.Overlap
		}
		if err := emit(ch); err != nil {
			return err
		}
		if last {
			return nil
		}
		// The next chunk starts Overlap bytes before this one's end.
		advance := buf[:len(buf)-c.Overlap]
		if nl := bytes.Count(advance, []byte{'\n'}); nl > 0 {
			loc.Line += nl
			loc.Column = 1 + len(advance) - 1 - bytes.LastIndexByte(advance, '\n')
		} else {
			loc.Column += len(advance)
		}
		carry = buf[len(buf)-c.Overlap:]
	}
}

// Position returns the line and column (1-based, columns in bytes) of
// offset off in a chunk that starts at loc.
func Position(data []byte, off int, loc Location) (line, col int) {
	line, col = max(loc.Line, 1), max(loc.Column, 1)
	if loc.Flat {
		return line, col
	}
	before := data[:off]
	if nl := bytes.Count(before, []byte{'\n'}); nl > 0 {
		return line + nl, off - bytes.LastIndexByte(before, '\n')
	}
	return line, col + off
}
