package sampling

import "github.com/longtail-ml/longtail/sampling/internal/rng"

// classAwareSampler is Shen et al.'s class-aware sampling: slot t takes
// the next class of a class list reshuffled every len(classes) slots, then
// its class's next image.
type classAwareSampler struct {
	cy           cycles
	present      []int // classes with images
	batch, steps int
}

func newClassAware(p *params) (Sampler, error) {
	if err := p.checkBatch("classaware"); err != nil {
		return nil, err
	}
	var present []int
	for c, idx := range p.byClass {
		if len(idx) > 0 {
			present = append(present, c)
		}
	}
	return &classAwareSampler{
		cy: cycles{byClass: p.byClass, seed: uint64(p.Seed)}, present: present,
		batch: p.Batch, steps: len(p.Labels) / p.Batch,
	}, nil
}

func (s *classAwareSampler) Steps(int) int { return s.steps }

func (s *classAwareSampler) Batches(epoch int) [][]int {
	k := len(s.present)
	slots := make([]int, s.steps*s.batch)
	order := make([]int, k)
	for round := 0; round*k < len(slots); round++ {
		copy(order, s.present)
		r := rng.New(tagClassOrder, uint64(s.cy.seed), uint64(epoch), uint64(round))
		rng.Shuffle(&r, order)
		copy(slots[round*k:], order)
	}
	return s.cy.fill(epoch, slots, s.batch)
}
