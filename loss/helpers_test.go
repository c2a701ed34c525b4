package loss

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Long-tailed CIFAR-10 class counts (FACTS.md; IF 50 is built in the tests).
var (
	countsIF10  = []int{5000, 3871, 2997, 2320, 1796, 1391, 1077, 834, 645, 500}
	countsIF100 = []int{5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50}
	countsIF500 = []int{5000, 2506, 1256, 629, 315, 158, 79, 39, 19, 10}
)

// ltCounts builds n_i = int(nMax·(1/IF)^(i/(C−1))) as the literature does.
func ltCounts(nMax, classes int, imbalance float64) []int {
	out := make([]int, classes)
	for i := range out {
		out[i] = int(float64(nMax) * math.Pow(1/imbalance, float64(i)/float64(classes-1)))
	}
	return out
}

// evaluator is the float64 entry point every loss has for gradient checks.
type evaluator interface {
	compute64(logits []float64, labels []int32, classes int, grad []float64, stats *Stats) (float64, error)
}

func mustNew(t testing.TB, c Config, counts []int) Loss {
	t.Helper()
	l, err := New(c, counts)
	if err != nil {
		t.Fatalf("New(%+v): %v", c, err)
	}
	return l
}

func eval64(t testing.TB, l Loss, logits []float64, labels []int32, classes int) (float64, []float64) {
	t.Helper()
	grad := make([]float64, len(logits))
	v, err := l.(evaluator).compute64(logits, labels, classes, grad, nil)
	if err != nil {
		t.Fatalf("compute64: %v", err)
	}
	return v, grad
}

func randLabels(r *rand.Rand, b, classes int) []int32 {
	out := make([]int32, b)
	for j := range out {
		out[j] = int32(r.IntN(classes))
	}
	return out
}

// relErr is |a−b| / max(|a|, |b|, tiny).
func relErr(a, b float64) float64 {
	d := math.Abs(a - b)
	if d == 0 {
		return 0
	}
	return d / max(math.Abs(a), math.Abs(b), 1e-300)
}

// gradErr compares gradients row by row: max_j ‖a_j − b_j‖∞ / max(‖b_j‖∞,
// 1e-3·‖b‖∞). Rows far smaller than the batch's largest are judged against
// 1e-3 of it, where a relative error says nothing.
func gradErr(a, b []float64, classes int) float64 {
	norm := func(v []float64) float64 {
		m := 0.0
		for _, x := range v {
			m = max(m, math.Abs(x))
		}
		return m
	}
	floor := 1e-3 * norm(b)
	worst := 0.0
	for j := 0; j < len(a); j += classes {
		d := make([]float64, classes)
		for k := range d {
			d[k] = a[j+k] - b[j+k]
		}
		worst = max(worst, norm(d)/max(norm(b[j:j+classes]), floor, 1e-300))
	}
	return worst
}

func allFinite(v []float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}
