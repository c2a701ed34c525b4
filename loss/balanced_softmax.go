package loss

// newBalancedSoftmax builds the balanced softmax of Ren et al. 2020:
// cross-entropy on z + log π, where π_i = N_i/N_total is the training
// prior. It is logit adjustment with τ = 1.
func newBalancedSoftmax(p params) (Loss, error) {
	return newSoftmaxCE(p, 1, logPrior(p.counts, 1), nil), nil
}
