package git

import (
	"bytes"
	"path"
	"slices"
	"strings"
)

// ContextLines is how many unchanged lines around each change are scanned
// with it. Most rules match within one line; the keyword rules look a few
// hundred bytes past their keyword (the rules' Window, 256–1024 bytes outside
// the key formats), and values split with a trailing backslash or a YAML
// folded scalar span two or three lines. Four lines on each side cover a
// keyword line above a changed value, and a changed keyword line above an
// unchanged value. Key blocks, whose rules look up to 16 KiB past the
// header, are handled whole by blocks below.
const ContextLines = 4

// maxBlockLines bounds a key block with no end marker: a 4096-bit RSA key is
// ~50 lines, an armoured PGP key a few hundred.
const maxBlockLines = 400

// blockMarkers begin and end the multi-line formats whose rules need the
// whole block from its header: PEM (private keys of every kind, PGP
// armour) and PuTTY key files. A change inside one (a key whose middle line
// changed) scans the block from header to end.
var blockMarkers = []struct{ begin, end []byte }{
	{[]byte("-----BEGIN "), []byte("-----END ")},
	{[]byte("PuTTY-User-Key-File-"), []byte("Private-MAC:")},
}

// regions turns changed lines of data into the line ranges to scan: each
// change widened by ContextLines on both sides and to any key block it
// touches, overlapping ranges merged. starts are the line offsets from
// lineHashes.
func regions(data []byte, starts []int, changed []span) []span {
	lines := len(starts) - 1
	blocks := keyBlocks(data, starts)
	var out []span
	for _, c := range changed {
		r := span{max(0, c.lo-ContextLines), min(lines, c.hi+ContextLines)}
		for _, b := range blocks {
			// A change touching the block, or a removal at its edge.
			if b.lo <= c.hi && c.lo <= b.hi {
				r.lo, r.hi = min(r.lo, b.lo), max(r.hi, b.hi)
			}
		}
		if n := len(out); n > 0 && r.lo <= out[n-1].hi {
			out[n-1].hi = max(out[n-1].hi, r.hi)
			continue
		}
		out = append(out, r)
	}
	return out
}

// keyBlocks finds the key blocks of data as line ranges. It costs one
// substring search per marker on files that hold none.
func keyBlocks(data []byte, starts []int) []span {
	var out []span
	for _, m := range blockMarkers {
		if !bytes.Contains(data, m.begin) {
			continue
		}
		lines := len(starts) - 1
		for i := 0; i < lines; i++ {
			if !bytes.Contains(data[starts[i]:starts[i+1]], m.begin) {
				continue
			}
			end := min(lines, i+maxBlockLines)
			for j := i; j < end; j++ {
				if bytes.Contains(data[starts[j]:starts[j+1]], m.end) {
					end = j + 1
					break
				}
			}
			out = append(out, span{i, end})
			i = end - 1
		}
	}
	return out
}

// maxCachedLines bounds the line hashes kept between versions (8 bytes a
// line: 64 MiB). Past it, a version whose predecessor's hashes were not
// kept is scanned whole, which is slower but finds the same.
const maxCachedLines = 8 << 20

// versionsKept is how many recent versions of each path keep their line
// hashes. One is not enough: where two branches edit the same files and
// merge often (tmux's master and the OpenBSD import it merges from), a
// path's versions from the two lines of work alternate in history order,
// and half the versions would miss their predecessor.
const versionsKept = 8

// lineCache keeps the line hashes of the latest versions read at each path,
// for diffing the next version against its predecessor. Keyed by blob, so a
// hit is always the true predecessor.
type lineCache struct {
	hashes map[*blob][]uint64
	recent map[string][]*blob // per path, oldest first, at most versionsKept
	refs   map[*blob]int      // how many paths' recent lists hold b
	size   int
}

func (c *lineCache) get(b *blob) ([]uint64, bool) {
	hs, ok := c.hashes[b]
	return hs, ok
}

// remember records b's hashes as a recent version at each of its paths,
// forgetting the oldest versions there.
func (c *lineCache) remember(b *blob, hs []uint64) {
	if c.hashes == nil {
		c.hashes, c.recent, c.refs = map[*blob][]uint64{}, map[string][]*blob{}, map[*blob]int{}
	}
	for _, o := range b.occ {
		r := c.recent[o.path]
		if slices.Contains(r, b) {
			continue
		}
		if len(r) == versionsKept {
			c.release(r[0])
			r = append(r[:0], r[1:]...)
		}
		c.recent[o.path] = append(r, b)
		c.refs[b]++
	}
	if _, ok := c.hashes[b]; !ok && c.refs[b] > 0 && c.size+len(hs) <= maxCachedLines {
		c.hashes[b] = hs
		c.size += len(hs)
	}
}

func (c *lineCache) release(b *blob) {
	if c.refs[b]--; c.refs[b] == 0 {
		c.size -= len(c.hashes[b])
		delete(c.hashes, b)
		delete(c.refs, b)
	}
}

// wholeFile reports whether every version of path is scanned whole: the
// structured formats (YAML and JSON manifests, docker configs, env and CI
// files) whose values the scanner decodes only from a whole file (a
// Kubernetes Secret's base64 data, JSON string escapes). This is a superset
// by name of what the decoder parses, kept cheap: such files are small.
func wholeFile(p string) bool {
	base := strings.ToLower(path.Base(p))
	switch path.Ext(base) {
	case ".json", ".jsonl", ".ndjson", ".yml", ".yaml", ".env", ".dockercfg":
		return true
	}
	return strings.HasPrefix(base, ".env") || strings.HasPrefix(base, "jenkinsfile") || base == ".dockercfg"
}
