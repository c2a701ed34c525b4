package sampling

import "fmt"

// balancedSampler is the paper's F_R(s): every batch holds exactly s
// images of every class, in class order.
type balancedSampler struct {
	cy       cycles
	s, steps int
}

func newBalanced(p *params) (Sampler, error) {
	if p.PerClass < 1 {
		return nil, fmt.Errorf("sampling.per_class: %d; want >= 1: %w", p.PerClass, ErrConfig)
	}
	for c, idx := range p.byClass {
		if len(idx) == 0 {
			return nil, fmt.Errorf("sampling.name: balanced, but class %d has no training image; want every class present: %w", c, ErrConfig)
		}
	}
	b := p.PerClass * p.Classes
	steps := len(p.Labels) / b
	if steps == 0 {
		return nil, fmt.Errorf("sampling.per_class: %d makes batches of %d×%d = %d, more than the %d training images: %w",
			p.PerClass, p.PerClass, p.Classes, b, len(p.Labels), ErrConfig)
	}
	return &balancedSampler{cy: cycles{byClass: p.byClass, seed: uint64(p.Seed)}, s: p.PerClass, steps: steps}, nil
}

func (s *balancedSampler) Steps(int) int { return s.steps }

func (s *balancedSampler) Batches(epoch int) [][]int {
	classes := len(s.cy.byClass)
	draws := make([][]int, classes)
	for c := range draws {
		draws[c] = s.cy.take(nil, epoch, c, s.s*s.steps)
	}
	b := s.s * classes
	flat := make([]int, s.steps*b)
	out := make([][]int, s.steps)
	for k := range out {
		batch := flat[k*b : (k+1)*b : (k+1)*b]
		for c := range classes {
			copy(batch[c*s.s:], draws[c][k*s.s:(k+1)*s.s])
		}
		out[k] = batch
	}
	return out
}
