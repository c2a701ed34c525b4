package loss

// newCE builds softmax cross-entropy, −log softmax(z)_y, under the names ce
// (the paper's "Softmax"), weighted_ce (the paper's Eq. 4 with clamped
// weights) and cb (CB-softmax: cb weights). They differ only in the default
// class weighting.
func newCE(p params) (Loss, error) {
	return newSoftmaxCE(p, 1, nil, nil), nil
}
