package source

import (
	"context"
	"path/filepath"
)

// WithPathPrefix wraps a source whose paths are relative to dir (a git
// repository's tree) so its findings name files as the user gave them.
func WithPathPrefix(s Source, dir string) Source { return prefixed{s, dir} }

type prefixed struct {
	src Source
	dir string
}

func (p prefixed) Walk(ctx context.Context, emit func(Chunk) error) error {
	return p.src.Walk(ctx, func(ch Chunk) error {
		ch.Loc = p.join(ch.Loc)
		if len(ch.Loc.Also) > 0 {
			also := make([]Location, len(ch.Loc.Also))
			for i, l := range ch.Loc.Also {
				also[i] = p.join(l)
			}
			ch.Loc.Also = also
		}
		return emit(ch)
	})
}

func (p prefixed) join(l Location) Location {
	l.Path = filepath.Join(p.dir, filepath.FromSlash(l.Path))
	return l
}
