package sampling

import (
	"slices"

	"github.com/longtail-ml/longtail/sampling/internal/rng"
)

// priorSampler draws each slot's class independently from a per-epoch
// class distribution, then the class's next image. Samplers that are a
// class distribution (sqrt, progressive) are a priorSampler with their
// own prior function.
type priorSampler struct {
	cy           cycles
	batch, steps int
	prior        func(epoch int) []float64 // unnormalised; zero for empty classes
}

func newPriorSampler(p *params, name string, prior func(epoch int) []float64) (Sampler, error) {
	if err := p.checkBatch(name); err != nil {
		return nil, err
	}
	return &priorSampler{
		cy:    cycles{byClass: p.byClass, seed: uint64(p.Seed)},
		batch: p.Batch, steps: len(p.Labels) / p.Batch, prior: prior,
	}, nil
}

func (s *priorSampler) Steps(int) int { return s.steps }

func (s *priorSampler) Batches(epoch int) [][]int {
	w := s.prior(epoch)
	cum := make([]float64, len(w))
	total, last := 0.0, 0
	for c, v := range w {
		if len(s.cy.byClass[c]) > 0 && v > 0 {
			total += v
			last = c
		}
		cum[c] = total
	}
	slots := make([]int, s.steps*s.batch)
	r := rng.New(tagClassDraw, s.cy.seed, uint64(epoch))
	for t := range slots {
		// The first class whose cumulative weight exceeds u; classes
		// without weight never are. last catches u rounding up to total.
		u := r.Float64() * total
		c, _ := slices.BinarySearch(cum, u)
		for c < last && cum[c] <= u {
			c++
		}
		slots[t] = c
	}
	return s.cy.fill(epoch, slots, s.batch)
}
