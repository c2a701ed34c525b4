package loss

import (
	"fmt"
	"math"
)

// Loss computes a batch loss and its gradient with respect to the logits.
type Loss interface {
	// Compute writes dL/dlogits (B×C, row-major, float32) into grad and
	// returns the batch loss L, where B = len(labels) and C = classes.
	// logits is B×C. When stats is non-nil, Compute adds the batch's
	// per-class statistics to it (sizing an empty Stats). On error grad's
	// contents are unspecified.
	Compute(logits []float32, labels []int32, classes int, grad []float32, stats *Stats) (float64, error)
}

// Scheduled is a Loss that changes with the epoch, as deferred
// re-weighting does. Every loss New returns implements it.
type Scheduled interface {
	// SetEpoch tells the loss the 0-based epoch about to be trained.
	SetEpoch(epoch int)
}

// New builds the loss c names for a training set with counts[i] images of
// class i. It validates c and the counts first.
func New(c Config, counts []int) (Loss, error) {
	if err := checkCounts(counts); err != nil {
		return nil, err
	}
	if err := c.Validate(len(counts)); err != nil {
		return nil, err
	}
	c = c.WithDefaults(len(counts))
	e, _ := lookup(c.Name)
	w, err := ClassWeights(c.Weights, counts, c.Lo, c.Hi, c.Beta)
	if err != nil {
		return nil, err
	}
	l, err := e.build(params{cfg: c, counts: counts, weights: w})
	if err != nil {
		return nil, fmt.Errorf("loss.name %s: %w", c.Name, err)
	}
	return l, nil
}

// params is what a loss's builder receives: a validated config with its
// defaults filled in, the class counts and the class weights.
type params struct {
	cfg     Config
	counts  []int
	weights []float64
}

// base holds what every loss shares: the class count, the class weights
// with their deferred switch-on and normalisation, and per-batch scratch.
type base struct {
	classes   int
	weights   []float64 // W_i once active
	from      int       // first epoch with weights on
	active    bool
	byWeights bool      // normalise by Σ W_{y_j} rather than B
	sample    []float64 // per-sample weights w_j of the current batch
	row       []float64 // one row of work, C long
}

func newBase(p params) base {
	return base{
		classes:   len(p.counts),
		weights:   p.weights,
		from:      p.cfg.DRWEpoch,
		active:    p.cfg.DRWEpoch == 0,
		byWeights: p.cfg.Normalize == NormalizeWeights,
		row:       make([]float64, len(p.counts)),
	}
}

// SetEpoch switches the class weights on from Config.DRWEpoch.
func (b *base) SetEpoch(epoch int) { b.active = epoch >= b.from }

// check validates a batch's buffers and prepares stats.
func (b *base) check(nLogits int, labels []int32, classes, nGrad int, stats *Stats) error {
	if classes != b.classes {
		return fmt.Errorf("%w: classes = %d; the loss was built for %d", ErrShape, classes, b.classes)
	}
	n := len(labels)
	if n == 0 {
		return fmt.Errorf("%w: empty batch", ErrShape)
	}
	if nLogits != n*classes {
		return fmt.Errorf("%w: %d logits for %d labels × %d classes", ErrShape, nLogits, n, classes)
	}
	if nGrad != nLogits {
		return fmt.Errorf("%w: grad holds %d values; want %d", ErrShape, nGrad, nLogits)
	}
	for j, y := range labels {
		if y < 0 || int(y) >= classes {
			return fmt.Errorf("%w: labels[%d] = %d; want 0 ≤ label < %d", ErrLabel, j, y, classes)
		}
	}
	if stats != nil {
		return stats.prepare(classes)
	}
	return nil
}

// perSample returns each sample's weight w_j = W_{y_j}/B (or /Σ W_{y_j}),
// in scratch that the next call overwrites. Before the weights switch on,
// w_j = 1/B.
func (b *base) perSample(labels []int32) []float64 {
	b.sample = resize(b.sample, len(labels))
	w := b.sample
	if !b.active {
		inv := 1 / float64(len(labels))
		for j := range w {
			w[j] = inv
		}
		return w
	}
	sum := 0.0
	for j, y := range labels {
		w[j] = b.weights[y]
		sum += w[j]
	}
	norm := float64(len(labels))
	if b.byWeights {
		norm = sum
	}
	inv := 1 / norm
	for j := range w {
		w[j] *= inv
	}
	return w
}

// finite wraps ErrNonFinite when the batch loss is NaN or infinite.
func finite(l float64) (float64, error) {
	if math.IsNaN(l) || math.IsInf(l, 0) {
		return l, fmt.Errorf("%w: batch loss %v; check the logits for NaN or Inf", ErrNonFinite, l)
	}
	return l, nil
}

// number is the logit type: float32 for Compute, float64 for the
// finite-difference checks.
type number interface{ ~float32 | ~float64 }

// argmax is the index of z's largest element, the first on ties.
func argmax[T number](z []T) int {
	best := 0
	for k, v := range z {
		if v > z[best] {
			best = k
		}
	}
	return best
}

// softmaxRow takes t_k = the row's (shifted, offset) logits and the label y.
// It overwrites t with e_k = exp(t_k − max t) for k ≠ y and 0 at y, and
// returns others = Σ_{k≠y} e_k, e_y, and ℓ = −log softmax(t)_y. Splitting
// off e_y keeps 1 − p_y = others/(others + e_y) and small ℓ accurate.
func softmaxRow(t []float64, y int) (others, ey, ell float64) {
	m := math.Inf(-1)
	for _, x := range t {
		if x > m {
			m = x
		}
	}
	ty := t[y]
	t[y] = math.Inf(-1)
	for k, x := range t {
		e := math.Exp(x - m)
		t[k] = e
		others += e
	}
	ey = math.Exp(ty - m)
	if ey >= 0.5 {
		ell = math.Log1p(others / ey)
	} else {
		ell = (m - ty) + math.Log(others+ey)
	}
	return others, ey, ell
}
