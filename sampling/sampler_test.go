package sampling

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/longtail-ml/longtail/sampling/dataset"
	"github.com/longtail-ml/longtail/sampling/internal/rng"
)

// ltLabels returns shuffled labels with counts[c] images of class c.
func ltLabels(counts []int, seed uint64) []int32 {
	var labels []int32
	for c, n := range counts {
		for range n {
			labels = append(labels, int32(c))
		}
	}
	r := rng.New(seed)
	rng.Shuffle(&r, labels)
	return labels
}

func mustCounts(t testing.TB, nMax, classes int, imb float64) []int {
	t.Helper()
	c, err := dataset.LongTailCounts(nMax, classes, imb, dataset.Exp)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestBalancedBatchesHoldExactlySPerClass(t *testing.T) {
	tests := []struct {
		name   string
		counts []int
		s      int
	}{
		{"cifar10-lt-if100", mustCounts(t, 5000, 10, 100), 13},
		{"if500-s1", mustCounts(t, 5000, 10, 500), 1},
		{"tiny-tail-below-s", []int{40, 9, 3}, 5},
		{"balanced-set", []int{30, 30, 30, 30}, 7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			labels := ltLabels(tc.counts, 1)
			classes := len(tc.counts)
			smp, err := New("balanced", labels, classes, 0, tc.s, 42, 3)
			if err != nil {
				t.Fatal(err)
			}
			wantSteps := len(labels) / (tc.s * classes)
			for epoch := range 3 {
				batches := smp.Batches(epoch)
				if len(batches) != wantSteps {
					t.Fatalf("epoch %d: %d batches; want floor(%d/(%d·%d)) = %d", epoch, len(batches), len(labels), tc.s, classes, wantSteps)
				}
				drawn := map[int]int{}
				for b, batch := range batches {
					perClass := make([]int, classes)
					for _, i := range batch {
						perClass[labels[i]]++
						drawn[i]++
					}
					for c, n := range perClass {
						if n != tc.s {
							t.Fatalf("epoch %d batch %d: %d images of class %d; want %d", epoch, b, n, c, tc.s)
						}
					}
				}
				checkDrawSpread(t, epoch, labels, classes, drawn)
			}
		})
	}
}

// checkDrawSpread fails unless, within each class, the images' draw counts
// over the epoch differ by at most 1 (images never drawn count as 0).
func checkDrawSpread(t *testing.T, epoch int, labels []int32, classes int, drawn map[int]int) {
	t.Helper()
	lo := make([]int, classes)
	hi := make([]int, classes)
	for c := range lo {
		lo[c] = math.MaxInt
	}
	for i, l := range labels {
		lo[l] = min(lo[l], drawn[i])
		hi[l] = max(hi[l], drawn[i])
	}
	for c := range classes {
		if hi[c]-lo[c] > 1 {
			t.Errorf("epoch %d class %d: images drawn between %d and %d times; want a spread <= 1", epoch, c, lo[c], hi[c])
		}
	}
}

func TestCycleSamplersSpreadDrawsWithinClass(t *testing.T) {
	labels := ltLabels(mustCounts(t, 600, 10, 100), 3)
	for _, name := range []string{"classaware", "sqrt", "progressive"} {
		smp, err := New(name, labels, 10, 64, 0, 9, 4)
		if err != nil {
			t.Fatal(err)
		}
		for epoch := range 4 {
			drawn := map[int]int{}
			for _, batch := range smp.Batches(epoch) {
				for _, i := range batch {
					drawn[i]++
				}
			}
			checkDrawSpread(t, epoch, labels, 10, drawn)
		}
	}
}

func TestRandomIsAFreshShufflePerEpoch(t *testing.T) {
	labels := ltLabels([]int{50, 30, 23}, 2) // N = 103
	smp, err := New("random", labels, 3, 10, 0, 5, 1)
	if err != nil {
		t.Fatal(err)
	}
	var firsts [][]int
	for epoch := range 3 {
		batches := smp.Batches(epoch)
		if len(batches) != 10 {
			t.Fatalf("epoch %d: %d batches; want floor(103/10) = 10 (last partial batch dropped)", epoch, len(batches))
		}
		seen := map[int]bool{}
		for _, batch := range batches {
			if len(batch) != 10 {
				t.Fatalf("batch of %d; want 10", len(batch))
			}
			for _, i := range batch {
				if i < 0 || i >= len(labels) || seen[i] {
					t.Fatalf("epoch %d: index %d out of range or repeated", epoch, i)
				}
				seen[i] = true
			}
		}
		firsts = append(firsts, batches[0])
	}
	if slices.Equal(firsts[0], firsts[1]) || slices.Equal(firsts[1], firsts[2]) {
		t.Error("consecutive epochs start with the same batch; want a fresh shuffle")
	}
}

func TestSamplersAreDeterministicInSeedAndEpoch(t *testing.T) {
	labels := ltLabels(mustCounts(t, 300, 10, 50), 4)
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			mk := func(seed int64) Sampler {
				s, err := New(name, labels, 10, 32, 3, seed, 5)
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			a, b, c := mk(7), mk(7), mk(8)
			for epoch := range 3 {
				ba, bb, bc := a.Batches(epoch), b.Batches(epoch), c.Batches(epoch)
				if !slices.EqualFunc(ba, bb, slices.Equal) {
					t.Fatalf("epoch %d: same seed, different batches", epoch)
				}
				if slices.EqualFunc(ba, bc, slices.Equal) {
					t.Fatalf("epoch %d: seeds 7 and 8 give the same batches", epoch)
				}
				if got := a.(Stepper).Steps(epoch); got != len(ba) {
					t.Fatalf("epoch %d: Steps %d, len(Batches) %d", epoch, got, len(ba))
				}
				for _, batch := range ba {
					if len(batch) != len(ba[0]) {
						t.Fatalf("epoch %d: batches of %d and %d images", epoch, len(ba[0]), len(batch))
					}
					for _, i := range batch {
						if i < 0 || i >= len(labels) {
							t.Fatalf("index %d out of range", i)
						}
					}
				}
			}
			if slices.EqualFunc(a.Batches(0), a.Batches(1), slices.Equal) {
				t.Error("epochs 0 and 1 give the same batches")
			}
		})
	}
}

