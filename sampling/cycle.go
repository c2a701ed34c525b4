package sampling

import "github.com/longtail-ml/longtail/sampling/internal/rng"

// Tags that keep the random streams of different uses apart.
const (
	tagShuffle = iota + 1
	tagCycle
	tagClassOrder
	tagClassDraw
	tagAugment
)

// cycles draws images of a class without replacement within reshuffled
// cycles. Draw k (0-based) of class c in epoch e is image
// perm(seed, e, c, k / n_c)[k mod n_c] of the class, so an epoch's draws
// from a class differ in count by at most 1 between its images, and any
// draw is computable from (seed, epoch, class, k) alone.
type cycles struct {
	byClass [][]int
	seed    uint64
}

// take appends class c's first m draws of the epoch to dst.
func (cy *cycles) take(dst []int, epoch, c, m int) []int {
	idx := cy.byClass[c]
	n := len(idx)
	if n == 0 {
		return dst
	}
	perm := make([]int, n)
	for cycle := 0; m > 0; cycle++ {
		copy(perm, idx)
		r := rng.New(tagCycle, cy.seed, uint64(epoch), uint64(c), uint64(cycle))
		rng.Shuffle(&r, perm)
		k := min(m, n)
		dst = append(dst, perm[:k]...)
		m -= k
	}
	return dst
}

// fill turns an epoch's class sequence (one class per slot) into image
// indices, slot t taking its class's next draw, and cuts it into batches
// of size batch.
func (cy *cycles) fill(epoch int, slots []int, batch int) [][]int {
	counts := make([]int, len(cy.byClass))
	for _, c := range slots {
		counts[c]++
	}
	draws := make([][]int, len(cy.byClass))
	for c, m := range counts {
		draws[c] = cy.take(nil, epoch, c, m)
	}
	next := make([]int, len(cy.byClass))
	flat := make([]int, len(slots))
	for t, c := range slots {
		flat[t] = draws[c][next[c]]
		next[c]++
	}
	out := make([][]int, len(slots)/batch)
	for b := range out {
		out[b] = flat[b*batch : (b+1)*batch : (b+1)*batch]
	}
	return out
}
