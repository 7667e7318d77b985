package mysql

// boundedMap is a map that holds at most max entries: putting one more
// forgets the one put longest ago. It remembers connections, whose end a
// log may never show (a killed client, a file cut mid-session), in
// constant memory.
type boundedMap[K comparable, V any] struct {
	max  int
	m    map[K]slot[V]
	ring []K      // ring[seq%max] is the key put with seq
	seqs []uint64 // seqs[seq%max] is that seq, 0 for none
	seq  uint64
}

type slot[V any] struct {
	v   V
	seq uint64
}

func newBoundedMap[K comparable, V any](max int) *boundedMap[K, V] {
	return &boundedMap[K, V]{max: max, m: map[K]slot[V]{}}
}

func (b *boundedMap[K, V]) get(k K) (V, bool) {
	s, ok := b.m[k]
	return s.v, ok
}

func (b *boundedMap[K, V]) put(k K, v V) {
	if b.ring == nil {
		b.ring, b.seqs = make([]K, b.max), make([]uint64, b.max)
	}
	b.seq++
	i := int(b.seq % uint64(b.max))
	if old := b.seqs[i]; old != 0 {
		if s, ok := b.m[b.ring[i]]; ok && s.seq == old {
			delete(b.m, b.ring[i])
		}
	}
	b.ring[i], b.seqs[i] = k, b.seq
	b.m[k] = slot[V]{v: v, seq: b.seq}
}

func (b *boundedMap[K, V]) del(k K) { delete(b.m, k) }

func (b *boundedMap[K, V]) clear() {
	clear(b.m)
	clear(b.seqs)
}

func (b *boundedMap[K, V]) len() int { return len(b.m) }