func TestClassDistributions(t *testing.T) {
	counts := []int{4000, 1500, 600, 200, 60, 0, 20}
	labels := ltLabels(counts, 5)
	n := float64(len(labels))
	sumSqrt := 0.0
	for _, c := range counts {
		sumSqrt += math.Sqrt(float64(c))
	}
	// Draws are pooled over seeds so that the rarest class (20 of 6,380
	// images, 0.3% of draws at epoch 0) is drawn a few hundred times.
	const epochs, seeds = 10, 64
	// Each class's share must lie within a relative bound of its expected
	// share p: sigmas binomial standard deviations, √((1−p)/(draws·p)) of p,
	// for the samplers that draw classes independently; classaware deals
	// classes round-robin, so its shares are exact to one round.
	const sigmas = 5
	binomial := func(p, draws float64) float64 { return sigmas * math.Sqrt((1-p)/(draws*p)) }
	exact := func(p, draws float64) float64 { return 6 / (draws * p) }
	tests := []struct {
		name  string
		epoch int
		want  func(c int) float64
		rel   func(p, draws float64) float64
	}{
		{"sqrt", 0, func(c int) float64 { return math.Sqrt(float64(counts[c])) / sumSqrt }, binomial},
		{"progressive", 0, func(c int) float64 { return float64(counts[c]) / n }, binomial},
		{"progressive", 5, func(c int) float64 {
			if counts[c] == 0 {
				return 0
			}
			return 0.5*float64(counts[c])/n + 0.5/6
		}, binomial},
		{"progressive", epochs, func(c int) float64 {
			if counts[c] == 0 {
				return 0
			}
			return 1.0 / 6
		}, binomial},
		{"classaware", 0, func(c int) float64 {
			if counts[c] == 0 {
				return 0
			}
			return 1.0 / 6
		}, exact},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/epoch%d", tc.name, tc.epoch), func(t *testing.T) {
			got := make([]float64, len(counts))
			draws := 0
			for seed := range int64(seeds) {
				smp, err := New(tc.name, labels, len(counts), 100, 0, seed, epochs)
				if err != nil {
					t.Fatal(err)
				}
				for _, batch := range smp.Batches(tc.epoch) {
					for _, i := range batch {
						got[labels[i]]++
						draws++
					}
				}
			}
			for c := range counts {
				got[c] /= float64(draws)
				w := tc.want(c)
				if w == 0 {
					if got[c] != 0 {
						t.Errorf("class %d (n=%d) drawn %.5f of the time; want never", c, counts[c], got[c])
					}
					continue
				}
				rel := tc.rel(w, float64(draws))
				if rel >= 0.5 {
					t.Fatalf("class %d: relative bound %.2f is too loose to tell a missing class; draw more", c, rel)
				}
				if math.Abs(got[c]-w) > rel*w {
					t.Errorf("class %d (n=%d) drawn %.5f of the time; want %.5f ± %.1f%%", c, counts[c], got[c], w, 100*rel)
				}
			}
		})
	}
}

func TestNewRejectsBadSettings(t *testing.T) {
	labels := ltLabels([]int{10, 5, 2}, 1)
	tests := []struct {
		name              string
		sampler           string
		labels            []int32
		classes           int
		batch, s, epochs  int
		wantKey, wantText string
	}{
		{"unknown", "oversample", labels, 3, 8, 1, 1, "sampling.name", `"oversample"`},
		{"per-class 0", "balanced", labels, 3, 0, 0, 1, "sampling.per_class", "0; want >= 1"},
		{"per-class too big", "balanced", labels, 3, 0, 6, 1, "sampling.per_class", "more than the 17 training images"},
		{"empty class", "balanced", labels, 4, 0, 1, 1, "sampling.name", "class 3 has no training image"},
		{"batch 0", "random", labels, 3, 0, 1, 1, "sampling.batch", "0; want >= 1"},
		{"batch > N", "sqrt", labels, 3, 18, 1, 1, "sampling.batch", "exceeds the 17 training images"},
		{"epochs 0", "progressive", labels, 3, 4, 1, 0, "train.epochs", "0;"},
		{"label range", "random", []int32{0, 1, 3}, 3, 1, 1, 1, "label 3 of image 2", "want 0..2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.sampler, tc.labels, tc.classes, tc.batch, tc.s, 1, tc.epochs)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.wantKey) || !strings.Contains(err.Error(), tc.wantText) {
				t.Fatalf("error %q; want ErrConfig naming %q and %q", err, tc.wantKey, tc.wantText)
			}
		})
	}
}

func BenchmarkBalancedBatches(b *testing.B) {
	labels := ltLabels(mustCounts(b, 5000, 10, 100), 1)
	smp, err := New("balanced", labels, 10, 0, 13, 1, 1)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		smp.Batches(i)
	}
}
