package sampling

import "fmt"

// newProgressive is progressively-balanced sampling (Kang et al. 2020):
// at epoch t of T the class probabilities are (1−t/T)·n_c/N + (t/T)/C',
// C' the classes with images; epochs past T use t = T.
func newProgressive(p *params) (Sampler, error) {
	if p.Epochs < 1 {
		return nil, fmt.Errorf("train.epochs: %d; progressive sampling needs the planned epochs, >= 1: %w", p.Epochs, ErrConfig)
	}
	n := float64(len(p.Labels))
	present := 0
	for _, idx := range p.byClass {
		if len(idx) > 0 {
			present++
		}
	}
	byClass := p.byClass
	T := float64(p.Epochs)
	return newPriorSampler(p, "progressive", func(epoch int) []float64 {
		a := min(float64(max(epoch, 0)), T) / T
		w := make([]float64, len(byClass))
		for c, idx := range byClass {
			if len(idx) > 0 {
				w[c] = (1-a)*float64(len(idx))/n + a/float64(present)
			}
		}
		return w
	})
}
