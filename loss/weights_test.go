package loss

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestClampedWeightsIF100Published(t *testing.T) {
	// The vector for CIFAR10-LT at IF 100, to 4 decimals.
	want := []float64{1, 1, 1, 1.1519, 1.7783, 1.7783, 1.7783, 1.7783, 1.7783, 1.7783}
	got, err := ClassWeights(WeightsClamped, countsIF100, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 0.5e-4 {
			t.Errorf("W[%d] = %.6f; want %.4f", i, got[i], want[i])
		}
	}
}

func TestLTCountsMatchFacts(t *testing.T) {
	tests := []struct {
		imbalance float64
		want      []int
		total     int
	}{
		{10, countsIF10, 20431},
		{50, nil, 13996},
		{100, countsIF100, 12406},
		{500, countsIF500, 10011},
	}
	for _, tt := range tests {
		got := ltCounts(5000, 10, tt.imbalance)
		sum := 0
		for i, v := range got {
			sum += v
			if tt.want != nil && v != tt.want[i] {
				t.Errorf("IF %v: n[%d] = %d; want %d", tt.imbalance, i, v, tt.want[i])
			}
		}
		if sum != tt.total {
			t.Errorf("IF %v: total %d; want %d", tt.imbalance, sum, tt.total)
		}
	}
}

// TestClampedWeightsFromCounts recomputes Eq. 3 clamped to [1, n^(1/4)]
// by hand for each imbalance factor.
func TestClampedWeightsFromCounts(t *testing.T) {
	for _, tt := range []struct {
		name   string
		counts []int
	}{
		{"IF10", countsIF10},
		{"IF50", ltCounts(5000, 10, 50)},
		{"IF100", countsIF100},
		{"IF500", countsIF500},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ClassWeights(WeightsClamped, tt.counts, 0, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			total := 0.0
			for _, v := range tt.counts {
				total += float64(v)
			}
			hi := math.Sqrt(math.Sqrt(10))
			for i, v := range tt.counts {
				w := total / float64(v) / 10
				w = math.Max(1, math.Min(hi, w))
				if relErr(got[i], w) > 1e-15 {
					t.Errorf("W[%d] = %v; want %v", i, got[i], w)
				}
			}
		})
	}
}

func TestClassWeights(t *testing.T) {
	tests := []struct {
		name     string
		kind     string
		counts   []int
		lo, hi   float64
		beta     float64
		want     func(counts []int) []float64
		wantSumN bool
	}{
		{"none", WeightsNone, countsIF100, 0, 0, 0, func(c []int) []float64 { return fill(len(c), 1) }, true},
		{"empty kind is none", "", countsIF100, 0, 0, 0, func(c []int) []float64 { return fill(len(c), 1) }, true},
		{"clamped custom bounds", WeightsClamped, countsIF100, 0.5, 3, 0, func(c []int) []float64 {
			w := naiveInverse(c)
			for i := range w {
				w[i] = math.Max(0.5, math.Min(3, w[i]))
			}
			return w
		}, false},
		{"inverse", WeightsInverse, countsIF500, 0, 0, 0, naiveInverse, false},
		{"cb default beta", WeightsCB, countsIF100, 0, 0, 0, func(c []int) []float64 { return naiveCB(c, 0.9999) }, true},
		{"cb beta 0.99", WeightsCB, countsIF10, 0, 0, 0.99, func(c []int) []float64 { return naiveCB(c, 0.99) }, true},
		{"cb beta 0.999999", WeightsCB, countsIF500, 0, 0, 0.999999, func(c []int) []float64 { return naiveCB(c, 0.999999) }, true},
		{"cb equal counts", WeightsCB, []int{7, 7, 7}, 0, 0, 0, func(c []int) []float64 { return fill(len(c), 1) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ClassWeights(tt.kind, tt.counts, tt.lo, tt.hi, tt.beta)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want(tt.counts)
			sum := 0.0
			for i := range want {
				sum += got[i]
				// math.Pow loses digits for β near 1; 1e-9 still pins the formula.
				if relErr(got[i], want[i]) > 1e-9 {
					t.Errorf("W[%d] = %v; want %v", i, got[i], want[i])
				}
			}
			if n := float64(len(tt.counts)); tt.wantSumN && math.Abs(sum-n) > 1e-12*n {
				t.Errorf("sum of weights %v; want %v", sum, n)
			}
		})
	}
}

func TestClassWeightsErrors(t *testing.T) {
	tests := []struct {
		name   string
		kind   string
		counts []int
		lo, hi float64
		beta   float64
		target error
		key    string
	}{
		{"zero class", WeightsClamped, []int{10, 5, 0, 3}, 0, 0, 0, ErrEmptyClass, "counts[2] = 0"},
		{"negative class", WeightsNone, []int{10, -1}, 0, 0, 0, ErrEmptyClass, "counts[1] = -1"},
		{"no classes", WeightsNone, nil, 0, 0, 0, ErrEmptyClass, "no class counts"},
		{"negative beta", WeightsCB, countsIF10, 0, 0, -0.5, ErrInvalidConfig, "loss.beta"},
		{"beta one", WeightsCB, countsIF10, 0, 0, 1, ErrInvalidConfig, "loss.beta"},
		{"lo above hi", WeightsClamped, countsIF10, 2, 1.5, 0, ErrInvalidConfig, "loss.lo"},
		{"lo above default hi", WeightsClamped, countsIF10, 2, 0, 0, ErrInvalidConfig, "loss.lo"},
		{"unknown kind", "sqrt", countsIF10, 0, 0, 0, ErrInvalidConfig, "loss.weights"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ClassWeights(tt.kind, tt.counts, tt.lo, tt.hi, tt.beta)
			if !errors.Is(err, tt.target) {
				t.Fatalf("error %v; want %v", err, tt.target)
			}
			if !strings.Contains(err.Error(), tt.key) {
				t.Errorf("error %q does not name %q", err, tt.key)
			}
		})
	}
}

func fill(n int, v float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// naiveInverse is Eq. 3: N_total/(N_i·n).
func naiveInverse(counts []int) []float64 {
	total := 0
	for _, v := range counts {
		total += v
	}
	out := make([]float64, len(counts))
	for i, v := range counts {
		out[i] = float64(total) / (float64(v) * float64(len(counts)))
	}
	return out
}

// naiveCB is (1−β)/(1−β^N_i) scaled to sum to n.
func naiveCB(counts []int, beta float64) []float64 {
	out := make([]float64, len(counts))
	sum := 0.0
	for i, v := range counts {
		out[i] = (1 - beta) / (1 - math.Pow(beta, float64(v)))
		sum += out[i]
	}
	for i := range out {
		out[i] *= float64(len(counts)) / sum
	}
	return out
}
