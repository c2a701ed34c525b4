package loss

import "math"

// newLDAM builds the label-distribution-aware margin loss of Cao et al.
// 2019: cross-entropy on s·(z − m_y·onehot(y)) with margins
// m_i = MaxMargin·(N_min/N_i)^(1/4), so m_i ∝ N_i^(−1/4) and the rarest
// class gets MaxMargin. With DRWEpoch it is LDAM-DRW.
func newLDAM(p params) (Loss, error) {
	s := p.cfg.Scale
	return newSoftmaxCE(p, s, nil, scaledMargins(p.counts, p.cfg.MaxMargin, s)), nil
}

// scaledMargins returns −s·m_i, the label offsets of LDAM's affine form.
func scaledMargins(counts []int, maxMargin, s float64) []float64 {
	least := counts[0]
	for _, v := range counts {
		least = min(least, v)
	}
	d := make([]float64, len(counts))
	for i, v := range counts {
		d[i] = -s * maxMargin * math.Pow(float64(least)/float64(v), 0.25)
	}
	return d
}
