package loss

import (
	"fmt"
	"math"
)

// Class weightings (Config.Weights).
const (
	// WeightsNone gives every class weight 1.
	WeightsNone = "none"
	// WeightsClamped is the paper's Eq. 3, W_i = N_total/(N_i·n), clamped
	// to [lo, hi].
	WeightsClamped = "clamped"
	// WeightsCB is class-balanced by effective number (Cui et al. 2019),
	// W_i ∝ (1−β)/(1−β^{N_i}), normalised to sum to n.
	WeightsCB = "cb"
	// WeightsInverse is inverse frequency, Eq. 3 unclamped:
	// W_i = N_total/(N_i·n), so the mean weight over the training set is 1.
	WeightsInverse = "inverse"
)

func validWeights(kind string) bool {
	switch kind {
	case WeightsNone, WeightsClamped, WeightsCB, WeightsInverse:
		return true
	}
	return false
}

// ClassWeights returns one weight per class from the training-set class
// counts N_i (n = len(counts) classes). kind is one of the Weights*
// constants ("" means none). lo and hi bound the clamped weights and beta is
// the cb weighting's β; as in Config, 0 means the default (1, n^(1/4),
// 0.9999). Every count must be positive.
func ClassWeights(kind string, counts []int, lo, hi, beta float64) ([]float64, error) {
	if err := checkCounts(counts); err != nil {
		return nil, err
	}
	n := len(counts)
	c := Config{Weights: kind, Lo: lo, Hi: hi, Beta: beta}
	if kind == "" {
		c.Weights = WeightsNone
	}
	if err := c.Validate(n); err != nil {
		return nil, err
	}
	c = c.WithDefaults(n)
	w := make([]float64, n)
	switch c.Weights {
	case WeightsNone:
		for i := range w {
			w[i] = 1
		}
	case WeightsClamped, WeightsInverse:
		total := 0
		for _, v := range counts {
			total += v
		}
		for i, v := range counts {
			w[i] = float64(total) / (float64(v) * float64(n))
			if c.Weights == WeightsClamped {
				w[i] = min(max(w[i], c.Lo), c.Hi)
			}
		}
	case WeightsCB:
		// 1−β^N = −expm1(N·log β) keeps precision for β near 1.
		lb := math.Log(c.Beta)
		sum := 0.0
		for i, v := range counts {
			w[i] = (1 - c.Beta) / -math.Expm1(float64(v)*lb)
			sum += w[i]
		}
		for i := range w {
			w[i] *= float64(n) / sum
		}
	default:
		return nil, fmt.Errorf("%w: loss.weights: unknown weighting %q; want none, clamped, cb or inverse", ErrInvalidConfig, kind)
	}
	return w, nil
}

// checkCounts rejects empty count lists and classes without images.
func checkCounts(counts []int) error {
	if len(counts) == 0 {
		return fmt.Errorf("%w: no class counts; want one count per class", ErrEmptyClass)
	}
	for i, v := range counts {
		if v <= 0 {
			return fmt.Errorf("%w: counts[%d] = %d: class %d has no training images; every class needs at least one", ErrEmptyClass, i, v, i)
		}
	}
	return nil
}
