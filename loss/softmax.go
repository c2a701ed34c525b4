package loss

// softmaxCE is the softmax cross-entropy family in its affine form: with
// t_j = s·z_j + b + d_{y_j}·onehot(y_j),
//
//	L = Σ_j w_j·(logsumexp(t_j) − t_{j,y_j})
//	dL/dz_j = w_j·s·(softmax(t_j) − onehot(y_j))
//
// where w_j is the normalised class weight, b a per-class offset added to
// every row and d a per-class offset added at the label only. Plain and
// weighted cross-entropy, CB-softmax, balanced softmax, logit adjustment
// and LDAM are instances.
type softmaxCE struct {
	base
	scale  float64
	offset []float64 // b, C long
	margin []float64 // d, C long
}

func newSoftmaxCE(p params, scale float64, offset, margin []float64) *softmaxCE {
	n := len(p.counts)
	if offset == nil {
		offset = make([]float64, n)
	}
	if margin == nil {
		margin = make([]float64, n)
	}
	return &softmaxCE{base: newBase(p), scale: scale, offset: offset, margin: margin}
}

// Compute implements Loss.
func (l *softmaxCE) Compute(logits []float32, labels []int32, classes int, grad []float32, stats *Stats) (float64, error) {
	return softmaxRun(l, logits, labels, classes, grad, stats)
}

func (l *softmaxCE) compute64(logits []float64, labels []int32, classes int, grad []float64, stats *Stats) (float64, error) {
	return softmaxRun(l, logits, labels, classes, grad, stats)
}

func softmaxRun[T number](l *softmaxCE, logits []T, labels []int32, classes int, grad []T, stats *Stats) (float64, error) {
	if err := l.check(len(logits), labels, classes, len(grad), stats); err != nil {
		return 0, err
	}
	w := l.perSample(labels)
	c := classes
	s := l.scale
	t := l.row[:c]
	off := l.offset[:c]
	total := 0.0
	for j, y32 := range labels {
		y := int(y32)
		z := logits[j*c : j*c+c]
		g := grad[j*c : j*c+c]
		for k, v := range z {
			t[k] = s*float64(v) + off[k]
		}
		t[y] += l.margin[y]
		others, ey, ell := softmaxRow(t, y)
		total += w[j] * ell
		coef := w[j] * s / (others + ey)
		for k, e := range t {
			g[k] = T(coef * e)
		}
		g[y] = T(-coef * others)
		if stats != nil {
			stats.add(y, ell, argmax(z) == y)
		}
	}
	return finite(total)
}

// Affine implements Affiner.
func (l *softmaxCE) Affine(labels []int32, classes int, a *Affine) error {
	if err := l.check(len(labels)*classes, labels, classes, len(labels)*classes, nil); err != nil {
		return err
	}
	w := l.perSample(labels)
	a.Scale = float32(l.scale)
	a.W = resize(a.W, len(labels))
	a.B = resize(a.B, len(labels)*classes)
	for j, y := range labels {
		a.W[j] = float32(w[j])
		b := a.B[j*classes : (j+1)*classes]
		for k, v := range l.offset {
			b[k] = float32(v)
		}
		b[y] = float32(l.offset[y] + l.margin[y])
	}
	return nil
}
