package sampling

import "math"

// newSqrt is square-root sampling: class c is drawn with probability
// proportional to √n_c (Mahajan et al. 2018; Kang et al. 2020).
func newSqrt(p *params) (Sampler, error) {
	w := make([]float64, p.Classes)
	for c, idx := range p.byClass {
		w[c] = math.Sqrt(float64(len(idx)))
	}
	return newPriorSampler(p, "sqrt", func(int) []float64 { return w })
}
