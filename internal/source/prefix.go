package source

import (
	"context"
	"path/filepath"
)

// relocated is a source whose chunks' locations are changed by fix on
// their way out.
type relocated struct {
	src Source
	fix func(*Location)
}

func (r relocated) Walk(ctx context.Context, emit func(Chunk) error) error {
	return r.src.Walk(ctx, func(ch Chunk) error {
		r.fix(&ch.Loc)
		return emit(ch)
	})
}

// WalkProbed passes probe on when the wrapped source can use it.
func (r relocated) WalkProbed(ctx context.Context, probe Probe, emit func(Chunk) error) error {
	p, ok := r.src.(Prober)
	if !ok {
		return r.Walk(ctx, emit)
	}
	return p.WalkProbed(ctx, probe, func(ch Chunk) error {
		r.fix(&ch.Loc)
		return emit(ch)
	})
}

var _ Prober = relocated{}

// WithPathPrefix wraps a source whose paths are relative to dir (a git
// repository's tree) so its findings name files as the user gave them.
func WithPathPrefix(s Source, dir string) Source {
	join := func(l *Location) { l.Path = filepath.Join(dir, filepath.FromSlash(l.Path)) }
	return relocated{s, func(l *Location) {
		join(l)
		if len(l.Also) > 0 {
			// Also is shared between chunks: copy before changing.
			also := make([]Location, len(l.Also))
			for i := range l.Also {
				also[i] = l.Also[i]
				join(&also[i])
			}
			l.Also = also
		}
	}}
}

// WithClass wraps a source so that every chunk it emits has class c: the
// files of an export scanned as plain text are still chat or tickets.
func WithClass(s Source, c Class) Source {
	return relocated{s, func(l *Location) { l.Class = c }}
}
