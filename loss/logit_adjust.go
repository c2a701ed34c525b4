package loss

import "math"

// newLogitAdjust builds the logit-adjusted loss of Menon et al. 2021:
// cross-entropy on z + τ·log π, where π_i = N_i/N_total is the training
// prior. Predictions use the raw logits.
func newLogitAdjust(p params) (Loss, error) {
	return newSoftmaxCE(p, 1, logPrior(p.counts, p.cfg.Tau), nil), nil
}

// logPrior returns τ·log(N_i/N_total) per class.
func logPrior(counts []int, tau float64) []float64 {
	total := 0
	for _, v := range counts {
		total += v
	}
	b := make([]float64, len(counts))
	for i, v := range counts {
		b[i] = tau * math.Log(float64(v)/float64(total))
	}
	return b
}
