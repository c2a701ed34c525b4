package loss

import "math"

// focal is the focal loss of Lin et al. 2017 with class weights: with
// p = softmax(z_j)_{y_j}, q = 1 − p and ℓ = −log p,
//
//	L = Σ_j w_j·q^γ·ℓ
//	dL/dz_j = w_j·a_j·(softmax(z_j) − onehot(y_j)),  a = q^γ + γ·p·q^(γ−1)·ℓ
//
// a's factor depends on the logits, so focal loss has no Affine form.
type focal struct {
	base
	gamma float64
}

func newFocal(p params) (Loss, error) {
	return &focal{base: newBase(p), gamma: p.cfg.Gamma}, nil
}

// Compute implements Loss.
func (l *focal) Compute(logits []float32, labels []int32, classes int, grad []float32, stats *Stats) (float64, error) {
	return focalRun(l, logits, labels, classes, grad, stats)
}

func (l *focal) compute64(logits []float64, labels []int32, classes int, grad []float64, stats *Stats) (float64, error) {
	return focalRun(l, logits, labels, classes, grad, stats)
}

func focalRun[T number](l *focal, logits []T, labels []int32, classes int, grad []T, stats *Stats) (float64, error) {
	if err := l.check(len(logits), labels, classes, len(grad), stats); err != nil {
		return 0, err
	}
	w := l.perSample(labels)
	c := classes
	t := l.row[:c]
	total := 0.0
	for j, y32 := range labels {
		y := int(y32)
		z := logits[j*c : j*c+c]
		g := grad[j*c : j*c+c]
		for k, v := range z {
			t[k] = float64(v)
		}
		others, ey, ell := softmaxRow(t, y)
		sum := others + ey
		q, p := others/sum, ey/sum
		qg := math.Pow(q, l.gamma)
		// a = q^γ·(1 + γ·p·ℓ/q); ℓ/q → 1 as q → 0, where a → q^γ.
		a := qg
		if q > 0 {
			a = qg * (1 + l.gamma*p*(ell/q))
		}
		term := qg * ell
		total += w[j] * term
		coef := w[j] * a / sum
		for k, e := range t {
			g[k] = T(coef * e)
		}
		g[y] = T(-w[j] * a * q)
		if stats != nil {
			stats.add(y, term, argmax(z) == y)
		}
	}
	return finite(total)
}
